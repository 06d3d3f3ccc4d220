"""phoenix.immutable.image_attest and the trust policy's scan gates through ansible-playbook on moto.

A scan of the fixture root (tests/fixtures/rootfs/debian-12) against the fixture OSV feed finds
PHX-2026-0001 (CVE-2026-10001, critical) in openssl/libssl3; the gate with max_severity high refuses it
naming the CVE. Attestation tags are read, copied and edited here with boto3 and a decoder written from
the format, not with the collection's code.
"""

from __future__ import annotations

import base64
import json

import pytest
from emulators.lifecycle import Keys, make_images, write_policy
from harness.attestations import attestation_tags, put_tags, read_envelope, sbom_document, scan_file, write_envelope

from ansible_collections.phoenix.immutable.plugins.module_utils import scan
from ansible_collections.phoenix.immutable.plugins.module_utils._scan.attestations import vuln_predicate

HIGH = {"max_severity": "high"}
FUTURE = {"id": "CVE-2026-10001", "reason": "no TLS server in the image", "expires": "2099-12-31"}
PAST = {"id": "CVE-2026-10001", "reason": "no TLS server in the image", "expires": "2026-01-31"}


@pytest.fixture
def keys(tmp_path):
    return Keys(tmp_path)


def sign(image_id, keys, key="build"):
    return {
        "name": "sign %s" % image_id,
        "phoenix.immutable.image_sign": {"image_id": image_id, "key": keys.private(key)},
    }


def attest(title, image_id, keys, key="build", **options):
    return {
        "name": title,
        "phoenix.immutable.image_attest": {"image_id": image_id, "key": keys.private(key), **options},
        "ignore_errors": True,
    }


def verify(title, image_id, policy, **options):
    return {
        "name": title,
        "phoenix.immutable.image_verify": {"image_id": image_id, "policy": policy, **options},
        "ignore_errors": True,
    }


def policy_file(tmp_path, keys, name, **fields):
    return write_policy(tmp_path, keys, trusted=["build"], promoters=["release"], name=name, **fields)


def test_a_vulnerable_scan_is_refused_naming_the_cve_and_allow_entries_decide(aws, playbook, keys, tmp_path):
    made = make_images(aws, ["web-1", "web-2"], [2, 1])
    vulnerable = scan_file(tmp_path, "vulnerable")
    clean = scan_file(tmp_path, "clean", advisories=["PHX-2026-0002", "PHX-2026-0003"])
    sbom = tmp_path / "sbom.json"
    sbom.write_text(json.dumps(sbom_document()))
    policies = {
        "high": policy_file(tmp_path, keys, "high.yml", vulnerabilities=HIGH),
        "future": policy_file(tmp_path, keys, "future.yml", vulnerabilities=dict(HIGH, allow=[FUTURE])),
        "past": policy_file(tmp_path, keys, "past.yml", vulnerabilities=dict(HIGH, allow=[PAST])),
        "plain": policy_file(tmp_path, keys, "plain.yml"),
    }
    web1, web2 = made["web-1"], made["web-2"]
    run = playbook(
        [
            sign(web1, keys),
            sign(web2, keys),
            {**attest("plan", web1, keys, vuln_scan=vulnerable), "check_mode": True},
            attest("attest", web1, keys, vuln_scan=vulnerable, sbom=str(sbom)),
            attest("again", web1, keys, vuln_scan=vulnerable, sbom=str(sbom)),
            attest("clean", web2, keys, vuln_scan=clean),
        ]
        + [verify(name, web1, path) for name, path in policies.items()]
        + [verify("clean passes", web2, policies["high"])]
    )
    assert run.rc == 0, run.explain()
    plan = run.task("plan")["result"]
    assert plan["changed"] is True and plan["attestations"][0]["form"] == "full"
    attested, again = run.task("attest")["result"], run.task("again")["result"]
    assert attested["changed"] is True and [item["kind"] for item in attested["attestations"]] == ["sbom", "vuln"]
    statement = attested["attestations"][1]["statement"]
    assert statement["subject"][0]["name"] == "aws:%s:%s" % (aws.seed.region, web1)
    assert statement["predicateType"] == "https://cosign.sigstore.dev/attestation/vuln/v1"
    assert again["changed"] is False and again["actions"] == []
    stored = attestation_tags(aws, web1)
    assert stored and all(key.startswith(("phoenix:att:vuln:", "phoenix:att:sbom:")) for key in stored)
    envelope = read_envelope(attestation_tags(aws, web1, "vuln:"))
    assert json.loads(base64.b64decode(envelope["payload"])) == statement

    high = run.task("high")["result"]
    assert high["failed"] is True and high["reason"] == "vulnerable"
    assert (
        "PHX-2026-0001 (CVE-2026-10001) in libssl3 3.0.11-1~deb12u2 is critical, above max_severity high" in high["msg"]
    )
    assert "fixed in 3.0.13-1~deb12u1" in high["msg"]
    assert run.task("future")["result"]["verified"] is True
    past = run.task("past")["result"]
    assert past["failed"] is True and "its allow entry expired on 2026-02-01" in past["msg"]
    assert run.task("plain")["result"]["verified"] is True
    assert run.task("clean passes")["result"]["verified"] is True


