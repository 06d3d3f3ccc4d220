"""Blue/green on GCP through ansible-playbook: the blue_green and rollout_info modules with ``cloud: gcp`` on the
GCE emulator. A service as a user made it (a base instance template, a zonal MIG ``web-a`` behind backend
service ``web-a``, a URL map ``web-map`` sending to it); what the swap did is read back from the emulator (URL
map weights, MIGs, templates, project metadata)."""

from __future__ import annotations

import json
import threading
import time
from typing import TYPE_CHECKING

import pytest
import yaml
from harness.processes import in_thread, kill_ansible_runs
from harness.rollouts import RECORD_POINT_IDS, RECORD_POINTS

from ansible_collections.phoenix.immutable.plugins.module_utils._gcp import fleet_api
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.groups import GcpGroupBackend
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.operations import wait_for
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.transformations import api_path

if TYPE_CHECKING:  # the GCP conftest's; a plain import would find the swap tests' conftest when both run
    from conftest import GceContext

MODULE = "phoenix.immutable.blue_green"
SCOPE = "zones/us-central1-a"
DEADLINE = 120
# Compute methods that change nothing, and the token grant.
READS = {"get", "list", "aggregatedList", "listManagedInstances", "getHealth", "token"}


class Service:
    """The service before the collection runs, made on a connection of its own (its calls are not counted)."""

    def __init__(self, gce: GceContext, size: int = 2):
        self.gce = gce
        self.project = gce.seed.project
        self.setup = gce.connection()
        self.waiter = gce.waiter()
        self.size = size
        body = {
            "name": "web-base",
            "properties": {
                "machineType": "e2-small",
                "labels": {"app": "web"},
                "disks": [{"boot": True, "autoDelete": True, "initializeParams": {"sourceImage": gce.seed.base_image}}],
                "networkInterfaces": [{"network": "global/networks/default"}],
            },
        }
        fleet_api.insert_template(self.setup, self.project, "global", body, self.waiter)
        base = fleet_api.get_template(self.setup, self.project, "global", "web-base")
        group = {"name": "web-a", "instanceTemplate": base["selfLink"], "targetSize": size, "baseInstanceName": "web-a"}
        fleet_api.insert_group_manager(self.setup, self.project, SCOPE, group, self.waiter)
        gce.emu.fleet.settle_members()
        self.backend = self._insert(
            "backendServices",
            {"name": "web-a", "backends": [{"group": "projects/%s/%s/instanceGroups/web-a" % (self.project, SCOPE)}]},
        )
        self.url_map = self._insert("urlMaps", {"name": "web-map", "defaultService": self.backend})
        self.image = api_path(gce.emu.put_image("phoenix-web-2", family="phoenix-web")["selfLink"])
        self.image_next = api_path(gce.emu.put_image("phoenix-web-3", family="phoenix-web")["selfLink"])

    def _insert(self, collection, body):
        path = "projects/%s/global/%s" % (self.project, collection)
        operation = self.setup.request("POST", path, "compute.%s.insert" % collection, body=body, mutation=True)
        wait_for(self.setup, operation, self.waiter)
        return self.setup.request("GET", "%s/%s" % (path, body["name"]), "compute.%s.get" % collection)["selfLink"]

    def weights(self):
        return self.gce.emu.fleet.url_map_weights("web-map")

    def groups(self):
        return sorted(item["name"] for item in fleet_api.list_group_managers(self.setup, self.project, SCOPE))

    def backend_services(self):
        path = "projects/%s/global/backendServices" % self.project
        found = self.setup.request("GET", path, "compute.backendServices.list")
        return sorted(item["name"] for item in found.get("items") or [])

    def templates(self):
        return sorted(item["name"] for item in fleet_api.list_templates(self.setup, self.project, "global"))

    def record_items(self):
        project = fleet_api.get_project(self.setup, self.project)
        items = project["commonInstanceMetadata"].get("items") or []
        return [item["key"] for item in items if item["key"].startswith("phoenix-rollout-")]

    def task(self, image_id=None, title="swap", **options):
        args = {
            "service": "web",
            "listener": "web-map",
            "template": "web-base",
            "step_seconds": 0,
            "keep_blue_seconds": 0,
            "lease_seconds": 30,
        }
        if image_id:
            args["image_id"] = image_id
        args["health"] = {"interval": 0.2, **options.pop("health", {})}
        args.update(options)
        return {"name": title, MODULE: args}


