"""Benchmark: what a bake with empty provisioning costs in cloud API calls, seconds, CPU seconds and tasks.

    make bench            (or: .venv/bin/python benchmarks/bench_bake.py [--baseline-from FILE])

The bake role runs as tests/integration/test_bake.py runs it against the embedded moto emulator: the
builder is reached with the local connection and its filesystem is a scratch directory
(`bake_builder_root`), because an emulated instance runs nothing. No roles, no provisioning tasks, no test
tasks: what is left is the bake's own cost. Scenarios: that bake (the issue's figure), the same bake with
copies to two more regions, and a re-run of the first (a no-op).

CPU seconds are those of the whole ansible-playbook run (its workers and the modules they ran); tasks are
the task results ansible-playbook reported (skipped ones included). Figures go to stdout and to
benchmarks/results/bake.json, next to the issue's figures (`baseline`). Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

# The emulators and the test harness live in tests/; measure.py beside this file.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from emulators.aws import MotoEmulator  # noqa: E402
from harness import run_playbook  # noqa: E402
from measure import GROUP, bake_dir, cpu_seconds_of_children, write_results  # noqa: E402

GOAL_CALLS = 22
PACKER_CPU_SECONDS = 0.8
GOAL_CPU_SECONDS = 5 * PACKER_CPU_SECONDS
# The issue's figures (issue 13), counted at the emulator for a bake with empty provisioning.
ISSUE_FIGURES = {
    "phoenix_in_issue": {"calls": 26, "cpu_seconds": 32, "tasks": 30},
    "packer_1.6.6": {"calls": 20, "cpu_seconds": 0.8},
    "raw_boto3_minimum": {"calls": 5, "cpu_seconds": 1.5},
}
# This benchmark run on the tree before the bake lost its per-file clean-up tasks and its separate stop and
# sign tasks (commit 78d33a5, 2026-12-02, the same 2-core machine at a load of about 1.3): the figures to
# compare with. Under a heavier load the same tree measured 15.5 CPU s for the first scenario.
BEFORE_CHANGE = {
    "bake, empty provisioning": {
        "calls": 26,
        "cpu_seconds": 12.5,
        "seconds": 15.04,
        "tasks": 33,
        "by_operation": {
            "ec2:AuthorizeSecurityGroupIngress": 1,
            "ec2:CreateImage": 1,
            "ec2:CreateKeyPair": 1,
            "ec2:CreateSecurityGroup": 1,
            "ec2:CreateTags": 1,
            "ec2:DeleteKeyPair": 1,
            "ec2:DeleteSecurityGroup": 1,
            "ec2:DescribeImages": 5,
            "ec2:DescribeInstanceStatus": 1,
            "ec2:DescribeInstances": 7,
            "ec2:DescribeKeyPairs": 1,
            "ec2:DescribeSecurityGroups": 1,
            "ec2:DescribeSubnets": 1,
            "ec2:RunInstances": 1,
            "ec2:StopInstances": 1,
            "ec2:TerminateInstances": 1,
        },
    },
    "re-run (no-op)": {"calls": 1, "cpu_seconds": 2.14, "seconds": 2.23, "tasks": 18},
    "bake, empty provisioning, copies to 2 regions": {
        "calls": 37,
        "cpu_seconds": 13.26,
        "seconds": 17.1,
        "tasks": 33,
        "by_operation": {
            "ec2:AuthorizeSecurityGroupIngress": 1,
            "ec2:CopyImage": 2,
            "ec2:CreateImage": 1,
            "ec2:CreateKeyPair": 1,
            "ec2:CreateSecurityGroup": 1,
            "ec2:CreateTags": 3,
            "ec2:DeleteKeyPair": 1,
            "ec2:DeleteSecurityGroup": 1,
            "ec2:DescribeImages": 11,
            "ec2:DescribeInstanceStatus": 1,
            "ec2:DescribeInstances": 7,
            "ec2:DescribeKeyPairs": 1,
            "ec2:DescribeRegions": 1,
            "ec2:DescribeSecurityGroups": 1,
            "ec2:DescribeSubnets": 1,
            "ec2:RunInstances": 1,
            "ec2:StopInstances": 1,
            "ec2:TerminateInstances": 1,
        },
    },
}
# The same benchmark on the tree before modules ran inside Ansible's worker (commit dbb5352, 2026-12-04,
# the same 2-core machine, idle): every module task was a module process then.
BEFORE_WORKER_RUNS = {
    "bake, empty provisioning": {"calls": 22, "cpu_seconds": 5.46, "seconds": 9.40, "tasks": 21},
    "re-run (no-op)": {"calls": 1, "cpu_seconds": 2.71, "seconds": 2.68, "tasks": 21},
    "bake, empty provisioning, copies to 2 regions": {"calls": 32, "cpu_seconds": 6.08, "seconds": 9.90, "tasks": 21},
}


def bake(seed, root, name, regions=()):
    return [
        {
            "name": "bake",
            "ansible.builtin.include_role": {"name": "phoenix.immutable.bake"},
            "vars": {
                "bake_name": name,
                "bake_base_image_id": seed.base_image_id,
                "bake_builder_connection": "local",
                "bake_builder_root": str(root / "builder-root"),
                # The figures stay those of the bake before its scan steps (the scratch root has no package database).
                "bake_scan": False,
                "bake_key_dir": str(root / "keys"),
                "bake_sign_key": str(root / "build.pem"),
                "bake_copy_to_regions": list(regions),
                "bake_connect_timeout": 30,
            },
        }
    ]


def measure_bake(emu, seed, scenario, tasks):
    defaults = {GROUP: {"region": seed.region, "endpoint_url": emu.endpoint_url}}
    emu.reset_calls()
    started, used = time.monotonic(), cpu_seconds_of_children()
    run = run_playbook(tasks, env=emu.env(), module_defaults=defaults, timeout=600)
    elapsed, cpu = time.monotonic() - started, cpu_seconds_of_children() - used
    if run.rc != 0:
        raise SystemExit("scenario %r failed:\n%s" % (scenario, run.explain()))
    calls = dict(sorted(emu.calls.items()))
    statuses = Counter(record["status"] for record in run.tasks)
    return {
        "scenario": scenario,
        "seconds": round(elapsed, 2),
        "cpu_seconds": round(cpu, 2),
        "calls": sum(calls.values()),
        "by_operation": calls,
        "tasks": len(run.tasks),
        "tasks_by_status": dict(sorted(statuses.items())),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()

    rows = []
    with MotoEmulator() as emu, tempfile.TemporaryDirectory(prefix="bench-bake-") as scratch:
        emu.reset()
        seed = emu.seed()
        root = bake_dir(Path(scratch))
        rows.append(measure_bake(emu, seed, "bake, empty provisioning", bake(seed, root, "bench-golden-1")))
        rows.append(measure_bake(emu, seed, "re-run (no-op)", bake(seed, root, "bench-golden-1")))
        copies = bake(seed, root, "bench-golden-2", ["us-west-2", "eu-west-1"])
        rows.append(measure_bake(emu, seed, "bake, empty provisioning, copies to 2 regions", copies))

    baseline = dict(
        ISSUE_FIGURES, this_tree_before_change=BEFORE_CHANGE, this_tree_before_worker_runs=BEFORE_WORKER_RUNS
    )
    bake_row = rows[0]
    ratios = {
        "calls / goal %d" % GOAL_CALLS: round(bake_row["calls"] / GOAL_CALLS, 3),
        "cpu / goal %.1f (5 x Packer)" % GOAL_CPU_SECONDS: round(bake_row["cpu_seconds"] / GOAL_CPU_SECONDS, 3),
        "cpu / Packer": round(bake_row["cpu_seconds"] / PACKER_CPU_SECONDS, 3),
        "calls / Packer": round(bake_row["calls"] / ISSUE_FIGURES["packer_1.6.6"]["calls"], 3),
    }
    old = BEFORE_CHANGE[bake_row["scenario"]]
    ratios["calls / before"] = round(bake_row["calls"] / old["calls"], 3)
    ratios["cpu / before"] = round(bake_row["cpu_seconds"] / old["cpu_seconds"], 3)
    ratios["tasks / before"] = round(bake_row["tasks"] / old["tasks"], 3)
    ratios["cpu / before worker runs"] = round(
        bake_row["cpu_seconds"] / BEFORE_WORKER_RUNS[bake_row["scenario"]]["cpu_seconds"], 3
    )

    for row in rows:
        print(
            "%-48s %5d calls %7.2f s %7.2f CPU s %4d tasks"
            % (row["scenario"], row["calls"], row["seconds"], row["cpu_seconds"], row["tasks"])
        )
        for operation, count in row["by_operation"].items():
            print("    %5d  %s" % (count, operation))
    for key, value in ratios.items():
        print("ratio %-40s %s" % (key, value))
    write_results("bake", {"scenarios": rows, "baseline": baseline, "ratios": ratios})


if __name__ == "__main__":
    main()
