"""The ARM emulator's networks: virtual networks and subnets, security groups (NICs, public addresses:
`emulators.arm_network_interfaces`), and what they share: `NetworkResourceType`.

A `Microsoft.Network/virtualNetworks` holds its subnets inline in its body, and they are child resources of
their own (``.../virtualNetworks/V/subnets/S``, in their network's address space, overlapping none); as on
Azure, a network's PUT without a subnet it had removes that subnet. A `networkSecurityGroups` has inline
``securityRules`` (checked: priority 100-4096, one per priority and direction) and ARM's six default rules.

What refers to what is read from the references themselves, never stored twice: a subnet lists the NIC
configurations in it, a security group its NICs and subnets, a public address its configuration, a NIC its
VM. So ARM's refusals to delete what is in use follow what exists: a security group on a NIC or subnet
(InUseNetworkSecurityGroupCannotBeDeleted), a subnet holding NICs (InUseSubnetCannotBeDeleted). Network's
PATCH is ``UpdateTags``: synchronous, tags only.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from typing import Any

from emulators.arm_api import (
    Answer,
    ArmError,
    Request,
    check_tags,
    invalid_parameter,
    required_parameter,
)
from emulators.arm_compute import ResourceType

NETWORK_NAME = re.compile(r"^[A-Za-z0-9](?:[-A-Za-z0-9._]{0,78}[A-Za-z0-9_])?$")
PUBLIC_RANGE = ipaddress.ip_network("203.0.113.0/24")  # TEST-NET-3: documentation only, never routed
_SUBSCRIPTION = r"/subscriptions/(?P<subscription>[^/]+)"
_DEFAULT_RULES = (
    ("AllowVnetInBound", 65000, "Allow", "Inbound", "VirtualNetwork", "VirtualNetwork"),
    ("AllowAzureLoadBalancerInBound", 65001, "Allow", "Inbound", "AzureLoadBalancer", "*"),
    ("DenyAllInBound", 65500, "Deny", "Inbound", "*", "*"),
    ("AllowVnetOutBound", 65000, "Allow", "Outbound", "VirtualNetwork", "VirtualNetwork"),
    ("AllowInternetOutBound", 65001, "Allow", "Outbound", "*", "Internet"),
    ("DenyAllOutBound", 65500, "Deny", "Outbound", "*", "*"),
)
_PROTOCOLS = {"tcp": "Tcp", "udp": "Udp", "icmp": "Icmp", "esp": "Esp", "ah": "Ah", "*": "*"}


def etag() -> str:
    return 'W/"%s"' % uuid.uuid4()


def reference(value: Any, field_name: str) -> str | None:
    """The ``id`` of a ``{"id": ...}`` reference, None when absent; ARM's error when it is not one."""
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("id"), str) or not value["id"]:
        raise invalid_parameter("The reference '%s' must be an object with an id." % field_name, field_name)
    return value["id"]


def not_found_reference(target: str, referrer: str) -> ArmError:
    return ArmError(
        400,
        "InvalidResourceReference",
        "Resource %s referenced by resource %s was not found. Please make sure that the referenced resource "
        "exists, and that both resources are in the same region." % (target, referrer),
    )


def time_passes(emu: Any, resource_id: str) -> None:
    """ARM's operations run on their own, polled or not: a read of a resource moves those in progress on it one
    step, so that one whose answer was lost (nobody has its URL to poll) ends too."""
    for operation in list(emu.operations.values()):
        if operation.status == "InProgress" and operation.resource_id.lower() == resource_id.lower():
            emu.lro._advance(operation)  # noqa: SLF001 - the emulator's own clock


