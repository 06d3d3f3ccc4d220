"""The ARM emulator's gallery image versions through azure-mgmt-compute: made from a generalized VM, replicated
region by region, retired with endOfLifeDate and excludeFromLatest; and the subscription-wide lists.
"""

from __future__ import annotations

import datetime

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError
from azure.core.rest import HttpRequest
from azure.mgmt.compute.models import (
    Gallery,
    GalleryArtifactVersionFullSource,
    GalleryImage,
    GalleryImageIdentifier,
    GalleryImageVersion,
    GalleryImageVersionPublishingProfile,
    GalleryImageVersionSafetyProfile,
    GalleryImageVersionStorageProfile,
    GalleryImageVersionUpdate,
    HardwareProfile,
    ImageReference,
    NetworkInterfaceReference,
    NetworkProfile,
    OSProfile,
    StorageProfile,
    TargetRegion,
    VirtualMachine,
)

GROUP = "rg-gallery"
GALLERY = "phoenix_gallery"
IMAGE = "web"


def vm_body(location: str, nic_id: str, image: ImageReference) -> VirtualMachine:
    return VirtualMachine(
        location=location,
        hardware_profile=HardwareProfile(vm_size="Standard_B2s"),
        storage_profile=StorageProfile(image_reference=image),
        os_profile=OSProfile(computer_name="vm", admin_username="phoenix"),
        network_profile=NetworkProfile(network_interfaces=[NetworkInterfaceReference(id=nic_id, primary=True)]),
    )


def replication(compute, version: str) -> dict[str, str]:
    found = compute.gallery_image_versions.get(GROUP, GALLERY, IMAGE, version, expand="ReplicationStatus")
    status = found.replication_status
    return {"*": status.aggregated_state, **{item.region: item.state for item in status.summary}}


def update_regions(*regions: tuple[str, int], **publishing) -> GalleryImageVersionUpdate:
    return GalleryImageVersionUpdate(
        publishing_profile=GalleryImageVersionPublishingProfile(
            target_regions=[TargetRegion(name=name, regional_replica_count=count) for name, count in regions],
            **publishing,
        )
    )


@pytest.fixture
def gallery(arm):
    """A gallery with a Generalized definition and a generalized builder VM, made at once; ``compute`` and the VM."""
    arm.group(GROUP)
    arm.emu.operation_polls = 1
    compute, location = arm.compute(), arm.emu.location
    compute.galleries.begin_create_or_update(GROUP, GALLERY, Gallery(location=location)).result()
    definition = GalleryImage(
        location=location,
        os_type="Linux",
        os_state="Generalized",
        identifier=GalleryImageIdentifier(publisher="phoenix", offer="web", sku="debian-12"),
    )
    compute.gallery_images.begin_create_or_update(GROUP, GALLERY, IMAGE, definition).result()
    marketplace = ImageReference(publisher="Debian", offer="debian-12", sku="12-gen2", version="latest")
    builder = compute.virtual_machines.begin_create_or_update(
        GROUP, "builder", vm_body(location, arm.network_interface(GROUP), marketplace)
    ).result()
    compute.virtual_machines.begin_deallocate(GROUP, "builder").result()
    compute.virtual_machines.generalize(GROUP, "builder")
    arm.emu.operation_polls = 3
    arm.emu.reset_calls()
    return compute, builder.id


def from_vm(location: str, vm_id: str, *regions: tuple[str, int], **publishing) -> GalleryImageVersion:
    return GalleryImageVersion(
        location=location,
        tags={"phoenix:image-name": "web-2026-12-03-1"},
        publishing_profile=GalleryImageVersionPublishingProfile(
            target_regions=[TargetRegion(name=name, regional_replica_count=count) for name, count in regions] or None,
            **publishing,
        ),
        storage_profile=GalleryImageVersionStorageProfile(
            source=GalleryArtifactVersionFullSource(virtual_machine_id=vm_id)
        ),
    )


