"""AzureTrafficBackend and AzureHealthBackend through a real AzureConnection on the ARM emulator: a Standard load
balancer's pools as backends (split by membership), scale sets attached by their model's IP configuration and their
instances brought to it, and the rules' health per instance."""

from __future__ import annotations

from typing import Any

import pytest
from emulators.arm_loadbalancer import load_balancers
from emulators.arm_scaleset import members_of_pool, scale_sets_of
from scaleset_support import gallery_images, scale_set
from traffic_support import lb_path, load_balancer, network_client

from ansible_collections.phoenix.immutable.plugins.module_utils import providers
from ansible_collections.phoenix.immutable.plugins.module_utils._azure.errors import NotFound
from ansible_collections.phoenix.immutable.plugins.module_utils._azure.health import AzureHealthBackend
from ansible_collections.phoenix.immutable.plugins.module_utils._azure.traffic import AzureTrafficBackend
from ansible_collections.phoenix.immutable.plugins.module_utils._core.backends import MEMBERSHIP
from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import InvalidInput, PhoenixError
from ansible_collections.phoenix.immutable.plugins.module_utils._core.health import HealthCheck, HealthSpec


class Setup:
    """What a user made before the collection runs (its own SDK clients: its calls are not the backend's)."""

    def __init__(self, arm: Any, group: str) -> None:
        self.arm = arm
        self.group = group
        self.compute = arm.compute()
        self.network = network_client(arm)
        self.image = gallery_images(arm, group)[0]

    def pool(self, name: str = "web-pool", balancer: str = "web-lb") -> str:
        return lb_path(self.arm, self.group, balancer) + "/backendAddressPools/" + name

    def load_balancer(self, **options: Any) -> dict[str, Any]:
        body = load_balancer(self.arm, self.group, **options)
        return self.network.load_balancers.begin_create_or_update(self.group, "web-lb", body).result().as_dict()

    def scale_set(self, name: str, pools: tuple[str, ...] = (), capacity: int = 2, upgrade: str = "Manual") -> str:
        body = scale_set(self.arm.emu.location, self.image, capacity=capacity, pools=pools, upgrade=upgrade)
        return self.compute.virtual_machine_scale_sets.begin_create_or_update(self.group, name, body).result().id

    def instance_ids(self, name: str) -> list[str]:
        return [vm.id for vm in self.compute.virtual_machine_scale_set_vms.list(self.group, name)]

    def members(self, pool: str) -> list[str]:
        """The instances in the pool, as the load balancer answers its backendIPConfigurations."""
        answer = self.network.load_balancer_backend_address_pools.get(self.group, "web-lb", pool.rsplit("/", 1)[1])
        return sorted(item.id.split("/networkInterfaces/")[0] for item in answer.backend_ip_configurations)

    def model_pools(self, name: str) -> list[str]:
        model = self.compute.virtual_machine_scale_sets.get(self.group, name).as_dict()
        configurations = model["properties"]["virtualMachineProfile"]["networkProfile"]
        return [
            reference["id"]
            for nic in configurations["networkInterfaceConfigurations"]
            for ip_configuration in nic["properties"]["ipConfigurations"]
            for reference in ip_configuration["properties"].get("loadBalancerBackendAddressPools") or []
        ]


@pytest.fixture
def setup(azure, azure_params):
    return Setup(azure, azure_params["resource_group"])


@pytest.fixture
def traffic(azure_connection):
    return AzureTrafficBackend(azure_connection)


@pytest.fixture
def blue(setup):
    """web-a (2 instances) in pool web-pool, which the rule http of load balancer web-lb sends to; the pool's id."""
    setup.load_balancer()
    setup.scale_set("web-a", pools=(setup.pool(),))
    return setup.pool()


def calls(traffic: AzureTrafficBackend, name: str) -> int:
    return traffic.api_calls().get(name, 0)


def calls_since(traffic: AzureTrafficBackend, before: dict[str, int]) -> dict[str, int]:
    now = traffic.api_calls()
    return {key: count - before.get(key, 0) for key, count in now.items() if count != before.get(key, 0)}


def test_shares_are_each_pool_the_rules_send_to_and_weights_are_refused(setup, traffic, blue):
    by_name = traffic.shares("web-lb")
    by_rule = traffic.shares("web-lb/http")
    by_id = traffic.shares(lb_path(setup.arm, setup.group, "web-lb") + "/loadBalancingRules/http")

    assert traffic.split == MEMBERSHIP
    assert by_name == by_rule == by_id == {blue: 100}
    assert calls(traffic, "GET Microsoft.Network/loadBalancers") == 3
    with pytest.raises(PhoenixError, match="no load-balancing rule https"):
        traffic.shares("web-lb/https")
    before = traffic.api_calls()
    with pytest.raises(PhoenixError) as weights:
        traffic.set_shares("web-lb", {blue: 50})
    with pytest.raises(PhoenixError) as made:
        traffic.create_backend_like("web-b", traffic.backend(blue), {"service": "web"})
    with pytest.raises(InvalidInput):
        traffic.shares("not a load balancer!")
    assert weights.value.code == made.value.code == "Unsupported"
    assert traffic.api_calls() == {**before, "GET Microsoft.Network/loadBalancers": 5}


