"""Scale sets in the rollout's and the drift scan's model (_azure/scale_set_transformations.py): pure functions."""

from __future__ import annotations

import pytest

from ansible_collections.phoenix.immutable.plugins.module_utils._azure.scale_set_transformations import (
    booted_image,
    group_from_scale_set,
    image_reference,
    instance_from_vm,
    latest_version,
    launch_of,
    new_group_body,
    record_of,
    record_tags,
    scale_set_of,
    without_fields,
)
from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import InvalidInput
from ansible_collections.phoenix.immutable.plugins.module_utils._core.rollout_model import RolloutRecord

GROUP = "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg"
DEFINITION = GROUP + "/providers/Microsoft.Compute/galleries/g/images/web"
POOL = GROUP + "/providers/Microsoft.Network/loadBalancers/lb/backendAddressPools/web"


def nic(primary, *configurations):
    return {
        "name": "nic%d" % int(primary),
        "properties": {"primary": primary, "ipConfigurations": list(configurations)},
    }


def ip_configuration(name, primary=False, pools=(), subnet=None):
    properties = {"primary": primary, "loadBalancerBackendAddressPools": [{"id": pool} for pool in pools]}
    if subnet:
        properties["subnet"] = {"id": subnet}
    return {"name": name, "properties": properties}


def base_scale_set():
    return {
        "id": GROUP + "/providers/Microsoft.Compute/virtualMachineScaleSets/web-base",
        "name": "web-base",
        "location": "eastus",
        "sku": {"name": "Standard_B2s", "tier": "Standard", "capacity": 3},
        "zones": ["1", "2"],
        "identity": {
            "type": "UserAssigned",
            "principalId": "p",
            "userAssignedIdentities": {"/id/1": {"principalId": "p", "clientId": "c"}},
        },
        "tags": {"cost-centre": "42"},
        "properties": {
            "provisioningState": "Succeeded",
            "uniqueId": "u",
            "timeCreated": "2026-12-01T00:00:00+00:00",
            "upgradePolicy": {"mode": "Manual"},
            "virtualMachineProfile": {
                "timeCreated": "2026-12-01T00:00:00+00:00",
                "storageProfile": {"imageReference": {"id": DEFINITION + "/versions/1.0.0"}},
                "networkProfile": {
                    "networkInterfaceConfigurations": [
                        nic(False, ip_configuration("other", pools=[POOL])),
                        nic(True, ip_configuration("first"), ip_configuration("main", True, [POOL], "subnet-1")),
                    ]
                },
            },
        },
    }


def test_a_new_group_copies_the_base_without_outputs_pools_or_capacity():
    body = new_group_body(base_scale_set(), {"phoenix:rollout:service": "web"}, ["pool-green"])

    assert body["sku"] == {"name": "Standard_B2s", "tier": "Standard", "capacity": 0}
    assert set(body["properties"]) == {"upgradePolicy", "virtualMachineProfile"}
    assert "timeCreated" not in body["properties"]["virtualMachineProfile"]
    pools = {
        configuration["name"]: configuration["properties"]["loadBalancerBackendAddressPools"]
        for interface in body["properties"]["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"]
        for configuration in interface["properties"]["ipConfigurations"]
    }
    assert pools == {"other": [], "first": [], "main": [{"id": "pool-green"}]}  # the primary one only
    assert body["identity"] == {"type": "UserAssigned", "userAssignedIdentities": {"/id/1": {}}}
    assert body["zones"] == ["1", "2"] and body["tags"] == {"phoenix:rollout:service": "web"}
    assert base_scale_set()["properties"]["virtualMachineProfile"]["timeCreated"]  # the base is left as it was


