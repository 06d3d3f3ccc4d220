"""The ARM emulator's Standard load balancers (``Microsoft.Network/loadBalancers``) and their backend pools' members.

A load balancer is one resource; its frontend IP configurations, backend address pools, probes and load-balancing
rules live in its ``properties`` (as NRP stores them) and are also served as child resources: pools by
GET/PUT/DELETE of ``.../loadBalancers/LB/backendAddressPools/POOL`` (long-running, on the load balancer), the
others by GET and list. Every change validates the load balancer as it would be afterwards, as NRP does: a
rule naming a pool, probe or frontend that is not there is ``InvalidResourceReference``, a pool that members
still use is not removed.

**Members register themselves.** A pool's members are whatever resources in the emulator's store name it in an
IP configuration's ``loadBalancerBackendAddressPools`` (`pool_members`): network interfaces
(``properties.ipConfigurations``) and scale sets (``virtualMachineProfile.networkProfile``): a scale set's
members are its instances (children ``.../virtualMachines/N``), each by the network profile it was built with
(``networkProfileConfiguration``, else the scale set's model). They show in the pool's read-only
``backendIPConfigurations``, as ARM answers it; nothing here has to be told about a member.

**Health** is what ARM can read of the probes: ``POST .../loadBalancingRules/RULE/health`` (long-running, the
result on its Location) answers each member of the rule's pools ``Up`` or ``Down``. A member is ``Down`` when a
test said so (`LoadBalancers.set_probe`), when its instance is not running or not provisioned, or when its
application health (``instanceView.vmHealth``) is unhealthy; else ``Up``. No traffic is sent and no probe is run.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import uuid
from typing import TYPE_CHECKING, Any

from emulators.arm_api import Answer, ArmError, Request, check_tags, invalid_parameter, required_parameter
from emulators.arm_compute import ResourceType

if TYPE_CHECKING:
    from emulators.arm import ArmEmulator

NETWORK = "Microsoft.Network"
LOAD_BALANCER_TYPE = "Microsoft.Network/loadBalancers"
NIC_TYPE = "microsoft.network/networkinterfaces"
SCALE_SET_TYPE = "microsoft.compute/virtualmachinescalesets"
SCALE_SET_VM_TYPE = "Microsoft.Compute/virtualMachineScaleSets/virtualMachines"
# The child collections of a load balancer (property and path segment): the operation group serving them.
CHILDREN = {
    "frontendIPConfigurations": "LoadBalancerFrontendIPConfigurations",
    "backendAddressPools": "LoadBalancerBackendAddressPools",
    "probes": "LoadBalancerProbes",
    "loadBalancingRules": "LoadBalancerLoadBalancingRules",
}
# Collections NRP keeps on a load balancer that this emulator stores as given, unchecked.
KEPT = ("inboundNatRules", "inboundNatPools", "outboundRules")
RULE_PROTOCOLS = ("Tcp", "Udp", "All")
PROBE_PROTOCOLS = ("Http", "Https", "Tcp")
# Private addresses handed to frontends and members, in order.
ADDRESSES = ipaddress.ip_network("10.0.0.0/16")


@dataclasses.dataclass
class PoolMember:
    """One member of a pool: its IP configuration, the resource that holds it (a NIC, a scale set instance),
    that instance's stored resource (None for a NIC or an instance kept by the scale set emulator) and, from the
    scale set emulator, the instance's provisioning state and health (healthy, unhealthy, unknown)."""

    ip_configuration_id: str
    holder_id: str
    instance: dict[str, Any] | None = None
    provisioning_state: str | None = None
    health: str | None = None


def _ref_id(reference: Any) -> str:
    return reference.get("id", "") if isinstance(reference, dict) else ""


def _names_pool(ip_configuration: dict[str, Any], pool_key: str) -> bool:
    properties = ip_configuration.get("properties") or {}
    return any(_ref_id(pool).lower() == pool_key for pool in properties.get("loadBalancerBackendAddressPools") or [])


