# Private to this collection.
"""What the traffic backend reads in ARM's JSON and how it changes it, without a call: references to load balancers,
rules and pools, the pools a load balancer's rules send to, and a scale set model's pool references.

ARM compares ids case-insensitively, and not every service answers an id in the case it was written in (Compute
may upper-case the resource group of a reference): every comparison here goes through ``same_id``.
"""

from __future__ import annotations

import copy
import re

from .._core.errors import InvalidInput
from .identifiers import parse_resource_id, same_id

NETWORK = "microsoft.network"
# A load balancer's, a rule's or a pool's name: 1 to 80 letters, digits, '_', '.', '-', starting with a letter or
# digit and ending with a letter, digit or '_'.
NAME = re.compile(r"[A-Za-z0-9]([\w.-]{0,78}\w)?\Z")
# The rules' health states in the core's words (health.HEALTHY_TARGET is "healthy").
HEALTH_STATES = {"up": "healthy", "down": "unhealthy"}
# How bad a state is, to keep the worst one of an instance several rules probe.
_SEVERITY = {"healthy": 0}


def _pair(text):
    parts = str(text or "").split("/")
    return parts if len(parts) == 2 and all(NAME.match(part) for part in parts) else None


def reference(text, child_type, default_group, option, what):
    """(resource group, load balancer, child name or None) of a load balancer or of one of its ``child_type``.

    ``text`` is an ARM id (``.../loadBalancers/LB`` or ``.../loadBalancers/LB/<child_type>/NAME``), ``LB/NAME``
    or ``LB`` (both in ``default_group``). InvalidInput, before any call, for anything else.
    """
    text = str(text or "").strip()
    if text.startswith("/"):
        try:
            parts = parse_resource_id(text)
        except ValueError:
            parts = None
        if (
            parts
            and parts["provider"].lower() == NETWORK
            and [kind.lower() for kind in parts["types"]]
            in (
                ["loadbalancers"],
                ["loadbalancers", child_type.lower()],
            )
        ):
            names = parts["names"]
            return parts["resource_group"], names[0], names[1] if len(names) == 2 else None
    elif default_group:
        pair = _pair(text)
        if pair:
            return default_group, pair[0], pair[1]
        if NAME.match(text):
            return default_group, text, None
    raise InvalidInput(
        "%s %r is not a %s" % (option, text, what),
        resource=text or None,
        hint="Give the ARM id (/subscriptions/S/resourceGroups/RG/providers/Microsoft.Network/loadBalancers/LB%s), "
        "or LB/NAME in the connection's resource group (resource_group)." % ("/%s/NAME" % child_type),
    )


def rules_of(load_balancer, rule_name=None):
    """The load-balancing rules of the load balancer, or the one named (an empty list when it has none such)."""
    rules = (load_balancer.get("properties") or {}).get("loadBalancingRules") or []
    if rule_name is None:
        return list(rules)
    return [rule for rule in rules if (rule.get("name") or "").lower() == rule_name.lower()]


def pools_of_rule(rule):
    """The pool ids a rule sends to, once each: its ``backendAddressPools`` and its ``backendAddressPool``."""
    properties = rule.get("properties") or {}
    found = []
    for pool in [*(properties.get("backendAddressPools") or []), properties.get("backendAddressPool")]:
        pool_id = (pool or {}).get("id")
        if pool_id and not any(same_id(pool_id, seen) for seen in found):
            found.append(pool_id)
    return found


def pool_of(load_balancer, name):
    """The pool of that name in the load balancer, or None."""
    for pool in (load_balancer.get("properties") or {}).get("backendAddressPools") or []:
        if (pool.get("name") or "").lower() == name.lower():
            return pool
    return None


def rules_sending_to(load_balancer, pool_id):
    return [rule for rule in rules_of(load_balancer) if any(same_id(pool_id, pool) for pool in pools_of_rule(rule))]


# -- a scale set model's network profile ----------------------------------------------------------


def interface_configurations(profile):
    """A copy of the model's NIC configurations (what a PATCH of the network profile sends whole)."""
    network = (profile or {}).get("networkProfile") or {}
    return copy.deepcopy(network.get("networkInterfaceConfigurations") or [])


def _primary(items):
    return next((item for item in items if (item.get("properties") or {}).get("primary")), items[0] if items else None)


def primary_ip_configuration(configurations):
    """The primary IP configuration of the primary NIC configuration: where a pool reference belongs."""
    nic = _primary(configurations)
    return _primary((nic.get("properties") or {}).get("ipConfigurations") or []) if nic else None


def ip_configurations_of(configurations):
    return [
        ip_configuration
        for nic in configurations
        for ip_configuration in (nic.get("properties") or {}).get("ipConfigurations") or []
    ]


