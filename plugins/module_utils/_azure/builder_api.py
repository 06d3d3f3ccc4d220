# Private to this collection.
"""One small function per ARM call a builder makes, on an AzureConnection: VMs, their disks, NICs, public
addresses, network security groups, virtual networks and subnets, all in the connection's resource group.

Reads answer ARM's JSON (``as_dict()`` of the SDK's model: wire names, ``properties`` nested) and consume
a list's pages inside the retried call. Mutations take such JSON and wait for their long-running operation
(``connection.wait``); a create sends ``If-None-Match: *`` so that a resource already there (made by an
earlier attempt whose answer was lost, or by someone else) is answered PreconditionFailed, never
overwritten. A DELETE of something already gone raises NotFound, as the connection maps it.
"""

from __future__ import annotations

from .connection import CREATE_ONLY, arm_json


def _id(connection, provider_type, name, resource_group=None):
    return connection.resource_id(provider_type, name, resource_group=resource_group)


def _listed(connection, operation, listing, *args, **kwargs):
    return [arm_json(item) for item in connection.listed(operation, listing(*args, **kwargs))]


# -- virtual machines ----------------------------------------------------------------------------------


def list_vms(connection):
    """The resource group's VMs with their instance views (power state) in one listing."""
    vms = connection.compute().virtual_machines
    return _listed(connection, "VirtualMachines_List", vms.list, connection.resource_group, expand="instanceView")


def get_vm(connection, resource_group, name):
    vms = connection.compute().virtual_machines
    return arm_json(
        connection.call(
            "VirtualMachines_Get",
            vms.get,
            resource_group,
            name,
            expand="instanceView",
            resource=_id(connection, "Microsoft.Compute/virtualMachines", name, resource_group),
        )
    )


def create_vm(connection, name, body):
    vms = connection.compute().virtual_machines
    return arm_json(
        connection.wait(
            "VirtualMachines_CreateOrUpdate",
            vms.begin_create_or_update,
            connection.resource_group,
            name,
            body,
            headers=CREATE_ONLY,
            resource=_id(connection, "Microsoft.Compute/virtualMachines", name),
        )
    )


def deallocate_vm(connection, resource_group, name):
    vms = connection.compute().virtual_machines
    connection.wait(
        "VirtualMachines_Deallocate",
        vms.begin_deallocate,
        resource_group,
        name,
        resource=_id(connection, "Microsoft.Compute/virtualMachines", name, resource_group),
    )


def delete_vm(connection, resource_group, name):
    vms = connection.compute().virtual_machines
    connection.wait(
        "VirtualMachines_Delete",
        vms.begin_delete,
        resource_group,
        name,
        resource=_id(connection, "Microsoft.Compute/virtualMachines", name, resource_group),
    )


# -- disks -----------------------------------------------------------------------------------------------


def list_disks(connection):
    disks = connection.compute().disks
    return _listed(connection, "Disks_ListByResourceGroup", disks.list_by_resource_group, connection.resource_group)


def tag_disk(connection, resource_group, name, tags):
    disks = connection.compute().disks
    connection.wait(
        "Disks_Update",
        disks.begin_update,
        resource_group,
        name,
        {"tags": tags},
        resource=_id(connection, "Microsoft.Compute/disks", name, resource_group),
    )


def delete_disk(connection, resource_group, name):
    disks = connection.compute().disks
    connection.wait(
        "Disks_Delete",
        disks.begin_delete,
        resource_group,
        name,
        resource=_id(connection, "Microsoft.Compute/disks", name, resource_group),
    )


# -- network interfaces and public addresses ---------------------------------------------------------


def list_nics(connection):
    nics = connection.network().network_interfaces
    return _listed(connection, "NetworkInterfaces_List", nics.list, connection.resource_group)


