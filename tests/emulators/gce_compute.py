"""The GCE emulator's Compute collections: one resource table per collection (images, disks, instances).

A new collection (instance templates, managed instance groups, backend services, URL maps) is one
`Collection` subclass here or in a module of its own, and one entry in `GceEmulator._collections`.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from emulators.gce_api import (
    DEPRECATION_STATES,
    ApiError,
    Request,
    already_exists,
    check_labels,
    check_name,
    invalid,
    label_fingerprint,
    not_found,
    now_rfc3339,
    required,
)

if TYPE_CHECKING:
    from emulators.gce import GceEmulator


class Collection:
    """One Compute collection: a resource table per (project, scope) and the standard methods.

    Subclasses set the class attributes and `build()` a resource from an insert body; custom methods
    are registered in `routes()`. `scope_kind` is "global", "zones" or "regions".
    """

    name = ""  # the URL segment and the discovery name: "images"
    # The discovery name where it differs from the URL segment: a regional twin of a global or zonal
    # collection ("regionInstanceGroupManagers" serves regions/R/instanceGroupManagers).
    api_name = ""
    kind = ""  # "compute#image"
    scope_kind = "global"
    aggregated = False
    # Status after insert until the operation is DONE, and after it; None for resources without a status.
    pending_status: str | None = None
    ready_status: str | None = None
    deleting_status: str | None = None

    def __init__(self, emu: GceEmulator) -> None:
        self.emu = emu
        self.tables: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}

    # paths and tables ---------------------------------------------------------------------------

    def table(self, project: str, scope: str) -> dict[str, dict[str, Any]]:
        return self.tables.setdefault((project, scope), {})

    def path(self, project: str, scope: str, name: str) -> str:
        return "projects/%s/%s/%s/%s" % (project, scope, self.name, name)

    def find(self, project: str, scope: str, name: str) -> dict[str, Any]:
        table = self.table(project, scope)
        resource = table.get(name)
        if resource is None:
            # Google accepts a resource's numeric id wherever its name goes.
            resource = next((item for item in table.values() if item["id"] == name), None)
        if resource is None:
            raise not_found(self.path(project, scope, name))
        return resource

    def all_items(self, project: str) -> list[tuple[str, dict[str, Any]]]:
        items = []
        for (owner, scope), table in sorted(self.tables.items()):
            if owner == project:
                items.extend((scope, table[name]) for name in sorted(table))
        return items

    # the standard methods -----------------------------------------------------------------------

    def routes(self) -> list[tuple[str, str, str, Callable[[Request], Any]]]:
        prefix = self._scope_pattern() + "/" + self.name
        routes = [
            ("POST", prefix, "insert", self.insert),
            ("GET", prefix, "list", self.list),
            ("GET", prefix + r"/(?P<name>[^/]+)", "get", self.get),
            ("DELETE", prefix + r"/(?P<name>[^/]+)", "delete", self.delete),
        ]
        if self.aggregated:
            routes.append(
                ("GET", r"projects/(?P<project>[^/]+)/aggregated/" + self.name, "aggregatedList", self.aggregated_list)
            )
        return routes

    def _scope_pattern(self) -> str:
        if self.scope_kind == "global":
            return r"projects/(?P<project>[^/]+)/(?P<scope>global)"
        return r"projects/(?P<project>[^/]+)/(?P<scope>%s/[^/]+)" % self.scope_kind

    def build(self, request: Request, project: str, scope: str) -> dict[str, Any]:
        """The new resource's own fields from an insert body (validated); raise ApiError to refuse."""
        raise NotImplementedError

    def insert(self, request: Request) -> dict[str, Any]:
        project, scope = self.emu.check_scope(request.match)
        body = request.body or {}
        name = check_name(body.get("name"))
        table = self.table(project, scope)
        if name in table:
            raise already_exists(self.path(project, scope, name))
        resource = self.build(request, project, scope)
        resource.update(self._identity(project, scope, name))
        if self.pending_status:
            resource["status"] = self.pending_status
        table[name] = resource
        return self.emu.start_operation(
            "insert",
            project,
            self._operation_scope(scope),
            resource,
            on_done=lambda: self.inserted(resource),
            on_fail=lambda: self.insert_failed(project, scope, name),
        )

    def _identity(self, project: str, scope: str, name: str) -> dict[str, Any]:
        identity = {
            "kind": self.kind,
            "id": self.emu.new_id(),
            "creationTimestamp": now_rfc3339(),
            "name": name,
            "selfLink": self.emu.url(self.path(project, scope, name)),
        }
        if scope.startswith("zones/"):
            identity["zone"] = self.emu.url("projects/%s/%s" % (project, scope))
        elif scope.startswith("regions/"):
            identity["region"] = self.emu.url("projects/%s/%s" % (project, scope))
        return identity

    def _operation_scope(self, scope: str) -> str:
        return scope

    def inserted(self, resource: dict[str, Any]) -> None:
        if self.ready_status:
            resource["status"] = self.ready_status

    def insert_failed(self, project: str, scope: str, name: str) -> None:
        """A failed insert leaves nothing behind (subclasses may keep a FAILED resource instead)."""
        self.table(project, scope).pop(name, None)

    def get(self, request: Request) -> dict[str, Any]:
        project, scope = self.emu.check_scope(request.match)
        return self.find(project, scope, request.match["name"])

    def delete(self, request: Request) -> dict[str, Any]:
        project, scope = self.emu.check_scope(request.match)
        resource = self.find(project, scope, request.match["name"])
        self.check_delete(resource)
        if self.deleting_status:
            resource["status"] = self.deleting_status

        def done() -> None:
            self.table(project, scope).pop(resource["name"], None)
            self.deleted(project, scope, resource)

        return self.emu.start_operation("delete", project, self._operation_scope(scope), resource, on_done=done)

    def check_delete(self, resource: dict[str, Any]) -> None:
        """Raise ApiError to refuse deleting ``resource`` (a disk in use, for example)."""

    def deleted(self, project: str, scope: str, resource: dict[str, Any]) -> None:
        """Side effects of a completed delete."""

    def list(self, request: Request) -> dict[str, Any]:
        project, scope = self.emu.check_scope(request.match)
        table = self.table(project, scope)
        items = [table[name] for name in sorted(table)]
        listing_path = "projects/%s/%s/%s" % (project, scope, self.name)
        page, token = self.emu.page(items, request, listing_path)
        answer: dict[str, Any] = {
            "kind": self.kind + "List",
            "id": listing_path,
            "items": page,
            "selfLink": self.emu.url(listing_path),
        }
        if token:
            answer["nextPageToken"] = token
        return answer

    def aggregated_list(self, request: Request) -> dict[str, Any]:
        project = self.emu.check_project(request.match["project"])
        pairs = self.all_items(project)
        listing_path = "projects/%s/aggregated/%s" % (project, self.name)
        page, token = self.emu.page(pairs, request, listing_path, resource_of=lambda pair: pair[1])
        by_scope: dict[str, list[dict[str, Any]]] = {}
        for scope, resource in page:
            by_scope.setdefault(scope, []).append(resource)
        scopes = sorted(set(self.emu.scopes(self.scope_kind)) | set(by_scope))
        items: dict[str, Any] = {}
        for scope in scopes:
            if scope in by_scope:
                items[scope] = {self.name: by_scope[scope]}
            else:
                items[scope] = {
                    "warning": {
                        "code": "NO_RESULTS_ON_PAGE",
                        "message": "There are no results for scope '%s' on this page." % scope,
                        "data": [{"key": "scope", "value": scope}],
                    }
                }
        answer = {
            "kind": self.kind + "AggregatedList",
            "id": listing_path,
            "items": items,
            "selfLink": self.emu.url(listing_path),
        }
        if token:
            answer["nextPageToken"] = token
        return answer

    # labels, shared by every labelled collection -------------------------------------------------

    def set_labels(self, request: Request) -> dict[str, Any]:
        project, scope = self.emu.check_scope(request.match)
        resource = self.find(project, scope, request.match["name"])
        body = request.body or {}
        if "labelFingerprint" not in body:
            raise required("labelFingerprint")
        if body["labelFingerprint"] != resource["labelFingerprint"]:
            raise ApiError(
                412,
                "conditionNotMet",
                "Labels fingerprint either invalid or resource labels have changed",
                location="If-Match",
                locationType="header",
            )
        labels = check_labels(body.get("labels"))
        resource["labels"] = labels
        resource["labelFingerprint"] = label_fingerprint(labels)
        if not labels:
            resource.pop("labels")
        return self.emu.start_operation("setLabels", project, self._operation_scope(scope), resource)


