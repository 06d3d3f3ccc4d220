"""GCE images through the collection's modules (image, image_info, image_sign, image_verify) on the GCE emulator.

Each playbook runs the real modules with ``cloud: gcp`` against the emulator of this test (its Compute and
Cloud KMS endpoints and a service-account key it knows), and the tests read what was written back through
google-auth (a GcpConnection and the Compute functions), not through the backend under test. The last tests
drive the backend itself, for what a module cannot reach yet (ids longer than a label, a lost answer).
"""

from __future__ import annotations

import pytest
import yaml

from ansible_collections.phoenix.immutable.plugins.module_utils._core import tags as tagging
from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import InvalidInput, PhoenixError
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp import compute, fleet_api
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.codec import GCP_CODEC
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.images import GcpImageBackend

SIG_PREFIX = "phoenix_-sig_-"
CLAIMS = {"tests": "passed", "scan": "passed", "git_revision": "4f2a9c1", "builder": "ci"}
SOURCE_IMAGE = GCP_CODEC.key(tagging.SOURCE_IMAGE)
SOURCE_INSTANCE = GCP_CODEC.key(tagging.SOURCE_INSTANCE)


def signature_labels(gce, name):
    return {key: value for key, value in gce.image_labels(name).items() if key.startswith(SIG_PREFIX)}


def make_instance(gce, name, source_image, stop=False):
    """An instance booted from ``source_image`` (an image or family path); its id."""
    connection = gce.connection()
    zone = gce.seed.zone
    body = {
        "name": name,
        "machineType": "zones/%s/machineTypes/e2-small" % zone,
        "disks": [{"boot": True, "autoDelete": True, "initializeParams": {"sourceImage": source_image}}],
    }
    compute.insert_instance(connection, gce.seed.project, zone, body)
    gce.emu.settle()
    if stop:
        compute.stop_instance(connection, gce.seed.project, zone, name)
        gce.emu.settle()
    return "projects/%s/zones/%s/instances/%s" % (gce.seed.project, zone, name)


def make_template(gce, name, source_image):
    body = {
        "name": name,
        "properties": {
            "machineType": "e2-small",
            "disks": [{"boot": True, "autoDelete": True, "initializeParams": {"sourceImage": source_image}}],
        },
    }
    fleet_api.insert_template(gce.connection(), gce.seed.project, "global", body, gce.waiter())
    gce.emu.settle()
    return "projects/%s/global/instanceTemplates/%s" % (gce.seed.project, name)


def sign_task(title, target, **options):
    return {"name": title, "phoenix.immutable.image_sign": {"image_id": target, **options}}


def verify_task(title, target, policy, **options):
    return {
        "name": title,
        "phoenix.immutable.image_verify": {"image_id": target, "policy": policy, **options},
        "ignore_errors": True,
    }


