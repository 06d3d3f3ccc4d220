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
from ansible_collections.phoenix.immutable.plugins.module_utils._core.signatures import pack_envelope
from ansible_collections.phoenix.immutable.plugins.module_utils._core.signing import ImageSigning, signers_of
from ansible_collections.phoenix.immutable.plugins.module_utils._core.tags import ATTESTATION
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.codec import GCP_CODEC
from ansible_collections.phoenix.immutable.plugins.module_utils._scan import attest as attesting
from ansible_collections.phoenix.immutable.plugins.module_utils._scan.attestations import (
    compliance_predicate,
    vuln_predicate,
)
from ansible_collections.phoenix.immutable.plugins.module_utils._scan.gate import parse_vulnerabilities
from ansible_collections.phoenix.immutable.plugins.module_utils.attest import image_attester

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


@pytest.fixture
def labelled(key):
    """An image whose metadata cannot hold a statement (GCP's labels): attestations are kept detached."""
    backend = MemoryImages()
    backend.codec = GCP_CODEC
    backend.tag_limits = GCP_CODEC.limits
    backend.add()
    sign(backend, key)
    return backend


def test_a_codec_that_cannot_store_statements_needs_a_store_to_attest(labelled, key):
    with pytest.raises(InvalidInput, match="needs an attestation store") as raised:
        attest(labelled, key, attesting.VULN, scan_of([]))
    assert "store:" in raised.value.hint and labelled.calls["set_tags"] == 1  # the signature only


def test_a_detached_attestation_keeps_its_statement_in_the_store(labelled, key):
    store = MemoryStore()
    predicate = scan_of([CRITICAL] + [low(n) for n in range(150)])
    outcome = attest(labelled, key, attesting.VULN, predicate, store=store)
    assert outcome.form == "full" and outcome.changed is True
    payload = canonical_json(outcome.statement)
    assert store.blobs[outcome.statement_digest] == payload
    assert [blob["what"] for blob in outcome.blobs] == ["vuln statement"]
    tags = labelled.get(IMAGE).tags
    assert len(outcome.tags_set) <= attesting.tag_budget(GCP_CODEC) and all(key in tags for key in outcome.tags_set)
    assert attest(labelled, key, attesting.VULN, predicate, store=store).changed is False
    result = verdict(labelled, key, store=store, vulnerabilities={"max_severity": "high"})
    assert result.reason == "vulnerable" and "CVE-2026-10001" in result.message
    # Nothing was summarised: the low findings decide under none.
    assert "PHX-LOW-0149" in verdict(labelled, key, store=store, vulnerabilities={"max_severity": "none"}).message
    assert verdict(labelled, key, store=store, vulnerabilities={"max_severity": "critical"}).verified is True


def test_a_detached_attestation_without_its_store_fails_closed_naming_the_store(labelled, key):
    store = MemoryStore()
    outcome = attest(labelled, key, attesting.VULN, scan_of([]), store=store)
    result = verdict(labelled, key, vulnerabilities={"max_severity": "critical"})
    assert result.verified is False and result.reason == "incomplete scan"
    assert "no store was given" in result.message and outcome.statement_digest in result.message
    del store.blobs[outcome.statement_digest]
    result = verdict(labelled, key, store=store, vulnerabilities={"max_severity": "critical"})
    assert result.reason == "incomplete scan" and "is not in the attestation store (mem://" in result.message


def test_a_detached_statement_edited_in_the_store_is_refused(labelled, key):
    store = MemoryStore()
    outcome = attest(labelled, key, attesting.VULN, scan_of([CRITICAL]), store=store)
    [stored] = attesting.stored_attestations(GCP_CODEC, labelled.get(IMAGE), store)
    edited = outcome.statement_digest
    store.blobs[edited] = store.blobs[edited].replace(b'"critical"', b'"low"')
    result = verdict(labelled, key, store=store, vulnerabilities={"max_severity": "high"})
    assert result.reason == "invalid attestation" and "does not have its digest: it was altered" in result.message
    # Edited and stored under the digest of its new bytes, with the labels pointing there: the signature fails.
    forged = store.blobs[edited]
    store.put_blob(sha256_hex(forged), forged)
    image = labelled.get(IMAGE)
    detached = {"payloadType": stored.envelope["payloadType"], "signatures": stored.envelope["signatures"]}
    detached["kept"] = {"statement": sha256_hex(forged)}
    tags = GCP_CODEC.chunks(ATTESTATION, stored.group, pack_envelope(detached), "the image")
    labelled.set_tags(image, tags, sorted(set(stored.tag_keys) - set(tags)))
    result = verdict(labelled, key, store=store, vulnerabilities={"max_severity": "high"})
    assert result.reason == "invalid attestation" and "does not verify (it was altered)" in result.message


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


def test_the_image_workflow_attests_each_image_before_signing_it(key):
    """ImageSigning's attest step (the image module's sign.attest): a signed image carries its attestations,
    and an attestation that fails leaves the image unsigned (a bake deletes it and bakes again)."""
    backend = MemoryImages()
    image = backend.add()
    signer = LocalSigner(key)
    order = []
    attester = image_attester({"vuln_scan": scan_of([CRITICAL]), "store": None}, cloud=None)

    def attest_then_note(images, found, used):
        result = attester(images, found, used)
        order.append(("attest", signers_of(images.codec, images.get(found.id))))
        return result

    outcome = ImageSigning(lambda images: signer, {"tests": "passed"}, attest=attest_then_note).sign(backend, image)
    assert order == [("attest", [])]  # attested while still unsigned
    assert [attestation["kind"] for attestation in outcome.attestations] == ["vuln"]
    assert outcome.changed and signers_of(backend.codec, backend.get(IMAGE)) == [signer.keyid]
    assert verdict(backend, key, vulnerabilities={"max_severity": "high"}).reason == "vulnerable"

    again = ImageSigning(lambda images: signer, {"tests": "passed"}, attest=attester).sign(backend, backend.get(IMAGE))
    assert again.changed is False and [a["changed"] for a in again.attestations] == [False]

    unsigned = MemoryImages()
    unsigned.add()

    def refused(images, found, used):
        raise PhoenixError("the store refused the report", code="AccessDenied")

    with pytest.raises(PhoenixError):
        ImageSigning(lambda images: signer, attest=refused).sign(unsigned, unsigned.get(IMAGE))
    assert signers_of(unsigned.codec, unsigned.get(IMAGE)) == []


def test_sign_attest_with_nothing_to_attest_is_refused():
    assert image_attester(None, cloud=None) is None
    with pytest.raises(InvalidInput, match="nothing to attest"):
        image_attester({"sbom": None, "vuln_scan": None, "compliance": None, "store": None}, cloud=None)
