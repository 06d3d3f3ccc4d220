"""The rollout state machine on an in-memory fleet: phases, gates, failure handling, leases and resumption.

The fake backends implement the interfaces of _core/backends.py over dicts; a fake clock makes waits instant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from ansible_collections.phoenix.immutable.plugins.module_utils._aws.fleet_transformations import (
    record_from_tags,
    record_tag_keys,
    tags_from_record,
)
from ansible_collections.phoenix.immutable.plugins.module_utils._aws.groups import check_service_name
from ansible_collections.phoenix.immutable.plugins.module_utils._core.backends import (
    WEIGHTED,
    GroupBackend,
    HealthBackend,
    RolloutStore,
    TrafficBackend,
)
from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import InvalidInput, PhoenixError
from ansible_collections.phoenix.immutable.plugins.module_utils._core.fleet import Backend, Group, Instance
from ansible_collections.phoenix.immutable.plugins.module_utils._core.health import AlarmState, HealthSpec
from ansible_collections.phoenix.immutable.plugins.module_utils._core.rollout import Rollout
from ansible_collections.phoenix.immutable.plugins.module_utils._core.rollout_model import (
    ORDER,
    RolloutBusy,
    RolloutFailed,
    RolloutSpec,
    validate,
)

LISTENER = "listener-1"


@dataclass(frozen=True)
class Version:
    """A launch template version of the fake fleet (``description`` holds the rollout id that made it)."""

    template_id: str
    version: str
    image_id: str
    description: str = ""
    default: bool = False


class Crash(Exception):
    """The controller dies: not a PhoenixError, so nothing of the rollout's error handling runs."""


