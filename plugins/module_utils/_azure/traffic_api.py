# Private to this collection.
"""One small function per ARM call of the traffic backend: load balancers, their pools and rules' health, and the
scale set reads and writes that put a group's instances into a pool.

Each goes through the connection: ``connection.call`` for a read, ``connection.wait`` for a long-running
operation (started, retried, waited for within the task's timeout). What they return is ARM's JSON (the
``as_dict()`` of the SDK's models); lists are read a page at a time, each page one retried call.
"""

from __future__ import annotations


def _json(model):
    return model.as_dict() if model is not None and hasattr(model, "as_dict") else model


def _every(connection, operation, paged, resource=None):
    """Every item of an SDK list (an ItemPaged), a page (one retried call) at a time, as ARM JSON."""
    iterator = paged.by_page()
    items = []
    while True:
        page = connection.call(operation, next, iterator, None, resource=resource)
        if page is None:
            return items
        items.extend(_json(item) for item in page)


# -- load balancers ------------------------------------------------------------------------------


def get_load_balancer(connection, resource_group, name):
    network = connection.network()
    return _json(connection.call("LoadBalancers_Get", network.load_balancers.get, resource_group, name, resource=name))


def list_load_balancers(connection, resource_group):
    network = connection.network()
    return _every(
        connection, "LoadBalancers_List", network.load_balancers.list(resource_group), resource=resource_group
    )


def get_pool(connection, resource_group, balancer, pool):
    network = connection.network()
    return _json(
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
    return _json(
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
    return _json(
        connection.call("NetworkInterfaces_Get", network.network_interfaces.get, resource_group, name, resource=name)
    )


# -- scale sets ----------------------------------------------------------------------------------


def get_scale_set(connection, resource_group, name):
    compute = connection.compute()
    return _json(
        connection.call(
            "VirtualMachineScaleSets_Get", compute.virtual_machine_scale_sets.get, resource_group, name, resource=name
        )
    )


def update_scale_set(connection, resource_group, name, patch):
    """PATCH the scale set (a JSON merge of ``patch``: a list in it replaces the list) and wait."""
    compute = connection.compute()
    return _json(
        connection.wait(
            "VirtualMachineScaleSets_Update",
            compute.virtual_machine_scale_sets.begin_update,
            resource_group,
            name,
            patch,
            resource=name,
        )
    )


def list_scale_set_instances(connection, resource_group, name):
    compute = connection.compute()
    return _every(
        connection,
        "VirtualMachineScaleSetVMs_List",
        compute.virtual_machine_scale_set_vms.list(resource_group, name),
        resource=name,
    )


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
