"""Benchmark: the CPU seconds and peak memory of the module process itself (not ansible-playbook's).

    make bench            (or: .venv/bin/python benchmarks/bench_module_cost.py [--sizes 10 100])

Each run's ``ansible_python_interpreter`` is benchmarks/measured_python.py, which runs the real interpreter
as its child and records the child's CPU (user + system) and peak resident memory (ru_maxrss): exactly the
module's process, from the interpreter's start to its exit. Scenarios: an all-at-once blue_green swap
with verify (a signed image, a trust policy) of a group of each ``--sizes``, a no-op re-run, the same swap
without verify, and for comparison image_sign, image (a no-op re-run of a create) and fleet_drift.
ansible-playbook's whole-run CPU is reported next to it. Figures go to stdout and to
benchmarks/results/module_cost.json, with ratios against issue 13's goals (module CPU <= 4 s, peak memory
<= 100 MB with verify). Nothing here asserts a time.

By default a module on the controller runs inside Ansible's worker (plugins/plugin_utils/module_action.py), where
there is no module process to measure. The in-worker figures are of the whole playbook instead: its process tree
run as a child of measured_python.py (its CPU, and the peak of its largest process, a worker or
ansible-playbook), next to the same playbook with one ``ansible.builtin.debug`` task; the difference is what the
module adds.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from emulators.aws import MotoEmulator  # noqa: E402
from emulators.fleet import seed_service  # noqa: E402
from harness import run_playbook  # noqa: E402
from measure import GROUP, cpu_seconds_of_children, write_results  # noqa: E402
from measured_python import COST_FILE_ENV  # noqa: E402

WRAPPER = HERE / "measured_python.py"
GOAL_CPU_SECONDS = 4.0
GOAL_MAX_RSS_MB = 100.0
# Issue 13's figure for the swap module, measured before this benchmark existed (CPU seconds of a swap).
ISSUE_SWAP_CPU_SECONDS = 7.5
# This benchmark on the tree before the import cuts (commit e31a78d), on the same 2-core machine:
# scenario -> (module CPU seconds, module peak MB, ansible-playbook CPU seconds).
BASELINE_TREE = "e31a78d"
BASELINE = {
    "image_sign (Ed25519 key file)": (1.09, 93.3, 2.43),
    "blue_green all at once + verify, 10 instances": (1.42, 128.4, 2.43),
    "blue_green re-run (no-op) + verify, 10": (1.24, 94.9, 2.33),
    "blue_green all at once, no verify, 10 instances": (1.05, 89.2, 2.02),
    "fleet_drift report, 10 instances": (0.91, 92.5, 1.97),
    "image re-run (no-op)": (0.77, 84.3, 1.76),
    "blue_green all at once + verify, 100 instances": (1.94, 128.3, 3.14),
    "blue_green re-run (no-op) + verify, 100": (1.46, 94.4, 2.55),
    "blue_green all at once, no verify, 100 instances": (1.29, 89.8, 2.51),
}


def interpreter(folder):
    """The ``ansible_python_interpreter`` that measures each module: an executable in ``folder`` that runs
    this Python on the wrapper (Ansible takes the interpreter as one path, so it cannot carry arguments)."""
    path = Path(folder) / "python"
    path.write_text('#!/bin/sh\nexec "%s" "%s" "$@"\n' % (sys.executable, WRAPPER), encoding="utf-8")
    path.chmod(0o755)
    return str(path)


def read_costs(path):
    """The records measured_python.py appended to ``path``, in order (none if it was never written)."""
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def run_measured(emu, seed, name, tasks, module):
    """One scenario: ansible-playbook's whole-run CPU and the CPU and peak memory of the ``module``
    process (the one run of that module in ``tasks``)."""
    defaults = {GROUP: {"region": seed.region, "endpoint_url": emu.endpoint_url}}
    with tempfile.TemporaryDirectory(prefix="module-cost-") as folder:
        costs = Path(folder) / "costs.jsonl"
        env = dict(emu.env(), **{COST_FILE_ENV: str(costs)})
        started, used = time.monotonic(), cpu_seconds_of_children()
        run = run_playbook(
            tasks,
            env=env,
            module_defaults=defaults,
            extra_vars={"ansible_python_interpreter": interpreter(folder)},
        )
        elapsed, cpu = time.monotonic() - started, cpu_seconds_of_children() - used
        if run.rc != 0:
            raise SystemExit("scenario %r failed:\n%s" % (name, run.explain()))
        records = [record for record in read_costs(costs) if record["module"] == module]
    if len(records) != 1:
        raise SystemExit("scenario %r: expected one measured run of %s, got %r" % (name, module, records))
    [record] = records
    return {
        "scenario": name,
        "module": module,
        "module_cpu_seconds": record["cpu_seconds"],
        "module_user_seconds": record["user_seconds"],
        "module_system_seconds": record["system_seconds"],
        "module_max_rss_mb": record["max_rss_mb"],
        "playbook_cpu_seconds": round(cpu, 2),
        "seconds": round(elapsed, 2),
        "cpu_vs_goal": round(record["cpu_seconds"] / GOAL_CPU_SECONDS, 3),
        "rss_vs_goal": round(record["max_rss_mb"] / GOAL_MAX_RSS_MB, 3),
    }


# The child of measured_python.py that runs one playbook: ``argv[1]`` is a JSON file of run_playbook's arguments.
PLAYBOOK_RUNNER = (
    "import json, sys; sys.path.insert(0, %r); from harness import run_playbook; "
    "spec = json.load(open(sys.argv[1])); "
    "run = run_playbook(spec['tasks'], env=spec['env'], module_defaults=spec['module_defaults']); "
    "sys.exit(run.rc)" % str(HERE.parent / "tests")
)
IN_WORKER_BASELINE = [{"name": "baseline", "ansible.builtin.debug": {"msg": "nothing"}}]


def run_playbook_measured(emu, seed, name, tasks):
    """CPU seconds of the playbook's whole process tree and the peak MB of its largest process."""
    defaults = {GROUP: {"region": seed.region, "endpoint_url": emu.endpoint_url}}
    with tempfile.TemporaryDirectory(prefix="module-cost-") as folder:
        costs, spec = Path(folder) / "costs.jsonl", Path(folder) / "spec.json"
        spec.write_text(json.dumps({"tasks": tasks, "env": emu.env(), "module_defaults": defaults}), encoding="utf-8")
        env = dict(emu.env(), **{COST_FILE_ENV: str(costs)})
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, str(WRAPPER), "-c", PLAYBOOK_RUNNER, str(spec)], env=env, check=False, timeout=1800
        )
        elapsed = time.monotonic() - started
        if done.returncode != 0:
            raise SystemExit("scenario %r failed (exit %d)" % (name, done.returncode))
        [record] = read_costs(costs)
    return {
        "scenario": name,
        "cpu_seconds": record["cpu_seconds"],
        "max_rss_mb": record["max_rss_mb"],
        "seconds": round(elapsed, 2),
    }


