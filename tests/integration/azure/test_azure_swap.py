"""Blue/green on Azure through ansible-playbook: the blue_green module with ``cloud: azure`` on the ARM emulator.

A service as a user made it: a base scale set ``web-base`` (capacity 0, the model), a scale set ``web-a`` of 2
instances in backend pool ``web-pool`` of the Standard load balancer ``web-lb``, whose rule sends to that pool.
The pool has no weights (split=membership): a canary step is a share of green's instances in blue's pool. What
the swap did is read back from the emulator (the pool's members, the scale sets, their tags).
"""

from __future__ import annotations

import json
import threading
import time

import pytest
from azure_names import RESOURCE_GROUP
from emulators.arm_scaleset import members_of_pool, scale_sets_of
from harness.processes import in_thread, kill_ansible_runs
from harness.rollouts import RECORD_POINT_IDS, RECORD_POINTS
from scaleset_support import gallery_images, scale_set
from traffic_support import lb_path, load_balancer, network_client

from ansible_collections.phoenix.immutable.plugins.module_utils._azure.groups import AzureGroupBackend
from ansible_collections.phoenix.immutable.plugins.module_utils._azure.rollout_store import AzureRolloutStore
from ansible_collections.phoenix.immutable.plugins.module_utils._azure.traffic import AzureTrafficBackend
from ansible_collections.phoenix.immutable.plugins.module_utils._core.health import HealthSpec
from ansible_collections.phoenix.immutable.plugins.module_utils._core.rollout import Rollout
from ansible_collections.phoenix.immutable.plugins.module_utils._core.rollout_model import RolloutSpec

MODULE = "phoenix.immutable.blue_green"
DEADLINE = 120
RECORD_PHASE = "phoenix:rollout:phase"
RECORD_WEIGHT = "phoenix:rollout:weight"


