"""Retiring on GCP: channels (image_channel), the golden_image lookup and image_prune on the GCE emulator.

Each playbook runs the real modules and lookup with ``cloud: gcp``; what they wrote or left is read back
through google-auth (a GcpConnection and the Compute functions). Images are planted with an age (the
emulator's creationTimestamp), since a family's order is its images' creation times.
"""

from __future__ import annotations

import datetime

import yaml

from ansible_collections.phoenix.immutable.plugins.module_utils._core.rollout_model import RolloutRecord
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp import compute, fleet_api
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.groups import GcpGroupBackend
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.rollout_store import GcpRolloutStore

PROMOTION_PREFIX = "phoenix_-promo_-"
ZONE_SCOPE = "zones/us-central1-a"


def plant(gcp, name, days_old, family="web"):
    """An image of ``family`` created ``days_old`` days ago; its id."""
    created = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=days_old)
    image = gcp.emu.put_image(name, family=family)
    with gcp.emu.lock:
        image["creationTimestamp"] = created.strftime("%Y-%m-%dT%H:%M:%S.000-00:00")
    return gcp.image_id(name)


def promotion_labels(gcp, name):
    return {key: value for key, value in gcp.image_labels(name).items() if key.startswith(PROMOTION_PREFIX)}


def image_names(gcp):
    return sorted(image["name"] for image in compute.list_images(gcp.connection(), gcp.seed.project, None))


def write_policy(tmp_path, keys, promoters):
    path = tmp_path / "trust.yml"
    path.write_text(yaml.safe_dump({"keys": keys, "promoters": promoters}), encoding="utf-8")
    return str(path)


def sign(target, signing_key):
    return {
        "name": "sign %s" % target,
        "phoenix.immutable.image_sign": {"image_id": target, "key": signing_key["path"]},
    }


def promote(title, target, policy, **options):
    return {
        "name": title,
        "phoenix.immutable.image_channel": {"image_id": target, "channel": "prod", "policy": policy, **options},
    }


def lookup(title, family, policy, detail=False, **options):
    """A debug task of the lookup's answer; ``options`` are the lookup's own (the modules' names)."""
    extra = "".join(", %s='%s'" % (name, value) for name, value in options.items())
    expression = "query('phoenix.immutable.golden_image', '%s', channel='prod', policy='%s', cloud='gcp'%s%s)" % (
        family,
        policy,
        ", detail=true" if detail else "",
        extra,
    )
    return {"name": title, "ansible.builtin.debug": {"msg": "{{ %s }}" % expression}}


def template_body(name, source_image):
    return {
        "name": name,
        "properties": {
            "machineType": "e2-small",
            "disks": [{"boot": True, "autoDelete": True, "initializeParams": {"sourceImage": source_image}}],
            "networkInterfaces": [{"network": "global/networks/default"}],
        },
    }


# -- channels ----------------------------------------------------------------------------------------


def test_a_kms_promoter_promotes_once_after_a_check_and_an_unverified_image_is_refused(
    gcp, playbook, signing_key, tmp_path
):
    signed = plant(gcp, "web-1", 2)
    unsigned = plant(gcp, "web-2", 1)
    version = gcp.emu.kms.create_key("release")
    policy = write_policy(
        tmp_path, [{"name": "build", "public_key": signing_key["public"]}], [{"name": "release", "kms_key": version}]
    )
    signing = playbook([sign(signed, signing_key)])
    assert signing.rc == 0, signing.explain()
    plan = playbook([promote("check", signed, policy, kms_key=version)], check=True)
    assert plan.rc == 0, plan.explain()
    assert plan.task("check")["result"]["changed"] is True
    assert promotion_labels(gcp, "web-1") == {}

    run = playbook(
        [
            promote("promote", signed, policy, kms_key=version),
            promote("again", signed, policy, kms_key=version),
            {**promote("unsigned", unsigned, policy, kms_key=version), "ignore_errors": True},
        ]
    )
    assert run.task("promote")["result"]["changed"] is True, run.explain()
    assert run.task("again")["result"]["changed"] is False
    assert "compute.images.setLabels" not in run.task("again")["result"]["api_calls"]
    assert promotion_labels(gcp, "web-1")
    refused = run.task("unsigned")["result"]
    assert refused["failed"] is True and "web-2" in refused["msg"], refused
    assert promotion_labels(gcp, "web-2") == {}


