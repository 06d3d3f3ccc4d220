"""The fleet re-check on moto: image_rescan + fleet_drift catch a new advisory on a deployed image, and
playbooks/remediate.yml replaces the instances through a swap to a clean new image.

The deployed image carries an SBOM of tests/fixtures/rootfs/debian-12 (the document in an S3 store) and a clean
scan of it against the fixture feed without PHX-2026-0001. "Today's" feed has it (CVE-2026-10001, critical, in
openssl/libssl3 3.0.11-1~deb12u2). The re-baked image stands in for a bake from a patched base: its SBOM is of
the same root with openssl at the fixed 3.0.13-1~deb12u1, scanned clean against today's feed. An SBOM attestation
signed by an untrusted key, and one copied from another image, are refused by the re-check.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from emulators.drift import adopt, group_health
from emulators.fleet import seed_service
from emulators.lifecycle import Keys, write_policy
from harness.attestations import FIXTURES, attestation_tags, put_tags

from ansible_collections.phoenix.immutable.plugins.module_utils import scan

PLAYBOOKS = Path(__file__).resolve().parents[3] / "playbooks"
STORE = {"container": "attestations"}
TODAY = "2026-12-01T10:00:00Z"


def feed(tmp_path, name, with_openssl):
    folder = tmp_path / name
    folder.mkdir()
    for path in (FIXTURES / "osv").glob("PHX-*.json"):
        if with_openssl or path.name != "PHX-2026-0001.json":
            shutil.copy(path, folder)
    return str(folder)


def sbom_and_scan(tmp_path, name, feed_path, patched=False):
    """Paths of the SBOM of the fixture root (openssl patched or not) and of its scan against ``feed_path``."""
    root = tmp_path / ("root-" + name)
    shutil.copytree(FIXTURES / "rootfs" / "debian-12", root)
    if patched:
        status = root / "var" / "lib" / "dpkg" / "status"
        status.write_text(status.read_text().replace("3.0.11-1~deb12u2", "3.0.13-1~deb12u1"))
    document = scan.image_sbom(str(root), TODAY, use_syft=False)
    sbom, scanned = tmp_path / ("%s.cdx.json" % name), tmp_path / ("%s.scan.json" % name)
    sbom.write_text(json.dumps(document))
    scanned.write_text(json.dumps(scan.scan_sbom(document, feed_path)["predicate"]))
    return str(sbom), str(scanned)


def task(title, module, **options):
    return {"name": title, "phoenix.immutable.%s" % module: options}


def running_images(aws, ids):
    found = set()
    for reservation in aws.client("ec2").describe_instances(InstanceIds=ids)["Reservations"]:
        found.update(instance["ImageId"] for instance in reservation["Instances"])
    return found


def test_a_new_advisory_is_caught_and_remediated_through_a_new_image(aws, playbook, golden, tmp_path):
    keys = Keys(tmp_path)
    build, intruder = keys.private("build"), keys.private("intruder")
    policy = write_policy(tmp_path, keys, trusted=["build"], promoters=[], vulnerabilities={"max_severity": "high"})
    aws.client("s3").create_bucket(Bucket=STORE["container"])
    yesterday, today = feed(tmp_path, "feed-yesterday", False), feed(tmp_path, "feed-today", True)
    sbom, clean = sbom_and_scan(tmp_path, "deployed", yesterday)
    patched_sbom, patched_scan = sbom_and_scan(tmp_path, "rebaked", today, patched=True)
    ec2 = aws.client("ec2")
    untrusted, copied = (
        ec2.create_image(InstanceId=aws.seed.builder_instance_id, Name=name)["ImageId"]
        for name in ("web-untrusted", "web-copied")
    )
    seed = seed_service(aws.client, golden.first, aws.seed.subnet_ids, aws.seed.vpc_id, size=2)
    adopt(aws, seed)
    members = group_health(aws, seed.group_name)[2]

    def attest(title, image_id, key=build, **options):
        return task(title, "image_attest", image_id=image_id, key=key, store=STORE, **options)

    def rescan(title, **options):
        return task(title, "image_rescan", policy=policy, osv=today, key=build, store=STORE, **options)

    def drift(title):
        return task(title, "fleet_drift", service="web", policy=policy, store=STORE)

    setup = playbook(
        [task("sign %s" % image, "image_sign", image_id=image, key=build) for image in (golden.first, golden.second)]
        + [
            attest("attest deployed", golden.first, sbom=sbom, vuln_scan=clean),
            attest("attest rebaked", golden.second, sbom=patched_sbom, vuln_scan=patched_scan),
            attest("attest untrusted", untrusted, key=intruder, sbom=sbom),
            drift("drift before"),
            {**rescan("plan", service="web"), "check_mode": True},
        ]
    )
    assert setup.rc == 0, setup.explain()
    before = setup.task("drift before")["result"]
    assert before["counts"]["vulnerable_image"] == 0 and before["images"][golden.first]["verified"] is True
    plan = setup.task("plan")["result"]
    assert plan["changed"] is True and plan["rescanned"] == [golden.first] and plan["worst"] == "critical"
    vuln_tags = attestation_tags(aws, golden.first, "vuln:")
    # The SBOM attestation of the deployed image copied onto another: about the wrong descriptor.
    put_tags(aws, copied, attestation_tags(aws, golden.first, "sbom:"))
    aws.emu.reset_calls()

    # The AWX schedule's playbook: the re-check, then the drift role's report with the same policy and store.
    run = playbook(
        PLAYBOOKS / "rescan.yml",
        extra_vars={
            "rescan_region": aws.seed.region,
            "rescan_policy": policy,
            "rescan_osv": today,
            "rescan_store": STORE["container"],
            "rescan_key": build,
            "rescan_service": "web",
        },
    )
    assert run.rc == 0, run.explain()
    strict = {**rescan("strict", image_ids=[untrusted, golden.first], fail_on_unscannable=True), "ignore_errors": True}
    forged_run = playbook([rescan("forged", image_ids=[untrusted, copied]), {**strict, "check_mode": True}])
    assert forged_run.rc == 0, forged_run.explain()
    assert attestation_tags(aws, golden.first, "vuln:") != vuln_tags  # check mode had written nothing; this did
    rescanned = run.task("Re-check every image in use and sign a fresh scan on each")["result"]
    [image] = [entry for entry in rescanned["images"] if entry["image_id"] == golden.first]
    assert image["status"] == "rescanned" and image["changed"] is True and image["worst"] == "critical"
    assert image["new_findings"] == ["PHX-2026-0001"] and image["previous_counts"]["critical"] == 0
    assert sorted(image["instances"]) == sorted(members)
    # The seed's builder runs in the service's subnets on an image with no SBOM: reported, not skipped.
    assert {"image_id": aws.seed.base_image_id, "reason": "no sbom"}.items() <= next(
        item for item in rescanned["not_rescanned"] if item["image_id"] == aws.seed.base_image_id
    ).items()
    calls = rescanned["api_calls"]
    assert calls["s3:GetObject"] == 1 and calls["ec2:CreateTags"] == 1, calls
    forged = {item["image_id"]: item for item in forged_run.task("forged")["result"]["not_rescanned"]}
    assert forged[untrusted]["reason"] == "invalid sbom attestation"
    assert "not signed by a key the policy trusts" in forged[untrusted]["message"]
    assert (
        forged[copied]["reason"] == "invalid sbom attestation"
        and "copied from another image" in forged[copied]["message"]
    )
    assert not forged_run.task("forged")["result"]["rescanned"]
    failed = forged_run.task("strict")["result"]
    assert failed["failed"] is True and failed["error"]["code"] == "NotRescanned"
    assert "%s: invalid sbom attestation" % untrusted in failed["msg"] and failed["rescanned"] == [golden.first]
    after = run.task("phoenix.immutable.drift : Publish the result as drift_result")["result"]["ansible_facts"][
        "drift_result"
    ]
    found = {entry["id"]: entry for entry in after["instances"]}
    for member in members:
        assert found[member]["reasons"] == ["vulnerable_image"], found[member]
        assert "CVE-2026-10001" in found[member]["details"][0]
    assert after["counts"]["vulnerable_image"] == 2 and after["replaced"] == []
    assert sorted(after["not_replaced"]) == sorted(members)  # a replacement would run the same image

    remediated = playbook(
        PLAYBOOKS / "remediate.yml",
        extra_vars={
            "remediate_region": aws.seed.region,
            "remediate_policy": policy,
            "remediate_osv": today,
            "remediate_store": STORE["container"],
            "remediate_key": build,
            "remediate_service": "web",
            "remediate_services": {
                "web": {
                    "listener_arn": seed.listener_arn,
                    "launch_template": seed.launch_template_name,
                    "image_id": golden.second,
                }
            },
            "deploy_strategy": "all_at_once",
            "deploy_step_seconds": 0,
            "deploy_keep_blue_seconds": 0,
            "deploy_health": {"interval": 0.2},
        },
    )
    assert remediated.rc == 0, remediated.explain()
    final = remediated.task("Check the fleet again")["result"]
    assert final["counts"]["vulnerable_image"] == 0, final["counts"]
    serving = [entry for entry in final["instances"] if entry["group"] not in (None, seed.group_name)]
    assert serving and all(entry["image_id"] == golden.second and entry["compliant"] for entry in serving)
    assert running_images(aws, [entry["id"] for entry in serving]) == {golden.second}
    assert not any(entry["id"] in members and entry["state"] == "running" for entry in final["instances"])