class NetworkResourceType(ResourceType):
    """A Microsoft.Network type: names up to 80 characters, an etag, UpdateTags for PATCH, read-only references."""

    provider = "Microsoft.Network"
    list_operation = "List"

    def routes(self) -> list[tuple[str, str, str, Any]]:
        routes = []
        for method, pattern, operation, handler in super().routes():
            if method == "PATCH":
                operation, handler = self.operation_prefix + "_UpdateTags", self.update_tags
            routes.append((method, pattern, operation, handler))
        if len(self.segments) == 1:
            everywhere = _SUBSCRIPTION + "/providers/Microsoft.Network/" + self.segments[0][0]
            routes.append(("GET", everywhere, self.operation_prefix + "_ListAll", self.list_all))
        return routes

    def check_name(self, name: str) -> None:
        if not NETWORK_NAME.match(name):
            raise ArmError(
                400,
                "InvalidResourceName",
                "Resource name %s is invalid. The name can be up to 80 characters long. It must begin with a word "
                "character, and it must end with a word character or with '_'. The name may contain word "
                "characters or '.', '-', '_'." % name,
            )

    def _mutate(self, request: Request, resource: dict[str, Any], existing: dict[str, Any] | None) -> Answer:
        resource["etag"] = etag()
        answer = super()._mutate(request, resource, existing)
        answer.body = self.shape(resource)
        return answer

    def shape(self, resource: dict[str, Any]) -> dict[str, Any]:
        """The resource as ARM answers it: stored, plus what refers to it."""
        return self.emu.shape(resource)

    def get(self, request: Request) -> Answer:
        resource = self.find(request.match)
        time_passes(self.emu, resource["id"])
        return Answer(200, self.shape(resource))

    def list(self, request: Request) -> Answer:
        self.check_parents(request.match)
        if len(self.segments) == 1:
            parent_id = self.emu.resource_group_id(request.match["group"]) + "/providers/" + self.provider
        else:
            parent_id = self.resource_id(request.match, len(self.segments) - 1)
        items = [self.shape(item) for item in self.emu.children_of(parent_id, self.type_name)]
        return Answer(200, self.emu.page(items, request))

    def list_all(self, request: Request) -> Answer:
        items = [self.shape(item) for item in self.of_type()]
        return Answer(200, self.emu.page(items, request))

    def update_tags(self, request: Request) -> Answer:
        resource = self.find(request.match)
        body = request.body if isinstance(request.body, dict) else {}
        resource["tags"] = check_tags(body.get("tags"))
        resource["etag"] = etag()
        return Answer(200, self.shape(resource))

    def of_type(self, type_name: str | None = None) -> list[dict[str, Any]]:
        wanted = (type_name or self.type_name).lower()
        return [item for item in self.emu.resources.values() if item["type"].lower() == wanted]

    def interfaces(self) -> list[dict[str, Any]]:
        return self.of_type("Microsoft.Network/networkInterfaces")

    def configurations_using(self, field_name: str, target_id: str) -> list[str]:
        """Ids of the NIC ipConfigurations whose ``field_name`` reference is ``target_id``."""
        found = []
        for interface in self.interfaces():
            for configuration in interface["properties"].get("ipConfigurations") or []:
                reference = (configuration.get("properties") or {}).get(field_name) or {}
                if str(reference.get("id", "")).lower() == target_id.lower():
                    found.append(configuration.get("id") or interface["id"])
        return found