class Images(Collection):
    name = "images"
    kind = "compute#image"
    pending_status = "PENDING"
    ready_status = "READY"
    deleting_status = "DELETING"

    def routes(self) -> list[tuple[str, str, str, Callable[[Request], Any]]]:
        one = r"projects/(?P<project>[^/]+)/(?P<scope>global)/images/(?P<name>[^/]+)"
        return [
            *super().routes(),
            (
                "GET",
                r"projects/(?P<project>[^/]+)/(?P<scope>global)/images/family/(?P<family>[^/]+)",
                "getFromFamily",
                self.get_from_family,
            ),
            ("POST", one + "/deprecate", "deprecate", self.deprecate),
            ("POST", one + "/setLabels", "setLabels", self.set_labels),
        ]

    def build(self, request: Request, project: str, scope: str) -> dict[str, Any]:
        body = request.body
        sources = [key for key in ("sourceDisk", "sourceImage", "sourceSnapshot", "rawDisk") if body.get(key)]
        if not sources:
            raise required("resource.sourceDisk")
        if len(sources) > 1:
            raise invalid("resource", ", ".join(sources), "Exactly one image source may be given.")
        if sources[0] in ("sourceSnapshot", "rawDisk"):
            raise invalid("resource.%s" % sources[0], body[sources[0]], "Not supported by the test emulator.")
        labels = check_labels(body.get("labels"), "resource.labels")
        family = body.get("family")
        if family is not None:
            check_name(family, "resource.family")
        image: dict[str, Any] = {
            "description": body.get("description", ""),
            "sourceType": "RAW",
            "labelFingerprint": label_fingerprint(labels),
            "storageLocations": body.get("storageLocations") or ["us"],
            "archiveSizeBytes": "1073741824",
        }
        if labels:
            image["labels"] = labels
        if family:
            image["family"] = family
        if sources[0] == "sourceDisk":
            disk = self.emu.resolve(body["sourceDisk"], project, "disks", "resource.sourceDisk")
            users = [user for user in disk.get("users", []) if self.emu.instance_running(user)]
            if users and request.query.get("forceCreate") != "true":
                raise ApiError(
                    400,
                    "resourceInUseByAnotherResource",
                    "The disk resource '%s' is already being used by '%s'"
                    % (self.emu.path_of(disk), self.emu.path_of(users[0])),
                )
            image.update(sourceDisk=disk["selfLink"], sourceDiskId=disk["id"], diskSizeGb=disk["sizeGb"])
            if disk.get("sourceImage"):
                image["sourceImage"] = disk["sourceImage"]
                image["sourceImageId"] = disk["sourceImageId"]
        else:
            source = self.emu.resolve_image(body["sourceImage"], project, "resource.sourceImage")
            image.update(sourceImage=source["selfLink"], sourceImageId=source["id"], diskSizeGb=source["diskSizeGb"])
        return image

    def insert_failed(self, project: str, scope: str, name: str) -> None:
        # A failed image stays, FAILED, until deleted (the Image resource's status enum has FAILED).
        image = self.table(project, scope).get(name)
        if image is not None:
            image["status"] = "FAILED"

    def get_from_family(self, request: Request) -> dict[str, Any]:
        project, scope = self.emu.check_scope(request.match)
        family = request.match["family"]
        image = self.latest_of_family(project, family)
        if image is None:
            raise not_found("projects/%s/global/images/family/%s" % (project, family))
        return image

    def latest_of_family(self, project: str, family: str) -> dict[str, Any] | None:
        candidates = [
            image
            for image in self.table(project, "global").values()
            if image.get("family") == family
            and image["status"] == "READY"
            and image.get("deprecated", {}).get("state", "ACTIVE") == "ACTIVE"
        ]
        return max(candidates, key=lambda image: (image["creationTimestamp"], int(image["id"])), default=None)

    def deprecate(self, request: Request) -> dict[str, Any]:
        project, scope = self.emu.check_scope(request.match)
        image = self.find(project, scope, request.match["name"])
        body = request.body or {}
        state = body.get("state", "ACTIVE")
        if state not in DEPRECATION_STATES:
            raise invalid("deprecationStatus.state", state, "Must be one of %s." % ", ".join(DEPRECATION_STATES))
        if state == "ACTIVE":
            image.pop("deprecated", None)
        else:
            status = {"state": state}
            for key in ("replacement", "deprecated", "obsolete", "deleted"):
                if body.get(key):
                    status[key] = body[key]
            if "replacement" in status:
                status["replacement"] = self.emu.resolve_image(
                    status["replacement"], project, "deprecationStatus.replacement"
                )["selfLink"]
            image["deprecated"] = status
        return self.emu.start_operation("deprecate", project, scope, image)


