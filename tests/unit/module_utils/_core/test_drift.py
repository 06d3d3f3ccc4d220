"""The drift rules, table-driven, and a scan against in-memory backends: no cloud, no network."""

from __future__ import annotations

import datetime
from dataclasses import replace

import pytest

from ansible_collections.phoenix.immutable.plugins.module_utils._core import drift
from ansible_collections.phoenix.immutable.plugins.module_utils._core.drift import (
    DriftRequest,
    DriftScan,
    Observed,
    batch_size,
    classify,
    parse_max_unavailable,
    plan_batches,
    trust_reason,
)
from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import InvalidInput
from ansible_collections.phoenix.immutable.plugins.module_utils._core.fleet import Group, Instance
from ansible_collections.phoenix.immutable.plugins.module_utils._core.model import Image
from ansible_collections.phoenix.immutable.plugins.module_utils._core.policy import Verification
from ansible_collections.phoenix.immutable.plugins.module_utils._core.rollout_model import RolloutRecord
from ansible_collections.phoenix.immutable.plugins.module_utils._core.timeutil import format_utc
from ansible_collections.phoenix.immutable.plugins.module_utils._core.waiter import Waiter

NOW = datetime.datetime(2026, 11, 24, 12, 0, tzinfo=datetime.UTC)


def ago(days):
    return format_utc(NOW - datetime.timedelta(days=days))


def image(image_id, deprecation_time=None):
    return Image(
        cloud="aws",
        id=image_id,
        name=image_id,
        region="r-1",
        state="available",
        created=ago(10),
        owner="1",
        deprecation_time=deprecation_time,
    )


def verdict(reason=None):
    return Verification(verified=reason is None, reason=reason, message=reason or "ok")


def observed(image_id="ami-good", days=1, instance_id="i-1", group=None):
    return Observed(id=instance_id, image_id=image_id, launched=ago(days), group=group)


CASES = [
    # (what, instance, wanted, managed, image, verdict, max_age_days, reasons)
    ("compliant", observed(), "ami-good", True, image("ami-good"), verdict(), 30, []),
    ("wrong image", observed("ami-old"), "ami-good", True, image("ami-old"), verdict(), None, ["wrong_image"]),
    ("no wanted image known", observed("ami-old"), None, True, image("ami-old"), None, None, []),
    ("unsigned", observed(), "ami-good", True, image("ami-good"), verdict("no signature"), None, ["unsigned_image"]),
    ("revoked", observed(), "ami-good", True, image("ami-good"), verdict("revoked"), None, ["revoked_image"]),
    (
        "imposter",
        observed(),
        "ami-good",
        True,
        image("ami-good"),
        verdict("descriptor mismatch"),
        None,
        ["untrusted_image"],
    ),
    ("image gone", observed(), "ami-good", True, None, verdict("image not found"), None, ["untrusted_image"]),
    ("no policy", observed(), "ami-good", True, image("ami-good"), None, None, []),
    ("deprecated", observed(), "ami-good", True, image("ami-good", ago(1)), None, None, ["deprecated_image"]),
    (
        "deprecation ahead",
        observed(),
        "ami-good",
        True,
        image("ami-good", format_utc(NOW + datetime.timedelta(days=3))),
        None,
        None,
        [],
    ),
    ("over age", observed(days=31), "ami-good", True, image("ami-good"), None, 30, ["over_age"]),
    ("age unchecked", observed(days=400), "ami-good", True, image("ami-good"), None, None, []),
    ("unmanaged", observed(), None, False, image("ami-good"), None, None, ["unmanaged"]),
    (
        "everything",
        observed("ami-bad", days=90),
        "ami-good",
        False,
        image("ami-bad", ago(2)),
        verdict("no signature"),
        30,
        ["wrong_image", "unsigned_image", "deprecated_image", "over_age", "unmanaged"],
    ),
]


@pytest.mark.parametrize("what,instance,wanted,managed,img,found,max_age,reasons", CASES, ids=[c[0] for c in CASES])
def test_classify(what, instance, wanted, managed, img, found, max_age, reasons):
    assert [reason for reason, _detail in classify(instance, wanted, managed, img, found, max_age, NOW)] == reasons


@pytest.mark.parametrize(
    "reason,expected",
    [
        (None, None),
        ("no signature", "unsigned_image"),
        ("revoked", "revoked_image"),
        ("expired", "untrusted_image"),
        ("unknown key", "untrusted_image"),
        ("below threshold", "untrusted_image"),
    ],
)
def test_trust_reason(reason, expected):
    assert trust_reason(verdict(reason) if reason else verdict()) == expected


