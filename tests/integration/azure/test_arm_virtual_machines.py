"""The ARM emulator's virtual machines through azure-mgmt-compute: a builder VM's life, and an image made from it."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.mgmt.compute.models import (
    Gallery,
    GalleryArtifactVersionFullSource,
    GalleryImage,
    GalleryImageIdentifier,
    GalleryImageVersion,
    GalleryImageVersionStorageProfile,
    HardwareProfile,
    ImageReference,
    NetworkInterfaceReference,
    NetworkProfile,
    OSDisk,
    OSProfile,
    StorageProfile,
    VirtualMachine,
)

GROUP = "rg-build"


def power_state(compute, name: str) -> str:
    view = compute.virtual_machines.instance_view(GROUP, name)
    return next(status.code for status in view.statuses if status.code.startswith("PowerState/"))


def builder(location: str, nic_id: str, *, os_disk_delete: str | None = None, nic_delete: str | None = None):
    return VirtualMachine(
        location=location,
        tags={"phoenix:ttl": "2026-12-03T00:00:00Z"},
        hardware_profile=HardwareProfile(vm_size="Standard_B2s"),
        storage_profile=StorageProfile(
            image_reference=ImageReference(publisher="Debian", offer="debian-12", sku="12-gen2", version="latest"),
            os_disk=OSDisk(create_option="FromImage", delete_option=os_disk_delete) if os_disk_delete else None,
        ),
        os_profile=OSProfile(computer_name="builder", admin_username="phoenix", admin_password="Never-Returned-1"),
        network_profile=NetworkProfile(
            network_interfaces=[NetworkInterfaceReference(id=nic_id, primary=True, delete_option=nic_delete)]
        ),
    )


@pytest.fixture
def build_group(arm):
    arm.group(GROUP)
    return arm.compute()


def test_a_builder_vm_is_created_running_on_its_nic_with_an_os_disk(arm, build_group):
    nic = arm.network_interface(GROUP)

    arm.emu.hold_operations()  # the SDK's poller polls in a thread of its own from the start
    poller = build_group.virtual_machines.begin_create_or_update(GROUP, "builder", builder(arm.emu.location, nic))
    starting = power_state(build_group, "builder")
    arm.emu.release_operations()
    vm = poller.result()

    assert starting == "PowerState/starting"
    assert vm.provisioning_state == "Succeeded" and power_state(build_group, "builder") == "PowerState/running"
    assert vm.os_profile.admin_password is None  # ARM never returns it
    disk = build_group.disks.get(GROUP, vm.storage_profile.os_disk.name)
    assert disk.managed_by == vm.id and vm.storage_profile.os_disk.managed_disk.id == disk.id
    assert [item.name for item in build_group.virtual_machines.list(GROUP)] == ["builder"]
    expanded = build_group.virtual_machines.get(GROUP, "builder", expand="instanceView")
    assert expanded.instance_view.statuses[-1].code == "PowerState/running"


def test_a_vm_on_a_missing_nic_is_refused(arm, build_group):
    missing = arm.group_path(GROUP) + "/providers/Microsoft.Network/networkInterfaces/none"

    with pytest.raises(HttpResponseError) as refused:
        build_group.virtual_machines.begin_create_or_update(GROUP, "builder", builder(arm.emu.location, missing))

    assert refused.value.status_code == 400 and refused.value.error.code == "InvalidResourceReference"


def test_a_generalized_vm_becomes_an_image_version_and_never_starts_again(arm, build_group):
    arm.emu.operation_polls = 1
    compute, location = build_group, arm.emu.location
    vm = compute.virtual_machines.begin_create_or_update(
        GROUP, "builder", builder(location, arm.network_interface(GROUP))
    ).result()
    compute.galleries.begin_create_or_update(GROUP, "gallery", Gallery(location=location)).result()
    compute.gallery_images.begin_create_or_update(
        GROUP,
        "gallery",
        "web",
        GalleryImage(
            location=location,
            os_type="Linux",
            os_state="Generalized",
            identifier=GalleryImageIdentifier(publisher="phoenix", offer="web", sku="debian-12"),
        ),
    ).result()
    version = GalleryImageVersion(
        location=location,
        storage_profile=GalleryImageVersionStorageProfile(
            source=GalleryArtifactVersionFullSource(virtual_machine_id=vm.id)
        ),
    )

    with pytest.raises(ResourceExistsError) as running:
        compute.virtual_machines.generalize(GROUP, "builder")
    with pytest.raises(HttpResponseError) as not_generalized:
        compute.gallery_image_versions.begin_create_or_update(GROUP, "gallery", "web", "1.0.0", version)
    arm.emu.operation_polls = 3
    compute.virtual_machines.begin_deallocate(GROUP, "builder").result()
    deallocated = power_state(compute, "builder")
    compute.virtual_machines.generalize(GROUP, "builder")
    made = compute.gallery_image_versions.begin_create_or_update(GROUP, "gallery", "web", "1.0.0", version).result()
    with pytest.raises(ResourceExistsError) as start:
        compute.virtual_machines.begin_start(GROUP, "builder")

    assert running.value.status_code == 409 and running.value.error.code == "OperationNotAllowed"
    assert not_generalized.value.error.code == "InvalidParameter"
    assert deallocated == "PowerState/deallocated"
    codes = [status.code for status in compute.virtual_machines.instance_view(GROUP, "builder").statuses]
    assert "OSState/generalized" in codes
    assert made.storage_profile.source.virtual_machine_id == vm.id and made.provisioning_state == "Succeeded"
    assert "generalized" in start.value.error.message
    assert arm.emu.calls["VirtualMachines_Deallocate"] == 1 and arm.emu.calls["VirtualMachines_Generalize"] == 2


def test_deleting_a_vm_leaves_its_os_disk_unless_told_to_delete_it(arm, build_group):
    arm.emu.operation_polls = 1
    location, vms = arm.emu.location, build_group.virtual_machines
    kept = vms.begin_create_or_update(GROUP, "kept", builder(location, arm.network_interface(GROUP, "nic-1"))).result()
    gone = vms.begin_create_or_update(
        GROUP,
        "gone",
        builder(location, arm.network_interface(GROUP, "nic-2"), os_disk_delete="Delete", nic_delete="Delete"),
    ).result()

    vms.begin_delete(GROUP, "kept").result()
    vms.begin_delete(GROUP, "gone").result()

    with pytest.raises(ResourceNotFoundError):
        vms.get(GROUP, "kept")
    left = build_group.disks.get(GROUP, kept.storage_profile.os_disk.name)
    assert left.disk_state == "Unattached" and left.managed_by is None  # ARM's default deleteOption: Detach
    with pytest.raises(ResourceNotFoundError):
        build_group.disks.get(GROUP, gone.storage_profile.os_disk.name)
    assert arm.emu.get(gone.network_profile.network_interfaces[0].id) is None
    assert arm.emu.get(kept.network_profile.network_interfaces[0].id) is not None
