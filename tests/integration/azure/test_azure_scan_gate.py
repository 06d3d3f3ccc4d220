"""Scan attestations on Azure: Blob Storage as the attestation store (BlobAuditStore as a BlobStore) and the scan
gate of image_verify and blue_green with ``cloud: azure`` on the ARM emulator and its Blob Storage.

Azure tags hold a signed statement whole (50 tags of 256 characters, as on AWS): attestations are stored in the
image version's tags, and the store receives the SBOM document and the full report of a summarised scan. Tags
are read, copied and edited with the compute SDK and a decoder written from the format (tests/harness).
"""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from azure.mgmt.compute.models import GalleryImageVersionUpdate
from azure_data_support import azure_hosts_server_fixture, data_planes_fixture  # noqa: F401  # pylint: disable=unused-import
from azure_names import GALLERY, RESOURCE_GROUP
from emulators.arm_seed import IMAGE, gallery_images
from emulators.lifecycle import Keys, write_policy
from harness import run_playbook
from harness.attestations import read_envelope, sbom_document, scan_file, write_envelope
from test_azure_swap import Service

from ansible_collections.phoenix.immutable.plugins.module_utils import scan
from ansible_collections.phoenix.immutable.plugins.module_utils._azure.audit_store import BlobAuditStore
from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import PhoenixError
from ansible_collections.phoenix.immutable.plugins.module_utils._scan.attestations import vuln_predicate

CONTAINER = "attestations"
URL = "https://phoenixaudit.blob.core.windows.net/" + CONTAINER
STORE = {"container": URL}
# The instances blue_green made for service web (the scan-gate service's scale sets name no subnet to scope by).
SERVED = {"phoenix:rollout:service": "web"}
HIGH = {"max_severity": "high"}
FUTURE = {"id": "CVE-2026-10001", "reason": "no TLS server in the image", "expires": "2099-12-31"}
PAST = {"id": "CVE-2026-10001", "reason": "no TLS server in the image", "expires": "2026-01-31"}
ATT_PREFIX = "phoenix:att:"
AZURE_GROUP = "group/phoenix.immutable.azure"


def digest_of(data):
    return hashlib.sha256(data).hexdigest()


def test_blob_storage_keeps_blobs_by_digest_once(data_planes, arm):
    data_planes.blob.create_container(CONTAINER)
    store = BlobAuditStore(arm.connection(), URL, prefix="att/")
    data = b'{"a report": true}'
    digest = digest_of(data)
    assert store.get_blob(digest) is None
    assert store.put_blob(digest, data) == "%s/att/sha256/%s" % (URL, digest) == store.url_of(digest)
    with data_planes.blob.counting() as calls:
        assert store.put_blob(digest, data) == store.url_of(digest)  # again, or a lost answer retried
    assert calls["BlockBlob_Upload"] == 1 and calls["Blob_GetProperties"] == 1
    assert store.get_blob(digest) == data
    # What Blob Storage holds, read through azure-storage-blob alone.
    blob = data_planes.blob_service().get_container_client(CONTAINER).get_blob_client("att/sha256/" + digest)
    assert blob.download_blob().readall() == data
    assert blob.get_blob_properties().content_settings.content_type == "application/json"
    # Another writer replaced the content: a put refuses to call it the same, and never overwrites it.
    data_planes.blob.overwrite(CONTAINER, "att/sha256/" + digest, b"something else")
    with pytest.raises(PhoenixError) as refused:
        store.put_blob(digest, data)
    assert refused.value.code == "BlobMismatch" and "was not overwritten" in refused.value.message
    assert store.get_blob(digest) == b"something else"  # the caller checks the digest (the gate does)
    # An upload applied whose answer was lost: sent again, it finds its own blob.
    lost = b'{"another report": true}'
    data_planes.blob.inject_fault("BlockBlob_Upload", status=503, after_apply=True, retry_after=0)
    with data_planes.blob.counting() as calls:
        assert store.put_blob(digest_of(lost), lost) == store.url_of(digest_of(lost))
    assert calls["BlockBlob_Upload"] == 2 and calls["Blob_GetProperties"] == 1
    assert store.get_blob(digest_of(lost)) == lost
    with pytest.raises(PhoenixError, match="does not exist"):
        BlobAuditStore(arm.connection(), URL + "-missing").put_blob(digest, data)


def version_of(image_id):
    return image_id.rsplit("/", 1)[1]


def tags_of(azure, image_id):
    return dict(azure.compute().gallery_image_versions.get(RESOURCE_GROUP, GALLERY, IMAGE, version_of(image_id)).tags)