@pytest.fixture
def service(gcp):
    return Service(gcp)


class Observer:
    """Wraps the emulator's request handling (after the call is applied): the URL map's weights after each
    update, blue's lowest serving capacity after any call while the URL map sends it traffic, and a gate holding
    the answer of the first write of a record with ``phase`` (and ``weight``)."""

    def __init__(self, emu, project):
        self.emu = emu
        self.project = project
        self.weights = []
        self.blue_lowest = None
        self.blue_samples = 0
        self.gate = None
        self.reached = threading.Event()
        self.released = threading.Event()
        self._handle = emu.handle

    def arm(self, phase, weight=None):
        self.gate = (phase, None if weight is None else str(weight))

    def release(self):
        self.released.set()

    def handle(self, method, target, headers, raw):
        answer = self._handle(method, target, headers, raw)
        if method in ("PUT", "PATCH") and "/urlMaps/" in target:
            self.weights.append(self.emu.fleet.url_map_weights("web-map"))
        self._sample_blue()
        if self.gate and not self.reached.is_set() and any(self._matches(r) for r in records_in(target, raw)):
            self.reached.set()
            self.released.wait(DEADLINE)
        return answer

    def _sample_blue(self):
        # Every change of the emulator's state is a call through here, so a sample after each call sees every
        # state blue is in: no polling to miss one.
        capacity = blue_capacity(self.emu.fleet, self.project)
        if capacity is not None:
            self.blue_lowest = capacity if self.blue_lowest is None else min(self.blue_lowest, capacity)
            self.blue_samples += 1

    def _matches(self, record):
        phase, weight = self.gate
        return record.get("phase") == phase and (weight is None or record.get("weight") == weight)


def blue_capacity(fleet, project):
    """What blue (MIG and backend service ``web-a``) serves with now: its running members, at most its target
    size, scaled by its backend's capacityScaler; None while the URL map sends it no traffic."""
    with fleet.emu.lock:
        if not fleet.url_map_weights("web-map").get("web-a"):
            return None
        manager = fleet.group_managers.table(project, SCOPE).get("web-a")
        service = fleet.backend_services.table(project, "global").get("web-a")
        if manager is None or service is None:
            return 0
        running = sum(
            1
            for member in fleet.members(manager).values()
            if member["action"] == "NONE" and (fleet.instance_of(manager, member) or {}).get("status") == "RUNNING"
        )
        group = "/%s/instanceGroups/web-a" % SCOPE
        scaler = next((b["capacityScaler"] for b in service["backends"] if b["group"].endswith(group)), 0)
        return min(running, manager["targetSize"]) * scaler


def records_in(target, raw):
    """The rollout records a request writes: a MIG insert's description, or the metadata items of web-b."""
    if not raw or ("/instanceGroupManagers" not in target and "/setCommonInstanceMetadata" not in target):
        return []
    try:
        body = json.loads(raw)
    except ValueError:
        return []
    description = body.get("description") or ""
    if description.startswith("phoenix-rollout "):
        return [json.loads(description.split(" ", 1)[1])]
    found = []
    for item in body.get("items") or []:
        if item.get("key", "").endswith("-web-b") or item.get("key", "").endswith("-web-a"):
            found.append(json.loads(item["value"]).get("record") or {})
    return found


@pytest.fixture
def observer(gcp, monkeypatch):
    watching = Observer(gcp.emu, gcp.seed.project)
    monkeypatch.setattr(gcp.emu, "handle", watching.handle)
    yield watching
    watching.release()


def test_an_all_at_once_swap_moves_every_weight_to_green_and_blue_is_gone(gcp, playbook, service):
    run = playbook([service.task(service.image), service.task(service.image, title="again")])

    assert run.rc == 0, run.explain()
    result = run.task("swap")["result"]
    assert result["changed"] is True and result["rollout"]["state"] == "deployed"
    assert service.weights() == {"web-b": 100}
    assert service.groups() == ["web-b"] and service.backend_services() == ["web-b"]
    assert run.task("again")["result"]["changed"] is False

    assert service.templates() == sorted(["web-base", api_path(green_launch(service)).rsplit("/", 1)[1]])
    record = read_record(service, "web-b")
    assert (record.role, record.phase, record.owner, record.lease_until) == ("blue", "done", None, None)
    assert result["progress"][-1].startswith("web: done, web-b serves %s" % service.image)


