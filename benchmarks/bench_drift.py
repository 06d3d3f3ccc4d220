"""Benchmark: what a drift scan costs in cloud API calls and seconds, on the embedded emulator.

    .venv/bin/python benchmarks/bench_drift.py [--size N] [--images K]

One seeded service (tests/emulators/fleet.py) whose group serves `--size` instances (1,000 by default), plus
`--images` instances launched by hand, each from an image of its own, so the scan meets K+2 distinct images;
a trust policy judges every image. Scenarios: a report scan of a 100-instance fleet and of the large one.
The calls must grow with pages of results (DescribeInstances returns 1,000 instances a page), not with
instances or images: the module reports its calls, the emulator counts them, and the pages a scan needs are
printed beside them (the pages AWS would return; moto's MaxResults counts reservations, not instances, so on
the emulator a scan may need fewer). Figures go to stdout and to benchmarks/results/drift.json. Nothing here
asserts a time.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from pathlib import Path

import yaml

# The emulators and the test harness live in tests/; measure.py beside this file.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ed25519  # noqa: E402
from emulators.aws import MotoEmulator  # noqa: E402
from emulators.drift import adopt, launch  # noqa: E402
from emulators.fleet import seed_service  # noqa: E402
from measure import measure, write_results  # noqa: E402


def policy_file(folder):
    key = ed25519.Ed25519PrivateKey.generate()
    public = Path(folder) / "bench.pub"
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    path = Path(folder) / "trust.yml"
    path.write_text(yaml.safe_dump({"keys": [{"name": "bench", "public_key": str(public)}]}), encoding="utf-8")
    return str(path)


def scenario(emu, size, extra_images, policy):
    emu.reset()
    seed = emu.seed()
    service = seed_service(emu.client, seed.base_image_id, seed.subnet_ids, seed.vpc_id, size=size)
    adopt(_Context(emu, seed), service)
    ec2 = emu.client("ec2", seed.region)
    for number in range(extra_images):
        image_id = ec2.create_image(InstanceId=seed.builder_instance_id, Name="bench-%d" % number)["ImageId"]
        launch(_Context(emu, seed), image_id, service.subnet_ids[number % 2])
    tasks = [{"name": "drift", "phoenix.immutable.fleet_drift": {"service": service.service, "policy": policy}}]
    row = measure(
        emu, seed, "report scan, %d instances, %d images" % (size, extra_images + 2), tasks, reported_by="drift"
    )
    scanned = size + extra_images + 1  # the group, the hand-launched ones and the seed's builder
    row["instances"] = scanned
    row["instance_pages"] = math.ceil(scanned / 1000)
    row["image_pages"] = math.ceil((extra_images + 2) / 200)
    return row


class _Context:
    """What the test helpers read from the `aws` fixture: a client factory and the seed."""

    def __init__(self, emu, seed):
        self.emu = emu
        self.seed = seed

    def client(self, name):
        return self.emu.client(name, self.seed.region)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1000, help="instances in the service's group")
    parser.add_argument("--images", type=int, default=20, help="hand-launched instances, each of its own image")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder, MotoEmulator() as emu:
        policy = policy_file(folder)
        rows = [scenario(emu, 100, args.images, policy), scenario(emu, args.size, args.images, policy)]

    for row in rows:
        describe = {k: v for k, v in row["by_operation"].items() if ":Describe" in k}
        print(
            "%-40s %6.2fs %4d calls (module reports %d); %d instance page(s), %d image page(s): %s"
            % (
                row["scenario"],
                row["seconds"],
                row["calls"],
                row["reported_by_module"],
                row["instance_pages"],
                row["image_pages"],
                ", ".join("%s %d" % item for item in sorted(describe.items())),
            )
        )
    small, large = rows
    ratios = {
        "calls, %d / 100 instances" % args.size: round(large["calls"] / small["calls"], 3),
        "instances, %d / 100" % args.size: round(large["instances"] / small["instances"], 3),
        "ec2:DescribeInstances calls / instance pages (%d instances)" % args.size: round(
            large["by_operation"].get("ec2:DescribeInstances", 0) / large["instance_pages"], 3
        ),
        "ec2:DescribeImages calls / image pages (%d images)" % (args.images + 2): round(
            large["by_operation"].get("ec2:DescribeImages", 0) / large["image_pages"], 3
        ),
    }
    for name, value in ratios.items():
        print("%-60s %.3f" % (name, value))
    write_results("drift", {"scenarios": rows, "ratios": ratios})


if __name__ == "__main__":
    main()
