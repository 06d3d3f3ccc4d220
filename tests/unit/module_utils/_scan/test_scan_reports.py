"""Trivy and Grype JSON reports read into the matcher's findings (fixtures in tests/fixtures/reports)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import PhoenixError
from ansible_collections.phoenix.immutable.plugins.module_utils._scan import reports

REPORTS = Path(__file__).resolve().parents[3] / "fixtures" / "reports"
FINDING_KEYS = {
    "id",
    "aliases",
    "package",
    "purl",
    "installed_version",
    "fixed_version",
    "severity",
    "score",
    "summary",
}


def test_trivy_report():
    findings, scanner = reports.read_report(REPORTS / "trivy.json", "trivy")
    assert [(item["id"], item["package"], item["severity"], item["fixed_version"]) for item in findings] == [
        ("CVE-2026-10001", "libssl3", "critical", "3.0.13-1~deb12u1"),
        ("CVE-2026-10003", "zlib1g", "low", None),
        ("CVE-2026-10007", "tzdata", "unknown", "2024b-0+deb12u1"),  # the first of several fixed versions
    ]
    assert findings[0]["aliases"] == ["PHX-2026-0001"] and findings[0]["score"] == 9.8
    assert all(set(item) == FINDING_KEYS for item in findings)
    assert scanner == {
        "uri": "pkg:github/aquasecurity/trivy",
        "version": "0.58.1",
        "db": {"uri": "trivy-db", "version": ""},
    }


def test_grype_report():
    findings, scanner = reports.read_report(REPORTS / "grype.json", "grype")
    assert [(item["id"], item["package"], item["severity"], item["fixed_version"]) for item in findings] == [
        ("CVE-2026-10001", "libssl3", "critical", "3.0.13-1~deb12u1"),
        # Grype rates it Negligible (Debian's tracker), but its CVSS v3 vector scores 7.5: the score wins.
        ("CVE-2026-10005", "libc6", "high", None),
        ("GHSA-xxxx-yyyy-zzzz", "example", "low", "2.0.1"),
    ]
    assert findings[0]["aliases"] == ["PHX-2026-0001"]
    assert scanner["version"] == "0.86.1" and scanner["db"]["version"] == "2026-12-01T04:10:00Z"
    assert scanner["db"]["uri"].endswith("vulnerability-db_v6.0.2.tar.zst")


def test_a_report_that_is_not_one_is_refused(tmp_path):
    (tmp_path / "grype.json").write_text(json.dumps({"matches": [{"artifact": {"name": "x"}}]}))
    with pytest.raises(PhoenixError, match="without vulnerability.id"):
        reports.read_report(tmp_path / "grype.json", "grype")
    (tmp_path / "trivy.json").write_text("not json")
    with pytest.raises(PhoenixError, match="not JSON"):
        reports.read_report(tmp_path / "trivy.json", "trivy")
    with pytest.raises(PhoenixError, match="unknown report format"):
        reports.read_report(tmp_path / "trivy.json", "clair")
    with pytest.raises(PhoenixError, match="No such file"):
        reports.read_report(tmp_path / "missing.json", "trivy")


@pytest.mark.parametrize("report_format", ["trivy", "grype"])
def test_a_json_document_of_another_kind_is_not_read_as_a_clean_report(tmp_path, report_format):
    (tmp_path / "other.json").write_text(json.dumps({"hello": "world"}))
    with pytest.raises(PhoenixError, match="cannot read the %s report" % report_format):
        reports.read_report(tmp_path / "other.json", report_format)


def test_clean_reports_have_no_findings():
    assert reports.read_trivy({"SchemaVersion": 2})[0] == []
    assert reports.read_grype({"matches": []})[0] == []