def green_launch(service, name="web-b"):
    return fleet_api.get_group_manager(service.setup, service.project, SCOPE, name)["instanceTemplate"]


def read_record(service, name):
    group = GcpGroupBackend(service.gce.connection(), waiter=service.waiter).get(name)
    return group.record if group else None


def test_a_canary_moves_the_url_map_weights_step_by_step(gcp, playbook, service, observer):
    run = playbook([service.task(service.image, strategy="canary", canary_steps=[25, 50, 100])])

    assert run.rc == 0, run.explain()
    result = run.task("swap")["result"]
    assert observer.weights == [{"web-a": 75, "web-b": 25}, {"web-a": 50, "web-b": 50}, {"web-b": 100}]
    shifts = [line for line in result["progress"] if line.startswith("web: shift")]
    assert [line.split("%")[0] for line in shifts] == ["web: shift 25", "web: shift 50", "web: shift 100"]
    assert service.groups() == ["web-b"] and service.weights() == {"web-b": 100}


def test_a_green_failing_its_health_gate_is_rolled_back_with_traffic_on_blue_and_nothing_of_green_left(
    gcp, playbook, service
):
    fleet = gcp.emu.fleet

    def broken_build():
        for table in fleet.instance_templates.tables.values():
            for template in table.values():
                if template["name"] != "web-base":
                    fleet.set_template_health(template["selfLink"], "UNHEALTHY")

    gcp.emu.before_call("compute.instanceGroupManagers.setInstanceTemplate", broken_build)
    run = playbook([service.task(service.image, strategy="canary", wait_timeout=5)])

    assert run.rc != 0
    result = run.task("swap")["result"]
    assert result["error"]["code"] == "RolledBack", result["msg"]
    assert service.weights() == {"web-a": 100}
    assert service.groups() == ["web-a"] and service.templates() == ["web-base"]
    assert service.record_items() == []
    assert service.backend_services() == ["web-a"]


# -- one rollout at a time, the trust gate, SIGKILL at a phase boundary ----------------------------------------


def wait_for_lease_end(service, name="web-b"):
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        record = read_record(service, name)
        if record is None or not record.lease_until or record.lease_until < time.time():
            return
        time.sleep(0.1)
    raise AssertionError("the lease of %s never ended" % name)


def test_a_second_concurrent_swap_is_refused_naming_the_one_in_progress(gcp, playbook, service, observer):
    observer.arm("launch")
    first = in_thread(lambda: playbook([service.task(service.image, title="first")]), 2 * DEADLINE)
    assert observer.reached.wait(DEADLINE), "the first swap never reached launch"
    second = playbook([service.task(service.image_next, title="second")])
    held = read_record(service, "web-b")
    observer.release()
    first_run = first()

    assert second.rc != 0
    refused = second.task("second")["result"]
    assert refused["error"]["code"] == "RolloutInProgress"
    assert held.rollout in refused["msg"] and "web-b" in refused["msg"]
    assert not [call for call in refused["api_calls"] if call.rsplit(".", 1)[1] not in READS]
    assert first_run.rc == 0, first_run.explain()
    assert service.weights() == {"web-b": 100} and service.groups() == ["web-b"]


def test_an_unsigned_image_is_refused_by_verify_before_any_change(gcp, playbook, service, signing_key, tmp_path):
    policy = tmp_path / "policy.yml"
    policy.write_text(yaml.safe_dump({"keys": [{"name": "build", "public_key": signing_key["public"]}]}))
    sign = {
        "name": "sign",
        "phoenix.immutable.image_sign": {"image_id": service.image_next, "key": signing_key["path"]},
    }
    signed = playbook([sign])
    assert signed.rc == 0, signed.explain()
    before = (service.weights(), service.groups(), service.templates(), service.backend_services())

    run = playbook([service.task(service.image, title="unsigned", verify=str(policy))])

    assert run.rc != 0
    result = run.task("unsigned")["result"]
    assert result["error"]["code"] == "UntrustedImage" and service.image in result["msg"]
    assert set(result["api_calls"]) <= {"compute.images.get", "oauth2.token"}
    assert (service.weights(), service.groups(), service.templates(), service.backend_services()) == before

    run = playbook([service.task(service.image_next, title="signed", verify=str(policy))])
    assert run.rc == 0, run.explain()
    assert run.task("signed")["result"]["verification"][0]["verified"] is True
    assert service.weights() == {"web-b": 100}
    # The trust gate reads on the swap's own connection: one token for the whole task.
    assert run.task("signed")["result"]["api_calls"]["oauth2.token"] == 1