def get_nic(connection, resource_group, name):
    nics = connection.network().network_interfaces
    return arm_json(
        connection.call(
            "NetworkInterfaces_Get",
            nics.get,
            resource_group,
            name,
            resource=_id(connection, "Microsoft.Network/networkInterfaces", name, resource_group),
        )
    )


def create_nic(connection, name, body):
    nics = connection.network().network_interfaces
    return arm_json(
        connection.wait(
            "NetworkInterfaces_CreateOrUpdate",
            nics.begin_create_or_update,
            connection.resource_group,
            name,
            body,
            headers=CREATE_ONLY,
            resource=_id(connection, "Microsoft.Network/networkInterfaces", name),
        )
    )


def delete_nic(connection, resource_group, name):
    nics = connection.network().network_interfaces
    connection.wait(
        "NetworkInterfaces_Delete",
        nics.begin_delete,
        resource_group,
        name,
        resource=_id(connection, "Microsoft.Network/networkInterfaces", name, resource_group),
    )


def list_public_ips(connection):
    addresses = connection.network().public_ip_addresses
    return _listed(connection, "PublicIPAddresses_List", addresses.list, connection.resource_group)


def get_public_ip(connection, resource_group, name):
    addresses = connection.network().public_ip_addresses
    return arm_json(
        connection.call(
            "PublicIPAddresses_Get",
            addresses.get,
            resource_group,
            name,
            resource=_id(connection, "Microsoft.Network/publicIPAddresses", name, resource_group),
        )
    )


def create_public_ip(connection, name, body):
    addresses = connection.network().public_ip_addresses
    return arm_json(
        connection.wait(
            "PublicIPAddresses_CreateOrUpdate",
            addresses.begin_create_or_update,
            connection.resource_group,
            name,
            body,
            headers=CREATE_ONLY,
            resource=_id(connection, "Microsoft.Network/publicIPAddresses", name),
        )
    )


def delete_public_ip(connection, resource_group, name):
    addresses = connection.network().public_ip_addresses
    connection.wait(
        "PublicIPAddresses_Delete",
        addresses.begin_delete,
        resource_group,
        name,
        resource=_id(connection, "Microsoft.Network/publicIPAddresses", name, resource_group),
    )


# -- network security groups ---------------------------------------------------------------------------


def list_nsgs(connection):
    groups = connection.network().network_security_groups
    return _listed(connection, "NetworkSecurityGroups_List", groups.list, connection.resource_group)


def get_nsg(connection, resource_group, name):
    groups = connection.network().network_security_groups
    return arm_json(
        connection.call(
            "NetworkSecurityGroups_Get",
            groups.get,
            resource_group,
            name,
            resource=_id(connection, "Microsoft.Network/networkSecurityGroups", name, resource_group),
        )
    )


def create_nsg(connection, name, body):
    groups = connection.network().network_security_groups
    return arm_json(
        connection.wait(
            "NetworkSecurityGroups_CreateOrUpdate",
            groups.begin_create_or_update,
            connection.resource_group,
            name,
            body,
            headers=CREATE_ONLY,
            resource=_id(connection, "Microsoft.Network/networkSecurityGroups", name),
        )
    )


def delete_nsg(connection, resource_group, name):
    groups = connection.network().network_security_groups
    connection.wait(
        "NetworkSecurityGroups_Delete",
        groups.begin_delete,
        resource_group,
        name,
        resource=_id(connection, "Microsoft.Network/networkSecurityGroups", name, resource_group),
    )


# -- virtual networks ----------------------------------------------------------------------------------


def list_vnets(connection):
    networks = connection.network().virtual_networks
    return _listed(connection, "VirtualNetworks_List", networks.list, connection.resource_group)


def get_subnet(connection, resource_group, network, name):
    subnets = connection.network().subnets
    return arm_json(
        connection.call(
            "Subnets_Get",
            subnets.get,
            resource_group,
            network,
            name,
            resource=connection.resource_id(
                "Microsoft.Network/virtualNetworks/subnets", network, name, resource_group=resource_group
            ),
        )
    )
