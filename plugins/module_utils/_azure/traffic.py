# Private to this collection.
"""A Standard load balancer's backend pools behind the cloud-neutral TrafficBackend: traffic moves by membership.

The *frontend* is a load balancer (its name in the connection's resource group, or its ARM id), or one of its
load-balancing rules (``LB/RULE`` or the rule's id); a *backend* is a backend address pool, and its id is the
pool's ARM id as the load balancer answers it (``LB/POOL`` is taken too). ``shares`` reads the load balancer:
100 for each pool its rules (or the one rule) send to.

The split is MEMBERSHIP: a pool has no weights, the load balancer spreads flows over every healthy member, so the
core moves traffic by instance counts (green joins blue's pool with a share of blue's size at each canary step;
at 100 blue leaves). ``set_shares`` and ``create_backend_like`` are refused: the core never calls them on a
MEMBERSHIP backend, and a pool carries no tags that could tell one made for a service from someone else's.

A group (a Uniform scale set; a Flexible one is refused) is attached by naming the pool in its model's primary IP
configuration (one PATCH of the model's NIC configurations; the rest of the model is never touched), and detached
by removing every reference to the pool. A Uniform scale set's instances keep the model they were built with: the
instances whose applied network profile does not yet say what the model says are brought to the latest model
(``manualupgrade``) and waited for, which also applies any other change of the model not yet rolled out to them.
Both are idempotent and resume after a kill: the instances are compared every time, not only after a change of
the model.

``backend_health`` asks ARM what the probes of the rules that send to the pool see
(``LoadBalancerLoadBalancingRules_Health``, a long-running POST per rule): per IP configuration ``Up`` or ``Down``,
named by the scale set instance it belongs to (a NIC's by its virtual machine). An instance several rules probe
is as healthy as its worst probe says. Lookups in the answer ignore case, as ARM's ids do.
"""

from __future__ import annotations

from .._core.backends import MEMBERSHIP, TrafficBackend
from .._core.errors import InvalidInput, PhoenixError
from .._core.fleet import Backend
from . import pool_transformations as pools
from . import scale_sets
from . import traffic_api as api
from .codec import AZURE_CODEC
from .errors import AzureApiError, NotFound
from .identifiers import parse_resource_id

# The answers of a pool deletion NRP refuses because a rule or a member still uses the pool.
IN_USE_STATUSES = (400, 409)
UPGRADE_MANUAL = "manual"


def backend_from_pool(pool, load_balancer_id):
    """fleet.Backend of a pool: its id as ARM answers it, ``LB/POOL`` as its name (unique in a resource group)."""
    properties = pool.get("properties") or {}
    return Backend(
        id=pool["id"],
        name="%s/%s" % (load_balancer_id.rstrip("/").rsplit("/", 1)[-1], pool["name"]),
        settings={
            "loadBalancer": load_balancer_id,
            "loadBalancingRules": [rule.get("id") for rule in properties.get("loadBalancingRules") or []],
        },
    )


def _unsupported(what):
    return PhoenixError(
        "a load balancer backend pool has no traffic weights: %s is not supported on azure (split=membership)" % what,
        code="Unsupported",
        cloud="azure",
        hint="Azure moves traffic by the instances in the pool; the rollout does this itself on split=membership.",
    )


