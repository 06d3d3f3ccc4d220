"""The ARM emulator's Compute Gallery image versions and the subscription-wide reads around them.

- `GalleryImageVersions`: ``Microsoft.Compute/galleries/images/versions``, made from a generalized VM (or a
  managed image, disk, snapshot or version), replicated to target regions region by region, retired with
  ``endOfLifeDate`` and ``excludeFromLatest``; every mutation a long-running operation.
- `SubscriptionReads`: what a subscription lists across its resource groups: its locations
  (``Subscriptions_ListLocations``, the regions a version may be replicated to) and every virtual machine
  (``VirtualMachines_ListAll``), to find what uses a version (`emulators.arm_scaleset` lists the scale sets).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from emulators.arm_api import (
    Answer,
    ArmError,
    Request,
    invalid_parameter,
    normalize_location,
    now_iso,
    property_change_not_allowed,
    required_parameter,
)
from emulators.arm_compute import ResourceType

if TYPE_CHECKING:
    from emulators.arm import ArmEmulator

_SUBSCRIPTION = r"/subscriptions/(?P<subscription>[^/]+)"
VERSION_NAME = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
SOURCE_TYPES = (
    "microsoft.compute/virtualmachines",
    "microsoft.compute/images",
    "microsoft.compute/disks",
    "microsoft.compute/snapshots",
    "microsoft.compute/galleries/images/versions",
)

# The public Azure regions a subscription may replicate an image version to (a subset of Azure's).
AZURE_REGIONS = (
    "eastus",
    "eastus2",
    "westus",
    "westus2",
    "westus3",
    "centralus",
    "northcentralus",
    "southcentralus",
    "canadacentral",
    "brazilsouth",
    "northeurope",
    "westeurope",
    "uksouth",
    "ukwest",
    "francecentral",
    "germanywestcentral",
    "swedencentral",
    "switzerlandnorth",
    "norwayeast",
    "eastasia",
    "southeastasia",
    "japaneast",
    "koreacentral",
    "centralindia",
    "australiaeast",
)


class GalleryImageVersions(ResourceType):
    """``Microsoft.Compute/galleries/images/versions``: an image version (``x.y.z``) replicated to regions.

    A version lives in its gallery's location and is replicated to each of its ``targetRegions`` (which must
    name that location). Replication is tracked per region: a region is ``Replicating`` while the operation
    that added it runs, then ``Completed`` (or ``Failed`` when the operation fails); regions replicated
    before an update stay ``Completed`` meanwhile, so a version being replicated to one more region serves
    where it was already. ``$expand=ReplicationStatus`` answers that state. A target region must be an Azure
    region (`AZURE_REGIONS`); one already replicated is removed only when ``safetyProfile.
    allowDeletionOfReplicatedLocations`` is true, as Azure requires. ``endOfLifeDate`` must be a date-time.
    """

    segments = (("galleries", "gallery"), ("images", "image"), ("versions", "version"))
    operation_prefix = "GalleryImageVersions"
    list_operation = "ListByGalleryImage"

    def __init__(self, emu: ArmEmulator) -> None:
        super().__init__(emu)
        # version id (lower) -> {region: "Completed" | "Failed"}: the regions whose replication has ended.
        self.replicated: dict[str, dict[str, str]] = {}

    def reset(self) -> None:
        self.replicated.clear()

    def check_name(self, name: str) -> None:
        match = VERSION_NAME.match(name)
        if not match or any(int(part) > 2**31 - 1 for part in match.groups()):
            raise invalid_parameter(
                "The gallery image version name '%s' is invalid. It must be in the format "
                "<MajorVersion>.<MinorVersion>.<Patch>, each a 32-bit integer." % name,
                "galleryImageVersionName",
            )

    def validate(self, properties, existing, resource):
        target = "galleryImageVersion.properties"
        storage = properties.get("storageProfile")
        source = storage.get("source") if isinstance(storage, dict) else None
        if not isinstance(source, dict) or not (source.get("id") or source.get("virtualMachineId")):
            raise required_parameter("%s.storageProfile.source" % target)
        source_id = source.get("virtualMachineId") or source.get("id")
        if existing is not None and storage.get("source") != existing["properties"]["storageProfile"].get("source"):
            raise property_change_not_allowed("%s.storageProfile" % target)
        if existing is None:
            self._check_source(source, source_id, resource, target)

        publishing = dict(properties.get("publishingProfile") or {})
        replicas = publishing.get("replicaCount", 1)
        if not isinstance(replicas, int) or not 1 <= replicas <= 100:
            raise invalid_parameter(
                "replicaCount must be between 1 and 100.", "%s.publishingProfile.replicaCount" % target
            )
        publishing["replicaCount"] = replicas
        publishing.setdefault("storageAccountType", "Standard_LRS")
        publishing["excludeFromLatest"] = bool(publishing.get("excludeFromLatest", False))
        end_of_life = publishing.get("endOfLifeDate")
        if end_of_life is not None and not _is_date_time(end_of_life):
            raise invalid_parameter(
                "The value '%s' of endOfLifeDate is not a valid date-time." % end_of_life,
                "%s.publishingProfile.endOfLifeDate" % target,
            )
        regions = publishing.get("targetRegions")
        if regions is None:
            regions = [{"name": resource["location"]}]
        if not isinstance(regions, list) or not all(isinstance(item, dict) and item.get("name") for item in regions):
            raise invalid_parameter(
                "targetRegions must be a list of regions with names.", "%s.publishingProfile" % target
            )
        names = [normalize_location(item["name"]) for item in regions]
        unknown = [item["name"] for item, name in zip(regions, names, strict=True) if name not in AZURE_REGIONS]
        if unknown:
            raise invalid_parameter(
                "The target region '%s' is not an Azure region available to this subscription." % unknown[0],
                "%s.publishingProfile.targetRegions" % target,
            )
        for item in regions:
            count = item.get("regionalReplicaCount", replicas)
            if not isinstance(count, int) or not 1 <= count <= 100:
                raise invalid_parameter(
                    "regionalReplicaCount of region '%s' must be between 1 and 100." % item["name"],
                    "%s.publishingProfile.targetRegions.regionalReplicaCount" % target,
                )
        publishing["targetRegions"] = [
            {"regionalReplicaCount": replicas, "storageAccountType": publishing["storageAccountType"], **item}
            for item in regions
        ]
        if resource["location"] not in names:
            raise invalid_parameter(
                "The target regions of the image version must include its location '%s'." % resource["location"],
                "%s.publishingProfile.targetRegions" % target,
            )
        safety = dict(properties.get("safetyProfile") or {"allowDeletionOfReplicatedLocations": False})
        if existing is not None and not safety.get("allowDeletionOfReplicatedLocations"):
            before = {
                normalize_location(item["name"])
                for item in existing["properties"]["publishingProfile"]["targetRegions"]
            }
            removed = sorted(before - set(names))
            if removed:
                raise ArmError(
                    409,
                    "OperationNotAllowed",
                    "Removing the replicated location(s) %s of gallery image version '%s' is not allowed: set "
                    "safetyProfile.allowDeletionOfReplicatedLocations to true first."
                    % (", ".join(removed), resource["name"]),
                )
        publishing["publishedDate"] = (
            existing["properties"]["publishingProfile"]["publishedDate"] if existing else now_iso()
        )
        stored = {key: value for key, value in properties.items() if key not in ("storageProfile", "publishingProfile")}
        stored["publishingProfile"] = publishing
        stored["storageProfile"] = {
            "source": dict(source),
            "osDiskImage": {"sizeInGB": 30, "hostCaching": "ReadWrite"},
        }
        stored["safetyProfile"] = safety
        return stored

    def _check_source(self, source: dict[str, Any], source_id: str, resource: dict[str, Any], target: str) -> None:
        """A new version's source must exist, and a VM be generalized when the definition is Generalized."""
        source_resource = self.emu.get(source_id)
        if source_resource is None or source_resource["type"].lower() not in SOURCE_TYPES:
            raise invalid_parameter(
                "The source '%s' of the image version is not an existing virtual machine, managed image, disk, "
                "snapshot or image version." % source_id,
                "%s.storageProfile.source.id" % target,
            )
        if source.get("virtualMachineId") and source_resource["type"].lower() != "microsoft.compute/virtualmachines":
            raise invalid_parameter("'%s' is not a virtual machine." % source_id, "%s.storageProfile.source" % target)
        definition = self.emu.get(resource["id"].rsplit("/versions/", 1)[0])
        if (
            source_resource["type"].lower() == "microsoft.compute/virtualmachines"
            and definition is not None
            and definition["properties"].get("osState") == "Generalized"
            and not self.emu.virtual_machines.is_generalized(source_id)
        ):
            raise invalid_parameter(
                "The virtual machine '%s' is not generalized: an image version of a Generalized image definition "
                "needs a generalized source." % source_id,
                "%s.storageProfile.source.virtualMachineId" % target,
            )

    def _mutate(self, request: Request, resource: dict[str, Any], existing: dict[str, Any] | None) -> Answer:
        key = resource["id"].lower()
        if existing is None:
            self.replicated[key] = {}
        answer = super()._mutate(request, resource, existing)
        operation_id = answer.headers["Azure-AsyncOperation"].split("/operations/")[1].split("?")[0]
        operation = self.emu.operations[operation_id]
        regions = [
            normalize_location(item["name"]) for item in resource["properties"]["publishingProfile"]["targetRegions"]
        ]
        succeeded, failed = operation.on_done, operation.on_fail

        def replicated() -> None:
            if succeeded:
                succeeded()
            self.replicated[key] = {region: "Completed" for region in regions}

        def not_replicated() -> None:
            if failed:
                failed()
            ended = self.replicated.setdefault(key, {})
            for region in regions:
                ended.setdefault(region, "Failed")

        operation.on_done, operation.on_fail = replicated, not_replicated
        return answer

    def replication_status(self, resource: dict[str, Any]) -> dict[str, Any]:
        """``properties.replicationStatus`` as ``$expand=ReplicationStatus`` answers it."""
        ended = self.replicated.get(resource["id"].lower())
        if ended is None:  # planted by put_resource: replicated wherever it is, once it has succeeded
            done = resource["properties"].get("provisioningState") == "Succeeded"
            ended = {} if not done else {normalize_location(item["name"]): "Completed" for item in targets(resource)}
        summary = []
        for item in targets(resource):
            state = ended.get(normalize_location(item["name"]), "Replicating")
            summary.append(
                {
                    "region": item["name"],
                    "state": state,
                    "details": "" if state != "Failed" else "The replication to %s failed." % item["name"],
                    "progress": 100 if state == "Completed" else 0,
                }
            )
        states = {item["state"] for item in summary}
        aggregated = "Failed" if "Failed" in states else "InProgress" if "Replicating" in states else "Completed"
        return {"aggregatedState": aggregated, "summary": summary}

    def get(self, request: Request) -> Answer:
        resource = self.emu.shape(self.find(request.match))
        if request.query.get("$expand", "").lower() == "replicationstatus":
            resource["properties"]["replicationStatus"] = self.replication_status(resource)
        return Answer(200, resource)


