"""The whole rollout state machine on the reference adapter: labels only, no weights, no template versions, no
atomic create. The core runs on it unchanged, which is what proves it cloud-neutral (not that a cloud works).

A fake clock makes every wait instant. On MEMBERSHIP a canary step is a share of instances: green joins
blue's pool with ceil(size * weight / 100) instances, and blue leaves the pool at 100.
"""

from __future__ import annotations

import pytest
from reference import Clock, ReferenceCloud, ReferenceStore, reference_adapters, seed_service

from ansible_collections.phoenix.immutable.plugins.module_utils._core.health import HealthSpec
from ansible_collections.phoenix.immutable.plugins.module_utils._core.rollout import Rollout
from ansible_collections.phoenix.immutable.plugins.module_utils._core.rollout_model import (
    ORDER,
    RolloutBusy,
    RolloutFailed,
    RolloutSpec,
)

CANARY = {"strategy": "canary", "steps": [25, 50, 100]}


class Crash(Exception):
    """The controller dies: not a PhoenixError, so nothing of the rollout's error handling runs."""


class CrashingStore(ReferenceStore):
    """Dies right after the create or write of the phase ``crash_at`` (phase, weight or None) has been applied."""

    crash_at = None

    def create(self, group, base, subnets, record, backends=()):
        created = super().create(group, base, subnets, record, backends)
        self._crash(record)
        return created

    def write(self, group, record, fields):
        super().write(group, record, fields)
        if "phase" in fields:
            self._crash(record)

    def _crash(self, record):
        crash = self.crash_at
        if crash and record.phase == crash[0] and crash[1] in (None, record.weight):
            self.crash_at = None
            raise Crash()


class World:
    """The reference cloud seeded with service web (a blue group of 3 behind pool-web), and what a test watches."""

    def __init__(self, refuse_launch_in_use=True):
        self.clock = Clock()
        self.cloud = ReferenceCloud(clock=self.clock, refuse_launch_in_use=refuse_launch_in_use)
        self.seed = seed_service(self.cloud, size=3)
        self.groups, _store, self.traffic, self.health = reference_adapters(self.cloud)
        self.store = CrashingStore(self.cloud)
        self.lowest_serving_blue = None
        self.green_shares = []  # (green instances in the pool, all instances in the pool), at each change
        self.cloud.watchers.append(self._watch)

    def _watch(self, cloud):
        members = cloud.pools[self.seed.backend_id]["members"]
        if self.seed.group_name in members:
            size = cloud.groups[self.seed.group_name].size
            self.lowest_serving_blue = size if self.lowest_serving_blue is None else min(self.lowest_serving_blue, size)
        counts = {name: len(cloud.groups[name].instances) for name in members}
        green = sum(count for name, count in counts.items() if name != self.seed.group_name)
        if green and (not self.green_shares or self.green_shares[-1] != (green, sum(counts.values()))):
            self.green_shares.append((green, sum(counts.values())))

    def rollout(self, probe=None, owner=None, **options):
        values = dict(
            service="web",
            frontend=self.seed.frontend,
            base=self.seed.base,
            image_id="img-green",
            health=HealthSpec(interval=1),
            step_seconds=5,
            keep_blue_seconds=10,
            lease_seconds=60,
        )
        values.update(options)
        hooks = {"clock": self.clock, "sleep": self.clock.sleep}
        if probe is not None:
            hooks["probe"] = probe
        spec = RolloutSpec(**values)
        return Rollout(spec, self.groups, self.traffic, self.health, self.store, owner=owner, **hooks)

    def pool_members(self):
        return list(self.cloud.pools[self.seed.backend_id]["members"])

    def assert_serves(self, image, name="web-a"):
        """Only ``name`` is left, serving ``image`` alone, with nothing orphaned: no launch, lock or pool."""
        assert set(self.cloud.groups) == {name}
        group = self.groups.get(name)
        assert group.size == 3 and self.groups.image_of(group) == image
        assert (group.record.role, group.record.phase, group.record.owner) == ("blue", "done", None)
        assert self.traffic.shares(self.seed.frontend) == {self.seed.backend_id: 100}
        assert self.pool_members() == [name]
        assert set(self.cloud.launches) == {self.seed.base_launch, group.launch}
        assert set(self.cloud.objects) == {ReferenceStore.lock_name(name)}
        assert set(self.cloud.pools) == {self.seed.backend_id}
        assert self.lowest_serving_blue == 3


