"""The ARM emulator's public IP addresses and network interfaces (the rest of the network: `emulators.arm_network`).

A `Microsoft.Network/publicIPAddresses` gets an address of TEST-NET-3 (203.0.113.0/24, never routed) when it
is made; a `networkInterfaces` has ``ipConfigurations`` on subnets, each given a private address of its
subnet's range (Azure keeps back the first four and the last), optionally holding one public address (which
no other configuration may hold), and a security group. A NIC attached to a VM cannot be deleted (NicInUse)
until the VM's deletion is done; a public address on a NIC cannot be (PublicIPAddressCannotBeDeleted).
"""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any

from emulators.arm_api import ArmError, normalize_location, required_parameter
from emulators.arm_network import NetworkResourceType, Subnets, etag, network_range, not_found_reference, reference

PUBLIC_RANGE = ipaddress.ip_network("203.0.113.0/24")  # TEST-NET-3: documentation only, never routed


class PublicIPAddresses(NetworkResourceType):
    """``Microsoft.Network/publicIPAddresses``: an address of TEST-NET-3 assigned when it is made."""

    segments = (("publicIPAddresses", "address"),)
    operation_prefix = "PublicIPAddresses"

    def validate(self, properties, existing, resource):
        stored = dict(properties)
        stored.setdefault("publicIPAddressVersion", "IPv4")
        stored.setdefault("publicIPAllocationMethod", "Static")
        stored.setdefault("idleTimeoutInMinutes", 4)
        stored.setdefault("ipTags", [])
        stored["resourceGuid"] = existing["properties"]["resourceGuid"] if existing else str(uuid.uuid4())
        if existing is not None and existing["properties"].get("ipAddress"):
            stored["ipAddress"] = existing["properties"]["ipAddress"]
        else:
            stored["ipAddress"] = self._next_address()
        return stored

    def _next_address(self) -> str:
        used = {item["properties"].get("ipAddress") for item in self.of_type()}
        for address in PUBLIC_RANGE.hosts():
            if str(address) not in used:
                return str(address)
        raise ArmError(400, "PublicIPCountLimitReached", "No public address is left in the emulator's range.")

    def shape(self, resource):
        shaped = self.emu.shape(resource)
        users = self.configurations_using("publicIPAddress", resource["id"])
        if users:
            shaped["properties"]["ipConfiguration"] = {"id": users[0]}
        return shaped

    def delete_conflict(self, resource):
        users = self.configurations_using("publicIPAddress", resource["id"])
        if users:
            return ArmError(
                400,
                "PublicIPAddressCannotBeDeleted",
                "Public IP address %s can not be deleted since it is still allocated to resource %s. In order to "
                "delete the public IP, disassociate/detach the Public IP address from the resource."
                % (resource["id"], users[0]),
            )
        return None