def test_copied_edited_untrusted_and_missing_attestations_are_refused(aws, playbook, keys, tmp_path):
    made = make_images(aws, ["web-1", "web-2", "web-3", "web-4", "web-5"], [5, 4, 3, 2, 1])
    clean = scan_file(tmp_path, "clean", advisories=["PHX-2026-0003"])
    policy = policy_file(tmp_path, keys, "high.yml", vulnerabilities=HIGH)
    first = playbook(
        [sign(image_id, keys) for image_id in made.values()]
        + [
            attest("source", made["web-1"], keys, vuln_scan=clean),
            attest("edited", made["web-2"], keys, vuln_scan=clean),
            attest("untrusted", made["web-3"], keys, key="intruder", vuln_scan=clean),
        ]
    )
    assert first.rc == 0, first.explain()
    put_tags(aws, made["web-4"], attestation_tags(aws, made["web-1"]))  # copied onto another image
    tags = attestation_tags(aws, made["web-2"])
    envelope = read_envelope(tags)
    statement = json.loads(base64.b64decode(envelope["payload"]))
    statement["predicate"]["scanner"]["result"]["findings"][0]["severity"] = "medium"
    envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    prefix = next(iter(tags)).rsplit(":", 1)[0] + ":"
    put_tags(aws, made["web-2"], write_envelope(prefix, envelope), remove=list(tags))
    run = playbook([verify(name, image_id, policy) for name, image_id in made.items()])
    assert run.rc == 0, run.explain()
    results = {name: run.task(name)["result"] for name in made}
    assert results["web-1"]["verified"] is True
    assert results["web-2"]["reason"] == "invalid attestation" and "does not verify" in results["web-2"]["msg"]
    assert "not signed by a key the policy trusts" in results["web-3"]["msg"]
    assert results["web-4"]["reason"] == "invalid attestation"
    assert "copied from another image" in results["web-4"]["msg"] and made["web-1"] in results["web-4"]["msg"]
    assert results["web-5"]["reason"] == "no scan" and "no vulnerability scan attestation" in results["web-5"]["msg"]