# -- the golden_image lookup -------------------------------------------------------------------------


def test_the_lookup_resolves_the_newest_promoted_image_and_passes_over_a_copied_promotion(
    gcp, playbook, signing_key, tmp_path
):
    made = {name: plant(gcp, name, days) for name, days in (("web-1", 3), ("web-2", 2), ("web-3", 1))}
    trusted = [{"name": "build", "public_key": signing_key["public"]}]
    policy = write_policy(tmp_path, trusted, trusted)
    setup = playbook(
        [sign(made[name], signing_key) for name in made]
        + [promote("promote web-1", made["web-1"], policy, key=signing_key["path"])]
        + [promote("promote web-2", made["web-2"], policy, key=signing_key["path"])]
    )
    assert setup.rc == 0, setup.explain()

    # The GCP connection options by the modules' names, given to the lookup itself (module_defaults do not reach it).
    own = {"project": gcp.seed.project, "service_account_file": str(gcp.key_file), "zone": gcp.seed.zone}
    wrong_key = str(tmp_path / "no-such-key.json")
    run = playbook(
        [
            lookup("golden", "web", policy, **own),
            {**lookup("wrong key", "web", policy, service_account_file=wrong_key), "ignore_errors": True},
        ]
    )
    assert run.task("golden")["result"]["msg"] == [made["web-2"]], run.explain()
    # The lookup's own option wins over GCP_SERVICE_ACCOUNT_FILE of the environment.
    wrong = run.task("wrong key")["result"]
    assert wrong["failed"] is True and "no-such-key.json" in wrong["msg"], wrong

    # web-3 is signed in its own right; web-2's promotion labels copied onto it do not promote it.
    gcp.set_image_labels("web-3", {**gcp.image_labels("web-3"), **promotion_labels(gcp, "web-2")})
    copied = playbook([lookup("golden", "web", policy, detail=True)])
    assert copied.rc == 0, copied.explain()
    [found] = copied.task("golden")["result"]["msg"]
    assert found["id"] == made["web-2"] and found["channel"] == "prod" and found["family"] == "web"
    [skipped] = found["skipped"]
    assert skipped["image_id"] == made["web-3"], skipped

    # Nothing promoted in the family at all: the lookup fails, naming the family and channel.
    missing = playbook([{**lookup("golden", "api", policy), "ignore_errors": True}])
    result = missing.task("golden")["result"]
    assert result["failed"] is True and "api" in result["msg"] and "prod" in result["msg"], result


# -- image_prune -------------------------------------------------------------------------------------


