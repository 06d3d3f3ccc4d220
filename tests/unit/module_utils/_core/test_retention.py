"""Retention decisions against in-memory images, groups and builders: who goes, who stays and why."""

from __future__ import annotations

import datetime
import fnmatch
from dataclasses import replace

import pytest

from ansible_collections.phoenix.immutable.plugins.module_utils._aws.codec import AWS_CODEC
from ansible_collections.phoenix.immutable.plugins.module_utils._aws.fleet_transformations import record_from_tags
from ansible_collections.phoenix.immutable.plugins.module_utils._core.backends import ImageBackend
from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import InvalidInput
from ansible_collections.phoenix.immutable.plugins.module_utils._core.fleet import Group
from ansible_collections.phoenix.immutable.plugins.module_utils._core.model import AVAILABLE, PENDING, Image, ImageUser
from ansible_collections.phoenix.immutable.plugins.module_utils._core.retention import PruneRequest, RetentionWorkflow
from ansible_collections.phoenix.immutable.plugins.module_utils._core.tags import TagLimits
from ansible_collections.phoenix.immutable.plugins.module_utils._core.timeutil import format_utc

NOW = datetime.datetime(2026, 11, 24, 12, 0, tzinfo=datetime.UTC)


def image(name, days_old, tags=None, state=AVAILABLE, deprecation_time=None):
    return Image(
        cloud="aws",
        id="ami-%s" % name,
        name=name,
        region="r-1",
        state=state,
        created=format_utc(NOW - datetime.timedelta(days=days_old)),
        owner="123456789012",
        tags=dict(tags or {}),
        deprecation_time=deprecation_time,
    )


class Images(ImageBackend):
    cloud = "aws"
    tag_limits = TagLimits(max_tags=50, max_key_length=128, max_value_length=256)
    codec = AWS_CODEC

    def __init__(self, images, users=None):
        super().__init__("r-1")
        self.images = {item.id: item for item in images}
        self.in_use = users or {}
        self.deleted = []
        self.deprecated = {}
        self.user_checks = []

    def in_region(self, region):
        return self

    def enabled_regions(self):
        return ["r-1"]

    def get(self, image_id):
        return self.images.get(image_id)

    def find_by_name(self, name):
        return [item for item in self.images.values() if item.name == name]

    def search(self, image_ids=None, name_pattern=None, tags=None, owners=None):
        return [
            item
            for item in self.images.values()
            if (not name_pattern or fnmatch.fnmatchcase(item.name, name_pattern))
            and all(item.tags.get(key) == value for key, value in (tags or {}).items())
        ]

    def source_of(self, instance_id):
        return None

    def check_family(self, family, resource):
        raise AssertionError("retention never creates")

    def create(self, name, instance_id, description, tags, no_reboot, family=None):
        raise AssertionError("retention never creates")

    def copy_from(self, image, tags):
        raise AssertionError("retention never copies")

    def set_tags(self, image, to_set, to_remove):
        raise AssertionError("retention never tags")

    def users(self, image):
        self.user_checks.append(image.id)
        return [ImageUser(kind, user_id) for kind, user_id in self.in_use.get(image.id, [])]

    def delete(self, image):
        self.deleted.append(image.id)
        del self.images[image.id]

    def set_deprecation(self, image, deprecate_at):
        self.deprecated[image.id] = deprecate_at
        self.images[image.id] = replace(image, deprecation_time=format_utc(deprecate_at))

    def api_calls(self):
        return {}


class Groups:
    cloud = "aws"

    def __init__(self, groups):
        self._groups = groups

    def groups(self, with_members=True):
        """The groups with their rollout records read from AWS-style tags, as the AWS adapter reads them."""
        for group in self._groups:
            group.record = record_from_tags(group.tags)
        return list(self._groups)


class Reaper:
    def __init__(self):
        self.calls = 0

    def reap(self):
        self.calls += 1
        return type(
            "Outcome",
            (),
            {"reaped": [{"id": "i-builder"}], "actions": [{"action": "terminate_builder"}], "changed": True},
        )


def family(count, prefix="web"):
    """web-1 (oldest) .. web-<count> (newest), a day apart."""
    return [image("%s-%d" % (prefix, number), count - number + 1) for number in range(1, count + 1)]


def prune(images, groups=None, check_mode=False, reaper=None, **request):
    workflow = RetentionWorkflow(images, Groups(groups or []), reaper, check_mode=check_mode, now=NOW)
    request.setdefault("families", ["web"])
    return workflow.prune(PruneRequest(**request))


def names(entries):
    return sorted(entry["name"] for entry in entries)


def test_keeps_the_newest_and_deprecates_the_rest():
    backend = Images(family(5))
    outcome = prune(backend, keep=2)
    assert names(outcome.pruned) == ["web-1", "web-2", "web-3"]
    assert names(outcome.kept) == ["web-4", "web-5"]
    assert backend.deprecated == {"ami-web-%d" % n: NOW + datetime.timedelta(minutes=2) for n in (1, 2, 3)}
    assert backend.deleted == []
    assert sorted(backend.user_checks) == ["ami-web-1", "ami-web-2", "ami-web-3"], "kept images need no users check"


def test_deprecating_again_changes_nothing():
    backend = Images(family(4))
    prune(backend, keep=1)
    again = prune(backend, keep=1)
    assert again.changed is False and again.actions == []
    assert all(entry.get("already") for entry in again.pruned)


