"""GCP managed instance groups and the rollout record (_gcp/fleet_api.py, groups.py, rollout_store.py) driven
through a real GcpConnection (google-auth's AuthorizedSession) against the GCE emulator."""

from __future__ import annotations

import json
import threading

import pytest

from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import InvalidInput, PhoenixError
from ansible_collections.phoenix.immutable.plugins.module_utils._core.health import HealthSpec
from ansible_collections.phoenix.immutable.plugins.module_utils._core.rollout import Rollout
from ansible_collections.phoenix.immutable.plugins.module_utils._core.rollout_model import RolloutRecord, RolloutSpec
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp import compute, fleet_api
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.errors import AlreadyExists
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.groups import GcpGroupBackend
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.health import GcpHealthBackend
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.identifiers import parse_instance_id
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.operations import wait_for
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.rollout_store import GcpRolloutStore
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.traffic import GcpTrafficBackend
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.transformations import api_path

ZONE_SCOPE = "zones/us-central1-a"
REGION_SCOPE = "regions/us-central1"


def template_body(name, image, labels=None):
    return {
        "name": name,
        "description": "the web service",
        "properties": {
            "machineType": "e2-small",
            "labels": labels or {"app": "web"},
            "metadata": {"items": [{"key": "startup-script", "value": "echo hi"}]},
            "disks": [{"boot": True, "autoDelete": True, "initializeParams": {"sourceImage": image}}],
            "networkInterfaces": [{"network": "global/networks/default"}],
        },
    }


@pytest.fixture
def connection(gce):
    return gce.connection()


def make_base(gce, connection, name="web-base", scope="global"):
    fleet_api.insert_template(
        connection, gce.seed.project, scope, template_body(name, gce.seed.base_image), gce.waiter()
    )
    return fleet_api.get_template(connection, gce.seed.project, scope, name)


# -- fleet_api ------------------------------------------------------------------------------------


@pytest.mark.parametrize("scope", [ZONE_SCOPE, REGION_SCOPE])
def test_fleet_api_drives_a_mig_through_its_life_in_either_scope(gce, connection, scope):
    project, waiter = gce.seed.project, gce.waiter()
    base = make_base(gce, connection)
    body = {"name": "web-a", "instanceTemplate": base["selfLink"], "targetSize": 0, "baseInstanceName": "web-a"}

    done = fleet_api.insert_group_manager(connection, project, scope, body, waiter)
    with pytest.raises(AlreadyExists):
        fleet_api.insert_group_manager(connection, project, scope, body, waiter)
    fleet_api.resize_group_manager(connection, project, scope, "web-a", 2, waiter)
    gce.emu.fleet.settle_members()
    members = fleet_api.list_managed_instances(connection, project, scope, "web-a")
    fleet_api.recreate_instances(connection, project, scope, "web-a", [members[0]["instance"]], waiter)
    manager = fleet_api.get_group_manager(connection, project, scope, "web-a")
    fleet_api.patch_group_manager(
        connection, project, scope, "web-a", {"updatePolicy": {"type": "OPPORTUNISTIC"}}, manager["fingerprint"], waiter
    )
    listed = fleet_api.list_group_managers(connection, project, scope)
    fleet_api.delete_group_manager(connection, project, scope, "web-a", waiter)

    assert done["status"] == "DONE" and done["operationType"] == "insert"
    assert len(members) == 2 and manager["targetSize"] == 2
    assert [item["name"] for item in listed] == ["web-a"]
    assert listed[0]["updatePolicy"]["type"] == "OPPORTUNISTIC"
    assert fleet_api.list_group_managers(connection, project, scope) == []
    calls = connection.api_calls()
    collection = "regionInstanceGroupManagers" if scope.startswith("regions/") else "instanceGroupManagers"
    for method in ("insert", "resize", "listManagedInstances", "recreateInstances", "get", "patch", "list", "delete"):
        assert calls["compute.%s.%s" % (collection, method)] >= 1, method


def test_fleet_api_templates_global_and_regional(gce, connection):
    project, waiter = gce.seed.project, gce.waiter()
    regional = make_base(gce, connection, "web-regional", REGION_SCOPE)
    global_one = make_base(gce, connection, "web-global")

    assert "/regions/us-central1/instanceTemplates/web-regional" in regional["selfLink"]
    assert [item["name"] for item in fleet_api.list_templates(connection, project, REGION_SCOPE)] == ["web-regional"]
    assert "web-global" in [item["name"] for item in fleet_api.list_templates(connection, project, "global")]
    fleet_api.delete_template(connection, project, REGION_SCOPE, "web-regional", waiter)
    assert fleet_api.list_templates(connection, project, REGION_SCOPE) == []
    assert global_one["properties"]["disks"][0]["initializeParams"]["sourceImage"].endswith(gce.seed.base_image_name)