@pytest.mark.parametrize(
    "value,size,expected",
    [("25%", 240, 60), ("25%", 3, 1), ("100%", 7, 7), ("2", 10, 2), (3, 1, 3), ("10%", 9, 1), ("33.3%", 10, 3)],
)
def test_batch_size(value, size, expected):
    assert batch_size(value, size) == expected


@pytest.mark.parametrize("value", ["0", "-1", "0%", "101%", "a", "", None, "1.5"])
def test_a_bad_max_unavailable_is_refused(value):
    with pytest.raises(InvalidInput, match="max_unavailable must be"):
        parse_max_unavailable(value)


def test_plan_batches_chunks_each_group_by_its_own_size():
    batches = plan_batches({"b": ["i-3"], "a": ["i-5", "i-1", "i-2"]}, {"a": 4, "b": 100}, "50%")
    assert batches == [
        {"group": "a", "instances": ["i-1", "i-2"], "max_unavailable": 2},
        {"group": "a", "instances": ["i-5"], "max_unavailable": 2},
        {"group": "b", "instances": ["i-3"], "max_unavailable": 50},
    ]


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("remediate", "fix", "remediate must be one of"),
        ("max_age_days", 0, "max_age_days must be more than 0"),
        ("service", "", "service must not be empty"),
    ],
)
def test_validate(field, value, message):
    with pytest.raises(InvalidInput, match=message):
        drift.validate(replace(DriftRequest(), **{field: value}))


# -- a scan against in-memory backends ------------------------------------------------------------


class Groups:
    cloud = "aws"
    region = "r-1"

    def __init__(self, groups, template_image="ami-good"):
        self.by_name = {group.name: group for group in groups}
        self.template_image = template_image
        self.template_reads = 0
        self.asked_members = []

    def groups(self, with_members=True):
        self.asked_members.append(with_members)
        if not with_members:
            return [replace(group, instances=[]) for group in self.by_name.values()]
        return list(self.by_name.values())

    def get(self, name, with_members=True):
        return self.by_name.get(name)

    def image_of(self, group):
        self.template_reads += 1
        return self.template_image


class Traffic:
    def backend_health(self, backend_id):
        return {}


class Instances:
    cloud = "aws"

    def __init__(self, groups, listed, images):
        self.groups = groups
        self.listed = listed
        self.known = images
        self.image_reads = []
        self.replaced = []
        self.terminated = []

    def instances(self, subnets=None, tags=None):
        return list(self.listed)

    def images(self, image_ids):
        self.image_reads.append(list(image_ids))
        return [self.known[i] for i in image_ids if i in self.known]

    def replace_in_group(self, group, instance_id):
        self.replaced.append(instance_id)
        current = self.groups.by_name[group]
        current.instances = [i for i in current.instances if i.id != instance_id] + [
            Instance("new-%s" % instance_id, True, True)
        ]

    def terminate(self, instance_ids):
        self.terminated.extend(instance_ids)

    def api_calls(self):
        return {}


def group(name, ids, image_id="ami-good", role="blue", service="web"):
    return Group(
        name=name,
        size=len(ids),
        min_size=len(ids),
        max_size=len(ids),
        launch="lt-1:2",
        instances=[Instance(i, True, True) for i in ids],
        subnets=["s-1"],
        record=RolloutRecord(service=service, role=role, image=image_id),
    )


def scan_of(groups, listed, images, verifier=None):
    backend = Groups(groups)
    instances = Instances(backend, listed, images)
    return DriftScan(
        backend, Traffic(), instances, verifier=verifier, waiter=Waiter(timeout=5, delay=0.01), now=NOW
    ), instances


def test_a_scan_replaces_only_what_a_replacement_cures_and_reads_each_image_once():
    web = group("web-a", ["i-1", "i-2", "i-3", "i-4"])
    listed = [
        observed("ami-old", instance_id="i-1", group="web-a"),
        observed("ami-old", instance_id="i-2", group="web-a"),
        observed(instance_id="i-3", group="web-a"),
        observed(instance_id="i-4", group="web-a", days=60),
        observed("ami-old", instance_id="i-9"),
    ]
    images = {"ami-good": image("ami-good"), "ami-old": image("ami-old")}
    scan, instances = scan_of([web], listed, images)
    result = scan.run(DriftRequest(service="web", remediate="replace", max_unavailable="50%", max_age_days=30))
    assert instances.image_reads == [["ami-good", "ami-old"]]
    assert result["counts"]["wrong_image"] == 3 and result["counts"]["over_age"] == 1
    assert result["counts"]["unmanaged"] == 1 and result["counts"]["compliant"] == 1
    assert [batch["instances"] for batch in result["batches"]] == [["i-1", "i-2"], ["i-4"]]
    assert instances.replaced == ["i-1", "i-2", "i-4"] and result["changed"] is True
    assert instances.terminated == [] and result["unmanaged"] == ["i-9"]