class FakeFleet(GroupBackend, RolloutStore, TrafficBackend, HealthBackend):
    """Groups, the record store, a weighted listener and alarms over dicts; records are AWS-style tags."""

    cloud = "aws"
    split = WEIGHTED

    def __init__(self):
        self.groups_by_name = {}
        self.versions = {"lt-1": [Version("lt-1", "1", "ami-blue", "base", True)]}
        self.targets = {"tg-blue": Backend("tg-blue", "web-blue", {"Port": 80})}
        self.listener = {"tg-blue": 100}
        self.target_states = {}
        self.alarms = {}
        self.calls = 0
        self.writes = []
        self.crash_at = None  # (phase, weight or None): die right after recording it
        self.lowest_blue = None
        self.add_group("web-blue", 3, ["tg-blue"], ("lt-1", "1"))

    # helpers
    def add_group(self, name, size, targets, template, tags=None):
        self.groups_by_name[name] = Group(
            name=name,
            size=size,
            min_size=size,
            max_size=size,
            launch="%s:%s" % template,
            backends=list(targets),
            instances=[Instance("%s-i%d" % (name, n), True, True) for n in range(size)],
            tags=dict(tags or {}),
            subnets=["subnet-1"],
        )

    def _watch(self):
        blue = self.groups_by_name.get("web-blue")
        if blue is not None and self.listener.get("tg-blue", 0) > 0:
            self.lowest_blue = blue.size if self.lowest_blue is None else min(self.lowest_blue, blue.size)

    def _seen(self, group):
        group.record = record_from_tags(group.tags)
        return group

    def template_version(self, template, version=None):
        versions = self.versions[template]
        if version in (None, "$Default"):
            return [v for v in versions if v.default][0]
        return [v for v in versions if v.version == str(version)][0]

    # GroupBackend
    def groups(self, with_members=True):
        self.calls += 1
        return [self._seen(group) for group in self.groups_by_name.values()]

    def get(self, name, with_members=True):
        self.calls += 1
        group = self.groups_by_name.get(name)
        return self._seen(group) if group is not None else None

    def check_service_name(self, service):
        """Any name: the AWS rule has tests of its own."""

    def resolve_base(self, base):
        assert base in self.versions
        return base

    def base_launch(self, base):
        return "%s:%s" % (base, self.template_version(base).version)

    def image_of(self, group):
        template, version = group.launch.split(":")
        return self.template_version(template, version).image_id

    def prepare_launch(self, base, image_id, rollout_id):
        found = [v for v in self.versions[base] if v.description == rollout_id]
        if not found:
            number = str(max(int(v.version) for v in self.versions[base]) + 1)
            found = [Version(base, number, image_id, rollout_id)]
            self.versions[base].append(found[0])
        return "%s:%s" % (base, found[0].version)

    def prepared_launches(self, base, rollout_id):
        return ["%s:%s" % (base, v.version) for v in self.versions[base] if v.description == rollout_id]

    def discard_launch(self, launch):
        template, version = launch.split(":")
        if self.template_version(template).version != version:
            self.versions[template] = [v for v in self.versions[template] if v.version != version]

    def launch(self, name, launch, size):
        self.groups_by_name[name].launch = launch
        self.resize(name, size)

    def resize(self, name, size):
        group = self.groups_by_name[name]
        group.size = group.min_size = group.max_size = size
        group.instances = [Instance("%s-i%d" % (name, n), True, True) for n in range(size)]
        self._watch()

    def delete(self, name):
        self.groups_by_name.pop(name, None)

    def api_calls(self):
        return {"fake:Call": self.calls}

    # RolloutStore
    def create(self, group, base, subnets, record, backends=()):
        self.calls += 1
        if group in self.groups_by_name:
            return False
        self.add_group(group, 0, list(backends), (base, "1"), tags_from_record(record, None))
        self.groups_by_name[group].subnets = list(subnets)
        self._crash(self.groups_by_name[group].tags)
        return True

    def read(self, group):
        found = self.get(group)
        return found.record if found is not None else None

    def write(self, group, record, fields):
        tags = tags_from_record(record, fields)
        self.groups_by_name[group].tags.update(tags)
        self.writes.append(tags)
        self._crash(tags)

    def _crash(self, tags):
        crash = self.crash_at
        if crash and tags.get("phoenix:phase") == crash[0] and crash[1] in (None, int(tags.get("phoenix:weight", -1))):
            self.crash_at = None
            raise Crash()

    def clear(self, group, fields):
        for key in record_tag_keys(fields):
            self.groups_by_name[group].tags.pop(key, None)

    def shown(self, field, value):
        return "%s=%s" % (record_tag_keys([field])[0], value)

    # TrafficBackend
    def shares(self, frontend):
        return dict(self.listener)

    def set_shares(self, frontend, shares):
        self.listener = dict(shares)
        self._watch()

    def backend(self, backend_id):
        return self.targets.get(backend_id)

    def find_backend(self, name):
        return next((t for t in self.targets.values() if t.name == name), None)

    def create_backend_like(self, name, model, labels):
        target = Backend("tg-%s" % name, name, dict(model.settings))
        self.targets[target.id] = target
        return target

    def delete_backend(self, backend_id):
        assert backend_id not in self.listener, "a target in use by the listener cannot be deleted"
        self.targets.pop(backend_id, None)

    def attach(self, group, backend_id):
        if backend_id not in self.groups_by_name[group].backends:
            self.groups_by_name[group].backends.append(backend_id)

    def detach(self, group, backend_id):
        if backend_id in self.groups_by_name[group].backends:
            self.groups_by_name[group].backends.remove(backend_id)

    def backend_health(self, backend_id):
        members = [g for g in self.groups_by_name.values() if backend_id in g.backends]
        return {i.id: self.target_states.get(i.id, "healthy") for g in members for i in g.instances}

    # HealthBackend
    def alarm_states(self, names):
        return {name: AlarmState(name, self.alarms.get(name) == "ALARM", self.alarms.get(name, "OK")) for name in names}


class Clock:
    def __init__(self):
        self.now = 1_800_000_000.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def make_spec(**options):
    health = options.pop("health", HealthSpec(interval=1))
    values = dict(
        service="web",
        frontend=LISTENER,
        base="lt-1",
        image_id="ami-green",
        health=health,
        step_seconds=0,
        keep_blue_seconds=0,
    )
    values.update(options)
    return RolloutSpec(**values)


def rollout(fleet, clock, probe=None, report=None, **options):
    hooks = {"clock": clock, "sleep": clock.sleep, "report": report}
    if probe is not None:
        hooks["probe"] = probe
    return Rollout(make_spec(**options), fleet, fleet, fleet, fleet, **hooks)


@pytest.fixture
def fleet():
    return FakeFleet()


@pytest.fixture
def clock():
    return Clock()