class Disks(Collection):
    name = "disks"
    kind = "compute#disk"
    scope_kind = "zones"
    aggregated = True

    def routes(self) -> list[tuple[str, str, str, Callable[[Request], Any]]]:
        # Only reads so far: boot disks are made and deleted with their instances.
        return [route for route in super().routes() if route[2] in ("get", "list", "aggregatedList")]

    def make_boot_disk(
        self, project: str, scope: str, name: str, image: dict[str, Any], size_gb: str | None, instance_url: str
    ) -> dict[str, Any]:
        table = self.table(project, scope)
        if name in table:
            raise already_exists(self.path(project, scope, name))
        disk = {
            **self._identity(project, scope, name),
            "sizeGb": str(size_gb or image.get("diskSizeGb", "10")),
            "status": "READY",
            "sourceImage": image["selfLink"],
            "sourceImageId": image["id"],
            "type": self.emu.url("projects/%s/%s/diskTypes/pd-balanced" % (project, scope)),
            "users": [instance_url],
            "labelFingerprint": label_fingerprint({}),
        }
        table[name] = disk
        return disk


class Instances(Collection):
    name = "instances"
    kind = "compute#instance"
    scope_kind = "zones"
    aggregated = True
    pending_status = "PROVISIONING"
    ready_status = "RUNNING"
    deleting_status = "STOPPING"

    def routes(self) -> list[tuple[str, str, str, Callable[[Request], Any]]]:
        one = r"projects/(?P<project>[^/]+)/(?P<scope>zones/[^/]+)/instances/(?P<name>[^/]+)"
        return [
            *super().routes(),
            ("POST", one + "/stop", "stop", self.stop),
            ("POST", one + "/start", "start", self.start),
            ("POST", one + "/setLabels", "setLabels", self.set_labels),
            ("POST", one + "/setMetadata", "setMetadata", self.set_metadata),
        ]

    def build(self, request: Request, project: str, scope: str) -> dict[str, Any]:
        body = request.body
        name = body["name"]
        machine_type = body.get("machineType")
        if not machine_type:
            raise required("resource.machineType")
        disks = body.get("disks") or []
        boots = [disk for disk in disks if disk.get("boot")]
        if len(boots) != 1:
            raise invalid("resource.disks", len(boots), "Exactly one boot disk must be given.")
        labels = check_labels(body.get("labels"), "resource.labels")
        instance_url = self.emu.url(self.path(project, scope, name))
        attached = []
        for index, spec in enumerate(disks):
            params = spec.get("initializeParams") or {}
            if params.get("sourceImage"):
                image = self.emu.resolve_image(
                    params["sourceImage"], project, "resource.disks[%d].initializeParams.sourceImage" % index
                )
                disk_name = params.get("diskName") or (name if spec.get("boot") else "%s-%d" % (name, index))
                check_name(disk_name, "resource.disks[%d].initializeParams.diskName" % index)
                disk = self.emu.disks.make_boot_disk(
                    project, scope, disk_name, image, params.get("diskSizeGb"), instance_url
                )
            elif spec.get("source"):
                disk = self.emu.resolve(spec["source"], project, "disks", "resource.disks[%d].source" % index)
                disk.setdefault("users", []).append(instance_url)
            else:
                raise required("resource.disks[%d].initializeParams.sourceImage" % index)
            attached.append(
                {
                    "kind": "compute#attachedDisk",
                    "type": "PERSISTENT",
                    "mode": "READ_WRITE",
                    "source": disk["selfLink"],
                    "deviceName": spec.get("deviceName") or disk["name"],
                    "index": index,
                    "boot": bool(spec.get("boot")),
                    "autoDelete": bool(spec.get("autoDelete", bool(params))),
                    "interface": "SCSI",
                    "diskSizeGb": disk["sizeGb"],
                }
            )
        interfaces = []
        for index, nic in enumerate(body.get("networkInterfaces") or [{"network": "global/networks/default"}]):
            interfaces.append(self._interface(project, scope, index, nic))
        if not machine_type.startswith("http"):
            machine_type = self.emu.url(
                machine_type
                if machine_type.startswith("projects/")
                else "projects/%s/%s/machineTypes/%s" % (project, scope, machine_type.rsplit("/", 1)[-1])
            )
        items = check_metadata((body.get("metadata") or {}).get("items"), "resource.metadata.items")
        instance: dict[str, Any] = {
            "description": body.get("description", ""),
            "machineType": machine_type,
            "disks": attached,
            "networkInterfaces": interfaces,
            "metadata": {
                "kind": "compute#metadata",
                "fingerprint": metadata_fingerprint(items),
                "items": items,
            },
            "tags": {"items": (body.get("tags") or {}).get("items", []), "fingerprint": label_fingerprint({})},
            "labelFingerprint": label_fingerprint(labels),
            "scheduling": body.get("scheduling")
            or {"onHostMaintenance": "MIGRATE", "automaticRestart": True, "preemptible": False},
            "serviceAccounts": body.get("serviceAccounts") or [],
            "cpuPlatform": "Intel Broadwell",
            "fingerprint": label_fingerprint({"created": name}),
        }
        if labels:
            instance["labels"] = labels
        return instance

    def _interface(self, project: str, scope: str, index: int, nic: dict[str, Any]) -> dict[str, Any]:
        """A network interface: a subnetwork given must exist (in the zone's region) and names the network; an
        access config of type ONE_TO_ONE_NAT gets an external address."""
        field_name = "resource.networkInterfaces[%d]" % index
        interface: dict[str, Any] = {"kind": "compute#networkInterface", "name": "nic%d" % index}
        if nic.get("subnetwork"):
            subnetwork = self.emu.resolve(nic["subnetwork"], project, "subnetworks", field_name + ".subnetwork")
            region = scope.split("/", 1)[1].rsplit("-", 1)[0]
            if not subnetwork["selfLink"].endswith("/regions/%s/subnetworks/%s" % (region, subnetwork["name"])):
                raise invalid(field_name + ".subnetwork", nic["subnetwork"], "Must be in region %s." % region)
            interface["network"] = subnetwork["network"]
            interface["subnetwork"] = subnetwork["selfLink"]
        else:
            network = nic.get("network") or "global/networks/default"
            if not network.startswith("http"):
                network = self.emu.url(
                    network if network.startswith("projects/") else "projects/%s/%s" % (project, network)
                )
            interface["network"] = network
        interface["networkIP"] = self.emu.next_address()
        configs = []
        for number, config in enumerate(nic.get("accessConfigs") or []):
            if (config or {}).get("type", "ONE_TO_ONE_NAT") != "ONE_TO_ONE_NAT":
                raise invalid(
                    "%s.accessConfigs[%d].type" % (field_name, number), config.get("type"), "Must be ONE_TO_ONE_NAT."
                )
            configs.append(
                {
                    "kind": "compute#accessConfig",
                    "type": "ONE_TO_ONE_NAT",
                    "name": config.get("name") or "External NAT",
                    # An external address as unique as the internal one it stands beside.
                    "natIP": "34.%s" % interface["networkIP"].split(".", 1)[1],
                    "networkTier": config.get("networkTier") or "PREMIUM",
                }
            )
        if configs:
            interface["accessConfigs"] = configs
        return interface

    def inserted(self, resource: dict[str, Any]) -> None:
        super().inserted(resource)
        resource["lastStartTimestamp"] = now_rfc3339()

    def insert_failed(self, project: str, scope: str, name: str) -> None:
        instance = self.table(project, scope).pop(name, None)
        if instance is not None:
            self.deleted(project, scope, instance)

    def deleted(self, project: str, scope: str, resource: dict[str, Any]) -> None:
        for attached in resource.get("disks", []):
            try:
                disk = self.emu.resolve(attached["source"], project, "disks", "disk")
            except ApiError:
                continue
            disk["users"] = [user for user in disk.get("users", []) if user != resource["selfLink"]]
            if attached.get("autoDelete"):
                self.emu.disks.table(project, scope).pop(disk["name"], None)

    def set_metadata(self, request: Request) -> dict[str, Any]:
        project, scope = self.emu.check_scope(request.match)
        instance = self.find(project, scope, request.match["name"])
        body = request.body or {}
        if body.get("fingerprint") != instance["metadata"]["fingerprint"]:
            raise ApiError(
                412,
                "conditionNotMet",
                "Supplied fingerprint does not match current metadata fingerprint.",
                location="If-Match",
                locationType="header",
            )
        items = check_metadata(body.get("items"))
        instance["metadata"] = {"kind": "compute#metadata", "fingerprint": metadata_fingerprint(items), "items": items}
        return self.emu.start_operation("setMetadata", project, scope, instance)

    def stop(self, request: Request) -> dict[str, Any]:
        project, scope = self.emu.check_scope(request.match)
        instance = self.find(project, scope, request.match["name"])
        instance["status"] = "STOPPING"

        def done() -> None:
            instance["status"] = "TERMINATED"
            instance["lastStopTimestamp"] = now_rfc3339()

        return self.emu.start_operation("stop", project, scope, instance, on_done=done)

    def start(self, request: Request) -> dict[str, Any]:
        project, scope = self.emu.check_scope(request.match)
        instance = self.find(project, scope, request.match["name"])
        instance["status"] = "STAGING"

        def done() -> None:
            instance["status"] = "RUNNING"
            instance["lastStartTimestamp"] = now_rfc3339()

        return self.emu.start_operation("start", project, scope, instance, on_done=done)


