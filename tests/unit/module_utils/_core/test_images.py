"""The image workflow against an in-memory backend: the decisions, without a cloud."""

import datetime
import itertools
from dataclasses import replace
from types import SimpleNamespace

import pytest

from ansible_collections.phoenix.immutable.plugins.module_utils._aws.codec import AwsTagCodec
from ansible_collections.phoenix.immutable.plugins.module_utils._core.backends import ImageBackend
from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import InvalidInput, PhoenixError
from ansible_collections.phoenix.immutable.plugins.module_utils._core.images import ImageRequest, ImageWorkflow
from ansible_collections.phoenix.immutable.plugins.module_utils._core.model import (
    AVAILABLE,
    FAILED,
    PENDING,
    Image,
    ImageUser,
)
from ansible_collections.phoenix.immutable.plugins.module_utils._core.tags import TagLimits
from ansible_collections.phoenix.immutable.plugins.module_utils._core.waiter import Waiter

NOW = datetime.datetime(2026, 11, 24, 12, 0, tzinfo=datetime.UTC)


class MemoryCloud:
    def __init__(self, regions=("r-1", "r-2", "r-3")):
        self.regions = list(regions)
        self.images = {}
        self.users = {}
        self.instances = {"i-builder": "img-base"}
        self.ids = itertools.count(1)
        self.pending_reads = 0
        self.calls = []


class MemoryBackend(ImageBackend):
    cloud = "aws"
    tag_limits = TagLimits(max_tags=10, max_key_length=128, max_value_length=256)
    codec = AwsTagCodec(limits=tag_limits)

    def __init__(self, cloud, region="r-1"):
        super().__init__(region)
        self.memory = cloud

    def _log(self, call):
        self.memory.calls.append((self.region, call))

    def in_region(self, region):
        return MemoryBackend(self.memory, region)

    def enabled_regions(self):
        return list(self.memory.regions)

    def get(self, image_id):
        self._log("get")
        image = self.memory.images.get(image_id)
        if image is not None and image.state == PENDING and self.memory.pending_reads <= 0:
            image = self.memory.images[image_id] = replace(image, state=AVAILABLE)
        self.memory.pending_reads -= 1
        return image

    def find_by_name(self, name):
        self._log("find")
        return [i for i in self.memory.images.values() if i.name == name and i.region == self.region]

    def search(self, image_ids=None, name_pattern=None, tags=None, owners=None):
        return [i for i in self.memory.images.values() if not image_ids or i.id in image_ids]

    def source_of(self, instance_id):
        if instance_id not in self.memory.instances:
            raise PhoenixError("builder instance %s not found" % instance_id, code="InvalidInstanceID.NotFound")
        return self.memory.instances[instance_id]

    def _new(self, name, tags, source=None):
        image = Image(
            cloud="aws",
            id="img-%d" % next(self.memory.ids),
            name=name,
            region=self.region,
            state=PENDING,
            created="2026-11-24T12:00:00Z",
            owner="me",
            source_image=source,
            tags=dict(tags),
            deprecation_time=None,
        )
        self.memory.images[image.id] = image
        return image

    def check_family(self, family, resource):
        if not family.islower():
            raise InvalidInput("%r is not a family name here" % family, resource=resource)

    def create(self, name, instance_id, description, tags, no_reboot, family=None):
        self._log("create")
        image = self._new(name, tags, self.memory.instances[instance_id])
        image = self.memory.images[image.id] = replace(image, family=family)
        return image

    def copy_from(self, image, tags):
        self._log("copy")
        return self._new(image.name, tags, image.id)

    def set_tags(self, image, to_set, to_remove):
        self._log("set_tags")
        tags = {k: v for k, v in self.memory.images[image.id].tags.items() if k not in to_remove}
        tags.update(to_set)
        self.memory.images[image.id] = replace(self.memory.images[image.id], tags=tags)

    def users(self, image):
        return self.memory.users.get(image.id, [])

    def delete(self, image):
        self._log("delete")
        del self.memory.images[image.id]

    def set_deprecation(self, image, deprecate_at):
        self._log("deprecate")
        when = deprecate_at.strftime("%Y-%m-%dT%H:%M:%SZ") if deprecate_at else None
        self.memory.images[image.id] = replace(self.memory.images[image.id], deprecation_time=when)

    def api_calls(self):
        return {}


