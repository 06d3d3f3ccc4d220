"""The builder workflow with cloud azure: AzureBuilderBackend on a real AzureConnection against the ARM emulator.

The core's BuilderWorkflow drives the backend as the builder module does; each test asserts on the outcome
and on the VMs, NICs, public addresses, disks and security groups read back through azure-mgmt-compute and
azure-mgmt-network. The base image is a marketplace image (the images of the workflow are the image
backend's: a stand-in answers ``images.get`` for it).
"""

from __future__ import annotations

import datetime
import os
import stat

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.mgmt.network import NetworkManagementClient

from ansible_collections.phoenix.immutable.plugins.module_utils._azure import builder_api
from ansible_collections.phoenix.immutable.plugins.module_utils._azure.builders import AzureBuilderBackend
from ansible_collections.phoenix.immutable.plugins.module_utils._azure.errors import OperationFailed
from ansible_collections.phoenix.immutable.plugins.module_utils._core.builders import (
    BuilderRequest,
    BuilderWorkflow,
)
from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import InvalidInput, PhoenixError
from ansible_collections.phoenix.immutable.plugins.module_utils._core.model import AVAILABLE, Image
from ansible_collections.phoenix.immutable.plugins.module_utils._core.waiter import Waiter

RESOURCE_GROUP = "rg-phoenix"
BASE_IMAGE = "Debian:debian-12:12-gen2:latest"
BUILDER_TAG = "phoenix:builder"
EXPIRES_TAG = "phoenix:expires-at"
NOW = datetime.datetime.now(datetime.UTC)


class MarketplaceImages:
    """The one base image these tests launch from (the image backend is another part's)."""

    def get(self, image_id):
        if image_id != BASE_IMAGE:
            return None
        return Image(
            cloud="azure",
            id=BASE_IMAGE,
            name="debian-12",
            region="eastus",
            state=AVAILABLE,
            created="2026-01-01T00:00:00Z",
            owner="Debian",
        )


@pytest.fixture
def network(azure) -> NetworkManagementClient:
    """The collection's network client on the emulator, and the resource group's one virtual network."""
    client = azure.connection().network()
    client.virtual_networks.begin_create_or_update(
        RESOURCE_GROUP,
        "vnet",
        {
            "location": azure.emu.location,
            "properties": {
                "addressSpace": {"addressPrefixes": ["10.2.0.0/16"]},
                "subnets": [{"name": "builders", "properties": {"addressPrefix": "10.2.0.0/24"}}],
            },
        },
    ).result()
    azure.emu.reset_calls()
    return client


@pytest.fixture
def backend(azure, network) -> AzureBuilderBackend:
    return AzureBuilderBackend(azure.connection())


@pytest.fixture
def key_dir(tmp_path):
    return str(tmp_path / "keys")


def workflow(backend, check_mode=False):
    waiter = Waiter(timeout=120, delay=0.01, max_delay=0.05)
    return BuilderWorkflow(backend, MarketplaceImages(), waiter, check_mode=check_mode)


def request(key_dir, name="bake-1", **options):
    return BuilderRequest(name=name, base_image_id=BASE_IMAGE, key_dir=key_dir, **options)


def of_builders(resources, name=None):
    return [item for item in resources if BUILDER_TAG in (item.tags or {}) and name in (None, item.tags[BUILDER_TAG])]


def inventory(azure, network):
    """Everything of a builder in the resource group, by kind: names."""
    compute = azure.compute()
    return {
        "vms": sorted(vm.name for vm in compute.virtual_machines.list(RESOURCE_GROUP)),
        "disks": sorted(disk.name for disk in compute.disks.list_by_resource_group(RESOURCE_GROUP)),
        "nics": sorted(nic.name for nic in network.network_interfaces.list(RESOURCE_GROUP)),
        "addresses": sorted(item.name for item in network.public_ip_addresses.list(RESOURCE_GROUP)),
        "groups": sorted(group.name for group in network.network_security_groups.list(RESOURCE_GROUP)),
    }


NOTHING = {"vms": [], "disks": [], "nics": [], "addresses": [], "groups": []}