class AzureTrafficBackend(TrafficBackend):
    cloud = "azure"
    split = MEMBERSHIP
    codec = AZURE_CODEC

    def __init__(self, connection):
        self.connection = connection
        self._read = {}  # (resource group, load balancer) lower-cased: the load balancer as this task last read it
        self._machines = {}  # NIC IP configuration id (lower): the virtual machine it belongs to

    # -- references ------------------------------------------------------------------------------

    def _frontend(self, frontend):
        return pools.reference(
            frontend,
            "loadBalancingRules",
            self.connection.resource_group,
            "frontend",
            "load balancer or load-balancing rule",
        )

    def _pool(self, backend_id):
        group, balancer, pool = pools.reference(
            backend_id, "backendAddressPools", self.connection.resource_group, "backend", "backend address pool"
        )
        if pool is None:
            raise InvalidInput(
                "backend %r names a load balancer, not one of its backend address pools" % (backend_id,),
                resource=str(backend_id),
                hint="Give the pool's id (.../loadBalancers/LB/backendAddressPools/POOL) or LB/POOL.",
            )
        return group, balancer, pool

    def _load_balancer(self, group, balancer, fresh=False):
        key = (group.lower(), balancer.lower())
        if fresh or key not in self._read:
            self._read[key] = api.get_load_balancer(self.connection, group, balancer)
        return self._read[key]

    def _scale_set(self, group):
        """(resource group, scale set name) of a group: its name in the connection's resource group, or its id."""
        if str(group).startswith("/"):
            parts = parse_resource_id(group)
            return parts["resource_group"], parts["name"]
        if not self.connection.resource_group:
            raise InvalidInput(
                "no Azure resource group given for scale set %s" % group,
                resource=str(group),
                hint="Set resource_group (or AZURE_RESOURCE_GROUP): the service's scale sets live in it.",
            )
        return self.connection.resource_group, group

    # -- the split -------------------------------------------------------------------------------

    def shares(self, frontend):
        group, balancer, rule = self._frontend(frontend)
        load_balancer = self._load_balancer(group, balancer, fresh=True)
        rules = pools.rules_of(load_balancer, rule)
        if rule is not None and not rules:
            raise PhoenixError(
                "load balancer %s has no load-balancing rule %s" % (load_balancer["id"], rule),
                resource=load_balancer["id"],
                code="NotFound",
                cloud="azure",
                hint="Name a rule the load balancer has, or the load balancer itself (all its rules).",
            )
        return {pool_id: 100 for item in rules for pool_id in pools.pools_of_rule(item)}

    def set_shares(self, frontend, shares):
        raise _unsupported("set_shares")

    # -- pools -----------------------------------------------------------------------------------

    def backend(self, backend_id):
        group, balancer, name = self._pool(backend_id)
        try:
            load_balancer = self._load_balancer(group, balancer, fresh=True)
        except NotFound:
            return None
        pool = pools.pool_of(load_balancer, name)
        return backend_from_pool(pool, load_balancer["id"]) if pool else None

    def find_backend(self, name):
        """The pool ``LB/POOL`` (or an ARM id); a bare pool name is looked for in every load balancer of the
        connection's resource group, and must be found in one only."""
        text = str(name or "")
        if "/" in text:
            try:
                return self.backend(text)
            except InvalidInput:
                return None
        if not pools.NAME.match(text) or not self.connection.resource_group:
            return None
        found = []
        for load_balancer in api.list_load_balancers(self.connection, self.connection.resource_group):
            pool = pools.pool_of(load_balancer, text)
            if pool is not None:
                found.append(backend_from_pool(pool, load_balancer["id"]))
        if len(found) > 1:
            raise PhoenixError(
                "backend pool %s is in %d load balancers of resource group %s: %s"
                % (text, len(found), self.connection.resource_group, ", ".join(item.name for item in found)),
                resource=text,
                code="Ambiguous",
                cloud="azure",
                hint="Name the pool as LB/POOL or by its id.",
            )
        return found[0] if found else None

    def create_backend_like(self, name, model, labels):
        raise _unsupported("create_backend_like")

    def delete_backend(self, backend_id):
        group, balancer, name = self._pool(backend_id)
        try:
            api.delete_pool(self.connection, group, balancer, name)
        except NotFound:
            return  # the load balancer is gone, and its pools with it
        except AzureApiError as error:
            if error.status not in IN_USE_STATUSES:
                raise
            raise PhoenixError(
                "backend pool %s/%s was not deleted: it is still in use (%s)" % (balancer, name, error.message),
                resource=str(backend_id),
                code=error.code,
                cloud="azure",
                hint="A load-balancing rule still sends to it, or a scale set or NIC still names it: change those "
                "first.",
            ) from None
        self._read.pop((group.lower(), balancer.lower()), None)

    # -- groups ----------------------------------------------------------------------------------

    def attach(self, group, backend_id):
        self._change_membership(group, backend_id, attached=True)

    def detach(self, group, backend_id):
        self._change_membership(group, backend_id, attached=False)

    def _change_membership(self, group, backend_id, attached):
        pool_id = self._pool_id(backend_id)
        resource_group, name = self._scale_set(group)

        def patch_of(scale_set):
            properties = scale_set.get("properties") or {}
            if (properties.get("orchestrationMode") or "Uniform").lower() != "uniform":
                # A Flexible scale set's instances are VMs with NICs of their own: its model reaches new ones only.
                raise PhoenixError(
                    "scale set %s uses %s orchestration: only Uniform scale sets are put into or taken out of a "
                    "backend pool" % (scale_set.get("id", name), properties["orchestrationMode"]),
                    resource=scale_set.get("id", name),
                    code="Unsupported",
                    cloud="azure",
                    hint="Use Uniform scale sets for the service's groups.",
                )
            configurations = pools.interface_configurations(properties.get("virtualMachineProfile"))
            if attached:
                changed = pools.with_pool(configurations, pool_id)
                if changed is None:
                    raise PhoenixError(
                        "scale set %s has no network interface configuration to put in backend pool %s"
                        % (scale_set.get("id", name), pool_id),
                        resource=scale_set.get("id", name),
                        code="InvalidScaleSet",
                        cloud="azure",
                        hint="Give the scale set a primary NIC configuration with an IP configuration.",
                    )
            else:
                changed = pools.without_pool(configurations, pool_id)
            return pools.network_patch(changed) if changed != configurations else None

        try:
            scale_set = scale_sets.modify_scale_set(self.connection, resource_group, name, patch_of)
        except NotFound:
            if attached:
                raise
            return  # a scale set that is gone is in no pool
        properties = scale_set.get("properties") or {}
        mode = ((properties.get("upgradePolicy") or {}).get("mode") or "Manual").lower()
        if mode == UPGRADE_MANUAL:
            # Existing instances keep the model they were built with until they are upgraded.
            instances = scale_sets.list_scale_set_instances(self.connection, resource_group, name)
            stale = pools.instances_to_upgrade(instances, pool_id, attached)
            if stale:
                api.upgrade_instances(self.connection, resource_group, name, stale)

    def _pool_id(self, backend_id):
        """The pool's ARM id: as given when it is one, else made from ``LB/POOL`` in the connection's group."""
        if str(backend_id).startswith("/"):
            self._pool(backend_id)
            return str(backend_id)
        group, balancer, name = self._pool(backend_id)
        return self.connection.resource_id(
            "Microsoft.Network/loadBalancers/backendAddressPools", balancer, name, resource_group=group
        )

    # -- health ----------------------------------------------------------------------------------

    def backend_health(self, backend_id):
        group, balancer, name = self._pool(backend_id)
        try:
            load_balancer = self._load_balancer(group, balancer)
        except NotFound:
            return {}
        pool = pools.pool_of(load_balancer, name)
        if pool is None:
            return {}
        states = pools.ArmIdStates()
        for rule in pools.rules_sending_to(load_balancer, pool["id"]):
            try:
                health = api.rule_health(self.connection, group, balancer, rule["name"])
            except NotFound:
                # The load balancer changed since this task read it: read it again next time.
                self._read.pop((group.lower(), balancer.lower()), None)
                raise
            for address in (health or {}).get("loadBalancerBackendAddresses") or []:
                instance = self._instance_of(address.get("networkInterfaceIPConfigurationId"))
                if instance:
                    states[instance] = pools.worse(states.get(instance), pools.address_state(address))
        return states

    def _instance_of(self, reference):
        """The instance id of a backend address: a scale set instance's, or the VM a NIC belongs to."""
        ip_configuration_id = reference.get("id") if isinstance(reference, dict) else reference
        if not ip_configuration_id:
            return None
        instance = pools.instance_of_ip_configuration(ip_configuration_id)
        if instance is not None:
            return instance
        key = ip_configuration_id.lower()
        if key not in self._machines:
            nic = pools.nic_of_ip_configuration(ip_configuration_id)
            machine = None
            if nic is not None:
                try:
                    interface = api.get_network_interface(self.connection, *nic)
                except NotFound:
                    interface = {}
                machine = ((interface.get("properties") or {}).get("virtualMachine") or {}).get("id")
            self._machines[key] = machine or ip_configuration_id.split("/ipConfigurations/")[0]
        return self._machines[key]

    def api_calls(self):
        return self.connection.api_calls()