def assert_green_serves(fleet, image="ami-green", name="web-a"):
    assert set(fleet.groups_by_name) == {name}
    group = fleet.groups_by_name[name]
    assert fleet.listener == {"tg-%s" % name: 100}
    assert set(fleet.targets) == {"tg-%s" % name}
    assert fleet.template_version("lt-1", group.launch.split(":")[1]).image_id == image
    assert group.size == 3 and group.tags["phoenix:role"] == "blue" and group.tags["phoenix:phase"] == "done"
    assert [v.version for v in fleet.versions["lt-1"]] == ["1", group.launch.split(":")[1]]


def test_all_at_once_goes_through_every_phase_and_retires_blue(fleet, clock):
    result = rollout(fleet, clock).deployed()
    assert result["changed"] is True
    assert [p["phase"] for p in result["rollout"]["phases"]] == list(ORDER)
    assert result["diff"] == {
        "before": {"image": "ami-blue", "group": "web-blue"},
        "after": {"image": "ami-green", "group": "web-a"},
    }
    assert_green_serves(fleet)
    assert fleet.lowest_blue == 3


def test_the_same_image_again_changes_nothing(fleet, clock):
    rollout(fleet, clock).deployed()
    again = rollout(fleet, clock).deployed()
    assert again["changed"] is False and again["rollout"]["state"] == "serving"


def test_the_next_rollout_takes_the_other_slot(fleet, clock):
    rollout(fleet, clock).deployed()
    rollout(fleet, clock, image_id="ami-third").deployed()
    assert_green_serves(fleet, image="ami-third", name="web-b")


def test_canary_steps_are_gated_and_a_failure_rolls_back_to_blue_at_full_size(fleet, clock):
    seen = []

    def probe(url, timeout):
        seen.append(dict(fleet.listener))
        return (fleet.listener.get("tg-web-a", 0) < 50), "HTTP 200"

    spec_health = HealthSpec(probe_url="http://127.0.0.1:1/health", interval=1)
    with pytest.raises(RolloutFailed) as failure:
        rollout(fleet, clock, probe=probe, strategy="canary", steps=[10, 50, 100], health=spec_health).deployed()
    assert failure.value.code == "RolledBack"
    record = failure.value.details["rollout"]
    assert [(p["phase"], p.get("weight")) for p in record["phases"] if p["phase"] == "shift"] == [
        ("shift", 10),
        ("shift", 50),
    ]
    assert record["state"] == "rolled_back"
    assert fleet.listener == {"tg-blue": 100}
    assert set(fleet.groups_by_name) == {"web-blue"} and fleet.groups_by_name["web-blue"].size == 3
    assert set(fleet.targets) == {"tg-blue"} and [v.version for v in fleet.versions["lt-1"]] == ["1"]
    assert fleet.lowest_blue == 3
    assert {"tg-blue": 90, "tg-web-a": 10} in seen


def test_pause_keeps_traffic_and_releases_the_lease_then_a_rerun_resumes(fleet, clock):
    healthy = {"ok": False}
    health = HealthSpec(probe_url="http://127.0.0.1:1/", interval=1)

    def probe(url, timeout):
        return healthy["ok"] or fleet.listener.get("tg-web-a", 0) == 0, "HTTP 503"

    with pytest.raises(RolloutFailed) as failure:
        rollout(
            fleet, clock, probe=probe, strategy="canary", steps=[10, 100], on_failure="pause", health=health
        ).deployed()
    assert failure.value.code == "RolloutPaused"
    assert fleet.listener == {"tg-blue": 90, "tg-web-a": 10}
    assert fleet.groups_by_name["web-a"].tags["phoenix:lease-until"] == "0"
    healthy["ok"] = True
    result = rollout(fleet, clock, probe=probe, strategy="canary", steps=[10, 100], health=health).deployed()
    assert result["rollout"]["resumed_from"] == "shift"
    assert_green_serves(fleet)


def test_unhealthy_targets_fail_the_wait_before_any_traffic_moves(fleet, clock):
    fleet.target_states = {"web-a-i0": "unhealthy"}
    with pytest.raises(RolloutFailed) as failure:
        rollout(fleet, clock, timeout=30).deployed()
    assert "web-a-i0 unhealthy" in failure.value.message
    assert fleet.listener == {"tg-blue": 100} and set(fleet.groups_by_name) == {"web-blue"}