def write_policy(tmp_path, document, name="policy.yml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return str(path)


# -- reading -----------------------------------------------------------------------------------------


def test_image_info_finds_an_image_by_id_name_label_family_and_owner(gcp, playbook):
    base = gcp.image_id(gcp.seed.base_image_name)
    run = playbook(
        [
            {"name": "by id", "phoenix.immutable.image_info": {"image_ids": [base]}},
            {"name": "by name", "phoenix.immutable.image_info": {"name": "phoenix-base-*"}},
            {"name": "by label", "phoenix.immutable.image_info": {"tags": {"role": "base", "os": "debian-12"}}},
            {"name": "no match", "phoenix.immutable.image_info": {"tags": {"role": "web"}}},
            {
                "name": "by family",
                "phoenix.immutable.image_info": {
                    "image_ids": ["projects/%s/global/images/family/phoenix-base" % gcp.seed.project]
                },
            },
            {"name": "vendor", "phoenix.immutable.image_info": {"owners": ["debian-cloud"], "name": "debian-12-*"}},
            {
                "name": "missing",
                "phoenix.immutable.image_info": {"image_ids": [gcp.image_id("no-such-image")]},
                "ignore_errors": True,
            },
        ]
    )
    assert run.rc == 0, run.explain()
    [found] = run.task("by id")["result"]["images"]
    assert found["id"] == base and found["name"] == gcp.seed.base_image_name
    assert (found["cloud"], found["region"], found["owner"], found["state"]) == (
        "gcp",
        "global",
        gcp.seed.project,
        "available",
    )
    assert found["created"].endswith("Z") and "." not in found["created"]
    assert found["tags"] == {"os": "debian-12", "role": "base"}
    for title in ("by name", "by label", "by family"):
        assert [image["id"] for image in run.task(title)["result"]["images"]] == [base], title
    assert run.task("no match")["result"]["images"] == []
    [vendor] = run.task("vendor")["result"]["images"]
    assert vendor["id"] == gcp.image_id("debian-12-bookworm-v20261101", "debian-cloud")
    assert vendor["owner"] == "debian-cloud"
    missing = run.task("missing")["result"]
    assert missing["failed"] is True and gcp.image_id("no-such-image") in missing["msg"]
    # The label search went to Compute as a filter, not as a listing read whole.
    assert run.task("by label")["result"]["api_calls"]["compute.images.list"] == 1


# -- signing and verifying ---------------------------------------------------------------------------


def test_sign_with_a_local_key_is_idempotent_checks_first_and_verifies(gcp, playbook, signing_key, tmp_path):
    name = gcp.seed.base_image_name
    base = gcp.image_id(name)
    policy = write_policy(
        tmp_path,
        {"keys": [{"name": "build", "public_key": signing_key["public"]}], "required_claims": {"tests": "passed"}},
    )
    options = {"key": signing_key["path"], "claims": CLAIMS}
    checked = playbook([sign_task("check", base, **options)], check=True)
    assert checked.rc == 0, checked.explain()
    assert checked.task("check")["result"]["changed"] is True
    assert signature_labels(gcp, name) == {}

    run = playbook(
        [
            sign_task("sign", base, **options),
            sign_task("again", base, **options),
            verify_task("verify", base, policy),
        ]
    )
    assert run.rc == 0, run.explain()
    signed = run.task("sign")["result"]
    assert signed["changed"] is True and signed["keyid"] == signing_key["keyid"]
    assert run.task("again")["result"]["changed"] is False
    assert "compute.images.setLabels" not in run.task("again")["result"]["api_calls"]
    assert run.task("verify")["result"]["verified"] is True
    written = signature_labels(gcp, name)
    # Detached: signature and claims only, the statement is rebuilt from the image (docs/signing.md: 8 labels
    # a key with four typical claims).
    assert 5 <= len(written) <= 8 and sorted(written) == sorted(signed["tags_set"])
    assert gcp.image_labels(name)["role"] == "base"  # the other labels are kept


def test_signature_labels_copied_to_another_image_or_altered_are_refused(gcp, playbook, signing_key, tmp_path):
    signed_name = gcp.seed.base_image_name
    gcp.emu.put_image("phoenix-base-imposter")
    policy = write_policy(tmp_path, {"keys": [{"name": "build", "public_key": signing_key["public"]}]})
    first = playbook([sign_task("sign", gcp.image_id(signed_name), key=signing_key["path"])])
    assert first.rc == 0, first.explain()
    signature = signature_labels(gcp, signed_name)
    gcp.set_image_labels("phoenix-base-imposter", signature)

    run = playbook(
        [
            verify_task("genuine", gcp.image_id(signed_name), policy),
            verify_task("imposter", gcp.image_id("phoenix-base-imposter"), policy),
        ]
    )
    assert run.task("genuine")["result"]["verified"] is True
    imposter = run.task("imposter")["result"]
    assert imposter["failed"] is True and imposter["verified"] is False, imposter
    assert imposter["error"]["code"] == "ImageNotVerified"
    # The statement is rebuilt from the imposter, so the signature over the genuine image's does not verify.
    assert imposter["reason"] == "bad signature" and "does not verify" in imposter["msg"]

    # One chunk altered on the genuine image: the signature no longer reads or verifies.
    first_key = sorted(signature)[0]
    value = signature[first_key]
    altered = dict(gcp.image_labels(signed_name), **{first_key: ("a" if value[0] != "a" else "b") + value[1:]})
    gcp.set_image_labels(signed_name, altered)
    tampered = playbook([verify_task("tampered", gcp.image_id(signed_name), policy)])
    result = tampered.task("tampered")["result"]
    assert result["failed"] is True and result["verified"] is False, result
    assert result["reason"] == "bad signature" and "altered" in result["msg"]


def test_sign_with_a_cloud_kms_key_version_and_verify_with_it(gcp, playbook):
    version = gcp.emu.kms.create_key("image-approver")
    base = gcp.image_id(gcp.seed.base_image_name)
    run = playbook(
        [
            sign_task("sign", base, kms_key=version, claims={"tests": "passed"}),
            sign_task("again", base, kms_key=version, claims={"tests": "passed"}),
            verify_task("verify", base, {"keys": [{"name": "approver", "kms_key": version}]}),
        ]
    )
    assert run.rc == 0, run.explain()
    signed = run.task("sign")["result"]
    sign_call = "cloudkms.projects.locations.keyRings.cryptoKeys.cryptoKeyVersions.asymmetricSign"
    assert signed["changed"] is True and signed["api_calls"][sign_call] == 1
    assert run.task("again")["result"]["changed"] is False
    assert run.task("verify")["result"]["verified"] is True
    assert signature_labels(gcp, gcp.seed.base_image_name)


def test_throttling_and_server_errors_on_images_get_and_set_labels_are_retried(gcp, playbook, signing_key):
    base = gcp.image_id(gcp.seed.base_image_name)
    gcp.emu.inject_fault("compute.images.get", status=429, times=2)
    gcp.emu.inject_fault("compute.images.setLabels", status=503, times=1)
    run = playbook([sign_task("sign", base, key=signing_key["path"])])
    assert run.rc == 0, run.explain()
    calls = run.task("sign")["result"]["api_calls"]
    assert calls["compute.images.setLabels"] == 2  # the 503, then the change
    assert calls["compute.images.get"] >= 4  # two 429s before the reads that answered
    assert gcp.emu.pending_faults == {}
    assert signature_labels(gcp, gcp.seed.base_image_name)


# -- the image module: create, refuse, delete, deprecate ----------------------------------------------


def test_the_image_module_images_a_stopped_builder_signs_it_and_a_second_run_changes_nothing(
    gcp, playbook, signing_key, tmp_path
):
    # A base whose id fits the core's check of a value's length (63) before the backend splits it: the core
    # refuses longer ids today (see the vendor image in the backend test below, which the backend itself stores).
    gcp.emu.put_image("base-1")
    builder = make_instance(gcp, "builder-1", gcp.image_id("base-1"))
    policy = write_policy(tmp_path, {"keys": [{"name": "build", "public_key": signing_key["public"]}]})
    task = {
        "name": "image",
        "phoenix.immutable.image": {
            "name": "web-2026-12-02-1",
            "instance_id": builder,
            "stop_instance": True,
            "tags": {"service": "web"},
            "sign": {"key": signing_key["path"], "claims": {"tests": "passed"}},
        },
    }
    run = playbook([task, {**task, "name": "again"}, verify_task("verify", gcp.image_id("web-2026-12-02-1"), policy)])
    assert run.rc == 0, run.explain()
    made = run.task("image")["result"]
    assert made["changed"] is True
    assert [action["action"] for action in made["actions"]] == ["stop_instance", "create_image", "sign_image"]
    image = made["image"]
    assert image["id"] == gcp.image_id("web-2026-12-02-1") and image["state"] == "available"
    # The core reads back exactly the ids it wrote, although each is split over labels.
    assert image["tags"][SOURCE_INSTANCE] == builder
    assert image["tags"][SOURCE_IMAGE] == gcp.image_id("base-1")
    assert image["source_image"] == gcp.image_id("base-1")
    again = run.task("again")["result"]
    assert again["changed"] is False and again["actions"] == []
    assert "compute.images.insert" not in again["api_calls"]
    assert run.task("verify")["result"]["verified"] is True

    labels = gcp.image_labels("web-2026-12-02-1")
    assert labels["service"] == "web" and labels[GCP_CODEC.key(tagging.MANAGED)] == "true"
    assert labels[SOURCE_INSTANCE] == "builder-1"
    assert labels[GCP_CODEC.key(tagging.SOURCE_INSTANCE, "zone")] == gcp.seed.zone
    assert labels[SOURCE_IMAGE] == "base-1"
    instance = compute.get_instance(gcp.connection(), gcp.seed.project, gcp.seed.zone, "builder-1")
    assert instance["status"] == "TERMINATED"
    source_disk = compute.get_image(gcp.connection(), gcp.seed.project, "web-2026-12-02-1")["sourceDisk"]
    assert source_disk.endswith("/zones/%s/disks/builder-1" % gcp.seed.zone)


def test_copies_and_a_running_builder_are_refused_before_anything_changes(gcp, playbook):
    gcp.emu.put_image("base-1")
    builder = make_instance(gcp, "builder-1", gcp.image_id("base-1"))
    run = playbook(
        [
            {
                "name": "copy",
                "phoenix.immutable.image": {
                    "name": "web-1",
                    "instance_id": builder,
                    "copy_to_regions": ["europe-west1"],
                },
                "ignore_errors": True,
            },
            {
                "name": "running",
                "phoenix.immutable.image": {"name": "web-1", "instance_id": builder},
                "ignore_errors": True,
            },
            {
                "name": "bad label",
                "phoenix.immutable.image": {"name": "web-1", "instance_id": builder, "tags": {"Team": "Web"}},
                "ignore_errors": True,
            },
        ]
    )
    copy = run.task("copy")["result"]
    assert copy["failed"] is True and "global" in copy["msg"], copy["msg"]
    running = run.task("running")["result"]
    assert running["failed"] is True and "in use by the running instance" in running["msg"]
    assert "stop_instance: true" in running["msg"]
    bad = run.task("bad label")["result"]
    assert bad["failed"] is True and "'Team'" in bad["msg"]
    assert gcp.emu.calls["compute.images.insert"] == 1  # only the running builder's, which Compute refused
    assert compute.list_images(gcp.connection(), gcp.seed.project, 'name = "web-1"') == []
    instance = compute.get_instance(gcp.connection(), gcp.seed.project, gcp.seed.zone, "builder-1")
    assert instance["status"] == "RUNNING"


def test_absent_is_refused_while_an_instance_or_a_template_uses_the_image(gcp, playbook):
    gcp.emu.put_image("web-1", family="web")
    used = gcp.image_id("web-1")
    instance = make_instance(gcp, "web-server-1", used)
    template = make_template(gcp, "web-template", "projects/%s/global/images/family/web" % gcp.seed.project)
    absent = {"name": "absent", "phoenix.immutable.image": {"state": "absent", "image_id": used}, "ignore_errors": True}

    refused = playbook([absent])
    result = refused.task("absent")["result"]
    assert result["failed"] is True and result["error"]["code"] == "ImageInUse"
    users = {(user["kind"], user["id"]) for user in result["users"]}
    assert users == {("instance", instance), ("instance template", template)}
    assert gcp.image_labels("web-1") == {}  # still there

    connection = gcp.connection()
    compute.delete_instance(connection, gcp.seed.project, gcp.seed.zone, "web-server-1")
    fleet_api.delete_template(connection, gcp.seed.project, "global", "web-template", gcp.waiter())
    gcp.emu.settle()
    run = playbook([{**absent, "ignore_errors": False}, {**absent, "name": "again", "ignore_errors": False}])
    assert run.rc == 0, run.explain()
    assert run.task("absent")["result"]["changed"] is True
    assert run.task("again")["result"]["changed"] is False
    assert compute.list_images(connection, gcp.seed.project, 'name = "web-1"') == []


def test_deprecated_marks_the_image_deprecated_with_its_time_once(gcp, playbook):
    gcp.emu.put_image("web-1", family="web")
    task = {
        "name": "deprecate",
        "phoenix.immutable.image": {"state": "deprecated", "name": "web-1", "deprecate_at": "2036-01-31T18:00:00Z"},
    }
    run = playbook([task, {**task, "name": "again"}])
    assert run.rc == 0, run.explain()
    assert run.task("deprecate")["result"]["changed"] is True
    assert run.task("deprecate")["result"]["image"]["deprecation_time"] == "2036-01-31T18:00:00Z"
    assert run.task("again")["result"]["changed"] is False
    status = compute.get_image(gcp.connection(), gcp.seed.project, "web-1")["deprecated"]
    assert status["state"] == "DEPRECATED" and status["deprecated"] == "2036-01-31T18:00:00Z"


# -- the backend itself ----------------------------------------------------------------------------


@pytest.fixture
def backend(gce):
    return GcpImageBackend(gce.connection())


def test_ids_too_long_for_one_label_round_trip_and_a_lost_insert_answer_returns_the_image(gce, backend):
    # The vendor's id is 64 characters, 79 once escaped: over a label value's 63.
    builder = make_instance(gce, "builder-1", gce.seed.vendor_image, stop=True)
    vendor = gce.image_id("debian-12-bookworm-v20261101", "debian-cloud")
    assert backend.source_of(builder) == vendor and len(vendor) > 63
    tags = {SOURCE_IMAGE: vendor, SOURCE_INSTANCE: builder, GCP_CODEC.key(tagging.MANAGED): "true", "service": "web"}

    gce.emu.inject_fault("compute.images.insert", status=503, after_apply=True)
    made = backend.create("web-1", builder, "golden", tags, no_reboot=False)
    assert made.id == gce.image_id("web-1") and made.tags == tags and made.source_image == vendor
    assert gce.emu.calls["compute.images.insert"] == 2  # the lost answer, then the same requestId again
    labels = gce.image_labels("web-1")
    assert labels[SOURCE_IMAGE] == "debian-12-bookworm-v20261101"
    assert labels[GCP_CODEC.key(tagging.SOURCE_IMAGE, "project")] == "debian-cloud"

    # A second run that lost the first one's answer altogether meets the name taken by its own image.
    fresh = GcpImageBackend(gce.connection())
    assert fresh.create("web-1", builder, "golden", tags, no_reboot=False).id == made.id
    with pytest.raises(PhoenixError, match="the name is taken by an image this run did not make"):
        fresh.create("web-1", builder, "golden", dict(tags, **{SOURCE_INSTANCE: builder + "x"}), no_reboot=False)

    # Read again and again: the same image, so a detached signature's statement is rebuilt identically.
    gce.emu.settle()
    assert backend.get(made.id) == fresh.get(made.id) == fresh.get("web-1")
    assert backend.get(made.id).state == "available"


def test_a_failed_insert_operation_fails_the_image_at_the_next_read(gce, backend):
    builder = make_instance(gce, "builder-1", gce.seed.base_image, stop=True)
    gce.emu.fail_operations("compute.images.insert", code="QUOTA_EXCEEDED", message="Quota 'IMAGES' exceeded")
    made = backend.create("web-1", builder, "", {SOURCE_INSTANCE: builder}, no_reboot=False)
    states = [backend.get(made.id) for _poll in range(gce.emu.operation_polls)]
    assert states[-1].state == "failed" and "Quota 'IMAGES' exceeded" in states[-1].state_reason


def test_label_changes_split_and_join_path_values_and_refuse_past_64_labels(gce, backend):
    name = gce.seed.base_image_name
    image = backend.get(name)
    backend.set_tags(image, {SOURCE_IMAGE: gce.image_id("base-of-base")}, [])
    assert backend.get(name).tags[SOURCE_IMAGE] == gce.image_id("base-of-base")
    backend.set_tags(backend.get(name), {SOURCE_IMAGE: "plain"}, [])
    assert gce.image_labels(name) == {"os": "debian-12", "role": "base", SOURCE_IMAGE: "plain"}
    backend.set_tags(backend.get(name), {}, [SOURCE_IMAGE])
    assert gce.image_labels(name) == {"os": "debian-12", "role": "base"}

    too_many = {"label-%d" % number: "x" for number in range(63)}
    calls = dict(gce.emu.calls)
    with pytest.raises(InvalidInput, match="65 labels, at most 64"):
        backend.set_tags(backend.get(name), too_many, [])
    assert gce.emu.calls["compute.images.setLabels"] == calls.get("compute.images.setLabels", 0)


def test_an_id_of_another_shape_is_refused_and_a_missing_image_is_none(backend, gce):
    assert backend.get(gce.image_id("no-such-image")) is None
    assert backend.get("no-such-image") is None
    assert backend.find_by_name("Not_A_GCE_Name") == []
    with pytest.raises(InvalidInput, match="not a GCP image id"):
        backend.get("projects/p/zones/z/instances/i")
    with pytest.raises(InvalidInput, match="GCP images are global"):
        backend.copy_from(backend.get(gce.seed.base_image_name), {})
    assert backend.enabled_regions() == ["global"] and backend.in_region("europe-west1").region == "global"


def test_image_channel_promotes_a_signed_gce_image_once_and_withdraws_it(gcp, playbook, signing_key, tmp_path):
    name = gcp.seed.base_image_name
    base = gcp.image_id(name)
    trusted = [{"name": "build", "public_key": signing_key["public"]}]
    policy = write_policy(tmp_path, {"keys": trusted, "promoters": trusted})
    promote = {
        "name": "promote",
        "phoenix.immutable.image_channel": {
            "image_id": base,
            "channel": "prod",
            "policy": policy,
            "key": signing_key["path"],
        },
    }
    run = playbook([sign_task("sign", base, key=signing_key["path"]), promote, {**promote, "name": "again"}])
    assert run.rc == 0, run.explain()
    assert run.task("promote")["result"]["changed"] is True and run.task("promote")["result"]["promoted"] is True
    assert run.task("again")["result"]["changed"] is False
    promotions = [key for key in gcp.image_labels(name) if key.startswith("phoenix_-promo_-prod_-")]
    assert 5 <= len(promotions) <= 8  # docs/signing.md: a promotion takes about 6 labels

    withdraw = {
        "name": "withdraw",
        "phoenix.immutable.image_channel": {"image_id": base, "channel": "prod", "state": "absent"},
    }
    gone = playbook([withdraw])
    assert gone.rc == 0, gone.explain()
    assert not [key for key in gcp.image_labels(name) if key.startswith("phoenix_-promo_-")]
    assert signature_labels(gcp, name)  # the signature stays
