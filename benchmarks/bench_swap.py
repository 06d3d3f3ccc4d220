"""Benchmark: what a blue/green or canary swap costs in cloud API calls and seconds, on the embedded emulator.

    make bench            (or: .venv/bin/python benchmarks/bench_swap.py [--size N])

Scenarios on one seeded service (tests/emulators/fleet.py): an all-at-once swap, a canary swap in three
steps, a no-op re-run, a rollback (which redeploys the previous image), and a canary swap of a group of
`--size` instances, to show that the calls grow with the steps and health checks, not with the instances.
Figures go to stdout and to benchmarks/results/swap.json. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# The emulators and the test harness live in tests/; measure.py beside this file.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from emulators.aws import MotoEmulator  # noqa: E402
from emulators.fleet import seed_service  # noqa: E402
from measure import measure, write_results  # noqa: E402


def swap(service, **options):
    args = {
        "service": service.service,
        "listener_arn": service.listener_arn,
        "launch_template": service.launch_template_name,
        "step_seconds": 0,
        "keep_blue_seconds": 0,
        "health": {"interval": 0.2},
    }
    args.update(options)
    return [{"name": "swap", "phoenix.immutable.blue_green": args}]


def images(emu, seed, count):
    ec2 = emu.client("ec2", seed.region)
    return [
        ec2.create_image(InstanceId=seed.builder_instance_id, Name="bench-golden-%d" % n)["ImageId"]
        for n in range(count)
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=50, help="instances in the group of the large canary swap")
    args = parser.parse_args()

    rows = []
    with MotoEmulator() as emu:
        emu.reset()
        seed = emu.seed()
        service = seed_service(emu.client, seed.base_image_id, seed.subnet_ids, seed.vpc_id, size=2)
        first, second = images(emu, seed, 2)
        rows.append(measure(emu, seed, "all at once, 2 instances", swap(service, image_id=first), reported_by="swap"))
        rows.append(measure(emu, seed, "re-run (no-op)", swap(service, image_id=first), reported_by="swap"))
        canary = swap(service, image_id=second, strategy="canary", canary_steps=[10, 50, 100])
        rows.append(measure(emu, seed, "canary 10/50/100, 2 instances", canary, reported_by="swap"))
        rollback = swap(service, state="rolled_back")
        rows.append(measure(emu, seed, "rolled_back (redeploys the previous image)", rollback, reported_by="swap"))

        emu.reset()
        seed = emu.seed()
        service = seed_service(emu.client, seed.base_image_id, seed.subnet_ids, seed.vpc_id, size=args.size)
        [large] = images(emu, seed, 1)
        canary = swap(service, image_id=large, strategy="canary", canary_steps=[10, 50, 100])
        rows.append(measure(emu, seed, "canary 10/50/100, %d instances" % args.size, canary, reported_by="swap"))

    for row in rows:
        print(
            "%-46s %6.2fs %4d calls (module reports %d)"
            % (row["scenario"], row["seconds"], row["calls"], row["reported_by_module"])
        )
    small, large = rows[2], rows[4]
    ratios = {
        "no-op / all at once (calls)": round(rows[1]["calls"] / rows[0]["calls"], 3),
        "canary %d instances / canary 2 instances (calls)" % args.size: round(large["calls"] / small["calls"], 3),
    }
    for name, value in ratios.items():
        print("%-46s %.3f" % (name, value))
    write_results("swap", {"scenarios": rows, "ratios": ratios})


if __name__ == "__main__":
    main()
