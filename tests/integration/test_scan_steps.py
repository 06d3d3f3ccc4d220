"""The bake's scan modules through ansible-playbook, on localhost, no cloud: image_sbom (written, kept
unchanged, check mode, a root without a package database refused) and compliance_scan (the fixture XCCDF
results, check mode, and a real OpenSCAP evaluation of a scratch root with the ssg-debian content, skipped
with the reason where OpenSCAP is not installed)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from harness import run_playbook

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
DATASTREAM = Path("/usr/share/xml/scap/ssg/content/ssg-debian11-ds.xml")
PROFILE = "xccdf_org.ssgproject.content_profile_standard"
ROOT_LOGIN = "xccdf_org.ssgproject.content_rule_sshd_disable_root_login"
NO_OSCAP = "oscap not installed: apt-get install openscap-scanner ssg-debian, see bindep.txt"


def task(title, module, check_mode=False, **options):
    entry = {"name": title, "phoenix.immutable.%s" % module: options, "ignore_errors": True}
    if check_mode:
        entry["check_mode"] = True
    return entry


def test_image_sbom_writes_the_sbom_once_and_refuses_a_root_without_packages(tmp_path):
    root = tmp_path / "root"
    shutil.copytree(FIXTURES / "rootfs" / "debian-12", root)
    dest = tmp_path / "run" / "sbom.cdx.json"
    options = {"root": str(root), "dest": str(dest), "name": "web-1", "use_syft": False}
    run = run_playbook(
        [
            task("planned", "image_sbom", check_mode=True, **options),
            task("written", "image_sbom", **options),
            task("again", "image_sbom", **options),
            task("again planned", "image_sbom", check_mode=True, **options),
            task("empty root", "image_sbom", root=str(tmp_path / "run"), dest=str(tmp_path / "other.json")),
        ]
    )
    assert run.rc == 0, run.explain()
    planned, written, again = (run.task(name)["result"] for name in ("planned", "written", "again"))
    assert planned["changed"] is True and written["changed"] is True and again["changed"] is False
    assert written["components"] == 9 and written["path"] == str(dest) and written["spec_version"] == "1.5"
    assert again["digest"] == written["digest"] and run.task("again planned")["result"]["changed"] is False
    assert json.loads(dest.read_text())["metadata"]["component"]["name"] == "web-1"
    refused = run.task("empty root")
    assert refused["status"] == "failed" and refused["result"]["error"]["code"] == "NoPackageDatabase"


def test_compliance_scan_reads_results_and_plans_a_run_in_check_mode(tmp_path):
    dest = tmp_path / "compliance.json"
    run = run_playbook(
        [
            task("read", "compliance_scan", results=str(FIXTURES / "xccdf" / "results-standard.xml"), dest=str(dest)),
            task("planned", "compliance_scan", check_mode=True, profile=PROFILE, datastream=str(DATASTREAM), root="/"),
            task("no profile", "compliance_scan", datastream=str(DATASTREAM)),
        ]
    )
    assert run.rc == 0, run.explain()
    read = run.task("read")["result"]
    assert read["profile"] == PROFILE and (read["rules_passed"], read["rules_failed"]) == (3, 2)
    assert read["ran"] is False and read["exit_code"] is None
    assert json.loads(dest.read_text()) == read["predicate"]
    planned = run.task("planned")["result"]
    if shutil.which("oscap"):
        assert planned["ran"] is False and planned["predicate"] is None and planned["command"][1:3] == ["xccdf", "eval"]
    else:  # the run would fail: so does its plan, saying what to install
        assert planned["error"]["code"] == "OscapMissing" and "bindep.txt" in planned["msg"]
    assert "datastream" in run.task("no profile")["result"]["msg"]


@pytest.mark.skipif(shutil.which("oscap") is None or not DATASTREAM.is_file(), reason=NO_OSCAP)
def test_compliance_scan_runs_openscap_on_a_scratch_root(tmp_path):
    root = tmp_path / "root"
    shutil.copytree(FIXTURES / "rootfs" / "debian-12", root)
    # ssg-debian in Debian 12 has content for Debian 11; its platform check reads /etc/debian_version.
    (root / "etc/debian_version").write_text("11.6\n")
    (root / "etc/ssh").mkdir()
    (root / "etc/ssh/sshd_config").write_text("PermitRootLogin no\n")
    kept = tmp_path / "out" / "results.xml"
    run = run_playbook(
        [
            task(
                "evaluated",
                "compliance_scan",
                root=str(root),
                profile=PROFILE,
                datastream=str(DATASTREAM),
                results_dest=str(kept),
                dest=str(tmp_path / "out" / "compliance.json"),
            ),
            task(
                "bad profile", "compliance_scan", root=str(root), profile="no_such_profile", datastream=str(DATASTREAM)
            ),
        ],
        timeout=600,
    )
    assert run.rc == 0, run.explain()
    evaluated = run.task("evaluated")
    assert evaluated["status"] == "changed", run.explain()
    result = evaluated["result"]
    assert result["ran"] is True and result["exit_code"] == 2  # some rules failed: a result, not an error
    assert result["environment"]["OSCAP_PROBE_ROOT"] == str(root) and kept.is_file()
    assert result["rules_passed"] > 0 and result["rules_failed"] > 0
    assert ROOT_LOGIN in result["predicate"]["passedRules"]
    assert result["predicate"]["scanner"]["uri"] == "pkg:generic/openscap"
    bad = run.task("bad profile")
    assert bad["status"] == "failed" and bad["result"]["error"]["code"] == "OscapFailed"
    assert "with profile no_such_profile" in bad["result"]["msg"]