@pytest.fixture
def cloud():
    return MemoryCloud()


def workflow(cloud, check_mode=False):
    return ImageWorkflow(
        MemoryBackend(cloud), Waiter(enabled=not check_mode, sleep=lambda s: None), check_mode=check_mode
    )


def mutations(cloud):
    return [call for _region, call in cloud.calls if call not in ("get", "find")]


def test_present_creates_tags_with_provenance_and_waits(cloud):
    cloud.pending_reads = 2
    outcome = workflow(cloud).present(ImageRequest(name="web-1", instance_id="i-builder", tags={"service": "web"}))
    assert outcome.changed
    assert outcome.image["state"] == AVAILABLE
    assert outcome.image["tags"] == {
        "service": "web",
        "phoenix:managed": "true",
        "phoenix:source-image": "img-base",
        "phoenix:source-instance": "i-builder",
    }
    assert [a["action"] for a in outcome.actions] == ["create_image"]
    assert outcome.before is None and outcome.after["name"] == "web-1"


def test_a_family_is_given_when_the_image_is_made_and_a_different_one_later_is_a_warning(cloud):
    made = workflow(cloud).present(ImageRequest(name="web-1", instance_id="i-builder", family="web"))
    assert made.image["family"] == "web" and made.after["family"] == "web"
    assert made.actions[0]["family"] == "web"

    again = workflow(cloud).present(ImageRequest(name="web-1", family="web"))
    assert not again.changed and again.warnings == []
    other = workflow(cloud).present(ImageRequest(name="web-1", family="api"))
    assert not other.changed and other.image["family"] == "web"
    assert other.warnings == [
        "image img-1 (web-1) in r-1 exists in image family web, not api: an image gets its family when it is made, and"
        " keeps it"
    ]


def test_a_family_name_the_cloud_refuses_is_refused_before_anything_is_made(cloud):
    with pytest.raises(InvalidInput, match="'Web' is not a family name"):
        workflow(cloud).present(ImageRequest(name="web-1", instance_id="i-builder", family="Web"))
    assert cloud.images == {} and mutations(cloud) == []


def test_present_is_idempotent(cloud):
    request = ImageRequest(name="web-1", instance_id="i-builder", tags={"service": "web"}, copy_to_regions=["r-2"])
    workflow(cloud).present(request)
    cloud.calls.clear()
    again = workflow(cloud).present(request)
    assert not again.changed
    assert again.actions == []
    assert mutations(cloud) == []


def test_check_mode_plans_and_changes_nothing(cloud):
    outcome = workflow(cloud, check_mode=True).present(
        ImageRequest(name="web-1", instance_id="i-builder", copy_to_regions=["r-2", "r-3"])
    )
    assert outcome.changed
    assert [(a["action"], a["region"]) for a in outcome.actions] == [
        ("create_image", "r-1"),
        ("copy_image", "r-2"),
        ("copy_image", "r-3"),
    ]
    assert cloud.images == {}
    assert outcome.image is None


def test_changed_tags_are_converged_and_provenance_survives_purge(cloud):
    workflow(cloud).present(ImageRequest(name="web-1", instance_id="i-builder", tags={"a": "1", "b": "2"}))
    outcome = workflow(cloud).present(ImageRequest(name="web-1", tags={"a": "9"}, purge_tags=True))
    assert outcome.changed
    assert outcome.actions[0]["set"] == {"a": "9"} and outcome.actions[0]["remove"] == ["b"]
    assert outcome.image["tags"]["a"] == "9" and "b" not in outcome.image["tags"]
    assert outcome.image["tags"]["phoenix:managed"] == "true"


