"""OSV advisories matched against SBOM components with each distribution's version ordering, and the
severity of a finding: the CVSS v3 base score computed from its vector, or the database's rating.

The fixture feed (tests/fixtures/osv) has made-up PHX-2026-* records aliased to CVE-shaped ids; the
Debian ones are about packages of the fixture root filesystem (tests/fixtures/rootfs/debian-12)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import PhoenixError
from ansible_collections.phoenix.immutable.plugins.module_utils._scan import osv, sbom, severity
from ansible_collections.phoenix.immutable.plugins.module_utils._scan.sbom import Component

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"
FEED = FIXTURES / "osv"
DEBIAN_ROOT = FIXTURES / "rootfs" / "debian-12"
ROCKY_ROOT = FIXTURES / "rootfs" / "rocky-9"


def debian_components():
    return sbom.sbom_components(sbom.inventory_sbom(str(DEBIAN_ROOT), "2026-12-01T00:00:00Z", use_syft=False))


def deb(name, version, source="", source_version="", distro="debian-12"):
    return Component("pkg:deb/debian/%s@%s" % (name, version), "deb", name, version, source, source_version, distro)


def record(identifier, ecosystem, name, events=None, versions=None, **extra):
    affected = {"package": {"ecosystem": ecosystem, "name": name}}
    if events is not None:
        affected["ranges"] = [{"type": "ECOSYSTEM", "events": events}]
    if versions is not None:
        affected["versions"] = versions
    return {"id": identifier, "modified": "2026-11-01T00:00:00Z", "affected": [affected], **extra}


def found(records, components):
    findings, skipped = osv.match(osv.Feed(records), components)
    return {(finding["id"], finding["package"]): finding for finding in findings}, skipped


def test_the_fixture_feed_against_the_debian_root():
    findings, skipped = osv.match(osv.load_feed(FEED), debian_components())
    summary = [(item["id"], item["package"], item["severity"], item["fixed_version"]) for item in findings]
    assert summary == [
        ("PHX-2026-0001", "libssl3", "critical", "3.0.13-1~deb12u1"),  # named by its source package, openssl
        ("PHX-2026-0001", "openssl", "critical", "3.0.13-1~deb12u1"),
        ("PHX-2026-0005", "libc6", "high", "2.36-9+deb12u7"),  # introduced at a tilde version
        ("PHX-2026-0003", "zlib1g", "low", None),  # last_affected, the source's epoch version
    ]
    assert findings[0]["aliases"] == ["CVE-2026-10001"] and findings[0]["score"] == 9.8
    assert findings[0]["installed_version"] == "3.0.11-1~deb12u2"
    assert skipped == []
    # Not found: curl is at the fixed version (0002), bash's advisory is for Debian 11 (0004), the tzdata
    # record is withdrawn (0006), and the Rocky records are another distribution's.


def test_the_fixture_feed_against_the_rocky_listing():
    document = sbom.inventory_sbom(
        str(ROCKY_ROOT), "2026-12-01T00:00:00Z", rpm_query=(ROCKY_ROOT / "rpm-qa.txt").read_text()
    )
    findings, skipped = osv.match(osv.load_feed(FEED), sbom.sbom_components(document))
    # openssl-libs 1:3.0.7-24.el9 is before the fix 1:3.0.7-25.el9_3; vim-minimal's caret snapshot
    # 2:9.0.2081^20231201git1 is after the fix 2:9.0.2081-1.el9.
    assert [(item["id"], item["package"], item["severity"]) for item in findings] == [
        ("PHX-2026-0101", "openssl-libs", "high")  # database_specific "Important"
    ]
    assert skipped == []


def test_a_feed_loads_from_a_file_a_list_a_zip_export_and_a_directory(tmp_path):
    one = json.loads((FEED / "PHX-2026-0001.json").read_text())
    assert [item.get("id") for item in osv.load_feed(FEED / "PHX-2026-0001.json").records] == ["PHX-2026-0001"]
    (tmp_path / "list.json").write_text(json.dumps([one, {**one, "id": "PHX-2026-0009"}]))
    assert len(osv.load_feed(tmp_path / "list.json").records) == 2
    with zipfile.ZipFile(tmp_path / "all.zip", "w") as archive:
        for path in sorted(FEED.rglob("*.json")):
            archive.write(path, path.name)
    exported, folder = osv.load_feed(tmp_path / "all.zip"), osv.load_feed(FEED)
    assert exported.digest == folder.digest and len(folder.records) == 7 and folder.withdrawn == 1
    assert folder.modified == "2026-11-28T08:00:00Z"
    with pytest.raises(PhoenixError, match="no such file"):
        osv.load_feed(tmp_path / "missing")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.json").write_text('{"summary": "no id"}')
    with pytest.raises(PhoenixError, match="not an OSV record"):
        osv.load_feed(tmp_path / "bad")


@pytest.mark.parametrize(
    "events, installed, affected, fixed",
    [
        ([{"introduced": "0"}, {"fixed": "1.2-1"}], "1.1-1", True, "1.2-1"),
        ([{"introduced": "0"}, {"fixed": "1.2-1"}], "1.2-1", False, None),
        ([{"introduced": "0"}, {"fixed": "1.2-1"}], "1.2~rc1-1", True, "1.2-1"),  # a tilde pre-release is older
        ([{"introduced": "0"}, {"fixed": "1:1.0-1"}], "2.0-1", True, "1:1.0-1"),  # the epoch outranks 2.0
        ([{"introduced": "1.5"}, {"fixed": "1.7"}], "1.4", False, None),
        ([{"introduced": "1.5"}, {"last_affected": "1.7"}], "1.7", True, None),
        ([{"introduced": "1.5"}, {"last_affected": "1.7"}], "1.7+b1", False, None),
        # two ranges in one: 1.0 to 1.2, and 2.0 to 2.3 (events listed out of order on purpose)
        ([{"fixed": "2.3"}, {"introduced": "1.0"}, {"introduced": "2.0"}, {"fixed": "1.2"}], "1.5", False, None),
        ([{"fixed": "2.3"}, {"introduced": "1.0"}, {"introduced": "2.0"}, {"fixed": "1.2"}], "2.1", True, "2.3"),
        ([{"fixed": "2.3"}, {"introduced": "1.0"}, {"introduced": "2.0"}, {"fixed": "1.2"}], "1.1", True, "1.2"),
    ],
)
def test_debian_ranges(events, installed, affected, fixed):
    findings, skipped = found([record("PHX-1", "Debian:12", "pkg", events)], [deb("pkg", installed)])
    assert (("PHX-1", "pkg") in findings) is affected
    if affected:
        assert findings[("PHX-1", "pkg")]["fixed_version"] == fixed
    assert skipped == []


def test_ecosystem_releases_and_names():
    component = deb("libssl3", "3.0.11-1", source="openssl")
    records = [
        record("ANY", "Debian", "openssl", [{"introduced": "0"}]),  # every Debian release
        record("D12", "Debian:12", "openssl", [{"introduced": "0"}]),
        record("D11", "Debian:11", "openssl", [{"introduced": "0"}]),
        record("UBU", "Ubuntu:22.04:LTS", "openssl", [{"introduced": "0"}]),
        record("BIN", "Debian:12", "libssl3", [{"introduced": "0"}]),  # a binary name matches too
        record("OTHER", "Debian:12", "gnutls28", [{"introduced": "0"}]),
    ]
    findings, skipped = found(records, [component])
    assert sorted(identifier for identifier, _package in findings) == ["ANY", "BIN", "D12"]
    ubuntu = deb("libssl3", "3.0.2-0ubuntu1.10", source="openssl", distro="ubuntu-22.04")
    findings, skipped = found(records, [ubuntu])
    assert sorted(identifier for identifier, _package in findings) == ["UBU"]


def test_rpm_family_releases_match_by_major_version():
    component = Component(
        "pkg:rpm/almalinux/curl@7.76.1-26.el9", "rpm", "curl", "7.76.1-26.el9", distro="almalinux-9.3"
    )
    records = [
        record("ALMA9", "AlmaLinux:9", "curl", [{"introduced": "0"}, {"fixed": "7.76.1-29.el9_4"}]),
        record("ALMA8", "AlmaLinux:8", "curl", [{"introduced": "0"}]),
        record("ROCKY9", "Rocky Linux:9", "curl", [{"introduced": "0"}]),
    ]
    findings, skipped = found(records, [component])
    assert list(findings) == [("ALMA9", "curl")] and findings[("ALMA9", "curl")]["fixed_version"] == "7.76.1-29.el9_4"


def test_the_source_version_is_compared_when_the_advisory_names_the_source():
    # A binNMU (+b1) of a binary built from the fixed source version is not vulnerable.
    component = deb("zlib1g", "1:1.2.13.dfsg-1+b1", source="zlib", source_version="1:1.2.13.dfsg-1")
    findings, skipped = found(
        [record("Z", "Debian:12", "zlib", [{"introduced": "0"}, {"fixed": "1:1.2.13.dfsg-1"}])], [component]
    )
    assert findings == {}


def test_listed_versions_and_unordered_ranges():
    pypi = Component("pkg:pypi/example@2.0.0", "pypi", "example", "2.0.0")
    records = [
        record("LISTED", "PyPI", "example", versions=["1.9.0", "2.0.0"]),
        {
            "id": "SEMVER",
            "affected": [
                {
                    "package": {"ecosystem": "PyPI", "name": "example"},
                    "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}]}],
                }
            ],
        },
    ]
    findings, skipped = found(records, [pypi])
    assert list(findings) == [("LISTED", "example")]
    assert skipped == [{"id": "SEMVER", "package": "example", "reason": "no ordering for range type(s) SEMVER in PyPI"}]


def test_a_version_that_cannot_be_ordered_counts_as_affected():
    findings, skipped = found(
        [record("BAD", "Debian:12", "pkg", [{"introduced": "0"}, {"fixed": "1.0 beta"}])], [deb("pkg", "2.0-1")]
    )
    assert "counted as affected" in findings[("BAD", "pkg")]["note"]


@pytest.mark.parametrize(
    "vector, score",
    [
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),  # the classic reflected XSS
        ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8),
        ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:L/I:N/A:N", 3.7),
        ("CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", 1.6),
        ("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N", 6.4),
        ("CVSS:3.0/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H", 7.2),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:U", 9.8),  # temporal metrics leave the base as it is
        ("CVSS:2.0/AV:N/AC:L/Au:N/C:P/I:P/A:P", None),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H", None),  # A missing
        ("CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", None),
        ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", None),
    ],
)
def test_cvss3_base_scores(vector, score):
    assert severity.cvss3_base_score(vector) == score


def test_severity_prefers_the_cvss_score_then_the_databases_word():
    vector = {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"}
    assert severity.osv_severity({"severity": [vector], "database_specific": {"severity": "LOW"}}) == ("high", 7.5)
    assert severity.osv_severity({"database_specific": {"severity": "MODERATE"}}) == ("medium", None)
    assert severity.osv_severity({"severity": [{"type": "Ubuntu", "score": "negligible"}]}) == ("low", None)
    affected = {"ecosystem_specific": {"severity": "Important"}}
    assert severity.osv_severity({}, affected) == ("high", None)
    assert severity.osv_severity({"database_specific": {"severity": "not yet assigned"}}) == ("unknown", None)
    assert [severity.rating_of_score(score) for score in (9.0, 8.9, 7.0, 4.0, 3.9, 0.0, None)] == [
        "critical",
        "high",
        "high",
        "medium",
        "low",
        "low",
        "unknown",
    ]