# -- GcpGroupBackend and GcpRolloutStore ------------------------------------------------------------------


class Service:
    """A service as a user made it before the collection runs: a base template and a serving MIG (blue) of
    settled members behind a backend service; made on a connection of its own (its calls are not counted)."""

    def __init__(self, gce, scope=ZONE_SCOPE):
        self.gce = gce
        self.project = gce.seed.project
        self.scope = scope
        self.setup = gce.connection()
        self.waiter = gce.waiter()
        template_scope = scope if scope.startswith("regions/") else "global"
        self.base = make_base(gce, self.setup, "web-base", template_scope)
        self.base_path = fleet_api.template_path(self.project, template_scope, "web-base")
        body = {
            "name": "web-a",
            "instanceTemplate": self.base["selfLink"],
            "targetSize": 2,
            "baseInstanceName": "web-a",
        }
        fleet_api.insert_group_manager(self.setup, self.project, scope, body, self.waiter)
        gce.emu.fleet.settle_members()
        self.backend = self.backend_service("web-a", [self.instance_group("web-a")])
        self.image = api_path(gce.emu.put_image("phoenix-web-2", family="phoenix-web")["selfLink"])
        self.image_next = api_path(gce.emu.put_image("phoenix-web-3", family="phoenix-web")["selfLink"])

    def instance_group(self, name):
        return "projects/%s/%s/instanceGroups/%s" % (self.project, self.scope, name)

    def backend_service(self, name, groups):
        path = "projects/%s/global/backendServices" % self.project
        operation = self.setup.request(
            "POST",
            path,
            "compute.backendServices.insert",
            body={"name": name, "backends": [{"group": group} for group in groups]},
            mutation=True,
        )
        wait_for(self.setup, operation, self.waiter)
        return self.setup.request("GET", "%s/%s" % (path, name), "compute.backendServices.get")["selfLink"]

    def backends_of(self, backend):
        service = self.setup.request("GET", backend, "compute.backendServices.get")
        return [api_path(entry["group"]) for entry in service.get("backends") or []]

    def metadata(self):
        project = fleet_api.get_project(self.setup, self.project)
        return {item["key"]: item["value"] for item in project["commonInstanceMetadata"].get("items") or []}


class Traffic:
    """The part of a TrafficBackend the group adapter asks for: a group joins and leaves a backend service
    (the real calls, with the fingerprint, as the traffic adapter makes them)."""

    def __init__(self, service):
        self.service = service
        self.calls = []

    def _change(self, group, backend, attach):
        self.calls.append(("attach" if attach else "detach", group, backend))
        setup = self.service.setup
        found = setup.request("GET", backend, "compute.backendServices.get")
        path = self.service.instance_group(group)
        kept = [entry for entry in found.get("backends") or [] if api_path(entry["group"]) != path]
        body = {
            "backends": kept + ([{"group": setup.url(path)}] if attach else []),
            "fingerprint": found["fingerprint"],
        }
        operation = setup.request("PATCH", backend, "compute.backendServices.patch", body=body, mutation=True)
        wait_for(setup, operation, self.service.waiter)

    def attach(self, group, backend):
        self._change(group, backend, True)

    def detach(self, group, backend):
        self._change(group, backend, False)


@pytest.fixture
def service(gce):
    return Service(gce)


def adapters(gce, scope=None, traffic=None):
    connection = gce.connection()
    factory = (lambda: traffic) if traffic is not None else None
    groups = GcpGroupBackend(connection, scope=scope, traffic=factory, waiter=gce.waiter())
    store = GcpRolloutStore(connection, scope=scope, traffic=factory, waiter=gce.waiter())
    return groups, store


def first_record(**values):
    fields = dict(service="web", role="green", rollout="R1", owner="owner-1", phase="locked", lease_until=1_800_000_060)
    fields.update(values)
    return RolloutRecord(**fields)


def boot_image(connection, instance):
    found = compute.get_instance(connection, *parse_instance_id(instance))
    return api_path(compute.boot_disk_source_image(connection, found))