def _scale_set_configurations(profile: Any) -> list[dict[str, Any]]:
    """The NIC configurations of a scale set's network profile (as a model or an instance carries it)."""
    if not isinstance(profile, dict):
        return []
    return [item for item in profile.get("networkInterfaceConfigurations") or [] if isinstance(item, dict)]


def pool_members(emu: ArmEmulator, pool_id: str) -> list[PoolMember]:
    """Every member of ``pool_id``: the IP configurations of the emulator's resources that name the pool.

    A resource type of the emulator that keeps instances of its own (the scale set emulator's
    ``members_of_pool``) is asked for its members; instances stored as resources are read here.
    """
    key = pool_id.lower()
    members: list[PoolMember] = []
    for kind in emu._types:
        if hasattr(kind, "members_of_pool"):
            members.extend(
                PoolMember(
                    member["ip_configuration"],
                    member["id"],
                    provisioning_state=member.get("provisioning_state"),
                    health=member.get("health"),
                )
                for member in kind.members_of_pool(pool_id)
            )
    for resource in list(emu.resources.values()):
        kind = str(resource.get("type", "")).lower()
        properties = resource.get("properties") or {}
        if kind == NIC_TYPE:
            for ip_configuration in properties.get("ipConfigurations") or []:
                if _names_pool(ip_configuration, key):
                    config_id = ip_configuration.get("id") or "%s/ipConfigurations/%s" % (
                        resource["id"],
                        ip_configuration.get("name"),
                    )
                    members.append(PoolMember(config_id, resource["id"]))
        elif kind == SCALE_SET_TYPE:
            model = (properties.get("virtualMachineProfile") or {}).get("networkProfile")
            for instance in emu.children_of(resource["id"], SCALE_SET_VM_TYPE):
                # An instance keeps the network profile it was built or last upgraded with.
                built_with = (instance.get("properties") or {}).get("networkProfileConfiguration")
                for nic in _scale_set_configurations(built_with if built_with is not None else model):
                    for ip_configuration in (nic.get("properties") or {}).get("ipConfigurations") or []:
                        if _names_pool(ip_configuration, key):
                            config_id = "%s/networkInterfaces/%s/ipConfigurations/%s" % (
                                instance["id"],
                                nic.get("name"),
                                ip_configuration.get("name"),
                            )
                            members.append(PoolMember(config_id, instance["id"], instance))
    return members


def pool_users(emu: ArmEmulator, pool_id: str) -> list[tuple[str, str]]:
    """(kind, id) of the resources that name ``pool_id``: scale sets by their model, NICs."""
    key = pool_id.lower()
    users = []
    for resource in list(emu.resources.values()):
        kind = str(resource.get("type", "")).lower()
        properties = resource.get("properties") or {}
        if kind == NIC_TYPE and any(_names_pool(item, key) for item in properties.get("ipConfigurations") or []):
            users.append(("network interface", resource["id"]))
        elif kind == SCALE_SET_TYPE:
            model = (properties.get("virtualMachineProfile") or {}).get("networkProfile")
            configurations = [
                item
                for nic in _scale_set_configurations(model)
                for item in (nic.get("properties") or {}).get("ipConfigurations") or []
            ]
            if any(_names_pool(item, key) for item in configurations):
                users.append(("virtual machine scale set", resource["id"]))
    return users


def not_found(resource_id: str) -> ArmError:
    """NRP's answer for a child resource that is not there."""
    return ArmError(404, "NotFound", "Resource %s not found." % resource_id)


def invalid_reference(reference: str, user: str) -> ArmError:
    return ArmError(
        400,
        "InvalidResourceReference",
        "Resource %s referenced by resource %s was not found. Please make sure that the referenced resource "
        "exists, and that both resources are in the same region." % (reference, user),
    )