class Service:
    """The service before the collection runs, made with SDK clients of its own."""

    def __init__(self, azure, size=2):
        self.azure = azure
        self.emu = azure.emu
        self.size = size
        self.image_old, self.image, self.image_next = gallery_images(azure, RESOURCE_GROUP, ("1.0.0", "1.0.1", "1.0.2"))
        self.compute = azure.compute()
        network_client(azure).load_balancers.begin_create_or_update(
            RESOURCE_GROUP, "web-lb", load_balancer(azure, RESOURCE_GROUP, pools=("web-pool",))
        ).result()
        self.pool = lb_path(azure, RESOURCE_GROUP, "web-lb") + "/backendAddressPools/web-pool"
        location = self.emu.location
        for name, body in (
            ("web-base", scale_set(location, self.image_old)),
            ("web-a", scale_set(location, self.image_old, capacity=size, pools=(self.pool,))),
        ):
            self.compute.virtual_machine_scale_sets.begin_create_or_update(RESOURCE_GROUP, name, body).result()
        self.emu.reset_calls()

    def groups(self):
        return sorted(item.name for item in self.compute.virtual_machine_scale_sets.list(RESOURCE_GROUP))

    def in_pool(self):
        """{scale set name: instances} of the pool's members."""
        found = {}
        for member in members_of_pool(self.emu, self.pool):
            name = member["scale_set"].rsplit("/", 1)[1]
            found[name] = found.get(name, 0) + 1
        return found

    def record(self, name="web-b"):
        group = AzureGroupBackend(self.azure.connection()).get(name)
        return group.record if group else None

    def task(self, image_id=None, title="swap", **options):
        args = {
            "service": "web",
            "listener": "web-lb",
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
def service(azure):
    return Service(azure)


class Observer:
    """Wraps the emulator's request handling (after the call is applied): the pool's members after each change of
    a scale set, and a gate holding the answer of the first write of a record with ``phase`` (and ``weight``)."""

    def __init__(self, emu, service):
        self.emu = emu
        self.service = service
        self.pool_states = []
        self.blue_lowest = None
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
        with self.emu.lock:
            members = self.service.in_pool()
        if not self.pool_states or self.pool_states[-1] != members:
            self.pool_states.append(members)
        if "web-a" in members:
            blue = members.get("web-a", 0)
            self.blue_lowest = blue if self.blue_lowest is None else min(self.blue_lowest, blue)
        tags = written_tags(method, target, raw)
        if self.gate and tags is not None and not self.reached.is_set() and self._matches(tags):
            self.reached.set()
            self.released.wait(DEADLINE)
        return answer

    def _matches(self, tags):
        phase, weight = self.gate
        return tags.get(RECORD_PHASE) == phase and (weight is None or tags.get(RECORD_WEIGHT) == weight)


def written_tags(method, target, raw):
    """The tags a PUT or PATCH of scale set web-b writes, or None."""
    if method not in ("PUT", "PATCH") or "/virtualmachinescalesets/web-b?" not in target.lower() or not raw:
        return None
    try:
        return json.loads(raw).get("tags")
    except ValueError:
        return None


@pytest.fixture
def observer(azure, service, monkeypatch):
    watching = Observer(azure.emu, service)
    monkeypatch.setattr(azure.emu, "handle", watching.handle)
    yield watching
    watching.release()


def test_an_all_at_once_swap_moves_the_pool_to_green_and_blue_is_gone(playbook, service):
    run = playbook([service.task(service.image), service.task(service.image, title="again")])

    assert run.rc == 0, run.explain()
    result = run.task("swap")["result"]
    assert result["changed"] is True and result["rollout"]["state"] == "deployed"
    assert service.in_pool() == {"web-b": 2}
    assert service.groups() == ["web-b", "web-base"]
    assert run.task("again")["result"]["changed"] is False
    record = service.record()
    assert (record.role, record.phase, record.owner, record.lease_until) == ("blue", "done", None, None)
    assert record.image == service.image and record.previous_image == service.image_old
    booted = {
        vm.storage_profile.image_reference.id
        for vm in service.compute.virtual_machine_scale_set_vms.list(RESOURCE_GROUP, "web-b")
    }
    assert booted == {service.image}
    assert result["progress"][-1].startswith("web: done, web-b serves %s" % service.image)


def test_a_canary_adds_greens_instances_to_the_pool_step_by_step(playbook, service, observer):
    run = playbook([service.task(service.image, strategy="canary", canary_steps=[50, 100])])

    assert run.rc == 0, run.explain()
    result = run.task("swap")["result"]
    # 50% of 2: one instance of green next to blue's two, then all of green, then blue leaves.
    assert observer.pool_states == [{"web-a": 2}, {"web-a": 2, "web-b": 1}, {"web-a": 2, "web-b": 2}, {"web-b": 2}]
    assert observer.blue_lowest == service.size  # blue served with all it had until it left
    shifts = [line for line in result["progress"] if line.startswith("web: shift")]
    assert [line.split("%")[0] for line in shifts] == ["web: shift 50", "web: shift 100"]
    # The evidence says what a step's share is on a pool without weights: instances, not a weight.
    steps = [phase["evidence"] for phase in result["rollout"]["phases"] if phase.get("phase") == "shift"]
    assert [(step["split"], step["green_instances"], step["blue_instances"]) for step in steps] == [
        ("membership", 1, 2),
        ("membership", 2, 0),
    ]
    assert service.groups() == ["web-b", "web-base"]


def test_a_green_failing_its_health_gate_is_rolled_back_and_nothing_of_green_is_left(playbook, service):
    scale_sets_of(service.emu).set_image_health(service.image, "unhealthy")  # every instance booting it fails

    run = playbook([service.task(service.image, strategy="canary", canary_steps=[50, 100], wait_timeout=5)])

    assert run.rc != 0
    result = run.task("swap")["result"]
    assert result["error"]["code"] == "RolledBack", result["msg"]
    assert service.in_pool() == {"web-a": 2}
    assert service.groups() == ["web-a", "web-base"]
    assert service.record("web-a") is None  # blue, made by the user, carries no record


# -- one rollout at a time, SIGKILL at a record point ---------------------------------------------------------


def wait_for_lease_end(service, name="web-b"):
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        record = service.record(name)
        if record is None or not record.lease_until or record.lease_until < time.time():
            return
        time.sleep(0.1)
    raise AssertionError("the lease of %s never ended" % name)


def test_a_second_concurrent_swap_is_refused_naming_the_one_in_progress(playbook, service, observer):
    observer.arm("launch")
    first = in_thread(lambda: playbook([service.task(service.image, title="first")]), 2 * DEADLINE)
    assert observer.reached.wait(DEADLINE), "the first swap never reached launch"
    second = playbook([service.task(service.image_next, title="second")])
    held = service.record()
    observer.release()
    first_run = first()

    assert second.rc != 0
    refused = second.task("second")["result"]
    assert refused["error"]["code"] == "RolloutInProgress"
    assert held.rollout in refused["msg"] and "web-b" in refused["msg"]
    assert not [call for call in refused["api_calls"] if not call.startswith(("GET ", "POST identity"))]
    assert first_run.rc == 0, first_run.explain()
    assert service.in_pool() == {"web-b": 2} and service.groups() == ["web-b", "web-base"]


# Through ansible-playbook and SIGKILL at every record point (each case costs two playbook runs); the same points
# are crashed in-process below, where the record's exact state after the crash is checked.
KILLED_AT = RECORD_POINTS


@pytest.mark.parametrize(("phase", "weight", "resumed"), KILLED_AT, ids=[p[0] + (p[1] or "") for p in KILLED_AT])
def test_a_run_killed_at_a_record_point_converges_on_the_next_run(playbook, service, observer, phase, weight, resumed):
    options = dict(strategy="canary", canary_steps=[10, 50, 100], lease_seconds=2, size=4)
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
    assert service.in_pool() == {"web-b": 4}
    assert service.groups() == ["web-b", "web-base"]
    record = service.record()
    assert (record.role, record.phase, record.owner, record.lease_until) == ("blue", "done", None, None)
    assert record.blue_group is None
    # While blue was in the pool it served with all it had: the kill and the resume took none of it.
    assert observer.blue_lowest == service.size, observer.pool_states


# -- the core's rollout in this process, crashed right after each record write ---------------------------------


class Crash(BaseException):
    """What a process death looks like to the rollout: nothing of it runs after (no release, no roll back)."""


class Clock:
    """The rollout's clock and sleep: every wait is instant; the next run starts after the dead run's lease."""

    def __init__(self, now=1_800_000_000.0):
        self.now = now

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def rollout(azure, service, clock, crash_at=None, **options):
    connection = azure.connection()
    groups, store, traffic = (
        AzureGroupBackend(connection),
        AzureRolloutStore(connection),
        AzureTrafficBackend(connection),
    )
    if crash_at is not None:
        crash_after_record(store, *crash_at)
    values = dict(
        service="web",
        frontend="web-lb",
        base="web-base",
        image_id=service.image,
        health=HealthSpec(interval=1),
        strategy="canary",
        steps=[10, 50, 100],
        size=4,
        step_seconds=5,
        keep_blue_seconds=0,
        lease_seconds=60,
    )
    values.update(options)
    return Rollout(RolloutSpec(**values), groups, traffic, None, store, clock=clock, sleep=clock.sleep)


def crash_after_record(store, phase, weight):
    """The store dies right after it wrote (or created the group with) a record at ``phase`` (and ``weight``)."""
    create, write = store.create, store.write

    def at_point(record):
        return record.phase == phase and (weight is None or str(record.weight) == weight)

    def crashing_create(group, base, subnets, record, backends=()):
        created = create(group, base, subnets, record, backends)
        if at_point(record):
            raise Crash(phase)
        return created

    def crashing_write(group, record, fields):
        write(group, record, fields)
        if "phase" in fields and at_point(record):
            raise Crash(phase)

    store.create, store.write = crashing_create, crashing_write


@pytest.mark.parametrize(("phase", "weight", "resumed"), RECORD_POINTS, ids=RECORD_POINT_IDS)
def test_a_rollout_crashed_after_a_record_write_is_resumed_there_and_converges(azure, service, phase, weight, resumed):
    options = {"keep_blue_seconds": 10} if phase == "keep_blue" else {}
    # Resumption is what is tested here; an operation polled once keeps the seven cases quick.
    azure.emu.operation_polls = 1
    clock = Clock()
    with pytest.raises(Crash):
        rollout(azure, service, clock, crash_at=(phase, weight), **options).deployed()
    crashed = service.in_pool()
    clock.now += 61  # the dead run's lease is over

    result = rollout(azure, service, clock, **options).deployed()

    assert result["rollout"]["resumed_from"] == resumed and result["rollout"]["state"] == "deployed"
    assert service.in_pool() == {"web-b": 4} and service.groups() == ["web-b", "web-base"]
    record = service.record()
    assert (record.role, record.phase, record.owner, record.blue_group) == ("blue", "done", None, None)
    # Blue served when the run died, up to the shift to 100 (recorded before its move); after it, it had left.
    assert ("web-a" in crashed) == (phase not in ("keep_blue", "done"))
