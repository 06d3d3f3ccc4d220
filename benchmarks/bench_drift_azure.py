"""Benchmark: what a drift scan costs on Azure in ARM calls, pages and seconds, on the ARM emulator.

    make bench            (or: .venv/bin/python benchmarks/bench_drift_azure.py [--sizes 100,1000,5000] [--images K])

The scenarios of bench_drift.py (AWS) and bench_drift_gcp.py, on ARM: each size is a fleet of that many scale set
instances plus ``--images`` virtual machines made by hand, each booting a gallery image version of an image
definition of its own, so the scan meets K+1 distinct images (the VMs' and the one the scale sets run); a trust
policy judges every image; the scan is a report. Up to 1,000 instances it is one service with one scale set
(scanned by ``service``: every instance on the scale set's subnet); past that, services of 1,000 instances each
(a scale set's most), scanned together (no ``service``), as on AWS. The scale sets are made through
azure-mgmt-compute with the rollout record a finished blue_green leaves in their tags; the VMs' NICs are on the
same subnet.

What a scan costs (the formula, printed next to what the emulator counted); a page is ``page_size`` items, the
emulator's (ARM's list operations page by ``nextLink``; the page size is the service's, undocumented):

    VirtualMachineScaleSets_List                 ceil(scale sets / page)   once to find the groups, once to scan
    VirtualMachineScaleSetVMs_List               sum of ceil(instances / page) per scale set, with instanceView:
                                                 the scan's listing is the groups' membership, read once
    VirtualMachines_List                         ceil(VMs / page)
    NetworkInterfaces_List                       ceil(NICs / page)         the VMs' subnets, for the scan's scope
    GalleryImageVersions_ListByGalleryImage      one per image definition a scanned instance boots from
    GalleryImages_ListByGallery                  ceil(definitions / page) per gallery of several scanned definitions
                                                 (a gallery of one: GalleryImages_Get, one read)
    calls = those + the token calls and the reads that find the service's groups

What is counted (at the emulator, measure_azure.py): every ARM call and the token calls. Figures go to stdout
and to benchmarks/results/drift_azure.json. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

# The emulators and the test harness live in tests/; measure.py beside this file.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from emulators.arm import ArmEmulator  # noqa: E402
from emulators.arm_seed import gallery_images, scale_set  # noqa: E402
from measure import policy_file, write_results  # noqa: E402
from measure_azure import RESOURCE_GROUP, AzureBench, print_top_calls  # noqa: E402

from ansible_collections.phoenix.immutable.plugins.module_utils._azure.scale_set_transformations import (  # noqa: E402
    record_tags,
)
from ansible_collections.phoenix.immutable.plugins.module_utils._core.rollout_model import RolloutRecord  # noqa: E402

SERVICE_SIZE = 1000  # a scale set's most instances
PAGE_SIZE = 100
SCALE_SET_CALLS = ("VirtualMachineScaleSets_List", "VirtualMachineScaleSetVMs_List")
PAGED_CALLS = SCALE_SET_CALLS + ("VirtualMachines_List", "NetworkInterfaces_List")
VERSIONS_CALL = "GalleryImageVersions_ListByGalleryImage"
DEFINITIONS_CALL = "GalleryImages_ListByGallery"
# This benchmark on the tree before the scan's listing became the groups' membership and a gallery's definitions
# were listed (commit 71f5b64, 2026-12-07, the same machine): the scale sets' instances were listed twice and each
# definition read on its own (GalleryImages_Get, 21 a run).
BEFORE_CHANGE = {
    "report scan, 100 instances, 21 images": {"calls": 50, "cpu_seconds": 1.76, "instance_lists": 2},
    "report scan, 1000 instances, 21 images": {"calls": 68, "cpu_seconds": 3.12, "instance_lists": 20},
    "report scan, 5000 instances, 21 images": {"calls": 148, "cpu_seconds": 6.45, "instance_lists": 100},
}


def subnet(arm):
    return arm.group_path(RESOURCE_GROUP) + "/providers/Microsoft.Network/virtualNetworks/vnet/subnets/web"


def seed_service(arm, service, size, image):
    """A scale set of ``size`` instances of ``image`` on the subnet, recorded as ``service``'s blue group."""
    name = "%s-a" % service
    record = RolloutRecord(service=service, role="blue", image=image, phase="done")
    body = scale_set(
        arm.emu.location, image, capacity=size, subnet=subnet(arm), tags=record_tags(record, None, name), prefix=name
    )
    poller = arm.compute().virtual_machine_scale_sets.begin_create_or_update(RESOURCE_GROUP, name, body)
    arm.emu.settle()
    poller.result()


def launch_by_hand(arm, count):
    """``count`` VMs of no group, each booting a version of an image definition of its own, their NICs planted on
    the subnet."""
    compute = arm.compute()
    for number in range(count):
        (image,) = gallery_images(arm, RESOURCE_GROUP, ("1.0.0",), image="loose-%d" % number)
        nic = arm.group_path(RESOURCE_GROUP) + "/providers/Microsoft.Network/networkInterfaces/loose-%d-nic" % number
        configuration = {
            "name": "ipconfig",
            "id": nic + "/ipConfigurations/ipconfig",
            "properties": {"subnet": {"id": subnet(arm)}},
        }
        arm.emu.put_resource(
            nic, "Microsoft.Network/networkInterfaces", properties={"ipConfigurations": [configuration]}
        )
        body = {
            "location": arm.emu.location,
            "properties": {
                "hardwareProfile": {"vmSize": "Standard_B2s"},
                "storageProfile": {"imageReference": {"id": image}},
                "osProfile": {"computerName": "loose-%d" % number, "adminUsername": "phoenix"},
                "networkProfile": {"networkInterfaces": [{"id": nic}]},
            },
        }
        poller = compute.virtual_machines.begin_create_or_update(RESOURCE_GROUP, "loose-%d" % number, body)
        arm.emu.settle()
        poller.result()


