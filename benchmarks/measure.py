"""What every benchmark shares: run a scenario's tasks through ansible-playbook against the emulator, count
the cloud API calls it made and the seconds it took, and write the figures to benchmarks/results/."""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "tests"))

from harness import run_playbook  # noqa: E402

GROUP = "group/phoenix.immutable.aws"
RESULTS = REPO_ROOT / "benchmarks" / "results"


def measure(emu, seed, name, tasks, reported_by=None, may_fail=False):
    """One scenario: its calls as the emulator counted them and, with ``reported_by`` (a task name), as the
    module reported them in ``api_calls``."""
    defaults = {GROUP: {"region": seed.region, "endpoint_url": emu.endpoint_url}}
    emu.reset_calls()
    started, used = time.monotonic(), cpu_seconds_of_children()
    run = run_playbook(tasks, env=emu.env(), module_defaults=defaults)
    elapsed, cpu = time.monotonic() - started, cpu_seconds_of_children() - used
    if run.rc != 0 and not may_fail:
        raise SystemExit("scenario %r failed:\n%s" % (name, run.explain()))
    calls = dict(sorted(emu.calls.items()))
    row = {
        "scenario": name,
        "seconds": round(elapsed, 2),
        "cpu_seconds": round(cpu, 2),
        "calls": sum(calls.values()),
        "by_operation": calls,
    }
    if reported_by:
        row["reported_by_module"] = sum(run.task(reported_by)["result"]["api_calls"].values())
    return row


def cpu_seconds_of_children():
    """User and system CPU of every finished child process: ansible-playbook, its workers and the modules
    they ran. The emulator serves from a thread of this process, so its work is not counted."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def write_results(name, figures):
    path = RESULTS / ("%s.json" % name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    print("written to %s" % path.relative_to(REPO_ROOT))


def policy_file(folder):
    """A trust policy trusting one fresh Ed25519 key: the drift scans check signatures against it."""
    key = ed25519.Ed25519PrivateKey.generate()
    public = Path(folder) / "bench.pub"
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    path = Path(folder) / "trust.yml"
    path.write_text(yaml.safe_dump({"keys": [{"name": "bench", "public_key": str(public)}]}), encoding="utf-8")
    return str(path)


def bake_dir(root):
    """A signing key (build.pem) and a scratch builder root holding the per-instance state the clean step removes."""
    private = ed25519.Ed25519PrivateKey.generate()
    (root / "build.pem").write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    builder = root / "builder-root"
    for stale in ("etc/ssh/ssh_host_ed25519_key", "var/lib/cloud/instances/i-1/x", "root/.bash_history", "tmp/x"):
        (builder / stale).parent.mkdir(parents=True, exist_ok=True)
        (builder / stale).write_text("stale\n")
    (builder / "etc/machine-id").write_text("0123456789abcdef\n")
    return root
