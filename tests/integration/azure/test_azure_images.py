"""Azure Compute Gallery image versions through the collection's modules and lookup on the ARM emulator.

Each playbook runs the real modules (image, image_info, image_sign, image_verify, image_channel, image_prune)
and the golden_image lookup with ``cloud: azure`` against this test's emulator, and the tests read what was
written back through azure-mgmt-compute, not through the backend under test.
"""

from __future__ import annotations

import datetime
import hashlib

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from images_support import GALLERY, RESOURCE_GROUP, make_scale_set, make_vm, plant_version

from ansible_collections.phoenix.immutable.plugins.module_utils._azure.codec import AZURE_CODEC
from ansible_collections.phoenix.immutable.plugins.module_utils._azure.image_transformations import NAME_TAG
from ansible_collections.phoenix.immutable.plugins.module_utils._azure.rollout_store import AzureRolloutStore
from ansible_collections.phoenix.immutable.plugins.module_utils._core import tags as tagging
from ansible_collections.phoenix.immutable.plugins.module_utils._core.rollout_model import RolloutRecord

SIG_PREFIX = AZURE_CODEC.key(tagging.SIGNATURE) + ":"
PROMOTION_PREFIX = AZURE_CODEC.key(tagging.PROMOTION) + ":"
CLAIMS = {"tests": "passed", "git_revision": "4f2a9c1", "builder": "ci"}


@pytest.fixture
def signing_key(tmp_path):
    """A P-256 signing key in PEM files: ``path`` (private), ``public``, and its ``keyid``."""
    key = ec.generate_private_key(ec.SECP256R1())
    private = tmp_path / "build.pem"
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    public = tmp_path / "build.pub"
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return {"path": str(private), "public": str(public), "keyid": hashlib.sha256(der).hexdigest()}


def version_of(azure, image_id):
    """The version as ARM holds it, read through azure-mgmt-compute, with its replication status."""
    parts = image_id.split("/")
    return azure.compute().gallery_image_versions.get(
        parts[4], parts[8], parts[10], parts[12], expand="ReplicationStatus"
    )


def tags_of(azure, image_id, prefix=""):
    return {key: value for key, value in (version_of(azure, image_id).tags or {}).items() if key.startswith(prefix)}


def set_tags(azure, image_id, tags):
    """Replace a version's tags behind the collection's back."""
    parts = image_id.split("/")
    azure.compute().gallery_image_versions.begin_update(
        parts[4], parts[8], parts[10], parts[12], {"tags": tags}
    ).result()