def scenario(bench, size, extra_images, policy):
    started = time.monotonic()
    arm = bench.fresh()
    bench.emu.page_size = PAGE_SIZE
    (image,) = gallery_images(arm, RESOURCE_GROUP, ("1.0.0",))
    services = max(1, math.ceil(size / SERVICE_SIZE))
    names = ["web"] if services == 1 else ["web%d" % number for number in range(services)]
    for number, name in enumerate(names):
        seed_service(arm, name, min(SERVICE_SIZE, size - number * SERVICE_SIZE), image)
    launch_by_hand(arm, extra_images)
    seed_seconds = time.monotonic() - started

    options = {"policy": policy}
    if services == 1:
        options["service"] = names[0]
    tasks = [{"name": "drift", "phoenix.immutable.fleet_drift": options}]
    row = bench.measure("report scan, %d instances, %d images" % (size, extra_images + 1), tasks, reported_by="drift")
    result = bench.last_run.task("drift")["result"]
    instances, images = result["total"], len(result["images"])
    sizes = [min(SERVICE_SIZE, size - number * SERVICE_SIZE) for number in range(services)]
    expected = {
        "VirtualMachineScaleSets_List": 2 * max(1, math.ceil(services / PAGE_SIZE)),
        "VirtualMachineScaleSetVMs_List": sum(max(1, math.ceil(count / PAGE_SIZE)) for count in sizes),
        "VirtualMachines_List": max(1, math.ceil(extra_images / PAGE_SIZE)),
        "NetworkInterfaces_List": max(1, math.ceil(extra_images / PAGE_SIZE)),
        # One definition per hand-made VM, and the scale sets', all of one gallery.
        VERSIONS_CALL: extra_images + 1,
        DEFINITIONS_CALL: max(1, math.ceil((extra_images + 1) / PAGE_SIZE)),
    }
    row.update(
        instances=instances,
        groups=services,
        distinct_images=images,
        pages=sum(row["by_call"].get(call, 0) for call in PAGED_CALLS),
        expected_by_call=expected,
        expected_paged_calls=sum(expected.values()),
        other_calls={call: n for call, n in row["by_call"].items() if call not in expected},
        seed_seconds=round(seed_seconds, 1),
    )
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,5000", help="scale set instances per scenario, comma-separated")
    parser.add_argument("--images", type=int, default=20, help="VMs made by hand, each of an image of its own")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]

    rows = []
    with ArmEmulator() as emu, tempfile.TemporaryDirectory(prefix="bench-drift-azure-") as folder:
        bench = AzureBench(emu, folder)
        policy = policy_file(folder)
        for size in sizes:
            row = scenario(bench, size, args.images, policy)
            rows.append(row)
            print(
                "%-42s %7.2fs %6.2f cpu-s  %3d calls (module reports %d), %d page(s), %d instances, %d images,"
                " %d groups; seeded in %.0fs"
                % (
                    row["scenario"],
                    row["seconds"],
                    row["cpu_seconds"],
                    row["calls"],
                    row["reported_by_module"],
                    row["pages"],
                    row["instances"],
                    row["distinct_images"],
                    row["groups"],
                    row["seed_seconds"],
                ),
                flush=True,
            )
            for call, expected in sorted(row["expected_by_call"].items()):
                print("    %-52s %3d (expected %3d)" % (call, row["by_call"].get(call, 0), expected))
            for call, count in sorted(row["other_calls"].items()):
                print("    %-52s %3d" % (call, count))
            print_top_calls(row)

    smallest, largest = rows[0], rows[-1]
    ratios = {
        "calls, %d / %d instances" % (largest["instances"], smallest["instances"]): round(
            largest["calls"] / smallest["calls"], 3
        ),
        "instances, %d / %d" % (largest["instances"], smallest["instances"]): round(
            largest["instances"] / smallest["instances"], 3
        ),
        "measured / expected paged calls, every size": [
            round(sum(row["by_call"].get(call, 0) for call in row["expected_by_call"]) / row["expected_paged_calls"], 3)
            for row in rows
        ],
    }
    for name, value in ratios.items():
        print("%-50s %s" % (name, value))
    formula = {
        "calls": "the paged lists + one version list per image definition + the token calls and the group reads",
        "page": "%d items, the emulator's page_size (ARM pages by nextLink; its page size is the service's)"
        % PAGE_SIZE,
        "VirtualMachineScaleSets_List": "ceil(scale sets / page), twice: finding the groups, then the scan",
        "VirtualMachineScaleSetVMs_List": "ceil(instances / page) per scale set, once: the scan is the membership",
        "VirtualMachines_List": "ceil(VMs / page)",
        "NetworkInterfaces_List": "ceil(NICs / page): the VMs' subnets, read once when the scan has a subnet scope",
        VERSIONS_CALL: "one per image definition a scanned instance boots a version of",
        DEFINITIONS_CALL: "ceil(definitions / page) per gallery of several scanned definitions (one: a read)",
    }
    for row in rows:
        old = BEFORE_CHANGE.get(row["scenario"])
        if old:
            ratios["calls / before, %s" % row["scenario"]] = round(row["calls"] / old["calls"], 3)
    for name, value in ratios.items():
        if name.startswith("calls / before"):
            print("%-50s %s" % (name, value))
    write_results(
        "drift_azure", {"formula": formula, "scenarios": rows, "ratios": ratios, "before_change": BEFORE_CHANGE}
    )


if __name__ == "__main__":
    main()
