"""The ARM emulator's Standard load balancers through azure-mgmt-network: the load balancer and its child collections,
backend pools as child resources, members that register by naming a pool, and the rules' health."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.network.models import BackendAddressPool
from emulators.arm_loadbalancer import load_balancers
from traffic_support import (
    lb_path,
    load_balancer,
    network_client,
    network_profile,
    plant_instance,
    plant_nic,
    plant_scale_set,
)

GROUP = "rg-web"


@pytest.fixture
def network(arm):
    arm.group(GROUP)
    return network_client(arm)


@pytest.fixture
def web_lb(arm, network):
    return network.load_balancers.begin_create_or_update(GROUP, "web-lb", load_balancer(arm, GROUP)).result()


def pool_id(arm, name="web-pool", lb="web-lb"):
    return lb_path(arm, GROUP, lb) + "/backendAddressPools/" + name


def test_a_load_balancer_is_created_over_several_polls_with_its_children_linked(arm, network):
    arm.emu.hold_operations()
    poller = network.load_balancers.begin_create_or_update(GROUP, "web-lb", load_balancer(arm, GROUP))
    during = network.load_balancers.get(GROUP, "web-lb")
    arm.emu.release_operations()
    made = poller.result()

    assert during.provisioning_state == "Creating"
    assert made.provisioning_state == "Succeeded" and made.sku.name == "Standard" and made.etag.startswith('W/"')
    assert arm.emu.calls["LoadBalancers_CreateOrUpdate"] == 1 and arm.emu.calls["AsyncOperations_Get"] >= 3
    pool, rule, probe = made.backend_address_pools[0], made.load_balancing_rules[0], made.probes[0]
    front = made.frontend_ip_configurations[0]
    assert pool.id == pool_id(arm) and pool.type == "Microsoft.Network/loadBalancers/backendAddressPools"
    # The rule names its pool both ways, and every child it uses names the rule back.
    assert rule.backend_address_pool.id == pool.id and [item.id for item in rule.backend_address_pools] == [pool.id]
    assert [item.id for item in pool.load_balancing_rules] == [rule.id]
    assert [item.id for item in probe.load_balancing_rules] == [rule.id]
    assert [item.id for item in front.load_balancing_rules] == [rule.id]
    assert pool.backend_ip_configurations == [] and front.private_ip_address
    assert (rule.idle_timeout_in_minutes, rule.load_distribution, rule.backend_port) == (4, "Default", 8080)
    assert (probe.interval_in_seconds, probe.number_of_probes) == (15, 2)


def test_children_are_read_one_by_one_and_listed(arm, network, web_lb):
    pool = network.load_balancer_backend_address_pools.get(GROUP, "web-lb", "web-pool")
    rules = list(network.load_balancer_load_balancing_rules.list(GROUP, "web-lb"))
    probe = network.load_balancer_probes.get(GROUP, "web-lb", "healthz")
    fronts = list(network.load_balancer_frontend_ip_configurations.list(GROUP, "web-lb"))

    assert pool.id == pool_id(arm) and pool.etag == web_lb.etag
    assert [rule.name for rule in rules] == ["http"] and probe.port == 8080 and fronts[0].name == "front"
    with pytest.raises(ResourceNotFoundError) as missing:
        network.load_balancer_backend_address_pools.get(GROUP, "web-lb", "nothing")
    assert missing.value.error.code == "NotFound"
    with pytest.raises(ResourceNotFoundError) as no_lb:
        network.load_balancer_backend_address_pools.get(GROUP, "other-lb", "web-pool")
    assert no_lb.value.error.code == "ResourceNotFound"


def test_a_rule_naming_what_is_not_there_and_duplicate_names_are_refused(arm, network):
    dangling = load_balancer(arm, GROUP)
    dangling.load_balancing_rules[0].backend_address_pool.id = pool_id(arm, "elsewhere")
    doubled = load_balancer(arm, GROUP, pools=("web-pool", "WEB-POOL"))

    with pytest.raises(HttpResponseError) as missing:
        network.load_balancers.begin_create_or_update(GROUP, "web-lb", dangling)
    with pytest.raises(HttpResponseError) as duplicate:
        network.load_balancers.begin_create_or_update(GROUP, "web-lb", doubled)

    assert missing.value.status_code == 400 and missing.value.error.code == "InvalidResourceReference"
    assert pool_id(arm, "elsewhere") in missing.value.error.message
    assert duplicate.value.error.code == "DuplicateResourceName"
    assert arm.emu.get(lb_path(arm, GROUP, "web-lb")) is None


def test_a_pool_is_added_and_deleted_as_a_child_resource_each_over_an_operation(arm, network, web_lb):
    pools = network.load_balancer_backend_address_pools
    arm.emu.hold_operations()
    poller = pools.begin_create_or_update(GROUP, "web-lb", "green-pool", BackendAddressPool())
    updating = network.load_balancers.get(GROUP, "web-lb").provisioning_state
    arm.emu.release_operations()
    added = poller.result()
    pools.begin_delete(GROUP, "web-lb", "green-pool").result()
    pools.begin_delete(GROUP, "web-lb", "green-pool").result()  # nothing to delete is a success

    assert updating == "Updating" and added.id == pool_id(arm, "green-pool")
    assert [pool.name for pool in network.load_balancers.get(GROUP, "web-lb").backend_address_pools] == ["web-pool"]
    assert arm.emu.calls["LoadBalancerBackendAddressPools_CreateOrUpdate"] == 1
    assert arm.emu.calls["LoadBalancerBackendAddressPools_Delete"] == 2


def test_a_pool_a_rule_sends_to_is_not_deleted(arm, network, web_lb):
    with pytest.raises(HttpResponseError) as refused:
        network.load_balancer_backend_address_pools.begin_delete(GROUP, "web-lb", "web-pool")

    assert refused.value.status_code == 400 and refused.value.error.code == "InvalidResourceReference"
    assert "loadBalancingRules/http" in refused.value.error.message
    assert network.load_balancer_backend_address_pools.get(GROUP, "web-lb", "web-pool").id == pool_id(arm)


def test_members_register_by_naming_the_pool_scale_set_instances_by_the_profile_they_were_built_with(
    arm, network, web_lb
):
    scale_set = plant_scale_set(arm, GROUP, "web-a", [pool_id(arm)], instances=2)
    plant_instance(arm, scale_set, "7", built_with=network_profile([]))  # built before the pool was named
    nic = plant_nic(arm, GROUP, "admin-nic", [pool_id(arm)])

    pool = network.load_balancer_backend_address_pools.get(GROUP, "web-lb", "web-pool")

    assert sorted(item.id for item in pool.backend_ip_configurations) == sorted(
        [
            scale_set + "/virtualMachines/0/networkInterfaces/nic/ipConfigurations/ipconfig",
            scale_set + "/virtualMachines/1/networkInterfaces/nic/ipConfigurations/ipconfig",
            nic + "/ipConfigurations/ipconfig1",
        ]
    )


def test_a_pool_or_load_balancer_a_scale_set_uses_is_not_removed(arm, network):
    lb = load_balancer(arm, GROUP, pools=("web-pool", "spare-pool"))
    made = network.load_balancers.begin_create_or_update(GROUP, "web-lb", lb).result()
    scale_set = plant_scale_set(arm, GROUP, "web-a", [pool_id(arm, "spare-pool")], instances=1)
    without = made  # the load balancer as read, its spare pool left out
    without.backend_address_pools = [pool for pool in made.backend_address_pools if pool.name == "web-pool"]

    with pytest.raises(HttpResponseError) as child_delete:
        network.load_balancer_backend_address_pools.begin_delete(GROUP, "web-lb", "spare-pool")
    with pytest.raises(HttpResponseError) as put_without:
        network.load_balancers.begin_create_or_update(GROUP, "web-lb", without)
    with pytest.raises(HttpResponseError) as lb_delete:
        network.load_balancers.begin_delete(GROUP, "web-lb")

    assert child_delete.value.error.code == "BackendAddressPoolInUseByVirtualMachineScaleSet"
    assert scale_set in child_delete.value.error.message
    assert put_without.value.error.code == "BackendAddressPoolInUseByVirtualMachineScaleSet"
    assert lb_delete.value.error.code == "LoadBalancerInUseByVirtualMachineScaleSet"


def test_a_stale_etag_is_refused_and_tags_change_at_once(arm, network, web_lb):
    with pytest.raises(HttpResponseError) as stale:
        network.load_balancers.begin_create_or_update(
            GROUP, "web-lb", load_balancer(arm, GROUP), headers={"If-Match": 'W/"not-the-etag"'}
        )
    tagged = network.load_balancers.update_tags(GROUP, "web-lb", {"tags": {"service": "web"}})

    assert stale.value.status_code == 412 and stale.value.error.code == "PreconditionFailed"
    assert tagged.tags == {"service": "web"} and tagged.etag != web_lb.etag
    assert arm.emu.calls["LoadBalancers_UpdateTags"] == 1


def test_rule_health_names_each_member_up_or_down_by_its_ip_configuration(arm, network, web_lb):
    scale_set = plant_scale_set(arm, GROUP, "web-a", [pool_id(arm)], instances=3)
    load_balancers(arm.emu).set_probe(scale_set + "/virtualMachines/1", up=False)
    arm.emu.resources[(scale_set + "/virtualMachines/2").lower()]["properties"]["instanceView"] = {
        "statuses": [{"code": "ProvisioningState/succeeded"}, {"code": "PowerState/stopped"}]
    }

    with arm.emu.counting() as calls:
        health = network.load_balancer_load_balancing_rules.begin_health(GROUP, "web-lb", "http").result()

    states = {
        address.network_interface_ip_configuration_id.split("/virtualMachines/")[1].split("/")[0]: address.state
        for address in health.load_balancer_backend_addresses
    }
    assert states == {"0": "Up", "1": "Down", "2": "Down"} and (health.up, health.down) == (1, 2)
    assert all(address.ip_address.startswith("10.0.") for address in health.load_balancer_backend_addresses)
    assert calls["LoadBalancerLoadBalancingRules_Health"] == 1 and calls["OperationResults_Get"] >= 1


def test_a_rule_sending_to_several_pools_is_healthy_as_their_members_are(arm, network):
    lb = load_balancer(arm, GROUP, pools=("blue-pool", "green-pool"), rule_pools=["blue-pool", "green-pool"])
    made = network.load_balancers.begin_create_or_update(GROUP, "web-lb", lb).result()
    plant_scale_set(arm, GROUP, "web-a", [pool_id(arm, "blue-pool")], instances=1)
    green = plant_scale_set(arm, GROUP, "web-b", [pool_id(arm, "green-pool")], instances=1)
    load_balancers(arm.emu).set_probe(green, up=False)

    health = network.load_balancer_load_balancing_rules.begin_health(GROUP, "web-lb", "http").result()

    rule = made.load_balancing_rules[0]
    assert [pool.id for pool in rule.backend_address_pools] == [pool_id(arm, "blue-pool"), pool_id(arm, "green-pool")]
    assert rule.backend_address_pool.id == pool_id(arm, "blue-pool")
    assert sorted(
        (address.network_interface_ip_configuration_id.split("/")[8], address.state)
        for address in health.load_balancer_backend_addresses
    ) == [("web-a", "Up"), ("web-b", "Down")]
