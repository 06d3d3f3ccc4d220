"""The drift scan on GCP: GcpInstanceBackend over a real GcpConnection, and fleet_drift through ansible-playbook,
against the GCE emulator.

Instances are made through the Compute API (by hand, or by a managed instance group from a template), and what
the scan reports is checked against what the emulator holds: the image of each instance's boot disk, the MIG
named in its ``created-by`` metadata, its creation time and labels. Calls are counted by the connection.
"""

from __future__ import annotations

import datetime

import pytest
import yaml

from ansible_collections.phoenix.immutable.plugins.module_utils import providers
from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import InvalidInput
from ansible_collections.phoenix.immutable.plugins.module_utils._core.rollout_model import RolloutRecord
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp import compute, fleet_api
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.fleet_transformations import description_of
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.instances import GcpInstanceBackend

ZONE_B = "us-central1-b"
REGION = "us-central1"
MODULE = "phoenix.immutable.fleet_drift"


def backend(gce, **options):
    return GcpInstanceBackend(gce.connection(), **options)


def put_image(gce, name, **options):
    gce.emu.put_image(name, **options)
    return gce.image_id(name)


def make_instance(gce, name, image, zone=None, labels=None, subnetwork=None):
    """An instance booted from ``image``, made by hand (no group); its id."""
    zone = zone or gce.seed.zone
    body = {
        "name": name,
        "machineType": "zones/%s/machineTypes/e2-small" % zone,
        "disks": [{"boot": True, "autoDelete": True, "initializeParams": {"sourceImage": image}}],
    }
    if labels:
        body["labels"] = labels
    if subnetwork:
        body["networkInterfaces"] = [{"subnetwork": subnetwork}]
    compute.insert_instance(gce.connection(), gce.seed.project, zone, body)
    gce.emu.settle()
    return "projects/%s/zones/%s/instances/%s" % (gce.seed.project, zone, name)


def make_group(gce, name, image, size, scope=None, labels=None, service=None):
    """A MIG of ``size`` members from a template of ``image``, settled (every member RUNNING); its scope."""
    scope = scope or fleet_api.zonal_scope(gce.seed.zone)
    connection = gce.connection()
    template = {
        "name": "%s-template" % name,
        "properties": {
            "machineType": "e2-small",
            "labels": dict(labels or {}),
            "disks": [{"boot": True, "autoDelete": True, "initializeParams": {"sourceImage": image}}],
            "networkInterfaces": [{"network": "global/networks/default"}],
        },
    }
    fleet_api.insert_template(connection, gce.seed.project, "global", template)
    body = {
        "name": name,
        "instanceTemplate": "global/instanceTemplates/%s" % template["name"],
        "targetSize": size,
        "baseInstanceName": name,
    }
    if service:
        # What a finished blue_green leaves: the group's rollout record, serving ``image``.
        served = "projects/" + image.split("/projects/", 1)[-1] if "/projects/" in image else image
        record = RolloutRecord(service=service, role="blue", image=served, phase="done")
        body["description"] = description_of(record, name)
    fleet_api.insert_group_manager(connection, gce.seed.project, scope, body)
    gce.emu.fleet.settle_members()
    return scope


def members(gce, scope, name):
    """{instance id: instance's numeric id} of the MIG's members, as the emulator holds them."""
    held = gce.emu.fleet.members_of("projects/%s/%s/instanceGroupManagers/%s" % (gce.seed.project, scope, name))
    return {
        "projects/%s/%s/instances/%s" % (gce.seed.project, member["zone"], member_name): member
        for member_name, member in held.items()
    }


def instance_record(gce, instance_ref):
    """The emulator's own record of an instance (for a test-side change: a backdated creation time)."""
    _projects, project, _zones, zone, _instances, name = instance_ref.split("/")
    return gce.emu.instances.table(project, "zones/%s" % zone)[name]


# -- the backend -----------------------------------------------------------------------------------


