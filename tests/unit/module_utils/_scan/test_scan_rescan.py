"""The fleet re-check in memory: an image's signed SBOM (the document in an in-memory BlobStore) re-matched
against the fixture feed without and then with PHX-2026-0001, a fresh scan signed, what the gate then says,
and every image that cannot be re-checked reported with its reason."""

from __future__ import annotations

import datetime
import shutil
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "_core"))
from test_attest_gate import MemoryStore  # noqa: E402
from test_image_signing import MemoryImages, policy_for, sign  # noqa: E402

from ansible_collections.phoenix.immutable.plugins.module_utils import attest as attest_face  # noqa: E402
from ansible_collections.phoenix.immutable.plugins.module_utils import scan, trust  # noqa: E402
from ansible_collections.phoenix.immutable.plugins.module_utils._core.drift import trust_reasons  # noqa: E402
from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import InvalidInput  # noqa: E402
from ansible_collections.phoenix.immutable.plugins.module_utils._core.keys import LocalSigner  # noqa: E402
from ansible_collections.phoenix.immutable.plugins.module_utils._scan import rescan  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"
IMAGE = "ami-0000000000000001"
NOW = datetime.datetime(2026, 12, 3, 12, 0, tzinfo=datetime.UTC)
HIGH = {"max_severity": "high"}


def feed(tmp_path, name, with_openssl):
    folder = tmp_path / name
    folder.mkdir()
    for path in (FIXTURES / "osv").glob("PHX-*.json"):
        if with_openssl or path.name != "PHX-2026-0001.json":
            shutil.copy(path, folder)
    return str(folder)


@pytest.fixture
def key():
    return ed25519.Ed25519PrivateKey.generate()


@pytest.fixture
def world(key, tmp_path):
    """An image signed by ``key`` with its SBOM attested (document in the store) and a clean scan."""
    images, store = MemoryImages(), MemoryStore()
    images.add()
    sign(images, key)
    document = scan.image_sbom(str(FIXTURES / "rootfs" / "debian-12"), "2026-12-01T10:00:00Z", use_syft=False)
    clean = scan.scan_sbom(document, feed(tmp_path, "clean", False))
    attest_face.attest_image(images, IMAGE, LocalSigner(key), sbom=document, vuln_scan=clean, store=store)
    return images, store, document


def run(images, store, key, feed_path, policy=None, **options):
    policy = policy or policy_for(key, vulnerabilities=HIGH)
    image = images.get(IMAGE)
    return rescan.rescan_image(
        policy, images, image, scan.feed_scanner(feed_path), LocalSigner(key), store, now=NOW, **options
    )


def test_a_new_advisory_makes_the_fresh_scan_fail_the_gate(world, key, tmp_path):
    images, store, _document = world
    policy = policy_for(key, vulnerabilities=HIGH)
    assert trust.verify_image(images, IMAGE, policy, now=NOW).verified is True
    done = run(images, store, key, feed(tmp_path, "today", True))
    assert done.status == rescan.RESCANNED and done.changed is True
    assert done.worst == "critical" and done.counts["critical"] == 2  # openssl and libssl3
    assert done.findings_changed is True and done.new_findings == ["PHX-2026-0001"] and done.gone_findings == []
    assert done.previous_counts["critical"] == 0
    verdict = trust.verify_image(images, IMAGE, policy, now=NOW)
    assert verdict.verified is False and verdict.reason == "vulnerable"
    assert [reason for reason, _detail in trust_reasons(verdict)] == ["vulnerable_image"]
    assert "CVE-2026-10001" in trust_reasons(verdict)[0][1]


def test_check_mode_plans_and_writes_nothing(world, key, tmp_path):
    images, store, _document = world
    before = dict(images.get(IMAGE).tags)
    done = run(images, store, key, feed(tmp_path, "today", True), check_mode=True)
    assert done.status == rescan.RESCANNED and done.changed is True and done.worst == "critical"
    assert images.get(IMAGE).tags == before


def test_unchanged_findings_keep_a_recent_scan_only_with_max_age_days(world, key, tmp_path):
    images, store, _document = world
    same = feed(tmp_path, "same", False)
    writes = images.calls["set_tags"]
    assert run(images, store, key, same).status == rescan.RESCANNED  # scan times differ: a new statement
    assert images.calls["set_tags"] == writes + 1
    kept = run(images, store, key, same, max_age_days=1)
    assert kept.status == rescan.KEPT and kept.changed is False and kept.findings_changed is False
    assert images.calls["set_tags"] == writes + 1
    # Different findings are always written, however recent the stored scan.
    assert run(images, store, key, feed(tmp_path, "new", True), max_age_days=1).status == rescan.RESCANNED
    with pytest.raises(InvalidInput, match="max_age_days"):
        rescan.validate_max_age(0)


def test_an_sbom_signed_by_an_untrusted_key_is_not_believed(world, key, tmp_path):
    images, store, document = world
    intruder = ed25519.Ed25519PrivateKey.generate()
    other = MemoryImages()
    other.add()
    sign(other, key)
    attest_face.attest_image(other, IMAGE, LocalSigner(intruder), sbom=document, store=store)
    done = run(other, store, key, feed(tmp_path, "today", True))
    assert done.status == rescan.NOT_RESCANNED and done.reason == rescan.INVALID_SBOM_ATTESTATION
    assert "not signed by a key the policy trusts" in done.message
    assert other.calls["set_tags"] == 2  # the signature and the intruder's SBOM: nothing by the rescan


def test_no_sbom_a_missing_document_and_a_swapped_one_are_reported(world, key, tmp_path):
    images, store, _document = world
    today = feed(tmp_path, "today", True)
    bare = MemoryImages()
    bare.add()
    sign(bare, key)
    assert run(bare, store, key, today).reason == rescan.NO_SBOM
    [digest] = list(store.blobs)
    data = store.blobs.pop(digest)
    missing = run(images, store, key, today)
    assert missing.reason == rescan.SBOM_NOT_STORED and digest in missing.message
    store.blobs[digest] = data.replace(b"3.0.11-1~deb12u2", b"3.0.13-1~deb12u1")  # an SBOM edited in the store
    assert run(images, store, key, today).reason == rescan.SBOM_MISMATCH


def test_the_summary_counts_and_names_the_images_it_could_not_rescan(world, key, tmp_path):
    images, store, _document = world
    done = rescan.rescan_images(
        policy_for(key, vulnerabilities=HIGH),
        images,
        [images.get(IMAGE)],
        ["ami-00000000000000ff"],
        scan.feed_scanner(feed(tmp_path, "today", True)),
        LocalSigner(key),
        store,
        now=NOW,
    )
    result = rescan.summary(done)
    assert result["changed"] is True and result["rescanned"] == [IMAGE] and result["worst"] == "critical"
    assert result["not_rescanned"] == [
        {
            "image_id": "ami-00000000000000ff",
            "reason": "image not found",
            "message": "image ami-00000000000000ff is in use but the cloud has it no more",
        }
    ]
    assert result["counts"]["critical"] == 2 and result["findings_changed"] == [IMAGE]


@pytest.mark.parametrize(
    "levels,worst",
    [
        ([], None),
        (["low"], "low"),
        (["low", "high"], "high"),
        (["unknown", "high"], "unknown"),
        (["unknown", "critical"], "critical"),
    ],
)
def test_worst_of(levels, worst):
    assert rescan.worst_of([{"severity": level} for level in levels]) == worst