@pytest.fixture
def world():
    return World()


def test_all_at_once_goes_through_every_phase_on_membership(world):
    result = world.rollout().deployed()
    assert result["changed"] is True and result["rollout"]["state"] == "deployed"
    assert [p["phase"] for p in result["rollout"]["phases"]] == list(ORDER)
    assert result["diff"]["before"] == {"image": "img-blue", "group": "web-blue"}
    world.assert_serves("img-green")
    assert world.green_shares[-1] == (3, 3)


def test_canary_steps_are_shares_of_instances(world):
    world.rollout(**CANARY).deployed()
    world.assert_serves("img-green")
    # 25 %: 1 of green next to blue's 3; 50 %: 2 next to 3; 100 %: green's 3 alone.
    assert world.green_shares == [(1, 4), (2, 5), (3, 6), (3, 3)]


def test_the_next_rollout_takes_the_other_slot_and_discards_the_first_ones_launch(world):
    world.rollout().deployed()
    first_launch = world.groups.get("web-a").launch
    world.rollout(image_id="img-third", **CANARY).deployed()
    world.assert_serves("img-third", name="web-b")
    assert first_launch not in world.cloud.launches
    assert world.rollout(image_id="img-third").deployed()["changed"] is False


def failing_at_half(world):
    """A probe that fails once green has 2 instances serving (the 50 % step)."""

    def probe(url, timeout):
        green = world.cloud.groups.get("web-a")
        serving = green is not None and "web-a" in world.pool_members() and len(green.instances) >= 2
        return not serving, "HTTP 503" if serving else "HTTP 200"

    return probe


PROBED = HealthSpec(probe_url="http://reference.invalid/health", interval=1)


def test_a_failing_gate_at_a_canary_step_rolls_back_to_blue_at_full_size(world):
    with pytest.raises(RolloutFailed) as failure:
        world.rollout(probe=failing_at_half(world), health=PROBED, **CANARY).deployed()
    assert failure.value.code == "RolledBack" and "shift at weight 50" in failure.value.message
    record = failure.value.details["rollout"]
    assert [p.get("weight") for p in record["phases"] if p["phase"] == "shift"] == [25, 50]
    assert record["state"] == "rolled_back"
    assert set(world.cloud.groups) == {"web-blue"} and world.groups.get("web-blue").size == 3
    assert world.pool_members() == ["web-blue"]
    assert world.traffic.shares(world.seed.frontend) == {world.seed.backend_id: 100}
    assert set(world.cloud.launches) == {world.seed.base_launch}  # green's launch is gone, the base's kept
    assert world.cloud.objects == {}  # green's lock went with green
    assert world.lowest_serving_blue == 3


@pytest.mark.parametrize(
    ("phase", "weight", "resumed"),
    [
        ("locked", None, "locked"),
        ("launch", None, "launch"),
        ("shift", 25, "shift"),
        ("shift", 100, "shift"),
        ("keep_blue", None, "keep_blue"),
        ("done", None, "retire_blue"),
    ],
)
def test_a_crash_at_any_record_point_is_resumed_by_another_controller_after_the_lease(world, phase, weight, resumed):
    world.store.crash_at = (phase, weight)
    with pytest.raises(Crash):
        world.rollout(owner="controller-1", **CANARY).deployed()
    with pytest.raises(RolloutBusy) as busy:
        world.rollout(owner="controller-2", **CANARY).deployed()
    assert busy.value.code == "RolloutInProgress"
    world.clock.sleep(61)
    result = world.rollout(owner="controller-2", **CANARY).deployed()
    assert result["rollout"]["resumed_from"] == resumed
    world.assert_serves("img-green")


