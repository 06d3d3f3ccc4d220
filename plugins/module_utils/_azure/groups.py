# Private to this collection.
"""Virtual machine scale sets behind the cloud-neutral GroupBackend.

Where the groups live: Uniform scale sets in the connection's resource group. The *base* is a scale set the user
keeps as the service's model (capacity 0 is enough), named by its name (in that resource group) or its resource
id. A *launch* is an image reference (``scale_set_transformations.launch_of``): a scale set's model is
mutable, so a rollout's group is created with the base's model (``rollout_store``) and ``launch`` changes only
its ``imageReference`` and capacity. Nothing is made per rollout: ``prepare_launch`` hands the image back,
``prepared_launches`` is empty and ``discard_launch`` has nothing to delete (the core only stores launches in
the record and hands them back, so no launch outlives its group).
"""

from __future__ import annotations

import re

from .._core.backends import GroupBackend
from .._core.errors import InvalidInput, PhoenixError
from . import scale_sets
from .codec import AZURE_CODEC
from .errors import NotFound
from .identifiers import parse_resource_id
from .scale_set_transformations import (
    group_from_scale_set,
    image_definition,
    image_reference,
    latest_version,
    launch_of,
    profile_of,
)

SCALE_SET_TYPE = "Microsoft.Compute/virtualMachineScaleSets"
# A scale set's name: 1 to 64 letters, digits, hyphens (and more, which a service's name does not need); a
# service's groups are <service>-a / <service>-b.
MAX_GROUP_NAME = 64
COLOUR_SUFFIX = "-a"
MAX_SERVICE_NAME = MAX_GROUP_NAME - len(COLOUR_SUFFIX)
SERVICE_NAME = re.compile(r"^[A-Za-z][-A-Za-z0-9]*$")


def check_service_name(service):
    service = service or ""
    if not service or len(service) > MAX_SERVICE_NAME or not SERVICE_NAME.match(service):
        raise InvalidInput(
            "service %r must be 1 to %d letters, digits or hyphens, starting with a letter"
            % (service, MAX_SERVICE_NAME),
            resource=service,
            hint="Its scale sets are named <service>-a / <service>-b within the 64 characters Compute allows.",
        )


def needs_members(scale_set):
    """Whether the scale set can have instances now: a capacity, or a change under way."""
    capacity = int((scale_set.get("sku") or {}).get("capacity") or 0)
    return capacity > 0 or (scale_set.get("properties") or {}).get("provisioningState") != "Succeeded"


class AzureGroupBackend(GroupBackend):
    cloud = "azure"
    codec = AZURE_CODEC

    def __init__(self, connection, traffic=None):
        """``traffic``: a callable returning the TrafficBackend. Not needed to delete a group (a scale set in a
        backend pool is deleted with its pool memberships); taken for the same signature as the other clouds'."""
        self.connection = connection
        self.resource_group = connection.resource_group
        self.region = connection.location
        self.traffic = traffic

    # -- groups --------------------------------------------------------------------------------------

    def _group(self, scale_set, with_members=True):
        members = []
        if with_members and needs_members(scale_set):
            members = scale_sets.list_scale_set_instances(self.connection, self.resource_group, scale_set["name"])
        return group_from_scale_set(scale_set, members)

    def _scale_set(self, name, resource_group=None):
        try:
            return scale_sets.get_scale_set(self.connection, resource_group or self.resource_group, name)
        except NotFound:
            return None

    def groups(self, with_members=True):
        listed = scale_sets.list_scale_sets(self.connection, self.resource_group)
        return [self._group(item, with_members) for item in listed]

    def get(self, name, with_members=True):
        scale_set = self._scale_set(name)
        return self._group(scale_set, with_members) if scale_set is not None else None

    def check_service_name(self, service):
        check_service_name(service)

    # -- the base and its launches -------------------------------------------------------------------

    def _no_base(self, base):
        return InvalidInput(
            "scale set %r does not exist in resource group %s" % (base, self.resource_group),
            resource=base,
            hint="Give the name or resource id of the scale set whose model the service's groups copy.",
        )

    def base_scale_set(self, base):
        """The base scale set (ARM's JSON) the user named by name or resource id; InvalidInput when there is none."""
        base = base or ""
        if base.startswith("/"):
            try:
                found = parse_resource_id(base)
            except ValueError:
                found = None
            if not found or "/".join([found["provider"], *found["types"]]).lower() != SCALE_SET_TYPE.lower():
                raise InvalidInput(
                    "%r is not a scale set id (/subscriptions/S/resourceGroups/RG/providers/"
                    "Microsoft.Compute/virtualMachineScaleSets/NAME)" % base,
                    resource=base,
                )
            scale_set = self._scale_set(found["name"], found["resource_group"])
        else:
            scale_set = self._scale_set(base) if base else None
        if scale_set is None:
            raise self._no_base(base)
        return scale_set

    def resolve_base(self, base):
        return self.base_scale_set(base)["id"]

    def base_launch(self, base):
        reference = (profile_of(self.base_scale_set(base)).get("storageProfile") or {}).get("imageReference")
        launch = launch_of(reference)
        if launch is None:
            raise InvalidInput("the model of scale set %s names no image" % base, resource=base)
        return launch

    def image_of(self, group):
        launch = group.launch
        definition = image_definition(launch)
        if definition is None:
            return launch
        # A definition names whatever version is its latest: what the group's next instance would boot.
        return latest_version(scale_sets.list_image_versions(self.connection, *definition))

    def prepare_launch(self, base, image_id, rollout_id):
        image_reference(image_id)  # refuses what is no image reference, before any change
        return image_id

    def prepared_launches(self, base, rollout_id):
        return []

    def discard_launch(self, launch):
        """Nothing to delete: a launch is an image reference, made by no one here."""

    # -- the group -----------------------------------------------------------------------------------

    def _change(self, name, size, launch=None):
        """One PATCH of the capacity (and the image), none when both are as asked already."""

        def patch_of(scale_set):
            patch = {}
            sku = dict(scale_set.get("sku") or {})
            if int(sku.get("capacity") or 0) != size:
                sku["capacity"] = size
                patch["sku"] = sku
            current = (profile_of(scale_set).get("storageProfile") or {}).get("imageReference")
            if launch is not None and launch_of(current) != launch:
                reference = dict.fromkeys(("id", "publisher", "offer", "sku", "version"))  # null: removed
                reference.update(image_reference(launch))
                patch["properties"] = {"virtualMachineProfile": {"storageProfile": {"imageReference": reference}}}
            return patch

        try:
            # Waited for: the core's health checks then count instances this change makes or removes.
            scale_sets.modify_scale_set(self.connection, self.resource_group, name, patch_of, remembered=False)
        except NotFound:
            raise PhoenixError(
                "cannot change scale set %s: it does not exist in resource group %s" % (name, self.resource_group),
                resource=name,
                code="ResourceNotFound",
                cloud="azure",
                hint="Run again: the rollout is resumed from what the cloud holds.",
            ) from None

    def launch(self, name, launch, size):
        # The image and the capacity in one change: instances the capacity adds boot the new image.
        self._change(name, size, launch)

    def resize(self, name, size):
        self._change(name, size)

    def delete(self, name):
        """Delete the scale set with its instances and wait until ARM has; its record (tags) goes with it."""
        try:
            scale_sets.delete_scale_set(self.connection, self.resource_group, name)
        except NotFound:
            return

    def api_calls(self):
        return self.connection.api_calls()
