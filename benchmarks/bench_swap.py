"""Benchmark: what a blue/green or canary swap costs in cloud API calls and seconds, on the embedded emulator.

    make bench            (or: .venv/bin/python benchmarks/bench_swap.py [--size N])

Scenarios on one seeded service (tests/emulators/fleet.py): an all-at-once swap, a canary swap in three
steps, a no-op re-run, a rollback (which redeploys the previous image), a canary swap of a group of
`--size` instances, to show that the calls grow with the steps and health checks, not with the instances,
and all-at-once swaps WITH a trust policy (`verify:`, an Ed25519-signed image, as the tests sign it) of
`--verified-sizes` instances. The results carry the issue's figures before this work (`baseline`) and ratios
against the goals: at most 18 calls for an all-at-once swap with verify, 18 + 3 per step for a canary.
Figures go to stdout and to benchmarks/results/swap.json. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

# The emulators and the test harness live in tests/; measure.py beside this file.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from emulators.aws import MotoEmulator  # noqa: E402
from emulators.fleet import seed_service  # noqa: E402
from harness import run_playbook  # noqa: E402
from measure import GROUP, measure, write_results  # noqa: E402

# Goals of issue 13: calls of an all-at-once swap with verify, and what each canary step may add.
GOAL_ALL_AT_ONCE = 18
GOAL_PER_STEP = 3
# Measured before this work: the figures, and this tree's previous ones (without verify).
BASELINE = {
    "issue 13": {
        "all at once with verify (calls)": 40,
        "all at once without verify (calls)": 39,
        "canary 10/50/100 (calls)": [52, 53],
        "swap cpu seconds": 7.5,
    },
    "previous tree": {
        "all at once, 2 instances (calls)": 32,
        "canary 10/50/100, 2 instances (calls)": 43,
        "rolled_back (calls)": 33,
        "canary 10/50/100, 50 instances (calls)": 42,
    },
}


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


def trust_policy(emu, seed, image_id, folder):
    """Sign ``image_id`` with a new Ed25519 key (phoenix.immutable.image_sign) and write a policy trusting it."""
    key = ed25519.Ed25519PrivateKey.generate()
    private, public, policy = (Path(folder) / name for name in ("release.pem", "release.pub", "policy.yml"))
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    defaults = {GROUP: {"region": seed.region, "endpoint_url": emu.endpoint_url}}
    sign = [{"name": "sign", "phoenix.immutable.image_sign": {"image_id": image_id, "key": str(private)}}]
    run = run_playbook(sign, env=emu.env(), module_defaults=defaults)
    if run.rc != 0:
        raise SystemExit("signing failed:\n%s" % run.explain())
    policy.write_text(yaml.safe_dump({"keys": [{"name": "release", "public_key": str(public)}]}), encoding="utf-8")
    return str(policy)


def verified_swap(emu, size, folder):
    """An all-at-once swap with verify of a service of ``size`` instances, on a fresh emulator state."""
    emu.reset()
    seed = emu.seed()
    service = seed_service(emu.client, seed.base_image_id, seed.subnet_ids, seed.vpc_id, size=size)
    [image] = images(emu, seed, 1)
    policy = trust_policy(emu, seed, image, folder)
    tasks = swap(service, image_id=image, verify=policy, wait_timeout=600)
    return measure(emu, seed, "all at once with verify, %d instances" % size, tasks, reported_by="swap")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=50, help="instances in the group of the large canary swap")
    parser.add_argument(
        "--verified-sizes",
        type=lambda text: [int(n) for n in text.split(",") if n],
        default=[10, 100, 500],
        help="instances of each all-at-once swap with verify (comma-separated)",
    )
    args = parser.parse_args()

    rows = []
    with MotoEmulator() as emu, tempfile.TemporaryDirectory(prefix="bench-swap-") as folder:
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

        verified = [verified_swap(emu, size, folder) for size in args.verified_sizes]
        rows.extend(verified)

    for row in rows:
        print(
            "%-46s %6.2fs %6.2fs cpu %4d calls (module reports %d)"
            % (row["scenario"], row["seconds"], row["cpu_seconds"], row["calls"], row["reported_by_module"])
        )
    small, large = rows[2], rows[4]
    canary_goal = GOAL_ALL_AT_ONCE + GOAL_PER_STEP * 3
    ratios = {
        "no-op / all at once (calls)": round(rows[1]["calls"] / rows[0]["calls"], 3),
        "canary %d instances / canary 2 instances (calls)" % args.size: round(large["calls"] / small["calls"], 3),
        "all at once, 2 instances, no verify / goal %d (calls)" % GOAL_ALL_AT_ONCE: round(
            rows[0]["calls"] / GOAL_ALL_AT_ONCE, 3
        ),
        "canary 10/50/100, 2 instances / goal %d (calls)" % canary_goal: round(small["calls"] / canary_goal, 3),
        "canary 10/50/100, %d instances / goal %d (calls)" % (args.size, canary_goal): round(
            large["calls"] / canary_goal, 3
        ),
    }
    for row in verified:
        ratios["%s / goal %d (calls)" % (row["scenario"], GOAL_ALL_AT_ONCE)] = round(row["calls"] / GOAL_ALL_AT_ONCE, 3)
    if len(verified) > 1:
        ratios[
            "all at once with verify, %d / %d instances (calls)" % (args.verified_sizes[-1], args.verified_sizes[0])
        ] = round(verified[-1]["calls"] / verified[0]["calls"], 3)
    before = BASELINE["previous tree"]
    ratios["all at once / previous tree (calls)"] = round(
        rows[0]["calls"] / before["all at once, 2 instances (calls)"], 3
    )
    ratios["canary / previous tree (calls)"] = round(
        small["calls"] / before["canary 10/50/100, 2 instances (calls)"], 3
    )
    for name, value in ratios.items():
        print("%-64s %.3f" % (name, value))
    goals = {
        "all at once with verify (calls, any N)": GOAL_ALL_AT_ONCE,
        "canary (calls)": "%d + %d per step" % (GOAL_ALL_AT_ONCE, GOAL_PER_STEP),
        "no-op (calls)": 2,
    }
    write_results("swap", {"scenarios": rows, "ratios": ratios, "baseline": BASELINE, "goals": goals})


if __name__ == "__main__":
    main()
