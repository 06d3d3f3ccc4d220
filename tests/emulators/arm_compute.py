"""The ARM emulator's resource types: resource groups and Azure Compute Gallery galleries and image definitions.

`ResourceType` serves one ARM resource type under a resource group (CreateOrUpdate, Get, Update, Delete and
a list of the parent's children) with ARM's rules; a subclass says where the type lives, its operation ids
and how its ``properties`` are checked (`validate`) and filled in (`complete`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from emulators.arm_api import (
    Answer,
    ArmError,
    Request,
    check_tags,
    invalid_parameter,
    normalize_location,
    parent_resource_not_found,
    property_change_not_allowed,
    required_parameter,
    resource_group_not_found,
    resource_not_found,
)

if TYPE_CHECKING:
    from emulators.arm import ArmEmulator

_SUBSCRIPTION = r"/subscriptions/(?P<subscription>[^/]+)"
_GROUP = _SUBSCRIPTION + r"/resourceGroups/(?P<group>[^/]+)"
GROUP_NAME = re.compile(r"^[-\w._()]{0,89}[-\w_()]$")
GALLERY_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._]{0,78}[A-Za-z0-9])?$")
IMAGE_NAME = re.compile(r"^[A-Za-z0-9](?:[-A-Za-z0-9._]{0,78}[A-Za-z0-9])?$")


class ResourceType:
    """One ARM resource type under a resource group, served with ARM's rules."""

    provider = "Microsoft.Compute"
    # The path after ".../providers/<provider>/": (segment, name group) pairs from the top type down.
    segments: tuple[tuple[str, str], ...] = ()
    operation_prefix = ""
    list_operation = ""

    def __init__(self, emu: ArmEmulator) -> None:
        self.emu = emu

    @property
    def type_name(self) -> str:
        return "%s/%s" % (self.provider, "/".join(segment for segment, _name in self.segments))

    def _pattern(self, depth: int) -> str:
        parts = ["%s/(?P<%s>[^/]+)" % (segment, group) for segment, group in self.segments[:depth]]
        path = _GROUP + "/providers/" + re.escape(self.provider)
        return path + "".join("/" + part for part in parts)

    def routes(self) -> list[tuple[str, str, str, Any]]:
        item = self._pattern(len(self.segments))
        listing = self._pattern(len(self.segments) - 1) + "/" + self.segments[-1][0]
        prefix = self.operation_prefix
        return [
            ("PUT", item, prefix + "_CreateOrUpdate", self.put),
            ("GET", item, prefix + "_Get", self.get),
            ("PATCH", item, prefix + "_Update", self.update),
            ("DELETE", item, prefix + "_Delete", self.delete),
            ("GET", listing, prefix + "_" + self.list_operation, self.list),
        ]

    # ids and parents -------------------------------------------------------------------------------

    def resource_id(self, match: dict[str, str], depth: int | None = None) -> str:
        depth = len(self.segments) if depth is None else depth
        path = self.emu.resource_group_id(match["group"]) + "/providers/" + self.provider
        for segment, group in self.segments[:depth]:
            path += "/%s/%s" % (segment, match[group])
        return path

    def name_of(self, match: dict[str, str]) -> str:
        return match[self.segments[-1][1]]

    def check_parents(self, match: dict[str, str]) -> dict[str, Any] | None:
        """The resource group must exist, and the parent resource of a nested type; returns the parent."""
        group = self.emu.get(self.emu.resource_group_id(match["group"]))
        if group is None:
            raise resource_group_not_found(match["group"])
        if len(self.segments) == 1:
            return group
        parent = self.emu.get(self.resource_id(match, len(self.segments) - 1))
        if parent is None:
            raise parent_resource_not_found(match[self.segments[-2][1]])
        return parent

    def find(self, match: dict[str, str]) -> dict[str, Any]:
        self.check_parents(match)
        resource = self.emu.get(self.resource_id(match))
        if resource is None:
            raise resource_not_found(self.type_name, self.name_of(match).split("/")[-1], match["group"])
        return resource

    # what a subclass says --------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget what the type keeps besides its resources (called by the emulator's reset)."""

    def check_name(self, name: str) -> None:
        """Refuse a name the type does not allow."""

    def validate(
        self, properties: dict[str, Any], existing: dict[str, Any] | None, resource: dict[str, Any]
    ) -> dict[str, Any]:
        """The properties to store, or the ARM error; ``existing`` is the stored resource on an update."""
        return dict(properties)

    def complete(self, resource: dict[str, Any]) -> None:
        """Fill in what the service computes once the resource is created (called when its operation succeeds)."""

    def delete_conflict(self, resource: dict[str, Any]) -> ArmError | None:
        """Why the resource cannot be deleted now (nested resources, a user), or None."""
        children = [key for key in self.emu.resources if key.startswith(resource["id"].lower() + "/")]
        if children:
            return ArmError(409, "CannotDeleteResource", "Can not delete resource before nested resources are deleted.")
        return None

    # handlers --------------------------------------------------------------------------------------

    def put(self, request: Request) -> Answer:
        parent = self.check_parents(request.match)
        name = self.name_of(request.match)
        self.check_name(name)
        resource_id = self.resource_id(request.match)
        existing = self.emu.get(resource_id)
        if request.headers.get("if-none-match", "").strip() == "*" and existing is not None:
            raise ArmError(
                412,
                "PreconditionFailed",
                "The condition 'If-None-Match: *' is not met: the resource '%s' already exists." % resource_id,
            )
        self._check_if_match(request, existing)
        body = request.body
        if not isinstance(body, dict):
            raise ArmError(400, "InvalidRequestContent", "The request content was invalid: a JSON object is required.")
        location = body.get("location")
        if not isinstance(location, str) or not location:
            raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
        location = normalize_location(location)
        if existing is not None and location != existing["location"]:
            raise property_change_not_allowed("location")
        if parent is not None and len(self.segments) > 1 and location != parent["location"]:
            raise invalid_parameter(
                "The location '%s' of %s '%s' must be the location '%s' of its parent."
                % (location, self.type_name, name, parent["location"]),
                "location",
            )
        resource: dict[str, Any] = {
            "id": existing["id"] if existing else resource_id,
            "name": existing["name"] if existing else name,
            "type": self.type_name,
            "location": location,
            "tags": check_tags(body.get("tags")),
        }
        properties = body.get("properties") or {}
        if not isinstance(properties, dict):
            raise ArmError(
                400, "InvalidRequestContent", "The request content was invalid: 'properties' is not an object."
            )
        resource["properties"] = self.validate(properties, existing, resource)
        return self._mutate(request, resource, existing)

    def update(self, request: Request) -> Answer:
        existing = self.find(request.match)
        self._check_if_match(request, existing)
        body = request.body
        if not isinstance(body, dict):
            raise ArmError(400, "InvalidRequestContent", "The request content was invalid: a JSON object is required.")
        resource = self.emu.shape(existing)
        if "tags" in body:  # a PATCH replaces the tags as a whole, as ARM's providers do
            resource["tags"] = check_tags(body["tags"])
        patch = body.get("properties")
        if patch is not None:
            if not isinstance(patch, dict):
                raise ArmError(400, "InvalidRequestContent", "The request content was invalid: 'properties'.")
            merged = _merge_patch({k: v for k, v in existing["properties"].items() if k != "provisioningState"}, patch)
            resource["properties"] = self.validate(merged, existing, resource)
        return self._mutate(request, resource, existing)

    def _mutate(self, request: Request, resource: dict[str, Any], existing: dict[str, Any] | None) -> Answer:
        key = resource["id"].lower()
        previous = self.emu.shape(existing) if existing else None
        resource["properties"]["provisioningState"] = "Updating" if existing else "Creating"
        self.emu.resources[key] = resource

        def done() -> None:
            stored = self.emu.resources.get(key)
            if stored is not None:
                stored["properties"]["provisioningState"] = "Succeeded"
                if previous is None:
                    self.complete(stored)

        def failed() -> None:
            stored = self.emu.resources.get(key)
            if stored is not None:
                stored["properties"]["provisioningState"] = "Failed"

        headers = self.emu.start_operation(
            request, resource["id"], on_done=done, on_fail=failed, provider=self.provider, location=resource["location"]
        )
        return Answer(200 if existing else 201, self.emu.shape(resource), headers)

    def _check_if_match(self, request: Request, existing: dict[str, Any] | None) -> None:
        wanted = request.headers.get("if-match")
        if wanted is None:
            return
        if existing is None or (wanted.strip() != "*" and existing.get("etag") != wanted.strip()):
            raise ArmError(412, "PreconditionFailed", "The condition 'If-Match: %s' is not met." % wanted)

    def get(self, request: Request) -> Answer:
        return Answer(200, self.emu.shape(self.find(request.match)))

    def delete(self, request: Request) -> Answer:
        self.check_parents_for_delete(request.match)
        resource = self.emu.get(self.resource_id(request.match))
        if resource is None:
            return Answer(204, None)  # ARM's DELETE is idempotent: nothing to delete is a success
        conflict = self.delete_conflict(resource)
        if conflict is not None:
            raise conflict
        resource["properties"]["provisioningState"] = "Deleting"
        key = resource["id"].lower()

        def done() -> None:
            for child in [k for k in self.emu.resources if k == key or k.startswith(key + "/")]:
                del self.emu.resources[child]

        def failed() -> None:
            stored = self.emu.resources.get(key)
            if stored is not None:
                stored["properties"]["provisioningState"] = "Failed"

        headers = self.emu.start_operation(
            request,
            resource["id"],
            on_done=done,
            on_fail=failed,
            location_header=True,
            provider=self.provider,
            location=resource["location"],
        )
        return Answer(202, None, headers)

    def check_parents_for_delete(self, match: dict[str, str]) -> None:
        if self.emu.get(self.emu.resource_group_id(match["group"])) is None:
            raise resource_group_not_found(match["group"])

    def list(self, request: Request) -> Answer:
        match = dict(request.match)
        if len(self.segments) == 1:
            self.check_parents(match)
            parent_id = self.emu.resource_group_id(match["group"]) + "/providers/" + self.provider
        else:
            self.check_parents(match)
            parent_id = self.resource_id(match, len(self.segments) - 1)
        items = [self.emu.shape(item) for item in self.emu.children_of(parent_id, self.type_name)]
        return Answer(200, self.emu.page(items, request))


