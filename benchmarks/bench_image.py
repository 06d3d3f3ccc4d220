"""Benchmark: what the image module costs in cloud API calls and seconds, against the embedded emulator.

    make bench            (or: .venv/bin/python benchmarks/bench_image.py [--instances N])

Reports, for each scenario, the calls by operation, their total, and the wall time of the playbook run;
then the ratios that matter to users: what a no-op re-run costs against the first run, what signing the
image and each copy as it arrives adds, and how the in-use check grows with the number of instances using
the image (it should grow with pages, not with instances). Figures go to stdout and to
benchmarks/results/image.json. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

# The emulators and the test harness live in tests/; measure.py beside this file.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ed25519  # noqa: E402
from emulators.aws import INSTANCE_TYPE, MotoEmulator  # noqa: E402
from measure import measure, write_results  # noqa: E402


def signing_key(folder):
    path = Path(folder) / "build.pem"
    path.write_bytes(
        ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return str(path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=300, help="instances using the image in the in-use scan")
    args = parser.parse_args()

    rows = []
    with MotoEmulator() as emu:
        emu.reset()
        seed = emu.seed()
        create = {
            "name": "create",
            "phoenix.immutable.image": {
                "name": "bench-golden",
                "instance_id": seed.builder_instance_id,
                "tags": {"service": "bench"},
                "copy_to_regions": ["us-west-2", "eu-west-1"],
            },
        }
        rows.append(measure(emu, seed, "create + copy to 2 regions", [create]))
        rows.append(measure(emu, seed, "re-run (no-op)", [create]))
        with tempfile.TemporaryDirectory(prefix="bench-image-") as folder:
            signed = {
                "name": "signed",
                "phoenix.immutable.image": dict(
                    create["phoenix.immutable.image"],
                    name="bench-golden-signed",
                    sign={"key": signing_key(folder), "claims": {"tests": "passed"}},
                ),
            }
            signed_row = measure(emu, seed, "create + copy to 2 regions, each signed as it arrives", [signed])

        ec2 = emu.client("ec2", seed.region)
        for users in (1, args.instances):
            current = len(
                ec2.describe_instances(Filters=[{"Name": "image-id", "Values": [seed.base_image_id]}])["Reservations"]
            )
            if users > current:
                ec2.run_instances(
                    ImageId=seed.base_image_id,
                    InstanceType=INSTANCE_TYPE,
                    MinCount=users - current,
                    MaxCount=users - current,
                    SubnetId=seed.subnet_ids[0],
                )
            refused = {
                "name": "refused",
                "phoenix.immutable.image": {"state": "absent", "image_id": seed.base_image_id},
                "ignore_errors": True,
            }
            row = measure(emu, seed, "delete refused (in use)", [refused], may_fail=True)
            row["instances_using_image"] = users
            rows.append(row)

    first, rerun = rows[0], rows[1]
    scan_small, scan_large = rows[2], rows[3]
    rows.append(signed_row)
    ratios = {
        "rerun_calls_per_first_run_call": round(rerun["calls"] / first["calls"], 3),
        "signed_calls_per_unsigned_call": round(signed_row["calls"] / first["calls"], 3),
        "in_use_scan_calls_%d_vs_1_instances" % args.instances: round(scan_large["calls"] / scan_small["calls"], 3),
    }
    for row in rows:
        users = row.get("instances_using_image")
        label = row["scenario"] + (" [%d instances]" % users if users else "")
        print("%-48s %5d calls %8.2f s" % (label, row["calls"], row["seconds"]))
        for operation, count in row["by_operation"].items():
            print("    %5d  %s" % (count, operation))
    for key, value in ratios.items():
        print("ratio %-52s %s" % (key, value))
    write_results("image", {"scenarios": rows, "ratios": ratios})


if __name__ == "__main__":
    main()