def test_present_launches_a_tagged_vm_on_its_nic_with_its_security_group_and_key(azure, network, backend, key_dir):
    outcome = workflow(backend).present(request(key_dir, ttl_seconds=3600, user="debian"))

    assert outcome.changed is True
    assert [action["action"] for action in outcome.actions] == [
        "launch_builder",
        "create_network_security_group",
        "create_ssh_key",
    ]
    compute = azure.compute()
    [vm] = of_builders(compute.virtual_machines.list(RESOURCE_GROUP), "bake-1")
    assert vm.name == "phoenix-builder-bake-1" and vm.hardware_profile.vm_size == "Standard_B2s"
    assert vm.tags["phoenix:managed"] == "true"
    expires = datetime.datetime.fromisoformat(vm.tags[EXPIRES_TAG].replace("Z", "+00:00"))
    assert datetime.timedelta(minutes=55) < expires - datetime.datetime.now(datetime.UTC) <= datetime.timedelta(hours=1)
    assert outcome.builder["expires_at"] == vm.tags[EXPIRES_TAG] and outcome.builder["state"] == "running"
    assert vm.storage_profile.image_reference.offer == "debian-12"
    os_disk = vm.storage_profile.os_disk
    assert os_disk.name == "phoenix-builder-bake-1-osdisk" and os_disk.delete_option == "Delete"
    assert compute.disks.get(RESOURCE_GROUP, os_disk.name).tags[BUILDER_TAG] == "bake-1"
    [interface] = vm.network_profile.network_interfaces
    assert interface.delete_option == "Delete"
    nic = network.network_interfaces.get(RESOURCE_GROUP, "phoenix-builder-bake-1-nic")
    assert nic.id == interface.id and nic.tags[EXPIRES_TAG] == vm.tags[EXPIRES_TAG]
    assert nic.ip_configurations[0].public_ip_address is None

    group = network.network_security_groups.get(RESOURCE_GROUP, "phoenix-builder-bake-1-nsg")
    assert nic.network_security_group.id == group.id == vm.tags["phoenix:builder-access-rule"]
    [rule] = group.security_rules
    assert (rule.direction, rule.access, rule.protocol, rule.destination_port_range) == (
        "Inbound",
        "Allow",
        "Tcp",
        "22",
    )
    # Default: the range of the builder's subnet, never the whole internet.
    assert rule.source_address_prefixes == ["10.2.0.0/24"]
    assert group.tags[BUILDER_TAG] == "bake-1" and group.tags[EXPIRES_TAG] == vm.tags[EXPIRES_TAG]

    connection = outcome.connection
    assert connection["host"] == nic.ip_configurations[0].private_ip_address == "10.2.0.4"
    assert connection["user"] == "debian" and connection["instance_id"] == vm.id
    assert stat.S_IMODE(os.stat(connection["key_path"]).st_mode) == 0o600
    with open(connection["key_path"], encoding="ascii") as handle:
        assert handle.read().startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert os.path.basename(connection["key_path"]) == vm.tags["phoenix:builder-ssh-key"]
    [key] = vm.os_profile.linux_configuration.ssh.public_keys
    assert vm.os_profile.admin_username == "debian" and key.path == "/home/debian/.ssh/authorized_keys"
    assert key.key_data.startswith("ssh-ed25519 ") and key.key_data.endswith(" phoenix")
    assert vm.os_profile.linux_configuration.disable_password_authentication is True
    assert outcome.builder["ssh_key"] == key.key_data and outcome.builder["vm_size"] == "Standard_B2s"
    assert backend.api_calls()["PUT Microsoft.Compute/virtualMachines"] == 1


def test_present_again_reuses_the_running_builder(azure, network, backend, key_dir):
    first = workflow(backend).present(request(key_dir))
    azure.emu.reset_calls()
    again = workflow(AzureBuilderBackend(azure.connection())).present(request(key_dir))

    assert again.changed is False and again.actions == []
    assert again.builder["id"] == first.builder["id"] and again.connection == first.connection
    assert again.connection["user"] == "azureuser"
    assert not [call for call in azure.emu.calls if call.endswith("_CreateOrUpdate")]
    assert len(inventory(azure, network)["vms"]) == 1


def test_check_mode_plans_and_makes_nothing(azure, network, backend, key_dir):
    outcome = workflow(backend, check_mode=True).present(request(key_dir))

    assert outcome.changed is True and outcome.actions[0]["action"] == "launch_builder"
    assert outcome.actions[0]["subnet"].endswith("/virtualNetworks/vnet/subnets/builders")
    assert inventory(azure, network) == NOTHING and not os.path.exists(key_dir)