def test_a_crash_mid_rollout_then_rolled_back_leaves_blue_alone_and_nothing_orphaned(world):
    world.store.crash_at = ("shift", 50)
    with pytest.raises(Crash):
        world.rollout(owner="controller-1", **CANARY).deployed()
    world.clock.sleep(61)
    back = world.rollout(owner="controller-2").rolled_back()
    assert back["changed"] is True and back["rollout"]["state"] == "rolled_back"
    assert set(world.cloud.groups) == {"web-blue"} and world.pool_members() == ["web-blue"]
    assert set(world.cloud.launches) == {world.seed.base_launch} and world.cloud.objects == {}
    assert world.lowest_serving_blue == 3


def test_status_of_a_rollout_killed_mid_canary_on_membership(world):
    world.store.crash_at = ("shift", 50)
    with pytest.raises(Crash):
        world.rollout(owner="controller-1", **CANARY).deployed()
    view = world.rollout(owner="controller-2").status()
    assert (view["state"], view["phase"], view["weight"]) == ("in_progress", "shift", 50)
    assert view["lease"]["owner"] == "controller-1" and view["lease"]["held"] is True
    [pool] = view["shares"].values()
    assert pool["groups"] == ["web-a", "web-blue"]  # green joined blue's pool at the first step


def test_a_roll_back_frees_greens_launch_before_discarding_it():
    world = World(refuse_launch_in_use=True)
    with pytest.raises(RolloutFailed):
        world.rollout(probe=failing_at_half(world), health=PROBED, **CANARY).deployed()
    assert set(world.cloud.groups) == {"web-blue"} and set(world.cloud.launches) == {world.seed.base_launch}


def test_a_second_run_meeting_the_taken_slot_is_refused_and_the_group_not_replaced(world):
    """The second run read the fleet before the first created web-a: the cloud would overwrite it, the store
    refuses instead."""
    original = world.groups.groups
    world.groups.groups = lambda: [group for group in original() if group.name != "web-a"]
    first = world.rollout(owner="controller-1")
    world.store.crash_at = ("launch", None)
    with pytest.raises(Crash):
        first.deployed()
    with pytest.raises(RolloutBusy) as busy:
        world.rollout(owner="controller-2", image_id="img-other").deployed()
    assert busy.value.code == "RolloutInProgress"
    assert world.groups.get("web-a").record.owner == "controller-1"  # not silently replaced


def test_instances_added_at_a_canary_step_that_stay_unhealthy_roll_back(world):
    def unhealthy_from_the_second(cloud):
        green = cloud.groups.get("web-a")
        if green is not None:
            cloud.unhealthy.update(iid for iid, _state in green.instances[1:])

    world.cloud.watchers.append(unhealthy_from_the_second)
    with pytest.raises(RolloutFailed) as failure:
        world.rollout(timeout=60, **CANARY).deployed()
    assert failure.value.code == "RolledBack"
    assert set(world.cloud.groups) == {"web-blue"} and world.pool_members() == ["web-blue"]


def test_on_membership_green_is_attached_at_every_step_whatever_its_backends_say(world):
    """A group may name a pool before all its instances are in it (a scale set's model): attach is idempotent, so
    the core attaches at each step rather than trusting Group.backends, and a run killed mid-attach finishes it."""
    seen = []
    attach, detach = world.traffic.attach, world.traffic.detach
    world.traffic.attach = lambda group, backend: seen.append(("attach", group)) or attach(group, backend)
    world.traffic.detach = lambda group, backend: seen.append(("detach", group)) or detach(group, backend)

    world.rollout(**CANARY).deployed()

    world.assert_serves("img-green")
    assert seen[:3] == [("attach", "web-a")] * 3 and ("detach", "web-blue") in seen[3:]