def test_a_scale_set_is_a_group_with_its_capacity_pools_subnets_launch_and_record():
    scale_set = base_scale_set()
    scale_set["tags"].update(record_tags(RolloutRecord(service="web", role="blue", weight=50), None, "web-base"))
    vm = {"id": scale_set["id"] + "/virtualMachines/0", "properties": {"provisioningState": "Succeeded"}}

    group = group_from_scale_set(scale_set, [vm])

    assert (group.size, group.min_size, group.max_size) == (3, 3, 3)
    assert group.backends == [POOL] and group.subnets == ["subnet-1"]
    assert group.launch == DEFINITION + "/versions/1.0.0" and not group.deleting
    assert (group.record.service, group.record.role, group.record.weight) == ("web", "blue", 50)
    assert group.live_instances()[0].healthy  # no health reported: healthy while in service


def status(code):
    return {"code": code}


@pytest.mark.parametrize(
    ("provisioning", "statuses", "health", "expected"),
    [
        ("Succeeded", ["PowerState/running"], "HealthState/healthy", (True, True)),
        ("Succeeded", ["PowerState/running"], "HealthState/unhealthy", (True, False)),
        ("Succeeded", ["PowerState/running"], "HealthState/unknown", (True, False)),
        ("Succeeded", ["PowerState/stopped"], "HealthState/healthy", (False, False)),
        ("Creating", ["PowerState/starting"], "HealthState/unknown", (False, False)),
        ("Deleting", ["PowerState/stopping"], None, (False, False)),
    ],
)
def test_an_instance_is_in_service_when_made_and_running_and_healthy_by_its_probe(
    provisioning, statuses, health, expected
):
    view = {"statuses": [status(code) for code in statuses]}
    if health:
        view["vmHealth"] = {"status": status(health)}
    vm = {"id": "vm", "properties": {"provisioningState": provisioning, "instanceView": view}}

    instance = instance_from_vm(vm)

    assert (instance.in_service, instance.healthy) == expected


def test_a_long_record_value_is_chunked_and_reads_back_and_clears_whole():
    record = RolloutRecord(service="web", reason="ü" * 300, phase="shift")
    tags = {"app": "web", **record_tags(record, None, "web-b")}

    assert record_of(tags) == record
    assert any(key.startswith("phoenix:rollout:reason:") for key in tags)
    assert without_fields(tags, ["reason", "phase"]) == {"app": "web", "phoenix:rollout:service": "web"}
    assert record_of({"app": "web"}) is None


def test_launches_are_image_ids_or_marketplace_urns():
    urn = "Canonical:ubuntu-24_04-lts:server:latest"
    reference = {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server", "version": "latest"}

    assert launch_of(reference) == urn and image_reference(urn) == reference
    assert image_reference(DEFINITION) == {"id": DEFINITION}
    assert launch_of({}) is None
    with pytest.raises(InvalidInput):
        image_reference("not:an:image")


def test_an_instance_of_a_definition_booted_its_exact_version():
    assert booted_image({"id": DEFINITION, "exactVersion": "1.2.3"}) == DEFINITION + "/versions/1.2.3"
    assert (
        booted_image({"id": DEFINITION + "/versions/1.0.0", "exactVersion": "1.0.0"}) == DEFINITION + "/versions/1.0.0"
    )
    assert scale_set_of(GROUP + "/providers/Microsoft.Compute/virtualMachineScaleSets/web-a/virtualMachines/7") == (
        "web-a",
        "7",
    )
    assert scale_set_of(GROUP + "/providers/Microsoft.Compute/virtualMachines/web") is None


def test_the_latest_version_is_the_highest_succeeded_one_not_excluded():
    def version(name, state="Succeeded", excluded=False):
        return {
            "id": DEFINITION + "/versions/" + name,
            "name": name,
            "properties": {"provisioningState": state, "publishingProfile": {"excludeFromLatest": excluded}},
        }

    versions = [version("1.9.0"), version("1.10.0"), version("2.0.0", excluded=True), version("3.0.0", "Creating")]

    assert latest_version(versions) == DEFINITION + "/versions/1.10.0"
    assert latest_version([]) is None