def test_a_public_address_and_a_name_azure_would_refuse(azure, network, backend, key_dir):
    name = "Bake_" + "x" * 60
    outcome = workflow(backend).present(request(key_dir, name=name, public_address=True))

    [vm] = of_builders(azure.compute().virtual_machines.list(RESOURCE_GROUP), name)
    # Lower case, [a-z0-9-], at most 64 characters, and a digest so that "bake-xxx..." gets another name.
    assert (
        len(vm.name) <= 64 and vm.name.startswith("phoenix-builder-bake-xxx") and vm.name != "phoenix-builder-" + name
    )
    address = network.public_ip_addresses.get(RESOURCE_GROUP, vm.name + "-ip")
    assert address.ip_address.startswith("203.0.113.") and address.delete_option == "Delete"
    assert outcome.connection["host"] == address.ip_address == outcome.builder["public_address"]
    assert outcome.builder["private_address"] == "10.2.0.4"
    assert address.tags[BUILDER_TAG] == name


def test_stop_then_absent_removes_the_vm_its_parts_its_group_and_its_key_file(azure, network, backend, key_dir):
    launched = workflow(backend).present(request(key_dir, public_address=True))
    stopped = workflow(backend).stopped("bake-1")
    view = azure.compute().virtual_machines.instance_view(RESOURCE_GROUP, "phoenix-builder-bake-1")

    removed = workflow(backend).absent("bake-1", key_dir=key_dir)
    again = workflow(AzureBuilderBackend(azure.connection())).absent("bake-1", key_dir=key_dir)

    assert stopped.changed is True and stopped.builder["state"] == "stopped"
    assert view.statuses[-1].code == "PowerState/deallocated"
    assert [action["action"] for action in removed.actions] == [
        "terminate_builder",
        "delete_network_security_group",
        "delete_ssh_key",
    ]
    assert inventory(azure, network) == NOTHING
    assert not os.path.exists(launched.connection["key_path"])
    assert again.changed is False


def test_terminate_deletes_the_vm_before_its_nic_address_and_disk(azure, network, backend, key_dir):
    """A VM made without deleteOption (by an older run, or changed by hand): terminate deletes its parts itself."""
    launched = workflow(backend).present(request(key_dir, public_address=True))
    vm_id = launched.builder["id"]
    stored = azure.emu.get(vm_id)["properties"]
    stored["storageProfile"]["osDisk"]["deleteOption"] = "Detach"
    stored["networkProfile"]["networkInterfaces"][0]["properties"]["deleteOption"] = "Detach"
    azure.emu.reset_calls()

    backend.terminate(backend.get(vm_id))

    assert inventory(azure, network) == {**NOTHING, "groups": ["phoenix-builder-bake-1-nsg"]}
    deletions = [call for call in azure.emu.calls if call.endswith("_Delete")]
    assert deletions == [
        "VirtualMachines_Delete",
        "NetworkInterfaces_Delete",
        "PublicIPAddresses_Delete",
        "Disks_Delete",
    ]


def _crashed_bake(azure, backend, name, expires_at):
    """What a bake that died after making its group, address and NIC, before its VM, leaves behind."""
    connection = backend.connection
    tags = {BUILDER_TAG: name, EXPIRES_TAG: expires_at, "phoenix:managed": "true"}
    network = backend.network(None)
    group_id = backend.create_access_rule(name, network, ["198.51.100.0/24"], tags)
    address = builder_api.create_public_ip(
        connection,
        "phoenix-builder-%s-ip" % name,
        {"location": connection.location, "tags": tags, "sku": {"name": "Standard"}},
    )
    builder_api.create_nic(
        connection,
        "phoenix-builder-%s-nic" % name,
        {
            "location": connection.location,
            "tags": tags,
            "properties": {
                "networkSecurityGroup": {"id": group_id},
                "ipConfigurations": [
                    {
                        "name": "ipconfig1",
                        "properties": {"subnet": {"id": network["subnet"]}, "publicIPAddress": {"id": address["id"]}},
                    }
                ],
            },
        },
    )


