"""benchmarks/measured_python.py, the interpreter bench_module_cost runs each module with: it runs the
script as its child with the same arguments and input, passes on its exit code, and records the child's
CPU and peak memory (the figures themselves are the benchmark's; only that they are recorded is checked)."""

import json
import os
import subprocess
import sys
from pathlib import Path

WRAPPER = Path(__file__).resolve().parents[2] / "benchmarks" / "measured_python.py"


def test_the_wrapper_runs_the_script_and_records_its_cost(tmp_path):
    script = tmp_path / "AnsiballZ_blue_green.py"
    script.write_text(
        "import sys\nblock = bytearray(40 * 1024 * 1024)\nprint(sys.argv[1:], sys.stdin.read())\nsys.exit(3)\n",
        encoding="utf-8",
    )
    costs = tmp_path / "costs.jsonl"
    env = dict(os.environ, PHOENIX_MODULE_COST_FILE=str(costs))
    run = subprocess.run(
        [sys.executable, str(WRAPPER), str(script), "one"],
        input="from stdin",
        env=env,
        capture_output=True,
        check=False,
        text=True,
        timeout=120,
    )
    assert run.returncode == 3
    assert run.stdout == "['one'] from stdin\n"
    [record] = [json.loads(line) for line in costs.read_text(encoding="utf-8").splitlines()]
    assert record["module"] == "blue_green"
    assert record["exit_code"] == 3
    assert record["max_rss_mb"] >= 40  # the child's own peak, with the block it allocated
    assert abs(record["cpu_seconds"] - record["user_seconds"] - record["system_seconds"]) < 0.001


def test_without_the_variable_nothing_is_written(tmp_path):
    script = tmp_path / "noop.py"
    script.write_text("pass\n", encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if key != "PHOENIX_MODULE_COST_FILE"}
    run = subprocess.run([sys.executable, str(WRAPPER), str(script)], env=env, cwd=tmp_path, timeout=120, check=False)
    assert run.returncode == 0
    assert sorted(path.name for path in tmp_path.iterdir()) == ["noop.py"]
