"""AzureImageBackend itself on the ARM emulator, for what a module run cannot reach: a lost answer, version names
taken, a replication that fails, faults retried, the tag budget, and the retention (image_prune's core) keeping
every version in use.
"""

from __future__ import annotations

import datetime

import pytest
from images_support import (
    GALLERY,
    RESOURCE_GROUP,
    backend,
    deallocate,
    fast_waiter,
    make_scale_set,
    make_vm,
    plant_version,
)

from ansible_collections.phoenix.immutable.plugins.module_utils._azure.image_transformations import (
    NAME_TAG,
    version_name,
)
from ansible_collections.phoenix.immutable.plugins.module_utils._azure.images import VERSION_ATTEMPTS
from ansible_collections.phoenix.immutable.plugins.module_utils._core import tags as tagging
from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import InvalidInput, PhoenixError
from ansible_collections.phoenix.immutable.plugins.module_utils._core.images import ImageRequest, ImageWorkflow
from ansible_collections.phoenix.immutable.plugins.module_utils._core.model import AVAILABLE, FAILED, PENDING
from ansible_collections.phoenix.immutable.plugins.module_utils._core.retention import PruneRequest, RetentionWorkflow


def generalized_builder(azure, name="builder-1"):
    vm = make_vm(azure, name)
    deallocate(azure, name, generalize=True)
    return vm


def set_published(azure, image_id, days_old):
    """Age a version: its publishedDate, which orders a family's images."""
    when = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=days_old)
    with azure.emu.lock:
        profile = azure.emu.resources[image_id.lower()]["properties"]["publishingProfile"]
        profile["publishedDate"] = when.strftime("%Y-%m-%dT%H:%M:%S.0000000+00:00")


def test_a_lost_create_answer_returns_the_version_made_and_makes_no_second_one(azure):
    vm = generalized_builder(azure)
    images = backend(azure)
    azure.emu.inject_fault("GalleryImageVersions_CreateOrUpdate", status=503, after_apply=True)

    made = images.create("web-2026-12-03-1", vm, "the web tier", {"service": "web"}, no_reboot=False)
    azure.emu.settle()  # the lost answer's operation: nobody polls it but ARM itself

    versions = list(azure.compute().gallery_image_versions.list_by_gallery_image(RESOURCE_GROUP, GALLERY, "web"))
    assert [version.id for version in versions] == [made.id]
    assert azure.emu.calls["GalleryImageVersions_CreateOrUpdate"] == 2  # the lost one, then 412 on the retry
    current = images.get(made.id)
    assert current.state == AVAILABLE and current.name == "web-2026-12-03-1"
    assert current.description == "the web tier" and current.tags == {"service": "web"}
    assert NAME_TAG not in current.tags


def test_a_version_name_taken_moves_to_the_next_second_and_a_run_of_taken_seconds_is_refused(azure):
    vm = generalized_builder(azure)
    images = backend(azure)
    now = datetime.datetime.now(datetime.UTC)
    taken = {version_name(now + datetime.timedelta(seconds=offset)) for offset in range(2)}
    for version in sorted(taken):
        plant_version(azure, "web", version, "other-" + version)

    made = images.create("web-2026-12-03-1", vm, "", {}, no_reboot=False)

    assert made.id.rsplit("/", 1)[1] not in taken
    assert made.id.rsplit("/", 1)[1] > min(taken)
    # Every second the next bake could take, taken: refused, naming the definition.
    later = datetime.datetime.now(datetime.UTC)
    for offset in range(VERSION_ATTEMPTS + 10):
        version = version_name(later + datetime.timedelta(seconds=offset))
        if not azure.emu.get(made.id.rsplit("/", 1)[0] + "/" + version):
            plant_version(azure, "web", version, "other-" + version)
    with pytest.raises(PhoenixError) as refused:
        images.create("web-2026-12-03-2", generalized_builder(azure, "builder-2"), "", {}, no_reboot=False)
    assert refused.value.code == "Conflict" and "web" in refused.value.message


def test_a_failed_replication_fails_the_copy_there_and_the_version_still_serves_at_home(azure):
    image_id = plant_version(azure, "web", "1.0.0", "web-1")
    home, there = backend(azure), backend(azure).in_region("uksouth")
    assert there.get(image_id) is None and there.find_by_name("web-1") == []
    image = home.get(image_id)
    azure.emu.fail_operations("GalleryImageVersions_Update", code="ReplicationFailed", message="no capacity in uksouth")
    azure.emu.hold_operations()

    copy = there.copy_from(image, {})
    during = there.get(image_id).state
    azure.emu.release_operations()
    failed = fast_waiter().until(
        fetch=lambda: there.get(image_id),
        ready=lambda current: current.state != PENDING,
        what="the replica in uksouth",
    )

    assert copy.id == image_id and copy.region == azure.emu.location and during == PENDING
    assert failed.state == FAILED and "uksouth" in failed.state_reason
    assert home.get(image_id).state == AVAILABLE
    assert there.enabled_regions() == home.enabled_regions() and "uksouth" in home.enabled_regions()