def targets(resource: dict[str, Any]) -> list[dict[str, Any]]:
    return resource["properties"].get("publishingProfile", {}).get("targetRegions") or [{"name": resource["location"]}]


def _is_date_time(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


class SubscriptionReads(ResourceType):
    """Subscription-wide reads: the subscription's locations and all its virtual machines, paged."""

    def routes(self) -> list[tuple[str, str, str, Any]]:
        return [
            ("GET", _SUBSCRIPTION + "/locations", "Subscriptions_ListLocations", self.locations),
            (
                "GET",
                _SUBSCRIPTION + "/providers/Microsoft.Compute/virtualMachines",
                "VirtualMachines_ListAll",
                self._listing("Microsoft.Compute/virtualMachines"),
            ),
        ]

    def locations(self, request: Request) -> Answer:
        # ARM answers every location in one page (no nextLink).
        base = "/subscriptions/%s/locations/" % self.emu.subscription_id
        value = [
            {"id": base + name, "name": name, "type": "Region", "displayName": name, "regionalDisplayName": name}
            for name in AZURE_REGIONS
        ]
        return Answer(200, {"value": value})

    def _listing(self, resource_type: str) -> Any:
        def handler(request: Request) -> Answer:
            items = [
                self.emu.shape(item)
                for item in self.emu.resources.values()
                if item["type"].lower() == resource_type.lower()
            ]
            return Answer(200, self.emu.page(items, request))

        return handler
