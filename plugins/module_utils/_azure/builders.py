# Private to this collection.
"""Azure VMs as builders behind the cloud-neutral BuilderBackend interface.

A builder is a Linux VM in the connection's resource group and location, on a network interface of its own
(with a public address when asked). Its access rule is a network security group allowing tcp/22 from the
given ranges, put on that NIC (Azure applies one security group to a NIC). Its SSH key is an Ed25519 key made
here: Azure has no key resource to make, so the public half goes into the VM's OS profile (as GCE's goes into
the instance's metadata) and the private half is a file under ``key_dir``, named by the VM's tag.

Unlike an EC2 or GCE instance, an Azure VM does not own its OS disk, NIC and public address: each is a
resource of its own, which ARM keeps after the VM unless told otherwise. They are made with ``deleteOption:
Delete`` (deleting the VM, even by hand, takes them along) and ``terminate`` deletes what is left in the
order ARM accepts: the VM, then its NIC (ARM refuses to delete a NIC a VM holds), its public address (refused
while a NIC holds it) and its disk. Every one of them carries the builder's tags (the disk gets them once the
VM made it: ARM gives a VM's disk none of the VM's tags), so whatever a crashed bake left is found by
``leftovers``: NICs, addresses and disks that no VM holds as parts (``builders.PART``), then the security
groups, which ARM deletes only once no NIC holds them.
"""

from __future__ import annotations

import contextlib
import os
import re

from .._core.backends import BuilderBackend
from .._core.builders import (
    ACCESS_RULE,
    GONE,
    PART,
    RUNNING,
    SSH_KEY,
    Leftover,
)
from .._core.errors import InvalidInput, PhoenixError
from .._core.ssh_keys import new_ssh_key, write_private_key
from . import builder_api as api
from .builder_transformations import (
    ADDRESS_SUFFIX,
    BUILDER_TAG,
    DISK_SUFFIX,
    EXPIRES_TAG,
    KEY_COMMENT,
    NIC_SUFFIX,
    NSG_SUFFIX,
    SSH_KEY_TAG,
    builder_from_vm,
    image_reference,
    key_stem,
    properties_of,
    resource_name,
    same_name,
)
from .codec import AZURE_CODEC
from .errors import NotFound, PreconditionFailed
from .identifiers import parse_resource_id

PART_TYPES = {
    "microsoft.network/networkinterfaces": api.delete_nic,
    "microsoft.network/publicipaddresses": api.delete_public_ip,
    "microsoft.compute/disks": api.delete_disk,
}
SSH_RULE_PRIORITY = 1000


