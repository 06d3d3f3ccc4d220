"""What the load balancer tests share: azure-mgmt-network on the ARM emulator, a Standard load balancer as a user
makes it, and pool members planted the way a scale set or a NIC names a pool (the emulator's members register
themselves by naming it). The load balancer and the network client are emulators.arm_seed's."""

from __future__ import annotations

from typing import Any

from emulators.arm_seed import frontend_subnet_id, lb_path, load_balancer, network_client

SCALE_SET_TYPE = "Microsoft.Compute/virtualMachineScaleSets"
SCALE_SET_VM_TYPE = "Microsoft.Compute/virtualMachineScaleSets/virtualMachines"
# The frontend's subnet of `load_balancer`.
subnet_id = frontend_subnet_id

__all__ = [
    "lb_path",
    "load_balancer",
    "network_client",
    "network_profile",
    "plant_instance",
    "plant_nic",
    "plant_scale_set",
    "subnet_id",
]


def network_profile(pools: list[str]) -> dict[str, Any]:
    """A scale set model's network profile whose primary IP configuration names ``pools``."""
    return {
        "networkInterfaceConfigurations": [
            {
                "name": "nic",
                "properties": {
                    "primary": True,
                    "ipConfigurations": [
                        {
                            "name": "ipconfig",
                            "properties": {
                                "primary": True,
                                "loadBalancerBackendAddressPools": [{"id": pool} for pool in pools],
                            },
                        }
                    ],
                },
            }
        ]
    }


def plant_scale_set(arm: Any, group: str, name: str, pools: list[str], instances: int = 2) -> str:
    """A scale set naming ``pools`` in its model, with ``instances`` instances built from it (planted: the scale set
    emulator is another file's); returns its id."""
    scale_set_id = arm.group_path(group) + "/providers/Microsoft.Compute/virtualMachineScaleSets/" + name
    arm.emu.put_resource(
        scale_set_id,
        SCALE_SET_TYPE,
        properties={"virtualMachineProfile": {"networkProfile": network_profile(pools)}},
    )
    for number in range(instances):
        plant_instance(arm, scale_set_id, str(number))
    return scale_set_id


def plant_instance(arm: Any, scale_set_id: str, instance_id: str, built_with: Any = None) -> str:
    """An instance of a planted scale set; ``built_with`` is the network profile it was built with (None: the
    scale set's model as it is now)."""
    properties: dict[str, Any] = {"latestModelApplied": built_with is None}
    if built_with is not None:
        properties["networkProfileConfiguration"] = built_with
    resource_id = scale_set_id + "/virtualMachines/" + instance_id
    arm.emu.put_resource(resource_id, SCALE_SET_VM_TYPE, properties=properties)
    return resource_id


def plant_nic(arm: Any, group: str, name: str, pools: list[str]) -> str:
    """A NIC whose IP configuration names ``pools``; returns its id."""
    nic_id = arm.group_path(group) + "/providers/Microsoft.Network/networkInterfaces/" + name
    arm.emu.put_resource(
        nic_id,
        "Microsoft.Network/networkInterfaces",
        properties={
            "ipConfigurations": [
                {
                    "name": "ipconfig1",
                    "id": nic_id + "/ipConfigurations/ipconfig1",
                    "properties": {"loadBalancerBackendAddressPools": [{"id": pool} for pool in pools]},
                }
            ]
        },
    )
    return nic_id