def test_a_rule_to_several_pools_shares_each_of_them(setup, traffic):
    setup.load_balancer(pools=("blue-pool", "green-pool"), rule_pools=["blue-pool", "green-pool"])

    assert traffic.shares("web-lb") == {setup.pool("blue-pool"): 100, setup.pool("green-pool"): 100}


def test_pools_are_found_by_id_by_load_balancer_and_name_or_by_name(setup, traffic, blue):
    pool = traffic.backend(blue)

    assert pool.id == blue and pool.name == "web-lb/web-pool"
    assert pool.settings["loadBalancer"] == lb_path(setup.arm, setup.group, "web-lb")
    assert pool.settings["loadBalancingRules"] == [
        lb_path(setup.arm, setup.group, "web-lb") + "/loadBalancingRules/http"
    ]
    assert traffic.find_backend("web-lb/web-pool") == pool == traffic.find_backend("web-pool")
    assert traffic.find_backend("nothing") is None and traffic.find_backend("web-lb/nothing") is None
    assert traffic.backend(setup.pool(balancer="other-lb")) is None
    with pytest.raises(InvalidInput, match="names a load balancer"):
        traffic.backend("web-lb")


def test_attach_names_the_pool_in_the_model_and_brings_the_instances_and_is_idempotent(setup, traffic, blue):
    setup.scale_set("web-b")
    green = setup.instance_ids("web-b")

    traffic.attach("web-b", blue)
    after_first = traffic.api_calls()
    traffic.attach("web-b", blue)

    assert setup.model_pools("web-b") == [blue]
    assert setup.members(blue) == sorted(setup.instance_ids("web-a") + green)
    assert calls(traffic, "PATCH Microsoft.Compute/virtualMachineScaleSets") == 1
    assert calls(traffic, "POST Microsoft.Compute/virtualMachineScaleSets/manualupgrade") == 1
    # Attached again: the model and every instance are read, nothing is changed.
    assert calls_since(traffic, after_first) == {
        "GET Microsoft.Compute/virtualMachineScaleSets": 1,
        "GET Microsoft.Compute/virtualMachineScaleSets/virtualMachines": 1,
    }


def test_detach_removes_every_reference_and_a_scale_set_not_attached_or_gone_is_fine(setup, traffic, blue):
    traffic.detach("web-a", blue)
    traffic.detach("web-a", blue)
    traffic.detach("web-gone", blue)

    assert setup.model_pools("web-a") == [] and setup.members(blue) == []
    assert calls(traffic, "PATCH Microsoft.Compute/virtualMachineScaleSets") == 1
    with pytest.raises(NotFound):
        traffic.attach("web-gone", blue)


def test_an_attach_killed_after_the_model_change_brings_the_instances_on_the_next_run(setup, traffic, blue):
    setup.scale_set("web-b")
    model = setup.compute.virtual_machine_scale_sets.get(setup.group, "web-b").as_dict()
    profile = model["properties"]["virtualMachineProfile"]["networkProfile"]
    profile["networkInterfaceConfigurations"][0]["properties"]["ipConfigurations"][0]["properties"][
        "loadBalancerBackendAddressPools"
    ] = [{"id": blue}]
    patch = {"properties": {"virtualMachineProfile": {"networkProfile": profile}}}
    setup.compute.virtual_machine_scale_sets.begin_update(setup.group, "web-b", patch).result()
    assert len(setup.members(blue)) == 2  # the model names the pool, its instances are not in it yet

    traffic.attach("web-b", blue)

    assert len(setup.members(blue)) == 4
    assert calls(traffic, "PATCH Microsoft.Compute/virtualMachineScaleSets") == 0
    assert calls(traffic, "POST Microsoft.Compute/virtualMachineScaleSets/manualupgrade") == 1


def test_a_scale_set_upgraded_automatically_is_not_upgraded_by_hand(setup, traffic, blue):
    setup.scale_set("web-b", upgrade="Automatic")

    traffic.attach("web-b", blue)

    assert len(setup.members(blue)) == 4
    assert calls(traffic, "POST Microsoft.Compute/virtualMachineScaleSets/manualupgrade") == 0


def test_backend_health_names_instances_by_id_and_follows_the_probes(setup, traffic, blue):
    blue_ids = setup.instance_ids("web-a")
    traffic.shares("web-lb")  # the rollout reads the split first: the rules are known then

    healthy = traffic.backend_health(blue)
    scale_sets_of(setup.arm.emu).set_instance_health(blue_ids[0].rsplit("/virtualMachines/", 1)[0], "0", "unhealthy")
    marked = traffic.backend_health(blue)
    load_balancers(setup.arm.emu).set_probe(blue_ids[1], up=False)
    both = traffic.backend_health(blue)

    assert healthy == {blue_ids[0]: "healthy", blue_ids[1]: "healthy"}
    assert marked == {blue_ids[0]: "unhealthy", blue_ids[1]: "healthy"}
    assert both == {blue_ids[0]: "unhealthy", blue_ids[1]: "unhealthy"}
    assert both.get(blue_ids[1].upper()) == "unhealthy"  # ARM ids are case-insensitive
    assert calls(traffic, "POST Microsoft.Network/loadBalancers/loadBalancingRules/health") == 3
    assert calls(traffic, "GET Microsoft.Network/loadBalancers") == 1
    assert traffic.backend_health(setup.pool("spare")) == {}
    assert traffic.backend_health(setup.pool(balancer="other-lb")) == {}


