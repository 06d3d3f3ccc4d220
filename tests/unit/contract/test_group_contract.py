"""GroupBackend contract: groups as fleet.Group, the base and the launches made from it, sizing and deletion.

Run on every adapter (`subject`: aws through moto, gcp and azure on their emulators, the reference cloud). A launch
is opaque: a test only hands back what the adapter gave it and reads the image through ``image_of``. Where a
launch is the image itself (azure: nothing is made per rollout), what only made launches do is skipped.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import InvalidInput, PhoenixError
from ansible_collections.phoenix.immutable.plugins.module_utils._core.fleet import Group


def test_the_serving_group_is_read_with_its_size_backend_launch_and_instances(subject):
    blue = subject.groups.get(subject.blue)
    assert isinstance(blue, Group) and blue.name == subject.blue
    assert (blue.size, blue.min_size, blue.max_size) == (subject.blue_size,) * 3
    assert blue.backends == [subject.blue_backend]
    assert blue.launch and blue.record is None and not blue.deleting
    assert len(blue.live_instances()) == subject.blue_size
    assert subject.groups.image_of(blue) == subject.blue_image
    assert [group.name for group in subject.groups.groups() if group.name == subject.blue] == [subject.blue]


def test_a_missing_group_is_none_and_deleting_it_is_fine(subject):
    missing = "%s-z" % subject.service
    assert subject.groups.get(missing) is None
    subject.groups.delete(missing)


def test_the_base_resolves_by_what_the_user_names_and_a_missing_one_is_refused(subject):
    base = subject.base_id()
    assert base and subject.groups.resolve_base(base) == base
    with pytest.raises(InvalidInput):
        subject.groups.resolve_base("no-such-base")


@pytest.mark.parametrize("refused", ["a" * 70, "web/1", "-web", ""])
def test_a_service_name_the_cloud_would_refuse_is_refused_before_any_call(subject, refused):
    before = subject.groups.api_calls()
    with pytest.raises(InvalidInput):
        subject.groups.check_service_name(refused)
    assert subject.groups.api_calls() == before


def test_a_plain_service_name_is_accepted(subject):
    subject.groups.check_service_name("pre-prod")
    subject.groups.check_service_name(subject.service)


def launches_made(subject):
    if subject.launch_is_image:
        pytest.skip("on %s a launch is the image itself: nothing is made per rollout to list or discard" % subject.name)


def test_prepare_launch_is_made_once_per_rollout_id_and_launches_the_given_image(subject):
    base = subject.base_id()
    first = subject.groups.prepare_launch(base, subject.images[0], "R1")
    assert subject.groups.prepare_launch(base, subject.images[0], "R1") == first
    other = subject.groups.prepare_launch(base, subject.images[1], "R2")
    assert other != first

    name = subject.create()
    subject.groups.launch(name, first, 1)
    group = subject.groups.get(name)
    assert group.launch == first and group.size == 1
    assert subject.groups.image_of(group) == subject.images[0]


def test_prepared_launches_are_those_made_for_the_rollout_id(subject):
    launches_made(subject)
    base = subject.base_id()
    first = subject.groups.prepare_launch(base, subject.images[0], "R1")
    other = subject.groups.prepare_launch(base, subject.images[1], "R2")
    assert subject.groups.prepared_launches(base, "R1") == [first]
    assert subject.groups.prepared_launches(base, "R2") == [other]
    assert subject.groups.prepared_launches(base, "R3") == []


def test_discard_launch_deletes_a_prepared_launch_and_leaves_the_base_alone(subject):
    base = subject.base_id()
    blue = subject.groups.get(subject.blue)
    made = subject.groups.prepare_launch(base, subject.images[0], "R1")
    subject.groups.discard_launch(made)
    assert subject.groups.prepared_launches(base, "R1") == []
    subject.groups.discard_launch(made)  # already gone: fine
    subject.groups.discard_launch(blue.launch)  # the base's own: left alone
    assert subject.groups.image_of(subject.groups.get(subject.blue)) == subject.blue_image
    again = subject.groups.prepare_launch(base, subject.images[1], "R2")
    assert subject.groups.image_of(_launching(subject, again)) == subject.images[1]


def _launching(subject, launch):
    name = subject.create()
    subject.groups.launch(name, launch, 1)
    return subject.groups.get(name)


def test_resize_sets_minimum_maximum_and_desired_size(subject):
    name = subject.create()
    subject.groups.resize(name, 2)
    group = subject.groups.get(name)
    assert (group.size, group.min_size, group.max_size) == (2, 2, 2)
    subject.groups.resize(name, 0)
    assert subject.groups.get(name).size == 0


def test_delete_removes_the_group_and_its_record(subject):
    name = subject.create()
    subject.groups.resize(name, 1)
    subject.groups.delete(name)
    group = subject.groups.get(name)
    assert group is None or group.deleting
    assert subject.groups.get(subject.blue).size == subject.blue_size


def test_a_launch_that_does_not_exist_is_refused(subject):
    launches_made(subject)
    name = subject.create()
    made = subject.groups.prepare_launch(subject.base_id(), subject.images[0], "R1")
    subject.groups.discard_launch(made)
    with pytest.raises(PhoenixError):
        subject.groups.launch(name, made, 1)


def test_a_launch_of_an_image_that_does_not_exist_is_refused(subject):
    """Where the launch is the image, a launch that does not exist is an image that does not exist."""
    if not subject.launch_is_image:
        pytest.skip("a launch is made per rollout on %s: a discarded one is refused (the test above)" % subject.name)
    name = subject.create()
    launch = subject.groups.prepare_launch(subject.base_id(), subject.missing_image, "R1")
    with pytest.raises(PhoenixError):
        subject.groups.launch(name, launch, 1)
    assert subject.groups.get(name).size == 0


def test_groups_read_without_their_members_are_otherwise_the_same_groups(subject):
    full = {group.name: group for group in subject.groups.groups()}
    bare = {group.name: group for group in subject.groups.groups(with_members=False)}
    assert sorted(bare) == sorted(full) and subject.blue in bare
    for name, group in full.items():
        assert replace(bare[name], instances=[]) == replace(group, instances=[])
    assert replace(subject.groups.get(subject.blue, with_members=False), instances=[]) == replace(
        full[subject.blue], instances=[]
    )
