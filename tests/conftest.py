"""pytest setup for phoenix.immutable: import paths, markers and the emulator fixtures.

Import paths (set when pytest loads this file, before any test module is imported):
- `tests/` is on sys.path, so tests import `emulators.aws` and `harness` by those names;
- the harness's symlink tree `<tmp>/collections/ansible_collections/phoenix/immutable` -> the repository
  root is on sys.path, so unit tests import `ansible_collections.phoenix.immutable.plugins...` in plain
  pytest, without ansible-test;
- `emulators` is imported first of all: it sets MOTO_AMIS_PATH before anything imports moto.

Markers `unit` and `integration` are registered here (so --strict-markers needs no pytest.ini) and
given automatically by directory: tests/unit/** are `unit`, tests/integration/** are `integration`.

Fixtures:
- `moto_server` (session): one MotoEmulator a pytest process; each xdist worker is a process of its own.
- `aws`: the emulator reset and seeded for this test (calls counted from here on): `.emu`, `.seed`,
  `.client(service, region=None)`, `.env`, `.calls`.
- `service`: a service seeded in the emulator (`emulators.fleet.seed_service`), used by the swap and the
  contract tests.
- `signing_key`: a P-256 signing key in PEM files (`path`, `public`, `keyid`), for the GCP and Azure tests.
- `playbook`: `run_playbook` with the emulator's environment and, for a list of tasks, the
  module_defaults `group/phoenix.immutable.aws: {region, endpoint_url}` filled in.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

TESTS_DIR = Path(__file__).resolve().parent
# tests/ for `emulators` and `harness`; tools/ for what tests share with the Makefile (stage_collection).
for folder in (TESTS_DIR, TESTS_DIR.parent / "tools"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

# Imported for its effect: it sets MOTO_AMIS_PATH before any test module imports moto.
import emulators  # noqa: E402,F401  # pylint: disable=unused-import
from harness import collections_root, run_playbook  # noqa: E402

if str(collections_root()) not in sys.path:
    sys.path.insert(0, str(collections_root()))

MARKERS = {
    "unit": "pure Python tests of the collection's code; no emulator, no ansible-playbook",
    "integration": "tests that run ansible-playbook against the cloud emulators",
}
AWS_GROUP = "group/phoenix.immutable.aws"


def pytest_configure(config: pytest.Config) -> None:
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", "%s: %s" % (name, description))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        try:
            kind = Path(item.path).resolve().relative_to(TESTS_DIR).parts[0]
        except (ValueError, IndexError):
            continue
        if kind in MARKERS:
            item.add_marker(getattr(pytest.mark, kind))


@pytest.fixture(scope="session")
def moto_server():
    from emulators.aws import MotoEmulator

    emulator = MotoEmulator().start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def aws(moto_server):
    from emulators.aws import AwsContext

    moto_server.reset()
    seed = moto_server.seed()
    moto_server.reset_calls()
    return AwsContext(emu=moto_server, seed=seed)


@pytest.fixture
def service(aws):
    """What a team runs before its first swap, seeded in the emulator (`emulators.fleet.seed_service`): an ALB
    listener forwarding to a target group, a base launch template and a blue group of 2 serving the base image.
    """
    from emulators.fleet import seed_service

    return seed_service(aws.client, aws.seed.base_image_id, aws.seed.subnet_ids, aws.seed.vpc_id, size=2)


@pytest.fixture
def playbook(aws):
    """`playbook(tasks_or_path, **run_playbook_options)` against the emulator of this test."""

    def run(playbook, *, env=None, module_defaults=None, **options):
        environment = {**aws.env, **(env or {})}
        if not isinstance(playbook, (str, Path)):
            defaults = {AWS_GROUP: {"region": aws.seed.region, "endpoint_url": aws.emu.endpoint_url}}
            module_defaults = {**defaults, **(module_defaults or {})}
        return run_playbook(playbook, env=environment, module_defaults=module_defaults, **options)

    return run


@pytest.fixture
def signing_key(tmp_path: Path) -> dict[str, str]:
    """A P-256 signing key in PEM files: ``path`` (private), ``public``, and its ``keyid``."""
    key = ec.generate_private_key(ec.SECP256R1())
    private = tmp_path / "build.pem"
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    public = tmp_path / "build.pub"
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return {"path": str(private), "public": str(public), "keyid": hashlib.sha256(der).hexdigest()}
