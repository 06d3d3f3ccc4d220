"""The ARM emulator's networks through azure-mgmt-network: what a builder VM stands on, and ARM's refusals."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.compute.models import (
    HardwareProfile,
    ImageReference,
    LinuxConfiguration,
    NetworkInterfaceReference,
    NetworkProfile,
    OSDisk,
    OSProfile,
    SshConfiguration,
    SshPublicKey,
    StorageProfile,
    VirtualMachine,
)
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.network.models import (
    AddressSpace,
    NetworkInterface,
    NetworkInterfaceIPConfiguration,
    NetworkSecurityGroup,
    PublicIPAddress,
    PublicIPAddressSku,
    SecurityRule,
    Subnet,
    TagsObject,
    VirtualNetwork,
)

GROUP = "rg-net"
PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJ1aWxkZXIta2V5LWZvci10ZXN0cy1vbmx5LTAwMDAwMA phoenix"


@pytest.fixture
def network(arm) -> NetworkManagementClient:
    arm.group(GROUP)
    return NetworkManagementClient(
        arm.credential(),
        arm.emu.subscription_id,
        base_url=arm.emu.endpoint_url,
        credential_scopes=[arm.emu.credential_scope],
        connection_verify=arm.emu.ca_bundle,
        retry_total=0,
        polling_interval=0,
    )


def make_network(network, location, name="vnet", prefixes=("10.1.0.0/16",), subnets=(("builders", "10.1.0.0/24"),)):
    body = VirtualNetwork(
        location=location,
        address_space=AddressSpace(address_prefixes=list(prefixes)),
        subnets=[Subnet(name=subnet, address_prefix=prefix) for subnet, prefix in subnets],
    )
    return network.virtual_networks.begin_create_or_update(GROUP, name, body).result()


def ssh_rule(priority=1000, sources=("198.51.100.0/24",)):
    return SecurityRule(
        name="ssh",
        protocol="Tcp",
        access="Allow",
        direction="Inbound",
        priority=priority,
        source_address_prefixes=list(sources),
        source_port_range="*",
        destination_address_prefix="*",
        destination_port_range="22",
    )


def make_nic(network, location, subnet_id, *, name="nic", public_id=None, nsg_id=None):
    body = NetworkInterface(
        location=location,
        tags={"phoenix:builder": "bake-1"},
        ip_configurations=[
            NetworkInterfaceIPConfiguration(
                name="ipconfig1",
                subnet=Subnet(id=subnet_id),
                public_ip_address=PublicIPAddress(id=public_id) if public_id else None,
            )
        ],
        network_security_group=NetworkSecurityGroup(id=nsg_id) if nsg_id else None,
    )
    return network.network_interfaces.begin_create_or_update(GROUP, name, body).result()


def make_vm(compute, location, nic_id, *, name="builder", disk_delete=None):
    return compute.virtual_machines.begin_create_or_update(
        GROUP,
        name,
        VirtualMachine(
            location=location,
            tags={"phoenix:builder": "bake-1"},
            hardware_profile=HardwareProfile(vm_size="Standard_B2s"),
            storage_profile=StorageProfile(
                image_reference=ImageReference(publisher="Debian", offer="debian-12", sku="12-gen2", version="latest"),
                os_disk=OSDisk(create_option="FromImage", delete_option=disk_delete) if disk_delete else None,
            ),
            os_profile=OSProfile(
                computer_name=name,
                admin_username="phoenix",
                linux_configuration=LinuxConfiguration(
                    disable_password_authentication=True,
                    ssh=SshConfiguration(
                        public_keys=[SshPublicKey(path="/home/phoenix/.ssh/authorized_keys", key_data=PUBLIC_KEY)]
                    ),
                ),
            ),
            network_profile=NetworkProfile(network_interfaces=[NetworkInterfaceReference(id=nic_id, primary=True)]),
        ),
    ).result()


def test_a_virtual_network_holds_its_subnets_as_resources_of_their_own(arm, network):
    location = arm.emu.location

    made = make_network(network, location, subnets=(("builders", "10.1.0.0/24"), ("other", "10.1.1.0/24")))
    added = network.subnets.begin_create_or_update(
        GROUP, "vnet", "third", Subnet(address_prefix="10.1.2.0/24")
    ).result()
    with pytest.raises(HttpResponseError) as outside:
        network.subnets.begin_create_or_update(GROUP, "vnet", "far", Subnet(address_prefix="10.9.0.0/24"))
    with pytest.raises(HttpResponseError) as overlapping:
        network.subnets.begin_create_or_update(GROUP, "vnet", "twin", Subnet(address_prefix="10.1.0.128/25"))

    assert made.provisioning_state == "Succeeded"
    assert [subnet.name for subnet in made.subnets] == ["builders", "other"]
    assert made.subnets[0].id == made.id + "/subnets/builders"
    assert added.id == made.id + "/subnets/third" and added.address_prefix == "10.1.2.0/24"
    assert [subnet.name for subnet in network.subnets.list(GROUP, "vnet")] == ["builders", "other", "third"]
    assert network.subnets.get(GROUP, "vnet", "builders").address_prefix == "10.1.0.0/24"
    assert outside.value.error.code == "NetcfgSubnetRangeOutsideVnet"
    assert overlapping.value.error.code == "NetcfgSubnetRangesOverlap"
    assert [item.name for item in network.virtual_networks.list(GROUP)] == ["vnet"]
    assert arm.emu.calls["Subnets_CreateOrUpdate"] == 3 and arm.emu.calls["VirtualNetworks_CreateOrUpdate"] == 1


def test_a_security_group_checks_its_rules_and_adds_the_default_ones(arm, network):
    location, groups = arm.emu.location, network.network_security_groups

    made = groups.begin_create_or_update(
        GROUP, "nsg", NetworkSecurityGroup(location=location, security_rules=[ssh_rule()], tags={"a": "b"})
    ).result()
    with pytest.raises(HttpResponseError) as priority:
        groups.begin_create_or_update(
            GROUP, "bad", NetworkSecurityGroup(location=location, security_rules=[ssh_rule(priority=50)])
        )
    twin = ssh_rule()
    twin.name = "ssh-again"
    with pytest.raises(HttpResponseError) as clash:
        groups.begin_create_or_update(
            GROUP, "bad", NetworkSecurityGroup(location=location, security_rules=[ssh_rule(), twin])
        )
    retagged = groups.update_tags(GROUP, "nsg", TagsObject(tags={"c": "d"}))

    [rule] = made.security_rules
    assert rule.id == made.id + "/securityRules/ssh" and rule.source_address_prefixes == ["198.51.100.0/24"]
    assert rule.destination_port_range == "22" and rule.provisioning_state == "Succeeded"
    assert {item.name for item in made.default_security_rules} >= {"DenyAllInBound", "AllowVnetInBound"}
    assert priority.value.error.code == "SecurityRuleInvalidPriority"
    assert clash.value.error.code == "SecurityRuleConflict"
    assert retagged.tags == {"c": "d"} and groups.get(GROUP, "nsg").tags == {"c": "d"}
    assert arm.emu.calls["NetworkSecurityGroups_UpdateTags"] == 1


def test_a_nic_gets_a_private_address_of_its_subnet_and_holds_a_public_one(arm, network):
    location = arm.emu.location
    subnet = make_network(network, location).subnets[0]
    nsg = network.network_security_groups.begin_create_or_update(
        GROUP, "nsg", NetworkSecurityGroup(location=location, security_rules=[ssh_rule()])
    ).result()
    public = network.public_ip_addresses.begin_create_or_update(
        GROUP, "pip", PublicIPAddress(location=location, sku=PublicIPAddressSku(name="Standard"))
    ).result()

    first = make_nic(network, location, subnet.id, public_id=public.id, nsg_id=nsg.id)
    second = make_nic(network, location, subnet.id, name="nic-2")
    with pytest.raises(HttpResponseError) as taken:
        make_nic(network, location, subnet.id, name="nic-3", public_id=public.id)
    with pytest.raises(HttpResponseError) as missing:
        make_nic(network, location, subnet.id + "-none", name="nic-4")

    assert public.ip_address.startswith("203.0.113.") and public.public_ip_allocation_method == "Static"
    [configuration] = first.ip_configurations
    # Azure keeps back a subnet's first four addresses.
    assert configuration.private_ip_address == "10.1.0.4" and configuration.primary
    assert second.ip_configurations[0].private_ip_address == "10.1.0.5"
    assert configuration.public_ip_address.id == public.id and first.network_security_group.id == nsg.id
    read = network.public_ip_addresses.get(GROUP, "pip")
    assert read.ip_configuration.id == configuration.id and read.ip_address == public.ip_address
    assert [item.id for item in network.network_security_groups.get(GROUP, "nsg").network_interfaces] == [first.id]
    used = network.subnets.get(GROUP, "vnet", "builders").ip_configurations
    assert sorted(item.id for item in used) == sorted([configuration.id, second.ip_configurations[0].id])
    assert taken.value.error.code == "PublicIPAddressInUse"
    assert missing.value.error.code == "InvalidResourceReference"
    assert [nic.name for nic in network.network_interfaces.list(GROUP)] == ["nic", "nic-2"]
    assert len(list(network.network_interfaces.list_all())) == 2


def test_what_is_in_use_cannot_be_deleted_until_its_user_is_gone(arm, network):
    location, compute = arm.emu.location, arm.compute()
    subnet = make_network(network, location).subnets[0]
    nsg = network.network_security_groups.begin_create_or_update(
        GROUP, "nsg", NetworkSecurityGroup(location=location, security_rules=[ssh_rule()])
    ).result()
    public = network.public_ip_addresses.begin_create_or_update(
        GROUP, "pip", PublicIPAddress(location=location)
    ).result()
    nic = make_nic(network, location, subnet.id, public_id=public.id, nsg_id=nsg.id)
    vm = make_vm(compute, location, nic.id)

    refusals = {}
    for what, delete in (
        ("nic", lambda: network.network_interfaces.begin_delete(GROUP, "nic")),
        ("nsg", lambda: network.network_security_groups.begin_delete(GROUP, "nsg")),
        ("pip", lambda: network.public_ip_addresses.begin_delete(GROUP, "pip")),
        ("subnet", lambda: network.subnets.begin_delete(GROUP, "vnet", "builders")),
        ("vnet", lambda: network.virtual_networks.begin_delete(GROUP, "vnet")),
    ):
        with pytest.raises(HttpResponseError) as refused:
            delete()
        refusals[what] = (refused.value.status_code, refused.value.error.code)
    attached = network.network_interfaces.get(GROUP, "nic").virtual_machine.id
    compute.virtual_machines.begin_delete(GROUP, "builder").result()
    # The VM is gone, its OS disk stays (deleteOption Detach) and the rest can go, in this order.
    disk = compute.disks.get(GROUP, vm.storage_profile.os_disk.name)
    network.network_interfaces.begin_delete(GROUP, "nic").result()
    network.public_ip_addresses.begin_delete(GROUP, "pip").result()
    network.network_security_groups.begin_delete(GROUP, "nsg").result()
    network.virtual_networks.begin_delete(GROUP, "vnet").result()
    compute.disks.begin_delete(GROUP, disk.name).result()

    assert refusals == {
        "nic": (400, "NicInUse"),
        "nsg": (400, "InUseNetworkSecurityGroupCannotBeDeleted"),
        "pip": (400, "PublicIPAddressCannotBeDeleted"),
        "subnet": (400, "InUseSubnetCannotBeDeleted"),
        "vnet": (400, "InUseSubnetCannotBeDeleted"),
    }
    assert attached == vm.id and disk.disk_state == "Unattached"
    assert [item.key_data for item in vm.os_profile.linux_configuration.ssh.public_keys] == [PUBLIC_KEY]
    for read in (
        lambda: network.network_interfaces.get(GROUP, "nic"),
        lambda: network.public_ip_addresses.get(GROUP, "pip"),
        lambda: network.virtual_networks.get(GROUP, "vnet"),
        lambda: network.subnets.get(GROUP, "vnet", "builders"),
        lambda: compute.disks.get(GROUP, disk.name),
    ):
        with pytest.raises(ResourceNotFoundError):
            read()
    assert arm.emu.calls["NetworkInterfaces_Delete"] == 2


def test_a_vm_deleted_with_delete_options_takes_its_disk_nic_and_public_address(arm, network):
    location, compute = arm.emu.location, arm.compute()
    subnet = make_network(network, location).subnets[0]
    public = network.public_ip_addresses.begin_create_or_update(
        GROUP, "pip", PublicIPAddress(location=location, delete_option="Delete")
    ).result()
    nic = make_nic(network, location, subnet.id, public_id=public.id)
    body = compute.virtual_machines.get(GROUP, make_vm(compute, location, nic.id, disk_delete="Delete").name)
    with pytest.raises(HttpResponseError) as second_vm:
        make_vm(compute, location, nic.id, name="other")
    body.network_profile.network_interfaces[0].delete_option = "Delete"
    compute.virtual_machines.begin_create_or_update(GROUP, "builder", body).result()

    compute.virtual_machines.begin_delete(GROUP, "builder").result()

    assert second_vm.value.error.code == "NicInUse"
    assert list(network.network_interfaces.list(GROUP)) == [] and list(network.public_ip_addresses.list(GROUP)) == []
    assert list(compute.disks.list_by_resource_group(GROUP)) == []


def test_a_linux_vm_needs_a_way_in_and_its_keys_where_the_agent_puts_them(arm, network):
    location, compute = arm.emu.location, arm.compute()
    nic = make_nic(network, location, make_network(network, location).subnets[0].id)
    body = VirtualMachine(
        location=location,
        hardware_profile=HardwareProfile(vm_size="Standard_B2s"),
        storage_profile=StorageProfile(
            image_reference=ImageReference(publisher="Debian", offer="debian-12", sku="12-gen2", version="latest")
        ),
        os_profile=OSProfile(
            computer_name="builder",
            admin_username="phoenix",
            linux_configuration=LinuxConfiguration(disable_password_authentication=True),
        ),
        network_profile=NetworkProfile(network_interfaces=[NetworkInterfaceReference(id=nic.id)]),
    )
    with pytest.raises(HttpResponseError) as no_way_in:
        compute.virtual_machines.begin_create_or_update(GROUP, "builder", body)
    body.os_profile.linux_configuration.ssh = SshConfiguration(
        public_keys=[SshPublicKey(path="/root/.ssh/authorized_keys", key_data=PUBLIC_KEY)]
    )
    with pytest.raises(HttpResponseError) as elsewhere:
        compute.virtual_machines.begin_create_or_update(GROUP, "builder", body)

    assert no_way_in.value.error.code == "InvalidParameter" and "SSH" in no_way_in.value.error.message
    assert elsewhere.value.error.code == "InvalidParameter" and "/home/phoenix/" in elsewhere.value.error.message
    listed = list(compute.virtual_machines.list(GROUP, expand="instanceView"))
    assert listed == []
