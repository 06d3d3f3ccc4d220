"""The ARM emulator's virtual machine scale sets through azure-mgmt-compute: create, scale, replace, list, delete."""

from __future__ import annotations

import pytest
from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.compute.models import (
    ImageReference,
    Sku,
    VirtualMachineScaleSetStorageProfile,
    VirtualMachineScaleSetUpdate,
    VirtualMachineScaleSetUpdateVMProfile,
    VirtualMachineScaleSetVMInstanceIDs,
    VirtualMachineScaleSetVMInstanceRequiredIDs,
)
from emulators.arm_scaleset import members_of_pool, scale_sets_of
from scaleset_support import gallery_images, pool_id, scale_set, subnet_id

GROUP = "rg-web"


@pytest.fixture
def web(arm):
    """A resource group with image versions 1.0.0 and 1.0.1; (compute client, [version ids])."""
    arm.group(GROUP)
    return arm.compute(), gallery_images(arm, GROUP, ("1.0.0", "1.0.1"))


def instances(compute, name: str) -> list:
    return list(compute.virtual_machine_scale_set_vms.list(GROUP, name, expand="instanceView"))


def health(instance) -> str:
    return instance.instance_view.vm_health.status.code


def test_a_scale_set_is_made_by_an_operation_its_instances_boot_the_image_and_join_the_pool(arm, web):
    compute, (image, _newer) = web
    pool = pool_id(arm, GROUP)
    body = scale_set(arm.emu.location, image, capacity=2, pools=(pool,), subnet=subnet_id(arm, GROUP), tags={"a": "b"})

    arm.emu.hold_operations()
    poller = compute.virtual_machine_scale_sets.begin_create_or_update(GROUP, "web-a", body)
    while_made = (compute.virtual_machine_scale_sets.get(GROUP, "web-a"), instances(compute, "web-a"))
    arm.emu.release_operations()
    made = poller.result()

    assert while_made[0].provisioning_state == "Creating"
    assert [item.provisioning_state for item in while_made[1]] == ["Creating", "Creating"]
    assert {health(item) for item in while_made[1]} == {"HealthState/unknown"}
    assert made.provisioning_state == "Succeeded" and made.sku.capacity == 2 and made.tags == {"a": "b"}
    assert made.virtual_machine_profile.os_profile.admin_password is None  # ARM never returns it
    assert made.unique_id and made.upgrade_policy.mode == "Manual"
    listed = instances(compute, "web-a")
    assert [item.instance_id for item in listed] == ["0", "1"]
    assert [item.name for item in listed] == ["web-a_0", "web-a_1"]
    assert [item.os_profile.computer_name for item in listed] == ["web000000", "web000001"]
    assert {item.storage_profile.image_reference.id for item in listed} == {image}
    assert all(item.latest_model_applied and item.provisioning_state == "Succeeded" for item in listed)
    assert {health(item) for item in listed} == {"HealthState/healthy"}
    one = compute.virtual_machine_scale_set_vms.get(GROUP, "web-a", "1", expand="instanceView")
    assert one.id == made.id + "/virtualMachines/1" and one.tags == {"a": "b"}
    assert [status.code for status in one.instance_view.statuses] == [
        "ProvisioningState/succeeded",
        "PowerState/running",
    ]
    members = members_of_pool(arm.emu, pool.upper())  # ids are case-insensitive
    assert [member["instance_id"] for member in members] == ["0", "1"]
    assert (
        members[0]["ip_configuration"] == made.id + "/virtualMachines/0/networkInterfaces/nic/ipConfigurations/ipconfig"
    )
    assert scale_sets_of(arm.emu).scale_sets_using_pool(pool) == [made.id]
    assert arm.emu.calls["AsyncOperations_Get"] >= arm.emu.operation_polls


