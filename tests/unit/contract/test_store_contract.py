"""RolloutStore contract: create is the service's lock, a record reads back as written, field by field.

Run on every adapter (`subject`: aws through moto, the reference cloud); the reference cloud's own rules
(labels only, no atomic create) are tested at the end.
"""

from __future__ import annotations

import pytest
from reference import ReferenceStore
from reference_codec import LEGAL_KEY, LEGAL_VALUE

from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import InvalidInput, PhoenixError
from ansible_collections.phoenix.immutable.plugins.module_utils._core.rollout_model import (
    FIELDS,
    MAX_REASON,
    RolloutRecord,
)

REASON = ("shift at weight 50: 1 of 3 targets healthy at the load balancer - alarm web-5xx is ALARM " * 3)[:MAX_REASON]


def awkward(subject):
    """Every field set, with values no label or tag takes as they are; the launches are the adapter's own."""
    rollout_id = "20261202T050000Z-0a1b2c3d"
    return RolloutRecord(
        service="pre-prod",
        role="green",
        rollout=rollout_id,
        image=subject.images[0],
        phase="rolling_back",
        phase_at=1_800_000_123,
        owner="3f9a0c1d2e4b5a6c",
        lease_until=1_800_000_183.5,
        from_image=subject.blue_image,
        blue_group=subject.blue,
        blue_size=3,
        blue_backend=subject.blue_backend,
        blue_launch=subject.groups.get(subject.blue).launch,
        base=subject.base_id(),
        launch=subject.groups.prepare_launch(subject.base_id(), subject.images[0], rollout_id),
        size=5,
        weight=25,
        serving_since=1_800_000_100,
        paused_in="shift",
        reason=REASON,
        previous_image=subject.images[1],
        rolled_back_from="ami-00000000000000001",
    )


def test_the_awkward_record_sets_every_field(reference):
    assert [name for name in FIELDS if getattr(awkward(reference), name) is None] == []


def test_create_is_a_lock_the_second_create_of_a_name_is_refused_and_the_first_record_kept(subject):
    name = subject.new_name()
    first = subject.record(rollout="R-first", owner="owner-first")
    assert subject.store.create(name, subject.base_id(), subject.subnets, first) is True
    second = subject.record(rollout="R-second", owner="owner-second", image=subject.images[1])
    assert subject.store.create(name, subject.base_id(), subject.subnets, second) is False
    assert subject.store.read(name) == first
    group = subject.groups.get(name)
    assert group is not None and group.size == 0 and group.record == first


def test_a_created_group_is_empty_and_launches_the_base(subject):
    name = subject.create()
    group = subject.groups.get(name)
    assert (group.size, group.min_size, group.max_size) == (0, 0, 0)
    assert group.instances == [] and group.backends == []
    assert subject.groups.image_of(group) == subject.blue_image


def test_read_returns_every_field_as_written_with_awkward_values(subject):
    record = awkward(subject)
    name = subject.create(record=record)
    assert subject.store.read(name) == record
    assert len(subject.store.read(name).reason) == MAX_REASON


def test_write_of_some_fields_keeps_the_others(subject):
    record = awkward(subject)
    name = subject.create(record=record)
    change = RolloutRecord(phase="shift", weight=50, reason="shift at weight 50: ok - again")
    subject.store.write(name, change, ["phase", "weight", "reason"])
    expected = RolloutRecord(**{**record.__dict__, "phase": "shift", "weight": 50, "reason": change.reason})
    assert subject.store.read(name) == expected


def test_a_shorter_value_replaces_a_longer_one_entirely(subject):
    name = subject.create(record=subject.record(reason=REASON))
    subject.store.write(name, RolloutRecord(reason="short"), ["reason"])
    assert subject.store.read(name).reason == "short"


def test_clear_removes_only_the_named_fields(subject):
    record = awkward(subject)
    name = subject.create(record=record)
    subject.store.clear(name, ["owner", "lease_until", "reason", "weight"])
    expected = RolloutRecord(**{**record.__dict__, "owner": None, "lease_until": None, "reason": None, "weight": None})
    assert subject.store.read(name) == expected