def write_policy(tmp_path, document, name="policy.yml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return str(path)


def sign_task(title, target, **options):
    return {"name": title, "phoenix.immutable.image_sign": {"image_id": target, **options}}


def verify_task(title, target, policy, **options):
    return {
        "name": title,
        "phoenix.immutable.image_verify": {"image_id": target, "policy": policy, **options},
        "ignore_errors": True,
    }


# -- the image module: bake, copy, sign, read ----------------------------------------------------


def test_the_image_module_bakes_a_builder_into_a_version_replicates_signs_and_a_second_run_changes_nothing(
    azure, playbook, signing_key, tmp_path
):
    azure.emu.operation_polls = 2
    builder = make_vm(azure, "builder-1")
    policy = write_policy(tmp_path, {"keys": [{"name": "build", "public_key": signing_key["public"]}]})
    task = {
        "name": "image",
        "phoenix.immutable.image": {
            "name": "web-2026-12-03-1",
            "instance_id": builder,
            "stop_instance": True,
            "copy_to_regions": ["westeurope"],
            "tags": {"service": "web"},
            "sign": {"key": signing_key["path"], "claims": CLAIMS},
        },
    }
    baked = "{{ baked.image.id }}"
    run = playbook(
        [
            {**task, "register": "baked"},
            {**task, "name": "again"},
            verify_task("verify", baked, policy),
            verify_task("verify the replica", baked, policy, location="westeurope"),
            {"name": "by name", "phoenix.immutable.image_info": {"name": "web-*"}},
            {"name": "by tag", "phoenix.immutable.image_info": {"tags": {"service": "web"}}},
            {"name": "no match", "phoenix.immutable.image_info": {"tags": {"service": "api"}}},
            {"name": "in westeurope", "phoenix.immutable.image_info": {"name": "web-*", "location": "westeurope"}},
            {"name": "in uksouth", "phoenix.immutable.image_info": {"name": "web-*", "location": "uksouth"}},
        ]
    )
    assert run.rc == 0, run.explain()
    made = run.task("image")["result"]
    assert made["changed"] is True
    actions = [action["action"] for action in made["actions"]]
    assert actions[:3] == ["stop_instance", "create_image", "copy_image"] and "sign_image" in actions, actions
    image = made["image"]
    assert image["state"] == "available" and image["name"] == "web-2026-12-03-1" and image["family"] == "web"
    assert image["region"] == azure.emu.location and image["owner"] == azure.emu.subscription_id
    assert image["id"].startswith(
        "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/galleries/%s/images/web/versions/2026.12"
        % (azure.emu.subscription_id, RESOURCE_GROUP, GALLERY)
    )
    assert image["tags"][AZURE_CODEC.key(tagging.SOURCE_INSTANCE)] == builder
    assert image["source_image"] == "Debian:debian-12:12-gen2:latest"
    # One version, replicated: the copy to westeurope is the same resource, signed once.
    [copy] = made["copies"]
    assert copy["id"] == image["id"]
    assert {signature["keyid"] for signature in made["signatures"]} == {signing_key["keyid"]}
    again = run.task("again")["result"]
    assert again["changed"] is False and again["actions"] == [], again["actions"]
    assert not any(call.startswith(("PUT", "PATCH")) for call in again["api_calls"]), again["api_calls"]
    for title in ("by name", "by tag", "in westeurope"):
        assert [found["id"] for found in run.task(title)["result"]["images"]] == [image["id"]], title
    assert run.task("no match")["result"]["images"] == []
    assert run.task("in uksouth")["result"]["images"] == []

    version = version_of(azure, image["id"])
    assert version.tags[NAME_TAG] == "web-2026-12-03-1" and version.tags["service"] == "web"
    assert version.storage_profile.source.virtual_machine_id == builder
    regions = {region.name: region.regional_replica_count for region in version.publishing_profile.target_regions}
    assert regions == {azure.emu.location: 1, "westeurope": 1}
    states = {item.region: item.state for item in version.replication_status.summary}
    assert states == {azure.emu.location: "Completed", "westeurope": "Completed"}
    codes = [
        status.code for status in azure.compute().virtual_machines.instance_view(RESOURCE_GROUP, "builder-1").statuses
    ]
    assert "OSState/generalized" in codes and "PowerState/deallocated" in codes

    assert run.task("verify")["result"]["verified"] is True
    assert run.task("verify the replica")["result"]["verified"] is True


def test_a_running_builder_bad_tags_and_an_unknown_region_are_refused_before_anything_changes(azure, playbook):
    builder = make_vm(azure, "builder-1")
    run = playbook(
        [
            {
                "name": "running",
                "phoenix.immutable.image": {"name": "web-1", "instance_id": builder, "no_reboot": True},
                "ignore_errors": True,
            },
            {
                "name": "bad tag",
                "phoenix.immutable.image": {"name": "web-1", "instance_id": builder, "tags": {"a/b": "c"}},
                "ignore_errors": True,
            },
            {
                "name": "unknown region",
                "phoenix.immutable.image": {"name": "web-1", "instance_id": builder, "copy_to_regions": ["mars"]},
                "ignore_errors": True,
            },
        ]
    )
    running = run.task("running")["result"]
    assert running["failed"] is True and "stop_instance: true" in running["msg"], running["msg"]
    assert "a/b" in run.task("bad tag")["result"]["msg"]
    unknown = run.task("unknown region")["result"]
    assert unknown["failed"] is True and "mars" in unknown["msg"], unknown["msg"]
    assert azure.emu.calls["GalleryImageVersions_CreateOrUpdate"] == 0
    assert azure.emu.calls["VirtualMachines_Generalize"] == 0
    assert list(azure.compute().gallery_images.list_by_gallery(RESOURCE_GROUP, GALLERY)) == []


# -- signing and verifying -----------------------------------------------------------------------


def test_sign_is_idempotent_and_a_signature_copied_to_another_version_or_altered_is_refused(
    azure, playbook, signing_key, tmp_path
):
    genuine = plant_version(azure, "web", "1.0.0", "web-1")
    imposter = plant_version(azure, "web", "1.0.1", "web-2")
    policy = write_policy(tmp_path, {"keys": [{"name": "build", "public_key": signing_key["public"]}]})
    options = {"key": signing_key["path"], "claims": CLAIMS}
    checked = playbook([sign_task("check", genuine, **options)], check=True)
    assert checked.task("check")["result"]["changed"] is True, checked.explain()
    assert tags_of(azure, genuine, SIG_PREFIX) == {}

    run = playbook([sign_task("sign", genuine, **options), sign_task("again", genuine, **options)])
    assert run.rc == 0, run.explain()
    signed = run.task("sign")["result"]
    assert signed["changed"] is True and signed["keyid"] == signing_key["keyid"]
    assert run.task("again")["result"]["changed"] is False
    assert "PATCH Microsoft.Compute/galleries/images/versions" not in run.task("again")["result"]["api_calls"]
    signature = tags_of(azure, genuine, SIG_PREFIX)
    assert signature and sorted(signature) == sorted(signed["tags_set"])
    set_tags(azure, imposter, {**version_of(azure, imposter).tags, **signature})
    first_key = sorted(signature)[0]
    value = signature[first_key]
    tampered = plant_version(azure, "web", "1.0.2", "web-3")
    altered = dict(signature, **{first_key: ("A" if value[0] != "A" else "B") + value[1:]})
    set_tags(azure, tampered, {**version_of(azure, tampered).tags, **altered})

    verify = playbook(
        [
            verify_task("genuine", genuine, policy),
            verify_task("imposter", imposter, policy),
            verify_task("tampered", tampered, policy),
        ]
    )
    assert verify.task("genuine")["result"]["verified"] is True, verify.explain()
    copied = verify.task("imposter")["result"]
    assert copied["failed"] is True and copied["verified"] is False and copied["reason"] == "descriptor mismatch", (
        copied
    )
    altered_result = verify.task("tampered")["result"]
    assert altered_result["failed"] is True and altered_result["verified"] is False, altered_result


# -- absent and deprecated -----------------------------------------------------------------------


def test_absent_is_refused_while_a_vm_or_a_scale_set_uses_the_version_then_deletes_it_once(azure, playbook):
    used = plant_version(azure, "web", "1.0.0", "web-1")
    vm = make_vm(azure, "web-server-1", image_id=used)
    definition_id = used.rsplit("/versions/", 1)[0]
    scale_set = make_scale_set(azure, "web-vmss", definition_id)
    absent = {"name": "absent", "phoenix.immutable.image": {"state": "absent", "image_id": used}, "ignore_errors": True}

    refused = playbook([absent])
    result = refused.task("absent")["result"]
    assert result["failed"] is True and result["error"]["code"] == "ImageInUse", result
    users = {(user["kind"], user["id"].lower()) for user in result["users"]}
    assert users == {("virtual machine", vm.lower()), ("scale set", scale_set.lower())}
    assert version_of(azure, used).provisioning_state == "Succeeded"

    azure.compute().virtual_machines.begin_delete(RESOURCE_GROUP, "web-server-1").result()
    azure.compute().virtual_machine_scale_sets.begin_delete(RESOURCE_GROUP, "web-vmss").result()
    run = playbook([{**absent, "ignore_errors": False}, {**absent, "name": "again", "ignore_errors": False}])
    assert run.rc == 0, run.explain()
    assert run.task("absent")["result"]["changed"] is True
    assert run.task("again")["result"]["changed"] is False
    assert list(azure.compute().gallery_image_versions.list_by_gallery_image(RESOURCE_GROUP, GALLERY, "web")) == []


def test_deprecated_sets_the_end_of_life_date_and_excludes_the_version_from_latest_once_and_image_info_reads_it(
    azure, playbook
):
    older = plant_version(azure, "web", "1.0.0", "web-1", tags={"role": "web"})
    newer = plant_version(azure, "web", "1.0.1", "web-2")
    task = {
        "name": "deprecate",
        "phoenix.immutable.image": {"state": "deprecated", "name": "web-2", "deprecate_at": "2036-01-31T18:00:00Z"},
    }
    run = playbook(
        [
            task,
            {**task, "name": "again"},
            {"name": "latest", "phoenix.immutable.image_info": {"image_ids": [newer.rsplit("/versions/", 1)[0]]}},
            {"name": "by id", "phoenix.immutable.image_info": {"image_ids": [older]}},
            {
                "name": "missing",
                "phoenix.immutable.image_info": {"image_ids": [older.replace("1.0.0", "9.9.9")]},
                "ignore_errors": True,
            },
            {
                "name": "not an id",
                "phoenix.immutable.image_info": {"image_ids": ["ami-12345678"]},
                "ignore_errors": True,
            },
        ]
    )
    assert run.rc == 0, run.explain()
    deprecated = run.task("deprecate")["result"]
    assert deprecated["changed"] is True and deprecated["image"]["deprecation_time"] == "2036-01-31T18:00:00Z"
    assert run.task("again")["result"]["changed"] is False
    # The definition's latest is now the older version: web-2 is excluded from latest.
    assert [image["id"] for image in run.task("latest")["result"]["images"]] == [older]
    profile = version_of(azure, newer).publishing_profile
    assert profile.exclude_from_latest is True
    assert profile.end_of_life_date.strftime("%Y-%m-%dT%H:%M:%SZ") == "2036-01-31T18:00:00Z"
    [found] = run.task("by id")["result"]["images"]
    assert (found["cloud"], found["name"], found["family"], found["state"]) == ("azure", "web-1", "web", "available")
    assert found["tags"] == {"role": "web"} and found["created"].endswith("Z"), found
    assert "9.9.9" in run.task("missing")["result"]["msg"]
    assert run.task("not an id")["result"]["failed"] is True
    assert "not an Azure image id" in run.task("not an id")["result"]["msg"]


# -- channels and the golden_image lookup --------------------------------------------------------


def test_image_channel_promotes_a_signed_version_and_the_lookup_resolves_the_newest_promoted_one(
    azure, playbook, signing_key, tmp_path
):
    made = {
        name: plant_version(azure, "web", "1.0.%d" % number, name)
        for number, name in enumerate(("web-1", "web-2", "web-3"))
    }
    trusted = [{"name": "build", "public_key": signing_key["public"]}]
    policy = write_policy(tmp_path, {"keys": trusted, "promoters": trusted}, "trust.yml")

    def promote(title, target):
        return {
            "name": title,
            "phoenix.immutable.image_channel": {
                "image_id": target,
                "channel": "prod",
                "policy": policy,
                "key": signing_key["path"],
            },
        }

    lookup = "query('phoenix.immutable.golden_image', 'web', channel='prod', policy='%s', cloud='azure'%s)"
    connection = "".join(", %s='%s'" % item for item in sorted(azure.params().items()) if item[0] != "cloud")
    run = playbook(
        [sign_task("sign %s" % name, made[name], key=signing_key["path"]) for name in made]
        + [
            promote("promote web-1", made["web-1"]),
            promote("promote web-2", made["web-2"]),
            promote("again", made["web-2"]),
            {"name": "golden", "ansible.builtin.debug": {"msg": "{{ %s }}" % (lookup % (policy, connection))}},
        ]
    )
    assert run.rc == 0, run.explain()
    assert run.task("promote web-2")["result"]["changed"] is True
    assert run.task("again")["result"]["changed"] is False
    assert tags_of(azure, made["web-2"], PROMOTION_PREFIX)
    assert run.task("golden")["result"]["msg"] == [made["web-2"]]

    # web-3 is signed in its own right; web-2's promotion copied onto it does not promote it.
    set_tags(
        azure,
        made["web-3"],
        {**version_of(azure, made["web-3"]).tags, **tags_of(azure, made["web-2"], PROMOTION_PREFIX)},
    )
    copied = playbook(
        [{"name": "golden", "ansible.builtin.debug": {"msg": "{{ %s }}" % (lookup % (policy, connection))}}]
    )
    assert copied.task("golden")["result"]["msg"] == [made["web-2"]], copied.explain()


# -- image_prune ---------------------------------------------------------------------------------


def aged(azure, image_id, days_old):
    """Age a version (its publishedDate orders a family's images)."""
    when = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=days_old)
    with azure.emu.lock:
        profile = azure.emu.resources[image_id.lower()]["properties"]["publishingProfile"]
        profile["publishedDate"] = when.strftime("%Y-%m-%dT%H:%M:%S.0000000+00:00")
    return image_id


