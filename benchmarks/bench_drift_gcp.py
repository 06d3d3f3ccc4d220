"""Benchmark: what a drift scan costs on GCP in API calls, pages and seconds, on the GCE emulator.

    make bench            (or: .venv/bin/python benchmarks/bench_drift_gcp.py [--sizes 100,1000,5000] [--images K])

The scenarios of bench_drift.py (AWS), on Compute: each size is a fleet of that many group instances plus
``--images`` instances launched by hand, each from an image of its own, so the scan meets K+1 distinct images
(the hand-launched ones' and the base image the groups run); a trust policy judges every image; the scan is a
report. Up to 1,000 instances it is one service with one zonal MIG (scanned by ``service``: every instance on
its template's network); past that, services of 1,000 instances each, scanned together (no ``service``), as on
AWS. The MIGs are made through the Compute API (a template, a group with the rollout record a finished
blue_green leaves), as tests/integration/gcp/test_gcp_drift.py makes them.

What a scan costs, per Compute's page caps (the formula, printed next to what the emulator counted):

    compute.instances.aggregatedList   ceil(instances / 500)            maxResults is capped at 500
    compute.disks.aggregatedList       ceil(disks / 500)                each instance's image is its boot disk's
    compute.images.list                ceil(distinct images / 100)      a filter of at most 100 names, per project
    calls = pages + image lists + the token grant and the reads that find the service's groups

What is counted (at the emulator, measure_gcp.py): every Compute call, the token grants, and any Cloud KMS and
Cloud Storage call. Figures go to stdout and to benchmarks/results/drift_gcp.json. Nothing here asserts a time.
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

from emulators.gce import GceEmulator  # noqa: E402
from measure import policy_file, write_results  # noqa: E402
from measure_gcp import GcpBench, setup_waiter  # noqa: E402

from ansible_collections.phoenix.immutable.plugins.module_utils._core.rollout_model import RolloutRecord  # noqa: E402
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp import compute, fleet_api  # noqa: E402
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.fleet_transformations import (  # noqa: E402
    description_of,
)

SERVICE_SIZE = 1000
INSTANCE_PAGE, DISK_PAGE, IMAGE_NAMES = 500, 500, 100
PAGED_CALLS = ("compute.instances.aggregatedList", "compute.disks.aggregatedList")


def seed_service(setup, seed, service, size):
    """A zonal MIG of ``size`` settled members of the base image, recorded as ``service``'s blue group."""
    waiter = setup_waiter()
    template = {
        "name": "%s-template" % service,
        "properties": {
            "machineType": "e2-small",
            "disks": [{"boot": True, "autoDelete": True, "initializeParams": {"sourceImage": seed.base_image}}],
            "networkInterfaces": [{"network": "global/networks/default"}],
        },
    }
    fleet_api.insert_template(setup, seed.project, "global", template, waiter)
    group = "%s-blue" % service
    image = "projects/%s/global/images/%s" % (seed.project, seed.base_image_name)
    record = RolloutRecord(service=service, role="blue", image=image, phase="done")
    body = {
        "name": group,
        "instanceTemplate": "global/instanceTemplates/%s" % template["name"],
        "targetSize": size,
        "baseInstanceName": group,
        "description": description_of(record, group),
    }
    fleet_api.insert_group_manager(setup, seed.project, fleet_api.zonal_scope(seed.zone), body, waiter)


def launch_by_hand(emu, setup, seed, count):
    """``count`` instances of no group, each booted from an image of its own."""
    for number in range(count):
        image = emu.put_image("bench-%d" % number)["selfLink"]
        body = {
            "name": "loose-%d" % number,
            "machineType": "zones/%s/machineTypes/e2-small" % seed.zone,
            "disks": [{"boot": True, "autoDelete": True, "initializeParams": {"sourceImage": image}}],
        }
        compute.insert_instance(setup, seed.project, seed.zone, body)


def scenario(bench, size, extra_images, policy):
    started = time.monotonic()
    seed, setup = bench.fresh()
    services = max(1, math.ceil(size / SERVICE_SIZE))
    names = ["web"] if services == 1 else ["web%d" % number for number in range(services)]
    for number, name in enumerate(names):
        seed_service(setup, seed, name, min(SERVICE_SIZE, size - number * SERVICE_SIZE))
    launch_by_hand(bench.emu, setup, seed, extra_images)
    bench.emu.settle()
    bench.emu.fleet.settle_members()
    seed_seconds = time.monotonic() - started

    options = {"policy": policy}
    if services == 1:
        options["service"] = names[0]
    tasks = [{"name": "drift", "phoenix.immutable.fleet_drift": options}]
    row = bench.measure("report scan, %d instances, %d images" % (size, extra_images + 1), tasks, reported_by="drift")
    result = bench.last_run.task("drift")["result"]
    instances, images = result["total"], len(result["images"])
    expected = {
        "compute.instances.aggregatedList": max(1, math.ceil(instances / INSTANCE_PAGE)),
        # Every instance has one boot disk (autoDelete), and the project holds no other disks.
        "compute.disks.aggregatedList": max(1, math.ceil(instances / DISK_PAGE)),
        "compute.images.list": math.ceil(images / IMAGE_NAMES),
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
    parser.add_argument("--sizes", default="100,1000,5000", help="group instances per scenario, comma-separated")
    parser.add_argument("--images", type=int, default=20, help="hand-launched instances, each of its own image")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]

    rows = []
    with GceEmulator() as emu, tempfile.TemporaryDirectory(prefix="bench-drift-gcp-") as folder:
        bench = GcpBench(emu, folder)
        policy = policy_file(folder)
        for size in sizes:
            row = scenario(bench, size, args.images, policy)
            rows.append(row)
            print(
                "%-42s %7.2fs %6.2f cpu-s  %2d calls (module reports %d), %d page(s), %d instances, %d images,"
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
                print("    %-52s %2d (expected %2d)" % (call, row["by_call"].get(call, 0), expected))
            for call, count in sorted(row["other_calls"].items()):
                print("    %-52s %2d" % (call, count))

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
        "calls": "pages + image lists + the token grant and the reads that find the service's groups",
        "compute.instances.aggregatedList": "ceil(instances / 500): maxResults is capped at 500",
        "compute.disks.aggregatedList": "ceil(disks / 500): an instance's image is its boot disk's sourceImage",
        "compute.images.list": "ceil(distinct images / 100) per project: a filter of at most 100 names",
    }
    write_results("drift_gcp", {"formula": formula, "scenarios": rows, "ratios": ratios})


if __name__ == "__main__":
    main()