def test_the_serving_group_is_read_with_its_size_backend_launch_members_and_image(gce, service):
    groups, _store = adapters(gce)

    blue = groups.get("web-a")
    listed = groups.groups()

    assert (blue.name, blue.size, blue.min_size, blue.max_size) == ("web-a", 2, 2, 2)
    assert blue.backends == [service.backend] and blue.record is None and not blue.deleting
    assert blue.launch == service.base_path
    assert len(blue.live_instances()) == 2 and all(instance.healthy for instance in blue.instances)
    assert all(
        instance.id.startswith("projects/%s/zones/us-central1-a/instances/web-a-" % service.project)
        for instance in blue.instances
    )
    assert groups.image_of(blue) == api_path(gce.seed.base_image)
    assert [group.name for group in listed] == ["web-a"] and listed[0].backends == [service.backend]
    assert groups.get("web-z") is None


def test_the_base_resolves_by_name_path_or_selflink_and_a_missing_one_is_refused(gce, service):
    groups, _store = adapters(gce)

    assert groups.resolve_base("web-base") == service.base_path
    assert groups.resolve_base(service.base_path) == service.base_path
    assert groups.resolve_base(service.base["selfLink"]) == service.base_path
    assert groups.base_launch("web-base") == service.base_path
    for missing in ("no-such-base", "Not A Name", "projects/x/global/images/y"):
        with pytest.raises(InvalidInput):
            groups.resolve_base(missing)


def test_a_regional_base_is_found_by_name_in_the_connections_region(gce, connection):
    make_base(gce, connection, "web-regional", REGION_SCOPE)
    groups, _store = adapters(gce, scope=REGION_SCOPE)

    assert groups.resolve_base("web-regional") == fleet_api.template_path(
        gce.seed.project, REGION_SCOPE, "web-regional"
    )


@pytest.mark.parametrize("refused", ["a" * 57, "Web", "web/1", "-web", "1web", ""])
def test_a_service_name_gce_would_refuse_is_refused_before_any_call(gce, refused):
    groups, _store = adapters(gce)
    before = groups.api_calls()

    with pytest.raises(InvalidInput):
        groups.check_service_name(refused)

    assert groups.api_calls() == before


def test_the_longest_service_name_leaves_room_for_the_colour_and_the_members_suffix(gce):
    groups, _store = adapters(gce)
    groups.check_service_name("a" * 56)
    groups.check_service_name("pre-prod")


def test_a_launch_is_one_template_per_rollout_copying_the_base_with_only_the_image_changed(gce, service):
    groups, _store = adapters(gce)
    base = groups.resolve_base("web-base")

    first = groups.prepare_launch(base, service.image, "20261202T150000Z-0a1b2c3d")
    again = adapters(gce)[0].prepare_launch(base, service.image, "20261202T150000Z-0a1b2c3d")
    other = groups.prepare_launch(base, service.image_next, "20261202T160000Z-ffffffff")

    assert first == again != other
    assert gce.emu.calls["compute.instanceTemplates.insert"] == 1 + 2  # the base's, then one per rollout
    made = fleet_api.get_template(service.setup, service.project, "global", first.rsplit("/", 1)[1])
    expected = json_copy(service.base["properties"])
    expected["disks"][0]["initializeParams"]["sourceImage"] = service.image
    assert made["properties"] == expected
    assert "20261202T150000Z-0a1b2c3d" in made["description"]
    assert groups.prepared_launches(base, "20261202T150000Z-0a1b2c3d") == [first]
    assert groups.prepared_launches(base, "20261202T160000Z-ffffffff") == [other]
    assert groups.prepared_launches(base, "R3") == []


def json_copy(value):
    return json.loads(json.dumps(value))


def test_a_launch_name_of_a_long_base_is_cut_to_63_characters_and_stays_its_own(gce, connection):
    long_name = "w" + "e" * 61 + "b"
    make_base(gce, connection, long_name)
    groups, _store = adapters(gce)
    base = groups.resolve_base(long_name)

    first = groups.prepare_launch(base, gce.seed.base_image, "R1")
    second = groups.prepare_launch(base, gce.seed.base_image, "R2")

    names = [first.rsplit("/", 1)[1], second.rsplit("/", 1)[1]]
    assert all(len(name) <= 63 for name in names) and names[0] != names[1]