def test_a_version_from_a_generalized_vm_replicates_to_each_target_region_with_its_replica_count(arm, gallery):
    compute, vm_id = gallery
    location = arm.emu.location
    body = from_vm(location, vm_id, (location, 2), ("westeurope", 1))

    arm.emu.hold_operations()
    poller = compute.gallery_image_versions.begin_create_or_update(GROUP, GALLERY, IMAGE, "2026.1203.3600", body)
    during = replication(compute, "2026.1203.3600")
    arm.emu.release_operations()
    made = poller.result()

    assert during == {"*": "InProgress", location: "Replicating", "westeurope": "Replicating"}
    assert replication(compute, "2026.1203.3600") == {
        "*": "Completed",
        location: "Completed",
        "westeurope": "Completed",
    }
    assert made.storage_profile.source.virtual_machine_id == vm_id
    counts = {region.name: region.regional_replica_count for region in made.publishing_profile.target_regions}
    assert counts == {location: 2, "westeurope": 1}
    assert made.publishing_profile.published_date is not None
    assert made.tags == {"phoenix:image-name": "web-2026-12-03-1"}
    # A version without target regions is replicated to its own location, once.
    single = compute.gallery_image_versions.begin_create_or_update(
        GROUP, GALLERY, IMAGE, "2026.1203.3601", from_vm(location, vm_id)
    ).result()
    assert [(region.name, region.regional_replica_count) for region in single.publishing_profile.target_regions] == [
        (location, 1)
    ]


def test_a_region_added_later_replicates_while_the_others_serve_and_a_failed_one_stays_failed(arm, gallery):
    compute, vm_id = gallery
    location, versions = arm.emu.location, compute.gallery_image_versions
    versions.begin_create_or_update(GROUP, GALLERY, IMAGE, "1.0.0", from_vm(location, vm_id)).result()

    arm.emu.hold_operations()
    poller = versions.begin_update(GROUP, GALLERY, IMAGE, "1.0.0", update_regions((location, 1), ("westus2", 2)))
    during = replication(compute, "1.0.0")
    updating = versions.get(GROUP, GALLERY, IMAGE, "1.0.0").provisioning_state
    arm.emu.release_operations()
    poller.result()
    arm.emu.fail_operations("GalleryImageVersions_Update", code="ReplicationFailed", message="no capacity in uksouth")
    with pytest.raises(HttpResponseError) as failed:
        versions.begin_update(
            GROUP, GALLERY, IMAGE, "1.0.0", update_regions((location, 1), ("westus2", 2), ("uksouth", 1))
        ).result()

    assert during == {"*": "InProgress", location: "Completed", "westus2": "Replicating"} and updating == "Updating"
    assert failed.value.error.code == "ReplicationFailed"
    assert replication(compute, "1.0.0") == {
        "*": "Failed",
        location: "Completed",
        "westus2": "Completed",
        "uksouth": "Failed",
    }
    assert versions.get(GROUP, GALLERY, IMAGE, "1.0.0").provisioning_state == "Failed"
    assert arm.emu.calls["GalleryImageVersions_Update"] == 2


def test_an_unknown_region_and_removing_a_replicated_region_are_refused_unless_allowed(arm, gallery):
    compute, vm_id = gallery
    location, versions = arm.emu.location, compute.gallery_image_versions
    arm.emu.operation_polls = 1
    with pytest.raises(HttpResponseError) as unknown:
        versions.begin_create_or_update(
            GROUP, GALLERY, IMAGE, "1.0.0", from_vm(location, vm_id, (location, 1), ("mars", 1))
        )
    versions.begin_create_or_update(
        GROUP, GALLERY, IMAGE, "1.0.0", from_vm(location, vm_id, (location, 1), ("westeurope", 1))
    ).result()

    with pytest.raises(ResourceExistsError) as removal:
        versions.begin_update(GROUP, GALLERY, IMAGE, "1.0.0", update_regions((location, 1)))
    allowed = GalleryImageVersionUpdate(
        publishing_profile=GalleryImageVersionPublishingProfile(target_regions=[TargetRegion(name=location)]),
        safety_profile=GalleryImageVersionSafetyProfile(allow_deletion_of_replicated_locations=True),
    )
    shrunk = versions.begin_update(GROUP, GALLERY, IMAGE, "1.0.0", allowed).result()

    assert unknown.value.status_code == 400 and unknown.value.error.code == "InvalidParameter"
    assert "mars" in unknown.value.error.message
    assert removal.value.error.code == "OperationNotAllowed" and "westeurope" in removal.value.error.message
    assert [region.name for region in shrunk.publishing_profile.target_regions] == [location]
    assert replication(compute, "1.0.0") == {"*": "Completed", location: "Completed"}