def test_if_none_match_star_on_an_existing_scale_set_answers_412(arm, web):
    compute, (image, _newer) = web
    body = scale_set(arm.emu.location, image)
    compute.virtual_machine_scale_sets.begin_create_or_update(
        GROUP, "web-a", body, headers={"If-None-Match": "*"}
    ).result()

    with pytest.raises(HttpResponseError) as exists:
        compute.virtual_machine_scale_sets.begin_create_or_update(GROUP, "web-a", body, headers={"If-None-Match": "*"})

    assert exists.value.status_code == 412 and exists.value.error.code == "PreconditionFailed"
    assert arm.emu.calls["VirtualMachineScaleSets_CreateOrUpdate"] == 2


def test_the_etag_changes_with_each_change_and_if_match_on_a_stale_one_answers_412(arm, web):
    compute, (image, _newer) = web
    scale_sets = compute.virtual_machine_scale_sets
    made = scale_sets.begin_create_or_update(GROUP, "web-a", scale_set(arm.emu.location, image, capacity=2)).result()
    tagged = scale_sets.begin_update(
        GROUP, "web-a", {"tags": {"a": "1"}}, etag=made.etag, match_condition=MatchConditions.IfNotModified
    ).result()
    scale_sets.begin_delete_instances(
        GROUP, "web-a", VirtualMachineScaleSetVMInstanceRequiredIDs(instance_ids=["0"])
    ).result()
    shrunk = scale_sets.get(GROUP, "web-a")

    with pytest.raises(HttpResponseError) as stale:
        scale_sets.begin_update(
            GROUP, "web-a", {"tags": {"b": "2"}}, etag=tagged.etag, match_condition=MatchConditions.IfNotModified
        )

    assert len({made.etag, tagged.etag, shrunk.etag}) == 3 and made.etag == '"1"'
    assert stale.value.status_code == 412 and stale.value.error.code == "PreconditionFailed"
    assert scale_sets.get(GROUP, "web-a").tags == {"a": "1"}


def test_a_capacity_change_adds_new_instance_ids_and_removes_the_highest(arm, web):
    compute, (image, _newer) = web
    scale_sets = compute.virtual_machine_scale_sets
    scale_sets.begin_create_or_update(GROUP, "web-a", scale_set(arm.emu.location, image, capacity=2)).result()

    grown = scale_sets.begin_update(GROUP, "web-a", VirtualMachineScaleSetUpdate(sku=Sku(capacity=4))).result()
    after_growth = [item.instance_id for item in instances(compute, "web-a")]
    arm.emu.hold_operations()
    poller = scale_sets.begin_create_or_update(GROUP, "web-a", scale_set(arm.emu.location, image, capacity=1))
    while_shrinking = {item.instance_id: item.provisioning_state for item in instances(compute, "web-a")}
    arm.emu.release_operations()
    shrunk = poller.result()

    assert grown.sku.capacity == 4 and after_growth == ["0", "1", "2", "3"]
    assert while_shrinking == {"0": "Succeeded", "1": "Deleting", "2": "Deleting", "3": "Deleting"}
    assert shrunk.sku.capacity == 1 and [item.instance_id for item in instances(compute, "web-a")] == ["0"]
    again = scale_sets.begin_update(GROUP, "web-a", VirtualMachineScaleSetUpdate(sku=Sku(capacity=2))).result()
    assert again.sku.capacity == 2 and [item.instance_id for item in instances(compute, "web-a")] == ["0", "4"]