def names_pool(configurations, pool_id):
    """Whether any IP configuration of these NIC configurations names the pool."""
    return any(
        same_id(pool_id, reference.get("id"))
        for ip_configuration in ip_configurations_of(configurations)
        for reference in (ip_configuration.get("properties") or {}).get("loadBalancerBackendAddressPools") or []
    )


def with_pool(configurations, pool_id):
    """The configurations with the pool added to the primary IP configuration (unchanged when it names it)."""
    changed = copy.deepcopy(configurations)
    primary = primary_ip_configuration(changed)
    if primary is None:
        return None
    if not names_pool(changed, pool_id):
        properties = primary.setdefault("properties", {})
        properties["loadBalancerBackendAddressPools"] = list(properties.get("loadBalancerBackendAddressPools") or [])
        properties["loadBalancerBackendAddressPools"].append({"id": pool_id})
    return changed


def without_pool(configurations, pool_id):
    """The configurations with every reference to the pool removed."""
    changed = copy.deepcopy(configurations)
    for ip_configuration in ip_configurations_of(changed):
        properties = ip_configuration.get("properties") or {}
        if properties.get("loadBalancerBackendAddressPools"):
            properties["loadBalancerBackendAddressPools"] = [
                reference
                for reference in properties["loadBalancerBackendAddressPools"]
                if not same_id(pool_id, reference.get("id"))
            ]
    return changed


def network_patch(configurations):
    """A scale set PATCH that replaces only its model's NIC configurations."""
    return {
        "properties": {"virtualMachineProfile": {"networkProfile": {"networkInterfaceConfigurations": configurations}}}
    }


def instances_to_upgrade(instances, pool_id, attached):
    """Instance ids whose applied network profile does not (``attached``) or does (not ``attached``) name the pool.

    An instance that does not show the profile it was built with is upgraded when it is not on the latest model.
    Instances being deleted are left alone.
    """
    wanted = []
    for instance in instances:
        properties = instance.get("properties") or {}
        if properties.get("provisioningState") == "Deleting":
            continue
        applied = properties.get("networkProfileConfiguration")
        if applied is None:
            stale = properties.get("latestModelApplied") is False
        else:
            stale = names_pool(applied.get("networkInterfaceConfigurations") or [], pool_id) != attached
        if stale:
            wanted.append(str(instance.get("instanceId")))
    return wanted


# -- health -----------------------------------------------------------------------------------------


def instance_of_ip_configuration(ip_configuration_id):
    """The scale set instance id (``.../virtualMachineScaleSets/S/virtualMachines/N``) an IP configuration belongs
    to, or None for a NIC's own (``.../networkInterfaces/NIC/ipConfigurations/X``)."""
    marker = "/virtualmachines/"
    lowered = ip_configuration_id.lower()
    if "/virtualmachinescalesets/" not in lowered or marker not in lowered:
        return None
    start = lowered.index(marker) + len(marker)
    end = lowered.find("/", start)
    return ip_configuration_id[: end if end != -1 else len(ip_configuration_id)]


def nic_of_ip_configuration(ip_configuration_id):
    """(resource group, NIC name) of a NIC's IP configuration id, or None."""
    try:
        parts = parse_resource_id(ip_configuration_id)
    except ValueError:
        return None
    kinds = [kind.lower() for kind in parts["types"]]
    if parts["provider"].lower() != NETWORK or kinds[:1] != ["networkinterfaces"]:
        return None
    return parts["resource_group"], parts["names"][0]


def address_state(address):
    """The core's word for one backend address's state (``Up`` healthy, ``Down`` unhealthy, else lower case)."""
    state = str(address.get("state") or "unknown")
    return HEALTH_STATES.get(state.lower(), state.lower())


def worse(first, second):
    """The worse of two states (anything but healthy is worse than healthy)."""
    if first is None:
        return second
    return first if _SEVERITY.get(first, 1) >= _SEVERITY.get(second, 1) else second


class ArmIdStates(dict):
    """{instance id: state} whose lookups ignore case, as ARM's ids do (NRP and Compute need not agree on it)."""

    def __init__(self):
        super().__init__()
        self._keys = {}

    def __setitem__(self, key, value):
        key = self._keys.setdefault(key.lower(), key)
        super().__setitem__(key, value)

    def __getitem__(self, key):
        return super().__getitem__(self._keys.get(str(key).lower(), key))

    def __contains__(self, key):
        return str(key).lower() in self._keys

    def get(self, key, default=None):
        actual = self._keys.get(str(key).lower())
        return default if actual is None else super().__getitem__(actual)