def test_discard_deletes_a_prepared_launch_and_leaves_the_base_alone(gce, service):
    groups, _store = adapters(gce)
    base = groups.resolve_base("web-base")
    made = groups.prepare_launch(base, service.image, "R1")

    groups.discard_launch(made)
    groups.discard_launch(made)  # gone already: fine
    groups.discard_launch(base)  # the base: left alone

    assert groups.prepared_launches(base, "R1") == []
    assert fleet_api.get_template(service.setup, service.project, "global", "web-base")["name"] == "web-base"
    assert gce.emu.calls["compute.instanceTemplates.delete"] == 1


def test_a_mig_is_created_empty_then_launched_resized_and_deleted_with_its_record(gce, service):
    groups, store = adapters(gce)
    base = groups.resolve_base("web-base")
    launch = groups.prepare_launch(base, service.image, "R1")

    assert store.create("web-b", base, [], first_record()) is True
    created = groups.get("web-b")
    groups.launch("web-b", launch, 2)
    gce.emu.fleet.settle_members()
    launched = groups.get("web-b")
    booted = {boot_image(service.setup, instance.id) for instance in launched.instances}
    groups.resize("web-b", 1)
    gce.emu.fleet.settle_members()
    resized = groups.get("web-b")
    store.write("web-b", first_record(phase="launch", launch=launch), ["phase", "launch"])
    assert any(key.endswith("-web-b") for key in service.metadata())
    groups.delete("web-b")

    assert (created.size, created.instances, created.backends) == (0, [], [])
    assert created.launch == base and groups.image_of(created) == api_path(gce.seed.base_image)
    assert launched.launch == launch and launched.size == 2 and len(launched.live_instances()) == 2
    assert groups.image_of(launched) == service.image
    assert booted == {service.image}
    assert resized.size == 1 and len(resized.instances) == 1
    assert groups.get("web-b") is None and store.read("web-b") is None
    assert not any(key.endswith("-web-b") for key in service.metadata())
    # The group's delete waited for Compute: its template is free to delete at once.
    groups.discard_launch(launch)
    assert groups.prepared_launches(base, "R1") == []
    groups.delete("web-b")  # gone already: fine


def test_a_record_reads_back_as_written_field_by_field(gce, service):
    groups, store = adapters(gce)
    base = groups.resolve_base("web-base")
    record = first_record(
        image=service.image,
        from_image=gce.seed.base_image,
        blue_group="web-a",
        blue_size=2,
        blue_backend=service.backend,
        base=base,
        reason='shift at weight 50: 1 of 3 targets healthy - "quoted" and ünïcode',
        lease_until=1_800_000_183.5,
    )
    assert store.create("web-b", base, [], record) is True
    as_created = store.read("web-b")
    store.write("web-b", RolloutRecord(phase="shift", weight=50), ["phase", "weight"])
    written = store.read("web-b")
    store.clear("web-b", ["owner", "lease_until", "reason"])
    cleared = store.read("web-b")
    store.write("web-b", RolloutRecord(reason="short"), ["reason"])

    assert as_created == record
    assert written == RolloutRecord(**{**record.__dict__, "phase": "shift", "weight": 50})
    assert cleared == RolloutRecord(**{**written.__dict__, "owner": None, "lease_until": None, "reason": None})
    assert store.read("web-b").reason == "short"
    records = {group.name: group.record for group in groups.groups()}
    assert records == {"web-a": None, "web-b": store.read("web-b")}
    assert "phoenix-rollout-" in store.shown("service", "web")


def test_a_record_no_field_needs_is_refused_before_any_call(gce, service):
    groups, store = adapters(gce)
    store.create("web-b", groups.resolve_base("web-base"), [], first_record())
    before = store.api_calls()

    with pytest.raises(InvalidInput) as refused:
        store.write("web-b", RolloutRecord(reason="x" * 20_000), ["reason"])

    assert "reason" in refused.value.message and store.api_calls() == before
    assert store.read("web-b") == first_record()


def test_another_writer_of_the_projects_metadata_is_merged_not_overwritten(gce, service):
    groups, store = adapters(gce)
    store.create("web-b", groups.resolve_base("web-base"), [], first_record())
    projects = gce.emu.projects_metadata

    def rival_writes():
        resource = projects.project(service.project)
        items = [*resource["commonInstanceMetadata"].get("items", []), {"key": "ssh-keys", "value": "rival"}]
        resource["commonInstanceMetadata"] = {
            "kind": "compute#metadata",
            "fingerprint": "rival-fingerprint",
            "items": items,
        }

    gce.emu.before_call("compute.projects.setCommonInstanceMetadata", rival_writes)
    store.write("web-b", RolloutRecord(phase="launch"), ["phase"])

    assert service.metadata()["ssh-keys"] == "rival"
    assert store.read("web-b") == first_record(phase="launch")
    assert gce.emu.calls["compute.projects.setCommonInstanceMetadata"] == 2


