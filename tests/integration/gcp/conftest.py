"""Fixtures of the GCP tests: the GCE emulator (tests/emulators/gce.py) and connections to it.

- `gce_server` (session): one GceEmulator per pytest process, on 127.0.0.1.
- `gce`: the emulator reset and seeded for this test, with a service-account key it knows written to a
  key file: `.emu`, `.seed`, `.key`, `.key_file`, `.connection(**options)` (a real GcpConnection over
  google-auth, with a fast retry policy) and `.waiter()` (the core's waiter, polling without pauses).
- `gcp`: `gce` with operations done at the first poll; `playbook(tasks, **options)`: ansible-playbook with
  `cloud: gcp` for the GCP group and the emulator's endpoints and key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from emulators.gce import GceEmulator, GceSeed, ServiceAccountKey
from harness import run_playbook

from ansible_collections.phoenix.immutable.plugins.module_utils._core.retry import RetryPolicy
from ansible_collections.phoenix.immutable.plugins.module_utils._core.waiter import Waiter
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp import compute
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.connection import GcpConnection

GCP_GROUP = "group/phoenix.immutable.gcp"


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

    def image_id(self, name: str, project: str | None = None) -> str:
        return "projects/%s/global/images/%s" % (project or self.seed.project, name)

    def image_labels(self, name: str) -> dict[str, str]:
        """The labels of image ``name`` as Compute holds them, read through google-auth."""
        return compute.get_image(self.connection(), self.seed.project, name).get("labels") or {}

    def set_image_labels(self, name: str, labels: dict[str, str]) -> None:
        """Replace image ``name``'s labels behind the collection's back (with the fingerprint it has now)."""
        connection = self.connection()
        current = compute.get_image(connection, self.seed.project, name)
        compute.set_image_labels(connection, self.seed.project, name, labels, current["labelFingerprint"])
        self.emu.settle()

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


@pytest.fixture
def gcp(gce: GceContext) -> GceContext:
    """The test's emulator with operations that finish at the first poll: module runs wait on real operations."""
    gce.emu.operation_polls = 1
    return gce


@pytest.fixture
def playbook(gcp: GceContext) -> Callable[..., Any]:
    """``playbook(tasks, **run_playbook_options)`` with cloud gcp and the emulator's endpoints and key."""
    env = {
        **gcp.emu.env(),
        "GCP_SERVICE_ACCOUNT_FILE": str(gcp.key_file),
        "GCP_KMS_ENDPOINT_URL": gcp.emu.kms_url,
    }

    def run(tasks, **options):
        return run_playbook(tasks, env=env, module_defaults={GCP_GROUP: {"cloud": "gcp"}}, **options)

    return run