class InstanceTemplates(Collection):
    """Global instance templates: immutable once made (no update method), as on Google."""

    name = "instanceTemplates"
    kind = "compute#instanceTemplate"

    def build(self, request: Request, project: str, scope: str) -> dict[str, Any]:
        properties = request.body.get("properties")
        if not isinstance(properties, dict):
            raise required("resource.properties")
        if not properties.get("machineType"):
            raise required("resource.properties.machineType")
        disks = properties.get("disks") or []
        if len([disk for disk in disks if disk.get("boot")]) != 1:
            raise invalid("resource.properties.disks", len(disks), "Exactly one boot disk must be given.")
        for index, disk in enumerate(disks):
            source = (disk.get("initializeParams") or {}).get("sourceImage")
            if source:
                # The image must exist now; the template keeps the reference as given (a family stays a family).
                self.emu.resolve_image(
                    source, project, "resource.properties.disks[%d].initializeParams.sourceImage" % index
                )
            elif not disk.get("source"):
                raise required("resource.properties.disks[%d].initializeParams.sourceImage" % index)
        labels = check_labels(properties.get("labels"), "resource.properties.labels")
        kept = json.loads(json.dumps(properties))
        if labels:
            kept["labels"] = labels
        return {"description": request.body.get("description", ""), "properties": kept}


