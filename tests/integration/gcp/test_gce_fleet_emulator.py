"""The GCE emulator's fleet (tests/emulators/gce_fleet.py): managed instance groups, instance groups, health
checks, backend services and URL maps, driven through google-auth's AuthorizedSession over Compute v1 REST."""

from __future__ import annotations

from typing import Any

import pytest
from google.auth.transport.requests import AuthorizedSession
from google.oauth2 import service_account

SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
ZONE = "zones/us-central1-a"
REGION = "regions/us-central1"
# Enough polls for any operation of the emulator (it needs operation_polls, 3 here): a bound, not a pause.
MAX_POLLS = 50


class Compute:
    """Compute v1 calls on the emulator's project: each answer as (HTTP status, JSON body)."""

    def __init__(self, session: AuthorizedSession, project_url: str) -> None:
        self.session = session
        self.project_url = project_url

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> tuple[int, dict[str, Any]]:
        answer = self.session.request(method, self.project_url + path, json=body, params=params or None, timeout=60)
        return answer.status_code, answer.json()

    def ok(self, method: str, path: str, body: Any = None, **params: Any) -> dict[str, Any]:
        status, answer = self.call(method, path, body, **params)
        assert status == 200, answer
        return answer

    def wait(self, operation: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """Poll an operation (its own scope's wait) until DONE: the last answer and every status seen."""
        scope = operation["selfLink"].split(self.project_url, 1)[1].rsplit("/operations/", 1)[0]
        seen = [operation["status"]]
        for _poll in range(MAX_POLLS):
            if operation["status"] == "DONE":
                return operation, seen
            operation = self.ok("POST", "%s/operations/%s/wait" % (scope, operation["name"]))
            seen.append(operation["status"])
        raise AssertionError("operation %s not DONE after %d polls" % (operation["name"], MAX_POLLS))

    def done(self, method: str, path: str, body: Any = None, **params: Any) -> dict[str, Any]:
        """Send a mutation and wait for its operation, which must succeed."""
        operation, _seen = self.wait(self.ok(method, path, body, **params))
        assert "error" not in operation, operation
        return operation


@pytest.fixture
def compute(gce):
    credentials = service_account.Credentials.from_service_account_info(gce.key.info, scopes=SCOPES)
    session = AuthorizedSession(credentials)
    yield Compute(session, gce.emu.url("projects/%s/" % gce.seed.project))
    session.close()


def template_body(name: str, image: str) -> dict[str, Any]:
    return {
        "name": name,
        "properties": {
            "machineType": "e2-small",
            "labels": {"app": "web"},
            "disks": [{"boot": True, "autoDelete": True, "initializeParams": {"sourceImage": image}}],
            "networkInterfaces": [{"network": "global/networks/default"}],
        },
    }


def make_template(compute, gce, name="web-v1", image=None, scope="global"):
    compute.done("POST", scope + "/instanceTemplates", template_body(name, image or gce.seed.base_image))
    return "%s/instanceTemplates/%s" % (scope, name)


def make_group(compute, template, name="web-blue", size=2, scope=ZONE, **settings):
    body = {"name": name, "instanceTemplate": template, "targetSize": size, "baseInstanceName": name, **settings}
    compute.done("POST", scope + "/instanceGroupManagers", body)
    return "%s/instanceGroupManagers/%s" % (scope, name)


def managed(compute, group):
    """One listManagedInstances of the group (a read: members in progress move one step)."""
    return compute.ok("POST", group + "/listManagedInstances").get("managedInstances", [])


def read_until_stable(compute, group):
    """Read the group until it says it is stable; how many reads that took."""
    for reads in range(1, MAX_POLLS + 1):
        if compute.ok("GET", group)["status"]["isStable"]:
            return reads
    raise AssertionError("%s not stable after %d reads" % (group, MAX_POLLS))


def boot_image(compute, instance_url):
    instance = compute.ok("GET", instance_url.split(compute.project_url, 1)[1])
    disk = compute.ok("GET", instance["disks"][0]["source"].split(compute.project_url, 1)[1])
    return disk["sourceImage"]


def refusal(answer):
    return answer["error"]["code"], answer["error"]["errors"][0]["reason"], answer["error"]["message"]


def test_a_migs_members_are_made_from_its_template_and_reach_running_over_reads(gce, compute):
    template = make_template(compute, gce)
    operation = compute.ok(
        "POST",
        ZONE + "/instanceGroupManagers",
        {"name": "web-blue", "instanceTemplate": template, "targetSize": 2, "baseInstanceName": "web-blue"},
    )
    group = ZONE + "/instanceGroupManagers/web-blue"
    # Members are asked for by the insert: none exists while it runs.
    assert managed(compute, group) == []

    done, seen = compute.wait(operation)
    first = managed(compute, group)
    second = managed(compute, group)
    third = managed(compute, group)

    assert seen == ["PENDING", "RUNNING", "RUNNING", "DONE"] and "error" not in done
    assert operation["operationType"] == "insert" and operation["zone"].endswith(ZONE)
    assert [entry["currentAction"] for entry in first] == ["CREATING", "CREATING"]
    assert {entry["instanceStatus"] for entry in first} == {"STAGING"}
    assert [entry["currentAction"] for entry in second] == ["CREATING", "CREATING"]
    assert [(entry["currentAction"], entry["instanceStatus"]) for entry in third] == [("NONE", "RUNNING")] * 2
    manager = compute.ok("GET", group)
    assert manager["kind"] == "compute#instanceGroupManager" and manager["status"]["isStable"]
    assert manager["currentActions"]["none"] == 2 and manager["targetSize"] == 2
    assert manager["instanceTemplate"] == gce.emu.url("projects/%s/%s" % (gce.seed.project, template))
    for entry in third:
        assert entry["name"].startswith("web-blue-") and len(entry["name"]) == len("web-blue-") + 4
        instance = compute.ok("GET", "%s/instances/%s" % (ZONE, entry["name"]))
        metadata = {item["key"]: item["value"] for item in instance["metadata"]["items"]}
        assert instance["labels"] == {"app": "web"} and metadata["created-by"] == manager["selfLink"]
        assert boot_image(compute, entry["instance"]) == gce.seed.base_image
    group_resource = compute.ok("GET", ZONE + "/instanceGroups/web-blue")
    assert group_resource["kind"] == "compute#instanceGroup" and group_resource["size"] == 2
    assert manager["instanceGroup"] == group_resource["selfLink"]


def test_held_members_do_not_advance_until_released(gce, compute):
    group = make_group(compute, make_template(compute, gce), size=1)
    gce.emu.fleet.hold_members(group)

    held = [managed(compute, group)[0]["currentAction"] for _read in range(5)]
    gce.emu.fleet.release_members(group)

    assert held == ["CREATING"] * 5
    assert read_until_stable(compute, group) == gce.emu.operation_polls


def test_resize_adds_members_then_deletes_all_but_one(gce, compute):
    group = make_group(compute, make_template(compute, gce), size=2)
    gce.emu.fleet.settle_members()
    before = set(gce.emu.fleet.members_of(group))

    compute.done("POST", group + "/resize", size=4)
    grown = managed(compute, group)
    read_until_stable(compute, group)
    compute.done("POST", group + "/resize", size=1)
    shrinking = compute.ok("GET", group)
    read_until_stable(compute, group)
    left = managed(compute, group)

    assert sorted(entry["currentAction"] for entry in grown) == ["CREATING", "CREATING", "NONE", "NONE"]
    assert before < {entry["name"] for entry in grown}
    assert shrinking["targetSize"] == 1 and shrinking["currentActions"]["deleting"] == 3
    assert len(left) == 1 and left[0]["currentAction"] == "NONE"
    assert compute.ok("GET", ZONE + "/instanceGroups/web-blue")["size"] == 1
    names = [item["name"] for item in compute.ok("GET", ZONE + "/instances").get("items", [])]
    assert names == [left[0]["name"]]
    assert gce.emu.calls["compute.instanceGroupManagers.resize"] == 2


def test_set_instance_template_and_recreate_instances_give_members_the_new_image(gce, compute):
    new_image = gce.emu.put_image("phoenix-web-2", family="phoenix-web")["selfLink"]
    old = make_template(compute, gce, "web-v1")
    new = make_template(compute, gce, "web-v2", image="global/images/family/phoenix-web")
    group = make_group(compute, old, size=2, updatePolicy={"type": "OPPORTUNISTIC"})
    gce.emu.fleet.settle_members()
    members = sorted(gce.emu.fleet.members_of(group))
    old_ids = {name: member["id"] for name, member in gce.emu.fleet.members_of(group).items()}

    compute.done("POST", group + "/setInstanceTemplate", {"instanceTemplate": new})
    switched = compute.ok("GET", group)
    compute.done("POST", group + "/recreateInstances", {"instances": ["%s/instances/%s" % (ZONE, n) for n in members]})
    recreating = managed(compute, group)
    read_until_stable(compute, group)
    after = managed(compute, group)

    # OPPORTUNISTIC: the new template is the target, the members stay as they are until recreated.
    assert switched["instanceTemplate"].endswith(new) and not switched["status"]["versionTarget"]["isReached"]
    assert [entry["currentAction"] for entry in recreating] == ["RECREATING", "RECREATING"]
    assert [entry["name"] for entry in after] == members
    assert all(entry["version"]["instanceTemplate"].endswith(new) for entry in after)
    assert all(entry["id"] != old_ids[entry["name"]] for entry in after)
    assert [boot_image(compute, entry["instance"]) for entry in after] == [new_image, new_image]
    assert compute.ok("GET", group)["status"]["versionTarget"]["isReached"]


def test_recreate_refuses_an_instance_that_is_not_a_member(gce, compute):
    group = make_group(compute, make_template(compute, gce), size=1)

    status, answer = compute.call("POST", group + "/recreateInstances", {"instances": [ZONE + "/instances/other"]})

    assert status == 400 and refusal(answer)[1] == "invalid" and "instances[0]" in refusal(answer)[2]


def test_a_patch_needs_the_groups_current_fingerprint(gce, compute):
    group = make_group(compute, make_template(compute, gce), size=1)
    fingerprint = compute.ok("GET", group)["fingerprint"]

    compute.done("PATCH", group, {"fingerprint": fingerprint, "targetSize": 2})
    status, stale = compute.call("PATCH", group, {"fingerprint": fingerprint, "targetSize": 3})
    read_until_stable(compute, group)

    assert status == 412 and refusal(stale)[:2] == (412, "conditionNotMet")
    manager = compute.ok("GET", group)
    assert manager["targetSize"] == 2 and manager["currentActions"]["none"] == 2
    assert manager["fingerprint"] != fingerprint


def test_a_regional_mig_spreads_its_members_over_the_regions_zones(gce, compute):
    template = make_template(compute, gce, "web-r1", scope=REGION)
    operation = compute.ok(
        "POST",
        REGION + "/instanceGroupManagers",
        {"name": "web-r", "instanceTemplate": template, "targetSize": 3, "baseInstanceName": "web-r"},
    )
    _done, seen = compute.wait(operation)
    group = REGION + "/instanceGroupManagers/web-r"
    read_until_stable(compute, group)

    manager = compute.ok("GET", group)
    zones = sorted(member["zone"] for member in gce.emu.fleet.members_of(group).values())
    assert len(seen) == gce.emu.operation_polls + 1 and operation["region"].endswith(REGION)
    assert zones == ["zones/us-central1-a", "zones/us-central1-b", "zones/us-central1-c"]
    assert [entry["zone"].rsplit("/", 1)[-1] for entry in manager["distributionPolicy"]["zones"]] == [
        "us-central1-a",
        "us-central1-b",
        "us-central1-c",
    ]
    assert manager["region"].endswith(REGION) and manager["instanceGroup"].endswith(REGION + "/instanceGroups/web-r")
    assert compute.ok("GET", REGION + "/instanceGroups/web-r")["size"] == 3
    assert compute.ok("GET", REGION + "/instanceTemplates/web-r1")["region"].endswith(REGION)
    # Regional twins are counted under their own discovery names, and their operations are the region's.
    calls = gce.emu.calls
    assert (
        calls["compute.regionInstanceTemplates.insert"] == 1 and calls["compute.regionInstanceGroupManagers.get"] >= 1
    )
    assert calls["compute.regionInstanceGroups.get"] == 1 and calls["compute.instanceGroupManagers.insert"] == 0
    assert calls["compute.regionOperations.wait"] >= 2 * gce.emu.operation_polls


def test_a_zonal_mig_refuses_a_template_of_another_region(gce, compute):
    template = make_template(compute, gce, "web-eu", scope="regions/europe-west1")
    body = {"name": "web", "instanceTemplate": template, "targetSize": 1, "baseInstanceName": "web"}

    status, answer = compute.call("POST", ZONE + "/instanceGroupManagers", body)

    assert status == 400 and "resource.instanceTemplate" in refusal(answer)[2]


def test_an_operation_failure_of_a_regional_twin_spares_zonal_and_purely_regional_calls(gce, compute):
    template = make_template(compute, gce)
    gce.emu.fail_operations("compute.regionInstanceGroupManagers.insert", code="ZONE_RESOURCE_POOL_EXHAUSTED")
    gce.emu.fail_operations("compute.subnetworks.insert", code="QUOTA_EXCEEDED")
    regional = {"name": "web-r", "instanceTemplate": template, "targetSize": 1, "baseInstanceName": "web-r"}

    failed, _seen = compute.wait(compute.ok("POST", REGION + "/instanceGroupManagers", regional))
    zonal = make_group(compute, template, size=1)
    subnetwork = {"name": "extra", "network": "global/networks/default", "ipCidrRange": "10.200.0.0/20"}
    failed_subnetwork, _seen = compute.wait(compute.ok("POST", REGION + "/subnetworks", subnetwork))

    assert failed["error"]["errors"][0]["code"] == "ZONE_RESOURCE_POOL_EXHAUSTED"
    assert compute.call("GET", REGION + "/instanceGroupManagers/web-r")[0] == 404
    assert compute.call("GET", REGION + "/instanceGroups/web-r")[0] == 404
    assert compute.ok("GET", zonal)["targetSize"] == 1
    # subnetworks has no global twin: its method id stays compute.subnetworks.*, so its fault applied.
    assert failed_subnetwork["error"]["errors"][0]["code"] == "QUOTA_EXCEEDED"
    assert gce.emu.calls["compute.subnetworks.insert"] == 1


def serve(compute, group_url, name="web-bs", health_check=True):
    if health_check:
        compute.done(
            "POST", "global/healthChecks", {"name": "web-hc", "type": "HTTP", "httpHealthCheck": {"port": 8080}}
        )
    body = {"name": name, "portName": "http", "backends": [{"group": group_url}] if group_url else []}
    if health_check:
        body["healthChecks"] = ["global/healthChecks/web-hc"]
    compute.done("POST", "global/backendServices", body)
    return "global/backendServices/%s" % name


def test_get_health_says_healthy_until_an_instance_is_marked_unhealthy(gce, compute):
    group = make_group(compute, make_template(compute, gce), size=2, namedPorts=[{"name": "http", "port": 8080}])
    instance_group = compute.ok("GET", group)["instanceGroup"]
    service = serve(compute, instance_group)
    starting = compute.ok("POST", service + "/getHealth", {"group": instance_group})
    read_until_stable(compute, group)

    healthy = compute.ok("POST", service + "/getHealth", {"group": instance_group})
    first = sorted(gce.emu.fleet.members_of(group))[0]
    gce.emu.fleet.set_instance_health("%s/instances/%s" % (ZONE, first), "UNHEALTHY")
    marked = compute.ok("POST", service + "/getHealth", {"group": instance_group})

    assert healthy["kind"] == "compute#backendServiceGroupHealth"
    # Members still being made are not serving.
    assert [status["healthState"] for status in starting["healthStatus"]] == ["UNHEALTHY", "UNHEALTHY"]
    assert [status["healthState"] for status in healthy["healthStatus"]] == ["HEALTHY", "HEALTHY"]
    assert {status["port"] for status in healthy["healthStatus"]} == {8080}
    assert [(status["instance"].rsplit("/", 1)[-1], status["healthState"]) for status in marked["healthStatus"]] == [
        (first, "UNHEALTHY"),
        (sorted(gce.emu.fleet.members_of(group))[1], "HEALTHY"),
    ]
    status, answer = compute.call(
        "POST", "global/backendServices/web-bs/getHealth", {"group": ZONE + "/instanceGroups/nothing"}
    )
    assert status == 404 and refusal(answer)[1] == "notFound"


def test_a_template_marked_unhealthy_makes_every_member_unhealthy(gce, compute):
    template = make_template(compute, gce)
    group = make_group(compute, template, size=2)
    instance_group = compute.ok("GET", group)["instanceGroup"]
    service = serve(compute, instance_group)
    gce.emu.fleet.settle_members()

    gce.emu.fleet.set_template_health(template, "UNHEALTHY")
    broken = compute.ok("POST", service + "/getHealth", {"group": instance_group})
    gce.emu.fleet.set_template_health(template, None)
    mended = compute.ok("POST", service + "/getHealth", {"group": instance_group})

    assert {status["healthState"] for status in broken["healthStatus"]} == {"UNHEALTHY"}
    assert {status["healthState"] for status in mended["healthStatus"]} == {"HEALTHY"}


def test_a_url_maps_weighted_split_is_updated_with_its_fingerprint_and_a_stale_one_is_412(gce, compute):
    blue = serve(compute, None, "web-blue", health_check=False)
    green = serve(compute, None, "web-green", health_check=False)
    compute.done("POST", "global/urlMaps", {"name": "web-lb", "defaultService": blue})
    url_map = compute.ok("GET", "global/urlMaps/web-lb")

    split = {
        "fingerprint": url_map["fingerprint"],
        "defaultService": None,
        "defaultRouteAction": {
            "weightedBackendServices": [{"backendService": blue, "weight": 90}, {"backendService": green, "weight": 10}]
        },
    }
    compute.done("PATCH", "global/urlMaps/web-lb", split)
    status, stale = compute.call("PATCH", "global/urlMaps/web-lb", dict(split, defaultRouteAction=None))
    updated = compute.ok("GET", "global/urlMaps/web-lb")

    assert url_map["kind"] == "compute#urlMap" and gce.emu.fleet.url_map_weights("web-lb") == {
        "web-blue": 90,
        "web-green": 10,
    }
    assert status == 412 and refusal(stale)[:2] == (412, "conditionNotMet")
    assert "defaultService" not in updated and updated["fingerprint"] != url_map["fingerprint"]
    assert [entry["backendService"] for entry in updated["defaultRouteAction"]["weightedBackendServices"]] == [
        gce.emu.url("projects/%s/%s" % (gce.seed.project, blue)),
        gce.emu.url("projects/%s/%s" % (gce.seed.project, green)),
    ]
    replace = {"name": "web-lb", "fingerprint": updated["fingerprint"], "defaultService": green}
    compute.done("PUT", "global/urlMaps/web-lb", replace)
    assert gce.emu.fleet.url_map_weights("web-lb") == {"web-green": 100}
    current = compute.ok("GET", "global/urlMaps/web-lb")["fingerprint"]
    status, both = compute.call("PUT", "global/urlMaps/web-lb", dict(split, fingerprint=current, defaultService=blue))
    assert status == 400 and refusal(both)[1] == "invalid" and "Only one of defaultService" in refusal(both)[2]


def test_deleting_what_another_resource_uses_is_refused(gce, compute):
    template = make_template(compute, gce)
    group = make_group(compute, template, size=1)
    service = serve(compute, compute.ok("GET", group)["instanceGroup"])
    compute.done("POST", "global/urlMaps", {"name": "web-lb", "defaultService": service})

    refusals = {path: compute.call("DELETE", path) for path in (template, "global/healthChecks/web-hc", group, service)}

    for path, (status, answer) in refusals.items():
        code, reason, message = refusal(answer)
        assert (status, code, reason) == (400, 400, "resourceInUseByAnotherResource"), path
        assert "is already being used by 'projects/%s/" % gce.seed.project in message
    assert "urlMaps/web-lb" in refusal(refusals[service][1])[2]
    assert "backendServices/web-bs" in refusal(refusals[group][1])[2]
    # Taken apart from the top, each delete is allowed, and the group's members go with it.
    for path in ("global/urlMaps/web-lb", service, "global/healthChecks/web-hc", group, template):
        compute.done("DELETE", path)
    assert compute.ok("GET", ZONE + "/instances").get("items", []) == []
    assert compute.call("GET", ZONE + "/instanceGroups/web-blue")[0] == 404


def test_aggregated_instances_lists_the_members_of_zonal_and_regional_migs(gce, compute):
    template = make_template(compute, gce)
    zonal = make_group(compute, template, size=2)
    regional = make_group(compute, template, "web-r", size=3, scope=REGION)

    aggregated = compute.ok("GET", "aggregated/instances")
    groups = compute.ok("GET", "aggregated/instanceGroupManagers")

    listed = {
        scope: sorted(item["name"] for item in entry.get("instances", []))
        for scope, entry in aggregated["items"].items()
    }
    members = sorted([*gce.emu.fleet.members_of(zonal), *gce.emu.fleet.members_of(regional)])
    assert sorted(name for names in listed.values() for name in names) == members
    assert len(listed["zones/us-central1-a"]) == 3 and listed["zones/europe-west1-b"] == []
    assert groups["kind"] == "compute#instanceGroupManagerAggregatedList"
    assert [item["name"] for item in groups["items"][ZONE]["instanceGroupManagers"]] == ["web-blue"]
    assert [item["name"] for item in groups["items"][REGION]["instanceGroupManagers"]] == ["web-r"]


def test_a_proactive_template_change_replaces_every_outdated_member(gce, compute):
    new_image = gce.emu.put_image("phoenix-web-2")["selfLink"]
    group = make_group(compute, make_template(compute, gce, "web-v1"), size=2)
    gce.emu.fleet.settle_members()
    new = make_template(compute, gce, "web-v2", image=new_image)

    compute.done("POST", group + "/setInstanceTemplate", {"instanceTemplate": new})
    replacing = managed(compute, group)
    read_until_stable(compute, group)

    assert [entry["currentAction"] for entry in replacing] == ["RECREATING", "RECREATING"]
    assert [boot_image(compute, entry["instance"]) for entry in managed(compute, group)] == [new_image, new_image]


def test_autohealing_reports_each_members_health_in_list_managed_instances(gce, compute):
    compute.done("POST", "global/healthChecks", {"name": "web-hc", "type": "TCP", "tcpHealthCheck": {"port": 22}})
    check = gce.emu.url("projects/%s/global/healthChecks/web-hc" % gce.seed.project)
    policy = [{"healthCheck": "global/healthChecks/web-hc", "initialDelaySec": 60}]
    group = make_group(compute, make_template(compute, gce), size=2, autoHealingPolicies=policy)
    gce.emu.fleet.settle_members()
    first = sorted(gce.emu.fleet.members_of(group))[0]
    gce.emu.fleet.set_instance_health("%s/instances/%s" % (ZONE, first), "UNHEALTHY")

    entries = managed(compute, group)
    status, in_use = compute.call("DELETE", "global/healthChecks/web-hc")

    assert compute.ok("GET", group)["autoHealingPolicies"] == [{"healthCheck": check, "initialDelaySec": 60}]
    assert [entry["instanceHealth"] for entry in entries] == [
        [{"healthCheck": check, "detailedHealthState": "UNHEALTHY"}],
        [{"healthCheck": check, "detailedHealthState": "HEALTHY"}],
    ]
    assert status == 400 and "instanceGroupManagers/web-blue" in refusal(in_use)[2]


def test_a_member_deleted_behind_the_groups_back_is_made_again_under_its_name(gce, compute):
    group = make_group(compute, make_template(compute, gce), size=1)
    gce.emu.fleet.settle_members()
    (name, member), *_others = gce.emu.fleet.members_of(group).items()

    compute.done("DELETE", "%s/instances/%s" % (ZONE, name))
    remade = managed(compute, group)
    read_until_stable(compute, group)

    assert [(entry["name"], entry["currentAction"]) for entry in remade] == [(name, "CREATING")]
    assert compute.ok("GET", "%s/instances/%s" % (ZONE, name))["id"] != member["id"]


def test_a_resize_sent_again_with_its_request_id_is_applied_once(gce, compute):
    group = make_group(compute, make_template(compute, gce), size=1)
    request_id = "7d6f3c1a-93b1-4c7e-8a55-2b0e6f1d4c21"

    first = compute.ok("POST", group + "/resize", size=3, requestId=request_id)
    again = compute.ok("POST", group + "/resize", size=3, requestId=request_id)
    compute.wait(first)

    assert again["name"] == first["name"] and first["operationType"] == "resize"
    assert len(gce.emu.fleet.members_of(group)) == 3


def test_a_paginated_group_lists_its_members_in_pages(gce, compute):
    group = make_group(compute, make_template(compute, gce), size=3, listManagedInstancesResults="PAGINATED")

    first = compute.ok("POST", group + "/listManagedInstances", maxResults=2)
    rest = compute.ok("POST", group + "/listManagedInstances", maxResults=2, pageToken=first["nextPageToken"])

    names = [entry["name"] for entry in first["managedInstances"] + rest["managedInstances"]]
    assert len(first["managedInstances"]) == 2 and "nextPageToken" not in rest
    assert names == sorted(gce.emu.fleet.members_of(group))