@pytest.mark.parametrize(("phase", "weight", "resumed"), RECORD_POINTS, ids=RECORD_POINT_IDS)
def test_a_run_killed_at_a_record_point_converges_on_the_next_run(
    gcp, playbook, service, observer, phase, weight, resumed
):
    options = dict(strategy="canary", canary_steps=[10, 50, 100], lease_seconds=2)
    if phase == "keep_blue":
        options["keep_blue_seconds"] = 1  # a keep-blue wait is recorded only when there is one
    observer.arm(phase, weight)
    killed = in_thread(lambda: playbook([service.task(service.image, title="killed", **options)]), 2 * DEADLINE)
    assert observer.reached.wait(DEADLINE), "the run never reached %s %s" % (phase, weight or "")
    kill_ansible_runs()
    observer.release()
    assert killed().rc != 0
    wait_for_lease_end(service)

    run = playbook([service.task(service.image, title="again", **options)])

    assert run.rc == 0, run.explain()
    result = run.task("again")["result"]
    assert result["rollout"]["resumed_from"] == resumed and result["changed"] is True
    assert service.weights() == {"web-b": 100}
    assert service.groups() == ["web-b"] and service.backend_services() == ["web-b"]
    assert service.templates() == sorted(["web-base", api_path(green_launch(service)).rsplit("/", 1)[1]])
    assert service.record_items() == ["phoenix-rollout-us-central1-a-web-b"]
    record = read_record(service, "web-b")
    assert (record.role, record.phase, record.owner, record.lease_until) == ("blue", "done", None, None)
    assert record.blue_group is None
    # While the URL map sent blue any traffic, blue served with all it had: the kill and the resume took none.
    assert observer.blue_samples > 0 and observer.blue_lowest == service.size, (
        observer.blue_lowest,
        observer.blue_samples,
    )


def test_rollout_info_reads_what_a_run_killed_mid_canary_left_and_the_next_run_converges(
    gcp, playbook, service, observer
):
    # A lease long enough for rollout_info to see it held, short enough to wait out before the next run.
    options = dict(strategy="canary", canary_steps=[10, 50, 100], lease_seconds=20)
    observer.arm("shift", "50")
    killed = in_thread(lambda: playbook([service.task(service.image, title="killed", **options)]), 2 * DEADLINE)
    assert observer.reached.wait(DEADLINE), "the run never reached shift 50"
    kill_ansible_runs()
    observer.release()
    assert killed().rc != 0

    info = {"service": "web", "listener": "web-map"}
    run = playbook([{"name": "info", "phoenix.immutable.rollout_info": info}])

    assert run.rc == 0, run.explain()
    result = run.task("info")["result"]
    view = result["rollout"]
    assert result["changed"] is False
    assert (view["state"], view["phase"], view["weight"]) == ("in_progress", "shift", 50), view
    assert view["image"] == service.image and view["green"]["name"] == "web-b"
    assert view["blue"]["name"] == "web-a" and view["blue"]["size"] == 2
    assert view["lease"]["held"] is True and 0 < view["lease"]["seconds_left"] <= 20
    assert not [call for call in result["api_calls"] if call.rsplit(".", 1)[1] not in READS]
    # The phase is recorded before its action: the run died before the URL map moved from 10 to 50.
    weights = {entry["groups"][0]: entry["weight"] for entry in view["shares"].values()}
    assert weights == {"web-b": 10, "web-a": 90}, view["shares"]
    assert service.weights() == {"web-b": 10, "web-a": 90}

    wait_for_lease_end(service)
    again = playbook([service.task(service.image, title="again", **options)])
    assert again.rc == 0, again.explain()
    assert again.task("again")["result"]["rollout"]["resumed_from"] == "shift"
    assert service.weights() == {"web-b": 100} and service.groups() == ["web-b"]
    assert service.backend_services() == ["web-b"]