# Google's limits on metadata: keys of letters, digits, - and _ (at most 128), 256 KB a value, 512 KB in all.
METADATA_KEY = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
METADATA_VALUE_BYTES = 256 * 1024
METADATA_TOTAL_BYTES = 512 * 1024


def check_metadata(items: Any, field_name: str = "metadata.items") -> list[dict[str, str]]:
    if items is None:
        return []
    if not isinstance(items, list):
        raise invalid(field_name, items, "Must be a list of {key, value}.")
    seen = set()
    total = 0
    for index, item in enumerate(items):
        key, value = (item or {}).get("key"), (item or {}).get("value", "")
        if not isinstance(key, str) or not METADATA_KEY.match(key):
            raise invalid("%s[%d].key" % (field_name, index), key, "Keys are 1-128 letters, digits, - or _.")
        if key in seen:
            raise invalid("%s[%d].key" % (field_name, index), key, "Duplicate metadata key.")
        seen.add(key)
        size = len(str(value).encode())
        if size > METADATA_VALUE_BYTES:
            raise invalid("%s[%d].value" % (field_name, index), "%d bytes" % size, "A value holds at most 256 KB.")
        total += size + len(key)
    if total > METADATA_TOTAL_BYTES:
        raise invalid(field_name, "%d bytes" % total, "Metadata holds at most 512 KB in all.")
    return [{"key": item["key"], "value": str(item.get("value", ""))} for item in items]


