"""Fixtures of the GCP tests: the GCE emulator (tests/emulators/gce.py) and connections to it.

- `gce_server` (session): one GceEmulator per pytest process, on 127.0.0.1.
- `gce`: the emulator reset and seeded for this test, with a service-account key it knows written to a
  key file: `.emu`, `.seed`, `.key`, `.key_file`, `.connection(**options)` (a real GcpConnection over
  google-auth, with a fast retry policy) and `.waiter()` (the core's waiter, polling without pauses).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from emulators.gce import GceEmulator, GceSeed, ServiceAccountKey

from ansible_collections.phoenix.immutable.plugins.module_utils._core.retry import RetryPolicy
from ansible_collections.phoenix.immutable.plugins.module_utils._core.waiter import Waiter
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.connection import GcpConnection


def fast_retries(max_attempts: int = 6) -> RetryPolicy:
    """The collection's retry policy with short pauses: the retries are real, the waiting is not."""
    return RetryPolicy(max_attempts=max_attempts, base_delay=0.01, max_delay=0.05, deadline=60)


@dataclasses.dataclass
class GceContext:
    emu: GceEmulator
    seed: GceSeed
    key: ServiceAccountKey
    key_file: Path

    def connection(self, **options: Any) -> GcpConnection:
        params: dict[str, Any] = {
            "project": self.seed.project,
            "auth_kind": "serviceaccount",
            "service_account_file": str(self.key_file),
            "endpoint_url": self.emu.compute_url,
            "zone": self.seed.zone,
        }
        params.update(options)
        retry_policy = params.pop("retry_policy", None) or fast_retries()
        return GcpConnection.from_params(params, environ={}, retry_policy=retry_policy)

    @staticmethod
    def retries(max_attempts: int = 6) -> RetryPolicy:
        return fast_retries(max_attempts)

    @staticmethod
    def waiter(timeout: float = 120) -> Waiter:
        return Waiter(timeout=timeout, delay=0.01, max_delay=0.05)


@pytest.fixture(scope="session")
def gce_server():
    with GceEmulator() as emu:
        yield emu


@pytest.fixture
def gce(gce_server: GceEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GceContext:
    # Loopback only: no proxy of the environment may stand between the client and the emulator.
    for name, value in gce_server.env().items():
        if name.lower() == "no_proxy":
            monkeypatch.setenv(name, value)
    gce_server.reset()
    gce_server.operation_polls = 3
    seed = gce_server.seed()
    key = gce_server.service_account_key()
    key_file = key.write(tmp_path / "key.json")
    return GceContext(gce_server, seed, key, key_file)