def test_instances_arrive_a_page_at_a_time_with_image_group_time_and_labels(gcp):
    scope = make_group(gcp, "web-blue", gcp.seed.base_image, size=4, labels={"app": "web"})
    by_hand = [
        make_instance(gcp, "loose-%d" % number, gcp.seed.base_image, labels={"app": "web"}) for number in range(8)
    ]
    connection = gcp.connection()
    scan = GcpInstanceBackend(connection, instance_page=5)
    arriving = scan.instances(tags={"app": "web"})
    first = next(arriving)
    # The first page only, and the project's disks once (for every instance's image), so far.
    assert connection.api_calls() == {
        "compute.disks.aggregatedList": 1,
        "compute.instances.aggregatedList": 1,
        "oauth2.token": 1,
    }
    found = {instance.id: instance for instance in [first, *arriving]}
    grouped = members(gcp, scope, "web-blue")
    assert set(found) == set(grouped) | set(by_hand)
    calls = connection.api_calls()
    assert calls["compute.instances.aggregatedList"] == 3 and calls["compute.disks.aggregatedList"] == 1, calls
    assert not any(call.startswith("compute.disks.get") for call in calls), calls
    for instance_ref, observed in found.items():
        assert observed.image_id == gcp.image_id(gcp.seed.base_image_name)
        assert observed.group == ("web-blue" if instance_ref in grouped else None)
        assert observed.state == "running" and observed.tags == {"app": "web"}
        record = instance_record(gcp, instance_ref)
        assert observed.launched.endswith("Z") and observed.launched[:19] == record["creationTimestamp"][:19]
        assert observed.subnet.endswith("global/networks/default")


def test_only_live_instances_with_every_label_are_scanned_by_a_server_side_filter(gcp):
    wanted = make_instance(gcp, "web-1", gcp.seed.base_image, labels={"app": "web", "tier": "front"})
    make_instance(gcp, "web-2", gcp.seed.base_image, labels={"app": "web"})
    make_instance(gcp, "db-1", gcp.seed.base_image, labels={"app": "db", "tier": "front"})
    leaving = make_instance(gcp, "web-3", gcp.seed.base_image, labels={"app": "web", "tier": "front"})
    instance_record(gcp, leaving)["status"] = "STOPPING"  # being deleted: on its way out
    with gcp.emu.counting() as calls:
        found = list(backend(gcp).instances(tags={"app": "web", "tier": "front"}))
    assert [instance.id for instance in found] == [wanted]
    assert calls["compute.instances.aggregatedList"] == 1


def test_subnets_scope_the_scan_by_path_or_name(gcp):
    subnetwork = "projects/%s/regions/%s/subnetworks/web" % (gcp.seed.project, REGION)
    operation = gcp.connection().request(
        "POST",
        "projects/%s/regions/%s/subnetworks" % (gcp.seed.project, REGION),
        "compute.subnetworks.insert",
        body={"name": "web", "network": "global/networks/default", "ipCidrRange": "10.10.0.0/24"},
        mutation=True,
    )
    assert operation["status"] in ("PENDING", "RUNNING", "DONE")
    gcp.emu.settle()
    inside = make_instance(gcp, "inside", gcp.seed.base_image, subnetwork=subnetwork)
    make_instance(gcp, "outside", gcp.seed.base_image)
    assert [i.id for i in backend(gcp).instances(subnets=[subnetwork])] == [inside]
    assert [i.id for i in backend(gcp).instances(subnets=["web"])] == [inside]
    assert {i.id for i in backend(gcp).instances(subnets=["default"])} == {
        inside,
        "projects/%s/zones/%s/instances/outside" % (gcp.seed.project, gcp.seed.zone),
    }


def test_illegal_tags_are_refused_before_any_call(gcp):
    scan = backend(gcp)
    gcp.emu.reset_calls()
    with pytest.raises(InvalidInput, match="invalid labels"):
        list(scan.instances(tags={"Team": "web"}))
    assert not gcp.emu.calls