def test_the_groups_own_bad_image_is_reported_not_replaced():
    web = group("web-a", ["i-1"], image_id="ami-dep")
    listed = [observed("ami-dep", instance_id="i-1", group="web-a")]
    scan, instances = scan_of([web], listed, {"ami-dep": image("ami-dep", ago(1))})
    result = scan.run(DriftRequest(service="web", remediate="replace"))
    assert result["instances"][0]["reasons"] == ["deprecated_image"]
    assert result["not_replaced"] == ["i-1"] and result["batches"] == [] and instances.replaced == []


def test_a_service_mid_rollout_is_reported_not_replaced():
    blue = group("web-a", ["i-1"], image_id="ami-good")
    green = group("web-b", ["i-2"], image_id="ami-new", role="green")
    listed = [observed("ami-old", instance_id="i-1", group="web-a"), observed("ami-new", instance_id="i-2")]
    scan, instances = scan_of([blue, green], listed, {})
    result = scan.run(DriftRequest(service="web", remediate="replace"))
    assert result["batches"] == [] and instances.replaced == []
    assert "rollout in progress" in result["warnings"][0]


def test_check_mode_plans_and_changes_nothing_and_unmanaged_need_consent():
    web = group("web-a", ["i-1"])
    listed = [observed("ami-old", instance_id="i-1", group="web-a"), observed(instance_id="i-9", group="other")]
    scan, instances = scan_of([web], listed, {})
    scan.check_mode = True
    result = scan.run(DriftRequest(service="web", remediate="replace", terminate_unmanaged=True))
    assert result["changed"] is True and [b["group"] for b in result["batches"]] == ["web-a", "(unmanaged)"]
    assert instances.replaced == [] and instances.terminated == []
    assert result["instances"][1]["details"][-1] == "in group other, not one of ours"


def test_the_verifier_is_asked_once_with_every_distinct_image():
    asked = []

    def verifier(images, missing):
        asked.append(([i.id for i in images], list(missing)))
        return {"ami-good": verdict(), "ami-gone": verdict("image not found")}

    web = group("web-a", ["i-1", "i-2", "i-3"])
    listed = [observed(instance_id=i, group="web-a") for i in ("i-1", "i-2")] + [
        observed("ami-gone", instance_id="i-3", group="web-a")
    ]
    scan, _instances = scan_of([web], listed, {"ami-good": image("ami-good")}, verifier=verifier)
    result = scan.run(DriftRequest(service="web"))
    assert asked == [(["ami-good"], ["ami-gone"])]
    assert set(result["instances"][2]["reasons"]) == {"wrong_image", "untrusted_image"}
    assert result["images"]["ami-gone"] == {
        "name": None,
        "found": False,
        "deprecation_time": None,
        "verified": False,
        "trust_reason": "image not found",
    }


@pytest.mark.parametrize("lists_group_members", [False, True], ids=["members from the groups", "members from the scan"])
def test_membership_is_the_same_whether_the_groups_or_the_scan_list_the_members(lists_group_members):
    web, api = group("web-a", ["i-1", "i-2"]), group("api-a", ["i-5"], service="api")
    listed = [
        observed("ami-old", instance_id="i-1", group="web-a"),
        observed(instance_id="i-2", group="web-a"),
        observed(instance_id="i-5", group="api-a"),
        observed(instance_id="i-8"),
        observed(instance_id="i-9", group="other"),
    ]
    scan, instances = scan_of([web, api], listed, {"ami-good": image("ami-good"), "ami-old": image("ami-old")})
    instances.lists_group_members = lists_group_members
    result = scan.run(DriftRequest(service="web"))
    # A backend whose scan lists each group's members is not asked for them twice.
    assert scan.groups.asked_members == [not lists_group_members]
    assert {entry["id"]: (entry["group"], entry["reasons"]) for entry in result["instances"]} == {
        "i-1": ("web-a", ["wrong_image"]),
        "i-2": ("web-a", []),
        "i-8": (None, ["unmanaged"]),
        "i-9": ("other", ["unmanaged"]),
    }
    assert [batch["instances"] for batch in result["batches"]] == [["i-1"]]


def test_an_unknown_service_is_refused():
    scan, _instances = scan_of([group("api-a", ["i-1"], service="api")], [], {})
    with pytest.raises(InvalidInput, match="service 'web' has no instance group"):
        scan.run(DriftRequest(service="web"))


# -- progress lines ----------------------------------------------------------------------------------------