def test_an_alarm_fails_the_gate(fleet, clock):
    fleet.alarms = {"web-5xx": "ALARM"}
    with pytest.raises(RolloutFailed) as failure:
        rollout(fleet, clock, timeout=5, health=HealthSpec(alarms=["web-5xx"], interval=1)).deployed()
    assert "web-5xx is ALARM" in failure.value.message


# Every point where the record is written, the record's phase there, and where the next run resumes.
RECORD_POINTS = [
    ("locked", None, "locked"),
    ("launch", None, "launch"),
    ("shift", 10, "shift"),
    ("shift", 50, "shift"),
    ("shift", 100, "shift"),
    ("keep_blue", None, "keep_blue"),
    ("done", None, "retire_blue"),
]


@pytest.mark.parametrize(("phase", "weight", "resumed"), RECORD_POINTS)
def test_a_crash_at_any_record_point_is_resumed_by_another_controller_after_the_lease(
    fleet, clock, phase, weight, resumed
):
    options = dict(strategy="canary", steps=[10, 50, 100], keep_blue_seconds=5)
    fleet.crash_at = (phase, weight)
    with pytest.raises(Crash):
        rollout(fleet, clock, lease_seconds=60, **options).deployed()
    with pytest.raises(RolloutBusy) as busy:
        rollout(fleet, clock, **options).deployed()
    assert "in progress in another run" in busy.value.message and busy.value.code == "RolloutInProgress"
    clock.sleep(61)
    result = rollout(fleet, clock, **options).deployed()
    assert result["rollout"]["resumed_from"] == resumed
    assert_green_serves(fleet)
    assert fleet.lowest_blue == 3


def test_records_are_written_only_at_the_transitions_a_resume_needs(fleet, clock):
    rollout(fleet, clock, strategy="canary", steps=[10, 50, 100]).deployed()
    phases = [(tags.get("phoenix:phase"), tags.get("phoenix:weight")) for tags in fleet.writes]
    # The lock is the create; then green launched, each step, and done as blue is retired (no keep-blue wait).
    assert phases == [("launch", None), ("shift", "10"), ("shift", "50"), ("shift", "100"), ("done", None)]


def test_a_half_done_rollout_of_another_image_is_rolled_back_first_or_refused(fleet, clock):
    fleet.crash_at = ("shift", 10)
    with pytest.raises(Crash):
        rollout(fleet, clock, strategy="canary", lease_seconds=5).deployed()
    clock.sleep(10)
    with pytest.raises(RolloutBusy) as refused:
        rollout(fleet, clock, image_id="ami-other", supersede=False).deployed()
    assert "supersede is false" in refused.value.message
    result = rollout(fleet, clock, image_id="ami-other").deployed()
    assert result["rollout"]["superseded"]["image"] == "ami-green"
    assert_green_serves(fleet, image="ami-other")


def test_rolled_back_mid_rollout_and_after_a_finished_one(fleet, clock):
    fleet.crash_at = ("shift", 100)
    with pytest.raises(Crash):
        rollout(fleet, clock, lease_seconds=5).deployed()
    clock.sleep(10)
    back = rollout(fleet, clock).rolled_back()
    assert back["changed"] is True and fleet.listener == {"tg-blue": 100}
    assert set(fleet.groups_by_name) == {"web-blue"} and fleet.groups_by_name["web-blue"].size == 3

    rollout(fleet, clock).deployed()
    again = rollout(fleet, clock).rolled_back()
    assert again["changed"] is True and again["rollout"]["to_image"] == "ami-blue"
    assert fleet.groups_by_name["web-b"].tags["phoenix:rolled-back-from"] == "ami-green"
    assert rollout(fleet, clock).rolled_back()["changed"] is False


def test_check_mode_plans_without_calls_that_change_anything(fleet, clock):
    spec = make_spec(strategy="canary", steps=[25, 100])
    result = Rollout(spec, fleet, fleet, fleet, fleet, check_mode=True, clock=clock, sleep=clock.sleep).deployed()
    assert result["changed"] is True and result["rollout"]["state"] == "planned"
    assert [p.get("weight") for p in result["rollout"]["plan"] if p["phase"] == "shift"] == [25, 100]
    assert set(fleet.groups_by_name) == {"web-blue"} and fleet.listener == {"tg-blue": 100}