def test_deleting_instances_lowers_the_capacity_and_a_scale_out_replaces_them_under_new_ids(arm, web):
    compute, (image, _newer) = web
    scale_sets = compute.virtual_machine_scale_sets
    scale_sets.begin_create_or_update(GROUP, "web-a", scale_set(arm.emu.location, image, capacity=3)).result()

    scale_sets.begin_delete_instances(
        GROUP, "web-a", VirtualMachineScaleSetVMInstanceRequiredIDs(instance_ids=["1"])
    ).result()
    after_delete = scale_sets.get(GROUP, "web-a").sku.capacity
    compute.virtual_machine_scale_set_vms.begin_delete(GROUP, "web-a", "0").result()
    with pytest.raises(HttpResponseError) as unknown:
        scale_sets.begin_delete_instances(
            GROUP, "web-a", VirtualMachineScaleSetVMInstanceRequiredIDs(instance_ids=["9"])
        )
    scale_sets.begin_update(GROUP, "web-a", VirtualMachineScaleSetUpdate(sku=Sku(capacity=3))).result()

    assert after_delete == 2
    assert unknown.value.status_code == 400 and unknown.value.error.code == "InvalidParameter"
    assert [item.instance_id for item in instances(compute, "web-a")] == ["2", "3", "4"]
    with pytest.raises(ResourceNotFoundError):
        compute.virtual_machine_scale_set_vms.get(GROUP, "web-a", "1")
    assert arm.emu.calls["VirtualMachineScaleSets_DeleteInstances"] == 2
    assert arm.emu.calls["VirtualMachineScaleSetVMs_Delete"] == 1


def test_a_new_model_reaches_new_instances_and_upgraded_ones_and_a_bad_image_fails_their_probe(arm, web):
    compute, (image, newer) = web
    scale_sets, emulated = compute.virtual_machine_scale_sets, scale_sets_of(arm.emu)
    made = scale_sets.begin_create_or_update(GROUP, "web-a", scale_set(arm.emu.location, image, capacity=1)).result()
    emulated.set_image_health(newer, "unhealthy")
    model = VirtualMachineScaleSetUpdateVMProfile(
        storage_profile=VirtualMachineScaleSetStorageProfile(image_reference=ImageReference(id=newer))
    )

    scale_sets.begin_update(
        GROUP, "web-a", VirtualMachineScaleSetUpdate(sku=Sku(capacity=2), virtual_machine_profile=model)
    ).result()
    old, new = instances(compute, "web-a")
    scale_sets.begin_update_instances(
        GROUP, "web-a", VirtualMachineScaleSetVMInstanceRequiredIDs(instance_ids=["0"])
    ).result()
    upgraded = compute.virtual_machine_scale_set_vms.get(GROUP, "web-a", "0", expand="instanceView")
    emulated.set_image_health(newer, None)
    emulated.set_instance_health(made.id, "1", "unhealthy")

    assert (old.storage_profile.image_reference.id, old.latest_model_applied, health(old)) == (
        image,
        False,
        "HealthState/healthy",
    )
    assert (new.storage_profile.image_reference.id, new.latest_model_applied, health(new)) == (
        newer,
        True,
        "HealthState/unhealthy",
    )
    assert upgraded.storage_profile.image_reference.id == newer and upgraded.latest_model_applied
    assert health(upgraded) == "HealthState/unhealthy"
    assert [health(item) for item in instances(compute, "web-a")] == ["HealthState/healthy", "HealthState/unhealthy"]


def test_an_image_definition_boots_its_latest_version_recorded_as_exact_version(arm, web):
    compute, (image, newer) = web
    definition = image.rsplit("/versions/", 1)[0]

    compute.virtual_machine_scale_sets.begin_create_or_update(
        GROUP, "web-a", scale_set(arm.emu.location, definition, capacity=1)
    ).result()

    reference = instances(compute, "web-a")[0].storage_profile.image_reference
    assert reference.id == definition and reference.exact_version == newer.rsplit("/", 1)[1]