def test_copies_are_made_in_each_region_tagged_with_their_source(cloud):
    outcome = workflow(cloud).present(
        ImageRequest(name="web-1", instance_id="i-builder", copy_to_regions=["r-2", "r-3", "r-1", "r-2"])
    )
    assert sorted(copy["region"] for copy in outcome.copies) == ["r-2", "r-3"]
    source = outcome.image["id"]
    assert all(copy["tags"]["phoenix:copied-from"] == "r-1/" + source for copy in outcome.copies)


def test_a_copy_to_a_region_the_account_cannot_use_is_refused_before_anything_is_made(cloud):
    with pytest.raises(InvalidInput, match="cannot use: r-9"):
        workflow(cloud).present(ImageRequest(name="web-1", instance_id="i-builder", copy_to_regions=["r-9"]))
    assert cloud.images == {}


def test_bad_tags_create_nothing(cloud):
    with pytest.raises(InvalidInput, match="value of 300 characters, at most 256"):
        workflow(cloud).present(ImageRequest(name="web-1", instance_id="i-builder", tags={"x": "v" * 300}))
    assert cloud.images == {}


def test_too_many_tags_counting_provenance_create_nothing(cloud):
    tags = {"t%d" % n: "v" for n in range(8)}
    with pytest.raises(InvalidInput, match="11 tags, at most 10"):
        workflow(cloud).present(ImageRequest(name="web-1", instance_id="i-builder", tags=tags))
    assert cloud.images == {}


def test_an_unknown_builder_creates_nothing(cloud):
    with pytest.raises(PhoenixError, match="i-nope not found"):
        workflow(cloud).present(ImageRequest(name="web-1", instance_id="i-nope"))
    assert cloud.images == {}


def test_creating_needs_a_builder(cloud):
    with pytest.raises(InvalidInput, match="instance_id"):
        workflow(cloud).present(ImageRequest(name="web-1"))


def test_a_failed_image_is_reported_not_reused(cloud):
    image = MemoryBackend(cloud).create("web-1", "i-builder", "", {}, False)
    cloud.images[image.id] = replace(image, state=FAILED, state_reason="snapshot broke")
    with pytest.raises(PhoenixError, match="failed state: snapshot broke"):
        workflow(cloud).present(ImageRequest(name="web-1"))


def test_two_images_of_one_name_are_ambiguous(cloud):
    backend = MemoryBackend(cloud)
    backend.create("web-1", "i-builder", "", {}, False)
    backend.create("web-1", "i-builder", "", {}, False)
    with pytest.raises(PhoenixError, match="2 images are named 'web-1'") as raised:
        workflow(cloud).absent(name="web-1")
    assert raised.value.code == "AmbiguousName"


def test_absent_refuses_an_image_in_use_naming_every_user(cloud):
    image = workflow(cloud).present(ImageRequest(name="web-1", instance_id="i-builder")).image
    cloud.users[image["id"]] = [ImageUser("instance", "i-1", "running"), ImageUser("Auto Scaling group", "web")]
    with pytest.raises(PhoenixError, match="in use by instance i-1 \\(running\\), Auto Scaling group web") as raised:
        workflow(cloud).absent(image_id=image["id"])
    assert raised.value.code == "ImageInUse"
    assert image["id"] in cloud.images


def test_absent_with_force_deletes_an_image_in_use_and_warns(cloud):
    image = workflow(cloud).present(ImageRequest(name="web-1", instance_id="i-builder")).image
    cloud.users[image["id"]] = [ImageUser("instance", "i-1", "running")]
    outcome = workflow(cloud).absent(image_id=image["id"], force=True)
    assert outcome.changed and image["id"] not in cloud.images
    assert "i-1" in outcome.warnings[0]


def test_absent_of_what_is_gone_changes_nothing(cloud):
    outcome = workflow(cloud).absent(image_id="img-404")
    assert not outcome.changed and outcome.actions == []


def test_absent_in_check_mode_deletes_nothing(cloud):
    image = workflow(cloud).present(ImageRequest(name="web-1", instance_id="i-builder")).image
    outcome = workflow(cloud, check_mode=True).absent(name="web-1")
    assert outcome.changed and outcome.actions[0]["action"] == "delete_image"
    assert image["id"] in cloud.images


