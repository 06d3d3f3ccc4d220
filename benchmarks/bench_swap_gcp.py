"""Benchmark: what a blue/green or canary swap costs in Compute API calls on GCP, on the GCE emulator.

    make bench            (or: .venv/bin/python benchmarks/bench_swap_gcp.py [--sizes 2,10,100])

For each group size N, a service as a user makes it (a base instance template, a zonal MIG of N settled members
behind a backend service, a URL map sending to it) then, through ansible-playbook with ``cloud: gcp``: an
all-at-once swap WITH a trust policy (a P-256-signed image), a no-op re-run, and a canary swap in three steps.
The calls are counted at the emulator (measure_gcp.py): every Compute request (each operation's wait
included), the token grants, and any Cloud KMS and Cloud Storage call. They are compared with the AWS goal (18
calls for an all-at-once swap with verify, 18 + 3 per canary step). Each mutation's operation is waited for, so
a GCP swap makes about twice the calls of the same swap on AWS.
Figures go to stdout and to benchmarks/results/swap_gcp.json. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

# The emulators and the test harness live in tests/; measure.py beside this file.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from emulators.gce import GceEmulator  # noqa: E402
from measure import write_results  # noqa: E402
from measure_gcp import GcpBench, setup_waiter  # noqa: E402

from ansible_collections.phoenix.immutable.plugins.module_utils._gcp import fleet_api  # noqa: E402
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.operations import wait_for  # noqa: E402

SCOPE = "zones/us-central1-a"
# The AWS goals of issue 13, the yardstick of these figures.
GOAL_ALL_AT_ONCE = 18
GOAL_PER_STEP = 3
# This benchmark on the tree before the swap's trust gate shared the task's connection (one token grant
# fewer; commit 71f5b64, 2026-12-07): calls by scenario, the same at every size.
BEFORE_CHANGE = {
    "all at once with verify": 61,
    "re-run (no-op)": 9,
    "canary 10/50/100": 79,
}


class Bench(GcpBench):
    """The shared GCP bench (measure_gcp.py) with a served service to swap and a trust policy."""

    def seed_service(self, size):
        seed, setup = self.fresh()
        waiter = setup_waiter()
        template = {
            "name": "web-base",
            "properties": {
                "machineType": "e2-small",
                "disks": [{"boot": True, "autoDelete": True, "initializeParams": {"sourceImage": seed.base_image}}],
                "networkInterfaces": [{"network": "global/networks/default"}],
            },
        }
        fleet_api.insert_template(setup, seed.project, "global", template, waiter)
        base = fleet_api.get_template(setup, seed.project, "global", "web-base")
        group = {"name": "web-a", "instanceTemplate": base["selfLink"], "targetSize": size, "baseInstanceName": "web-a"}
        fleet_api.insert_group_manager(setup, seed.project, SCOPE, group, waiter)
        self.emu.fleet.settle_members()
        member_group = "projects/%s/%s/instanceGroups/web-a" % (seed.project, SCOPE)
        backend = insert(
            setup, seed.project, "backendServices", {"name": "web-a", "backends": [{"group": member_group}]}
        )
        insert(setup, seed.project, "urlMaps", {"name": "web-map", "defaultService": backend})
        images = [self.emu.put_image("phoenix-web-%d" % n, family="phoenix-web")["selfLink"] for n in (2, 3)]
        return [image.split("/compute/v1/", 1)[-1] for image in images]

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


def insert(connection, project, collection, body):
    path = "projects/%s/global/%s" % (project, collection)
    operation = connection.request("POST", path, "compute.%s.insert" % collection, body=body, mutation=True)
    wait_for(connection, operation, setup_waiter())
    return connection.request("GET", "%s/%s" % (path, body["name"]), "compute.%s.get" % collection)["selfLink"]


def swap(image_id, **options):
    args = {
        "service": "web",
        "listener": "web-map",
        "template": "web-base",
        "image_id": image_id,
        "step_seconds": 0,
        "keep_blue_seconds": 0,
        "wait_timeout": 1200,
        "health": {"interval": 0.2},
    }
    args.update(options)
    return [{"name": "swap", "phoenix.immutable.blue_green": args}]


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
    with GceEmulator() as emu, tempfile.TemporaryDirectory(prefix="bench-swap-gcp-") as folder:
        bench = Bench(emu, folder)
        for size in args.sizes:
            first, second = bench.seed_service(size)
            policy = bench.trust_policy(first)
            rows.append(bench.measure("all at once with verify, %d instances" % size, swap(first, verify=policy)))
            rows.append(bench.measure("re-run (no-op), %d instances" % size, swap(first, verify=policy)))
            canary = swap(second, strategy="canary", canary_steps=[10, 50, 100])
            rows.append(bench.measure("canary 10/50/100, %d instances" % size, canary))

    for row in rows:
        print("%-46s %7.2fs %5d calls" % (row["scenario"], row["seconds"], row["calls"]))
    canary_goal = GOAL_ALL_AT_ONCE + GOAL_PER_STEP * 3
    ratios = {}
    for row in rows:
        goal = canary_goal if row["scenario"].startswith("canary") else GOAL_ALL_AT_ONCE
        if "no-op" not in row["scenario"]:
            ratios["%s / AWS goal %d (calls)" % (row["scenario"], goal)] = round(row["calls"] / goal, 3)
    smallest, largest = args.sizes[0], args.sizes[-1]
    by_name = {row["scenario"]: row["calls"] for row in rows}
    for kind in ("all at once with verify", "canary 10/50/100"):
        ratios["%s, %d / %d instances (calls)" % (kind, largest, smallest)] = round(
            by_name["%s, %d instances" % (kind, largest)] / by_name["%s, %d instances" % (kind, smallest)], 3
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
    write_results("swap_gcp", {"scenarios": rows, "ratios": ratios, "goals": goals, "before_change": BEFORE_CHANGE})


if __name__ == "__main__":
    main()
