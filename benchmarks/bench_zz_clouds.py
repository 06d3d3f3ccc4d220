"""Benchmark summary: the API calls of each scenario on AWS and on GCP, side by side.

    make bench            (last of the benches, by name; or: .venv/bin/python benchmarks/bench_zz_clouds.py)

Measures nothing itself: it reads the results files the other benches wrote (benchmarks/results/swap.json,
swap_gcp.json, bake.json, bake_gcp.json, drift.json, drift_gcp.json) and prints one table: per scenario (a swap
all at once with verify, a canary swap, a no-op swap, a bake with empty provisioning, its re-run, a drift scan)
and group size, the calls counted at the AWS emulator (moto) and at the GCE emulator. A file or a scenario
not there reads "not measured", so this runs after any subset of the benches. AWS calls are those of every AWS
service the run used; GCP calls are Compute (each operation's wait included), token, KMS and Cloud Storage
calls. Written to benchmarks/results/clouds.json too, with when each file was written.
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
# (the rows' label, a pattern of the scenario names both benches write: its first group is the size)
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


def compared(label, aws, gcp):
    aws_calls = aws["calls"] if aws else NOT_MEASURED
    gcp_calls = gcp["calls"] if gcp else NOT_MEASURED
    row = {"scenario": label, "aws_calls": aws_calls, "gcp_calls": gcp_calls}
    if aws and gcp and aws["calls"]:
        row["gcp_per_aws"] = round(gcp["calls"] / aws["calls"], 3)
    for cloud, measured in (("aws", aws), ("gcp", gcp)):
        if measured and "instances" in measured:
            row["%s_instances" % cloud] = measured["instances"]
    return row


def sized_rows(label, aws, gcp, unit="instances"):
    """A row per group size either cloud measured; one row "not measured" when neither did."""
    sizes = sorted(set(aws) | set(gcp), key=int)
    if not sizes:
        return [compared(label, None, None)]
    return [compared("%s, %s %s" % (label, size, unit), aws.get(size), gcp.get(size)) for size in sizes]


def table(results):
    rows = []
    for label, pattern in SWAPS:
        aws = by_size(results["swap"], pattern, AWS_NOOP_SIZE)
        gcp = by_size(results["swap_gcp"], pattern)
        rows.extend(sized_rows(label, aws, gcp))
    for label, scenario in BAKES:
        rows.append(compared(label, results["bake"].get(scenario), results["bake_gcp"].get(scenario)))
    label, pattern = DRIFT
    aws, gcp = by_size(results["drift"], pattern), by_size(results["drift_gcp"], pattern)
    # Each fleet holds the hand-launched instances of bench_drift's --images too (the rows' *_instances).
    rows.extend(sized_rows(label, aws, gcp, unit="group instances"))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()

    results, written = {}, {}
    for name in ("swap", "swap_gcp", "bake", "bake_gcp", "drift", "drift_gcp"):
        results[name], written[name] = read(name)
    rows = table(results)

    print("%-52s %14s %14s %9s" % ("API calls per scenario", "AWS", "GCP", "GCP/AWS"))
    for row in rows:
        ratio = "%.2f" % row["gcp_per_aws"] if "gcp_per_aws" in row else ""
        print("%-52s %14s %14s %9s" % (row["scenario"], row["aws_calls"], row["gcp_calls"], ratio))
    for name, when in written.items():
        print("    %-14s %s" % (name + ".json", when or NOT_MEASURED))
    sources = {name + ".json": when or NOT_MEASURED for name, when in written.items()}
    write_results("clouds", {"scenarios": rows, "sources": sources})


if __name__ == "__main__":
    main()
