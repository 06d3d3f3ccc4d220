"""Benchmark: what a drift scan costs in cloud API calls, pages and seconds, on the embedded emulator.

    .venv/bin/python benchmarks/bench_drift.py [--sizes 100,1000,5000] [--images K] [--read-timeout S]

Each size is a fleet of that many group instances plus `--images` instances launched by hand, each from an
image of its own, so the scan meets K+1 distinct images (the hand-launched ones' and the base image the
groups and the seed's builder run); a trust policy judges every image; the scan is a report. Up to 1,000
instances it is one service with one group (tests/emulators/fleet.py); past that, services of 1,000 instances
each scanned together (no `service`: every service's groups), because moto launches a group's instances into
its first subnet, and a default subnet holds 4,091.

What a scan costs, per AWS's page caps (the formula, printed next to what the emulator counted):

    autoscaling:DescribeAutoScalingGroups  ceil(groups / 100)            MaxRecords is capped at 100
    ec2:DescribeInstances                  ceil(instances / 1,000)       MaxResults 5..1,000, per 200 subnets
    ec2:DescribeImages                     ceil(distinct images / 200)   an image-id filter of 200 values
    calls = pages + one per 200 distinct images

moto counts DescribeInstances' MaxResults in reservations (a group of 1,000 is one reservation, one page);
the run pages as AWS does with the test-side extension `instance_pages_like_aws` (tests/emulators/drift.py),
so the instance pages counted are AWS's (`--moto-pages` runs without it: one page per 1,000 reservations,
written to drift_moto_pages.json). The largest sizes' DescribeAutoScalingGroups and seeding answers
take longer than botocore's default 60 s read timeout on a loaded machine: for sizes over 1,000 only, the
module gets `read_timeout` and the seeding clients a botocore Config with the same (`--read-timeout`). The
figures before pages and progress lines (3 calls at 100 and at 1,000 instances, moto's reservation pages) are
kept in the results file as `baseline`. Figures go to stdout and to benchmarks/results/drift.json. Nothing
here asserts a time.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
import tempfile
import time
from pathlib import Path

# The emulators and the test harness live in tests/; measure.py beside this file.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from botocore.config import Config  # noqa: E402
from emulators.aws import MotoEmulator  # noqa: E402
from emulators.drift import adopt, instance_pages_like_aws, launch  # noqa: E402
from emulators.fleet import seed_service  # noqa: E402
from measure import measure, policy_file, write_results  # noqa: E402

SERVICE_SIZE = 1000
GROUP_PAGE, INSTANCE_PAGE, IMAGE_BATCH = 100, 1000, 200
LIVE = ("pending", "running", "stopping", "stopped")
# Measured before this change (moto's reservation pages; commit 78d33a5 and earlier), kept for comparison.
BASELINE = {
    "note": "before pages of at most 1,000 and progress lines; moto counted DescribeInstances pages in reservations",
    "scenarios": [
        {
            "scenario": "report scan, 100 instances, 22 images",
            "instances": 121,
            "calls": 3,
            "by_operation": {
                "autoscaling:DescribeAutoScalingGroups": 1,
                "ec2:DescribeImages": 1,
                "ec2:DescribeInstances": 1,
            },
            "seconds": 3.37,
        },
        {
            "scenario": "report scan, 1000 instances, 22 images",
            "instances": 1021,
            "calls": 3,
            "by_operation": {
                "autoscaling:DescribeAutoScalingGroups": 1,
                "ec2:DescribeImages": 1,
                "ec2:DescribeInstances": 1,
            },
            "seconds": 8.93,
        },
    ],
}


class _Context:
    """What the test helpers read from the `aws` fixture: a client factory and the seed."""

    def __init__(self, emu, seed, read_timeout=None):
        self.emu = emu
        self.seed = seed
        self.config = Config(read_timeout=read_timeout) if read_timeout else None

    def client(self, name):
        options = {"config": self.config} if self.config else {}
        return self.emu.client(name, self.seed.region, **options)


def in_scope(seed, subnets):
    """(live instances, reservations, distinct images) in these subnets, read from moto's own objects."""
    from moto.ec2.models import ec2_backends

    backend = ec2_backends[seed.account_id][seed.region]
    instances, reservations, images = 0, 0, set()
    for reservation in backend.reservations.values():
        mine = [i for i in reservation.instances if i.subnet_id in subnets and i.state in LIVE]
        instances += len(mine)
        reservations += 1 if mine else 0
        images.update(instance.image_id for instance in mine)
    return instances, reservations, len(images)