def test_end_of_life_and_exclude_from_latest_retire_a_version_from_what_the_definition_resolves_to(arm, gallery):
    compute, vm_id = gallery
    location, versions = arm.emu.location, compute.gallery_image_versions
    arm.emu.operation_polls = 1
    for name in ("1.0.0", "1.0.1"):
        versions.begin_create_or_update(GROUP, GALLERY, IMAGE, name, from_vm(location, vm_id)).result()
    definition_id = compute.gallery_images.get(GROUP, GALLERY, IMAGE).id
    end_of_life = datetime.datetime(2027, 6, 30, tzinfo=datetime.UTC)

    retired = versions.begin_update(
        GROUP,
        GALLERY,
        IMAGE,
        "1.0.1",
        GalleryImageVersionUpdate(
            publishing_profile=GalleryImageVersionPublishingProfile(
                end_of_life_date=end_of_life, exclude_from_latest=True
            )
        ),
    ).result()
    with pytest.raises(HttpResponseError) as not_a_date:
        versions.begin_update(
            GROUP,
            GALLERY,
            IMAGE,
            "1.0.0",
            {"properties": {"publishingProfile": {"endOfLifeDate": "next summer"}}},
        )

    assert retired.publishing_profile.end_of_life_date == end_of_life
    assert retired.publishing_profile.exclude_from_latest is True
    assert arm.emu.latest_version(definition_id)["name"] == "1.0.0"
    assert not_a_date.value.error.code == "InvalidParameter"
    # Cancelling it: excludeFromLatest false, the date removed (merge-patch null).
    restored = versions.begin_update(
        GROUP,
        GALLERY,
        IMAGE,
        "1.0.1",
        {"properties": {"publishingProfile": {"endOfLifeDate": None, "excludeFromLatest": False}}},
    ).result()
    assert (
        restored.publishing_profile.end_of_life_date is None
        and restored.publishing_profile.exclude_from_latest is False
    )
    assert arm.emu.latest_version(definition_id)["name"] == "1.0.1"


def test_every_vm_of_the_subscription_is_listed_across_groups_with_next_links(arm, gallery):
    compute, vm_id = gallery
    location = arm.emu.location
    arm.emu.operation_polls = 1
    version = compute.gallery_image_versions.begin_create_or_update(
        GROUP, GALLERY, IMAGE, "1.0.0", from_vm(location, vm_id)
    ).result()
    arm.group("rg-apps")
    for number in range(3):
        compute.virtual_machines.begin_create_or_update(
            "rg-apps",
            "app-%d" % number,
            vm_body(location, arm.network_interface("rg-apps", "nic-%d" % number), ImageReference(id=version.id)),
        ).result()
    arm.emu.page_size = 2
    arm.emu.reset_calls()

    listed = list(compute.virtual_machines.list_all())

    assert sorted(vm.name for vm in listed) == ["app-0", "app-1", "app-2", "builder"]
    users = [vm.name for vm in listed if (vm.storage_profile.image_reference.id or "").lower() == version.id.lower()]
    assert sorted(users) == ["app-0", "app-1", "app-2"]
    assert arm.emu.calls["VirtualMachines_ListAll"] == 2


def test_the_subscription_lists_the_regions_a_version_may_be_replicated_to(arm, gallery):
    compute, unused_vm = gallery
    request = HttpRequest("GET", "/subscriptions/%s/locations?api-version=2022-12-01" % arm.emu.subscription_id)

    answer = compute.send_request(request)
    answer.raise_for_status()

    names = [item["name"] for item in answer.json()["value"]]
    assert arm.emu.location in names and "westeurope" in names and "mars" not in names
    assert arm.emu.calls["Subscriptions_ListLocations"] == 1