class ResourceGroups(ResourceType):
    """``Microsoft.Resources/resourceGroups``: synchronous create, an asynchronous delete of all it holds."""

    provider = "Microsoft.Resources"
    operation_prefix = "ResourceGroups"

    @property
    def type_name(self) -> str:
        return "Microsoft.Resources/resourceGroups"

    def routes(self) -> list[tuple[str, str, str, Any]]:
        item = _GROUP
        return [
            ("PUT", item, "ResourceGroups_CreateOrUpdate", self.put),
            ("GET", item, "ResourceGroups_Get", self.get),
            ("HEAD", item, "ResourceGroups_CheckExistence", self.check_existence),
            ("PATCH", item, "ResourceGroups_Update", self.update),
            ("DELETE", item, "ResourceGroups_Delete", self.delete),
            ("GET", _SUBSCRIPTION + "/resourceGroups", "ResourceGroups_List", self.list),
        ]

    def resource_id(self, match: dict[str, str], depth: int | None = None) -> str:
        return self.emu.resource_group_id(match["group"])

    def find(self, match: dict[str, str]) -> dict[str, Any]:
        resource = self.emu.get(self.resource_id(match))
        if resource is None:
            raise resource_group_not_found(match["group"])
        return resource

    def put(self, request: Request) -> Answer:
        name = request.match["group"]
        if not GROUP_NAME.match(name) or name.endswith("."):
            raise ArmError(
                400,
                "InvalidResourceGroup",
                "The provided resource group name '%s' has these invalid characters or is too long." % name,
            )
        body = request.body if isinstance(request.body, dict) else {}
        location = body.get("location")
        if not isinstance(location, str) or not location:
            raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
        location = normalize_location(location)
        existing = self.find_or_none(request.match)
        if existing is not None and existing["location"] != location:
            raise ArmError(
                409,
                "InvalidResourceGroupLocation",
                "Invalid resource group location '%s'. The Resource group already exists in location '%s'."
                % (location, existing["location"]),
            )
        if existing is not None and existing["properties"]["provisioningState"] == "Deleting":
            raise ArmError(
                409, "ResourceGroupBeingDeleted", "The resource group '%s' is in deprovisioning state." % name
            )
        resource = {
            "id": existing["id"] if existing else self.resource_id(request.match),
            "name": existing["name"] if existing else name,
            "type": self.type_name,
            "location": location,
            "tags": check_tags(body.get("tags")),
            "properties": {"provisioningState": "Succeeded"},
        }
        self.emu.resources[resource["id"].lower()] = resource
        return Answer(200 if existing else 201, self.emu.shape(resource))

    def find_or_none(self, match: dict[str, str]) -> dict[str, Any] | None:
        return self.emu.get(self.resource_id(match))

    def check_existence(self, request: Request) -> Answer:
        return Answer(204 if self.find_or_none(request.match) else 404, None)

    def update(self, request: Request) -> Answer:
        resource = self.find(request.match)
        body = request.body if isinstance(request.body, dict) else {}
        if "tags" in body:
            resource["tags"] = check_tags(body["tags"])
        return Answer(200, self.emu.shape(resource))

    def delete_conflict(self, resource: dict[str, Any]) -> ArmError | None:
        return None  # a resource group's deletion deletes everything in it

    def check_parents_for_delete(self, match: dict[str, str]) -> None:
        if self.find_or_none(match) is None:
            raise resource_group_not_found(match["group"])

    def delete(self, request: Request) -> Answer:
        self.check_parents_for_delete(request.match)
        resource = self.find(request.match)
        resource["properties"]["provisioningState"] = "Deleting"
        key = resource["id"].lower()

        def done() -> None:
            for child in [k for k in self.emu.resources if k == key or k.startswith(key + "/")]:
                del self.emu.resources[child]

        headers = self.emu.start_operation(request, resource["id"], on_done=done, location_header=True, provider="")
        return Answer(202, None, headers)

    def list(self, request: Request) -> Answer:
        items = [self.emu.shape(item) for item in self.emu.resources.values() if item["type"] == self.type_name]
        return Answer(200, self.emu.page(items, request))