def scenario(emu, size, extra_images, policy, read_timeout, moto_pages=False):
    emu.reset()
    timeout = read_timeout if size > SERVICE_SIZE else None
    started = time.monotonic()
    seed = emu.seed()
    context = _Context(emu, seed, timeout)
    services = max(1, math.ceil(size / SERVICE_SIZE))
    seeded = []
    for number in range(services):
        # moto launches a group into its first subnet: alternate them so that no subnet runs out of addresses.
        subnets = list(seed.subnet_ids[:2])[:: 1 if number % 2 == 0 else -1]
        share = min(SERVICE_SIZE, size - number * SERVICE_SIZE)
        name = "web" if services == 1 else "web%d" % number
        service = seed_service(context.client, seed.base_image_id, subnets, seed.vpc_id, service=name, size=share)
        adopt(context, service)
        seeded.append(service)
    ec2 = context.client("ec2")
    for number in range(extra_images):
        image_id = ec2.create_image(InstanceId=seed.builder_instance_id, Name="bench-%d" % number)["ImageId"]
        launch(context, image_id, seed.subnet_ids[number % 2])
    seed_seconds = time.monotonic() - started

    options = {"policy": policy}
    if services == 1:
        options["service"] = seeded[0].service
    if timeout:
        options["read_timeout"] = timeout
    instances, reservations, images = in_scope(seed, set(seed.subnet_ids[:2]))
    name = "report scan, %d instances, %d images" % (size, images)
    row = measure(emu, seed, name, [{"name": "drift", "phoenix.immutable.fleet_drift": options}], reported_by="drift")
    pages = {
        "autoscaling:DescribeAutoScalingGroups": math.ceil(services / GROUP_PAGE),
        # moto's own pages hold up to 1,000 reservations, AWS's 1,000 instances.
        "ec2:DescribeInstances": max(1, math.ceil((reservations if moto_pages else instances) / INSTANCE_PAGE)),
        "ec2:DescribeImages": math.ceil(images / IMAGE_BATCH),
    }
    row.update(
        instances=instances,
        groups=services,
        reservations=reservations,
        distinct_images=images,
        pages=pages["autoscaling:DescribeAutoScalingGroups"] + pages["ec2:DescribeInstances"],
        expected_by_operation=pages,
        expected_calls=sum(pages.values()),
        seed_seconds=round(seed_seconds, 1),
        read_timeout=timeout,
    )
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,5000", help="group instances per scenario, comma-separated")
    parser.add_argument("--images", type=int, default=20, help="hand-launched instances, each of its own image")
    parser.add_argument(
        "--moto-pages",
        action="store_true",
        help="page DescribeInstances as moto does (in reservations), not as AWS does (in instances)",
    )
    parser.add_argument(
        "--read-timeout", type=float, default=600, help="read timeout (s) for sizes over 1,000 instances only"
    )
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]

    rows = []
    paging = contextlib.nullcontext() if args.moto_pages else instance_pages_like_aws()
    with paging, tempfile.TemporaryDirectory() as folder, MotoEmulator() as emu:
        policy = policy_file(folder)
        for size in sizes:
            rows.append(scenario(emu, size, args.images, policy, args.read_timeout, args.moto_pages))
            row = rows[-1]
            print(
                "%-42s %7.2fs %6.2f cpu-s  %2d calls (expected %2d; module reports %d), %d page(s), %d images,"
                " %d groups; seeded in %.0fs"
                % (
                    row["scenario"],
                    row["seconds"],
                    row["cpu_seconds"],
                    row["calls"],
                    row["expected_calls"],
                    row["reported_by_module"],
                    row["pages"],
                    row["distinct_images"],
                    row["groups"],
                    row["seed_seconds"],
                ),
                flush=True,
            )
            for operation, expected in sorted(row["expected_by_operation"].items()):
                print("    %-40s %2d (expected %2d)" % (operation, row["by_operation"].get(operation, 0), expected))

    smallest, largest = rows[0], rows[-1]
    ratios = {
        "calls, %d / %d instances" % (largest["instances"], smallest["instances"]): round(
            largest["calls"] / smallest["calls"], 3
        ),
        "instances, %d / %d" % (largest["instances"], smallest["instances"]): round(
            largest["instances"] / smallest["instances"], 3
        ),
        "measured / expected calls, every size": [round(row["calls"] / row["expected_calls"], 3) for row in rows],
        "calls now / baseline (same sizes)": {
            str(row["instances"]): "%d / %d" % (row["calls"], old["calls"])
            for row in rows
            for old in BASELINE["scenarios"]
            if old["instances"] == row["instances"]
        },
    }
    for name, value in ratios.items():
        print("%-50s %s" % (name, value))
    formula = {
        "calls": "pages + one per 200 distinct images",
        "autoscaling:DescribeAutoScalingGroups": "ceil(groups / 100): AWS caps MaxRecords at 100",
        "ec2:DescribeInstances": "ceil(instances / 1000) per block of 200 subnets: MaxResults 5..1000",
        "ec2:DescribeImages": "ceil(distinct images / 200): an image-id filter of at most 200 values",
    }
    name = "drift_moto_pages" if args.moto_pages else "drift"
    figures = {"formula": formula, "scenarios": rows, "ratios": ratios, "baseline": BASELINE}
    write_results(name, dict(figures, paging="moto (reservations)" if args.moto_pages else "AWS (instances)"))


if __name__ == "__main__":
    main()
