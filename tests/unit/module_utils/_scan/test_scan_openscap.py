"""The bake's scan steps in plain Python: the OpenSCAP command for / and for a mounted root (oscap-chroot or
its environment), oscap's exit codes (a stand-in oscap script on PATH), the compliance predicate of the
fixture results, the SBOM written once and kept while unchanged, an RPM root read with rpm (a stand-in rpm
script printing the fixture listing), and the worst severity of a scan's counts."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from ansible_collections.phoenix.immutable.plugins.module_utils import scan
from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import PhoenixError
from ansible_collections.phoenix.immutable.plugins.module_utils._scan import openscap, sbom

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"
RESULTS = FIXTURES / "xccdf" / "results-standard.xml"
PROFILE = "xccdf_org.ssgproject.content_profile_standard"


def finder(*present):
    return lambda name: "/usr/bin/%s" % name if name in present else None


def test_the_command_evaluates_the_profile_on_slash_or_on_a_mounted_root(tmp_path):
    command, extra = openscap.oscap_command(PROFILE, "ds.xml", "out.xml", "/", which=finder("oscap"))
    assert command == ["/usr/bin/oscap", "xccdf", "eval", "--profile", PROFILE, "--results", "out.xml", "ds.xml"]
    assert extra == {}
    command, extra = openscap.oscap_command(PROFILE, "ds.xml", "out.xml", str(tmp_path), which=finder("oscap"))
    assert command[0] == "/usr/bin/oscap"  # no oscap-chroot (Debian 12): its environment instead
    assert extra == {"OSCAP_PROBE_ROOT": str(tmp_path), "OSCAP_EVALUATION_TARGET": "chroot://%s" % tmp_path}
    both = finder("oscap", "oscap-chroot")
    command, extra = openscap.oscap_command(PROFILE, "ds.xml", "out.xml", str(tmp_path), which=both)
    assert command[:4] == ["/usr/bin/oscap-chroot", str(tmp_path), "xccdf", "eval"] and extra == {}


def test_no_oscap_fails_naming_the_packages():
    with pytest.raises(PhoenixError) as caught:
        openscap.oscap_command(PROFILE, "ds.xml", "out.xml", "/", which=finder())
    assert caught.value.code == "OscapMissing"
    assert "openscap-scanner ssg-debian" in caught.value.hint and "bindep.txt" in caught.value.hint


def stand_in_oscap(folder, exit_code, results=RESULTS):
    """An oscap on PATH that writes the fixture results where --results says, and exits with ``exit_code``."""
    folder.mkdir(exist_ok=True)
    script = folder / "oscap"
    script.write_text(
        "#!/bin/sh\n"
        'while [ $# -gt 0 ]; do if [ "$1" = --results ]; then cp %s "$2"; fi; shift; done\n'
        "echo 'E: oscap: no such profile' >&2\n"
        "exit %d\n" % (results, exit_code)
    )
    script.chmod(0o755)
    return folder


@pytest.mark.parametrize("exit_code", [0, 2])
def test_exit_0_and_2_are_results_and_become_the_predicate(monkeypatch, tmp_path, exit_code):
    monkeypatch.setenv("PATH", "%s:%s" % (stand_in_oscap(tmp_path / "bin", exit_code), os.environ["PATH"]))
    (tmp_path / "ds.xml").write_text("<ds/>")
    kept = tmp_path / "run" / "results.xml"
    outcome = scan.compliance_scan(str(tmp_path), PROFILE, datastream=str(tmp_path / "ds.xml"), results_dest=str(kept))
    assert outcome["ran"] is True and outcome["exit_code"] == exit_code
    assert outcome["environment"]["OSCAP_PROBE_ROOT"] == str(tmp_path)
    predicate = outcome["predicate"]
    assert predicate["profile"] == PROFILE and (predicate["passed"], predicate["failed"]) == (3, 2)
    assert predicate["report"]["digest"]["sha256"] == hashlib.sha256(kept.read_bytes()).hexdigest()
    assert predicate["scanner"] == {"uri": "pkg:generic/openscap", "version": "1.3.10"}


def test_another_exit_code_fails_with_oscaps_words_and_a_temporary_results_file_is_removed(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", "%s:%s" % (stand_in_oscap(tmp_path / "bin", 1), os.environ["PATH"]))
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    (tmp_path / "ds.xml").write_text("<ds/>")
    with pytest.raises(PhoenixError, match="exit 1.*no such profile") as caught:
        scan.compliance_scan("/", PROFILE, datastream=str(tmp_path / "ds.xml"))
    assert caught.value.code == "OscapFailed"
    assert list((tmp_path / "tmp").iterdir()) == []
    with pytest.raises(PhoenixError, match="does not exist"):
        scan.compliance_scan("/", PROFILE, datastream=str(tmp_path / "missing.xml"))


def test_check_mode_does_not_run_oscap(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", "%s:%s" % (stand_in_oscap(tmp_path / "bin", 2), os.environ["PATH"]))
    kept = tmp_path / "results.xml"
    outcome = scan.compliance_scan("/", PROFILE, datastream="ds.xml", results_dest=str(kept), check_mode=True)
    assert outcome["ran"] is False and outcome["predicate"] is None and not kept.exists()
    assert outcome["command"][1:4] == ["xccdf", "eval", "--profile"]


def test_existing_results_are_read_without_oscap():
    outcome = scan.compliance_scan("/", results=str(RESULTS))
    assert outcome["ran"] is False and outcome["exit_code"] is None and outcome["results_file"] == str(RESULTS)
    assert outcome["predicate"]["failedRules"] == [
        "xccdf_org.ssgproject.content_rule_audit_rules_immutable",  # error counts as failed
        "xccdf_org.ssgproject.content_rule_partition_for_tmp",
    ]
    with pytest.raises(PhoenixError, match="no TestResult of profile other"):
        scan.compliance_scan("/", "other", results=str(RESULTS))


def clock(text):
    import datetime

    moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return lambda: moment


def test_the_sbom_is_written_once_and_kept_while_its_packages_do_not_change(tmp_path):
    root = tmp_path / "root"
    shutil.copytree(FIXTURES / "rootfs" / "debian-12", root)
    dest = tmp_path / "run" / "sbom.cdx.json"
    planned = scan.record_sbom(str(root), str(dest), "web-1", use_syft=False, check_mode=True)
    assert planned["changed"] is True and not dest.exists()
    first = scan.record_sbom(str(root), str(dest), "web-1", use_syft=False, clock=clock("2026-12-01T10:00:00Z"))
    assert first["changed"] is True and first["components"] == 9 and oct(dest.stat().st_mode)[-3:] == "644"
    assert first["digest"] == sbom.sbom_digest(json.loads(dest.read_text()))
    assert first["producer"]["name"] == "phoenix.immutable/package-database-reader"
    written = dest.read_bytes()
    again = scan.record_sbom(str(root), str(dest), "web-1", use_syft=False, clock=clock("2026-12-02T10:00:00Z"))
    assert again["changed"] is False and again["digest"] == first["digest"] and dest.read_bytes() == written
    assert again["timestamp"] == "2026-12-01T10:00:00Z"  # the SBOM kept is the first one
    status = root / "var/lib/dpkg/status"
    status.write_text(status.read_text().replace("3.0.11-1~deb12u2", "3.0.13-1~deb12u1"))
    patched = scan.record_sbom(str(root), str(dest), "web-1", use_syft=False)
    assert patched["changed"] is True and patched["digest"] != first["digest"]


def test_an_rpm_root_is_listed_with_rpm_root(monkeypatch, tmp_path):
    root = tmp_path / "rocky"
    shutil.copytree(FIXTURES / "rootfs" / "rocky-9", root)
    (root / "var/lib/rpm").mkdir(parents=True)
    folder = tmp_path / "bin"
    folder.mkdir()
    calls = tmp_path / "calls"
    (folder / "rpm").write_text('#!/bin/sh\nprintf "%%s\\n" "$*" > %s\ncat %s\n' % (calls, root / "rpm-qa.txt"))
    (folder / "rpm").chmod(0o755)
    monkeypatch.setenv("PATH", "%s:%s" % (folder, os.environ["PATH"]))
    recorded = scan.record_sbom(str(root), str(tmp_path / "sbom.json"), use_syft=False)
    assert recorded["components"] == 4
    assert calls.read_text().startswith("--root %s -qa --queryformat %%{NAME}\\t%%{EPOCH}" % root)
    assert sbom.rpm_command("/", "rpm")[:2] == ["rpm", "-qa"]
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(PhoenixError, match="no rpm binary"):
        scan.record_sbom(str(root), str(tmp_path / "sbom.json"), use_syft=False)


def test_the_worst_severity_ranks_unknown_right_after_critical():
    counts = dict.fromkeys(["critical", "high", "medium", "low", "unknown"], 0)
    assert scan.worst_severity(counts) == "none"
    assert scan.worst_severity(dict(counts, low=3, high=1)) == "high"
    assert scan.worst_severity(dict(counts, high=1, unknown=1)) == "unknown"
    assert scan.worst_severity(dict(counts, critical=1, unknown=1)) == "critical"