def metadata_fingerprint(items: list[dict[str, str]]) -> str:
    return label_fingerprint({"metadata": json.dumps(items, sort_keys=True)})


class Projects(Collection):
    """The project resource: its common instance metadata, written with the metadata fingerprint.

    One resource per project, made on first read (every project the emulator knows exists).
    """

    name = "projects"
    kind = "compute#project"

    def routes(self) -> list[tuple[str, str, str, Callable[[Request], Any]]]:
        one = r"projects/(?P<project>[^/]+)"
        return [
            ("GET", one, "get", self.get),
            ("POST", one + "/setCommonInstanceMetadata", "setCommonInstanceMetadata", self.set_metadata),
        ]

    def project(self, project: str) -> dict[str, Any]:
        table = self.table(self.emu.check_project(project), "global")
        if project not in table:
            table[project] = {
                "kind": self.kind,
                "id": self.emu.new_id(),
                "creationTimestamp": now_rfc3339(),
                "name": project,
                "commonInstanceMetadata": {"kind": "compute#metadata", "fingerprint": metadata_fingerprint([])},
                "selfLink": self.emu.url("projects/%s" % project),
                "defaultNetworkTier": "PREMIUM",
                "xpnProjectStatus": "UNSPECIFIED_XPN_PROJECT_STATUS",
            }
        return table[project]

    def get(self, request: Request) -> dict[str, Any]:
        return self.project(request.match["project"])

    def set_metadata(self, request: Request) -> dict[str, Any]:
        resource = self.project(request.match["project"])
        body = request.body or {}
        metadata = resource["commonInstanceMetadata"]
        if body.get("fingerprint") != metadata["fingerprint"]:
            raise ApiError(
                412,
                "conditionNotMet",
                "Supplied fingerprint does not match current metadata fingerprint.",
                location="If-Match",
                locationType="header",
            )
        items = check_metadata(body.get("items"))
        resource["commonInstanceMetadata"] = {"kind": "compute#metadata", "fingerprint": metadata_fingerprint(items)}
        if items:
            resource["commonInstanceMetadata"]["items"] = items
        return self.emu.start_operation("setCommonInstanceMetadata", request.match["project"], "global", resource)