def test_a_scan_too_large_for_the_tags_is_a_signed_summary_with_the_full_report_in_s3(aws, playbook, keys, tmp_path):
    image_id = make_images(aws, ["web-1"], [1])["web-1"]
    aws.client("s3").create_bucket(Bucket="attestations")
    findings = [
        {
            "id": "PHX-LOW-%04d" % number,
            "aliases": ["CVE-2026-%05d" % (20000 + number)],
            "package": "pkg%d" % number,
            "installed_version": "1.%d" % number,
            "fixed_version": "2.%d" % number,
            "severity": "low",
            "summary": "a low finding with a long summary %d" % number,
        }
        for number in range(150)
    ] + [{"id": "PHX-2026-0001", "aliases": ["CVE-2026-10001"], "package": "openssl", "severity": "critical"}]
    predicate = vuln_predicate(findings, scan.OSV_SCANNER, "2026-12-01T10:00:00Z", "2099-01-01T00:00:00Z")
    store = {"container": "attestations"}
    run = playbook(
        [
            sign(image_id, keys),
            attest("attest", image_id, keys, vuln_scan=predicate, store=store),
            verify("high", image_id, policy_file(tmp_path, keys, "high.yml", vulnerabilities=HIGH)),
            verify("low", image_id, policy_file(tmp_path, keys, "low.yml", vulnerabilities={"max_severity": "none"})),
            verify(
                "low with store",
                image_id,
                policy_file(tmp_path, keys, "low2.yml", vulnerabilities={"max_severity": "none"}),
                store=store,
            ),
        ]
    )
    assert run.rc == 0, run.explain()
    [outcome] = run.task("attest")["result"]["attestations"]
    assert outcome["form"] == "summary" and outcome["floor"] != "low"
    [blob] = outcome["blobs"]
    assert blob["url"] == "s3://attestations/phoenix-attestations/sha256/%s" % outcome["predicate_digest"]
    body = aws.client("s3").get_object(Bucket="attestations", Key=blob["url"].split("/", 3)[3])["Body"].read()
    assert json.loads(body) == predicate
    assert len(attestation_tags(aws, image_id)) <= 10
    assert "PHX-2026-0001 (CVE-2026-10001) in openssl" in run.task("high")["result"]["msg"]
    low = run.task("low")["result"]
    assert low["reason"] == "incomplete scan" and "no attestation store was given" in low["msg"]
    with_store = run.task("low with store")["result"]
    assert with_store["reason"] == "vulnerable" and "PHX-LOW-0000" in with_store["msg"]


def test_promotion_is_refused_and_the_lookup_skips_the_vulnerable_image(aws, playbook, keys, tmp_path):
    made = make_images(aws, ["web-1", "web-2"], [2, 1])
    vulnerable = scan_file(tmp_path, "vulnerable")
    clean = scan_file(tmp_path, "clean", advisories=["PHX-2026-0003"])
    plain = policy_file(tmp_path, keys, "plain.yml")
    gated = policy_file(tmp_path, keys, "gated.yml", vulnerabilities=HIGH)

    def promote(title, image_id, policy):
        return {
            "name": title,
            "phoenix.immutable.image_channel": {
                "image_id": image_id,
                "channel": "prod",
                "policy": policy,
                "key": keys.private("release"),
            },
            "ignore_errors": True,
        }

    lookup = "lookup('phoenix.immutable.golden_image', 'web', channel='prod', policy='%s', detail=true)" % gated
    run = playbook(
        [sign(made["web-1"], keys), sign(made["web-2"], keys)]
        + [
            attest("clean", made["web-1"], keys, vuln_scan=clean),
            attest("bad", made["web-2"], keys, vuln_scan=vulnerable),
        ]
        + [
            promote("refused", made["web-2"], gated),
            promote("web-1", made["web-1"], gated),
            promote("web-2 before the gate", made["web-2"], plain),
            {"name": "lookup", "ansible.builtin.debug": {"msg": "{{ %s }}" % lookup}},
        ]
    )
    assert run.rc == 0, run.explain()
    refused = run.task("refused")["result"]
    assert refused["failed"] is True and "refusing to promote" in refused["msg"]
    assert "CVE-2026-10001" in refused["msg"]
    assert run.task("web-1")["result"]["changed"] is True
    model = run.task("lookup")["result"]["msg"]
    assert model["id"] == made["web-1"]
    [skipped] = model["skipped"]
    assert skipped["image_id"] == made["web-2"] and skipped["reason"] == "vulnerable"
    assert "CVE-2026-10001" in skipped["detail"]