class NetworkInterfaces(NetworkResourceType):
    """``Microsoft.Network/networkInterfaces``: IP configurations on subnets, a public address, a security group."""

    segments = (("networkInterfaces", "interface"),)
    operation_prefix = "NetworkInterfaces"

    def validate(self, properties, existing, resource):
        configurations = properties.get("ipConfigurations")
        if not isinstance(configurations, list) or not configurations:
            raise ArmError(
                400,
                "NetworkInterfaceMustHaveAtLeastOneIpConfiguration",
                "Network interface %s must have one or more IP configurations." % resource["id"],
            )
        security_group = reference(properties.get("networkSecurityGroup"), "networkSecurityGroup")
        if security_group is not None:
            self._same_region(security_group, resource)
        previous = {
            item["name"].lower(): item
            for item in ((existing or {}).get("properties") or {}).get("ipConfigurations") or []
            if item.get("name")
        }
        stored_configurations = []
        for index, configuration in enumerate(configurations):
            stored_configurations.append(
                self._configuration(configuration, index, resource, previous, stored_configurations)
            )
        if not any(item["properties"]["primary"] for item in stored_configurations):
            stored_configurations[0]["properties"]["primary"] = True
        stored = dict(properties)
        stored["ipConfigurations"] = stored_configurations
        stored.setdefault("enableAcceleratedNetworking", False)
        stored.setdefault("enableIPForwarding", False)
        stored.setdefault("nicType", "Standard")
        stored["resourceGuid"] = existing["properties"]["resourceGuid"] if existing else str(uuid.uuid4())
        return stored

    def _same_region(self, target_id: str, resource: dict[str, Any]) -> dict[str, Any]:
        target = self.emu.get(target_id)
        location = target.get("location") if target else None
        if target is not None and location is None:  # a subnet: its network's location
            network = self.emu.get(target["id"].rsplit("/subnets/", 1)[0])
            location = network["location"] if network else None
        if target is None or normalize_location(location or "") != resource["location"]:
            raise not_found_reference(target_id, resource["id"])
        return target

    def _configuration(self, configuration, index, resource, previous, made):
        name = (configuration or {}).get("name")
        if not name:
            raise required_parameter("ipConfigurations[%d].name" % index)
        properties = dict(configuration.get("properties") or {})
        subnet_id = reference(properties.get("subnet"), "ipConfigurations.subnet")
        if subnet_id is None:
            raise required_parameter("ipConfigurations[%d].properties.subnet" % index)
        subnet = self._same_region(subnet_id, resource)
        public_id = reference(properties.get("publicIPAddress"), "ipConfigurations.publicIPAddress")
        configuration_id = "%s/ipConfigurations/%s" % (resource["id"], name)
        if public_id is not None:
            self._same_region(public_id, resource)
            holders = [
                item
                for item in self.configurations_using("publicIPAddress", public_id)
                if item.lower() != configuration_id.lower()
            ]
            if holders:
                raise ArmError(
                    400,
                    "PublicIPAddressInUse",
                    "Resource %s is referencing public IP address %s that is already allocated to resource %s."
                    % (configuration_id, public_id, holders[0]),
                )
        method = str(properties.get("privateIPAllocationMethod") or "Dynamic").capitalize()
        kept = (previous.get(name.lower()) or {}).get("properties") or {}
        taken = Subnets(self.emu).addresses_in_use(subnet["id"]) - {kept.get("privateIPAddress")}
        taken |= {item["properties"].get("privateIPAddress") for item in made}
        prefix = network_range(subnet["properties"].get("addressPrefix"), "addressPrefix")
        if method == "Static":
            address = properties.get("privateIPAddress")
            if not address or ipaddress.ip_address(address) not in prefix:
                raise ArmError(
                    400,
                    "PrivateIPAddressNotInSubnet",
                    "IP configuration %s is referencing a private IP address %s that is not in subnet %s."
                    % (configuration_id, address, subnet["id"]),
                )
            if address in taken:
                raise ArmError(
                    400,
                    "PrivateIPAddressInUse",
                    "IP configuration %s is using the private IP address %s which is already allocated to another "
                    "resource." % (configuration_id, address),
                )
        elif (
            kept.get("privateIPAddress") and str((kept.get("subnet") or {}).get("id", "")).lower() == subnet_id.lower()
        ):
            address = kept["privateIPAddress"]
        else:
            address = _free_address(prefix, taken, subnet["id"])
        properties.update(
            privateIPAddress=address,
            privateIPAllocationMethod=method,
            privateIPAddressVersion="IPv4",
            primary=bool(properties.get("primary", False)),
            provisioningState="Succeeded",
            subnet={"id": subnet["id"]},
        )
        if public_id is not None:
            properties["publicIPAddress"] = {"id": self.emu.get(public_id)["id"]}
        return {
            "id": configuration_id,
            "name": name,
            "type": "Microsoft.Network/networkInterfaces/ipConfigurations",
            "etag": etag(),
            "properties": properties,
        }

    def virtual_machine_of(self, resource: dict[str, Any]) -> str | None:
        for vm in self.of_type("Microsoft.Compute/virtualMachines"):
            for interface in (vm["properties"].get("networkProfile") or {}).get("networkInterfaces") or []:
                if str(interface.get("id", "")).lower() == resource["id"].lower():
                    return vm["id"]
        return None

    def shape(self, resource):
        shaped = self.emu.shape(resource)
        vm_id = self.virtual_machine_of(resource)
        if vm_id is not None:
            shaped["properties"]["virtualMachine"] = {"id": vm_id}
        return shaped

    def delete_conflict(self, resource):
        vm_id = self.virtual_machine_of(resource)
        if vm_id is not None:
            return ArmError(
                400,
                "NicInUse",
                "Network Interface %s is used by existing resource %s. In order to delete the network interface, "
                "it must be dissociated from the resource. To learn more, see aka.ms/deletenic."
                % (resource["id"], vm_id),
            )
        return None


def _free_address(prefix: ipaddress.IPv4Network, taken: set[Any], subnet_id: str) -> str:
    # Azure keeps back the first four addresses of a subnet and its last one.
    first, last = int(prefix.network_address) + 4, int(prefix.broadcast_address) - 1
    for number in range(first, last + 1):
        address = str(ipaddress.IPv4Address(number))
        if address not in taken:
            return address
    raise ArmError(
        400, "SubnetIsFull", "Subnet %s with address prefix %s does not have enough capacity." % (subnet_id, prefix)
    )
