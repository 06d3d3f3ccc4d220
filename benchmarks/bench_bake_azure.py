"""Benchmark: what an Azure bake with empty provisioning costs in ARM calls, seconds, CPU seconds and tasks.

    make bench            (or: .venv/bin/python benchmarks/bench_bake_azure.py)

The bake role runs with ``bake_cloud: azure`` as tests/integration/azure/test_azure_bake.py runs it against the
ARM emulator: the builder (a VM with its NIC, network security group and SSH key) is reached with the local
connection and its filesystem is a scratch directory (``bake_builder_root``), because an emulated VM runs
nothing. The base is a Compute Gallery image version, the builder's subnet the resource group's only virtual
network's. No roles, no provisioning tasks, no test tasks: what is left is the bake's own cost (launch,
deallocate, generalize, the image version, its signature, the teardown), to set beside bench_bake.py's AWS and
bench_bake_gcp.py's figures. Scenarios: that bake and a re-run of it (a no-op). The image version is published to
the connection's location only, so there is no copy scenario.

What is counted (at the emulator, measure_azure.py): every ARM call (each poll of a long-running operation
included) and the token calls. The image is signed with a local key, so no Key Vault call is expected. CPU
seconds are those of the whole ansible-playbook run (its workers and the modules they ran); tasks are the task
results ansible-playbook reported (skipped ones included). Figures go to stdout and to
benchmarks/results/bake_azure.json. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

# The emulators and the test harness live in tests/; measure.py beside this file.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from emulators.arm import ArmEmulator  # noqa: E402
from emulators.arm_seed import gallery_images  # noqa: E402
from measure import bake_dir, write_results  # noqa: E402
from measure_azure import RESOURCE_GROUP, AzureBench, print_top_calls  # noqa: E402

NAME = "bench-golden-1"


def seed(arm):
    """The base image version and the virtual network the builder's NIC goes on; the base's id."""
    poller = arm.network().virtual_networks.begin_create_or_update(
        RESOURCE_GROUP,
        "vnet",
        {
            "location": arm.emu.location,
            "properties": {
                "addressSpace": {"addressPrefixes": ["10.2.0.0/16"]},
                "subnets": [{"name": "builders", "properties": {"addressPrefix": "10.2.0.0/24"}}],
            },
        },
    )
    arm.emu.settle()
    poller.result()
    (base,) = gallery_images(arm, RESOURCE_GROUP, ("1.0.0",), image="debian-base")
    return base


def bake(base_image, root):
    return [
        {
            "name": "bake",
            "ansible.builtin.include_role": {"name": "phoenix.immutable.bake"},
            "vars": {
                "bake_cloud": "azure",
                "bake_name": NAME,
                "bake_base_image_id": base_image,
                # Empty: the Azure builder's own defaults (Standard_B2s, azureuser).
                "bake_instance_type": "",
                "bake_connection_user": "",
                "bake_builder_connection": "local",
                "bake_builder_root": str(root / "builder-root"),
                # The figures stay those of the bake before its scan steps (the scratch root has no package database).
                "bake_scan": False,
                "bake_key_dir": str(root / "keys"),
                "bake_sign_key": str(root / "build.pem"),
                "bake_connect_timeout": 30,
                "bake_wait_timeout": 600,
            },
        }
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()

    rows = []
    with ArmEmulator() as emu, tempfile.TemporaryDirectory(prefix="bench-bake-azure-") as scratch:
        bench = AzureBench(emu, scratch)
        base = seed(bench.fresh())
        root = bake_dir(Path(scratch))
        for scenario in ("bake, empty provisioning", "re-run (no-op)"):
            rows.append(bench.measure(scenario, bake(base, root)))

    for row in rows:
        print(
            "%-48s %5d calls %7.2f s %7.2f CPU s %4d tasks"
            % (row["scenario"], row["calls"], row["seconds"], row["cpu_seconds"], row["tasks"])
        )
        print_top_calls(row)
        for call, count in row["by_call"].items():
            print("    %5d  %s" % (count, call))
    write_results("bake_azure", {"scenarios": rows})


if __name__ == "__main__":
    main()
