"""benchmarks/bench_zz_clouds.py's table of AWS, GCP and Azure calls side by side: a results file that is missing
reads "not measured" instead of failing, and a scenario both clouds measured carries their ratio."""

import importlib.util
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def clouds_table():
    # A script, not a package: loaded from its file (it puts benchmarks/ on sys.path for its measure import).
    spec = importlib.util.spec_from_file_location("bench_zz_clouds", BENCHMARKS / "bench_zz_clouds.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_missing_results_read_not_measured_and_measured_ones_are_compared():
    clouds = clouds_table()
    bake = {"scenario": "bake, empty provisioning", "calls": 22}
    results = {name: {} for name in ("swap", "swap_gcp", "bake", "bake_gcp", "drift", "drift_gcp")}
    results["bake"] = {bake["scenario"]: bake}
    results["bake_gcp"] = {bake["scenario"]: dict(bake, calls=33)}

    rows = {row["scenario"]: row for row in clouds.table(results)}

    assert rows["bake, empty provisioning"] == {
        "scenario": "bake, empty provisioning",
        "aws_calls": 22,
        "gcp_calls": 33,
        "azure_calls": "not measured",
        "gcp_per_aws": 1.5,
    }
    assert rows["bake re-run (no-op)"]["aws_calls"] == clouds.NOT_MEASURED
    assert rows["drift scan"] == {
        "scenario": "drift scan",
        "aws_calls": "not measured",
        "gcp_calls": "not measured",
        "azure_calls": "not measured",
    }


def test_an_absent_or_unreadable_results_file_reads_as_nothing_measured(tmp_path, monkeypatch):
    clouds = clouds_table()
    monkeypatch.setattr(clouds, "RESULTS", tmp_path)
    (tmp_path / "swap.json").write_text("{not json", encoding="utf-8")

    assert clouds.read("swap") == ({}, None)
    assert clouds.read("bake") == ({}, None)


def test_azure_is_a_third_column_compared_with_aws_per_size():
    clouds = clouds_table()
    swap = "all at once with verify, %d instances"
    drift = "report scan, %d instances, 21 images"
    results = {
        "swap": {swap % 2: {"scenario": swap % 2, "calls": 20}},
        "swap_azure": {
            name: {"scenario": name, "calls": calls}
            for name, calls in ((swap % 2, 70), (swap % 10, 90), ("canary 50/100, 2 instances", 86))
        },
        "bake_azure": {"re-run (no-op)": {"scenario": "re-run (no-op)", "calls": 5}},
        "drift_azure": {drift % 100: {"scenario": drift % 100, "calls": 12, "instances": 120}},
    }

    rows = {row["scenario"]: row for row in clouds.table(results)}

    assert rows["swap all at once with verify, 2 instances"] == {
        "scenario": "swap all at once with verify, 2 instances",
        "aws_calls": 20,
        "gcp_calls": "not measured",
        "azure_calls": 70,
        "azure_per_aws": 3.5,
    }
    assert rows["swap all at once with verify, 10 instances"]["azure_calls"] == 90
    assert "azure_per_aws" not in rows["swap all at once with verify, 10 instances"]
    # Azure's canary of 2 runs other steps: not this row's scenario.
    assert rows["swap canary 10/50/100"]["azure_calls"] == "not measured"
    assert rows["bake re-run (no-op)"]["azure_calls"] == 5
    assert rows["drift scan, 100 group instances"]["azure_instances"] == 120