def test_a_disk_made_after_the_disks_were_read_is_read_alone(gcp):
    first = make_instance(gcp, "first", gcp.seed.base_image)
    last = make_instance(gcp, "last", gcp.seed.base_image, zone="us-central1-c")
    other = put_image(gcp, "web-other")
    scan = GcpInstanceBackend(gcp.connection(), instance_page=1)
    arriving = scan.instances()
    assert next(arriving).id == first
    # After the first page (and the disks) were read, in a zone listed before the last one.
    late = make_instance(gcp, "late", other, zone=ZONE_B)
    with gcp.emu.counting() as calls:
        rest = list(arriving)
    assert [(i.id, i.image_id) for i in rest] == [(late, other), (last, gcp.image_id(gcp.seed.base_image_name))]
    assert calls["compute.disks.get"] == 1 and calls["compute.instances.aggregatedList"] == 2


def test_images_are_read_many_names_a_call_and_a_gone_one_is_left_out(gcp):
    made = [put_image(gcp, "drift-page-%d" % number) for number in range(105)]
    vendor = "projects/debian-cloud/global/images/debian-12-bookworm-v20261101"
    gone = gcp.image_id("never-made")
    connection = gcp.connection()
    images = GcpInstanceBackend(connection).images(made + [gone, made[0], vendor])
    assert sorted(image.id for image in images) == sorted(made + [vendor])
    # 106 distinct names in the project (100 + 6) and one in the vendor's.
    assert connection.api_calls()["compute.images.list"] == 3
    [image] = GcpInstanceBackend(connection).images([made[3]])
    assert image.name == "drift-page-3" and image.region == "global" and image.cloud == "gcp"


def test_the_provider_builds_the_instance_backend(gcp):
    params = {
        "cloud": "gcp",
        "project": gcp.seed.project,
        "auth_kind": "serviceaccount",
        "service_account_file": str(gcp.key_file),
        "endpoint_url": gcp.emu.compute_url,
        "zone": gcp.seed.zone,
    }
    instances = providers.provider(params).instances()
    assert isinstance(instances, GcpInstanceBackend)
    assert instances.cloud == "gcp" and instances.region == "global"


@pytest.mark.parametrize("regional", [False, True], ids=["zonal", "regional"])
def test_a_replacement_recreates_the_member_through_its_group(gcp, regional):
    scope = fleet_api.regional_scope(REGION) if regional else fleet_api.zonal_scope(gcp.seed.zone)
    make_group(gcp, "web-blue", gcp.seed.base_image, size=3, scope=scope)
    before = members(gcp, scope, "web-blue")
    victim = sorted(before)[0]
    scan = backend(gcp)
    assert {instance.group for instance in scan.instances()} == {"web-blue"}
    with gcp.emu.counting() as calls:
        scan.replace_in_group("web-blue", victim)
    collection = "regionInstanceGroupManagers" if regional else "instanceGroupManagers"
    assert calls["compute.%s.recreateInstances" % collection] == 1
    assert not any(call.endswith(".get") and "instances" in call for call in calls), calls  # known from the scan
    after = members(gcp, scope, "web-blue")
    # Made again under its name (a new instance), the others untouched, the group's size kept.
    assert set(after) == set(before)
    assert after[victim]["id"] != before[victim]["id"] and after[victim]["action"] == "RECREATING"
    assert all(after[other]["id"] == before[other]["id"] for other in before if other != victim)
    manager = fleet_api.get_group_manager(gcp.connection(), gcp.seed.project, scope, "web-blue")
    assert manager["targetSize"] == 3


def test_replacing_an_instance_no_group_holds_any_more_is_not_an_error(gcp):
    scope = make_group(gcp, "web-blue", gcp.seed.base_image, size=1)
    [victim] = members(gcp, scope, "web-blue")
    scan = backend(gcp)
    list(scan.instances())
    # Gone meanwhile (scaled in): the group made up for it already; nothing to recreate.
    fleet_api.resize_group_manager(gcp.connection(), gcp.seed.project, scope, "web-blue", 0)
    gcp.emu.fleet.settle_members()
    scan.replace_in_group("web-blue", victim)
    assert members(gcp, scope, "web-blue") == {}
    loose = make_instance(gcp, "loose", gcp.seed.base_image)
    with gcp.emu.counting() as calls:
        backend(gcp).replace_in_group("web-blue", loose)  # never in a group: read, and left alone
    assert calls["compute.instances.get"] == 1 and not any("recreate" in call for call in calls)


