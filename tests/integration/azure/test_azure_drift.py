"""The drift guard on Azure through ansible-playbook: fleet_drift with ``cloud: azure`` on the ARM emulator.

A scale set the collection made (its record names service ``web``) whose instances are too old, and a VM of no
group carrying the same tags: the plan replaces the group's instances in batches, the run replaces each through
its scale set (a new instance id, the capacity kept) and leaves the stranger alone.
"""

from __future__ import annotations

import datetime

from azure_names import RESOURCE_GROUP
from emulators.arm_scaleset import scale_sets_of
from scaleset_support import gallery_images, scale_set

MODULE = "phoenix.immutable.fleet_drift"


def backdated(days):
    then = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=days)
    return then.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0+00:00"


def test_replace_deletes_old_instances_through_their_scale_set_and_leaves_a_stranger_alone(azure, playbook):
    compute, emulated = azure.compute(), scale_sets_of(azure.emu)
    (image,) = gallery_images(azure, RESOURCE_GROUP)
    tags = {
        "app": "web",
        "phoenix:rollout:service": "web",
        "phoenix:rollout:role": "blue",
        "phoenix:rollout:image": image,
    }
    made = compute.virtual_machine_scale_sets.begin_create_or_update(
        RESOURCE_GROUP, "web-a", scale_set(azure.emu.location, image, capacity=4, tags=tags)
    ).result()
    before = sorted(vm.id for vm in compute.virtual_machine_scale_set_vms.list(RESOURCE_GROUP, "web-a"))
    for vm_id in before:
        emulated.set_time_created(made.id, vm_id.rsplit("/", 1)[1], backdated(45))
    nic = azure.network_interface(RESOURCE_GROUP, "stranger-nic")
    stranger = compute.virtual_machines.begin_create_or_update(
        RESOURCE_GROUP,
        "stranger",
        {
            "location": azure.emu.location,
            "tags": {"app": "web"},
            "properties": {
                "hardwareProfile": {"vmSize": "Standard_B2s"},
                "storageProfile": {"imageReference": {"id": image}},
                "osProfile": {"computerName": "stranger", "adminUsername": "phoenix", "adminPassword": "Secret-1"},
                "networkProfile": {"networkInterfaces": [{"id": nic}]},
            },
        },
    ).result()
    with azure.emu.lock:
        azure.emu.get(stranger.id)["properties"]["timeCreated"] = backdated(45)
    task = {
        "name": "drift",
        MODULE: {
            "service": "web",
            "tags": {"app": "web"},
            "max_age_days": 30,
            "remediate": "replace",
            "max_unavailable": "2",
            "health_interval": 0.2,
        },
    }

    plan = playbook([task], check=True)
    assert plan.rc == 0, plan.explain()
    planned = plan.task("drift")["result"]
    assert [len(batch["instances"]) for batch in planned["batches"]] == [2, 2] and planned["replaced"] == []
    # The scan's listing of the scale set's instances is its membership: one listing, not one more for the group.
    listings = planned["api_calls"]["GET Microsoft.Compute/virtualMachineScaleSets/virtualMachines"]
    assert listings == 1, planned["api_calls"]

    run = playbook([task])

    assert run.rc == 0, run.explain()
    result = run.task("drift")["result"]
    assert result["changed"] is True and sorted(result["replaced"]) == before
    assert result["unmanaged"] == [stranger.id] and result["terminated_unmanaged"] == []
    after = sorted(vm.id for vm in compute.virtual_machine_scale_set_vms.list(RESOURCE_GROUP, "web-a"))
    # Each replaced by a new instance (new instance ids), the scale set's capacity kept.
    assert len(after) == 4 and not set(after) & set(before)
    assert compute.virtual_machine_scale_sets.get(RESOURCE_GROUP, "web-a").sku.capacity == 4
    assert azure.emu.get(stranger.id) is not None
    assert result["api_calls"]["POST Microsoft.Compute/virtualMachineScaleSets/delete"] == 4
