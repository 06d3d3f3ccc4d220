"""Scan attestations against an in-memory image backend: signing and storing them (full or summarised,
the full report in an in-memory BlobStore), and the trust policy's scan gates in the verdict."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from test_image_signing import NOW, MemoryImages, policy_for, sign

from ansible_collections.phoenix.immutable.plugins.module_utils import trust
from ansible_collections.phoenix.immutable.plugins.module_utils._core.backends import BlobStore
from ansible_collections.phoenix.immutable.plugins.module_utils._core.canonical import canonical_json, sha256_hex
from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import InvalidInput, PhoenixError
from ansible_collections.phoenix.immutable.plugins.module_utils._core.keys import LocalSigner
from ansible_collections.phoenix.immutable.plugins.module_utils._core.provider import Provider
from ansible_collections.phoenix.immutable.plugins.module_utils._scan import attest as attesting
from ansible_collections.phoenix.immutable.plugins.module_utils._scan.attestations import (
    compliance_predicate,
    vuln_predicate,
)
from ansible_collections.phoenix.immutable.plugins.module_utils._scan.gate import parse_vulnerabilities

IMAGE = "ami-0000000000000001"
SCANNER = {"uri": "urn:test:scanner", "version": "1", "db": {"uri": "file:///feed", "version": "sha256:00"}}
CRITICAL = {
    "id": "PHX-2026-0001",
    "aliases": ["CVE-2026-10001"],
    "package": "openssl",
    "installed_version": "3.0.11-1~deb12u2",
    "fixed_version": "3.0.13-1~deb12u1",
    "severity": "critical",
}


def low(number):
    return {
        "id": "PHX-LOW-%04d" % number,
        "aliases": ["CVE-2026-%05d" % (20000 + number)],
        "package": "pkg%d" % number,
        "installed_version": "1.%d" % number,
        "fixed_version": "2.%d" % number,
        "severity": "low",
        "summary": "a low finding, described at some length %d" % number,
    }


def scan_of(findings, finished="2026-11-25T11:00:00Z"):
    return vuln_predicate(findings, SCANNER, "2026-11-25T10:59:00Z", finished)


class MemoryStore(BlobStore):
    def __init__(self):
        self.blobs = {}

    def url_of(self, digest):
        return "mem://%s" % digest

    def put_blob(self, digest, data, media_type="application/json"):
        self.blobs[digest] = data
        return self.url_of(digest)

    def get_blob(self, digest):
        return self.blobs.get(digest)


@pytest.fixture
def key():
    return ed25519.Ed25519PrivateKey.generate()


@pytest.fixture
def images(key):
    backend = MemoryImages()
    backend.add()
    sign(backend, key)
    return backend


def attest(images, key, kind, predicate, **options):
    return attesting.attest(images, IMAGE, kind, predicate, LocalSigner(key), **options)


def verdict(images, key, store=None, **fields):
    return trust.verify_image(images, IMAGE, policy_for(key, **fields), now=NOW, store=store)


def test_a_policy_without_scan_sections_reads_no_attestation(images, key):
    result = verdict(images, key)
    assert result.verified is True and result.attestations == [] and result.refusals == []


def test_a_full_attestation_is_idempotent_and_refused_above_max_severity(images, key):
    first = attest(images, key, attesting.VULN, scan_of([CRITICAL, low(1)]))
    again = attest(images, key, attesting.VULN, scan_of([CRITICAL, low(1)]))
    assert first.changed is True and first.form == "full" and again.changed is False
    assert images.calls["set_tags"] == 2  # the signature, then the attestation
    result = verdict(images, key, vulnerabilities={"max_severity": "high"})
    assert result.verified is False and result.reason == "vulnerable"
    assert "PHX-2026-0001 (CVE-2026-10001) in openssl 3.0.11-1~deb12u2 is critical" in result.message
    assert result.refusals[0]["subject"] == "PHX-2026-0001"
    assert verdict(images, key, vulnerabilities={"max_severity": "critical"}).verified is True


def test_a_new_scan_by_the_same_key_replaces_the_old_one(images, key):
    attest(images, key, attesting.VULN, scan_of([CRITICAL] + [low(n) for n in range(20)]))
    replaced = attest(images, key, attesting.VULN, scan_of([]))
    assert replaced.changed is True
    assert verdict(images, key, vulnerabilities={"max_severity": "none"}).verified is True
    groups = {stored.group for stored in attesting.stored_attestations(images.codec, images.get(IMAGE))}
    assert len(groups) == 1


def test_check_mode_plans_and_writes_nothing(images, key):
    before = dict(images.get(IMAGE).tags)
    planned = attest(images, key, attesting.VULN, scan_of([CRITICAL]), check_mode=True)
    assert planned.changed is True and planned.tags_set and planned.envelope is None
    assert images.get(IMAGE).tags == before


def test_a_large_scan_is_summarised_and_its_full_report_checked_against_the_signed_digest(images, key):
    predicate = scan_of([CRITICAL] + [low(n) for n in range(150)])
    store = MemoryStore()
    outcome = attest(images, key, attesting.VULN, predicate, store=store)
    assert outcome.form == "summary" and outcome.floor in ("medium", "high", "critical")
    digest = sha256_hex(canonical_json(predicate))
    assert outcome.predicate_digest == digest and store.blobs[digest] == canonical_json(predicate)
    summary = outcome.statement["predicate"]["scanner"]["result"]
    assert summary["counts"]["low"] == 150 and summary["summary"]["predicate"]["uri"] == "mem://" + digest
    # Decided on the summary: nothing left out could refuse under high.
    assert "PHX-2026-0001" in verdict(images, key, vulnerabilities={"max_severity": "high"}).message
    strict = {"max_severity": "none"}
    assert verdict(images, key, vulnerabilities=strict).reason == "incomplete scan"
    assert "PHX-LOW-0000" in verdict(images, key, store=store, vulnerabilities=strict).message
    store.blobs[digest] = canonical_json(scan_of([]))  # an edited report in the store
    edited = verdict(images, key, store=store, vulnerabilities=strict)
    assert edited.reason == "incomplete scan" and "does not match the signed digest" in edited.message


def test_a_scan_larger_than_every_tag_of_the_image_falls_back_to_its_summary(images, key):
    # 2,000 findings need far more than the 50 tags an image has: the full form is skipped, not refused.
    predicate = scan_of([CRITICAL] + [low(n) for n in range(2000)])
    outcome = attest(images, key, attesting.VULN, predicate, store=MemoryStore())
    assert outcome.form == "summary" and outcome.floor in ("medium", "high", "critical")
    assert outcome.statement["predicate"]["scanner"]["result"]["counts"]["low"] == 2000
    assert "PHX-2026-0001" in verdict(images, key, vulnerabilities={"max_severity": "high"}).message


def test_summaries_keep_the_counts_and_drop_findings_below_the_floor():
    predicate = scan_of([CRITICAL, low(1), dict(low(2), severity="unknown")])
    forms = attesting.summaries(attesting.VULN, predicate)
    assert [form["scanner"]["result"]["summary"]["floor"] for form in forms] == ["low", "medium", "high", "critical"]
    critical_only = forms[-1]["scanner"]["result"]
    assert [found["id"] for found in critical_only["findings"]] == ["PHX-2026-0001", "PHX-LOW-0002"]
    assert (
        "summary" not in critical_only["findings"][0]
        and critical_only["counts"] == predicate["scanner"]["result"]["counts"]
    )
    rules = parse_vulnerabilities({"max_severity": "high"})
    assert attesting.summary_decides(attesting.VULN, forms[-1], rules) is True  # critical floor: all below allowed
    assert attesting.summary_decides(attesting.VULN, forms[-1], parse_vulnerabilities({"max_severity": "low"})) is False


def test_stale_scans_and_expired_allow_entries_are_refused(images, key):
    attest(images, key, attesting.VULN, scan_of([CRITICAL], finished="2026-11-01T00:00:00Z"))
    stale = verdict(images, key, vulnerabilities={"max_severity": "critical", "max_scan_age_days": 7})
    assert stale.reason == "stale scan"
    allow = [{"id": "CVE-2026-10001", "reason": "not reachable", "expires": "2026-11-24"}]
    expired = verdict(images, key, vulnerabilities={"max_severity": "high", "allow": allow})
    assert "its allow entry expired on 2026-11-25" in expired.message
    allow[0]["expires"] = "2026-11-26"
    assert verdict(images, key, vulnerabilities={"max_severity": "high", "allow": allow}).verified is True


def test_compliance_gate_names_the_failed_rule_and_reads_passed_rules_from_the_store(images, key):
    passed = ["rule_%s" % sha256_hex(b"%d" % n)[:24] for n in range(120)]  # incompressible, too many for the tags
    predicate = compliance_predicate("xccdf_profile_standard", passed, ["rule_ssh"], NOW)
    store = MemoryStore()
    outcome = attest(images, key, attesting.COMPLIANCE, predicate, store=store)
    assert outcome.form == "summary"
    refused = verdict(images, key, compliance={"profile": "xccdf_profile_standard"})
    assert refused.reason == "noncompliant" and "rule_ssh" in refused.message
    required = {
        "profile": "xccdf_profile_standard",
        "max_failed": 1,
        "required_rules": [passed[1]],
    }
    assert verdict(images, key, compliance=required).reason == "incomplete scan"
    assert verdict(images, key, store=store, compliance=required).verified is True
    assert verdict(images, key, compliance={"profile": "other"}).reason == "wrong profile"


def test_an_attestation_by_a_key_not_trusted_or_revoked_is_refused(images, key):
    other = ed25519.Ed25519PrivateKey.generate()
    attest(images, other, attesting.VULN, scan_of([]))
    result = verdict(images, key, vulnerabilities={"max_severity": "high"})
    assert result.reason == "invalid attestation" and "not signed by a key the policy trusts" in result.message
    attest(images, key, attesting.VULN, scan_of([]))
    assert verdict(images, key, vulnerabilities={"max_severity": "high"}).verified is True


def test_an_image_without_room_is_refused_before_writing(key):
    images = MemoryImages()
    images.add(tags={"t%d" % n: "v" for n in range(49)})
    with pytest.raises(InvalidInput, match="even its summary needs more"):
        attest(images, key, attesting.VULN, scan_of([CRITICAL]))
    assert images.calls["set_tags"] == 0


def test_a_codec_that_cannot_store_statements_is_unsupported(images, key):
    class Labels(type(images.codec)):
        stores_statement = False

    images.codec = Labels()
    with pytest.raises(PhoenixError) as raised:
        attest(images, key, attesting.VULN, scan_of([]))
    assert raised.value.code == "Unsupported"


def test_a_provider_whose_audit_store_is_no_blob_store_refuses_blob_store():
    class Cloud(Provider):
        cloud = "elsewhere"

        def __init__(self):
            pass

        def audit_store(self, container, prefix="phoenix-audit/", lock_mode=None, retention_days=None):
            return object()

        images = builders = signing_keys = groups = traffic = health = instances = rollout_store = None
        key_service = None

    with pytest.raises(PhoenixError) as raised:
        Cloud().blob_store("bucket")
    assert raised.value.code == "Unsupported" and "elsewhere" in raised.value.message