def test_a_pool_a_rule_sends_to_is_not_deleted_and_an_unused_one_is(setup, traffic, blue):
    pools = setup.network.load_balancer_backend_address_pools
    pools.begin_create_or_update(setup.group, "web-lb", "spare", {}).result()

    with pytest.raises(PhoenixError, match="still in use") as refused:
        traffic.delete_backend(blue)
    traffic.delete_backend(setup.pool("spare"))
    traffic.delete_backend(setup.pool("spare"))
    traffic.delete_backend(setup.pool(balancer="other-lb"))

    assert refused.value.code == "InvalidResourceReference" and "loadBalancingRules/http" in refused.value.message
    assert traffic.backend(blue) is not None and traffic.backend(setup.pool("spare")) is None


def test_throttling_and_server_errors_are_retried(setup, traffic, blue):
    setup.scale_set("web-b")
    emu = setup.arm.emu
    emu.inject_fault("LoadBalancers_Get", status=429, times=2)
    emu.inject_fault("VirtualMachineScaleSets_Update", status=503)
    emu.inject_fault("LoadBalancerLoadBalancingRules_Health", status=429)

    assert traffic.shares("web-lb") == {blue: 100}
    traffic.attach("web-b", blue)
    health = traffic.backend_health(blue)

    assert sorted(health.values()) == ["healthy"] * 4 and emu.pending_faults == {}
    assert len(members_of_pool(emu, blue)) == 4
    assert calls(traffic, "GET Microsoft.Network/loadBalancers") == 3
    assert calls(traffic, "PATCH Microsoft.Compute/virtualMachineScaleSets") == 2


def test_the_azure_provider_gives_traffic_and_health_and_a_named_alarm_fails_the_gate_closed(azure_params):
    azure = providers.provider(azure_params)
    alarms = azure.health()
    check = HealthCheck(HealthSpec(alarms=["web-5xx-rate"]), None, azure.traffic(), alarms)

    problems, evidence = check.check("web-b", None, 0, with_probe=False, fleet=([], {}))

    assert isinstance(azure.traffic(), AzureTrafficBackend) and isinstance(alarms, AzureHealthBackend)
    assert problems == ["alarm web-5xx-rate is MISSING"] and evidence["alarms"] == {"web-5xx-rate": "MISSING"}
    assert alarms.api_calls() == {}


def test_a_swap_naming_alarms_on_azure_is_refused_before_any_call(azure_params):
    alarms = providers.provider(azure_params).health()
    alarms.check_alarm_names([])  # none named: nothing to refuse
    with pytest.raises(InvalidInput, match="web-5xx-rate.*not read on azure") as refused:
        alarms.check_alarm_names(["web-5xx-rate"])
    assert "Nothing was changed" in refused.value.hint and alarms.api_calls() == {}


def test_a_canary_is_a_share_of_instances_in_blues_pool_and_blue_leaves_it_at_100(setup, traffic, blue):
    setup.scale_set("web-b", capacity=0)
    resize = setup.compute.virtual_machine_scale_sets.begin_update

    resize(setup.group, "web-b", {"sku": {"capacity": 1}}).result()  # 25 % of blue's 2 + 2: one of green's
    traffic.attach("web-b", blue)
    at_first_step = setup.members(blue)
    resize(setup.group, "web-b", {"sku": {"capacity": 2}}).result()  # made from the model: in the pool at once
    traffic.attach("web-b", blue)
    at_full = setup.members(blue)
    traffic.detach("web-a", blue)

    assert len(at_first_step) == 3 and len(at_full) == 4
    assert setup.members(blue) == sorted(setup.instance_ids("web-b"))
    assert calls(traffic, "PATCH Microsoft.Compute/virtualMachineScaleSets") == 2  # web-b's model, web-a's
    assert calls(traffic, "POST Microsoft.Compute/virtualMachineScaleSets/manualupgrade") == 2  # web-b's 1, web-a's 2
    assert set(traffic.backend_health(blue).values()) == {"healthy"} and len(traffic.backend_health(blue)) == 2


def test_a_flexible_scale_set_is_refused_before_any_change(setup, traffic, blue):
    flexible = setup.arm.group_path(setup.group) + "/providers/Microsoft.Compute/virtualMachineScaleSets/web-flex"
    setup.arm.emu.put_resource(
        flexible,
        "Microsoft.Compute/virtualMachineScaleSets",
        properties={"orchestrationMode": "Flexible", "virtualMachineProfile": {}},
    )

    with pytest.raises(PhoenixError, match="Flexible orchestration") as refused:
        traffic.attach("web-flex", blue)

    assert refused.value.code == "Unsupported"
    assert calls(traffic, "PATCH Microsoft.Compute/virtualMachineScaleSets") == 0