def test_the_trust_gate_runs_before_anything_is_read(fleet, clock):
    def refuse(image_id):
        raise InvalidInput("untrusted %s" % image_id)

    with pytest.raises(InvalidInput):
        Rollout(make_spec(), fleet, fleet, fleet, fleet, verify=refuse, clock=clock, sleep=clock.sleep).deployed()
    assert fleet.calls == 0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"image_id": None}, "image_id is required"),
        ({"size": 0}, "size must be at least 1"),
        ({"strategy": "canary", "steps": [50, 10, 100]}, "increasing"),
        ({"strategy": "canary", "steps": [10, 50]}, "ending with 100"),
        ({"strategy": "canary", "steps": [0, 100]}, "between 1 and 100"),
        ({"step_seconds": -1}, "step_seconds must not be negative"),
        ({"lease_seconds": 0}, "lease_seconds must be at least 1"),
    ],
)
def test_bad_input_is_refused_with_the_option_named(options, message):
    with pytest.raises(InvalidInput) as error:
        validate(make_spec(**options))
    assert message in error.value.message


@pytest.mark.parametrize(
    ("service", "message"),
    [("a" * 31, "1 to 30 letters"), ("-web", "not starting with a hyphen"), ("web_1", "letters, digits or hyphens")],
)
def test_a_service_name_the_cloud_would_refuse_is_refused_by_its_adapter(service, message):
    with pytest.raises(InvalidInput) as error:
        check_service_name(service)
    assert message in error.value.message


def test_rolled_back_after_a_run_killed_retiring_blue_finishes_the_retirement_then_redeploys(fleet, clock):
    fleet.crash_at = ("done", None)
    with pytest.raises(Crash):
        rollout(fleet, clock, lease_seconds=5).deployed()
    assert set(fleet.groups_by_name) == {"web-a", "web-blue"} and fleet.listener == {"tg-web-a": 100}
    clock.sleep(10)
    result = rollout(fleet, clock).rolled_back()
    assert result["rollout"]["to_image"] == "ami-blue"
    # web-blue was retired first, so the previous image comes back in the slot it left.
    assert_green_serves(fleet, image="ami-blue", name="web-b")
    assert fleet.groups_by_name["web-b"].tags["phoenix:rolled-back-from"] == "ami-green"


def test_rolled_back_while_blue_is_scaled_in_restores_its_size_before_traffic(fleet, clock):
    fleet.crash_at = ("shift", 100)
    with pytest.raises(Crash):
        rollout(fleet, clock, lease_seconds=5).deployed()
    fleet.resize("web-blue", 0)  # someone scaled blue in while green served everything
    clock.sleep(10)
    order = []
    original_set_shares = fleet.set_shares

    def set_shares(frontend, shares):
        order.append(("traffic", fleet.groups_by_name["web-blue"].size))
        original_set_shares(frontend, shares)

    fleet.set_shares = set_shares
    result = rollout(fleet, clock).rolled_back()
    assert result["rollout"]["phases"][-1]["restored_size"] == 3
    assert order == [("traffic", 3)]
    assert fleet.listener == {"tg-blue": 100} and set(fleet.groups_by_name) == {"web-blue"}


def test_a_slot_taken_by_a_group_of_someone_else_is_refused_clearly(fleet, clock):
    fleet.add_group("web-a", 1, [], ("lt-1", "1"))
    with pytest.raises(RolloutBusy) as taken:
        rollout(fleet, clock).deployed()
    assert taken.value.code == "SlotTaken" and "not of this service" in taken.value.message
    assert fleet.listener == {"tg-blue": 100}


def test_a_failure_while_blue_is_kept_rolls_back_at_once(fleet, clock):
    health = HealthSpec(probe_url="http://127.0.0.1:1/", interval=1)
    calls = {"n": 0}

    def probe(url, timeout):
        calls["n"] += 1
        serving_green_alone = fleet.listener == {"tg-web-a": 100}
        return not (serving_green_alone and fleet.clock_marker), "HTTP 502"

    fleet.clock_marker = False
    original_sleep = clock.sleep

    def sleep(seconds):
        fleet.clock_marker = True  # green starts failing once it has served alone for a while
        original_sleep(seconds)

    clock.sleep = sleep
    with pytest.raises(RolloutFailed) as failure:
        rollout(fleet, clock, probe=probe, keep_blue_seconds=30, health=health).deployed()
    assert "keep_blue" in failure.value.message
    assert fleet.listener == {"tg-blue": 100} and set(fleet.groups_by_name) == {"web-blue"}
    assert fleet.groups_by_name["web-blue"].size == 3