def test_groups_carry_each_groups_decoded_record(subject):
    record = awkward(subject)
    first = subject.create(record=record)
    second = subject.create(record=subject.record(rollout="R2", phase="done", role="blue"))
    records = {group.name: group.record for group in subject.groups.groups()}
    assert records[first] == record
    assert records[second] == subject.record(rollout="R2", phase="done", role="blue")
    assert records[subject.blue] is None  # a group the collection did not make carries no record


def test_read_of_a_missing_group_is_none(subject):
    assert subject.store.read("%s-z" % subject.service) is None
    assert subject.store.read(subject.blue) is None


def test_a_record_no_cloud_can_hold_is_refused_and_nothing_is_changed(subject):
    name = subject.create()
    with pytest.raises(PhoenixError) as refused:
        subject.store.write(name, RolloutRecord(reason="x" * 20_000), ["reason"])
    assert "reason" in str(refused.value)
    assert subject.store.read(name) == subject.record()


def test_a_deleted_group_frees_its_name_for_the_next_create(subject):
    name = subject.create()
    subject.groups.delete(name)
    assert subject.store.read(name) is None
    assert subject.store.create(name, subject.base_id(), subject.subnets, subject.record(rollout="R-next")) is True
    assert subject.store.read(name).rollout == "R-next"


# -- the reference cloud's own rules: labels only, no atomic create ------------------------------------------


def test_the_reference_store_writes_only_legal_labels(reference):
    name = reference.create(record=awkward(reference))
    labels = reference.cloud.groups[name].labels
    assert labels and len(labels) <= 64
    assert all(LEGAL_KEY.match(key) and LEGAL_VALUE.match(value) for key, value in labels.items())


def test_the_reference_cloud_itself_refuses_an_illegal_label(reference):
    name = reference.create()
    with pytest.raises(PhoenixError, match="refuses the labels"):
        reference.store._set_labels(name, {"phoenix-reason": "Not A Label"})


def test_a_record_over_64_labels_is_refused_before_any_call_naming_the_limit(reference):
    long = "a long value that needs several labels once it is base32 encoded " * 3
    values = {name: long for name in FIELDS if name not in RolloutRecord.NUMBERS}
    before = dict(reference.cloud.calls)
    with pytest.raises(InvalidInput) as refused:
        reference.store.create("web-a", reference.base_id(), reference.subnets, RolloutRecord(**values))
    assert "allows 64 per group" in refused.value.message and "reason" in refused.value.message
    assert "web-a" not in reference.cloud.groups and not reference.cloud.objects
    assert {key: n for key, n in reference.cloud.calls.items() if before.get(key) != n} == {
        "reference:GetBase": 1  # resolving the base, in the test, before the create
    }


def test_without_an_atomic_create_the_lock_object_decides_a_race(reference):
    """Both runs saw no lock; the rival's lock object is written first: ours fails its generation check."""
    cloud = reference.cloud
    original = cloud.put_object

    def rival_first(name, data, if_generation_match):
        cloud.put_object = original
        original(name, {"until": cloud.clock() + 60, "owner": "rival"}, 0)
        return original(name, data, if_generation_match)

    cloud.put_object = rival_first
    assert reference.store.create("web-a", reference.base_id(), reference.subnets, reference.record()) is False
    assert "web-a" not in cloud.groups  # the rival makes it; a silent overwrite by us never happens


def test_a_lock_left_by_a_create_that_died_holds_the_name_until_its_lease_ends(reference):
    cloud = reference.cloud
    cloud.put_object(ReferenceStore.lock_name("web-a"), {"until": cloud.clock() + 60, "owner": "dead"}, 0)
    record = reference.record(lease_until=cloud.clock() + 60)
    assert reference.store.create("web-a", reference.base_id(), reference.subnets, record) is False
    reference.clock.sleep(61)
    record = reference.record(lease_until=cloud.clock() + 60)
    assert reference.store.create("web-a", reference.base_id(), reference.subnets, record) is True
    assert cloud.objects[ReferenceStore.lock_name("web-a")][1]["owner"] == "owner-1"


def test_a_group_created_with_backends_is_attached_to_them_with_its_record(subject):
    """The lock, the record and the attachment in one create: the core attaches green when it creates it."""
    name = subject.new_name()
    record = subject.record()
    assert subject.store.create(name, subject.base_id(), subject.subnets, record, [subject.blue_backend]) is True
    group = subject.groups.get(name)
    assert group.backends == [subject.blue_backend] and group.size == 0
    assert subject.store.read(name) == record
