"""Fixtures of the Azure data-plane tests: Key Vault and Blob Storage (tests/emulators/keyvault.py, blob.py) behind
the emulator's HTTPS proxy (tests/emulators/azure_hosts.py), reached by their real host names.

A test module imports the fixtures by their function names (``from azure_data_support import
azure_hosts_server_fixture, data_planes_fixture  # noqa: F401``); they are named without ``_fixture``:

- ``azure_hosts_server`` (session): the proxy (AzureHosts) with one KeyVaultEmulator and one BlobEmulator.
- ``data_planes``: both services reset for this test (and azure-keyvault-keys' process-wide cache of challenges
  cleared), ``HTTPS_PROXY``/``NO_PROXY`` set for this process, with ``.vault`` (KeyVaultEmulator), ``.blob``
  (BlobEmulator), ``.arm`` (the ArmContext), ``.key_client(vault=...)`` and ``.crypto_client(key)``
  (azure-keyvault-keys), ``.blob_service(account=...)`` (azure-storage-blob), each on the ArmContext's
  ClientSecretCredential, SDK retries off, trusting the test CA.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from azure.keyvault.keys import KeyClient
from azure.keyvault.keys._shared import http_challenge_cache
from azure.keyvault.keys.crypto import CryptographyClient
from azure.storage.blob import BlobServiceClient
from emulators.azure_hosts import AzureHosts
from emulators.blob import DEFAULT_ACCOUNT, BlobEmulator
from emulators.keyvault import DEFAULT_VAULT, KeyVaultEmulator


@dataclasses.dataclass
class DataPlanes:
    arm: Any
    hosts: AzureHosts
    vault: KeyVaultEmulator
    blob: BlobEmulator

    def _transport(self, options: dict[str, Any]) -> dict[str, Any]:
        return {"connection_verify": self.arm.emu.ca_bundle, "retry_total": 0, **options}

    def key_client(self, vault: str = DEFAULT_VAULT, credential: Any = None, **options: Any) -> KeyClient:
        return KeyClient(self.vault.vault_url(vault), credential or self.arm.credential(), **self._transport(options))

    def crypto_client(self, key: Any, credential: Any = None, **options: Any) -> CryptographyClient:
        return CryptographyClient(key, credential or self.arm.credential(), **self._transport(options))

    def blob_service(self, account: str = DEFAULT_ACCOUNT, credential: Any = None, **options: Any) -> BlobServiceClient:
        return BlobServiceClient(
            self.blob.account_url(account), credential or self.arm.credential(), **self._transport(options)
        )


@pytest.fixture(scope="session", name="azure_hosts_server")
def azure_hosts_server_fixture(arm_server):
    vault, blob = KeyVaultEmulator(arm_server), BlobEmulator(arm_server)
    with AzureHosts(arm_server.ca_bundle, [vault, blob]) as hosts:
        yield hosts, vault, blob


@pytest.fixture(name="data_planes")
def data_planes_fixture(arm, azure_hosts_server, monkeypatch: pytest.MonkeyPatch) -> DataPlanes:
    hosts, vault, blob = azure_hosts_server
    for name, value in hosts.env().items():
        monkeypatch.setenv(name, value)
    vault.reset()
    blob.reset()
    # The SDK keeps each vault's challenge for the whole process: cleared, every test starts with one.
    http_challenge_cache.clear()
    return DataPlanes(arm, hosts, vault, blob)
