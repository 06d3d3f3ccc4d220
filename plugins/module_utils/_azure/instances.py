# Private to this collection.
"""Scale set instances and virtual machines behind the cloud-neutral InstanceBackend a drift scan reads and
replaces through.

What the scan reads, in the connection's resource group, a page (``nextLink``) at a time:

- every scale set's instances (``virtualMachines`` with ``$expand=instanceView``): the id is the instance's
  resource id, the image the gallery image version it booted (``imageReference``, an image definition
  completed with ``exactVersion``), the group its scale set, the subnets its applied model's, the state its power
  state;
- every virtual machine: its image as its ``imageReference`` names it, no group; its subnets are its network
  interfaces' (read once a scan, only when the scan is scoped by subnets).

Subnets match by resource id (any case) or by bare name; tags must all be carried. A replacement goes through
the scale set, never in place: ``POST .../delete`` of the instance (which lowers the capacity) and the capacity
set back, so the scale set makes a new instance under a new instance id. Virtual machines no group of ours made
are deleted.
"""

from __future__ import annotations

from .._core.backends import InstanceBackend
from . import gallery_api, scale_sets
from .codec import AZURE_CODEC
from .errors import AzureApiError, NotFound
from .groups import needs_members
from .identifiers import IMAGE_ID_PATTERN, parse_resource_id
from .image_transformations import image_from_version, location_name
from .scale_set_transformations import (
    instance_subnets,
    observed_scale_set_vm,
    observed_vm,
    scale_set_of,
)