class AzureBuilderBackend(BuilderBackend):
    """A builder is an Azure VM; its access rule a network security group, its SSH key the VM's OS profile."""

    cloud = "azure"
    tag_limits = AZURE_CODEC.limits
    codec = AZURE_CODEC
    defaults = {"machine_type": "Standard_B2s", "user": "azureuser"}
    kinds = {ACCESS_RULE: "network_security_group", SSH_KEY: "ssh_key", PART: "resource"}
    result_aliases = {"vm_size": "machine_type"}

    def __init__(self, connection):
        super().__init__(connection.location)
        self.connection = connection
        # Builders found in this task, by id: their key files are leftovers even once their VMs are gone.
        self._found = {}

    def _builder(self, vm, nic=None, address=None):
        builder = builder_from_vm(vm, self.region, nic, address)
        if builder.name:
            self._found[builder.id] = builder
        return builder

    def _id(self, provider_type, name):
        return self.connection.resource_id(provider_type, name)

    # -- reading -----------------------------------------------------------------------------------------

    def find(self, name):
        return self._find(name, with_addresses=True)

    def _find(self, name, with_addresses):
        vms = [
            vm
            for vm in api.list_vms(self.connection)
            if BUILDER_TAG in (vm.get("tags") or {}) and (name is None or vm["tags"][BUILDER_TAG] == name)
        ]
        if not vms or not with_addresses:
            return [self._builder(vm) for vm in vms]
        nics = {nic["id"].lower(): nic for nic in api.list_nics(self.connection)}
        addresses = {address["id"].lower(): address for address in api.list_public_ips(self.connection)}
        found = []
        for vm in vms:
            nic = nics.get(self._primary_nic_id(vm).lower())
            found.append(self._builder(vm, nic, addresses.get(self._address_id(nic).lower())))
        return found

    @staticmethod
    def _primary_nic_id(vm):
        interfaces = (properties_of(vm).get("networkProfile") or {}).get("networkInterfaces") or []
        primary = [item for item in interfaces if properties_of(item).get("primary")] or interfaces
        return primary[0]["id"] if primary else ""

    @staticmethod
    def _address_id(nic):
        configuration = (properties_of(nic).get("ipConfigurations") or [{}])[0]
        return (properties_of(configuration).get("publicIPAddress") or {}).get("id", "")

    def get(self, builder_id):
        parsed = parse_resource_id(builder_id)
        try:
            vm = api.get_vm(self.connection, parsed["resource_group"], parsed["name"])
        except NotFound:
            return None
        nic = address = None
        # The addresses are read once ARM's work on the VM is done: only a running builder is connected to.
        if properties_of(vm).get("provisioningState") == "Succeeded":
            nic = self._read(api.get_nic, self._primary_nic_id(vm))
            address = self._read(api.get_public_ip, self._address_id(nic))
        return self._builder(vm, nic, address)

    def _read(self, getter, resource_id):
        if not resource_id:
            return None
        parsed = parse_resource_id(resource_id)
        try:
            return getter(self.connection, parsed["resource_group"], parsed["name"])
        except NotFound:
            return None

    def reachable(self, builder):
        # ARM answers a Linux VM's creation Succeeded once its guest agent reported it provisioned (sshd up):
        # there are no status checks beyond that.
        return builder.state == RUNNING

    def network(self, subnet):
        if subnet:
            found = self._subnet(subnet)
        else:
            candidates = [
                vnet
                for vnet in api.list_vnets(self.connection)
                if same_name(vnet.get("location"), self.connection.location) and properties_of(vnet).get("subnets")
            ]
            if len(candidates) != 1:
                raise InvalidInput(
                    "no subnet_id given and resource group %s has %d virtual networks with subnets in %s"
                    % (self.connection.resource_group, len(candidates), self.connection.location),
                    resource="subnet_id",
                    hint="Give subnet_id: a subnet id, or VNET/SUBNET of the resource group.",
                )
            found = properties_of(candidates[0])["subnets"][0]
        properties = properties_of(found)
        cidr = properties.get("addressPrefix") or (properties.get("addressPrefixes") or [None])[0]
        return {"subnet": found["id"], "network": found["id"].rsplit("/subnets/", 1)[0], "cidr": cidr}

    def _subnet(self, subnet):
        """A subnet by id, ``VNET/SUBNET`` or a name unique among the resource group's virtual networks."""
        group = self.connection.resource_group
        if subnet.startswith("/"):
            try:
                parsed = parse_resource_id(subnet)
            except ValueError:
                parsed = {"types": []}
            if [kind.lower() for kind in parsed["types"]] != ["virtualnetworks", "subnets"]:
                raise InvalidInput(
                    "subnet_id %r is not the id of a subnet of a virtual network" % subnet, resource="subnet_id"
                )
            group, (network, name) = parsed["resource_group"], parsed["names"]
        elif subnet.count("/") == 1:
            network, name = subnet.split("/")
        else:
            matches = [
                (vnet["name"], item["name"])
                for vnet in api.list_vnets(self.connection)
                for item in properties_of(vnet).get("subnets") or []
                if same_name(item["name"], subnet)
            ]
            if len(matches) != 1:
                raise InvalidInput(
                    "subnet %r names %d subnets in resource group %s" % (subnet, len(matches), group),
                    resource="subnet_id",
                    hint="Give VNET/SUBNET or the subnet's id.",
                )
            [(network, name)] = matches
        try:
            return api.get_subnet(self.connection, group, network, name)
        except NotFound:
            raise InvalidInput(
                "subnet %s of virtual network %s not found in resource group %s" % (name, network, group),
                resource="subnet_id",
                hint="Check the subnet_id (a subnet id, VNET/SUBNET or a subnet name).",
            ) from None

    # -- made only if absent: what an earlier attempt (or someone else) made is ours only if tagged so ----

    def _create(self, create, getter, kind, name, body, tags):
        try:
            return create(self.connection, name, body)
        except PreconditionFailed as error:
            existing = getter(self.connection, self.connection.resource_group, name)
            if any((existing.get("tags") or {}).get(key) != value for key, value in tags.items()):
                raise PhoenixError(
                    "cannot create %s %s in resource group %s: one of that name exists and was not made by this "
                    "run (%s)" % (kind, name, self.connection.resource_group, error.message),
                    resource=existing.get("id", name),
                    code=error.code,
                    cloud="azure",
                    hint="Remove what an earlier run of this builder left with state: absent, then run again.",
                ) from None
            return existing

    # -- access rules --------------------------------------------------------------------------------------

    def create_access_rule(self, name, network, ssh_cidrs, tags):
        group_name = resource_name(name) + NSG_SUFFIX
        rule = {
            "name": "ssh",
            "properties": {
                "description": "SSH to the phoenix.immutable builder %s" % name,
                "protocol": "Tcp",
                "access": "Allow",
                "direction": "Inbound",
                "priority": SSH_RULE_PRIORITY,
                "sourceAddressPrefixes": list(ssh_cidrs),
                "sourcePortRange": "*",
                "destinationAddressPrefix": "*",
                "destinationPortRange": "22",
            },
        }
        body = {"location": self.connection.location, "tags": dict(tags), "properties": {"securityRules": [rule]}}
        made = self._create(api.create_nsg, api.get_nsg, "network security group", group_name, body, tags)
        return made["id"]

    def delete_access_rule(self, rule_id):
        parsed = parse_resource_id(rule_id)
        with contextlib.suppress(NotFound):
            api.delete_nsg(self.connection, parsed["resource_group"], parsed["name"])

    def _security_group(self, access_rule_ids):
        """The one network security group of the builder's NIC, as an id."""
        if len(access_rule_ids) > 1:
            raise InvalidInput(
                "%d access rules given; Azure puts one network security group on a network interface"
                % len(access_rule_ids),
                resource="access_rule_ids",
                hint="Give one network security group (id or name), or merge their rules into one.",
            )
        if not access_rule_ids:
            return None
        rule = access_rule_ids[0]
        return rule if rule.startswith("/") else self._id("Microsoft.Network/networkSecurityGroups", rule)

    # -- SSH keys ------------------------------------------------------------------------------------------

    @staticmethod
    def _key_file(key_ref, key_dir):
        stem = key_stem(key_ref)
        if stem is None:
            return None
        return os.path.join(os.path.expanduser(key_dir or "~/.ansible/phoenix/builder-keys"), stem)

    def create_ssh_key(self, name, key_dir, tags):
        # Azure makes no key pair: the key is made here, its public half goes to the VM's OS profile.
        public_key, pem = new_ssh_key(KEY_COMMENT)
        path = self._key_file(public_key, key_dir)
        write_private_key(path, pem)
        return public_key, path

    def login_key(self, ssh_key, user):
        if not ssh_key or re.match(r"[^\s:]+:", ssh_key):
            return ssh_key
        return "%s:%s" % (user, ssh_key.strip())

    def key_path(self, builder, key_dir):
        if not builder.owned_ssh_key:
            return None
        path = self._key_file(builder.owned_ssh_key, key_dir)
        return path if path and os.path.exists(path) else None

    def delete_ssh_key(self, key_ref, key_dir):
        # The public half is in the VM's OS profile and goes with it.
        path = self._key_file(key_ref, key_dir)
        if path and os.path.exists(path):
            os.remove(path)

    # -- VMs -----------------------------------------------------------------------------------------------

    def launch(self, name, image_id, machine_type, subnet, access_rule_ids, ssh_key, public_address, tags):
        vm_name = resource_name(name)
        tagged = dict(tags)
        if tagged.get(SSH_KEY_TAG):
            tagged[SSH_KEY_TAG] = key_stem(tagged[SSH_KEY_TAG]) or tagged[SSH_KEY_TAG]
        ownership = {key: tagged[key] for key in (BUILDER_TAG, EXPIRES_TAG) if key in tagged}
        user, public_key = self._login(ssh_key)
        security_group = self._security_group(access_rule_ids)
        made = []
        try:
            address = None
            if public_address:
                address = self._create(
                    api.create_public_ip,
                    api.get_public_ip,
                    "public IP address",
                    vm_name + ADDRESS_SUFFIX,
                    {
                        "location": self.connection.location,
                        "tags": tagged,
                        "sku": {"name": "Standard"},
                        "properties": {"publicIPAllocationMethod": "Static", "deleteOption": "Delete"},
                    },
                    ownership,
                )
                made.append(address["id"])
            configuration = {"subnet": {"id": subnet}, "privateIPAllocationMethod": "Dynamic", "primary": True}
            if address is not None:
                configuration["publicIPAddress"] = {"id": address["id"]}
            nic_body = {
                "location": self.connection.location,
                "tags": tagged,
                "properties": {"ipConfigurations": [{"name": "ipconfig1", "properties": configuration}]},
            }
            if security_group:
                nic_body["properties"]["networkSecurityGroup"] = {"id": security_group}
            nic = self._create(
                api.create_nic, api.get_nic, "network interface", vm_name + NIC_SUFFIX, nic_body, ownership
            )
            made.insert(0, nic["id"])
            vm = self._create_vm(vm_name, name, image_id, machine_type, nic["id"], user, public_key, tagged)
        except Exception:
            self._discard_unheld(name, vm_name, made)
            raise
        # ARM gives the disk a VM makes none of the VM's tags: without them a disk left behind is nobody's.
        disk = ((properties_of(vm).get("storageProfile") or {}).get("osDisk") or {}).get("name")
        if disk:
            api.tag_disk(self.connection, self.connection.resource_group, disk, tagged)
        return self._builder(vm, nic, address)

    def _login(self, ssh_key):
        if not ssh_key or ":" not in ssh_key.split(" ", 1)[0]:
            raise InvalidInput("an Azure builder needs a public SSH key for its login user", resource="ssh_key")
        user, public_key = ssh_key.split(":", 1)
        return user, public_key.strip()

    def _create_vm(self, vm_name, name, image_id, machine_type, nic_id, user, public_key, tags):
        body = {
            "location": self.connection.location,
            "tags": tags,
            "properties": {
                "hardwareProfile": {"vmSize": machine_type},
                "storageProfile": {
                    "imageReference": image_reference(image_id),
                    "osDisk": {
                        "name": vm_name + DISK_SUFFIX,
                        "createOption": "FromImage",
                        "deleteOption": "Delete",
                        "managedDisk": {"storageAccountType": "StandardSSD_LRS"},
                    },
                },
                "osProfile": {
                    "computerName": vm_name,
                    "adminUsername": user,
                    "linuxConfiguration": {
                        "disablePasswordAuthentication": True,
                        "ssh": {
                            "publicKeys": [{"path": "/home/%s/.ssh/authorized_keys" % user, "keyData": public_key}]
                        },
                    },
                },
                "networkProfile": {
                    "networkInterfaces": [{"id": nic_id, "properties": {"primary": True, "deleteOption": "Delete"}}]
                },
            },
        }
        try:
            return api.create_vm(self.connection, vm_name, body)
        except PreconditionFailed as error:
            existing = api.get_vm(self.connection, self.connection.resource_group, vm_name)
            if (existing.get("tags") or {}).get(BUILDER_TAG) != name:
                raise PhoenixError(
                    "cannot launch builder %s: VM %s exists in resource group %s and is not a builder of that name "
                    "(%s)" % (name, vm_name, self.connection.resource_group, error.message),
                    resource=existing.get("id", vm_name),
                    code=error.code,
                    cloud="azure",
                    hint="Delete or rename that VM, or give the builder another name.",
                ) from None
            return existing

    def _discard_unheld(self, name, vm_name, made):
        """Delete the NIC and address a launch made when no VM of this builder holds them (its creation was
        refused, or the VM of that name is someone else's); a VM of this builder that was made, even Failed, is
        the core's to terminate, and takes them along."""
        try:
            vm = api.get_vm(self.connection, self.connection.resource_group, vm_name)
        except NotFound:
            vm = None
        except PhoenixError:
            return  # unknown: the tags let the reaper find them
        if vm is not None and (vm.get("tags") or {}).get(BUILDER_TAG) == name:
            return
        for resource_id in made:
            with contextlib.suppress(PhoenixError):
                self.delete_part(resource_id)

    def stop(self, builder):
        parsed = parse_resource_id(builder.id)
        # Deallocated, not only powered off: a VM is generalized and imaged stopped, and billed no more.
        api.deallocate_vm(self.connection, parsed["resource_group"], parsed["name"])

    def terminate(self, builder):
        parsed = parse_resource_id(builder.id)
        group, vm_name = parsed["resource_group"], parsed["name"]
        with contextlib.suppress(NotFound):
            api.delete_vm(self.connection, group, vm_name)
        # Taken along by deleteOption Delete; deleted here too in ARM's order for a VM made otherwise.
        for deleted, suffix in (
            (api.delete_nic, NIC_SUFFIX),
            (api.delete_public_ip, ADDRESS_SUFFIX),
            (api.delete_disk, DISK_SUFFIX),
        ):
            with contextlib.suppress(NotFound):
                deleted(self.connection, group, vm_name + suffix)
        return GONE

    # -- what is left --------------------------------------------------------------------------------------

    def leftovers(self, name):
        def ours(resource):
            tags = resource.get("tags") or {}
            return BUILDER_TAG in tags and (name is None or tags[BUILDER_TAG] == name)

        def leftover(kind, resource):
            tags = resource["tags"]
            return Leftover(kind, resource["id"], tags[BUILDER_TAG], tags.get(EXPIRES_TAG))

        # In the order ARM deletes them: NICs no VM holds, then the addresses no other NIC holds, the disks no VM
        # holds, then the security groups (which ARM deletes once no NIC holds them).
        found = [
            leftover(PART, nic)
            for nic in api.list_nics(self.connection)
            if ours(nic) and not properties_of(nic).get("virtualMachine")
        ]
        unheld = {part.id.lower() for part in found}
        for address in api.list_public_ips(self.connection):
            holder = (properties_of(address).get("ipConfiguration") or {}).get("id", "")
            if ours(address) and (not holder or holder.lower().split("/ipconfigurations/")[0] in unheld):
                found.append(leftover(PART, address))
        found += [
            leftover(PART, disk) for disk in api.list_disks(self.connection) if ours(disk) and not disk.get("managedBy")
        ]
        found += [leftover(ACCESS_RULE, group) for group in api.list_nsgs(self.connection) if ours(group)]
        # Only the key each builder was given is read here: no addresses (two listings fewer).
        builders = {builder.id: builder for builder in self._find(name, with_addresses=False)}
        for builder_id, builder in self._found.items():
            if name is None or builder.name == name:
                builders.setdefault(builder_id, builder)
        stems = set()
        for builder in builders.values():
            if builder.owned_ssh_key and key_stem(builder.owned_ssh_key) and builder.owned_ssh_key not in stems:
                stems.add(builder.owned_ssh_key)
                found.append(Leftover(SSH_KEY, builder.owned_ssh_key, builder.name, builder.expires_at))
        return found

    def delete_part(self, part_id):
        parsed = parse_resource_id(part_id)
        delete = PART_TYPES.get("%s/%s" % (parsed["provider"].lower(), "/".join(parsed["types"]).lower()))
        if delete is None:
            raise InvalidInput("%s is not a part of a builder" % part_id, resource=part_id)
        with contextlib.suppress(NotFound):
            delete(self.connection, parsed["resource_group"], parsed["name"])

    def api_calls(self):
        return self.connection.api_calls()