def set_tags(azure, image_id, tags):
    versions = azure.compute().gallery_image_versions
    versions.begin_update(
        RESOURCE_GROUP, GALLERY, IMAGE, version_of(image_id), GalleryImageVersionUpdate(tags=tags)
    ).result()


def attest(title, image_id, key, **options):
    return {"name": title, "phoenix.immutable.image_attest": {"image_id": image_id, "key": key, **options}}


def verify(title, image_id, policy, **options):
    return {
        "name": title,
        "phoenix.immutable.image_verify": {"image_id": image_id, "policy": policy, **options},
        "ignore_errors": True,
    }


def test_attested_images_on_azure_are_gated_by_their_scans(azure, data_planes, tmp_path):
    data_planes.blob.create_container(CONTAINER)
    service = Service(azure)
    copy_target, edited, untrusted, large = gallery_images(azure, RESOURCE_GROUP, ("1.0.3", "1.0.4", "1.0.5", "1.0.6"))
    env = {**azure.env(), **data_planes.hosts.env()}

    def playbook(tasks):
        return run_playbook(tasks, env=env, module_defaults={AZURE_GROUP: {"cloud": "azure"}})

    keys = Keys(tmp_path)
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
            "none": {"vulnerabilities": {"max_severity": "none"}},
        }.items()
    }
    # Too large for the tags: stored as its signed summary, the full report in the container.
    findings = [
        {
            "id": "PHX-LOW-%04d" % number,
            "package": "pkg%d" % number,
            "installed_version": "1.%d" % number,
            "fixed_version": "2.%d" % number,
            "severity": "low",
            "summary": "a low finding with a long summary %d" % number,
        }
        for number in range(150)
    ]
    large_scan = vuln_predicate(findings, scan.OSV_SCANNER, "2026-12-01T10:00:00Z", "2099-01-01T00:00:00Z")
    build, intruder = keys.private("build"), keys.private("intruder")
    signs = [
        {"name": "sign %s" % image_id, "phoenix.immutable.image_sign": {"image_id": image_id, "key": build}}
        for image_id in (service.image, service.image_next, copy_target, edited, untrusted, large)
    ]
    run = playbook(
        signs
        + [
            attest("vulnerable", service.image, build, vuln_scan=vulnerable, sbom=str(sbom), store=STORE),
            attest("again", service.image, build, vuln_scan=vulnerable, sbom=str(sbom), store=STORE),
            attest("clean", service.image_next, build, vuln_scan=clean, sbom=str(sbom), store=STORE),
            attest("to edit", edited, build, vuln_scan=clean),
            attest("untrusted", untrusted, intruder, vuln_scan=clean),
            verify("high", service.image, policy["high"]),
            verify("future", service.image, policy["future"]),
            verify("past", service.image, policy["past"]),
            attest("large", large, build, vuln_scan=large_scan, store=STORE),
            verify("summary without the store", large, policy["none"]),
            verify("summary with the store", large, policy["none"], store=STORE),
            {**service.task(service.image, title="refused", verify=policy["high"], store=STORE), "ignore_errors": True},
            service.task(service.image_next, title="clean swap", verify=policy["high"], store=STORE),
        ]
    )
    assert run.rc == 0, run.explain()
    attested = run.task("vulnerable")["result"]
    assert [item["kind"] for item in attested["attestations"]] == ["sbom", "vuln"]
    sbom_outcome, vuln_outcome = attested["attestations"]
    assert vuln_outcome["statement"]["subject"][0]["name"] == "azure:%s:%s" % (azure.emu.location, service.image)
    assert run.task("again")["result"]["changed"] is False
    # The statements are in the tags (as on AWS); the SBOM document itself is in the store, by its digest.
    tags = tags_of(azure, service.image)
    stored = {key: value for key, value in tags.items() if key.startswith(ATT_PREFIX + "vuln:")}
    envelope = read_envelope(stored)
    assert json.loads(base64.b64decode(envelope["payload"])) == vuln_outcome["statement"]
    assert len(tags) <= 50 and all(len(value) <= 256 for value in tags.values())
    [blob] = sbom_outcome["blobs"]
    assert blob["what"] == "sbom" and blob["url"] == "%s/phoenix-attestations/sha256/%s" % (URL, blob["digest"])
    content = data_planes.blob.content_of(CONTAINER, "phoenix-attestations/sha256/" + blob["digest"])
    assert digest_of(content) == blob["digest"] and json.loads(content)["bomFormat"] == "CycloneDX"
    assert sbom_outcome["statement"]["predicate"]["sbom"]["uri"] == blob["url"]

    [summarised] = run.task("large")["result"]["attestations"]
    assert summarised["form"] == "summary"
    report = data_planes.blob.content_of(CONTAINER, "phoenix-attestations/sha256/" + summarised["predicate_digest"])
    assert json.loads(report) == large_scan
    unread = run.task("summary without the store")["result"]
    assert unread["reason"] == "incomplete scan" and "no attestation store was given" in unread["msg"]
    read = run.task("summary with the store")["result"]
    assert read["reason"] == "vulnerable" and "PHX-LOW-0000" in read["msg"]
    high = run.task("high")["result"]
    assert high["reason"] == "vulnerable" and "PHX-2026-0001 (CVE-2026-10001) in libssl3" in high["msg"]
    assert run.task("future")["result"]["verified"] is True
    past = run.task("past")["result"]
    assert past["reason"] == "vulnerable" and "its allow entry expired on 2026-02-01" in past["msg"]
    swap = run.task("refused")["result"]
    assert swap["failed"] is True and swap["error"]["code"] == "UntrustedImage"
    assert "CVE-2026-10001" in swap["msg"] and "nothing was created" in swap["msg"]
    # Refused on reads alone (and the token).
    assert all(call.startswith("GET ") or call == "POST identity/token" for call in swap["api_calls"])
    deployed = run.task("clean swap")["result"]
    assert deployed["verified"] is True and deployed["verification"][0]["attestations"][0]["valid"] is True
    assert service.groups() == ["web-b", "web-base"] and service.in_pool() == {"web-b": 2}

    # Copied onto another image, and one image's statement edited in its tags behind the collection's back.
    copied = {key: value for key, value in tags.items() if key.startswith(ATT_PREFIX)}
    set_tags(azure, copy_target, {**tags_of(azure, copy_target), **copied})
    target_tags = tags_of(azure, edited)
    chunks = {key: value for key, value in target_tags.items() if key.startswith(ATT_PREFIX + "vuln:")}
    envelope = read_envelope(chunks)
    statement = json.loads(base64.b64decode(envelope["payload"]))
    statement["predicate"]["scanner"]["result"]["findings"] = []
    envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    prefix = next(iter(chunks)).rsplit(":", 1)[0] + ":"
    kept = {key: value for key, value in target_tags.items() if key not in chunks}
    set_tags(azure, edited, {**kept, **write_envelope(prefix, envelope)})
    run = playbook(
        [
            verify("copied", copy_target, policy["future"]),
            verify("edited", edited, policy["high"]),
            verify("untrusted", untrusted, policy["high"]),
        ]
    )
    assert run.rc == 0, run.explain()
    copied_result = run.task("copied")["result"]
    assert copied_result["reason"] == "invalid attestation" and "copied from another image" in copied_result["msg"]
    assert service.image in copied_result["msg"]
    result = run.task("edited")["result"]
    assert result["reason"] == "invalid attestation" and "does not verify (it was altered)" in result["msg"]
    assert "not signed by a key the policy trusts" in run.task("untrusted")["result"]["msg"]

    # The re-check: today's feed (with PHX-2026-0001) against the deployed clean image's SBOM from the
    # container, a fresh scan signed in its tags, and the serving instances drift as vulnerable_image.
    recheck = playbook(
        [
            {
                "name": "rescan",
                "phoenix.immutable.image_rescan": {
                    "tags": SERVED,
                    "policy": policy["high"],
                    "osv": str(tmp_path / "feed-vulnerable"),
                    "key": build,
                    "store": STORE,
                },
            },
            {
                "name": "drift",
                "phoenix.immutable.fleet_drift": {"tags": SERVED, "policy": policy["high"], "store": STORE},
            },
        ]
    )
    assert recheck.rc == 0, recheck.explain()
    rescanned = {entry["image_id"]: entry for entry in recheck.task("rescan")["result"]["images"]}
    assert rescanned[service.image_next]["worst"] == "critical"
    assert "PHX-2026-0001" in rescanned[service.image_next]["new_findings"]
    drifted = recheck.task("drift")["result"]
    serving = [entry for entry in drifted["instances"] if entry["image_id"] == service.image_next]
    assert serving and all(entry["reasons"] == ["vulnerable_image"] for entry in serving), drifted["instances"]
    assert drifted["counts"]["vulnerable_image"] == len(serving)
