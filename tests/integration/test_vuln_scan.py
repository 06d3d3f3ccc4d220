"""The vuln_scan module through real ansible-playbook runs: an SBOM of the fixture root filesystem
matched against the fixture OSV feed, Trivy and Grype reports read, check mode, and refusals of what
it cannot read. No cloud: the module runs on localhost, reading files only."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from harness import run_playbook

from ansible_collections.phoenix.immutable.plugins.module_utils import scan

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MODULE = "phoenix.immutable.vuln_scan"


def task(title, **options):
    return {"name": title, MODULE: options, "ignore_errors": True}


@pytest.fixture
def sbom_file(tmp_path):
    document = scan.image_sbom(str(FIXTURES / "rootfs" / "debian-12"), "2026-12-01T10:00:00Z", use_syft=False)
    path = tmp_path / "sbom.cdx.json"
    path.write_text(scan.dumps(document))
    return path, document


def test_vuln_scan_matches_an_sbom_and_reads_reports(tmp_path, sbom_file):
    path, document = sbom_file
    feed = tmp_path / "feed"
    shutil.copytree(FIXTURES / "osv", feed)
    run = run_playbook(
        [
            task("from a file", sbom=str(path), osv=str(feed)),
            task("from a mapping", sbom=document, osv=str(feed / "PHX-2026-0001.json")),
            task("trivy", report=str(FIXTURES / "reports" / "trivy.json"), report_format="trivy", sbom=str(path)),
            task("grype", report=str(FIXTURES / "reports" / "grype.json"), report_format="grype"),
            task("to a file", sbom=str(path), osv=str(feed), dest=str(tmp_path / "out" / "vuln.json")),
        ],
        check=True,
    )
    assert run.rc == 0, run.explain()
    matched = run.task("from a file")
    assert matched["status"] == "ok" and matched["result"]["changed"] is False
    result = matched["result"]
    assert [(item["id"], item["package"]) for item in result["findings"]] == [
        ("PHX-2026-0001", "libssl3"),
        ("PHX-2026-0001", "openssl"),
        ("PHX-2026-0005", "libc6"),
        ("PHX-2026-0003", "zlib1g"),
    ]
    assert result["counts"] == {"critical": 2, "high": 1, "medium": 0, "low": 1, "unknown": 0}
    assert result["findings"][0]["aliases"] == ["CVE-2026-10001"] and result["components"] == 9
    assert result["database"]["records"] == 7 and result["database"]["withdrawn"] == 1
    assert result["database"]["version"].startswith("sha256:") and result["api_calls"] == {}
    predicate = result["predicate"]
    assert predicate["scanner"]["result"]["sbom"]["digest"]["sha256"] == result["sbom_digest"]
    assert predicate["scanner"]["result"]["findings"] == result["findings"]
    assert predicate["metadata"]["scanStartedOn"] <= predicate["metadata"]["scanFinishedOn"]

    one = run.task("from a mapping")["result"]
    assert [item["package"] for item in one["findings"]] == ["libssl3", "openssl"]
    assert one["sbom_digest"] == result["sbom_digest"]  # the same SBOM, given as a mapping

    trivy = run.task("trivy")["result"]
    assert trivy["scanner"] == "pkg:github/aquasecurity/trivy" and trivy["counts"]["critical"] == 1
    assert trivy["sbom_digest"] == result["sbom_digest"]
    # dest: the predicate goes to a file (not in check mode, as here), the findings stay out of the result.
    to_file = run.task("to a file")["result"]
    assert to_file["changed"] is True and to_file["dest"] == str(tmp_path / "out" / "vuln.json")
    assert "findings" not in to_file and "predicate" not in to_file and not (tmp_path / "out").exists()
    assert to_file["counts"] == result["counts"] and to_file["worst"] == result["worst"] == "critical"
    grype = run.task("grype")["result"]
    assert [item["id"] for item in grype["findings"]][0] == "CVE-2026-10001" and grype["sbom_digest"] is None


def test_vuln_scan_refuses_what_it_cannot_read(tmp_path, sbom_file):
    path, document = sbom_file
    (tmp_path / "not-a-bom.json").write_text(json.dumps({"hello": "world"}))
    run = run_playbook(
        [
            task("no source", sbom=str(path)),
            task("both sources", sbom=str(path), osv=str(FIXTURES / "osv"), report="r.json", report_format="trivy"),
            task("osv without sbom", osv=str(FIXTURES / "osv")),
            task("not an sbom", sbom=str(tmp_path / "not-a-bom.json"), osv=str(FIXTURES / "osv")),
            task("missing feed", sbom=str(path), osv=str(tmp_path / "missing")),
            task("bad report", report=str(tmp_path / "not-a-bom.json"), report_format="grype"),
        ]
    )
    failures = {name: run.task(name)["result"] for name in run.task_names()}
    assert all(run.task(name)["status"] == "failed" for name in failures), run.explain()
    assert "one of the following is required: osv, report" in failures["no source"]["msg"]
    assert "mutually exclusive" in failures["both sources"]["msg"]
    assert "sbom" in failures["osv without sbom"]["msg"]
    assert failures["not an sbom"]["error"]["code"] == "InvalidSbom"
    assert failures["missing feed"]["error"]["code"] == "InvalidAdvisoryFeed"
    assert failures["bad report"]["error"]["code"] == "InvalidScanReport"