def test_reaping_removes_expired_builders_and_what_crashed_bakes_left_in_arms_order(azure, network, backend, key_dir):
    workflow(backend).present(request(key_dir, name="baking", ttl_seconds=3600))
    expired = workflow(backend).present(request(key_dir, name="crashed", ttl_seconds=3600))
    # The VM of "crashed" went without its disk (a deletion that did not take it), and its time is up.
    crashed_vm = azure.emu.get(expired.builder["id"])
    disk_id = crashed_vm["properties"]["storageProfile"]["osDisk"]["managedDisk"]["id"]
    with azure.emu.lock:
        del azure.emu.resources[crashed_vm["id"].lower()]
        azure.emu.resources[disk_id.lower()].pop("managedBy")
        for resource in azure.emu.resources.values():
            if (resource.get("tags") or {}).get(BUILDER_TAG) == "crashed":
                resource["tags"][EXPIRES_TAG] = "2020-01-01T00:00:00Z"
    _crashed_bake(azure, backend, "lost", "2020-01-01T00:00:00Z")
    _crashed_bake(azure, backend, "later", "2999-01-01T00:00:00Z")

    reaped = workflow(AzureBuilderBackend(azure.connection())).reap(key_dir=key_dir)

    deleted = [(action["action"], action["id"].rsplit("/", 2)[-2:]) for action in reaped.actions]
    assert deleted == [
        ("delete_resource", ["networkInterfaces", "phoenix-builder-crashed-nic"]),
        ("delete_resource", ["networkInterfaces", "phoenix-builder-lost-nic"]),
        ("delete_resource", ["publicIPAddresses", "phoenix-builder-lost-ip"]),
        ("delete_resource", ["disks", "phoenix-builder-crashed-osdisk"]),
        ("delete_network_security_group", ["networkSecurityGroups", "phoenix-builder-crashed-nsg"]),
        ("delete_network_security_group", ["networkSecurityGroups", "phoenix-builder-lost-nsg"]),
    ]
    left = inventory(azure, network)
    assert left["vms"] == ["phoenix-builder-baking"]
    assert left["nics"] == ["phoenix-builder-baking-nic", "phoenix-builder-later-nic"]
    assert left["addresses"] == ["phoenix-builder-later-ip"] and left["disks"] == ["phoenix-builder-baking-osdisk"]
    assert left["groups"] == ["phoenix-builder-baking-nsg", "phoenix-builder-later-nsg"]
    assert workflow(AzureBuilderBackend(azure.connection())).reap(key_dir=key_dir).changed is False


def test_absent_removes_what_a_crashed_bake_left_without_a_vm(azure, network, backend, key_dir):
    _crashed_bake(azure, backend, "bake-1", "2999-01-01T00:00:00Z")

    removed = workflow(backend).absent("bake-1", key_dir=key_dir)

    assert [action["action"] for action in removed.actions] == [
        "delete_resource",
        "delete_resource",
        "delete_network_security_group",
    ]
    assert inventory(azure, network) == NOTHING


def test_a_failed_vm_creation_leaves_nothing_behind(azure, network, backend, key_dir):
    azure.emu.fail_operations("VirtualMachines_CreateOrUpdate", code="AllocationFailed")

    with pytest.raises(OperationFailed) as failed:
        workflow(backend).present(request(key_dir, public_address=True))

    assert failed.value.code == "AllocationFailed"
    assert inventory(azure, network) == NOTHING
    assert not os.listdir(key_dir)


def test_a_refused_vm_creation_leaves_nothing_behind(azure, network, backend, key_dir):
    missing = azure.group_path(RESOURCE_GROUP) + "/providers/Microsoft.Compute/galleries/g/images/none/versions/1.0.0"
    images = MarketplaceImages()
    images.get = lambda image_id: Image("azure", missing, "none", "eastus", AVAILABLE, "2026-01-01T00:00:00Z", "me")
    flow = BuilderWorkflow(backend, images, Waiter(timeout=60, delay=0.01, max_delay=0.05))

    with pytest.raises(PhoenixError) as refused:
        flow.present(BuilderRequest(name="bake-1", base_image_id=missing, key_dir=key_dir, public_address=True))

    assert "is not available" in refused.value.message
    assert inventory(azure, network) == NOTHING and not os.listdir(key_dir)


@pytest.mark.parametrize(
    "call",
    [
        "VirtualMachines_CreateOrUpdate",
        "NetworkInterfaces_CreateOrUpdate",
        "NetworkSecurityGroups_CreateOrUpdate",
        "PublicIPAddresses_CreateOrUpdate",
    ],
)
def test_a_create_whose_answer_was_lost_is_taken_not_made_twice(azure, network, backend, key_dir, call):
    azure.emu.inject_fault(call, status=503, after_apply=True)

    outcome = workflow(backend).present(request(key_dir, public_address=True))

    assert azure.emu.calls[call] == 2 and azure.emu.pending_faults == {}
    assert outcome.builder["state"] == "running" and outcome.connection["host"].startswith("203.0.113.")
    assert inventory(azure, network) == {
        "vms": ["phoenix-builder-bake-1"],
        "disks": ["phoenix-builder-bake-1-osdisk"],
        "nics": ["phoenix-builder-bake-1-nic"],
        "addresses": ["phoenix-builder-bake-1-ip"],
        "groups": ["phoenix-builder-bake-1-nsg"],
    }