class AzureInstanceBackend(InstanceBackend):
    cloud = "azure"
    codec = AZURE_CODEC
    # A scale set makes a replacement under a new instance id: the wait for a batch goes by ids.
    replaces_under_same_id = False
    # The scan lists each scale set's instances (VirtualMachineScaleSetVMs_List): that is their membership.
    lists_group_members = True

    def __init__(self, connection):
        self.connection = connection
        self.resource_group = connection.resource_group
        self.region = connection.location

    # -- the scan --------------------------------------------------------------------------------

    def instances(self, subnets=None, tags=None):
        """Observed instances, each made as its page arrives (a page is dropped once handed on)."""
        wanted_tags = dict(tags or {})
        scope = _scope(subnets)
        for scale_set in scale_sets.list_scale_sets(self.connection, self.resource_group):
            if not needs_members(scale_set):
                continue  # capacity 0 and no change under way: no instance to read
            for page in scale_sets.scale_set_instance_pages(self.connection, self.resource_group, scale_set["name"]):
                for vm in page:
                    if not _live(vm) or not _carries(vm, wanted_tags):
                        continue
                    if scope is not None and not any(_in_scope(subnet, scope) for subnet in instance_subnets(vm)):
                        continue
                    yield observed_scale_set_vm(vm, scale_set["name"])
        interfaces = None
        for page in scale_sets.virtual_machine_pages(self.connection, self.resource_group):
            for vm in page:
                if not _live(vm) or not _carries(vm, wanted_tags):
                    continue
                subnet = None
                if scope is not None:
                    if interfaces is None:
                        interfaces = self._interface_subnets()
                    found = [s for nic in _interfaces_of(vm) for s in interfaces.get(nic.lower(), [])]
                    if not any(_in_scope(item, scope) for item in found):
                        continue
                    subnet = found[0] if found else None
                yield observed_vm(vm, subnet)

    def _interface_subnets(self):
        """{network interface id (lower): [subnet ids]} of the resource group's network interfaces, one list."""
        network = self.connection.network()
        found = {}
        listed = network.network_interfaces.list(self.resource_group)
        for page in scale_sets.pages(self.connection, "NetworkInterfaces_List", listed, resource=self.resource_group):
            for interface in page:
                configurations = (interface.get("properties") or {}).get("ipConfigurations") or []
                found[interface["id"].lower()] = [
                    ((item.get("properties") or {}).get("subnet") or {}).get("id")
                    for item in configurations
                    if ((item.get("properties") or {}).get("subnet") or {}).get("id")
                ]
        return found

    def images(self, image_ids):
        """model.Image of each gallery image version that still exists, as the image backend reads it (the same
        name, creation time and disks, so the same descriptor: a signature that verifies there verifies here).

        Versions are listed per image definition (ARM has no list across definitions); the definitions are read
        with one list of their gallery where the scan needs several of it, else with one read."""
        definitions = {}
        for image_id in image_ids:
            if image_id and IMAGE_ID_PATTERN.match(image_id):
                found = parse_resource_id(image_id)
                key = (found["resource_group"], found["names"][0], found["names"][1])
                definitions.setdefault(key, set()).add(image_id.lower())
        read = self._definitions(sorted(definitions))
        images, region = [], location_name(self.connection.location)
        for (group, gallery, image), wanted in sorted(definitions.items()):
            definition = read.get((group.lower(), gallery.lower(), image.lower()))
            if definition is None:
                continue
            try:
                versions = gallery_api.list_versions(self.connection, group, gallery, image)
            except NotFound:
                continue
            images.extend(
                image_from_version(version, definition, self.connection.subscription_id, region)
                for version in versions
                if version.id.lower() in wanted
            )
        return images

    def _definitions(self, keys):
        """{(resource group, gallery, definition), in lower case: the definition} of those that exist."""
        by_gallery = {}
        for group, gallery, image in keys:
            by_gallery.setdefault((group, gallery), []).append(image)
        found = {}
        for (group, gallery), names in sorted(by_gallery.items()):
            try:
                if len(names) == 1:
                    listed = [gallery_api.get_definition(self.connection, group, gallery, names[0])]
                else:
                    listed = gallery_api.list_definitions(self.connection, group, gallery)
            except NotFound:
                continue
            found.update(((group.lower(), gallery.lower(), item.name.lower()), item) for item in listed)
        return found

    # -- changes ---------------------------------------------------------------------------------

    def replace_in_group(self, group, instance_id):
        """The instance deleted through its scale set, then the capacity set back: a new instance is made."""
        found = scale_set_of(instance_id)
        if found is None:
            return
        name, number = found
        try:
            scale_set = scale_sets.get_scale_set(self.connection, self.resource_group, name)
        except NotFound:
            return  # the group is gone, and its instances with it
        capacity = int((scale_set.get("sku") or {}).get("capacity") or 0)
        try:
            scale_sets.delete_scale_set_instances(self.connection, self.resource_group, name, [number])
        except AzureApiError as error:
            # Refused as not an active instance: gone meanwhile (scaled in, replaced), which is what was asked.
            if error.status not in (400, 404):
                raise
            return
        sku = dict(scale_set.get("sku") or {})
        sku["capacity"] = capacity
        scale_sets.update_scale_set(self.connection, self.resource_group, name, {"sku": sku})

    def terminate(self, instance_ids):
        """Delete each instance no group of ours made (a VM, or an instance of a scale set not ours)."""
        for instance_id in instance_ids:
            found = scale_set_of(instance_id)
            try:
                if found is not None:
                    scale_sets.delete_scale_set_instances(self.connection, self.resource_group, found[0], [found[1]])
                else:
                    where = parse_resource_id(instance_id)
                    scale_sets.delete_virtual_machine(self.connection, where["resource_group"], where["name"])
            except NotFound:
                continue

    def api_calls(self):
        return self.connection.api_calls()


def _live(vm):
    return (vm.get("properties") or {}).get("provisioningState") != "Deleting"


def _carries(vm, tags):
    carried = vm.get("tags") or {}
    return all(carried.get(key) == value for key, value in tags.items())


def _scope(subnets):
    """(ids in lower case, bare names) the scan's subnets name, or None for no subnet scope."""
    if not subnets:
        return None
    ids, names = set(), set()
    for subnet in subnets:
        (ids if "/" in subnet else names).add(subnet.lower() if "/" in subnet else subnet)
    return ids, names


def _in_scope(subnet, scope):
    ids, names = scope
    return bool(subnet) and (subnet.lower() in ids or subnet.rstrip("/").rsplit("/", 1)[-1] in names)


def _interfaces_of(vm):
    return [
        interface["id"]
        for interface in ((vm.get("properties") or {}).get("networkProfile") or {}).get("networkInterfaces") or []
        if interface.get("id")
    ]