class VirtualNetworks(NetworkResourceType):
    """``Microsoft.Network/virtualNetworks``: an address space and its subnets (children, shown inline)."""

    segments = (("virtualNetworks", "network"),)
    operation_prefix = "VirtualNetworks"

    def validate(self, properties, existing, resource):
        space = properties.get("addressSpace") or {}
        prefixes = space.get("addressPrefixes")
        if not isinstance(prefixes, list) or not prefixes:
            raise required_parameter("addressSpace.addressPrefixes")
        ranges = [network_range(prefix, "addressSpace.addressPrefixes") for prefix in prefixes]
        # As on Azure, a PUT without subnets removes them all (refused while one is in use).
        subnets = properties.get("subnets") or []
        if not isinstance(subnets, list):
            raise invalid_parameter("subnets must be a list.", "properties.subnets")
        planned = []
        for subnet in subnets:
            name = (subnet or {}).get("name")
            if not name:
                raise required_parameter("subnets.name")
            planned.append((name, _subnet_range(subnet.get("properties") or {}, name, ranges, planned)))
        self._check_removals(resource["id"], {name.lower() for name, _range in planned})
        stored = {key: value for key, value in properties.items() if key != "subnets"}
        stored["addressSpace"] = {"addressPrefixes": list(prefixes)}
        stored.setdefault("enableDdosProtection", False)
        stored["resourceGuid"] = existing["properties"]["resourceGuid"] if existing else str(uuid.uuid4())
        stored["_subnets"] = subnets  # taken out again in _mutate: the subnets are resources of their own
        return stored

    def _check_removals(self, network_id: str, kept: set[str]) -> None:
        for subnet in self.emu.children_of(network_id, "Microsoft.Network/virtualNetworks/subnets"):
            if subnet["name"].lower() not in kept:
                in_use = self.configurations_using("subnet", subnet["id"])
                if in_use:
                    raise _subnet_in_use(subnet, in_use)

    def _mutate(self, request, resource, existing):
        subnets = resource["properties"].pop("_subnets")
        kept = set()
        for subnet in subnets:
            subnet_id = resource["id"] + "/subnets/" + subnet["name"]
            kept.add(subnet_id.lower())
            stored = self.emu.resources.get(subnet_id.lower())
            properties = {
                key: value for key, value in (subnet.get("properties") or {}).items() if key != "ipConfigurations"
            }
            self.emu.resources[subnet_id.lower()] = {
                "id": stored["id"] if stored else subnet_id,
                "name": stored["name"] if stored else subnet["name"],
                "type": "Microsoft.Network/virtualNetworks/subnets",
                "etag": etag(),
                "properties": {**properties, "provisioningState": "Succeeded"},
            }
        for subnet in self.emu.children_of(resource["id"], "Microsoft.Network/virtualNetworks/subnets"):
            if subnet["id"].lower() not in kept:
                del self.emu.resources[subnet["id"].lower()]
        return super()._mutate(request, resource, existing)

    def shape(self, resource):
        shaped = self.emu.shape(resource)
        shaped["properties"]["subnets"] = [
            Subnets(self.emu).shape(subnet)
            for subnet in self.emu.children_of(resource["id"], "Microsoft.Network/virtualNetworks/subnets")
        ]
        return shaped

    def delete_conflict(self, resource):
        for subnet in self.emu.children_of(resource["id"], "Microsoft.Network/virtualNetworks/subnets"):
            in_use = self.configurations_using("subnet", subnet["id"])
            if in_use:
                raise _subnet_in_use(subnet, in_use)
        return None


class Subnets(NetworkResourceType):
    """``Microsoft.Network/virtualNetworks/subnets``: a range of its network's address space (no location, no tags)."""

    segments = (("virtualNetworks", "network"), ("subnets", "subnet"))
    operation_prefix = "Subnets"

    def routes(self):
        return [route for route in super().routes() if route[0] != "PATCH"]  # a subnet has no UpdateTags

    def put(self, request: Request) -> Answer:
        network = self.check_parents(request.match)
        name = self.name_of(request.match)
        self.check_name(name)
        body = request.body if isinstance(request.body, dict) else {}
        properties = body.get("properties") or {}
        resource_id = self.resource_id(request.match)
        siblings = [
            (subnet["name"], network_range(subnet["properties"].get("addressPrefix"), "addressPrefix"))
            for subnet in self.emu.children_of(network["id"], self.type_name)
            if subnet["id"].lower() != resource_id.lower() and subnet["properties"].get("addressPrefix")
        ]
        ranges = [
            network_range(prefix, "addressSpace") for prefix in network["properties"]["addressSpace"]["addressPrefixes"]
        ]
        _subnet_range(properties, name, ranges, siblings)
        security_group = reference(properties.get("networkSecurityGroup"), "networkSecurityGroup")
        if security_group is not None and self.emu.get(security_group) is None:
            raise not_found_reference(security_group, resource_id)
        existing = self.emu.get(resource_id)
        resource = {
            "id": existing["id"] if existing else resource_id,
            "name": existing["name"] if existing else name,
            "type": self.type_name,
            "etag": etag(),
            "properties": {**properties, "provisioningState": "Updating" if existing else "Creating"},
        }
        self.emu.resources[resource_id.lower()] = resource

        def done() -> None:
            stored = self.emu.resources.get(resource_id.lower())
            if stored is not None:
                stored["properties"]["provisioningState"] = "Succeeded"

        headers = self.emu.start_operation(
            request, resource_id, on_done=done, provider=self.provider, location=network["location"]
        )
        return Answer(200 if existing else 201, self.shape(resource), headers)

    def shape(self, resource):
        shaped = self.emu.shape(resource)
        in_use = self.configurations_using("subnet", resource["id"])
        if in_use:
            shaped["properties"]["ipConfigurations"] = [{"id": item} for item in in_use]
        return shaped

    def delete_conflict(self, resource):
        in_use = self.configurations_using("subnet", resource["id"])
        return _subnet_in_use(resource, in_use) if in_use else None

    def delete(self, request: Request) -> Answer:
        self.check_parents_for_delete(request.match)
        network = self.emu.get(self.resource_id(request.match, 1))
        subnet = self.emu.get(self.resource_id(request.match))
        if network is None or subnet is None:
            return Answer(204, None)
        conflict = self.delete_conflict(subnet)
        if conflict is not None:
            raise conflict
        subnet["properties"]["provisioningState"] = "Deleting"
        key = subnet["id"].lower()

        def done() -> None:
            self.emu.resources.pop(key, None)

        headers = self.emu.start_operation(
            request,
            subnet["id"],
            on_done=done,
            location_header=True,
            provider=self.provider,
            location=network["location"],
        )
        return Answer(202, None, headers)

    def addresses_in_use(self, subnet_id: str) -> set[str]:
        used = set()
        for interface in self.interfaces():
            for configuration in interface["properties"].get("ipConfigurations") or []:
                properties = configuration.get("properties") or {}
                if str((properties.get("subnet") or {}).get("id", "")).lower() == subnet_id.lower():
                    used.add(properties.get("privateIPAddress"))
        return used