class Firewalls(Collection):
    """Global firewall rules. They take no labels on Google, so none here either."""

    name = "firewalls"
    kind = "compute#firewall"

    def build(self, request: Request, project: str, scope: str) -> dict[str, Any]:
        body = request.body
        allowed, denied = body.get("allowed"), body.get("denied")
        if bool(allowed) == bool(denied):
            raise invalid("resource.allowed", allowed, "Exactly one of allowed and denied must be given.")
        for index, rule in enumerate(allowed or denied):
            if not (rule or {}).get("IPProtocol"):
                raise required("resource.%s[%d].IPProtocol" % ("allowed" if allowed else "denied", index))
        direction = body.get("direction", "INGRESS")
        if direction not in ("INGRESS", "EGRESS"):
            raise invalid("resource.direction", direction, "Must be INGRESS or EGRESS.")
        for index, cidr in enumerate(body.get("sourceRanges") or []):
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise invalid("resource.sourceRanges[%d]" % index, cidr, "Must be a CIDR range.") from None
        if "labels" in body:
            raise invalid("resource.labels", body["labels"], "Firewall rules take no labels.")
        network = body.get("network") or "global/networks/default"
        if not network.startswith("http"):
            network = self.emu.url(
                network if network.startswith("projects/") else "projects/%s/%s" % (project, network)
            )
        rule = {
            "description": body.get("description", ""),
            "network": network,
            "direction": direction,
            "priority": int(body.get("priority", 1000)),
            "disabled": bool(body.get("disabled", False)),
            "logConfig": {"enable": False},
            "allowed" if allowed else "denied": json.loads(json.dumps(allowed or denied)),
        }
        for key in ("sourceRanges", "sourceTags", "targetTags", "destinationRanges"):
            if body.get(key):
                rule[key] = list(body[key])
        if direction == "INGRESS" and not any(body.get(key) for key in ("sourceRanges", "sourceTags")):
            rule["sourceRanges"] = ["0.0.0.0/0"]
        return rule


# Google's auto-mode ranges of the default network's subnetworks, by region (others get the next free /20).
DEFAULT_SUBNETWORK_RANGES = {"us-central1": "10.128.0.0/20", "europe-west1": "10.132.0.0/20"}


