"""Benchmark summary: the API calls of each scenario on AWS, GCP and Azure, side by side.

    make bench            (last of the benches, by name; or: .venv/bin/python benchmarks/bench_zz_clouds.py)

Measures nothing itself: it reads the results files the other benches wrote (benchmarks/results/swap.json,
swap_gcp.json, swap_azure.json, bake.json, bake_gcp.json, bake_azure.json, drift.json, drift_gcp.json,
drift_azure.json) and prints one table: per scenario (a swap all at once with verify, a canary swap, a no-op
swap, a bake with empty provisioning, its re-run, a drift scan) and group size, the calls counted at the AWS
emulator (moto), at the GCE emulator and at the ARM emulator. A file or a scenario not there reads "not
measured", so this runs after any subset of the benches. AWS calls are those of every AWS service the run used;
GCP calls are Compute (each operation's wait included), token, KMS and Cloud Storage calls; Azure calls are ARM
(each poll of a long-running operation included) and Entra ID token calls. Azure's canary of 2 instances runs
50/100 (10 and 50 of 2 are both one instance, which the core refuses on a pool without weights), so its row
"canary 10/50/100, 2 instances" reads "not measured" for Azure. Written to benchmarks/results/clouds.json too,
with when each file was written.
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import RESULTS, write_results  # noqa: E402

NOT_MEASURED = "not measured"
CLOUDS = ("aws", "gcp", "azure")
# The results file of each kind of bench, per cloud.
FILES = {kind: {"aws": kind, "gcp": kind + "_gcp", "azure": kind + "_azure"} for kind in ("swap", "bake", "drift")}
# (the rows' label, a pattern of the scenario names the benches write: its first group is the size)
SWAPS = [
    ("swap all at once with verify", r"all at once with verify, (\d+) instances"),
    ("swap canary 10/50/100", r"canary 10/50/100, (\d+) instances"),
    ("swap re-run (no-op)", r"re-run \(no-op\)(?:, (\d+) instances)?"),
]
# bench_swap.py's no-op re-runs the swap of its first service, of 2 instances, and says no size.
AWS_NOOP_SIZE = "2"
BAKES = [("bake, empty provisioning", "bake, empty provisioning"), ("bake re-run (no-op)", "re-run (no-op)")]
DRIFT = ("drift scan", r"report scan, (\d+) instances, \d+ images")


def read(name):
    """The scenarios of results file ``name`` ({scenario: row}) and when it was written; ({}, None) if absent."""
    path = RESULTS / ("%s.json" % name)
    try:
        figures = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}, None
    written = datetime.datetime.fromtimestamp(path.stat().st_mtime, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {row["scenario"]: row for row in figures.get("scenarios", [])}, written


def by_size(rows, pattern, default_size=None):
    """{size: row} of the rows whose scenario matches ``pattern`` (its group is the size)."""
    found = {}
    for scenario, row in rows.items():
        match = re.fullmatch(pattern, scenario)
        if match:
            found[match.group(1) or default_size] = row
    found.pop(None, None)
    return found


def compared(label, aws, gcp, azure=None):
    """A row: each cloud's calls ("not measured" where it has none) and GCP's and Azure's per AWS's."""
    measured = {"aws": aws, "gcp": gcp, "azure": azure}
    row = {"scenario": label}
    for cloud in CLOUDS:
        row["%s_calls" % cloud] = measured[cloud]["calls"] if measured[cloud] else NOT_MEASURED
    for cloud in ("gcp", "azure"):
        if aws and measured[cloud] and aws["calls"]:
            row["%s_per_aws" % cloud] = round(measured[cloud]["calls"] / aws["calls"], 3)
    for cloud in CLOUDS:
        if measured[cloud] and "instances" in measured[cloud]:
            row["%s_instances" % cloud] = measured[cloud]["instances"]
    return row


def sized_rows(label, aws, gcp, azure, unit="instances"):
    """A row per group size any cloud measured; one row "not measured" when none did."""
    sizes = sorted(set(aws) | set(gcp) | set(azure), key=int)
    if not sizes:
        return [compared(label, None, None, None)]
    return [
        compared("%s, %s %s" % (label, size, unit), aws.get(size), gcp.get(size), azure.get(size)) for size in sizes
    ]


def table(results):
    """The rows of ``results`` ({results file name: {scenario: row}}; a file not given reads as empty)."""

    def of(kind, cloud):
        return results.get(FILES[kind][cloud]) or {}

    rows = []
    for label, pattern in SWAPS:
        aws = by_size(of("swap", "aws"), pattern, AWS_NOOP_SIZE)
        gcp, azure = (by_size(of("swap", cloud), pattern) for cloud in ("gcp", "azure"))
        rows.extend(sized_rows(label, aws, gcp, azure))
    for label, scenario in BAKES:
        rows.append(compared(label, *(of("bake", cloud).get(scenario) for cloud in CLOUDS)))
    label, pattern = DRIFT
    # Each fleet holds the hand-launched instances of bench_drift's --images too (the rows' *_instances).
    rows.extend(sized_rows(label, *(by_size(of("drift", cloud), pattern) for cloud in CLOUDS), unit="group instances"))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()

    results, written = {}, {}
    for name in (FILES[kind][cloud] for kind in FILES for cloud in CLOUDS):
        results[name], written[name] = read(name)
    rows = table(results)

    print("%-52s %14s %14s %14s %9s %9s" % ("API calls per scenario", "AWS", "GCP", "Azure", "GCP/AWS", "Azure/AWS"))
    for row in rows:
        ratios = ["%.2f" % row[key] if key in row else "" for key in ("gcp_per_aws", "azure_per_aws")]
        calls = [row["%s_calls" % cloud] for cloud in CLOUDS]
        print("%-52s %14s %14s %14s %9s %9s" % (row["scenario"], *calls, *ratios))
    for name, when in written.items():
        print("    %-16s %s" % (name + ".json", when or NOT_MEASURED))
    sources = {name + ".json": when or NOT_MEASURED for name, when in written.items()}
    write_results("clouds", {"scenarios": rows, "sources": sources})


if __name__ == "__main__":
    main()
