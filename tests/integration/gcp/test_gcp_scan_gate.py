"""Scan attestations on GCP: Cloud Storage as the attestation store (GcsAuditStore as a BlobStore) and the scan
gate of image_verify and blue_green with ``cloud: gcp`` on the GCE emulator.

GCP image labels cannot hold an in-toto statement: the labels keep each attestation's signature and the digest
of its statement, and the statement itself is an object of the store, ``<prefix>sha256/<digest>``. What the
store holds is read back with google-auth against the JSON API (or from the emulator), not with the
collection's code; a stored statement is edited and attestation labels copied behind the collection's back.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from emulators.lifecycle import Keys, write_policy
from harness.attestations import sbom_document, scan_file
from test_gcp_swap import Service

from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import PhoenixError
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.audit_store import GcsAuditStore
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.transformations import api_path

BUCKET = "phoenix-attestations"
STORE = {"container": BUCKET}
HIGH = {"max_severity": "high"}
FUTURE = {"id": "CVE-2026-10001", "reason": "no TLS server in the image", "expires": "2099-12-31"}
PAST = {"id": "CVE-2026-10001", "reason": "no TLS server in the image", "expires": "2026-01-31"}
ATTESTATION_LABELS = "phoenix_-att_-"


def digest_of(data):
    return hashlib.sha256(data).hexdigest()


def test_cloud_storage_keeps_blobs_by_digest_once(gce):
    gce.emu.storage.create_bucket(BUCKET)
    store = GcsAuditStore(gce.connection(storage_endpoint_url=gce.emu.storage_url), BUCKET, prefix="att/")
    data = b'{"a statement": true}'
    digest = digest_of(data)
    assert store.get_blob(digest) is None
    assert store.put_blob(digest, data) == "gs://%s/att/sha256/%s" % (BUCKET, digest) == store.url_of(digest)
    # Again (a lost answer retried, or the same content attested twice): the object is there, nothing changes.
    generation = gce.emu.storage.buckets[BUCKET].live["att/sha256/" + digest]["generation"]
    assert store.put_blob(digest, data) == store.url_of(digest)
    assert gce.emu.storage.buckets[BUCKET].live["att/sha256/" + digest]["generation"] == generation
    assert store.get_blob(digest) == data
    # What the JSON API holds, read through google-auth alone.
    url = "%sstorage/v1/b/%s/o/%s" % (gce.emu.storage_url, BUCKET, "att%2Fsha256%2F" + digest)
    session = store.connection.session
    assert session.get(url, params={"alt": "media"}, timeout=60).content == data
    assert session.get(url, timeout=60).json()["contentType"] == "application/json"
    # Another writer replaced the content: a put refuses to call it the same, and never overwrites it.
    gce.emu.storage.overwrite(BUCKET, "att/sha256/" + digest, b"something else")
    with pytest.raises(PhoenixError) as refused:
        store.put_blob(digest, data)
    assert refused.value.code == "BlobMismatch" and "was not overwritten" in refused.value.message
    assert store.get_blob(digest) == b"something else"  # the caller checks the digest (the gate does)
    # An insert applied whose answer was lost: sent again, it finds its own object.
    lost = b'{"another statement": true}'
    gce.emu.inject_fault("storage.objects.insert", status=503, after_apply=True)
    with gce.emu.counting() as calls:
        assert store.put_blob(digest_of(lost), lost) == store.url_of(digest_of(lost))
    assert calls["storage.objects.insert"] == 2 and calls["storage.objects.get"] == 1
    assert store.get_blob(digest_of(lost)) == lost
    missing = GcsAuditStore(store.connection, "no-such-bucket")
    assert missing.get_blob(digest) is None
    with pytest.raises(PhoenixError, match="does not exist"):
        missing.put_blob(digest, data)


def attest(title, image_id, key, **options):
    return {"name": title, "phoenix.immutable.image_attest": {"image_id": image_id, "key": key, **options}}


def verify(title, image_id, policy, **options):
    return {
        "name": title,
        "phoenix.immutable.image_verify": {"image_id": image_id, "policy": policy, **options},
        "ignore_errors": True,
    }


def test_attested_images_on_gcp_are_gated_by_their_scans_in_cloud_storage(gcp, playbook, tmp_path):
    gcp.emu.storage.create_bucket(BUCKET)
    service = Service(gcp)
    keys = Keys(tmp_path)
    copy_target = api_path(gcp.emu.put_image("phoenix-web-4", family="phoenix-web")["selfLink"])
    untrusted = api_path(gcp.emu.put_image("phoenix-web-5", family="phoenix-web")["selfLink"])
    vulnerable = scan_file(tmp_path, "vulnerable")
    clean = scan_file(tmp_path, "clean", advisories=["PHX-2026-0002", "PHX-2026-0003"])
    sbom = tmp_path / "sbom.json"
    sbom.write_text(json.dumps(sbom_document()))
    policy = {
        name: write_policy(tmp_path, keys, ["build"], [], name="%s.yml" % name, **fields)
        for name, fields in {
            "high": {"vulnerabilities": HIGH},
            "future": {"vulnerabilities": dict(HIGH, allow=[FUTURE])},
            "past": {"vulnerabilities": dict(HIGH, allow=[PAST])},
        }.items()
    }
    policy["channel"] = write_policy(tmp_path, keys, ["build"], ["release"], name="channel.yml", vulnerabilities=HIGH)
    build, intruder = keys.private("build"), keys.private("intruder")

    def promote(title, image_id):
        args = {"image_id": image_id, "channel": "prod", "policy": policy["channel"], "key": keys.private("release")}
        return {"name": title, "phoenix.immutable.image_channel": dict(args, store=STORE), "ignore_errors": True}

    def lookup(title, **store):
        options = "channel='prod', policy='%s', cloud='gcp', detail=true" % policy["channel"]
        if store:
            options += ", store=%r" % (store,)
        expression = "lookup('phoenix.immutable.golden_image', 'phoenix-web', %s)" % options
        return {"name": title, "ansible.builtin.debug": {"msg": "{{ %s }}" % expression}, "ignore_errors": True}

    signs = [
        {"name": "sign %s" % image_id, "phoenix.immutable.image_sign": {"image_id": image_id, "key": build}}
        for image_id in (service.image, service.image_next, copy_target, untrusted)
    ]

    run = playbook(
        signs
        + [
            {**attest("without a store", service.image, build, vuln_scan=vulnerable), "ignore_errors": True},
            attest("vulnerable", service.image, build, vuln_scan=vulnerable, sbom=str(sbom), store=STORE),
            attest("again", service.image, build, vuln_scan=vulnerable, sbom=str(sbom), store=STORE),
            attest("clean", service.image_next, build, vuln_scan=clean, sbom=str(sbom), store=STORE),
            attest("untrusted", untrusted, intruder, vuln_scan=clean, store=STORE),
            verify("high", service.image, policy["high"], store=STORE),
            verify("future", service.image, policy["future"], store=STORE),
            verify("past", service.image, policy["past"], store=STORE),
            verify("no store", service.image, policy["future"]),
            verify("untrusted key", untrusted, policy["high"], store=STORE),
            {
                **service.task(service.image, title="refused", verify=policy["high"], store=STORE),
                "ignore_errors": True,
            },
            service.task(service.image_next, title="clean swap", verify=policy["high"], store=STORE),
            promote("promote vulnerable", service.image),
            promote("promote clean", service.image_next),
            lookup("lookup", **STORE),
            lookup("lookup without a store"),
        ]
    )
    assert run.rc == 0, run.explain()
    refused = run.task("without a store")["result"]
    assert refused["failed"] is True and "needs an attestation store" in refused["msg"]

    attested = run.task("vulnerable")["result"]
    assert [item["kind"] for item in attested["attestations"]] == ["sbom", "vuln"]
    statement = attested["attestations"][1]
    assert statement["statement"]["subject"][0]["name"].startswith("gcp:")
    assert run.task("again")["result"]["changed"] is False
    # The labels hold no statement: the statement is the object named by its digest, and its digest is the
    # sha256 of the bytes stored.
    stored = {blob["what"]: blob for blob in statement["blobs"]}
    assert set(stored) == {"vuln statement"}
    name = "phoenix-attestations/sha256/%s" % statement["statement_digest"]
    assert stored["vuln statement"]["url"] == "gs://%s/%s" % (BUCKET, name)
    content = gcp.emu.storage.content_of(BUCKET, name)
    assert digest_of(content) == statement["statement_digest"] and json.loads(content) == statement["statement"]
    labels = gcp.image_labels("phoenix-web-2")
    assert [key for key in labels if key.startswith(ATTESTATION_LABELS)]
    assert len(labels) <= 64

    high = run.task("high")["result"]
    assert high["reason"] == "vulnerable" and "PHX-2026-0001 (CVE-2026-10001) in libssl3" in high["msg"]
    assert run.task("future")["result"]["verified"] is True
    past = run.task("past")["result"]
    assert past["reason"] == "vulnerable" and "its allow entry expired on 2026-02-01" in past["msg"]
    no_store = run.task("no store")["result"]
    assert no_store["reason"] == "incomplete scan" and "no store was given" in no_store["msg"]
    assert "not signed by a key the policy trusts" in run.task("untrusted key")["result"]["msg"]
    swap = run.task("refused")["result"]
    assert swap["failed"] is True and swap["error"]["code"] == "UntrustedImage"
    assert "CVE-2026-10001" in swap["msg"] and "nothing was created" in swap["msg"]
    # Refused on reads alone: the image, its attestation's statement from the store, the token.
    assert set(swap["api_calls"]) <= {"compute.images.get", "storage.objects.get", "oauth2.token"}
    deployed = run.task("clean swap")["result"]
    assert deployed["verified"] is True and deployed["verification"][0]["attestations"][0]["valid"] is True
    assert service.weights() == {"web-b": 100} and service.groups() == ["web-b"]
    promotion = run.task("promote vulnerable")["result"]
    assert (
        promotion["failed"] is True
        and "refusing to promote" in promotion["msg"]
        and "CVE-2026-10001" in promotion["msg"]
    )
    assert run.task("promote clean")["result"]["changed"] is True
    assert run.task("lookup")["result"]["msg"]["id"] == service.image_next
    unread = run.task("lookup without a store")["result"]
    assert unread["failed"] is True and "incomplete scan" in unread["msg"]

    # Copied onto another image (labels alone, as someone could), and the clean statement edited in the store.
    copied = {key: value for key, value in labels.items() if key.startswith(ATTESTATION_LABELS)}
    gcp.set_image_labels("phoenix-web-4", {**gcp.image_labels("phoenix-web-4"), **copied})
    [clean_statement] = [item for item in run.task("clean")["result"]["attestations"] if item["kind"] == "vuln"]
    clean_name = "phoenix-attestations/sha256/%s" % clean_statement["statement_digest"]
    edited = json.loads(gcp.emu.storage.content_of(BUCKET, clean_name))
    edited["predicate"]["scanner"]["result"]["findings"] = []
    gcp.emu.storage.overwrite(BUCKET, clean_name, json.dumps(edited).encode())
    run = playbook(
        [
            verify("copied", copy_target, policy["future"], store=STORE),
            verify("edited", service.image_next, policy["high"], store=STORE),
        ]
    )
    assert run.rc == 0, run.explain()
    copied_result = run.task("copied")["result"]
    assert copied_result["reason"] == "invalid attestation" and "copied from another image" in copied_result["msg"]
    assert "phoenix-web-2" in copied_result["msg"]
    result = run.task("edited")["result"]
    assert result["reason"] == "invalid attestation" and "it was altered" in result["msg"]

    # The re-check: today's feed (with PHX-2026-0001) against the deployed clean image's SBOM from the store,
    # a fresh scan signed on it (statement in the store, as every GCP attestation), and the serving instances
    # drift as vulnerable_image. Its edited scan above is not read: only the signed SBOM is.
    recheck = playbook(
        [
            {
                "name": "rescan",
                "phoenix.immutable.image_rescan": {
                    "service": "web",
                    "policy": policy["high"],
                    "osv": str(tmp_path / "feed-vulnerable"),
                    "key": build,
                    "store": STORE,
                },
            },
            {
                "name": "drift",
                "phoenix.immutable.fleet_drift": {"service": "web", "policy": policy["high"], "store": STORE},
            },
        ]
    )
    assert recheck.rc == 0, recheck.explain()
    rescanned = {entry["image_id"]: entry for entry in recheck.task("rescan")["result"]["images"]}
    assert rescanned[service.image_next]["worst"] == "critical"
    assert rescanned[service.image_next]["status"] == "rescanned" and rescanned[service.image_next]["changed"] is True
    drifted = recheck.task("drift")["result"]
    serving = [entry for entry in drifted["instances"] if entry["image_id"] == service.image_next]
    assert serving and all(entry["reasons"] == ["vulnerable_image"] for entry in serving), drifted["instances"]
    assert drifted["counts"]["vulnerable_image"] == len(serving)