class Clock:
    """A clock the waiter sleeps on: each sleep moves it on, nothing really waits."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


class SlowInstances(Instances):
    """Replacements come up unhealthy and turn healthy once the group has been read ``after`` times."""

    def __init__(self, groups, listed, images, after):
        super().__init__(groups, listed, images)
        self.after = after

    def replace_in_group(self, group, instance_id):
        self.replaced.append(instance_id)
        current = self.groups.by_name[group]
        current.instances = [i for i in current.instances if i.id != instance_id] + [
            Instance("new-%s" % instance_id, True, False)
        ]
        self.groups.reads_left = self.after


class SlowGroups(Groups):
    reads_left = 0

    def get(self, name, with_members=True):
        found = self.by_name.get(name)
        self.reads_left -= 1
        if self.reads_left <= 0:
            found.instances = [Instance(i.id, True, True) for i in found.instances]
        return found


def test_a_scan_says_what_it_found_in_one_line():
    web = group("web-a", ["i-%d" % n for n in range(3)])
    listed = [observed(instance_id="i-0", group="web-a"), observed(instance_id="i-1", group="web-a", days=60)]
    listed += [observed("ami-old", instance_id="i-2", group="web-a", days=90)]
    lines = []
    scan, _instances = scan_of([web], listed, {"ami-good": image("ami-good")})
    scan.report = lines.append
    scan.run(DriftRequest(service="web", max_age_days=30))
    assert lines == ["drift: 3 instances in 1 group, 2 drifted (wrong image 1, too old 2)"]


def test_a_large_scan_line_groups_its_thousands():
    assert (
        drift.scan_line(1000, 12, dict(drift.empty_counts(), unsigned_image=20, over_age=17), 37)
        == "drift: 1,000 instances in 12 groups, 37 drifted (unsigned 20, too old 17)"
    )
    assert drift.scan_line(1, 1, drift.empty_counts(), 0) == "drift: 1 instance in 1 group, 0 drifted"


def test_each_batch_reports_one_line_and_a_long_wait_one_line_per_30_seconds():
    ids = ["i-%d" % n for n in range(6)]
    backend = SlowGroups([group("web-a", ids, image_id="ami-new")])
    listed = [observed("ami-old", instance_id=i, group="web-a") for i in ids]
    instances = SlowInstances(backend, listed, {"ami-old": image("ami-old")}, after=1)
    clock, lines = Clock(), []
    waiter = Waiter(timeout=900, delay=5, max_delay=5, sleep=clock.sleep, clock=clock)
    scan = DriftScan(backend, Traffic(), instances, waiter=waiter, now=NOW, report=lines.append, clock=clock)
    request = DriftRequest(service="web", remediate="replace", max_unavailable="2")
    # The first and last batches are healthy at once; the second after 60 reads (two a look: 150 s here).
    original = instances.replace_in_group

    def replace(group_name, instance_id):
        original(group_name, instance_id)
        if instance_id in ("i-2", "i-3"):
            backend.reads_left = 60

    instances.replace_in_group = replace
    result = scan.run(request)
    assert result["replaced"] == ids
    assert lines[0] == "drift: 6 instances in 1 group, 6 drifted (wrong image 6)"
    assert lines[1] == "web-a: replace batch 1/3 (2 instances: ami-old → ami-new), 6/6 healthy in 0 s"
    waits = [line for line in lines if "waiting" in line]
    assert 3 <= len(waits) <= 5, lines
    assert all(line.startswith("web-a: replace batch 2/3, waiting ") for line in waits)
    assert "instances in service and healthy in web-a" in waits[0]
    seconds = [int(line.split("waiting ")[1].split(" s")[0]) for line in waits]
    assert all(later - earlier >= 30 for earlier, later in zip(seconds, seconds[1:], strict=False)), seconds
    done = [line for line in lines if line.startswith("web-a: replace batch 2/3 (")]
    assert len(done) == 1 and int(done[0].rsplit(" in ", 1)[1][:-2]) >= seconds[-1]
    assert done[0].startswith("web-a: replace batch 2/3 (2 instances: ami-old → ami-new), 6/6 healthy in ")
    assert lines[-1].startswith("web-a: replace batch 3/3 (2 instances: ami-old → ami-new), 6/6 healthy in ")
    assert len(lines) == 4 + len(waits)


def test_unmanaged_instances_terminated_are_one_line():
    web = group("web-a", ["i-1"])
    listed = [observed(instance_id="i-1", group="web-a"), observed(instance_id="i-9")]
    lines = []
    scan, instances = scan_of([web], listed, {"ami-good": image("ami-good")})
    scan.report = lines.append
    scan.run(DriftRequest(service="web", remediate="replace", terminate_unmanaged=True))
    assert instances.terminated == ["i-9"]
    assert lines == ["drift: 2 instances in 1 group, 1 drifted (unmanaged 1)", "(unmanaged): terminated 1 instance"]