def test_instances_of_no_group_are_deleted_and_waited_for(gcp):
    ids = [make_instance(gcp, "stray-%d" % number, gcp.seed.base_image) for number in range(3)]
    gcp.emu.operation_polls = 2
    backend(gcp).terminate(ids + ["projects/%s/zones/%s/instances/gone" % (gcp.seed.project, ZONE_B)])
    assert list(backend(gcp).instances()) == []


# -- fleet_drift through ansible-playbook ------------------------------------------------------------


def drift_task(title="drift", **options):
    return {"name": title, MODULE: options}


def backdate(gce, instance_ref, days):
    record = instance_record(gce, instance_ref)
    then = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=days)
    with gce.emu.lock:
        record["creationTimestamp"] = then.strftime("%Y-%m-%dT%H:%M:%S.000-00:00")


def write_policy(tmp_path, signing_key, revoked=()):
    path = tmp_path / "drift-policy.yml"
    document = {"keys": [{"name": "build", "public_key": signing_key["public"]}], "revoked": list(revoked)}
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return str(path)


def test_each_reason_from_a_real_case_and_a_clean_signed_image_not_reported(gcp, playbook, signing_key, tmp_path):
    signed = put_image(gcp, "web-signed")
    revoked = put_image(gcp, "web-revoked")
    unsigned = put_image(gcp, "web-unsigned")
    run = playbook(
        [
            {"name": "sign %s" % image, "phoenix.immutable.image_sign": {"image_id": image, "key": signing_key["path"]}}
            for image in (signed, revoked)
        ]
    )
    assert run.rc == 0, run.explain()
    scope = make_group(gcp, "web-blue", signed, size=3, labels={"app": "web"}, service="web")
    grouped = sorted(members(gcp, scope, "web-blue"))
    old = grouped[0]
    backdate(gcp, old, days=45)
    loose_unsigned = make_instance(gcp, "loose-unsigned", unsigned, labels={"app": "web"})
    loose_revoked = make_instance(gcp, "loose-revoked", revoked, labels={"app": "web"}, zone=ZONE_B)
    make_instance(gcp, "other-team", unsigned, labels={"app": "db"})  # outside the scan's labels
    policy = write_policy(tmp_path, signing_key, revoked=[revoked])
    gcp.emu.reset_calls()

    run = playbook([drift_task(service="web", tags={"app": "web"}, policy=policy, max_age_days=30)])
    assert run.rc == 0, run.explain()
    result = run.task("drift")["result"]
    assert result["changed"] is False and result["replaced"] == []
    found = {entry["id"]: entry for entry in result["instances"]}
    assert set(found) == set(grouped) | {loose_unsigned, loose_revoked}
    assert set(found[loose_unsigned]["reasons"]) == {"wrong_image", "unsigned_image", "unmanaged"}
    assert set(found[loose_revoked]["reasons"]) == {"wrong_image", "revoked_image", "unmanaged"}
    assert found[old]["reasons"] == ["over_age"] and found[old]["group"] == "web-blue"
    for member in grouped[1:]:
        assert found[member]["compliant"] is True, found[member]
        assert found[member]["image_id"] == found[member]["wanted_image"] == signed
    assert result["images"][signed]["verified"] is True and result["images"][revoked]["trust_reason"] == "revoked"
    assert result["images"][unsigned]["verified"] is False
    assert result["counts"]["compliant"] == 2 and result["counts"]["unmanaged"] == 2
    assert result["progress"] == [
        "drift: 5 instances in 1 group, 3 drifted (wrong image 2, unsigned 1, revoked 1, too old 1, unmanaged 2)"
    ]
    # One page of instances, one of disks (every instance's image) and one images.list for the three images.
    calls = result["api_calls"]
    assert calls["compute.instances.aggregatedList"] == 1 and calls["compute.disks.aggregatedList"] == 1, calls
    assert calls["compute.images.list"] == 1, calls
    assert not any(call.startswith("compute.images.get") or call == "compute.disks.get" for call in calls), calls
    assert not any("delete" in call or "recreate" in call for call in calls), calls


