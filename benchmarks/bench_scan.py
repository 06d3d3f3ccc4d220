"""Benchmark: what scanning an image costs — seconds per 1,000 packages, cloud calls per attested image.

    make bench            (or: .venv/bin/python benchmarks/bench_scan.py [--packages N] [--advisories M])

Part one, no cloud: a synthetic Debian 12 root with N installed packages (dpkg status) and an OSV feed of M
advisories spread over the packages' source names; it times building the SBOM from the package database,
loading and indexing the feed, and matching, and reports each per 1,000 packages; and the re-scan of one
image as image_rescan does it (the stored SBOM's bytes checked against their digest, parsed, matched against
the feed loaded once for all images). Part two, on the embedded moto emulator: the cloud calls of attesting
one signed image with its SBOM and its scan (phoenix.immutable.image_attest), and of attesting it again
unchanged; then of re-scanning (phoenix.immutable.image_rescan) 1 and 3 images whose SBOMs are in an S3 store,
and the calls per image rescanned. Figures go to stdout and to benchmarks/results/scan.json. Nothing here
asserts a time.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from emulators.aws import AwsContext, MotoEmulator  # noqa: E402
from emulators.lifecycle import Keys, make_images  # noqa: E402
from harness import collections_root  # noqa: E402
from measure import measure, write_results  # noqa: E402

# The collection is importable through the harness's tree (ansible_collections/phoenix/immutable -> here).
sys.path.insert(0, str(collections_root()))

from ansible_collections.phoenix.immutable.plugins.module_utils import scan  # noqa: E402
from ansible_collections.phoenix.immutable.plugins.module_utils._core.canonical import (  # noqa: E402
    canonical_json,
    sha256_hex,
)
from ansible_collections.phoenix.immutable.plugins.module_utils._scan.sbom import parse_sbom_json  # noqa: E402

RESCANNED = 3

OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n'


def synthetic_root(folder, packages):
    """A root whose dpkg status lists ``packages`` installed packages, four binaries per source package."""
    root = Path(folder) / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/os-release").write_text(OS_RELEASE)
    (root / "var/lib/dpkg").mkdir(parents=True)
    stanzas = []
    for number in range(packages):
        source = "src%04d" % (number // 4)
        stanzas.append(
            "Package: pkg%05d\nStatus: install ok installed\nArchitecture: amd64\nSource: %s\n"
            "Version: 1:2.%d.%d-1~deb12u1\nDescription: synthetic package\n" % (number, source, number % 7, number % 5)
        )
    (root / "var/lib/dpkg/status").write_text("\n".join(stanzas))
    return str(root)


def synthetic_feed(folder, packages, advisories):
    """``advisories`` OSV records over the root's source names; about one in ten affects the installed version."""
    feed = Path(folder) / "osv"
    feed.mkdir()
    sources = max(1, packages // 4)
    for number in range(advisories):
        fixed = "1:2.%d.9-1" % (number % 7) if number % 10 == 0 else "1:2.0.0-1"
        record = {
            "schema_version": "1.6.0",
            "id": "PHX-BENCH-%05d" % number,
            "modified": "2026-11-20T08:00:00Z",
            "aliases": ["CVE-2026-%05d" % (20000 + number)],
            "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}],
            "affected": [
                {
                    "package": {"ecosystem": "Debian:12", "name": "src%04d" % (number % sources)},
                    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}],
                }
            ],
        }
        (feed / ("PHX-BENCH-%05d.json" % number)).write_text(json.dumps(record))
    return str(feed)


def timed(work):
    started = time.process_time()
    value = work()
    return value, time.process_time() - started


def offline_costs(folder, packages, advisories):
    root = synthetic_root(folder, packages)
    feed = synthetic_feed(folder, packages, advisories)
    document, sbom_seconds = timed(lambda: scan.image_sbom(root, "2026-12-01T00:00:00Z", use_syft=False))
    result, scan_seconds = timed(lambda: scan.scan_sbom(document, feed))
    stored = canonical_json(document)
    digest = sha256_hex(stored)
    scanner, load_seconds = timed(lambda: scan.feed_scanner(feed))

    def rescan_one():
        assert sha256_hex(stored) == digest
        return scanner(parse_sbom_json(stored))

    again, rescan_seconds = timed(rescan_one)
    assert len(again["findings"]) == len(result["findings"])
    per_thousand = 1000.0 / packages
    return (
        {
            "packages": packages,
            "advisories": advisories,
            "findings": len(result["findings"]),
            "sbom_cpu_seconds": round(sbom_seconds, 3),
            "scan_cpu_seconds": round(scan_seconds, 3),
            "sbom_seconds_per_1000_packages": round(sbom_seconds * per_thousand, 3),
            "scan_seconds_per_1000_packages": round(scan_seconds * per_thousand, 3),
            "rescan_feed_load_cpu_seconds": round(load_seconds, 3),
            "rescan_seconds_per_1000_packages": round(rescan_seconds * per_thousand, 3),
        },
        document,
        result,
        feed,
    )