def in_worker_row(emu, seed, name, tasks, baseline):
    """One in-worker scenario with what it adds to the baseline playbook."""
    row = run_playbook_measured(emu, seed, name, tasks)
    row["module_cpu_seconds"] = round(row["cpu_seconds"] - baseline["cpu_seconds"], 2)
    row["module_added_rss_mb"] = round(row["max_rss_mb"] - baseline["max_rss_mb"], 1)
    row["cpu_vs_goal"] = round(row["module_cpu_seconds"] / GOAL_CPU_SECONDS, 3)
    row["largest_process_rss_vs_goal"] = round(row["max_rss_mb"] / GOAL_MAX_RSS_MB, 3)
    return row


def trust_material(folder):
    """(private key path, trust policy path): an Ed25519 key and a policy trusting it."""
    key = ed25519.Ed25519PrivateKey.generate()
    private = Path(folder) / "release.pem"
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    public = Path(folder) / "release.pub"
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    policy = Path(folder) / "policy.yml"
    policy.write_text(yaml.safe_dump({"keys": [{"name": "release", "public_key": str(public)}]}), encoding="utf-8")
    return str(private), str(policy)


def swap_task(service, image_id, **options):
    args = {
        "service": service.service,
        "listener_arn": service.listener_arn,
        "launch_template": service.launch_template_name,
        "image_id": image_id,
        "step_seconds": 0,
        "keep_blue_seconds": 0,
        "health": {"interval": 0.2},
    }
    args.update(options)
    return [{"name": "swap", "phoenix.immutable.blue_green": args}]