def test_a_scan_of_many_instances_costs_pages_not_instances(gcp, playbook):
    size = 520
    scope = make_group(gcp, "web-blue", gcp.seed.base_image, size=size, labels={"app": "web"}, service="web")
    assert len(members(gcp, scope, "web-blue")) == size
    run = playbook([drift_task(service="web", tags={"app": "web"})])
    assert run.rc == 0, run.explain()
    result = run.task("drift")["result"]
    assert result["total"] == size and result["counts"]["compliant"] == size
    calls = result["api_calls"]
    # 520 instances and 520 disks: two pages of 500 each; one image, one images.list.
    assert calls["compute.instances.aggregatedList"] == 2 and calls["compute.disks.aggregatedList"] == 2, calls
    assert calls["compute.images.list"] == 1 and "compute.disks.get" not in calls, calls


def test_replace_recreates_drifted_members_through_the_group_and_leaves_unmanaged_alone(gcp, playbook):
    scope = make_group(gcp, "web-blue", gcp.seed.base_image, size=4, labels={"app": "web"}, service="web")
    before = members(gcp, scope, "web-blue")
    for member in before:
        backdate(gcp, member, days=45)
    stranger = make_instance(gcp, "stranger", gcp.seed.base_image, labels={"app": "web"})
    backdate(gcp, stranger, days=45)
    task = drift_task(
        service="web",
        tags={"app": "web"},
        max_age_days=30,
        remediate="replace",
        max_unavailable="2",
        health_interval=0.2,
    )

    plan = playbook([task], check=True)
    assert plan.rc == 0, plan.explain()
    planned = plan.task("drift")["result"]
    assert [len(batch["instances"]) for batch in planned["batches"]] == [2, 2] and planned["replaced"] == []
    assert members(gcp, scope, "web-blue") == before  # check mode changed nothing

    run = playbook([task])
    assert run.rc == 0, run.explain()
    result = run.task("drift")["result"]
    assert result["changed"] is True and sorted(result["replaced"]) == sorted(before)
    assert result["unmanaged"] == [stranger] and result["terminated_unmanaged"] == []
    assert result["api_calls"]["compute.instanceGroupManagers.recreateInstances"] == 4
    after = members(gcp, scope, "web-blue")
    # Each member made again under its name (a new instance), every one running, the group's size kept.
    assert set(after) == set(before)
    assert all(after[name]["id"] != before[name]["id"] and after[name]["action"] == "NONE" for name in after)
    progress = [line for line in result["progress"] if ", waiting " not in line]
    assert len(progress) == 3 and progress[1].startswith("web-blue: replace batch 1/2 (2 instances: "), progress
    assert instance_record(gcp, stranger)["status"] == "RUNNING"

    again = playbook([drift_task(service="web", tags={"app": "web"}, max_age_days=30)])
    assert again.rc == 0, again.explain()
    assert again.task("drift")["result"]["drifted"] == [stranger]


def test_a_scan_by_service_alone_reads_the_network_of_the_groups_template(gcp, playbook):
    # A MIG has no network of its own: its group's subnets are its template's, as a service scan on AWS reads
    # its groups' subnets; every instance there is in scope, a loose one included.
    scope = make_group(gcp, "web-blue", gcp.seed.base_image, size=2, labels={"app": "web"}, service="web")
    grouped = set(members(gcp, scope, "web-blue"))
    loose = make_instance(gcp, "loose-1", gcp.seed.base_image, labels={"app": "batch"})

    run = playbook([drift_task(service="web")])

    assert run.rc == 0, run.explain()
    found = {entry["id"]: entry for entry in run.task("drift")["result"]["instances"]}
    assert grouped <= set(found) and loose in found, found
    assert "unmanaged" in found[loose]["reasons"] and all(found[member]["group"] == "web-blue" for member in grouped)