def cloud_costs(document, result):
    rows = []
    with MotoEmulator() as emu, tempfile.TemporaryDirectory(prefix="bench-attest-") as folder:
        emu.reset()
        seed = emu.seed()
        keys = Keys(Path(folder))
        image_id = make_images(AwsContext(emu, seed), ["bench-scanned"], [0])["bench-scanned"]
        sign = {"name": "sign", "phoenix.immutable.image_sign": {"image_id": image_id, "key": keys.private("build")}}
        rows.append(measure(emu, seed, "sign the image", [sign]))
        attest = {
            "name": "attest",
            "phoenix.immutable.image_attest": {
                "image_id": image_id,
                "key": keys.private("build"),
                "sbom": document,
                "vuln_scan": result["predicate"],
            },
        }
        rows.append(measure(emu, seed, "attest SBOM + scan", [attest], reported_by="attest"))
        rows.append(measure(emu, seed, "attest again (no-op)", [attest], reported_by="attest"))
    return rows


def rescan_costs(folder, document, result, feed):
    """Calls of image_rescan on 1 and on RESCANNED images, each signed with its SBOM and scan in an S3 store."""
    rows = []
    sbom_path, scan_path = Path(folder) / "sbom.json", Path(folder) / "scan.json"
    sbom_path.write_text(json.dumps(document))  # paths, not documents, as task arguments (see docs/scanning.md)
    scan_path.write_text(json.dumps(result["predicate"]))
    with MotoEmulator() as emu:
        emu.reset()
        seed = emu.seed()
        keys = Keys(Path(folder))
        key = keys.private("build")
        names = ["bench-rescan-%d" % number for number in range(RESCANNED)]
        made = make_images(AwsContext(emu, seed), names, [0] * RESCANNED)
        emu.client("s3").create_bucket(Bucket="bench-attestations")
        store = {"container": "bench-attestations"}
        policy = Path(folder) / "rescan-policy.yml"
        policy.write_text(json.dumps({"keys": [{"name": "build", "public_key": keys.public("build")}]}))
        setup = [
            {"name": "sign", "phoenix.immutable.image_sign": {"image_id": image_id, "key": key}}
            for image_id in made.values()
        ] + [
            {
                "name": "attest",
                "phoenix.immutable.image_attest": {
                    "image_id": image_id,
                    "key": key,
                    "sbom": str(sbom_path),
                    "vuln_scan": str(scan_path),
                    "store": store,
                },
            }
            for image_id in made.values()
        ]
        measure(emu, seed, "setup", setup)

        def rescan(image_ids):
            return {
                "name": "rescan",
                "phoenix.immutable.image_rescan": {
                    "image_ids": image_ids,
                    "policy": str(policy),
                    "osv": feed,
                    "key": key,
                    "store": store,
                },
            }

        ids = list(made.values())
        one = measure(emu, seed, "rescan 1 image", [rescan(ids[:1])], reported_by="rescan")
        many = measure(emu, seed, "rescan %d images" % RESCANNED, [rescan(ids)], reported_by="rescan")
        rows += [one, many]
    per_image = (many["calls"] - one["calls"]) / float(RESCANNED - 1)
    return rows, round(per_image, 2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", type=int, default=1000)
    parser.add_argument("--advisories", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-scan-") as folder:
        offline, document, result, feed = offline_costs(folder, args.packages, args.advisories)
        print(
            "scan of %(packages)d packages against %(advisories)d advisories: %(findings)d findings; SBOM "
            "%(sbom_seconds_per_1000_packages).3f s, matching %(scan_seconds_per_1000_packages).3f s per 1,000 "
            "packages (CPU, feed loading included); re-scan %(rescan_seconds_per_1000_packages).3f s per 1,000 "
            "packages once the feed is loaded (%(rescan_feed_load_cpu_seconds).3f s, once per run)" % offline
        )
        rows = cloud_costs(document, result)
        rescans, per_image = rescan_costs(folder, document, result, feed)
    for row in rows + rescans:
        print("  %-24s %3d calls  %6.2f s  %s" % (row["scenario"], row["calls"], row["seconds"], row["by_operation"]))
    print("  re-scan: %.2f cloud calls per image rescanned" % per_image)
    write_results("scan", {"offline": offline, "cloud": rows, "rescan": rescans, "rescan_calls_per_image": per_image})


if __name__ == "__main__":
    main()