def test_size_overrides_blue_size_and_subnets_default_to_blue(fleet, clock):
    rollout(fleet, clock, size=5).deployed()
    group = fleet.groups_by_name["web-a"]
    assert group.size == 5 and group.subnets == ["subnet-1"]
    rollout(fleet, clock, image_id="ami-third", subnets=["subnet-9"]).deployed()
    assert fleet.groups_by_name["web-b"].subnets == ["subnet-9"] and fleet.groups_by_name["web-b"].size == 5


# -- ownership, leases, and a create whose answer was lost ------------------------------------------


def test_a_listener_serving_another_service_is_refused_before_anything_is_created(fleet, clock):
    fleet.groups_by_name["web-blue"].tags["phoenix:service"] = "other"
    before = {name: (g.size, dict(g.tags)) for name, g in fleet.groups_by_name.items()}
    for state in ("deployed", "rolled_back"):
        with pytest.raises(PhoenixError) as refused:
            getattr(rollout(fleet, clock), state)()
        assert refused.value.code == "ServiceMismatch"
        assert "serves service other" in refused.value.message and "web-blue" in refused.value.message
        assert "phoenix:service=other" in refused.value.message
    assert {name: (g.size, dict(g.tags)) for name, g in fleet.groups_by_name.items()} == before
    assert fleet.listener == {"tg-blue": 100} and set(fleet.targets) == {"tg-blue"}
    assert [v.version for v in fleet.versions["lt-1"]] == ["1"]


def test_a_group_tagged_with_its_own_service_or_untagged_is_deployed(fleet, clock):
    fleet.groups_by_name["web-blue"].tags["phoenix:service"] = "web"
    rollout(fleet, clock).deployed()
    assert_green_serves(fleet)


def test_the_default_lease_is_short_and_renewed_every_third_while_waiting(fleet, clock):
    assert RolloutSpec(service="web", frontend=LISTENER, base="lt-1").lease_seconds == 60
    renewals = []
    original = fleet.write

    def write(name, record, fields):
        tags = tags_from_record(record, fields)
        if "phoenix:lease-until" in tags and tags["phoenix:lease-until"] != "0":
            renewals.append((clock.now, float(tags["phoenix:lease-until"])))
        original(name, record, fields)

    fleet.write = write
    rollout(fleet, clock, health=HealthSpec(interval=45, healthy_for_seconds=300)).deployed()
    assert_green_serves(fleet)
    gaps = [later[0] - earlier[0] for earlier, later in zip(renewals, renewals[1:], strict=False)]
    assert gaps and max(gaps) <= 20.5, gaps
    # The lease never lapsed while the run lived: each renewal came before the last one ran out.
    assert all(later[0] < earlier[1] for earlier, later in zip(renewals, renewals[1:], strict=False))


def test_a_refusal_says_how_long_the_lease_lasts_and_how_to_take_over(fleet, clock):
    fleet.crash_at = ("launch", None)
    with pytest.raises(Crash):
        rollout(fleet, clock).deployed()
    clock.sleep(15)
    with pytest.raises(RolloutBusy) as busy:
        rollout(fleet, clock).deployed()
    assert "45 s from now" in busy.value.message
    assert "within 45 s" in busy.value.hint and "state=rolled_back" in busy.value.hint
    clock.sleep(46)
    rollout(fleet, clock).rolled_back()
    assert fleet.listener == {"tg-blue": 100} and set(fleet.groups_by_name) == {"web-blue"}


def test_a_retried_create_that_meets_its_own_group_goes_on(fleet, clock):
    """The cloud created the group but the answer was lost; the retry meets it (AlreadyExists)."""
    original = fleet.create

    def create_applied_then_retried(name, base, subnets, record, backends=()):
        original(name, base, subnets, record, backends)
        return original(name, base, subnets, record, backends)  # the retry: AlreadyExists

    fleet.create = create_applied_then_retried
    result = rollout(fleet, clock).deployed()
    assert result["rollout"]["state"] == "deployed"
    assert_green_serves(fleet)
    assert "phoenix:lease-until" not in fleet.groups_by_name["web-a"].tags


