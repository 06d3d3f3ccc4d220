"""Fixtures of the Azure tests: the ARM emulator (tests/emulators/arm.py) and the real Azure SDK clients on it.

- `arm_server` (session): one ArmEmulator per pytest process, on https://127.0.0.1 with a test CA.
- `arm`: the emulator reset for this test (operations take 3 polls, pages hold 100 items), with:
  `.emu`, `.credential(**options)` (azure-identity's ClientSecretCredential on the emulator's authority),
  `.compute(**options)` (azure-mgmt-compute's ComputeManagementClient, SDK retries off, no poll pauses),
  `.rest(method, path, ...)` (a plain HTTPS call with a token, for what no installed SDK client serves:
  resource groups), `.group(name)` (a resource group made through that) and `.source_image(group)` (a managed
  image planted as an image version's source), `.network_interface(group)` (a NIC planted for a VM).
- `azure`: `arm` with the collection's resource group and Compute Gallery made, and calls counted from there:
  `.params(**options)` (a task's connection options for the emulator), `.connection(**options)` (a real
  AzureConnection with a fast retry policy), `.env()` (the environment of an ansible-playbook run: AWX's
  variable names and the collection's own).
- `azure_params`, `azure_connection`: `azure.params()` and `azure.connection()`; `playbook(tasks, **options)`:
  ansible-playbook with `cloud: azure` for the Azure group and the emulator's environment.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
import requests
from azure.identity import ClientSecretCredential
from azure.mgmt.compute import ComputeManagementClient
from azure_names import GALLERY, RESOURCE_GROUP
from emulators.arm import ArmEmulator
from harness import run_playbook

from ansible_collections.phoenix.immutable.plugins.module_utils._azure.connection import AzureConnection
from ansible_collections.phoenix.immutable.plugins.module_utils._core.retry import RetryPolicy

# What the clients send when the test does not name one (ARM's resource groups API).
RESOURCE_GROUPS_API = "2024-03-01"
AZURE_GROUP = "group/phoenix.immutable.azure"


def fast_retries(max_attempts: int = 6) -> RetryPolicy:
    """The collection's retry policy with short pauses: the retries are real, the waiting is not."""
    return RetryPolicy(max_attempts=max_attempts, base_delay=0.01, max_delay=0.05, deadline=60)