class Networks(Collection):
    """Global VPC networks. Every project has the auto-mode network ``default`` (made on first read, as
    Projects are), with one subnetwork per region of the emulator's zones."""

    name = "networks"
    kind = "compute#network"

    def table(self, project: str, scope: str) -> dict[str, dict[str, Any]]:
        made = (project, scope) in self.tables
        table = super().table(project, scope)
        if not made and scope == "global" and project in self.emu.projects:
            self._make_default(project, table)
        return table

    def all_items(self, project: str) -> list[tuple[str, dict[str, Any]]]:
        self.table(project, "global")
        return super().all_items(project)

    def _make_default(self, project: str, table: dict[str, dict[str, Any]]) -> None:
        network = {
            **self._identity(project, "global", "default"),
            "description": "Default network for the project",
            "autoCreateSubnetworks": True,
            "routingConfig": {"routingMode": "REGIONAL"},
            "subnetworks": [],
        }
        table["default"] = network
        used = set(DEFAULT_SUBNETWORK_RANGES.values())
        for index, scope in enumerate(self.emu.scopes("regions")):
            region = scope.split("/", 1)[1]
            cidr = DEFAULT_SUBNETWORK_RANGES.get(region)
            if cidr is None:
                cidr = next(
                    candidate
                    for candidate in ("10.%d.0.0/20" % (140 + 4 * (index + n)) for n in range(64))
                    if candidate not in used
                )
                used.add(cidr)
            subnetwork = self.emu.subnetworks.make(project, scope, "default", network, cidr)
            network["subnetworks"].append(subnetwork["selfLink"])

    def build(self, request: Request, project: str, scope: str) -> dict[str, Any]:
        body = request.body
        if body.get("IPv4Range"):
            raise invalid("resource.IPv4Range", body["IPv4Range"], "Legacy networks are not supported here.")
        # Auto mode would make a subnetwork in every region; the emulator makes custom-mode networks only.
        if body.get("autoCreateSubnetworks", True):
            raise invalid("resource.autoCreateSubnetworks", True, "Only custom-mode networks are emulated.")
        return {
            "description": body.get("description", ""),
            "autoCreateSubnetworks": False,
            "routingConfig": body.get("routingConfig") or {"routingMode": "REGIONAL"},
            "subnetworks": [],
        }


class Subnetworks(Collection):
    """Regional subnetworks of a network, each with its primary ``ipCidrRange``."""

    name = "subnetworks"
    kind = "compute#subnetwork"
    scope_kind = "regions"
    aggregated = True

    def table(self, project: str, scope: str) -> dict[str, dict[str, Any]]:
        self.emu.networks.table(project, "global")  # the default network and its subnetworks first
        return super().table(project, scope)

    def all_items(self, project: str) -> list[tuple[str, dict[str, Any]]]:
        self.emu.networks.table(project, "global")
        return super().all_items(project)

    def make(self, project: str, scope: str, name: str, network: dict[str, Any], cidr: str) -> dict[str, Any]:
        subnetwork = {
            **self._identity(project, scope, name),
            "network": network["selfLink"],
            "ipCidrRange": cidr,
            "gatewayAddress": str(next(ipaddress.ip_network(cidr).hosts())),
            "privateIpGoogleAccess": False,
            "stackType": "IPV4_ONLY",
            "fingerprint": label_fingerprint({"subnetwork": name}),
        }
        Collection.table(self, project, scope)[name] = subnetwork
        return subnetwork

    def build(self, request: Request, project: str, scope: str) -> dict[str, Any]:
        body = request.body
        network = self.emu.resolve(body.get("network") or "", project, "networks", "resource.network")
        cidr = body.get("ipCidrRange")
        if not cidr:
            raise required("resource.ipCidrRange")
        try:
            ipaddress.ip_network(cidr)
        except ValueError:
            raise invalid("resource.ipCidrRange", cidr, "Must be a CIDR range.") from None
        return {
            "description": body.get("description", ""),
            "network": network["selfLink"],
            "ipCidrRange": cidr,
            "gatewayAddress": str(next(ipaddress.ip_network(cidr).hosts())),
            "privateIpGoogleAccess": bool(body.get("privateIpGoogleAccess", False)),
            "stackType": "IPV4_ONLY",
        }

    def inserted(self, resource: dict[str, Any]) -> None:
        network = self.emu.resolve(resource["network"], self.emu.project, "networks", "network")
        network.setdefault("subnetworks", []).append(resource["selfLink"])

    def deleted(self, project: str, scope: str, resource: dict[str, Any]) -> None:
        try:
            network = self.emu.resolve(resource["network"], project, "networks", "network")
        except ApiError:
            return
        network["subnetworks"] = [link for link in network.get("subnetworks", []) if link != resource["selfLink"]]