def test_a_create_applied_but_failed_is_recognised_by_its_rollout_id(fleet, clock):
    original = fleet.create

    def create_applied_then_lost(name, base, subnets, record, backends=()):
        original(name, base, subnets, record, backends)
        raise PhoenixError("AWS CreateAutoScalingGroup failed: connection reset", code="InternalFailure")

    fleet.create = create_applied_then_lost
    rollout(fleet, clock).deployed()
    assert_green_serves(fleet)


def test_a_create_that_failed_without_making_a_group_is_reported(fleet, clock):
    def create_failed(name, base, subnets, record, backends=()):
        raise PhoenixError("AWS CreateAutoScalingGroup failed: access denied", code="AccessDenied")

    fleet.create = create_failed
    with pytest.raises(PhoenixError) as failure:
        rollout(fleet, clock).deployed()
    assert failure.value.code == "AccessDenied"
    assert set(fleet.groups_by_name) == {"web-blue"}


def test_a_slot_taken_by_another_rollout_names_it(fleet, clock):
    fleet.add_group(
        "web-a",
        3,
        ["tg-web-a"],
        ("lt-1", "1"),
        tags={
            "phoenix:service": "web",
            "phoenix:role": "blue",
            "phoenix:rollout": "R-other",
            "phoenix:image": "ami-x",
        },
    )
    original = fleet.groups

    def groups_before_the_other_finished():
        return [g for g in original() if g.name != "web-a"]

    fleet.groups = groups_before_the_other_finished  # this run read the fleet before the other created web-a
    with pytest.raises(RolloutBusy) as busy:
        rollout(fleet, clock).deployed()
    assert busy.value.code == "RolloutInProgress" and "R-other" in busy.value.message


def test_each_finished_phase_says_how_long_it_took(fleet, clock):
    result = rollout(fleet, clock, health=HealthSpec(interval=5, healthy_for_seconds=30), step_seconds=20).deployed()
    phases = {entry["phase"]: entry for entry in result["rollout"]["phases"] if "finished" in entry}
    assert phases["wait_healthy"]["seconds"] == 30
    assert phases["shift"]["seconds"] == 20
    assert all(entry["seconds"] >= 0 for entry in phases.values())


def test_status_reads_what_a_killed_run_left_and_changes_nothing(fleet, clock):
    fleet.crash_at = ("shift", 50)
    with pytest.raises(Crash):
        rollout(fleet, clock, strategy="canary", steps=[10, 50, 100], lease_seconds=60).deployed()
    before = {name: (g.size, dict(g.tags)) for name, g in fleet.groups_by_name.items()}
    clock.sleep(10)
    view = rollout(fleet, clock).status()
    assert (view["state"], view["phase"], view["weight"]) == ("in_progress", "shift", 50)
    assert view["green"]["name"] == "web-a" and view["blue"]["name"] == "web-blue"
    assert view["lease"]["held"] is True and view["lease"]["seconds_left"] == 50
    assert view["shares"]["tg-web-a"] == {"weight": 10, "groups": ["web-a"]}
    assert view["health"]["problems"] == []
    assert {name: (g.size, dict(g.tags)) for name, g in fleet.groups_by_name.items()} == before
    clock.sleep(60)
    assert rollout(fleet, clock).status()["lease"]["held"] is False


def test_status_without_a_rollout_shows_the_serving_group(fleet, clock):
    view = rollout(fleet, clock).status()
    assert view["state"] == "serving" and view["rollout"] is None
    assert view["serving"]["name"] == "web-blue" and view["serving"]["image"] == "ami-blue"


# -- progress lines and health evidence ----------------------------------------------------------------

SHIFT_LINE = re.compile(r"^(\S+): shift (\d+)% → (\S+), (\d+)/(\d+) healthy(.*)$")
WAITING_LINE = re.compile(r"^web: waiting for web-a, (\d+)/(\d+) healthy, (\d+) s of (\d+) s$")


