"""What the Azure traffic backend reads and edits without a call: references, the pools rules send to, a scale set
model's pool references, which instances need the latest model, and health answers named by instance."""

from __future__ import annotations

import pytest

from ansible_collections.phoenix.immutable.plugins.module_utils._azure import pool_transformations as pools
from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import InvalidInput

SUBSCRIPTION = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
LB = "/subscriptions/%s/resourceGroups/rg-web/providers/Microsoft.Network/loadBalancers/web-lb" % SUBSCRIPTION
POOL = LB + "/backendAddressPools/web-pool"
SCALE_SET = "/subscriptions/%s/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachineScaleSets/web-a" % (
    SUBSCRIPTION
)


def configurations(*pool_lists):
    """NIC configurations: a primary one with an IP configuration per pool list, and a secondary NIC."""
    ip_configurations = [
        {
            "name": "ip%d" % index,
            "properties": {"loadBalancerBackendAddressPools": [{"id": pool} for pool in pool_list]},
        }
        for index, pool_list in enumerate(pool_lists)
    ]
    return [
        {"name": "second", "properties": {"ipConfigurations": [{"name": "x", "properties": {}}]}},
        {"name": "nic", "properties": {"primary": True, "ipConfigurations": ip_configurations}},
    ]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("web-lb", ("rg-default", "web-lb", None)),
        ("web-lb/http", ("rg-default", "web-lb", "http")),
        (LB, ("rg-web", "web-lb", None)),
        (LB + "/loadBalancingRules/http", ("rg-web", "web-lb", "http")),
        (LB.upper() + "/LOADBALANCINGRULES/http", ("RG-WEB", "WEB-LB", "http")),
    ],
)
def test_a_frontend_is_a_load_balancer_or_one_of_its_rules(text, expected):
    assert pools.reference(text, "loadBalancingRules", "rg-default", "frontend", "rule") == expected


@pytest.mark.parametrize(
    "text",
    ["", "a/b/c", "-lb", LB + "/probes/healthz", "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Compute/x/y"],
)
def test_anything_else_is_refused_before_any_call(text):
    with pytest.raises(InvalidInput, match="frontend"):
        pools.reference(text, "loadBalancingRules", "rg-default", "frontend", "load balancer or rule")


def test_a_rule_sends_to_its_pool_list_and_its_single_pool_once_each():
    rule = {"properties": {"backendAddressPool": {"id": POOL.upper()}, "backendAddressPools": [{"id": POOL}]}}
    other = {"properties": {"backendAddressPools": [{"id": LB + "/backendAddressPools/green"}]}}
    balancer = {"properties": {"loadBalancingRules": [dict(rule, name="http"), dict(other, name="https")]}}

    assert pools.pools_of_rule(rule) == [POOL]
    assert pools.pools_of_rule({"properties": {}}) == []
    assert [item["name"] for item in pools.rules_sending_to(balancer, POOL.lower())] == ["http"]
    assert [item["name"] for item in pools.rules_of(balancer, "HTTPS")] == ["https"]


def test_the_pool_goes_into_the_primary_ip_configuration_and_out_of_every_one():
    model = configurations([], [POOL])

    added = pools.with_pool(configurations([]), POOL)
    again = pools.with_pool(added, POOL.lower())
    removed = pools.without_pool(model, POOL.upper())

    assert added[1]["properties"]["ipConfigurations"][0]["properties"]["loadBalancerBackendAddressPools"] == [
        {"id": POOL}
    ]
    assert again == added and pools.names_pool(added, POOL)
    assert not pools.names_pool(removed, POOL) and pools.without_pool(removed, POOL) == removed
    assert pools.with_pool([], POOL) is None
    assert pools.network_patch(added) == {
        "properties": {"virtualMachineProfile": {"networkProfile": {"networkInterfaceConfigurations": added}}}
    }


def test_instances_are_upgraded_when_their_applied_profile_is_not_what_is_wanted():
    def instance(number, applied=None, state="Succeeded", latest=True):
        properties = {"provisioningState": state, "latestModelApplied": latest}
        if applied is not None:
            properties["networkProfileConfiguration"] = {"networkInterfaceConfigurations": applied}
        return {"instanceId": str(number), "properties": properties}

    instances = [
        instance(0, configurations([POOL])),
        instance(1, configurations([])),
        instance(2, configurations([]), state="Deleting"),
        instance(3, latest=False),
        instance(4, latest=True),
    ]

    assert pools.instances_to_upgrade(instances, POOL, attached=True) == ["1", "3"]
    assert pools.instances_to_upgrade(instances, POOL, attached=False) == ["0", "3"]


def test_a_backend_address_is_named_by_its_scale_set_instance_or_nic():
    instance = SCALE_SET + "/virtualMachines/3"
    nic_config = "/subscriptions/%s/resourceGroups/rg-web/providers/Microsoft.Network/networkInterfaces/n1" % (
        SUBSCRIPTION
    )

    assert pools.instance_of_ip_configuration(instance + "/networkInterfaces/nic/ipConfigurations/ip") == instance
    assert pools.instance_of_ip_configuration(nic_config + "/ipConfigurations/ip") is None
    assert pools.nic_of_ip_configuration(nic_config + "/ipConfigurations/ip") == ("rg-web", "n1")
    assert pools.nic_of_ip_configuration(instance) is None


def test_states_keep_the_worst_and_are_looked_up_in_any_case():
    states = pools.ArmIdStates()
    states["/A/b"] = pools.worse(states.get("/a/B"), pools.address_state({"state": "Up"}))
    states["/a/B"] = pools.worse(states.get("/a/B"), pools.address_state({"state": "Down"}))
    states["/a/b"] = pools.worse(states.get("/a/b"), pools.address_state({"state": "Up"}))

    assert dict(states) == {"/A/b": "unhealthy"}
    assert "/A/B" in states and states["/a/b"] == "unhealthy" and states.get("/x", "none") == "none"
    assert pools.address_state({}) == "unknown"