@dataclasses.dataclass
class ArmContext:
    emu: ArmEmulator

    def credential(self, **options: Any) -> ClientSecretCredential:
        settings: dict[str, Any] = {
            "tenant_id": self.emu.tenant_id,
            "client_id": self.emu.client_id,
            "client_secret": self.emu.client_secret,
            "authority": self.emu.authority_url,
            "disable_instance_discovery": True,
            "connection_verify": self.emu.ca_bundle,
            "retry_total": 0,
        }
        settings.update(options)
        return ClientSecretCredential(**settings)

    def compute(self, credential: Any = None, **options: Any) -> ComputeManagementClient:
        settings: dict[str, Any] = {
            "base_url": self.emu.endpoint_url,
            "credential_scopes": [self.emu.credential_scope],
            "connection_verify": self.emu.ca_bundle,
            "retry_total": 0,
            # The emulator answers Retry-After: 0, so the poller waits this long between polls: not at all.
            "polling_interval": 0,
        }
        settings.update(options)
        return ComputeManagementClient(credential or self.credential(), self.emu.subscription_id, **settings)

    def token(self, scope: str | None = None) -> str:
        return self.credential().get_token(scope or self.emu.credential_scope).token

    def rest(
        self,
        method: str,
        path: str,
        *,
        api_version: str | None = RESOURCE_GROUPS_API,
        token: str | None = "",
        **kwargs: Any,
    ) -> requests.Response:
        """``method`` on ARM's ``path`` (or a full URL) over HTTPS, trusting the test CA, with a bearer token.

        ``token=None`` sends no Authorization header; ``api_version=None`` leaves the query parameter out.
        """
        url = path if path.startswith("https://") else self.emu.endpoint_url + path
        headers = dict(kwargs.pop("headers", {}) or {})
        if token is not None:
            headers["Authorization"] = "Bearer " + (token or self.token())
        params = dict(kwargs.pop("params", {}) or {})
        if api_version is not None and "api-version=" not in url:
            params["api-version"] = api_version
        return requests.request(
            method, url, headers=headers, params=params, verify=self.emu.ca_bundle, timeout=60, **kwargs
        )

    def group_path(self, name: str) -> str:
        return "/subscriptions/%s/resourceGroups/%s" % (self.emu.subscription_id, name)

    def group(self, name: str = "rg-images", location: str | None = None) -> dict[str, Any]:
        answer = self.rest("PUT", self.group_path(name), json={"location": location or self.emu.location})
        assert answer.status_code in (200, 201), answer.text
        return answer.json()

    def network_interface(self, group: str = "rg-images", name: str = "builder-nic") -> str:
        """A network interface planted in ``group`` without its subnet (the network tests make real ones)."""
        resource_id = self.group_path(group) + "/providers/Microsoft.Network/networkInterfaces/" + name
        self.emu.put_resource(resource_id, "Microsoft.Network/networkInterfaces", properties={"ipConfigurations": []})
        return resource_id

    def source_image(self, group: str = "rg-images", name: str = "builder-image") -> str:
        """A generalized managed image planted in ``group``: what an image version is made from."""
        resource_id = self.group_path(group) + "/providers/Microsoft.Compute/images/" + name
        self.emu.put_resource(resource_id, "Microsoft.Compute/images", properties={"hyperVGeneration": "V2"})
        return resource_id

    # The collection's view: its connection options, its connection, its environment.

    def params(self, **options: Any) -> dict[str, Any]:
        params: dict[str, Any] = {
            "cloud": "azure",
            "subscription_id": self.emu.subscription_id,
            "tenant": self.emu.tenant_id,
            "client_id": self.emu.client_id,
            "secret": self.emu.client_secret,
            "resource_group": RESOURCE_GROUP,
            "location": self.emu.location,
            "resource_manager_url": self.emu.endpoint_url,
            "authority_host": self.emu.authority_url,
            "ca_bundle": self.emu.ca_bundle,
            "gallery": GALLERY,
            # The emulator answers Retry-After: 0 (poll again now), which the SDK reads as "no advice".
            "polling_interval": 0,
        }
        params.update(options)
        return params

    def connection(self, **options: Any) -> AzureConnection:
        retry_policy = options.pop("retry_policy", None) or fast_retries()
        return AzureConnection.from_params(self.params(**options), environ={}, retry_policy=retry_policy)

    def env(self) -> dict[str, str]:
        """What AWX's Azure credential injects, and the collection's variables for the rest."""
        return {
            **self.emu.env(),
            "AZURE_RESOURCE_GROUP": RESOURCE_GROUP,
            "AZURE_LOCATION": self.emu.location,
            "AZURE_RESOURCE_MANAGER_URL": self.emu.endpoint_url,
            "AZURE_AUTHORITY_HOST": self.emu.authority_url,
            "AZURE_CA_BUNDLE": self.emu.ca_bundle,
            "AZURE_GALLERY": GALLERY,
            "AZURE_POLLING_INTERVAL": "0",
        }


@pytest.fixture(scope="session")
def arm_server():
    with ArmEmulator() as emu:
        yield emu


@pytest.fixture
def arm(arm_server: ArmEmulator, monkeypatch: pytest.MonkeyPatch) -> ArmContext:
    # Loopback only: no proxy of the environment may stand between the client and the emulator.
    for name, value in arm_server.env().items():
        if name.lower() == "no_proxy":
            monkeypatch.setenv(name, value)
    arm_server.reset()
    arm_server.operation_polls = 3
    arm_server.page_size = 100
    arm_server.poll_retry_after = 0
    return ArmContext(arm_server)


@pytest.fixture
def azure(arm: ArmContext) -> ArmContext:
    arm.group(RESOURCE_GROUP)
    arm.compute().galleries.begin_create_or_update(RESOURCE_GROUP, GALLERY, {"location": arm.emu.location}).result()
    arm.emu.reset_calls()
    return arm


@pytest.fixture
def azure_params(azure: ArmContext) -> dict[str, Any]:
    return azure.params()


@pytest.fixture
def azure_connection(azure: ArmContext) -> AzureConnection:
    return azure.connection()


@pytest.fixture
def playbook(azure: ArmContext) -> Callable[..., Any]:
    """``playbook(tasks, **run_playbook_options)`` with cloud azure and the emulator's environment."""
    env = azure.env()

    def run(tasks, **options):
        return run_playbook(tasks, env=env, module_defaults={AZURE_GROUP: {"cloud": "azure"}}, **options)

    return run