def test_image_prune_deletes_only_unused_versions_keeping_the_channels_services_and_every_version_in_use(
    azure, playbook, signing_key, tmp_path
):
    managed = {AZURE_CODEC.key(tagging.MANAGED): "true"}
    made = {
        number: aged(
            azure, plant_version(azure, "web", "1.0.%d" % number, "web-%d" % number, tags=managed), 10 - number
        )
        for number in range(1, 7)
    }
    # web-1: a VM runs it; web-2: a scale set launches it; web-3: the channel's image; web-4: a service's rollout
    # record names it as the previous image; web-5: nothing; web-6: the newest, kept by keep: 1.
    make_vm(azure, "web-server-1", image_id=made[1])
    make_scale_set(azure, "web-vmss", made[2])
    base = make_scale_set(azure, "web-base", made[6])
    record = RolloutRecord(service="web", role="blue", rollout="R1", phase="done", previous_image=made[4])
    assert AzureRolloutStore(azure.connection()).create("web-b", base, [], record) is True
    azure.emu.settle()
    trusted = [{"name": "build", "public_key": signing_key["public"]}]
    policy = write_policy(tmp_path, {"keys": trusted, "promoters": trusted}, "trust.yml")
    prune = {"name": ["web"], "keep": 1, "action": "delete", "reap_builders": False}
    setup = playbook(
        [
            sign_task("sign", made[3], key=signing_key["path"]),
            {
                "name": "promote",
                "phoenix.immutable.image_channel": {
                    "image_id": made[3],
                    "channel": "prod",
                    "policy": policy,
                    "key": signing_key["path"],
                },
            },
        ]
    )
    assert setup.rc == 0, setup.explain()
    plan = playbook([{"name": "plan", "phoenix.immutable.image_prune": prune}], check=True)
    assert sorted(image["id"] for image in plan.task("plan")["result"]["pruned"]) == [made[5]], plan.explain()

    run = playbook(
        [
            {"name": "prune", "phoenix.immutable.image_prune": prune},
            {"name": "again", "phoenix.immutable.image_prune": prune},
        ]
    )
    assert run.rc == 0, run.explain()
    result = run.task("prune")["result"]
    assert result["changed"] is True and [image["id"] for image in result["pruned"]] == [made[5]]
    kept = {image["id"]: " ".join(image["reasons"]) for image in result["kept"]}
    assert "virtual machine" in kept[made[1]] and "scale set" in kept[made[2]], kept
    assert "channel" in kept[made[3]] and "previous image" in kept[made[4]] and made[6] in kept, kept
    assert run.task("again")["result"]["changed"] is False
    versions = azure.compute().gallery_image_versions.list_by_gallery_image(RESOURCE_GROUP, GALLERY, "web")
    assert sorted(version.name for version in versions) == ["1.0.1", "1.0.2", "1.0.3", "1.0.4", "1.0.6"]