def test_throttled_and_unavailable_reads_and_updates_are_retried(azure):
    image_id = plant_version(azure, "web", "1.0.0", "web-1")
    images = backend(azure)
    azure.emu.inject_fault("GalleryImageVersions_Get", status=429, times=2, retry_after=0)
    azure.emu.inject_fault("GalleryImageVersions_Update", status=503, times=1, retry_after=0)

    images.set_tags(images.get(image_id), {"channel": "prod"}, [])

    assert images.get(image_id).tags == {"channel": "prod"}
    stored = azure.compute().gallery_image_versions.get(RESOURCE_GROUP, GALLERY, "web", "1.0.0").tags
    assert stored == {"channel": "prod", NAME_TAG: "web-1"}  # the name tag is kept by a tag change
    assert azure.emu.calls["GalleryImageVersions_Update"] == 2 and azure.emu.pending_faults == {}


def test_tags_leave_room_for_the_name_and_description_and_refuse_what_arm_refuses(azure):
    images = backend(azure)
    images.check_tags({"k%d" % number: "v" for number in range(48)}, "image 'web-1'")
    with pytest.raises(InvalidInput) as too_many:
        images.check_tags({"k%d" % number: "v" for number in range(49)}, "image 'web-1'")
    with pytest.raises(InvalidInput) as characters:
        images.check_tags({"team?": "web"}, "image 'web-1'")
    with pytest.raises(InvalidInput) as long_name:
        images.create("w" * 257, "builder", "", {}, no_reboot=False)

    assert "at most 50" in too_many.value.message and "team?" in characters.value.message
    assert "tag" in long_name.value.message
    assert azure.emu.calls["VirtualMachines_Get"] == 0


def test_the_retention_prunes_unused_versions_only_and_keeps_those_vms_scale_sets_and_their_instances_use(azure):
    made = {}
    for number in range(1, 7):
        made[number] = plant_version(
            azure, "web", "1.0.%d" % number, "web-%d" % number, tags={"phoenix:managed": "true"}
        )
        set_published(azure, made[number], 10 - number)
    # web-1: a VM runs it; web-2: a scale set's model launches it; web-3: an instance of a scale set whose model
    # moved on to web-6 (Manual upgrade: the instance keeps what it booted); web-4, web-5: nothing; web-6: the
    # newest (keep 1), and that scale set's model.
    make_vm(azure, "web-server-1", image_id=made[1])
    make_scale_set(azure, "web-vmss", made[2])
    make_scale_set(azure, "api-vmss", made[3], capacity=1)
    make_scale_set(azure, "api-vmss", made[6], capacity=1)
    images = backend(azure)
    request = PruneRequest(families=["web"], keep=1, action="delete", reap_builders=False)

    plan = RetentionWorkflow(images, check_mode=True, waiter=fast_waiter()).prune(request)
    outcome = RetentionWorkflow(images, waiter=fast_waiter()).prune(request)
    again = RetentionWorkflow(images, waiter=fast_waiter()).prune(request)

    assert sorted(image["id"] for image in plan.pruned) == [made[4], made[5]]
    assert sorted(image["id"] for image in outcome.pruned) == [made[4], made[5]] and outcome.changed
    kept = {image["id"]: " ".join(image["reasons"]) for image in outcome.kept}
    assert "virtual machine" in kept[made[1]] and "scale set" in kept[made[2]], kept
    assert "scale set instance" in kept[made[3]] and "api-vmss/virtualMachines/0" in kept[made[3]], kept
    assert made[6] in kept and again.changed is False
    versions = azure.compute().gallery_image_versions.list_by_gallery_image(RESOURCE_GROUP, GALLERY, "web")
    assert sorted(version.name for version in versions) == ["1.0.1", "1.0.2", "1.0.3", "1.0.6"]


def test_the_workflow_images_a_builder_into_a_named_family_and_reads_it_back_by_name(azure):
    vm = make_vm(azure, "builder-1")
    images = backend(azure)
    workflow = ImageWorkflow(images, fast_waiter())

    outcome = workflow.present(
        ImageRequest(name="web-2026-12-03-1", instance_id=vm, stop_instance=True, family="frontend")
    )

    image = outcome.image
    assert image["family"] == "frontend" and "/images/frontend/versions/" in image["id"]
    definition = azure.compute().gallery_images.get(RESOURCE_GROUP, GALLERY, "frontend")
    assert definition.os_state == "Generalized" and definition.identifier.offer == "frontend"
    assert definition.tags == {"phoenix:managed": "true"}
    [found] = images.find_by_name("web-2026-12-03-1")
    assert found.id == image["id"] and found.tags[images.codec.key(tagging.MANAGED)] == "true"


def test_copies_to_several_regions_in_parallel_each_add_their_region_and_none_is_lost(azure):
    azure.emu.operation_polls = 3
    vm = make_vm(azure, "builder-1")
    images = backend(azure)
    regions = ["westeurope", "uksouth", "japaneast"]

    outcome = ImageWorkflow(images, fast_waiter()).present(
        ImageRequest(name="web-2026-12-03-1", instance_id=vm, stop_instance=True, copy_to_regions=regions)
    )

    image_id = outcome.image["id"]
    assert [copy["id"] for copy in outcome.copies] == [image_id] * 3
    version = azure.compute().gallery_image_versions.get(
        RESOURCE_GROUP, GALLERY, "web", image_id.rsplit("/", 1)[1], expand="ReplicationStatus"
    )
    assert sorted(region.name for region in version.publishing_profile.target_regions) == sorted(
        [azure.emu.location, *regions]
    )
    assert {item.state for item in version.replication_status.summary} == {"Completed"}
    assert azure.emu.calls["GalleryImageVersions_Update"] == 3  # one region added at a time
    for region in regions:
        assert images.in_region(region).get(image_id).state == AVAILABLE