def test_a_canary_reports_one_line_per_phase_and_step_and_few_while_waiting(fleet, clock):
    lines = []
    options = dict(strategy="canary", steps=[10, 50, 100], step_seconds=60, keep_blue_seconds=90)
    rollout(fleet, clock, report=lines.append, **options).deployed()
    assert lines[0] == "web: launch web-a, 3 instances of ami-green"
    assert lines[1] == "web: web-a healthy, 3/3 in 0 s"
    shifts = [SHIFT_LINE.match(line) for line in lines if " shift " in line]
    assert [(m.group(1), m.group(2), m.group(3), m.group(4), m.group(5)) for m in shifts] == [
        ("web", weight, "web-a", "3", "3") for weight in ("10", "50", "100")
    ]
    assert [m.group(6) for m in shifts] == [", next step in 60 s", ", next step in 60 s", ", keeping web-blue for 90 s"]
    waiting = [WAITING_LINE.match(line) for line in lines if "waiting" in line]
    assert waiting and all(waiting)
    # At most one line per 30 s of waiting: 3 steps of 60 s and 90 s of keep-blue.
    assert len(waiting) <= (3 * 60 + 90) // 30
    assert all(m.group(4) in ("60", "90") and int(m.group(3)) < int(m.group(4)) for m in waiting)
    assert lines[-2] == "web: retire web-blue"
    assert re.match(r"^web: done, web-a serves ami-green in \d+ s$", lines[-1])
    assert len(lines) == 2 + 3 + len(waiting) + 2


def test_a_roll_back_says_why_and_where_traffic_goes(fleet, clock):
    lines = []

    def probe(url, timeout):
        return fleet.listener.get("tg-web-a", 0) < 50, "HTTP 503"

    health = HealthSpec(probe_url="http://127.0.0.1:1/health", interval=1)
    with pytest.raises(RolloutFailed):
        rollout(fleet, clock, probe=probe, report=lines.append, strategy="canary", health=health).deployed()
    assert lines[-1] == (
        "web: roll back (shift at weight 50: probe http://127.0.0.1:1/health answered HTTP 503), traffic back to "
        "web-blue"
    )


def test_a_gate_right_after_a_passing_check_reads_the_group_and_targets_again_only_after_a_wait(fleet, clock):
    reads = []
    original = fleet.backend_health

    def backend_health(backend_id):
        reads.append(clock.now)
        return original(backend_id)

    fleet.backend_health = backend_health
    result = rollout(fleet, clock, strategy="canary", steps=[10, 50, 100]).deployed()
    shifts = [p for p in result["rollout"]["phases"] if p["phase"] == "shift"]
    # No wait between the checks: the wait's passing read is the evidence of each zero-length step.
    assert len(reads) == 1 and all(p["evidence"]["read"] == "as the check before" for p in shifts)

    reads.clear()
    result = rollout(fleet, clock, image_id="ami-third", strategy="canary", steps=[50, 100], step_seconds=2).deployed()
    shifts = [p for p in result["rollout"]["phases"] if p["phase"] == "shift"]
    # A step that waits reads afresh after each pause (interval 1 s): its last evidence is its own.
    assert len(reads) == 1 + 2 * 2 and all("read" not in p["evidence"] for p in shifts)


def test_status_of_a_run_killed_while_retiring_blue_says_so_and_the_next_run_finishes_it(fleet, clock):
    fleet.crash_at = ("done", None)
    with pytest.raises(Crash):
        rollout(fleet, clock, lease_seconds=5).deployed()
    view = rollout(fleet, clock).status()
    assert (view["state"], view["phase"]) == ("retiring", "retire_blue")
    assert view["serving"]["name"] == "web-a" and view["blue"]["name"] == "web-blue"
    clock.sleep(10)
    assert rollout(fleet, clock).deployed()["rollout"]["resumed_from"] == "retire_blue"
    assert_green_serves(fleet)
    assert rollout(fleet, clock).status()["state"] == "serving"


def test_a_new_image_after_a_run_killed_while_retiring_blue_retires_it_first(fleet, clock):
    fleet.crash_at = ("done", None)
    with pytest.raises(Crash):
        rollout(fleet, clock, lease_seconds=5).deployed()
    clock.sleep(10)
    result = rollout(fleet, clock, image_id="ami-third").deployed()
    phases = [p["phase"] for p in result["rollout"]["phases"]]
    assert phases[:2] == ["retire_blue", "done"] and phases[2:] == list(ORDER)
    assert_green_serves(fleet, image="ami-third", name="web-b")