def test_delete_removes_through_the_image_workflow():
    backend = Images(family(4))
    outcome = prune(backend, keep=1, action="delete")
    assert sorted(backend.deleted) == ["ami-web-1", "ami-web-2", "ami-web-3"]
    assert [action["action"] for action in outcome.actions] == ["delete_image"] * 3


def test_check_mode_changes_nothing_and_says_why_each_survivor_stays():
    backend = Images(family(4), users={"ami-web-1": [("instance", "i-1")]})
    outcome = prune(backend, keep=2, action="delete", check_mode=True)
    assert outcome.changed is True and backend.deleted == []
    assert names(outcome.pruned) == ["web-2"]
    reasons = {entry["name"]: entry["reasons"] for entry in outcome.kept}
    assert reasons == {
        "web-1": ["in use by instance i-1"],
        "web-3": ["one of the newest 2 of its family"],
        "web-4": ["one of the newest 2 of its family"],
    }


@pytest.mark.parametrize("kind", ["instance", "launch template", "launch configuration", "Auto Scaling group"])
@pytest.mark.parametrize("action", ["deprecate", "delete"])
def test_an_image_in_use_is_never_pruned(kind, action):
    backend = Images(family(3), users={"ami-web-1": [(kind, "x-1")]})
    outcome = prune(backend, keep=1, action=action)
    assert names(outcome.pruned) == ["web-2"]
    assert "ami-web-1" not in backend.deleted and "ami-web-1" not in backend.deprecated


@pytest.mark.parametrize(
    "tag, what",
    [
        ("phoenix:image", "current image"),
        ("phoenix:previous-image", "previous image (rollback)"),
        ("phoenix:from-image", "rollback"),
    ],
)
def test_images_a_service_names_stay(tag, what):
    group = Group(name="web-a", size=2, min_size=2, max_size=2, tags={"phoenix:service": "web", tag: "ami-web-1"})
    stranger = Group(name="other", size=1, min_size=1, max_size=1, tags={tag: "ami-web-2"})  # no service tag
    backend = Images(family(3))
    outcome = prune(backend, groups=[group, stranger], keep=1)
    kept = {entry["name"]: entry["reasons"] for entry in outcome.kept}
    assert what in kept["web-1"][0] and "service web (group web-a)" in kept["web-1"][0]
    assert names(outcome.pruned) == ["web-2"]


def test_the_current_image_of_each_channel_stays_but_not_an_older_promoted_one():
    images = family(5)
    images[0] = replace(images[0], tags={"phoenix:promo:prod:0123456789abcdef:0": "x"})  # older prod image
    images[1] = replace(images[1], tags={"phoenix:promo:prod:0123456789abcdef:0": "x"})  # current prod
    images[2] = replace(images[2], tags={"phoenix:promo:staging:0123456789abcdef:0": "x"})
    outcome = prune(Images(images), keep=1)
    kept = {entry["name"]: entry["reasons"] for entry in outcome.kept}
    assert kept["web-2"] == ["current image of channel prod"]
    assert kept["web-3"] == ["current image of channel staging"]
    assert names(outcome.pruned) == ["web-1", "web-4"]


def test_older_than_days_is_a_floor_and_pending_images_stay():
    images = family(6)
    images[0] = replace(images[0], state=PENDING)
    outcome = prune(Images(images), keep=1, older_than_days=3.5)
    kept = {entry["name"]: entry["reasons"] for entry in outcome.kept}
    assert names(outcome.pruned) == ["web-2", "web-3"]  # 5 and 4 days old
    assert kept["web-1"] == ["not available (pending)"]
    assert kept["web-4"] == ["younger than 3.5 days"]


def test_families_are_told_apart_by_name():
    images = family(3) + family(2, prefix="web-api") + [image("webapp-1", 9), image("web", 9)]
    outcome = prune(Images(images), keep=1)
    assert outcome.families == {"web": {"images": 4, "kept": 1, "pruned": 3}}
    assert names(outcome.pruned) == ["web", "web-1", "web-2"]


def test_without_families_every_managed_image_is_grouped():
    managed = {"phoenix:managed": "true"}
    images = [replace(item, tags=managed) for item in family(2) + family(2, prefix="api")] + [image("mine-1", 9)]
    outcome = prune(Images(images), keep=1, families=[])
    assert sorted(outcome.families) == ["api", "web"]
    assert names(outcome.pruned) == ["api-1", "web-1"]


def test_expired_builders_are_reaped_through_the_reaper():
    reaper = Reaper()
    outcome = prune(Images(family(1)), reaper=reaper)
    assert reaper.calls == 1 and outcome.reaped == [{"id": "i-builder"}] and outcome.changed is True
    assert prune(Images(family(1)), reaper=reaper, reap_builders=False).reaped == []


@pytest.mark.parametrize(
    "request_fields, message",
    [
        ({"keep": 0}, "keep must be a whole number from 1"),
        ({"keep": True}, "keep must be a whole number"),
        ({"action": "shred"}, "action must be one of deprecate, delete"),
        ({"older_than_days": -1}, "older_than_days must be between 0 and 36500"),
        ({"families": ["web-*"]}, "without wildcards"),
    ],
)
def test_bad_requests_are_refused_before_anything(request_fields, message):
    backend = Images(family(3))
    with pytest.raises(InvalidInput, match=message):
        prune(backend, **request_fields)
    assert backend.deleted == [] and backend.deprecated == {} and backend.user_checks == []