def test_deprecation_is_set_once_rounded_to_the_minute(cloud):
    image = workflow(cloud).present(ImageRequest(name="web-1", instance_id="i-builder")).image
    outcome = workflow(cloud).deprecated("2027-01-01T10:30:45Z", image_id=image["id"], now=NOW)
    assert outcome.changed and outcome.image["deprecation_time"] == "2027-01-01T10:30:00Z"
    again = workflow(cloud).deprecated("2027-01-01T10:30:00Z", image_id=image["id"], now=NOW)
    assert not again.changed


def test_an_unchanged_deprecation_in_the_past_is_not_an_error(cloud):
    image = workflow(cloud).present(ImageRequest(name="web-1", instance_id="i-builder")).image
    workflow(cloud).deprecated("2027-01-01", image_id=image["id"], now=NOW)
    later = datetime.datetime(2027, 6, 1, tzinfo=datetime.UTC)
    assert not workflow(cloud).deprecated("2027-01-01", image_id=image["id"], now=later).changed


@pytest.mark.parametrize(
    "when, problem",
    [
        ("2026-11-01", "in the past"),
        ("2040-01-01", "more than ten years ahead"),
        ("next week", "not an ISO 8601"),
    ],
)
def test_bad_deprecation_times_are_refused(cloud, when, problem):
    image = workflow(cloud).present(ImageRequest(name="web-1", instance_id="i-builder")).image
    with pytest.raises(InvalidInput, match=problem):
        workflow(cloud).deprecated(when, image_id=image["id"], now=NOW)
    assert cloud.images[image["id"]].deprecation_time is None


def test_deprecating_an_unknown_image_fails(cloud):
    with pytest.raises(PhoenixError, match="no such image") as raised:
        workflow(cloud).deprecated("2027-01-01", image_id="img-404", now=NOW)
    assert raised.value.code == "ImageNotFound"


def test_find_is_newest_first(cloud):
    backend = MemoryBackend(cloud)
    first = backend.create("a", "i-builder", "", {}, False)
    second = backend.create("b", "i-builder", "", {}, False)
    cloud.images[first.id] = replace(first, created="2026-11-01T00:00:00Z")
    assert [image.name for image in workflow(cloud).find()] == ["b", "a"]
    assert second.id


# -- copies in parallel, signed as each arrives, and their progress lines --------------------------


class RecordingSigning:
    """Stands in for _core.signing.ImageSigning: records what it signs and writes one tag, as signing does."""

    def __init__(self, fail_in=()):
        self.prepared = []
        self.signed = []
        self.fail_in = set(fail_in)

    def prepare(self, backend):
        self.prepared.append(backend.region)

    def sign(self, backend, image):
        if backend.region in self.fail_in:
            raise PhoenixError("cannot sign %s" % image.id, code="AccessDenied")
        self.signed.append((backend.region, image.id, image.state))
        backend.set_tags(image, {"phoenix:sig:0123456789abcdef:0": "x"}, [])
        return SimpleNamespace(
            image_id=image.id,
            region=backend.region,
            keyid="0123456789abcdef",
            statement_digest="d-%s" % image.id,
            changed=True,
            actions=[{"action": "sign_image", "image_id": image.id}],
            tags={"phoenix:sig:0123456789abcdef:0": "x"},
            tags_removed=[],
            attestations=[],
        )


