"""What the load balancer tests share: azure-mgmt-network on the ARM emulator, a Standard load balancer as a user
makes it, and pool members planted the way a scale set or a NIC names a pool (the emulator's members register
themselves by naming it)."""

from __future__ import annotations

from typing import Any

from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.network.models import (
    BackendAddressPool,
    FrontendIPConfiguration,
    LoadBalancer,
    LoadBalancerSku,
    LoadBalancingRule,
    Probe,
    SubResource,
)

SCALE_SET_TYPE = "Microsoft.Compute/virtualMachineScaleSets"
SCALE_SET_VM_TYPE = "Microsoft.Compute/virtualMachineScaleSets/virtualMachines"


def network_client(arm: Any, **options: Any) -> NetworkManagementClient:
    """azure-mgmt-network's client on the emulator, as the `arm` fixture builds the compute one."""
    settings: dict[str, Any] = {
        "base_url": arm.emu.endpoint_url,
        "credential_scopes": [arm.emu.credential_scope],
        "connection_verify": arm.emu.ca_bundle,
        "retry_total": 0,
        "polling_interval": 0,
    }
    settings.update(options)
    return NetworkManagementClient(arm.credential(), arm.emu.subscription_id, **settings)


def lb_path(arm: Any, group: str, name: str) -> str:
    return arm.group_path(group) + "/providers/Microsoft.Network/loadBalancers/" + name


def subnet_id(arm: Any, group: str) -> str:
    return arm.group_path(group) + "/providers/Microsoft.Network/virtualNetworks/vnet/subnets/default"


def load_balancer(
    arm: Any, group: str, name: str = "web-lb", pools: tuple[str, ...] = ("web-pool",), rule_pools: Any = None
) -> LoadBalancer:
    """A Standard load balancer: one frontend, ``pools``, an HTTP probe and a rule to ``rule_pools`` (default: the
    first pool, as ``backendAddressPool``; a list: as ``backendAddressPools``)."""
    path = lb_path(arm, group, name)
    rule: dict[str, Any] = {
        "name": "http",
        "frontend_ip_configuration": SubResource(id=path + "/frontendIPConfigurations/front"),
        "probe": SubResource(id=path + "/probes/healthz"),
        "protocol": "Tcp",
        "frontend_port": 80,
        "backend_port": 8080,
    }
    if rule_pools is None:
        rule["backend_address_pool"] = SubResource(id=path + "/backendAddressPools/" + pools[0])
    else:
        rule["backend_address_pools"] = [SubResource(id=path + "/backendAddressPools/" + pool) for pool in rule_pools]
    return LoadBalancer(
        location=arm.emu.location,
        sku=LoadBalancerSku(name="Standard", tier="Regional"),
        frontend_ip_configurations=[FrontendIPConfiguration(name="front", subnet={"id": subnet_id(arm, group)})],
        backend_address_pools=[BackendAddressPool(name=pool) for pool in pools],
        probes=[Probe(name="healthz", protocol="Http", port=8080, request_path="/healthz")],
        load_balancing_rules=[LoadBalancingRule(**rule)],
    )


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