def test_concurrent_creates_of_one_name_give_exactly_one_true(gce, service):
    base = adapters(gce)[0].resolve_base("web-base")
    stores = [adapters(gce)[1] for _store in range(4)]
    barrier = threading.Barrier(len(stores))
    answers = {}
    inserts = gce.emu.calls["compute.instanceGroupManagers.insert"]

    def create(index):
        barrier.wait(timeout=60)
        answers[index] = stores[index].create("web-b", base, [], first_record(owner="owner-%d" % index))

    threads = [threading.Thread(target=create, args=(index,)) for index in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    winners = [index for index, created in answers.items() if created]
    assert len(answers) == len(stores) and len(winners) == 1
    assert stores[0].read("web-b") == first_record(owner="owner-%d" % winners[0])
    assert gce.emu.calls["compute.instanceGroupManagers.insert"] - inserts == len(stores)


def test_a_create_whose_answer_was_lost_is_this_runs_and_a_rivals_group_is_not(gce, service):
    groups, store = adapters(gce)
    base = groups.resolve_base("web-base")
    # Applied, then answered 503 more often than the retry policy tries: the create's own record tells.
    gce.emu.inject_fault("compute.instanceGroupManagers.insert", status=503, times=20, after_apply=True)

    assert store.create("web-b", base, [], first_record()) is True
    gce.emu.clear_faults()
    assert store.read("web-b") == first_record()
    assert len([g for g in groups.groups() if g.name == "web-b"]) == 1
    # Another run (another owner) meets the group: refused, the first record kept.
    assert adapters(gce)[1].create("web-b", base, [], first_record(rollout="R2", owner="owner-2")) is False
    assert store.read("web-b") == first_record()


def test_a_lost_answer_then_a_retry_with_the_same_request_id_makes_one_group(gce, service):
    groups, store = adapters(gce)
    gce.emu.inject_fault("compute.instanceGroupManagers.insert", status=503, times=1, after_apply=True)
    inserts = gce.emu.calls["compute.instanceGroupManagers.insert"]

    assert store.create("web-b", groups.resolve_base("web-base"), [], first_record()) is True

    assert store.read("web-b") == first_record()
    assert gce.emu.calls["compute.instanceGroupManagers.insert"] - inserts == 2
    assert len([g for g in groups.groups() if g.name == "web-b"]) == 1


def test_an_item_left_by_a_deleted_group_of_the_same_name_is_not_its_record(gce, service):
    groups, store = adapters(gce)
    base = groups.resolve_base("web-base")
    store.create("web-b", base, [], first_record())
    store.write("web-b", RolloutRecord(phase="shift", weight=100), ["phase", "weight"])
    # Deleted behind the store's back: its metadata item stays.
    fleet_api.delete_group_manager(service.setup, service.project, ZONE_SCOPE, "web-b", gce.waiter())

    assert store.create("web-b", base, [], first_record(rollout="R2")) is True

    assert store.read("web-b") == first_record(rollout="R2")
    store.write("web-b", RolloutRecord(phase="launch"), ["phase"])
    assert store.read("web-b") == first_record(rollout="R2", phase="launch")


def test_a_group_created_with_backends_is_attached_and_detached_before_its_delete(gce, service):
    traffic = Traffic(service)
    groups, store = adapters(gce, traffic=traffic)
    green = service.backend_service("web-b", [])

    assert store.create("web-b", groups.resolve_base("web-base"), [], first_record(), [green]) is True
    attached = groups.get("web-b")
    groups.delete("web-b")

    assert attached.backends == [green] and attached.size == 0
    assert service.backends_of(green) == []
    assert traffic.calls == [("attach", "web-b", green), ("detach", "web-b", green)]
    assert groups.get("web-b") is None


def test_a_create_that_cannot_attach_leaves_no_group(gce, service):
    groups, store = adapters(gce, traffic=Traffic(service))
    missing = service.backend.rsplit("/", 1)[0] + "/no-such-backend"

    with pytest.raises(PhoenixError):
        store.create("web-b", groups.resolve_base("web-base"), [], first_record(), [missing])

    assert groups.get("web-b") is None


def test_a_regional_group_lives_in_the_region_and_launches_a_regional_template(gce):
    regional = Service(gce, REGION_SCOPE)
    groups, store = adapters(gce, scope=REGION_SCOPE)
    base = groups.resolve_base("web-base")
    launch = groups.prepare_launch(base, regional.image, "R1")

    assert store.create("web-b", base, [], first_record()) is True
    groups.launch("web-b", launch, 3)
    gce.emu.fleet.settle_members()
    launched = groups.get("web-b")
    groups.delete("web-b")

    assert base == fleet_api.template_path(gce.seed.project, REGION_SCOPE, "web-base")
    assert launch.startswith("projects/%s/regions/us-central1/instanceTemplates/" % gce.seed.project)
    assert launched.size == 3 and len(launched.live_instances()) == 3 and launched.record == first_record()
    assert groups.image_of(launched) == regional.image
    assert gce.emu.calls["compute.regionInstanceGroupManagers.insert"] == 2  # blue's and web-b's
    assert groups.get("web-b") is None and store.read("web-b") is None


# -- the core's swap over these adapters --------------------------------------------------------------------


class Clock:
    """The rollout's clock and sleep: every wait is instant, the emulator's members advance as they are read."""

    def __init__(self):
        self.now = 1_800_000_000.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def swap(gce, service, image, **options):
    traffic = GcpTrafficBackend(gce.connection(), waiter=gce.waiter())
    groups, store = adapters(gce, traffic=traffic)
    clock = Clock()
    values = dict(
        service="web",
        frontend="web-map",
        base="web-base",
        image_id=image,
        health=HealthSpec(interval=1),
        step_seconds=5,
        keep_blue_seconds=10,
        lease_seconds=60,
    )
    values.update(options)
    rollout = Rollout(
        RolloutSpec(**values),
        groups,
        traffic,
        GcpHealthBackend(groups.connection),
        store,
        clock=clock,
        sleep=clock.sleep,
    )
    return rollout, groups, traffic


@pytest.fixture
def served(gce, service):
    path = "projects/%s/global/urlMaps" % service.project
    operation = service.setup.request(
        "POST", path, "compute.urlMaps.insert", body={"name": "web-map", "defaultService": service.backend}
    )
    wait_for(service.setup, operation, service.waiter)
    return service


def test_a_canary_swap_runs_through_every_phase_and_leaves_only_green(gce, served):
    rollout, groups, traffic = swap(gce, served, served.image, strategy="canary", steps=[25, 100])

    result = rollout.deployed()

    assert result["rollout"]["state"] == "deployed" and result["changed"] is True
    assert [group.name for group in groups.groups()] == ["web-b"]
    green = groups.get("web-b")
    assert (green.record.role, green.record.phase, green.record.owner) == ("blue", "done", None)
    assert groups.image_of(green) == served.image and green.size == 2 and len(green.live_instances()) == 2
    assert list(traffic.shares("web-map").values()) == [100] and green.backends == list(traffic.shares("web-map"))
    assert traffic.backend(served.backend) is None  # blue's backend service went with blue
    assert rollout.deployed()["changed"] is False

    second, groups, _traffic = swap(gce, served, served.image_next)
    second.deployed()
    assert [group.name for group in groups.groups()] == ["web-a"]
    assert groups.image_of(groups.get("web-a")) == served.image_next
    # The first rollout's template went with the group that launched it; the base stays.
    templates = [item["name"] for item in fleet_api.list_templates(served.setup, served.project, "global")]
    assert templates == sorted(["web-base", api_path(groups.get("web-a").launch).rsplit("/", 1)[1]])


def test_a_green_that_never_gets_healthy_is_rolled_back_and_leaves_nothing(gce, served):
    rollout, groups, traffic = swap(gce, served, served.image, timeout=30)
    fleet = gce.emu.fleet

    def broken_build():
        # The rollout's template exists once green is pointed at it: every member made from it is unhealthy.
        for table in fleet.instance_templates.tables.values():
            for template in table.values():
                if template["name"] != "web-base":
                    fleet.set_template_health(template["selfLink"], "UNHEALTHY")

    gce.emu.before_call("compute.instanceGroupManagers.setInstanceTemplate", broken_build)

    with pytest.raises(PhoenixError) as failed:
        rollout.deployed()

    assert failed.value.code == "RolledBack"
    assert [group.name for group in groups.groups()] == ["web-a"]
    assert traffic.shares("web-map") == {served.backend: 100}
    assert [item["name"] for item in fleet_api.list_templates(served.setup, served.project, "global")] == ["web-base"]
    assert not any(key.endswith("-web-b") for key in served.metadata())
