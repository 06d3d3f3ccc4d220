"""What the Azure benchmarks share: the ARM emulator (tests/emulators/arm.py) in a fresh state with the collection's
resource group and Compute Gallery, SDK clients of the bench's own for seeding (emulators.arm_seed; their calls are
not counted), and one scenario run through ansible-playbook with the calls counted at the emulator.

The emulator counts every request it serves by the operation id of Azure's REST specifications
(``VirtualMachineScaleSets_Update``, ``LoadBalancers_Get``), each poll of a long-running operation as
``AsyncOperations_Get`` (its Azure-AsyncOperation URL) or ``OperationResults_Get`` (its Location URL), and Entra
ID as ``Identity_OpenIdConfiguration`` and ``Identity_Token``: a row's ``calls`` is what the run cost at ARM's
front door. Operations succeed at their first poll (``operation_polls = 1``): the fewest polls a run can make, as
moto's instant resources give the AWS figures and the GCE emulator's the GCP ones.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path

# The emulators and the test harness live in tests/; measure.py beside this file.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from emulators.arm_seed import GALLERY, ArmClients  # noqa: E402
from harness import collections_root, run_playbook  # noqa: E402
from measure import cpu_seconds_of_children  # noqa: E402

sys.path.insert(0, str(collections_root()))

AZURE_GROUP = "group/phoenix.immutable.azure"
RESOURCE_GROUP = "rg-phoenix"
# Polls, identity: how a row's calls are summed up beside the REST operations that did the work.
POLLS = ("AsyncOperations_Get", "OperationResults_Get")
IDENTITY = ("Identity_OpenIdConfiguration", "Identity_Token")


class AzureBench:
    """One ARM emulator for a whole bench, reset by ``fresh()`` for each scenario's state."""

    def __init__(self, emu, folder):
        self.emu = emu
        self.folder = Path(folder)
        self.arm = ArmClients(emu)
        # The last scenario's PlaybookRun, for a bench that reads more of its results.
        self.last_run = None

    def fresh(self):
        """A reset emulator holding the resource group and the gallery; the SDK clients for seeding."""
        self.emu.reset()
        self.emu.operation_polls = 1
        self.emu.poll_retry_after = 0
        self.arm.group(RESOURCE_GROUP)
        poller = self.arm.compute().galleries.begin_create_or_update(
            RESOURCE_GROUP, GALLERY, {"location": self.emu.location}
        )
        self.emu.settle()
        poller.result()
        return self.arm

    def env(self, **overrides):
        """What AWX's Azure credential injects and the collection's variables for the rest, for ansible-playbook."""
        env = {
            **self.emu.env(),
            "AZURE_RESOURCE_GROUP": RESOURCE_GROUP,
            "AZURE_LOCATION": self.emu.location,
            "AZURE_RESOURCE_MANAGER_URL": self.emu.endpoint_url,
            "AZURE_AUTHORITY_HOST": self.emu.authority_url,
            "AZURE_CA_BUNDLE": self.emu.ca_bundle,
            "AZURE_GALLERY": GALLERY,
            "AZURE_POLLING_INTERVAL": "0",
        }
        env.update(overrides)
        return env

    def run(self, tasks, module_defaults=None, env=None, timeout=1800):
        defaults = {AZURE_GROUP: dict(module_defaults or {"cloud": "azure"})}
        return run_playbook(tasks, env=env or self.env(), module_defaults=defaults, timeout=timeout)

    def measure(self, name, tasks, module_defaults=None, env=None, reported_by=None):
        """One scenario: seconds, CPU seconds of the ansible-playbook run, tasks, and the calls the emulator
        counted (``by_call``, with ``top_calls`` and the polls and token calls summed); with ``reported_by`` (a
        task name) the calls the module reported too."""
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
            "polls": sum(calls.get(call, 0) for call in POLLS),
            "identity_calls": sum(calls.get(call, 0) for call in IDENTITY),
            "top_calls": top_calls(calls),
            "tasks": len(run.tasks),
            "tasks_by_status": dict(sorted(statuses.items())),
        }
        if reported_by:
            row["reported_by_module"] = sum(run.task(reported_by)["result"]["api_calls"].values())
        return row


def top_calls(calls, count=5):
    """The ``count`` operations of most calls, most first: [[operation, calls], ...]."""
    return [[call, n] for call, n in sorted(calls.items(), key=lambda item: (-item[1], item[0]))[:count]]


def print_top_calls(row, indent="    "):
    """Where a scenario's calls went: its top operations, the polls and the token calls."""
    top = ", ".join("%s %d" % (call, n) for call, n in row["top_calls"])
    print("%stop: %s; polls %d, identity %d" % (indent, top, row["polls"], row["identity_calls"]))