def test_prune_deletes_only_unused_images_keeping_the_channels_and_every_image_in_use(
    gcp, playbook, signing_key, tmp_path
):
    connection = gcp.connection()
    project, zone = gcp.seed.project, gcp.seed.zone
    made = {"web-%d" % number: plant(gcp, "web-%d" % number, 10 - number) for number in range(1, 9)}
    # web-1: an instance boots from it (stopped); web-2: a global template names it; web-3: a MIG launches
    # the template naming it; web-4: a service's rollout record names it as the previous image; web-5: the
    # channel's current image; web-6 and web-7: nothing; web-8: the newest, kept by keep: 1.
    compute.insert_instance(
        connection,
        project,
        zone,
        {
            "name": "web-server-1",
            "machineType": "zones/%s/machineTypes/e2-small" % zone,
            "disks": [{"boot": True, "autoDelete": True, "initializeParams": {"sourceImage": made["web-1"]}}],
        },
    )
    gcp.emu.settle()
    compute.stop_instance(connection, project, zone, "web-server-1")
    for name, image in (("web-template-2", "web-2"), ("web-template-3", "web-3"), ("web-base", "web-8")):
        fleet_api.insert_template(connection, project, "global", template_body(name, made[image]), gcp.waiter())
    fleet_api.insert_group_manager(
        connection,
        project,
        ZONE_SCOPE,
        {
            "name": "batch-3",
            "instanceTemplate": "projects/%s/global/instanceTemplates/web-template-3" % project,
            "baseInstanceName": "batch-3",
            "targetSize": 1,
        },
        gcp.waiter(),
    )
    # A MIG reaches its image only through its template, which is what the prune reads as the user.
    groups = GcpGroupBackend(connection, scope=ZONE_SCOPE, waiter=gcp.waiter())
    store = GcpRolloutStore(connection, scope=ZONE_SCOPE, waiter=gcp.waiter())
    record = RolloutRecord(service="web", role="blue", rollout="R1", phase="done", previous_image=made["web-4"])
    assert store.create("web-b", groups.resolve_base("web-base"), [], record) is True
    gcp.emu.settle()

    trusted = [{"name": "build", "public_key": signing_key["public"]}]
    policy = write_policy(tmp_path, trusted, trusted)
    prune = {"name": ["web"], "keep": 1, "action": "delete", "reap_builders": False}
    setup = playbook(
        [sign(made["web-5"], signing_key), promote("promote", made["web-5"], policy, key=signing_key["path"])]
    )
    assert setup.rc == 0, setup.explain()

    plan = playbook([{"name": "plan", "phoenix.immutable.image_prune": prune}], check=True)
    assert plan.rc == 0, plan.explain()
    planned = plan.task("plan")["result"]
    assert sorted(image["id"] for image in planned["pruned"]) == [made["web-6"], made["web-7"]], planned
    assert len(image_names(gcp)) == 9  # the seed's base and web-1 to web-8

    run = playbook(
        [
            {"name": "prune", "phoenix.immutable.image_prune": prune},
            {"name": "again", "phoenix.immutable.image_prune": prune},
        ]
    )
    assert run.rc == 0, run.explain()
    result = run.task("prune")["result"]
    assert result["changed"] is True
    assert sorted(image["id"] for image in result["pruned"]) == [made["web-6"], made["web-7"]]
    kept = {image["id"]: " ".join(image["reasons"]) for image in result["kept"]}
    assert "instance" in kept[made["web-1"]] and "template" in kept[made["web-2"]], kept
    assert "template" in kept[made["web-3"]] and "previous image" in kept[made["web-4"]], kept
    assert "channel" in kept[made["web-5"]] and made["web-8"] in kept, kept
    assert run.task("again")["result"]["changed"] is False
    remaining = image_names(gcp)
    assert "web-6" not in remaining and "web-7" not in remaining
    assert {"web-1", "web-2", "web-3", "web-4", "web-5", "web-8"} <= set(remaining)


def test_prune_deprecates_with_compute_and_a_second_run_changes_nothing(gcp, playbook):
    for number in range(1, 4):
        plant(gcp, "web-%d" % number, 10 - number)
    prune = {"name": ["web"], "keep": 1, "reap_builders": False}
    run = playbook(
        [
            {"name": "prune", "phoenix.immutable.image_prune": prune},
            {"name": "again", "phoenix.immutable.image_prune": prune},
        ]
    )
    assert run.rc == 0, run.explain()
    assert run.task("prune")["result"]["changed"] is True
    assert run.task("again")["result"]["changed"] is False
    for name in ("web-1", "web-2"):
        status = compute.get_image(gcp.connection(), gcp.seed.project, name)["deprecated"]
        assert status["state"] == "DEPRECATED", status
    assert "deprecated" not in compute.get_image(gcp.connection(), gcp.seed.project, "web-3")


def test_prune_keeps_an_image_that_a_group_launches_through_a_regional_template(gcp, playbook):
    connection = gcp.connection()
    project = gcp.seed.project
    region = gcp.seed.zone.rsplit("-", 1)[0]
    old, newest = plant(gcp, "web-1", 5), plant(gcp, "web-2", 1)
    fleet_api.insert_template(
        connection, project, "regions/%s" % region, template_body("web-regional", old), gcp.waiter()
    )
    fleet_api.insert_group_manager(
        connection,
        project,
        ZONE_SCOPE,
        {
            "name": "batch-1",
            "instanceTemplate": "projects/%s/regions/%s/instanceTemplates/web-regional" % (project, region),
            "baseInstanceName": "batch-1",
            "targetSize": 1,
        },
        gcp.waiter(),
    )
    prune = {"name": ["web"], "keep": 1, "action": "delete", "reap_builders": False}

    run = playbook([{"name": "prune", "phoenix.immutable.image_prune": prune}])

    assert run.rc == 0, run.explain()
    result = run.task("prune")["result"]
    assert result["pruned"] == [] and result["changed"] is False
    kept = {image["id"]: " ".join(image["reasons"]) for image in result["kept"]}
    assert "managed instance group" in kept[old] and "instance template" in kept[old], kept
    assert newest in kept and {"web-1", "web-2"} <= set(image_names(gcp))