def test_the_image_and_each_copy_are_signed_once_available_and_each_arrival_has_its_line(cloud):
    lines = []
    signing = RecordingSigning()
    flow = ImageWorkflow(MemoryBackend(cloud), Waiter(sleep=lambda s: None), report=lines.append)
    outcome = flow.present(
        ImageRequest(name="web-1", instance_id="i-builder", copy_to_regions=["r-2", "r-3"]), signing=signing
    )
    image_id = outcome.image["id"]
    assert sorted(signing.prepared) == ["r-2", "r-3"]  # before the threads start
    # Each copy as it arrives, the image itself last: its signature says the whole image is done.
    assert sorted(region for region, _id, _state in signing.signed[:2]) == ["r-2", "r-3"]
    assert signing.signed[2] == ("r-1", image_id, AVAILABLE)
    assert all(state == AVAILABLE for _region, _id, state in signing.signed)
    assert outcome.signatures[0]["image_id"] == image_id
    assert sorted(s["image_id"] for s in outcome.signatures[1:]) == sorted(c["id"] for c in outcome.copies)
    # The copies carry the source's tags but never its signature: each copy is signed on its own.
    for copy in outcome.copies:
        assert cloud.images[copy["id"]].tags["phoenix:copied-from"] == "r-1/%s" % image_id
    arrived = [line for line in lines if ": copy to " in line]
    assert len(arrived) == 2 and sorted(line[-5:] for line in arrived) == ["(1/2)", "(2/2)"]
    assert all(line.startswith("%s: copy to r-" % image_id) and ", signed (" in line for line in arrived)


def test_a_failed_copy_does_not_lose_the_others_and_names_what_exists(cloud):
    signing = RecordingSigning(fail_in=["r-3"])
    flow = ImageWorkflow(MemoryBackend(cloud), Waiter(sleep=lambda s: None))
    with pytest.raises(PhoenixError) as raised:
        flow.present(ImageRequest(name="web-1", instance_id="i-builder", copy_to_regions=["r-2", "r-3"]), signing)
    details = raised.value.details
    assert "1 of 2 copies" in raised.value.message and "r-3" in raised.value.message
    assert [copy["region"] for copy in details["copies"]] == ["r-2"]
    [failed] = details["failed_copies"]
    assert failed["region"] == "r-3" and failed["id"] in cloud.images  # made, not signed: named for clean-up
    assert details["image"]["id"] in cloud.images
    assert [region for region, _id, _state in signing.signed] == ["r-2"]  # the image itself is left unsigned

    # A second run keeps what is there and does only what is missing.
    signing = RecordingSigning()
    again = flow.present(ImageRequest(name="web-1", instance_id="i-builder", copy_to_regions=["r-2", "r-3"]), signing)
    assert [action["action"] for action in again.actions if action["action"] != "sign_image"] == []
    assert sorted(c["id"] for c in again.copies) == sorted([details["copies"][0]["id"], failed["id"]])


def test_a_long_wait_says_so_at_most_once_per_interval(cloud):
    ticks = itertools.count(0, 10)  # every look at the clock is 10 s later

    def clock():
        return next(ticks)

    cloud.pending_reads = 12
    lines = []
    flow = ImageWorkflow(
        MemoryBackend(cloud), Waiter(sleep=lambda s: None, clock=clock), report=lines.append, clock=clock
    )
    flow.present(ImageRequest(name="web-1", instance_id="i-builder", copy_to_regions=["r-2"]))
    waiting = [line for line in lines if "waiting" in line]
    assert waiting and waiting[0].startswith("img-1: waiting for it to be available, ")
    image_waits = [line for line in waiting if "to be available" in line]
    seconds = [int(line.split(" s of ")[0].rsplit(" ", 1)[1]) for line in image_waits]
    assert all(later - earlier >= 30 for earlier, later in zip(seconds, seconds[1:], strict=False))  # paced


def test_stop_instance_stops_the_builder_and_waits_before_imaging(cloud):
    states = iter(["stopping", "stopping", "stopped"])
    backend = MemoryBackend(cloud)
    backend.stop_source = lambda instance_id: cloud.calls.append(("r-1", "stop")) or "stopping"
    backend.source_instance = lambda instance_id: (next(states), "img-base")
    outcome = ImageWorkflow(backend, Waiter(sleep=lambda s: None)).present(
        ImageRequest(name="web-1", instance_id="i-builder", stop_instance=True)
    )
    assert [a["action"] for a in outcome.actions] == ["stop_instance", "create_image"]
    assert mutations(cloud) == ["stop", "create"]
    assert outcome.image["source_image"] == "img-base"