class NetworkSecurityGroups(NetworkResourceType):
    """``Microsoft.Network/networkSecurityGroups``: inline ``securityRules`` checked as ARM checks them."""

    segments = (("networkSecurityGroups", "group_name"),)
    operation_prefix = "NetworkSecurityGroups"

    def validate(self, properties, existing, resource):
        rules = properties.get("securityRules") or []
        if not isinstance(rules, list):
            raise invalid_parameter("securityRules must be a list.", "properties.securityRules")
        stored_rules = []
        taken: dict[tuple[str, int], str] = {}
        for rule in rules:
            stored_rules.append(self._rule(rule, resource["id"], taken))
        stored = {key: value for key, value in properties.items() if key != "securityRules"}
        stored["securityRules"] = stored_rules
        stored["defaultSecurityRules"] = [
            {
                "id": "%s/defaultSecurityRules/%s" % (resource["id"], name),
                "name": name,
                "type": "Microsoft.Network/networkSecurityGroups/defaultSecurityRules",
                "properties": {
                    "description": "Default rule",
                    "protocol": "*",
                    "sourcePortRange": "*",
                    "destinationPortRange": "*",
                    "sourceAddressPrefix": source,
                    "destinationAddressPrefix": destination,
                    "access": access,
                    "priority": priority,
                    "direction": direction,
                    "provisioningState": "Succeeded",
                },
            }
            for name, priority, access, direction, source, destination in _DEFAULT_RULES
        ]
        stored["resourceGuid"] = existing["properties"]["resourceGuid"] if existing else str(uuid.uuid4())
        return stored

    def _rule(self, rule: Any, group_id: str, taken: dict[tuple[str, int], str]) -> dict[str, Any]:
        name = (rule or {}).get("name")
        if not name:
            raise required_parameter("securityRules.name")
        properties = dict(rule.get("properties") or {})
        target = "securityRules/%s" % name
        for part in ("protocol", "access", "direction", "priority"):
            if properties.get(part) is None:
                raise ArmError(
                    400,
                    "SecurityRuleParameterMissing",
                    "Security rule %s has no %s: it is required." % (name, part),
                    target=target,
                )
        protocol = _PROTOCOLS.get(str(properties["protocol"]).lower())
        access = str(properties["access"]).capitalize()
        direction = {"inbound": "Inbound", "outbound": "Outbound"}.get(str(properties["direction"]).lower())
        if protocol is None or access not in ("Allow", "Deny") or direction is None:
            raise ArmError(
                400,
                "SecurityRuleParameterContainsUnsupportedValue",
                "Security rule %s has an unsupported protocol, access or direction." % name,
                target=target,
            )
        priority = properties["priority"]
        if not isinstance(priority, int) or not 100 <= priority <= 4096:
            raise ArmError(
                400,
                "SecurityRuleInvalidPriority",
                "Security rule %s has invalid Priority %s. Value provided: %s Allowed range 100-4096."
                % (name, priority, priority),
                target=target,
            )
        clash = taken.get((direction, priority))
        if clash is not None:
            raise ArmError(
                400,
                "SecurityRuleConflict",
                "Security rule %s conflicts with rule %s. Rules cannot have the same Priority and Direction."
                % (name, clash),
                target=target,
            )
        taken[(direction, priority)] = name
        for part in ("sourceAddressPrefix", "destinationAddressPrefix"):
            plural = part.replace("Prefix", "Prefixes")
            if not properties.get(part) and not properties.get(plural):
                raise ArmError(
                    400,
                    "SecurityRuleParameterMissing",
                    "Security rule %s has neither %s nor %s." % (name, part, plural),
                    target=target,
                )
        properties.update(protocol=protocol, access=access, direction=direction, provisioningState="Succeeded")
        for part in (
            "sourceAddressPrefixes",
            "destinationAddressPrefixes",
            "sourcePortRanges",
            "destinationPortRanges",
        ):
            properties.setdefault(part, [])
        return {
            "id": "%s/securityRules/%s" % (group_id, name),
            "name": name,
            "type": "Microsoft.Network/networkSecurityGroups/securityRules",
            "etag": etag(),
            "properties": properties,
        }

    def shape(self, resource):
        shaped = self.emu.shape(resource)
        interfaces = [
            interface["id"]
            for interface in self.interfaces()
            if str((interface["properties"].get("networkSecurityGroup") or {}).get("id", "")).lower()
            == resource["id"].lower()
        ]
        subnets = [
            subnet["id"]
            for subnet in self.of_type("Microsoft.Network/virtualNetworks/subnets")
            if str((subnet["properties"].get("networkSecurityGroup") or {}).get("id", "")).lower()
            == resource["id"].lower()
        ]
        if interfaces:
            shaped["properties"]["networkInterfaces"] = [{"id": item} for item in interfaces]
        if subnets:
            shaped["properties"]["subnets"] = [{"id": item} for item in subnets]
        return shaped

    def delete_conflict(self, resource):
        shaped = self.shape(resource)["properties"]
        users = [item["id"] for item in shaped.get("networkInterfaces", []) + shaped.get("subnets", [])]
        if users:
            return ArmError(
                400,
                "InUseNetworkSecurityGroupCannotBeDeleted",
                "Network security group %s cannot be deleted because it is in use by the following resources: "
                "[%s]. In order to delete the Network security group, remove the association with the resource(s)."
                % (resource["id"], ", ".join(users)),
            )
        return None