class Galleries(ResourceType):
    """``Microsoft.Compute/galleries``: an Azure Compute Gallery."""

    segments = (("galleries", "gallery"),)
    operation_prefix = "Galleries"
    list_operation = "ListByResourceGroup"

    def routes(self) -> list[tuple[str, str, str, Any]]:
        subscription_wide = _SUBSCRIPTION + "/providers/Microsoft.Compute/galleries"
        return [*super().routes(), ("GET", subscription_wide, "Galleries_List", self.list_subscription)]

    def check_name(self, name: str) -> None:
        if not GALLERY_NAME.match(name):
            raise invalid_parameter(
                "The gallery name '%s' is invalid. It may have English letters, digits, and underscores and periods "
                "in the middle, up to 80 characters." % name,
                "galleryName",
            )

    def validate(self, properties, existing, resource):
        stored = {key: value for key, value in properties.items() if key in ("description", "sharingProfile")}
        stored["identifier"] = {"uniqueName": "%s-%s" % (self.emu.subscription_id, resource["name"].upper())}
        return stored

    def list_subscription(self, request: Request) -> Answer:
        items = [self.emu.shape(item) for item in self.emu.resources.values() if item["type"] == self.type_name]
        return Answer(200, self.emu.page(items, request))


class GalleryImages(ResourceType):
    """``Microsoft.Compute/galleries/images``: an image definition (OS, state, publisher/offer/sku)."""

    segments = (("galleries", "gallery"), ("images", "image"))
    operation_prefix = "GalleryImages"
    list_operation = "ListByGallery"
    IMMUTABLE = ("osType", "osState", "identifier", "hyperVGeneration", "architecture")

    def check_name(self, name: str) -> None:
        if not IMAGE_NAME.match(name):
            raise invalid_parameter(
                "The gallery image name '%s' is invalid. It may have English letters, digits, underscores, hyphens "
                "and periods in the middle, up to 80 characters." % name,
                "galleryImageName",
            )

    def validate(self, properties, existing, resource):
        os_type = properties.get("osType")
        if os_type is None:
            raise required_parameter("osType")
        if str(os_type).lower() not in ("linux", "windows"):
            raise invalid_parameter("The value '%s' of osType is not Linux or Windows." % os_type, "osType")
        os_state = properties.get("osState")
        if os_state is None:
            raise required_parameter("osState")
        if str(os_state).lower() not in ("generalized", "specialized"):
            raise invalid_parameter(
                "The value '%s' of osState is not Generalized or Specialized." % os_state, "osState"
            )
        identifier = properties.get("identifier")
        if not isinstance(identifier, dict):
            raise required_parameter("identifier")
        for part in ("publisher", "offer", "sku"):
            if not identifier.get(part):
                raise required_parameter("identifier.%s" % part)
        stored = dict(properties)
        stored["osType"] = "Linux" if str(os_type).lower() == "linux" else "Windows"
        stored["osState"] = "Generalized" if str(os_state).lower() == "generalized" else "Specialized"
        stored.setdefault("hyperVGeneration", "V1")
        stored.setdefault("architecture", "x64")
        if existing is not None:
            for field_name in self.IMMUTABLE:
                if stored.get(field_name) != existing["properties"].get(field_name):
                    raise property_change_not_allowed("galleryImage.properties.%s" % field_name)
        return stored


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge member by member, ``null`` removes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_patch(result.get(key), value)
    return result
