"""What the GCP benchmarks share: the GCE emulator (tests/emulators/gce.py) in a fresh, seeded state with a
service-account key it knows, a connection of the bench's own for seeding (its calls are not counted), and one
scenario run through ansible-playbook with the calls counted at the emulator.

The emulator counts every request it serves, by the method id of Google's discovery documents: Compute
(``compute.instances.insert``, each operation's ``compute.zoneOperations.wait``), the token grant
(``oauth2.token``), Cloud KMS (``cloudkms.…``) and Cloud Storage (``storage.…``), so a row's ``calls`` is what
the run cost at Google's front door. Operations are DONE at their first poll (``operation_polls = 1``): the
fewest waits a run can make, as moto's instant resources give the AWS figures.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path

# The emulators and the test harness live in tests/; measure.py beside this file.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from harness import collections_root, run_playbook  # noqa: E402
from measure import cpu_seconds_of_children  # noqa: E402

sys.path.insert(0, str(collections_root()))

from ansible_collections.phoenix.immutable.plugins.module_utils._core.waiter import Waiter  # noqa: E402
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.connection import GcpConnection  # noqa: E402

GCP_GROUP = "group/phoenix.immutable.gcp"


def setup_waiter():
    """The core's waiter for the bench's own seeding: polls without real pauses."""
    return Waiter(timeout=600, delay=0.01, max_delay=0.05)


class GcpBench:
    """One GCE emulator for a whole bench, reset and seeded by ``fresh()`` for each scenario's state."""

    def __init__(self, emu, folder):
        self.emu = emu
        self.folder = Path(folder)
        self.key_file = self.folder / "key.json"
        # The last scenario's PlaybookRun, for a bench that reads more of its results.
        self.last_run = None

    def fresh(self):
        """A reset, seeded emulator and a new key for it: ``(seed, connection)``, the connection for seeding."""
        self.emu.reset()
        self.emu.operation_polls = 1
        seed = self.emu.seed()
        # A reset forgets the service accounts: a key for this state.
        self.emu.service_account_key().write(self.key_file)
        params = {
            "project": seed.project,
            "auth_kind": "serviceaccount",
            "service_account_file": str(self.key_file),
            "endpoint_url": self.emu.compute_url,
            "zone": seed.zone,
        }
        return seed, GcpConnection.from_params(params, environ={})

    def env(self, **overrides):
        """The emulator's endpoints (Compute, token, KMS) and the key, for ansible-playbook's environment."""
        env = {
            **self.emu.env(),
            "GCP_AUTH_KIND": "serviceaccount",
            "GCP_SERVICE_ACCOUNT_FILE": str(self.key_file),
            "GCP_KMS_ENDPOINT_URL": self.emu.kms_url,
        }
        env.update(overrides)
        return env

    def run(self, tasks, module_defaults=None, env=None, timeout=1800):
        defaults = {GCP_GROUP: dict(module_defaults or {"cloud": "gcp"})}
        return run_playbook(tasks, env=env or self.env(), module_defaults=defaults, timeout=timeout)

    def measure(self, name, tasks, module_defaults=None, env=None, reported_by=None):
        """One scenario: seconds, CPU seconds of the ansible-playbook run, tasks, and the calls the emulator
        counted (``by_call``); with ``reported_by`` (a task name) the calls the module reported too."""
        started, used = time.monotonic(), cpu_seconds_of_children()
        with self.emu.counting() as calls:
            run = self.run(tasks, module_defaults=module_defaults, env=env)
        elapsed, cpu = time.monotonic() - started, cpu_seconds_of_children() - used
        self.last_run = run
        if run.rc != 0:
            raise SystemExit("%s failed:\n%s" % (name, run.explain()))
        statuses = Counter(record["status"] for record in run.tasks)
        row = {
            "scenario": name,
            "seconds": round(elapsed, 2),
            "cpu_seconds": round(cpu, 2),
            "calls": sum(calls.values()),
            "by_call": dict(sorted(calls.items())),
            "tasks": len(run.tasks),
            "tasks_by_status": dict(sorted(statuses.items())),
        }
        if reported_by:
            row["reported_by_module"] = sum(run.task(reported_by)["result"]["api_calls"].values())
        return row