def test_scale_sets_and_their_instances_are_listed_in_pages(arm, web):
    compute, (image, _newer) = web
    arm.group("rg-other")
    pollers = [
        compute.virtual_machine_scale_sets.begin_create_or_update(
            GROUP, name, scale_set(arm.emu.location, image, capacity=5 if name == "web-a" else 0)
        )
        for name in ("web-a", "web-b", "web-c")
    ]
    pollers.append(
        compute.virtual_machine_scale_sets.begin_create_or_update(
            "rg-other", "api-a", scale_set(arm.emu.location, image, prefix="api")
        )
    )
    arm.emu.settle()
    for poller in pollers:
        poller.result()  # no poll of these arrives while the lists are counted
    arm.emu.page_size = 2

    with arm.emu.counting() as calls:
        by_group = [item.name for item in compute.virtual_machine_scale_sets.list(GROUP)]
        everywhere = sorted(item.name for item in compute.virtual_machine_scale_sets.list_all())
        members = [item.instance_id for item in compute.virtual_machine_scale_set_vms.list(GROUP, "web-a")]

    assert by_group == ["web-a", "web-b", "web-c"] and everywhere == ["api-a", "web-a", "web-b", "web-c"]
    assert members == ["0", "1", "2", "3", "4"]
    assert calls["VirtualMachineScaleSets_List"] == 2 and calls["VirtualMachineScaleSets_ListAll"] == 2
    assert calls["VirtualMachineScaleSetVMs_List"] == 3


def test_deleting_a_scale_set_is_an_operation_that_takes_its_instances(arm, web):
    compute, (image, _newer) = web
    pool = pool_id(arm, GROUP)
    scale_sets = compute.virtual_machine_scale_sets
    scale_sets.begin_create_or_update(
        GROUP, "web-a", scale_set(arm.emu.location, image, capacity=2, pools=(pool,))
    ).result()

    arm.emu.hold_operations()
    poller = scale_sets.begin_delete(GROUP, "web-a")
    while_deleting = (scale_sets.get(GROUP, "web-a").provisioning_state, instances(compute, "web-a"))
    arm.emu.release_operations()
    poller.result()

    assert while_deleting[0] == "Deleting"
    assert {item.provisioning_state for item in while_deleting[1]} == {"Deleting"}
    with pytest.raises(ResourceNotFoundError):
        scale_sets.get(GROUP, "web-a")
    with pytest.raises(ResourceNotFoundError):
        list(compute.virtual_machine_scale_set_vms.list(GROUP, "web-a"))
    assert members_of_pool(arm.emu, pool) == [] and scale_sets_of(arm.emu).scale_sets_using_pool(pool) == []


def test_a_failed_creation_leaves_the_scale_set_and_its_instances_failed(arm, web):
    compute, (image, _newer) = web
    arm.emu.fail_operations("VirtualMachineScaleSets_CreateOrUpdate", code="AllocationFailed")

    with pytest.raises(HttpResponseError) as failed:
        compute.virtual_machine_scale_sets.begin_create_or_update(
            GROUP, "web-a", scale_set(arm.emu.location, image, capacity=2)
        ).result()

    assert failed.value.error.code == "AllocationFailed"
    assert compute.virtual_machine_scale_sets.get(GROUP, "web-a").provisioning_state == "Failed"
    assert {item.provisioning_state for item in instances(compute, "web-a")} == {"Failed"}


def test_a_scale_set_without_its_image_or_sku_is_refused(arm, web):
    compute, (image, _newer) = web
    missing = image.rsplit("/", 1)[0] + "/9.9.9"
    body = scale_set(arm.emu.location, image)
    body.sku = None

    with pytest.raises(HttpResponseError) as no_image:
        compute.virtual_machine_scale_sets.begin_create_or_update(GROUP, "web-a", scale_set(arm.emu.location, missing))
    with pytest.raises(HttpResponseError) as no_sku:
        compute.virtual_machine_scale_sets.begin_create_or_update(GROUP, "web-a", body)
    with pytest.raises(HttpResponseError) as bad_ids:
        compute.virtual_machine_scale_sets.begin_update_instances(
            GROUP, "web-a", VirtualMachineScaleSetVMInstanceIDs(instance_ids=["0"])
        )

    assert no_image.value.status_code == 404 and no_image.value.error.code == "GalleryImageNotFound"
    assert no_sku.value.status_code == 400 and no_sku.value.error.target == "sku.name"
    assert bad_ids.value.status_code == 404