def pool_in_use(pool: dict[str, Any], users: list[tuple[str, str]]) -> ArmError:
    kind, user = users[0]
    code = (
        "BackendAddressPoolInUseByVirtualMachineScaleSet"
        if kind == "virtual machine scale set"
        else "BackendAddressPoolInUseByNetworkInterface"
    )
    return ArmError(
        400,
        code,
        "Cannot remove backend address pool %s from load balancer since it is in use by %s %s."
        % (pool["name"], kind, user),
    )


class LoadBalancers(ResourceType):
    """``Microsoft.Network/loadBalancers`` with its child collections, pool membership and rule health."""

    provider = NETWORK
    segments = (("loadBalancers", "lb"),)
    operation_prefix = "LoadBalancers"
    list_operation = "List"

    def __init__(self, emu: ArmEmulator) -> None:
        super().__init__(emu)
        self.probe_states: dict[str, str] = {}
        self.addresses: dict[str, str] = {}

    def reset(self) -> None:
        self.probe_states.clear()
        self.addresses.clear()

    # what a test sets --------------------------------------------------------------------------------

    def set_probe(self, target: str, up: bool) -> None:
        """The probes see ``target`` (an instance, a NIC or an IP configuration id, and all under it) up or down."""
        with self.emu.lock:
            if up:
                self.probe_states.pop(target.lower().rstrip("/"), None)
            else:
                self.probe_states[target.lower().rstrip("/")] = "Down"

    def address_of(self, ip_configuration_id: str) -> str:
        key = ip_configuration_id.lower()
        if key not in self.addresses:
            self.addresses[key] = str(ADDRESSES[4 + len(self.addresses)])
        return self.addresses[key]

    # routes ------------------------------------------------------------------------------------------

    def routes(self) -> list[tuple[str, str, str, Any]]:
        item = self._pattern(1)
        routes = [route for route in super().routes() if route[0] != "PATCH"]
        routes.append(("PATCH", item, "LoadBalancers_UpdateTags", self.update_tags))
        subscription_wide = r"/subscriptions/(?P<subscription>[^/]+)/providers/Microsoft\.Network/loadBalancers"
        routes.append(("GET", subscription_wide, "LoadBalancers_ListAll", self.list_all))
        for collection, group in CHILDREN.items():
            child = item + "/" + collection + "/(?P<child>[^/]+)"
            routes.append(("GET", child, group + "_Get", self._child_get(collection)))
            routes.append(("GET", item + "/" + collection, group + "_List", self._child_list(collection)))
        pool = item + "/backendAddressPools/(?P<child>[^/]+)"
        routes.append(("PUT", pool, "LoadBalancerBackendAddressPools_CreateOrUpdate", self.put_pool))
        routes.append(("DELETE", pool, "LoadBalancerBackendAddressPools_Delete", self.delete_pool))
        rule_health = item + "/loadBalancingRules/(?P<child>[^/]+)/health"
        routes.append(("POST", rule_health, "LoadBalancerLoadBalancingRules_Health", self.rule_health))
        return routes

    # validation: the load balancer as it would be after the change --------------------------------------

    def validate(self, properties, existing, resource):
        stored: dict[str, Any] = {key: value for key, value in properties.items() if key not in CHILDREN}
        for collection in KEPT:
            stored[collection] = list(properties.get(collection) or [])
        for collection in CHILDREN:
            items = properties.get(collection) or []
            if not isinstance(items, list):
                raise ArmError(400, "InvalidRequestFormat", "Cannot parse the request: '%s'." % collection)
            seen: set[str] = set()
            children = []
            for item in items:
                child = self._child(resource["id"], collection, item)
                if child["name"].lower() in seen:
                    raise ArmError(
                        400,
                        "DuplicateResourceName",
                        "Resource %s has two child resources with the same name (%s)."
                        % (resource["id"], child["name"]),
                    )
                seen.add(child["name"].lower())
                children.append(child)
            stored[collection] = children
        self._check_references(resource["id"], stored)
        if existing is not None:
            kept = {pool["name"].lower() for pool in stored["backendAddressPools"]}
            for pool in existing["properties"].get("backendAddressPools") or []:
                users = pool_users(self.emu, pool["id"])
                if pool["name"].lower() not in kept and users:
                    raise pool_in_use(pool, users)
        stored["resourceGuid"] = existing["properties"]["resourceGuid"] if existing else str(uuid.uuid4())
        return stored

    def _child(self, parent_id: str, collection: str, item: Any) -> dict[str, Any]:
        if not isinstance(item, dict) or not item.get("name"):
            raise required_parameter("%s.name" % collection)
        properties = dict(item.get("properties") or {})
        target = "%s[%s].properties" % (collection, item["name"])
        if collection == "frontendIPConfigurations":
            if not _ref_id(properties.get("subnet")) and not _ref_id(properties.get("publicIPAddress")):
                raise invalid_parameter(
                    "A frontend IP configuration needs a subnet or a public IP address.", target + ".subnet"
                )
            if _ref_id(properties.get("subnet")):
                properties.setdefault("privateIPAllocationMethod", "Dynamic")
                properties.setdefault("privateIPAddress", self.address_of(parent_id + "/" + item["name"]))
        elif collection == "probes":
            if properties.get("protocol") not in PROBE_PROTOCOLS:
                raise invalid_parameter("The probe protocol must be one of Http, Https, Tcp.", target + ".protocol")
            if not isinstance(properties.get("port"), int) or not 1 <= properties["port"] <= 65535:
                raise invalid_parameter("The probe port must be from 1 to 65535.", target + ".port")
            if properties["protocol"] != "Tcp" and not properties.get("requestPath"):
                raise invalid_parameter("An Http or Https probe needs a requestPath.", target + ".requestPath")
            properties.setdefault("intervalInSeconds", 15)
            properties.setdefault("numberOfProbes", 2)
            properties.setdefault("probeThreshold", 1)
        elif collection == "loadBalancingRules":
            if not _ref_id(properties.get("frontendIPConfiguration")):
                raise required_parameter(target + ".frontendIPConfiguration")
            if properties.get("protocol") not in RULE_PROTOCOLS:
                raise invalid_parameter("The rule protocol must be one of Tcp, Udp, All.", target + ".protocol")
            if not isinstance(properties.get("frontendPort"), int):
                raise required_parameter(target + ".frontendPort")
            pools = [pool for pool in properties.get("backendAddressPools") or [] if _ref_id(pool)]
            single = properties.get("backendAddressPool")
            if _ref_id(single) and not any(_ref_id(pool).lower() == _ref_id(single).lower() for pool in pools):
                pools.insert(0, {"id": _ref_id(single)})
            # NRP fills in both: the list, and the single reference as its first pool.
            properties["backendAddressPools"] = [{"id": _ref_id(pool)} for pool in pools]
            if pools:
                properties["backendAddressPool"] = {"id": _ref_id(pools[0])}
            else:
                properties.pop("backendAddressPool", None)
            properties.setdefault("backendPort", properties["frontendPort"])
            properties.setdefault("enableFloatingIP", False)
            properties.setdefault("idleTimeoutInMinutes", 4)
            properties.setdefault("loadDistribution", "Default")
            properties.setdefault("disableOutboundSnat", False)
            properties.setdefault("enableTcpReset", False)
        elif collection == "backendAddressPools":
            properties["loadBalancerBackendAddresses"] = list(properties.get("loadBalancerBackendAddresses") or [])
        for computed in ("loadBalancingRules", "backendIPConfigurations", "provisioningState"):
            properties.pop(computed, None)  # read-only: ARM computes them on every read
        child_id = "%s/%s/%s" % (parent_id, collection, item["name"])
        return {
            "name": item["name"],
            "id": child_id,
            "type": "%s/%s" % (LOAD_BALANCER_TYPE, collection),
            "properties": properties,
        }

    def _check_references(self, lb_id: str, stored: dict[str, Any]) -> None:
        ids = {
            collection: {child["id"].lower() for child in stored[collection]}
            for collection in ("frontendIPConfigurations", "backendAddressPools", "probes")
        }
        for rule in stored["loadBalancingRules"]:
            properties = rule["properties"]
            wanted = [("frontendIPConfigurations", _ref_id(properties["frontendIPConfiguration"]))]
            wanted += [("backendAddressPools", _ref_id(pool)) for pool in properties["backendAddressPools"]]
            if _ref_id(properties.get("probe")):
                wanted.append(("probes", _ref_id(properties["probe"])))
            for collection, reference in wanted:
                if reference.lower() not in ids[collection]:
                    raise invalid_reference(reference, rule["id"])

    # shapes: what ARM computes on every read ------------------------------------------------------------

    def present(self, resource: dict[str, Any]) -> dict[str, Any]:
        """The load balancer as ARM answers it: with each child's back-references and the pools' members."""
        shaped = self.emu.shape(resource)
        properties = shaped["properties"]
        state = properties.get("provisioningState", "Succeeded")
        users: dict[str, list[dict[str, str]]] = {}
        for rule in properties.get("loadBalancingRules") or []:
            rule_properties = rule["properties"]
            references = [rule_properties["frontendIPConfiguration"], *rule_properties["backendAddressPools"]]
            if _ref_id(rule_properties.get("probe")):
                references.append(rule_properties["probe"])
            for reference in references:
                users.setdefault(_ref_id(reference).lower(), []).append({"id": rule["id"]})
        for collection in CHILDREN:
            for child in properties.get(collection) or []:
                child["etag"] = shaped.get("etag")
                child["properties"]["provisioningState"] = state
                if collection != "loadBalancingRules":
                    child["properties"]["loadBalancingRules"] = users.get(child["id"].lower(), [])
                if collection == "backendAddressPools":
                    child["properties"]["backendIPConfigurations"] = [
                        {"id": member.ip_configuration_id} for member in pool_members(self.emu, child["id"])
                    ]
        return shaped

    def _mutate(self, request: Request, resource: dict[str, Any], existing: dict[str, Any] | None) -> Answer:
        body = request.body if isinstance(request.body, dict) else {}
        sku = body.get("sku") or (existing or {}).get("sku") or {"name": "Standard", "tier": "Regional"}
        resource["sku"] = {"tier": "Regional", **sku}
        resource["etag"] = 'W/"%s"' % uuid.uuid4()
        answer = super()._mutate(request, resource, existing)
        answer.body = self.present(self.emu.resources[resource["id"].lower()])
        return answer

    def get(self, request: Request) -> Answer:
        return Answer(200, self.present(self.find(request.match)))

    def list(self, request: Request) -> Answer:
        self.check_parents(request.match)
        parent = self.emu.resource_group_id(request.match["group"]) + "/providers/" + NETWORK
        items = [self.present(item) for item in self.emu.children_of(parent, LOAD_BALANCER_TYPE)]
        return Answer(200, self.emu.page(items, request))

    def list_all(self, request: Request) -> Answer:
        items = [
            self.present(item)
            for item in list(self.emu.resources.values())
            if str(item.get("type", "")).lower() == LOAD_BALANCER_TYPE.lower()
        ]
        return Answer(200, self.emu.page(items, request))

    def update_tags(self, request: Request) -> Answer:
        """NRP's PATCH changes tags only, at once (no operation)."""
        resource = self.find(request.match)
        body = request.body if isinstance(request.body, dict) else {}
        if "tags" in body:
            resource["tags"] = check_tags(body["tags"])
            resource["etag"] = 'W/"%s"' % uuid.uuid4()
        return Answer(200, self.present(resource))

    def delete_conflict(self, resource: dict[str, Any]) -> ArmError | None:
        for pool in resource["properties"].get("backendAddressPools") or []:
            users = pool_users(self.emu, pool["id"])
            if users:
                return ArmError(
                    400,
                    "LoadBalancerInUseByVirtualMachineScaleSet"
                    if users[0][0] == "virtual machine scale set"
                    else "LoadBalancerInUseByNetworkInterface",
                    "Cannot delete load balancer %s since its child resources %s are in use by %s %s."
                    % (resource["id"], pool["name"], users[0][0], users[0][1]),
                )
        return None

    # child resources ----------------------------------------------------------------------------------

    def _find_child(self, request: Request, collection: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """(the load balancer as answered, its child of this request or None)."""
        shaped = self.present(self.find(request.match))
        wanted = request.match["child"].lower()
        for child in shaped["properties"].get(collection) or []:
            if child["name"].lower() == wanted:
                return shaped, child
        return shaped, None

    def _child_get(self, collection: str) -> Any:
        def handler(request: Request) -> Answer:
            shaped, child = self._find_child(request, collection)
            if child is None:
                raise not_found("%s/%s/%s" % (shaped["id"], collection, request.match["child"]))
            return Answer(200, child)

        return handler

    def _child_list(self, collection: str) -> Any:
        def handler(request: Request) -> Answer:
            shaped = self.present(self.find(request.match))
            return Answer(200, self.emu.page(list(shaped["properties"].get(collection) or []), request))

        return handler

    def _change(self, request: Request, lb: dict[str, Any], properties: dict[str, Any]) -> dict[str, str]:
        """Store ``properties`` as the load balancer's, validated, and start the operation that settles it."""
        resource = self.emu.shape(lb)
        plain = {key: value for key, value in properties.items() if key not in ("provisioningState", "resourceGuid")}
        resource["properties"] = self.validate(plain, lb, resource)
        resource["etag"] = 'W/"%s"' % uuid.uuid4()
        resource["properties"]["provisioningState"] = "Updating"
        key = lb["id"].lower()
        self.emu.resources[key] = resource

        def done() -> None:
            stored = self.emu.resources.get(key)
            if stored is not None:
                stored["properties"]["provisioningState"] = "Succeeded"

        def failed() -> None:
            stored = self.emu.resources.get(key)
            if stored is not None:
                stored["properties"]["provisioningState"] = "Failed"

        return self.emu.start_operation(
            request,
            lb["id"],
            on_done=done,
            on_fail=failed,
            location_header=request.method != "PUT",
            provider=NETWORK,
            location=lb["location"],
        )

    def put_pool(self, request: Request) -> Answer:
        lb = self.find(request.match)
        self._check_if_match(request, lb)
        body = request.body
        if not isinstance(body, dict):
            raise ArmError(400, "InvalidRequestContent", "The request content was invalid: a JSON object is required.")
        name = request.match["child"]
        properties = {key: value for key, value in lb["properties"].items() if key in CHILDREN or key in KEPT}
        pools = [pool for pool in properties["backendAddressPools"] if pool["name"].lower() != name.lower()]
        existed = len(pools) != len(properties["backendAddressPools"])
        new_pool = {"name": name, "properties": dict(body.get("properties") or {})}
        properties["backendAddressPools"] = [*pools, new_pool]
        headers = self._change(request, lb, {**lb["properties"], **properties})
        shaped = self.present(self.emu.resources[lb["id"].lower()])
        pool = next(item for item in shaped["properties"]["backendAddressPools"] if item["name"] == name)
        return Answer(200 if existed else 201, pool, headers)

    def delete_pool(self, request: Request) -> Answer:
        lb = self.find(request.match)
        name = request.match["child"].lower()
        pool = next((item for item in lb["properties"]["backendAddressPools"] if item["name"].lower() == name), None)
        if pool is None:
            return Answer(204, None)
        # Validated as the load balancer would be without it: a rule sending to it first, then its members.
        properties = dict(lb["properties"])
        properties["backendAddressPools"] = [item for item in properties["backendAddressPools"] if item is not pool]
        headers = self._change(request, lb, properties)
        return Answer(202, None, headers)

    # health -------------------------------------------------------------------------------------------

    def rule_health(self, request: Request) -> Answer:
        """``LoadBalancerLoadBalancingRules_Health``: a long-running POST; the result is on its Location."""
        shaped, rule = self._find_child(request, "loadBalancingRules")
        if rule is None:
            raise not_found("%s/loadBalancingRules/%s" % (shaped["id"], request.match["child"]))
        outcome: dict[str, Any] = {}

        def done() -> None:
            # The health as the operation ends; every later read of its Location answers the same.
            outcome.update(self.health_of(rule))

        headers = self.emu.start_operation(
            request,
            rule["id"],
            on_done=done,
            result=lambda: self.emu.shape(outcome),
            location_header=True,
            provider=NETWORK,
            location=shaped["location"],
        )
        return Answer(202, None, headers)

    def health_of(self, rule: dict[str, Any]) -> dict[str, Any]:
        addresses = []
        probed = bool(_ref_id(rule["properties"].get("probe")))
        for pool in rule["properties"]["backendAddressPools"]:
            for member in pool_members(self.emu, _ref_id(pool)):
                state, reason = self.member_state(member) if probed else ("Up", "No health probe: always up.")
                addresses.append(
                    {
                        "ipAddress": self.address_of(member.ip_configuration_id),
                        "networkInterfaceIPConfigurationId": member.ip_configuration_id,
                        "state": state,
                        "reason": reason,
                    }
                )
        up = sum(1 for address in addresses if address["state"] == "Up")
        return {"up": up, "down": len(addresses) - up, "loadBalancerBackendAddresses": addresses}

    def member_state(self, member: PoolMember) -> tuple[str, str]:
        """("Up" or "Down", why) of a member as the rule's probe sees it."""
        config = member.ip_configuration_id.lower()
        for target in self.probe_states:
            if config == target or config.startswith(target + "/"):
                return "Down", "The health probe failed on this backend instance."
        if member.provisioning_state in ("Creating", "Failed", "Deleting"):
            return "Down", "The backend instance is %s." % member.provisioning_state.lower()
        if member.health == "unhealthy":
            return "Down", "The health probe failed on this backend instance."
        instance = member.instance or self._vm_of_nic(member.holder_id)
        if instance is None:
            return "Up", "The health probe succeeded."
        properties = instance.get("properties") or {}
        if properties.get("provisioningState") in ("Creating", "Failed", "Deleting"):
            return "Down", "The backend instance is %s." % properties["provisioningState"].lower()
        view = properties.get("instanceView") or {}
        codes = [str(status.get("code", "")) for status in view.get("statuses") or [] if isinstance(status, dict)]
        power = self._power(instance) or next((code for code in codes if code.startswith("PowerState/")), None)
        if power is not None and power != "PowerState/running":
            return "Down", "The backend instance is not running (%s)." % power
        health = (((view.get("vmHealth") or {}).get("status") or {}).get("code")) or ""
        if health.lower() == "healthstate/unhealthy":
            return "Down", "The backend instance reports itself unhealthy."
        return "Up", "The health probe succeeded."

    def _vm_of_nic(self, nic_id: str) -> dict[str, Any] | None:
        for resource in list(self.emu.resources.values()):
            if str(resource.get("type", "")).lower() != "microsoft.compute/virtualmachines":
                continue
            interfaces = ((resource.get("properties") or {}).get("networkProfile") or {}).get("networkInterfaces")
            if any(_ref_id(item).lower() == nic_id.lower() for item in interfaces or []):
                return resource
        return None

    def _power(self, instance: dict[str, Any]) -> str | None:
        """The power state the VM emulator keeps for a virtual machine (None for anything else)."""
        state = getattr(self.emu.virtual_machines, "states", {}).get(instance["id"].lower())
        return "PowerState/%s" % state["power"] if state else None


def load_balancers(emu: ArmEmulator) -> LoadBalancers:
    """The emulator's load balancer type (its test settings: `LoadBalancers.set_probe`)."""
    return next(kind for kind in emu._types if isinstance(kind, LoadBalancers))