def test_a_vm_of_that_name_that_is_not_the_builder_is_refused_and_left_alone(azure, network, backend, key_dir):
    stranger = azure.network_interface(RESOURCE_GROUP, "stranger-nic")
    azure.compute().virtual_machines.begin_create_or_update(
        RESOURCE_GROUP,
        "phoenix-builder-bake-1",
        {
            "location": azure.emu.location,
            "properties": {
                "hardwareProfile": {"vmSize": "Standard_B1s"},
                "storageProfile": {"imageReference": {"publisher": "Debian", "offer": "debian-12", "sku": "12"}},
                "osProfile": {"computerName": "stranger", "adminUsername": "me", "adminPassword": "Secret-123456"},
                "networkProfile": {"networkInterfaces": [{"id": stranger}]},
            },
        },
    ).result()

    with pytest.raises(PhoenixError) as refused:
        workflow(backend).present(request(key_dir))

    assert "is not a builder of that name" in refused.value.message
    left = inventory(azure, network)
    # What this run made for it is removed; the stranger's VM is left alone.
    assert left["vms"] == ["phoenix-builder-bake-1"] and left["groups"] == [] and left["nics"] == ["stranger-nic"]
    assert not os.listdir(key_dir)


def test_the_subnet_is_found_by_id_by_network_and_name_or_by_name(azure, network, backend):
    subnet_id = network.subnets.get(RESOURCE_GROUP, "vnet", "builders").id
    wanted = {"subnet": subnet_id, "network": subnet_id.rsplit("/subnets/", 1)[0], "cidr": "10.2.0.0/24"}

    assert backend.network(subnet_id) == backend.network("vnet/builders") == backend.network("builders") == wanted
    assert backend.network(None) == wanted
    with pytest.raises(InvalidInput, match="names 0 subnets"):
        backend.network("elsewhere")
    with pytest.raises(InvalidInput, match="subnet none of virtual network vnet not found"):
        backend.network("vnet/none")
    with pytest.raises(InvalidInput, match="not the id of a subnet"):
        backend.network(wanted["network"])
    network.virtual_networks.begin_create_or_update(
        RESOURCE_GROUP,
        "vnet-2",
        {
            "location": azure.emu.location,
            "properties": {
                "addressSpace": {"addressPrefixes": ["10.3.0.0/16"]},
                "subnets": [{"name": "builders", "properties": {"addressPrefix": "10.3.0.0/24"}}],
            },
        },
    ).result()
    with pytest.raises(InvalidInput, match="has 2 virtual networks"):
        backend.network(None)
    with pytest.raises(InvalidInput, match="names 2 subnets"):
        backend.network("builders")


def test_a_given_security_group_is_used_and_two_are_refused(azure, network, backend, key_dir):
    mine = network.network_security_groups.begin_create_or_update(
        RESOURCE_GROUP, "mine", {"location": azure.emu.location}
    ).result()

    outcome = workflow(backend).present(request(key_dir, access_rule_ids=["mine"]))
    with pytest.raises(InvalidInput, match="one network security group on a network interface"):
        workflow(backend).present(request(key_dir, name="bake-2", access_rule_ids=["mine", mine.id]))

    assert [action["action"] for action in outcome.actions] == ["launch_builder", "create_ssh_key"]
    nic = network.network_interfaces.get(RESOURCE_GROUP, "phoenix-builder-bake-1-nic")
    assert nic.network_security_group.id == mine.id == outcome.builder["access_rule_id"]
    workflow(backend).absent("bake-1", key_dir=key_dir)
    assert inventory(azure, network) == {**NOTHING, "groups": ["mine"]}
    with pytest.raises(ResourceNotFoundError):
        network.network_interfaces.get(RESOURCE_GROUP, "phoenix-builder-bake-2-nic")


def test_a_tag_name_arm_refuses_fails_clearly_and_leaves_nothing(azure, network, backend, key_dir):
    with pytest.raises(PhoenixError) as refused:
        workflow(backend).present(request(key_dir, tags={"team/web": "yes"}, public_address=True))

    assert refused.value.code == "InvalidTagNameCharacters" and "team/web" in refused.value.message
    assert inventory(azure, network) == NOTHING and not os.listdir(key_dir)
