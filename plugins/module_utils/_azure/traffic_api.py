# Private to this collection.
"""One small function per ARM call of the traffic backend: load balancers, their pools and rules' health, and the
scale set upgrade that brings a group's instances into a pool (its other scale-set calls are ``scale_sets``).

Each goes through the connection: ``connection.call`` for a read, ``connection.wait`` for a long-running
operation (started, retried, waited for within the task's timeout). What they return is ARM's JSON (the
``as_dict()`` of the SDK's models); lists are read a page at a time, each page one retried call.
"""

from __future__ import annotations

from .connection import arm_json
from .scale_sets import every

# -- load balancers ------------------------------------------------------------------------------


def get_load_balancer(connection, resource_group, name):
    network = connection.network()
    return arm_json(
        connection.call("LoadBalancers_Get", network.load_balancers.get, resource_group, name, resource=name)
    )


def list_load_balancers(connection, resource_group):
    network = connection.network()
    return every(connection, "LoadBalancers_List", network.load_balancers.list(resource_group), resource=resource_group)


def get_pool(connection, resource_group, balancer, pool):
    network = connection.network()
    return arm_json(
        connection.call(
            "LoadBalancerBackendAddressPools_Get",
            network.load_balancer_backend_address_pools.get,
            resource_group,
            balancer,
            pool,
            resource="%s/%s" % (balancer, pool),
        )
    )


def delete_pool(connection, resource_group, balancer, pool):
    """DELETE the pool and wait (a change of its load balancer); a pool already gone is a success."""
    network = connection.network()
    connection.wait(
        "LoadBalancerBackendAddressPools_Delete",
        network.load_balancer_backend_address_pools.begin_delete,
        resource_group,
        balancer,
        pool,
        resource="%s/%s" % (balancer, pool),
    )


def rule_health(connection, resource_group, balancer, rule):
    """What the rule's probe sees of each backend address (``LoadBalancerHealthPerRule``): a long-running POST."""
    network = connection.network()
    return arm_json(
        connection.wait(
            "LoadBalancerLoadBalancingRules_Health",
            network.load_balancer_load_balancing_rules.begin_health,
            resource_group,
            balancer,
            rule,
            resource="%s/%s" % (balancer, rule),
        )
    )


def get_network_interface(connection, resource_group, name):
    network = connection.network()
    return arm_json(
        connection.call("NetworkInterfaces_Get", network.network_interfaces.get, resource_group, name, resource=name)
    )


# -- scale sets ----------------------------------------------------------------------------------


def upgrade_instances(connection, resource_group, name, instance_ids):
    """``POST .../manualupgrade``: the instances take the scale set's latest model; waits until they have."""
    compute = connection.compute()
    connection.wait(
        "VirtualMachineScaleSets_UpdateInstances",
        compute.virtual_machine_scale_sets.begin_update_instances,
        resource_group,
        name,
        {"instanceIds": list(instance_ids)},
        resource=name,
    )