def network_range(prefix: Any, field_name: str) -> ipaddress.IPv4Network:
    try:
        return ipaddress.IPv4Network(str(prefix))
    except ValueError:
        raise ArmError(
            400, "InvalidAddressPrefixFormat", "Address prefix %s of %s is not a valid CIDR." % (prefix, field_name)
        ) from None


def _subnet_range(properties, name, ranges, siblings) -> ipaddress.IPv4Network:
    """A subnet's range: inside its network's address space, overlapping no sibling."""
    prefix = properties.get("addressPrefix")
    if not prefix:
        raise required_parameter("subnets.%s.addressPrefix" % name)
    subnet = network_range(prefix, "subnet %s" % name)
    if not any(subnet.subnet_of(space) for space in ranges):
        raise ArmError(
            400,
            "NetcfgSubnetRangeOutsideVnet",
            "Subnet '%s' is not valid because its IP address range is outside the IP address range of virtual "
            "network." % name,
        )
    for other, other_range in siblings:
        if subnet.overlaps(other_range):
            raise ArmError(
                400,
                "NetcfgSubnetRangesOverlap",
                "Subnet '%s' is not valid because its IP address range overlaps with that of an existing subnet "
                "'%s' in virtual network." % (name, other),
            )
    return subnet


def _subnet_in_use(subnet: dict[str, Any], users: list[str]) -> ArmError:
    return ArmError(
        400,
        "InUseSubnetCannotBeDeleted",
        "Subnet %s is in use by %s and cannot be deleted. In order to delete the subnet, delete all the resources "
        "within the subnet. See aka.ms/deletesubnet." % (subnet["name"], users[0]),
    )
