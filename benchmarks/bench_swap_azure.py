"""Benchmark: what a blue/green or canary swap costs in ARM calls on Azure, on the ARM emulator.

    make bench            (or: .venv/bin/python benchmarks/bench_swap_azure.py [--sizes 2,10,100])

For each group size N, a service as a user makes it (emulators.arm_seed.seed_service: a Standard load balancer
``web-lb`` whose rule sends to pool ``web-pool``, a base scale set ``web-base`` of capacity 0 and a scale set
``web-a`` of N instances in that pool, three Compute Gallery image versions) then, through ansible-playbook with
``cloud: azure``: an all-at-once swap WITH a trust policy (a P-256-signed image version), a no-op re-run, and a
canary swap in three steps. A pool has no weights (split=membership): a canary step is a share of green's
instances next to blue's (ceil(step % of N)), so each step resizes green, attaches it to the pool and upgrades
its instances. Where two steps mean the same number of instances (10 and 50 of 2 are both 1) the core refuses
the steps; that size's canary runs the steps that differ (50/100 of 2) and is named so.
The calls are counted at the emulator (measure_azure.py): every ARM request (each poll of a long-running
operation included) and the token grants. They are compared with the AWS goal (18 calls for an all-at-once
swap with verify, 18 + 3 per canary step); where they go (the top operations) is printed with each row.
Figures go to stdout and to benchmarks/results/swap_azure.json. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from pathlib import Path

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

# The emulators and the test harness live in tests/; measure.py beside this file.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from emulators.arm import ArmEmulator  # noqa: E402
from emulators.arm_seed import seed_service  # noqa: E402
from measure import write_results  # noqa: E402
from measure_azure import RESOURCE_GROUP, AzureBench, print_top_calls  # noqa: E402

# The AWS goals of issue 13, the yardstick of these figures.
GOAL_ALL_AT_ONCE = 18
GOAL_PER_STEP = 3
# This benchmark on the tree before the swap's trust gate shared the task's connection, the core read groups
# without members where it needs none and a scale set's change started from its last answer, conditional on
# its etag (commit 71f5b64, 2026-12-07): calls by scenario, the same at every size.
BEFORE_CHANGE = {
    "all at once with verify": 71,
    "re-run (no-op)": 9,
    "canary 10/50/100": 105,
    "canary 50/100": 86,
}
CANARY_STEPS = [10, 50, 100]


class Bench(AzureBench):
    """The shared Azure bench (measure_azure.py) with a served service to swap and a trust policy."""

    def seed_service(self, size):
        """The service with ``size`` instances; the two image versions a swap can go to."""
        arm = self.fresh()
        service = seed_service(arm, RESOURCE_GROUP, size)
        return service.images[1], service.images[2]

    def trust_policy(self, image_id):
        """Sign ``image_id`` with a new P-256 key (phoenix.immutable.image_sign) and write a policy trusting it."""
        key = ec.generate_private_key(ec.SECP256R1())
        private, public, policy = (self.folder / name for name in ("build.pem", "build.pub", "policy.yml"))
        private.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        public.write_bytes(
            key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
        run = self.run([{"name": "sign", "phoenix.immutable.image_sign": {"image_id": image_id, "key": str(private)}}])
        if run.rc != 0:
            raise SystemExit("signing failed:\n%s" % run.explain())
        policy.write_text(yaml.safe_dump({"keys": [{"name": "build", "public_key": str(public)}]}), encoding="utf-8")
        return str(policy)


def swap(image_id, **options):
    args = {
        "service": "web",
        "listener": "web-lb",
        "template": "web-base",
        "image_id": image_id,
        "step_seconds": 0,
        "keep_blue_seconds": 0,
        "wait_timeout": 1200,
        "health": {"interval": 0.2},
    }
    args.update(options)
    return [{"name": "swap", "phoenix.immutable.blue_green": args}]


def distinct_steps(size, steps):
    """``steps`` without those that mean as many of green's instances as the next one (the later one is kept)."""
    kept = []
    for step in steps:
        if kept and math.ceil(size * kept[-1] / 100) == math.ceil(size * step / 100):
            kept.pop()
        kept.append(step)
    return kept


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=lambda text: [int(n) for n in text.split(",") if n],
        default=[2, 10, 100],
        help="instances in the serving group (comma-separated)",
    )
    args = parser.parse_args()

    rows = []
    with ArmEmulator() as emu, tempfile.TemporaryDirectory(prefix="bench-swap-azure-") as folder:
        bench = Bench(emu, folder)
        for size in args.sizes:
            first, second = bench.seed_service(size)
            policy = bench.trust_policy(first)
            name = "all at once with verify, %d instances" % size
            rows.append(dict(bench.measure(name, swap(first, verify=policy)), size=size))
            name = "re-run (no-op), %d instances" % size
            rows.append(dict(bench.measure(name, swap(first, verify=policy)), size=size))
            steps = distinct_steps(size, CANARY_STEPS)
            canary = swap(second, strategy="canary", canary_steps=steps)
            name = "canary %s, %d instances" % ("/".join(str(step) for step in steps), size)
            rows.append(dict(bench.measure(name, canary), canary_steps=steps, size=size))

    for row in rows:
        print("%-46s %7.2fs %5d calls" % (row["scenario"], row["seconds"], row["calls"]))
        print_top_calls(row)
    ratios = {}
    for row in rows:
        if "no-op" in row["scenario"]:
            continue
        goal = GOAL_ALL_AT_ONCE + GOAL_PER_STEP * len(row.get("canary_steps", ()))
        ratios["%s / AWS goal %d (calls)" % (row["scenario"], goal)] = round(row["calls"] / goal, 3)
    for kind in ("all at once with verify", "canary 10/50/100"):
        sized = {row["size"]: row["calls"] for row in rows if row["scenario"].startswith(kind + ",")}
        if len(sized) > 1:
            smallest, largest = min(sized), max(sized)
            ratios["%s, %d / %d instances (calls)" % (kind, largest, smallest)] = round(
                sized[largest] / sized[smallest], 3
            )
    for row in rows:
        old = BEFORE_CHANGE.get(row["scenario"].split(",")[0])
        if old:
            ratios["%s / before (calls)" % row["scenario"]] = round(row["calls"] / old, 3)
    for name, value in ratios.items():
        print("%-72s %.3f" % (name, value))
    goals = {
        "AWS all at once with verify (calls, any N)": GOAL_ALL_AT_ONCE,
        "AWS canary (calls)": "%d + %d per step" % (GOAL_ALL_AT_ONCE, GOAL_PER_STEP),
    }
    write_results("swap_azure", {"scenarios": rows, "ratios": ratios, "goals": goals, "before_change": BEFORE_CHANGE})


if __name__ == "__main__":
    main()