def new_image(emu, seed, name):
    return emu.client("ec2", seed.region).create_image(InstanceId=seed.builder_instance_id, Name=name)["ImageId"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100], help="instances in the swapped group")
    args = parser.parse_args()

    rows, in_worker = [], []
    with tempfile.TemporaryDirectory(prefix="module-cost-keys-") as folder, MotoEmulator() as emu:
        private, policy = trust_material(folder)
        for size in args.sizes:
            emu.reset()
            seed = emu.seed()
            service = seed_service(emu.client, seed.base_image_id, seed.subnet_ids, seed.vpc_id, size=size)
            signed = new_image(emu, seed, "bench-signed-%d" % size)
            sign = [{"name": "sign", "phoenix.immutable.image_sign": {"image_id": signed, "key": private}}]
            if size == args.sizes[0]:
                rows.append(run_measured(emu, seed, "image_sign (Ed25519 key file)", sign, "image_sign"))
            else:
                run_measured(emu, seed, "sign", sign, "image_sign")
            verified = swap_task(service, signed, verify=policy)
            rows.append(
                run_measured(emu, seed, "blue_green all at once + verify, %d instances" % size, verified, "blue_green")
            )
            rows.append(
                run_measured(emu, seed, "blue_green re-run (no-op) + verify, %d" % size, verified, "blue_green")
            )
            plain = swap_task(service, new_image(emu, seed, "bench-plain-%d" % size))
            rows.append(
                run_measured(emu, seed, "blue_green all at once, no verify, %d instances" % size, plain, "blue_green")
            )
            if size == args.sizes[0]:
                baseline = run_playbook_measured(
                    emu, seed, "one ansible.builtin.debug task (baseline)", IN_WORKER_BASELINE
                )
                in_worker.append(baseline)
            signed = new_image(emu, seed, "bench-in-worker-%d" % size)
            run_measured(
                emu,
                seed,
                "sign",
                [{"name": "sign", "phoenix.immutable.image_sign": {"image_id": signed, "key": private}}],
                "image_sign",
            )
            verified = swap_task(service, signed, verify=policy)
            for title in ("blue_green all at once + verify, %d instances", "blue_green re-run (no-op) + verify, %d"):
                in_worker.append(in_worker_row(emu, seed, title % size + " (in worker)", verified, baseline))
            if size == args.sizes[0]:
                drift = [{"name": "drift", "phoenix.immutable.fleet_drift": {"service": service.service}}]
                rows.append(run_measured(emu, seed, "fleet_drift report, %d instances" % size, drift, "fleet_drift"))
                create = [
                    {
                        "name": "create",
                        "phoenix.immutable.image": {"name": "bench-golden", "instance_id": seed.builder_instance_id},
                    }
                ]
                run_measured(emu, seed, "image create", create, "image")
                rows.append(run_measured(emu, seed, "image re-run (no-op)", create, "image"))

    print("%-52s %9s %9s %12s   %s" % ("scenario", "module s", "peak MB", "playbook s", "before: s / MB"))
    for row in rows:
        before = BASELINE.get(row["scenario"])
        print(
            "%-52s %9.2f %9.1f %12.2f   %s"
            % (
                row["scenario"],
                row["module_cpu_seconds"],
                row["module_max_rss_mb"],
                row["playbook_cpu_seconds"],
                "%.2f / %.1f" % before[:2] if before else "-",
            )
        )
    print("%-60s %9s %9s %12s %12s" % ("in Ansible's worker", "module s", "added MB", "playbook s", "largest MB"))
    for row in in_worker:
        print(
            "%-60s %9s %9s %12.2f %12.1f"
            % (
                row["scenario"],
                "%.2f" % row["module_cpu_seconds"] if "module_cpu_seconds" in row else "-",
                "%.1f" % row["module_added_rss_mb"] if "module_added_rss_mb" in row else "-",
                row["cpu_seconds"],
                row["max_rss_mb"],
            )
        )
    results = figures(rows)
    results["in_worker"] = in_worker
    swaps = [row for row in in_worker if "+ verify" in row["scenario"] and "module_cpu_seconds" in row]
    if swaps:
        results["ratios"]["worst swap with verify in worker, module cpu / 4 s"] = max(
            row["cpu_vs_goal"] for row in swaps
        )
        results["ratios"]["worst swap with verify in worker, added memory / 100 MB"] = round(
            max(row["module_added_rss_mb"] for row in swaps) / GOAL_MAX_RSS_MB, 3
        )
    write_results("module_cost", results)


def figures(rows):
    """The results: goals, the baseline (issue 13's figure and this benchmark before the cuts), this run,
    and for each scenario its ratios against the goals and against the baseline."""
    for row in rows:
        before = BASELINE.get(row["scenario"])
        if before:
            row["cpu_vs_baseline"] = round(row["module_cpu_seconds"] / before[0], 3)
            row["rss_vs_baseline"] = round(row["module_max_rss_mb"] / before[1], 3)
    swaps = [row for row in rows if row["module"] == "blue_green" and "+ verify" in row["scenario"]]
    return {
        "goals": {"module_cpu_seconds": GOAL_CPU_SECONDS, "module_max_rss_mb": GOAL_MAX_RSS_MB},
        "baseline": {
            "issue_13_swap_cpu_seconds": ISSUE_SWAP_CPU_SECONDS,
            "tree": BASELINE_TREE,
            "scenarios": [
                {"scenario": name, "module_cpu_seconds": cpu, "module_max_rss_mb": rss, "playbook_cpu_seconds": whole}
                for name, (cpu, rss, whole) in BASELINE.items()
            ],
        },
        "scenarios": rows,
        "ratios": {
            "worst swap with verify, module cpu / 4 s": max(row["cpu_vs_goal"] for row in swaps),
            "worst swap with verify, module peak memory / 100 MB": max(row["rss_vs_goal"] for row in swaps),
            "worst swap with verify, module cpu / issue 13's 7.5 s": round(
                max(row["module_cpu_seconds"] for row in swaps) / ISSUE_SWAP_CPU_SECONDS, 3
            ),
        },
    }


if __name__ == "__main__":
    main()
