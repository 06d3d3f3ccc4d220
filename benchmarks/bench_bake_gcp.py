"""Benchmark: what a GCP bake with empty provisioning costs in API calls, seconds, CPU seconds and tasks.

    make bench            (or: .venv/bin/python benchmarks/bench_bake_gcp.py)

The bake role runs with ``bake_cloud: gcp`` as tests/integration/gcp/test_gcp_bake.py runs it against the GCE
emulator: the builder is reached with the local connection and its filesystem is a scratch directory
(``bake_builder_root``), because an emulated instance runs nothing. No roles, no provisioning tasks, no test
tasks: what is left is the bake's own cost, to set beside bench_bake.py's AWS figures. Scenarios: that bake and
a re-run of it (a no-op). A GCP bake copies to no other region (images are global), so there is no copy
scenario.

What is counted (at the emulator, measure_gcp.py): every Compute call (each operation's wait included), the
token grants, and any Cloud KMS and Cloud Storage call. The image is signed with a local P-256 key, so no KMS
call is expected. CPU seconds are those of the whole ansible-playbook run (its workers and the modules they
ran); tasks are the task results ansible-playbook reported (skipped ones included). Figures go to stdout and
to benchmarks/results/bake_gcp.json. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

# The emulators and the test harness live in tests/; measure.py beside this file.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from emulators.gce import GceEmulator  # noqa: E402
from measure import bake_dir, write_results  # noqa: E402
from measure_gcp import GcpBench  # noqa: E402

NAME = "bench-golden-1"


def bake(seed, root):
    return [
        {
            "name": "bake",
            "ansible.builtin.include_role": {"name": "phoenix.immutable.bake"},
            "vars": {
                "bake_cloud": "gcp",
                "bake_name": NAME,
                "bake_base_image_id": "projects/%s/global/images/%s" % (seed.project, seed.base_image_name),
                # Empty: the GCP builder's own machine type; the login user of the seeded Debian image.
                "bake_instance_type": "",
                "bake_connection_user": "debian",
                "bake_builder_connection": "local",
                "bake_builder_root": str(root / "builder-root"),
                # The figures stay those of the bake before its scan steps (the scratch root has no package database).
                "bake_scan": False,
                "bake_key_dir": str(root / "keys"),
                "bake_sign_key": str(root / "build.pem"),
                "bake_connect_timeout": 30,
                "bake_wait_timeout": 600,
            },
        }
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()

    rows = []
    with GceEmulator() as emu, tempfile.TemporaryDirectory(prefix="bench-bake-gcp-") as scratch:
        bench = GcpBench(emu, scratch)
        seed, _setup = bench.fresh()
        root = bake_dir(Path(scratch))
        # The zone from module_defaults, as the role's users give it, not from the environment.
        env = bench.env(GCP_ZONE=None)
        defaults = {"project": seed.project, "zone": seed.zone}
        for scenario in ("bake, empty provisioning", "re-run (no-op)"):
            rows.append(bench.measure(scenario, bake(seed, root), module_defaults=defaults, env=env))

    for row in rows:
        print(
            "%-48s %5d calls %7.2f s %7.2f CPU s %4d tasks"
            % (row["scenario"], row["calls"], row["seconds"], row["cpu_seconds"], row["tasks"])
        )
        for call, count in row["by_call"].items():
            print("    %5d  %s" % (count, call))
    write_results("bake_gcp", {"scenarios": rows})


if __name__ == "__main__":
    main()
