"""The GCE emulator's fleet: what a blue/green swap and the drift guard drive on Compute Engine.

- **Regional instance templates** (``regions/R/instanceTemplates``), immutable like the global ones.
- **Managed instance groups**, zonal (``zones/Z/instanceGroupManagers``) and regional
  (``regions/R/instanceGroupManagers``): insert, get, list, aggregatedList, delete (its members go with it),
  patch (with the MIG ``fingerprint``, 412 when stale), resize, setInstanceTemplate, recreateInstances and
  listManagedInstances. Each MIG has its ``instanceGroups`` resource (get, list), which backend services name.
- **Members are real emulator instances** (so ``aggregated/instances`` and disks show them), built from the
  group's template (labels, metadata, a boot disk whose ``sourceImage`` is the template's image, a family
  resolved to its newest image). They are made when the operation that asks for them is DONE, PROVISIONING
  with ``currentAction`` CREATING (or RECREATING), and move one step each time their group is read
  (``instanceGroupManagers.get``, ``listManagedInstances``, ``backendServices.getHealth`` of the group):
  STAGING, then RUNNING with ``currentAction`` NONE after ``operation_polls`` reads, as an operation takes
  ``operation_polls`` polls. Members to delete are STOPPING with ``currentAction`` DELETING for as many reads,
  then gone. No clock is involved: ``hold_members``/``release_members``, ``advance_members`` and
  ``settle_members`` steer it from a test.
- **Health checks** (global), **backend services** (global: backends naming instance groups, health checks,
  ``fingerprint``, ``getHealth``) and **URL maps** (global: ``defaultService`` or
  ``defaultRouteAction.weightedBackendServices``, ``fingerprint``). A patch or update needs the current
  fingerprint (412 ``conditionNotMet`` otherwise), as Google documents for both.
- Deleting what another resource uses is refused with 400 ``resourceInUseByAnotherResource`` (a health check
  of a backend service or an autohealing policy, a MIG's instance group in a backend service, a backend
  service in a URL map, a global or regional template of a MIG), as on Google.

Test-side helpers (no call, no operation): ``set_instance_health``, ``set_template_health``,
``url_map_weights``, ``members_of``. See docs/testing.md for what is faithful and what is not.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from emulators.gce_api import (
    ApiError,
    ListFilter,
    Request,
    invalid,
    label_fingerprint,
    now_rfc3339,
    required,
)
from emulators.gce_compute import Collection, InstanceTemplates

if TYPE_CHECKING:
    from emulators.gce import GceEmulator

HEALTH_STATES = ("HEALTHY", "UNHEALTHY")
BALANCING_MODES = ("UTILIZATION", "RATE", "CONNECTION")
HEALTH_CHECK_TYPES = ("HTTP", "HTTPS", "HTTP2", "TCP", "SSL", "GRPC")
UPDATE_TYPES = ("PROACTIVE", "OPPORTUNISTIC")
MAX_WEIGHT = 1000
# A MIG's baseInstanceName leaves room for the "-xxxx" suffix of its members within 63 characters.
BASE_INSTANCE_NAME = re.compile(r"^[a-z](?:[-a-z0-9]{0,57})$")
PORT_NAME = re.compile(r"^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$")
SUFFIX_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
# Google's resource type names in "already being used by" messages.
_TYPE_NAMES = {
    "instanceTemplates": "instance_template",
    "instanceGroups": "instance_group",
    "healthChecks": "health_check",
    "backendServices": "backend_service",
}
_ACTION_KEYS = {
    "NONE": "none",
    "CREATING": "creating",
    "RECREATING": "recreating",
    "DELETING": "deleting",
}


def stale_fingerprint() -> ApiError:
    return ApiError(
        412,
        "conditionNotMet",
        "Invalid fingerprint: the resource changed since it was read.",
        location="If-Match",
        locationType="header",
    )


def in_use(collection_name: str, path: str, user_path: str) -> ApiError:
    return ApiError(
        400,
        "resourceInUseByAnotherResource",
        "The %s resource '%s' is already being used by '%s'" % (_TYPE_NAMES[collection_name], path, user_path),
    )


def _copy(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    """A JSON merge patch (RFC 7396), as Compute's patch methods apply one: null removes, objects merge."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = _copy(value)


class FleetCollection(Collection):
    """A collection of the fleet: it knows the GceFleet (members, health marks) besides the emulator."""

    def __init__(self, emu: GceEmulator, fleet: GceFleet, shared: Collection | None = None) -> None:
        super().__init__(emu)
        self.fleet = fleet
        if shared is not None:
            # Zonal and regional forms of one collection keep one table set, so a reference of either scope
            # resolves through the emulator's one lookup by collection name.
            self.tables = shared.tables

    def operate(
        self, verb: str, project: str, scope: str, resource: dict[str, Any], on_done: Callable[[], None] | None = None
    ) -> dict[str, Any]:
        return self.emu.start_operation(verb, project, scope, resource, on_done=on_done)

    def one_route(self) -> str:
        return self._scope_pattern() + "/" + self.name + r"/(?P<name>[^/]+)"

    def check_fingerprint(self, resource: dict[str, Any], body: dict[str, Any]) -> None:
        if body.get("fingerprint") != resource["fingerprint"]:
            raise stale_fingerprint()

    def new_fingerprint(self) -> str:
        return label_fingerprint({"fingerprint": self.emu.new_id()})


class FleetState(Collection):
    """No routes: what the fleet keeps besides resources, in tables so that the emulator's reset clears it.

    ``("members", MIG path)``: the members' progress by instance name; ``("health", "instances")`` and
    ``("health", "templates")``: health marks; ``("holds", "")``: MIGs whose members do not advance.
    """

    name = "phoenixFleetState"

    def routes(self) -> list[tuple[str, str, str, Callable[[Request], Any]]]:
        return []


# ---------------------------------------------------------------------------------------------------
# Regional instance templates


class FleetInstanceTemplates(InstanceTemplates):
    """Global instance templates that know the MIGs: one a group uses cannot be deleted, as on Google."""

    def __init__(self, emu: GceEmulator, fleet: GceFleet, shared: Collection | None = None) -> None:
        super().__init__(emu)
        self.fleet = fleet
        if shared is not None:
            self.tables = shared.tables

    def check_delete(self, resource: dict[str, Any]) -> None:
        user = self.fleet.template_user(resource["selfLink"])
        if user is not None:
            raise in_use("instanceTemplates", self.emu.path_of(resource), self.emu.path_of(user))


class RegionInstanceTemplates(FleetInstanceTemplates):
    """``regions/R/instanceTemplates``: the same resource as a global template, with a ``region``."""

    api_name = "regionInstanceTemplates"
    scope_kind = "regions"


# ---------------------------------------------------------------------------------------------------
# Managed instance groups and their instance groups


class InstanceGroupManagers(FleetCollection):
    name = "instanceGroupManagers"
    kind = "compute#instanceGroupManager"
    scope_kind = "zones"
    aggregated = True

    def routes(self) -> list[tuple[str, str, str, Callable[[Request], Any]]]:
        one = self.one_route()
        return [
            *super().routes(),
            ("PATCH", one, "patch", self.patch),
            ("POST", one + "/resize", "resize", self.resize),
            ("POST", one + "/setInstanceTemplate", "setInstanceTemplate", self.set_instance_template),
            ("POST", one + "/recreateInstances", "recreateInstances", self.recreate_instances),
            ("POST", one + "/listManagedInstances", "listManagedInstances", self.list_managed_instances),
        ]

    def zones_of(self, project: str, scope: str, body: dict[str, Any]) -> list[str]:
        return [scope]

    def build(self, request: Request, project: str, scope: str) -> dict[str, Any]:
        body = request.body
        versions = body.get("versions") or []
        if len(versions) > 1:
            raise invalid("resource.versions", len(versions), "Only one version is supported by the test emulator.")
        reference = body.get("instanceTemplate") or (versions[0].get("instanceTemplate") if versions else None)
        if not reference:
            raise required("resource.instanceTemplate")
        template = self.fleet.template(reference, project, scope, "resource.instanceTemplate")
        target_size = body.get("targetSize")
        if target_size is None:
            raise required("resource.targetSize")
        if not isinstance(target_size, int) or target_size < 0:
            raise invalid("resource.targetSize", target_size, "Must be a non-negative integer.")
        base = body.get("baseInstanceName")
        if not base:
            raise required("resource.baseInstanceName")
        if not isinstance(base, str) or not BASE_INSTANCE_NAME.match(base):
            raise invalid(
                "resource.baseInstanceName", base, "Must be a match of regex '%s'" % BASE_INSTANCE_NAME.pattern
            )
        name = body["name"]
        group_scope = scope
        manager: dict[str, Any] = {
            "description": body.get("description", ""),
            "instanceTemplate": template["selfLink"],
            "versions": [
                {
                    "instanceTemplate": template["selfLink"],
                    **({"name": versions[0]["name"]} if versions and versions[0].get("name") else {}),
                }
            ],
            "instanceGroup": self.emu.url(self.fleet.group_collection(scope).path(project, group_scope, name)),
            "baseInstanceName": base,
            "targetSize": target_size,
            "fingerprint": self.new_fingerprint(),
            "updatePolicy": self._update_policy(body.get("updatePolicy")),
            "listManagedInstancesResults": body.get("listManagedInstancesResults") or "PAGELESS",
        }
        if manager["listManagedInstancesResults"] not in ("PAGELESS", "PAGINATED"):
            raise invalid("resource.listManagedInstancesResults", manager["listManagedInstancesResults"])
        for key, value in self._checked_settings(body, project, "resource").items():
            manager[key] = value
        zones = self.zones_of(project, scope, body)
        if scope.startswith("regions/"):
            manager["distributionPolicy"] = {
                "zones": [{"zone": self.emu.url("projects/%s/%s" % (project, zone))} for zone in zones],
                "targetShape": "EVEN",
            }
        return manager

    def _update_policy(self, policy: Any) -> dict[str, Any]:
        policy = dict(policy or {})
        kind = policy.get("type", "PROACTIVE")
        if kind not in UPDATE_TYPES:
            raise invalid("resource.updatePolicy.type", kind, "Must be one of %s." % ", ".join(UPDATE_TYPES))
        return {
            "type": kind,
            "minimalAction": policy.get("minimalAction", "REPLACE"),
            "replacementMethod": policy.get("replacementMethod", "SUBSTITUTE"),
            "maxSurge": policy.get("maxSurge") or {"fixed": 1, "calculated": 1},
            "maxUnavailable": policy.get("maxUnavailable") or {"fixed": 1, "calculated": 1},
        }

    def _checked_settings(self, body: dict[str, Any], project: str, prefix: str) -> dict[str, Any]:
        """namedPorts and autoHealingPolicies of an insert or patch body, checked (health checks must exist)."""
        settings: dict[str, Any] = {}
        if body.get("namedPorts") is not None:
            ports = []
            for index, port in enumerate(body["namedPorts"]):
                port = port or {}
                if not isinstance(port.get("name"), str) or not PORT_NAME.match(port["name"]):
                    raise invalid("%s.namedPorts[%d].name" % (prefix, index), port.get("name"))
                if not isinstance(port.get("port"), int) or not 1 <= port["port"] <= 65535:
                    raise invalid("%s.namedPorts[%d].port" % (prefix, index), port.get("port"), "Must be 1-65535.")
                ports.append({"name": port["name"], "port": port["port"]})
            settings["namedPorts"] = ports
        if body.get("autoHealingPolicies") is not None:
            policies = []
            if len(body["autoHealingPolicies"]) > 1:
                raise invalid(
                    "%s.autoHealingPolicies" % prefix, len(body["autoHealingPolicies"]), "At most one policy."
                )
            for index, policy in enumerate(body["autoHealingPolicies"]):
                field_name = "%s.autoHealingPolicies[%d].healthCheck" % (prefix, index)
                check = self.emu.resolve((policy or {}).get("healthCheck", ""), project, "healthChecks", field_name)
                policies.append(
                    {"healthCheck": check["selfLink"], "initialDelaySec": int(policy.get("initialDelaySec", 300))}
                )
            settings["autoHealingPolicies"] = policies
        return settings

    def insert(self, request: Request) -> dict[str, Any]:
        project, scope = self.emu.check_scope(request.match)
        operation = super().insert(request)
        manager = self.table(project, scope)[request.body["name"]]
        self.fleet.group_collection(scope).make(project, scope, manager)
        return operation

    def inserted(self, resource: dict[str, Any]) -> None:
        self.fleet.scale(resource)

    def insert_failed(self, project: str, scope: str, name: str) -> None:
        manager = self.table(project, scope).pop(name, None)
        if manager is not None:
            self.fleet.group_collection(scope).table(project, scope).pop(name, None)

    def get(self, request: Request) -> dict[str, Any]:
        manager = super().get(request)
        self.fleet.observe(manager)
        return self.fleet.refresh(manager)

    def list(self, request: Request) -> dict[str, Any]:
        project, scope = self.emu.check_scope(request.match)
        for manager in self.table(project, scope).values():
            self.fleet.refresh(manager)
        return super().list(request)

    def aggregated_list(self, request: Request) -> dict[str, Any]:
        project = self.emu.check_project(request.match["project"])
        for _scope, manager in self.all_items(project):
            self.fleet.refresh(manager)
        return super().aggregated_list(request)

    def check_delete(self, resource: dict[str, Any]) -> None:
        group = self.fleet.find_group(resource)
        user = self.fleet.backend_service_of_group(group["selfLink"]) if group else None
        if user is not None:
            raise in_use("instanceGroups", self.emu.path_of(group), self.emu.path_of(user))

    def deleted(self, project: str, scope: str, resource: dict[str, Any]) -> None:
        self.fleet.remove_all_members(resource)
        self.fleet.group_collection(scope).table(project, scope).pop(resource["name"], None)

    def patch(self, request: Request) -> dict[str, Any]:
        project, scope = self.emu.check_scope(request.match)
        manager = self.find(project, scope, request.match["name"])
        body = request.body or {}
        self.check_fingerprint(manager, body)
        changes: dict[str, Any] = self._checked_settings(body, project, "resource")
        if body.get("targetSize") is not None:
            if not isinstance(body["targetSize"], int) or body["targetSize"] < 0:
                raise invalid("resource.targetSize", body["targetSize"], "Must be a non-negative integer.")
            changes["targetSize"] = body["targetSize"]
        if body.get("updatePolicy") is not None:
            changes["updatePolicy"] = self._update_policy({**manager["updatePolicy"], **body["updatePolicy"]})
        reference = body.get("instanceTemplate") or ((body.get("versions") or [{}])[0]).get("instanceTemplate")
        if body.get("versions") and len(body["versions"]) > 1:
            raise invalid(
                "resource.versions", len(body["versions"]), "Only one version is supported by the test emulator."
            )
        template = self.fleet.template(reference, project, scope, "resource.instanceTemplate") if reference else None
        manager.update(changes)
        manager["fingerprint"] = self.new_fingerprint()

        def done() -> None:
            if template is not None:
                self.fleet.set_template(manager, template["selfLink"])
            self.fleet.scale(manager)

        return self.operate("patch", project, scope, manager, on_done=done)

    def resize(self, request: Request) -> dict[str, Any]:
        project, scope = self.emu.check_scope(request.match)
        manager = self.find(project, scope, request.match["name"])
        if "size" not in request.query:
            raise required("size")
        try:
            size = int(request.query["size"])
        except ValueError:
            raise invalid("size", request.query["size"]) from None
        if size < 0:
            raise invalid("size", size, "Must be a non-negative integer.")

        def done() -> None:
            manager["targetSize"] = size
            manager["fingerprint"] = self.new_fingerprint()
            self.fleet.scale(manager)

        return self.operate("resize", project, scope, manager, on_done=done)

    def set_instance_template(self, request: Request) -> dict[str, Any]:
        project, scope = self.emu.check_scope(request.match)
        manager = self.find(project, scope, request.match["name"])
        reference = (request.body or {}).get("instanceTemplate")
        if not reference:
            raise required("instanceTemplate")
        template = self.fleet.template(reference, project, scope, "instanceTemplate")

        def done() -> None:
            self.fleet.set_template(manager, template["selfLink"])
            manager["fingerprint"] = self.new_fingerprint()

        return self.operate("setInstanceTemplate", project, scope, manager, on_done=done)

    def recreate_instances(self, request: Request) -> dict[str, Any]:
        project, scope = self.emu.check_scope(request.match)
        manager = self.find(project, scope, request.match["name"])
        references = (request.body or {}).get("instances") or []
        if not references:
            raise required("instances")
        members = self.fleet.members(manager)
        names = []
        for index, reference in enumerate(references):
            name = str(reference).rstrip("/").rsplit("/", 1)[-1]
            member = members.get(name)
            if (
                member is None
                or member["action"] == "DELETING"
                or not str(reference).endswith("%s/instances/%s" % (member["zone"], name))
            ):
                raise invalid(
                    "instances[%d]" % index,
                    reference,
                    "The instance is not a member of %s." % self.emu.path_of(manager),
                )
            names.append(name)
        return self.operate(
            "recreateInstances", project, scope, manager, on_done=lambda: self.fleet.recreate(manager, names)
        )

    def list_managed_instances(self, request: Request) -> dict[str, Any]:
        project, scope = self.emu.check_scope(request.match)
        manager = self.find(project, scope, request.match["name"])
        self.fleet.observe(manager)
        entries = self.fleet.managed_instances(manager)
        if manager["listManagedInstancesResults"] == "PAGINATED":
            page, token = self.emu.page(entries, request, self.emu.path_of(manager) + "/listManagedInstances")
        else:
            # PAGELESS (the default): maxResults and pageToken are ignored, every member in one answer.
            page, token = [entry for entry in entries if ListFilter(request.query.get("filter")).matches(entry)], None
        answer: dict[str, Any] = {"managedInstances": page} if page else {}
        if token:
            answer["nextPageToken"] = token
        return answer


class RegionInstanceGroupManagers(InstanceGroupManagers):
    api_name = "regionInstanceGroupManagers"
    scope_kind = "regions"
    aggregated = False

    def zones_of(self, project: str, scope: str, body: dict[str, Any]) -> list[str]:
        region = scope.split("/", 1)[1]
        in_region = [zone for zone in self.emu.scopes("zones") if zone.split("/", 1)[1].rsplit("-", 1)[0] == region]
        wanted = ((body.get("distributionPolicy") or {}).get("zones")) or []
        if not wanted:
            return in_region
        zones = []
        for index, entry in enumerate(wanted):
            zone = "zones/" + str((entry or {}).get("zone", "")).rstrip("/").rsplit("/", 1)[-1]
            if zone not in in_region:
                raise invalid(
                    "resource.distributionPolicy.zones[%d].zone" % index, entry.get("zone"), "Not in %s." % region
                )
            zones.append(zone)
        return zones


class InstanceGroups(FleetCollection):
    """The instance group of each MIG (made and deleted with it): get and list, its ``size`` counted live."""

    name = "instanceGroups"
    kind = "compute#instanceGroup"
    scope_kind = "zones"

    def routes(self) -> list[tuple[str, str, str, Callable[[Request], Any]]]:
        return [route for route in super().routes() if route[2] in ("get", "list")]

    def make(self, project: str, scope: str, manager: dict[str, Any]) -> dict[str, Any]:
        group = {
            **self._identity(project, scope, manager["name"]),
            "description": "This instance group is controlled by Instance Group Manager '%s'." % manager["name"],
            "network": self.emu.url("projects/%s/global/networks/default" % project),
            "fingerprint": self.new_fingerprint(),
            "size": 0,
        }
        if manager.get("namedPorts"):
            group["namedPorts"] = manager["namedPorts"]
        self.table(project, scope)[manager["name"]] = group
        return group

    def get(self, request: Request) -> dict[str, Any]:
        return self.fleet.refresh_group(super().get(request))

    def list(self, request: Request) -> dict[str, Any]:
        project, scope = self.emu.check_scope(request.match)
        for group in self.table(project, scope).values():
            self.fleet.refresh_group(group)
        return super().list(request)


class RegionInstanceGroups(InstanceGroups):
    api_name = "regionInstanceGroups"
    scope_kind = "regions"


# ---------------------------------------------------------------------------------------------------
# Load balancing: health checks, backend services, URL maps


class HealthChecks(FleetCollection):
    name = "healthChecks"
    kind = "compute#healthCheck"

    def build(self, request: Request, project: str, scope: str) -> dict[str, Any]:
        body = request.body
        kind = body.get("type")
        if not kind:
            raise required("resource.type")
        if kind not in HEALTH_CHECK_TYPES:
            raise invalid("resource.type", kind, "Must be one of %s." % ", ".join(HEALTH_CHECK_TYPES))
        check: dict[str, Any] = {
            "description": body.get("description", ""),
            "type": kind,
            "checkIntervalSec": int(body.get("checkIntervalSec", 5)),
            "timeoutSec": int(body.get("timeoutSec", 5)),
            "healthyThreshold": int(body.get("healthyThreshold", 2)),
            "unhealthyThreshold": int(body.get("unhealthyThreshold", 2)),
        }
        if check["timeoutSec"] > check["checkIntervalSec"]:
            raise invalid("resource.timeoutSec", check["timeoutSec"], "Must not be greater than checkIntervalSec.")
        if kind in ("HTTP", "HTTPS", "HTTP2"):
            key = kind.lower() + "HealthCheck"
            given = body.get(key) or {}
            port = given.get("port", 80 if kind == "HTTP" else 443)
            if not isinstance(port, int) or not 1 <= port <= 65535:
                raise invalid("resource.%s.port" % key, port, "Must be 1-65535.")
            check[key] = {
                "port": port,
                "requestPath": given.get("requestPath", "/"),
                "proxyHeader": given.get("proxyHeader", "NONE"),
                **({"portName": given["portName"]} if given.get("portName") else {}),
                **({"host": given["host"]} if given.get("host") else {}),
            }
        else:
            key = kind.lower() + "HealthCheck"
            check[key] = _copy(body.get(key) or {})
        return check

    def check_delete(self, resource: dict[str, Any]) -> None:
        user = self.fleet.health_check_user(resource["selfLink"])
        if user is not None:
            raise in_use("healthChecks", self.emu.path_of(resource), self.emu.path_of(user))


class BackendServices(FleetCollection):
    name = "backendServices"
    kind = "compute#backendService"

    def routes(self) -> list[tuple[str, str, str, Callable[[Request], Any]]]:
        one = self.one_route()
        return [
            *super().routes(),
            ("PATCH", one, "patch", self.patch),
            ("PUT", one, "update", self.update),
            ("POST", one + "/getHealth", "getHealth", self.get_health),
        ]

    def build(self, request: Request, project: str, scope: str) -> dict[str, Any]:
        service = {
            "description": "",
            "protocol": "HTTP",
            "port": 80,
            "portName": "http",
            "timeoutSec": 30,
            "loadBalancingScheme": "EXTERNAL",
            "sessionAffinity": "NONE",
            "affinityCookieTtlSec": 0,
            "connectionDraining": {"drainingTimeoutSec": 300},
            "enableCDN": False,
            "backends": [],
            "healthChecks": [],
            "fingerprint": self.new_fingerprint(),
        }
        self._apply(service, request.body, project)
        return service

    def _apply(self, service: dict[str, Any], body: dict[str, Any], project: str) -> None:
        """Check and write the writable fields ``body`` holds (``backends`` and ``healthChecks`` whole)."""
        for key in ("description", "protocol", "portName", "loadBalancingScheme", "sessionAffinity"):
            if key in body:
                service[key] = body[key]
        for key in ("port", "timeoutSec", "affinityCookieTtlSec"):
            if key in body:
                service[key] = int(body[key])
        if "connectionDraining" in body:
            service["connectionDraining"] = _copy(body["connectionDraining"] or {})
        if "enableCDN" in body:
            service["enableCDN"] = bool(body["enableCDN"])
        if "healthChecks" in body:
            checks = []
            for index, reference in enumerate(body["healthChecks"] or []):
                check = self.emu.resolve(reference, project, "healthChecks", "resource.healthChecks[%d]" % index)
                checks.append(check["selfLink"])
            if len(checks) > 1:
                raise invalid("resource.healthChecks", len(checks), "At most one health check may be given.")
            service["healthChecks"] = checks
        if "backends" in body:
            backends = []
            seen = set()
            for index, backend in enumerate(body["backends"] or []):
                backend = backend or {}
                field_name = "resource.backends[%d]" % index
                group = self.emu.resolve(backend.get("group", ""), project, "instanceGroups", field_name + ".group")
                if group["selfLink"] in seen:
                    raise invalid(field_name + ".group", backend.get("group"), "Duplicate backend group.")
                seen.add(group["selfLink"])
                mode = backend.get("balancingMode", "UTILIZATION")
                if mode not in BALANCING_MODES:
                    raise invalid(
                        field_name + ".balancingMode", mode, "Must be one of %s." % ", ".join(BALANCING_MODES)
                    )
                scaler = float(backend.get("capacityScaler", 1.0))
                if not (scaler == 0.0 or 0.1 <= scaler <= 1.0):
                    raise invalid(field_name + ".capacityScaler", scaler, "Must be 0 or in [0.1, 1.0].")
                entry = {"group": group["selfLink"], "balancingMode": mode, "capacityScaler": scaler}
                if mode == "UTILIZATION":
                    entry["maxUtilization"] = float(backend.get("maxUtilization", 0.8))
                for key in ("maxRatePerInstance", "maxRate", "maxConnectionsPerInstance", "description"):
                    if key in backend:
                        entry[key] = backend[key]
                backends.append(entry)
            service["backends"] = backends

    def patch(self, request: Request) -> dict[str, Any]:
        return self._change(request, "patch")

    def update(self, request: Request) -> dict[str, Any]:
        return self._change(request, "update")

    def _change(self, request: Request, verb: str) -> dict[str, Any]:
        project, scope = self.emu.check_scope(request.match)
        service = self.find(project, scope, request.match["name"])
        body = request.body or {}
        self.check_fingerprint(service, body)
        changed = _copy(service)
        if verb == "update":
            # A full replacement: what the body leaves out returns to its default.
            changed.update(backends=[], healthChecks=[])
        self._apply(changed, body, project)
        changed["fingerprint"] = self.new_fingerprint()
        service.clear()
        service.update(changed)
        return self.operate(verb, project, scope, service)

    def get_health(self, request: Request) -> dict[str, Any]:
        project, scope = self.emu.check_scope(request.match)
        service = self.find(project, scope, request.match["name"])
        reference = (request.body or {}).get("group")
        if not reference:
            raise required("resourceGroupReference.group")
        group = self.emu.resolve(reference, project, "instanceGroups", "resourceGroupReference.group")
        if group["selfLink"] not in [backend["group"] for backend in service["backends"]]:
            raise invalid(
                "resourceGroupReference.group",
                reference,
                "It is not a backend of %s." % self.emu.path_of(service),
            )
        statuses = self.fleet.group_health(group, service)
        answer: dict[str, Any] = {"kind": "compute#backendServiceGroupHealth"}
        if statuses:
            answer["healthStatus"] = statuses
        return answer

    def check_delete(self, resource: dict[str, Any]) -> None:
        user = self.fleet.url_map_of_service(resource["selfLink"])
        if user is not None:
            raise in_use("backendServices", self.emu.path_of(resource), self.emu.path_of(user))


class UrlMaps(FleetCollection):
    name = "urlMaps"
    kind = "compute#urlMap"

    def routes(self) -> list[tuple[str, str, str, Callable[[Request], Any]]]:
        one = self.one_route()
        return [*super().routes(), ("PATCH", one, "patch", self.patch), ("PUT", one, "update", self.update)]

    def build(self, request: Request, project: str, scope: str) -> dict[str, Any]:
        url_map = {"description": "", "fingerprint": self.new_fingerprint()}
        kept = {key: value for key, value in request.body.items() if key not in ("name", "fingerprint")}
        _merge(url_map, kept)
        self._check(url_map, project)
        return url_map

    def _check(self, url_map: dict[str, Any], project: str) -> None:
        """Normalise the backend service references to URLs; refuse what Google refuses."""
        route = url_map.get("defaultRouteAction") or {}
        weighted = route.get("weightedBackendServices")
        sources = [
            key
            for key, value in (
                ("defaultService", url_map.get("defaultService")),
                ("defaultRouteAction.weightedBackendServices", weighted),
                ("defaultUrlRedirect", url_map.get("defaultUrlRedirect")),
            )
            if value
        ]
        if len(sources) > 1:
            raise invalid(
                "resource.%s" % sources[1],
                ", ".join(sources),
                "Only one of defaultService, defaultRouteAction.weightedBackendServices or defaultUrlRedirect "
                "may be set.",
            )
        if url_map.get("defaultService"):
            service = self.emu.resolve(url_map["defaultService"], project, "backendServices", "resource.defaultService")
            url_map["defaultService"] = service["selfLink"]
        if weighted:
            for index, entry in enumerate(weighted):
                field_name = "resource.defaultRouteAction.weightedBackendServices[%d]" % index
                service = self.emu.resolve(
                    (entry or {}).get("backendService", ""), project, "backendServices", field_name + ".backendService"
                )
                weight = entry.get("weight")
                if not isinstance(weight, int) or not 0 <= weight <= MAX_WEIGHT:
                    raise invalid(field_name + ".weight", weight, "Must be in the range [0, %d]." % MAX_WEIGHT)
                entry["backendService"] = service["selfLink"]
            if not any(entry["weight"] for entry in weighted):
                raise invalid(
                    "resource.defaultRouteAction.weightedBackendServices",
                    "0",
                    "At least one weighted backend service must have a non-zero weight.",
                )

    def patch(self, request: Request) -> dict[str, Any]:
        return self._change(request, "patch")

    def update(self, request: Request) -> dict[str, Any]:
        return self._change(request, "update")

    def _change(self, request: Request, verb: str) -> dict[str, Any]:
        project, scope = self.emu.check_scope(request.match)
        url_map = self.find(project, scope, request.match["name"])
        body = request.body or {}
        self.check_fingerprint(url_map, body)
        fixed = ("kind", "id", "creationTimestamp", "name", "selfLink")
        if verb == "update":
            changed = {key: url_map[key] for key in fixed}
            changed["description"] = ""
        else:
            changed = _copy(url_map)
        _merge(changed, {key: value for key, value in body.items() if key not in (*fixed, "fingerprint")})
        self._check(changed, project)
        changed["fingerprint"] = self.new_fingerprint()
        url_map.clear()
        url_map.update(changed)
        return self.operate(verb, project, scope, url_map)

    def services_of(self, url_map: dict[str, Any]) -> list[str]:
        services = [url_map["defaultService"]] if url_map.get("defaultService") else []
        route = url_map.get("defaultRouteAction") or {}
        services.extend(entry["backendService"] for entry in route.get("weightedBackendServices") or [])
        for matcher in url_map.get("pathMatchers") or []:
            if matcher.get("defaultService"):
                services.append(matcher["defaultService"])
        return services


# ---------------------------------------------------------------------------------------------------
# The fleet: members, their progress and health, and the test-side helpers


class GceFleet:
    """The fleet's collections and the state they share; ``emu.fleet`` in a test."""

    def __init__(self, emu: GceEmulator) -> None:
        self.emu = emu
        self.state = FleetState(emu)
        self.instance_templates = FleetInstanceTemplates(emu, self)
        self.region_instance_templates = RegionInstanceTemplates(emu, self, self.instance_templates)
        self.group_managers = InstanceGroupManagers(emu, self)
        self.region_group_managers = RegionInstanceGroupManagers(emu, self, self.group_managers)
        self.instance_groups = InstanceGroups(emu, self)
        self.region_instance_groups = RegionInstanceGroups(emu, self, self.instance_groups)
        self.health_checks = HealthChecks(emu, self)
        self.backend_services = BackendServices(emu, self)
        self.url_maps = UrlMaps(emu, self)
        # The global instance templates are the emulator's ``instance_templates``, listed with its own collections.
        self.collections: list[Collection] = [
            self.state,
            self.region_instance_templates,
            self.group_managers,
            self.region_group_managers,
            self.instance_groups,
            self.region_instance_groups,
            self.health_checks,
            self.backend_services,
            self.url_maps,
        ]

    # lookups ------------------------------------------------------------------------------------

    def group_collection(self, scope: str) -> InstanceGroups:
        return self.region_instance_groups if scope.startswith("regions/") else self.instance_groups

    def template(self, reference: str, project: str, scope: str, field_name: str) -> dict[str, Any]:
        template = self.emu.resolve(reference, project, "instanceTemplates", field_name)
        link = template["selfLink"]
        if "/regions/" in link:
            region = link.split("/regions/", 1)[1].split("/", 1)[0]
            where = scope.split("/", 1)[1]
            if (where if scope.startswith("regions/") else where.rsplit("-", 1)[0]) != region:
                raise invalid(field_name, reference, "A regional template must be in the group's region.")
        return template

    def managers(self) -> list[dict[str, Any]]:
        return [manager for table in self.group_managers.tables.values() for manager in table.values()]

    def template_user(self, template_url: str) -> dict[str, Any] | None:
        return next((manager for manager in self.managers() if manager["instanceTemplate"] == template_url), None)

    def health_check_user(self, check_url: str) -> dict[str, Any] | None:
        for service in self._all(self.backend_services):
            if check_url in service["healthChecks"]:
                return service
        for manager in self.managers():
            if any(policy["healthCheck"] == check_url for policy in manager.get("autoHealingPolicies") or []):
                return manager
        return None

    def backend_service_of_group(self, group_url: str) -> dict[str, Any] | None:
        for service in self._all(self.backend_services):
            if any(backend["group"] == group_url for backend in service["backends"]):
                return service
        return None

    def url_map_of_service(self, service_url: str) -> dict[str, Any] | None:
        return next((item for item in self._all(self.url_maps) if service_url in self.url_maps.services_of(item)), None)

    @staticmethod
    def _all(collection: Collection) -> list[dict[str, Any]]:
        return [resource for table in collection.tables.values() for resource in table.values()]

    def find_group(self, manager: dict[str, Any]) -> dict[str, Any] | None:
        project, scope = self._where(manager)
        return self.group_collection(scope).table(project, scope).get(manager["name"])

    def _where(self, resource: dict[str, Any]) -> tuple[str, str]:
        path = self.emu.path_of(resource)
        parts = path.split("/")
        return parts[1], "/".join(parts[2:4])

    # members ------------------------------------------------------------------------------------

    def members(self, manager: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return self.state.table("members", self.emu.path_of(manager))

    def instance_of(self, manager: dict[str, Any], member: dict[str, Any]) -> dict[str, Any] | None:
        project = self._where(manager)[0]
        return self.emu.instances.table(project, member["zone"]).get(member["name"])

    def _zones(self, manager: dict[str, Any]) -> list[str]:
        if "distributionPolicy" in manager:
            return ["zones/" + entry["zone"].rsplit("/", 1)[-1] for entry in manager["distributionPolicy"]["zones"]]
        return [self._where(manager)[1]]

    def _new_name(self, manager: dict[str, Any]) -> str:
        project = self._where(manager)[0]
        while True:
            number = int(self.emu.new_id())
            suffix = ""
            for _attempt in range(4):
                number, digit = divmod(number, len(SUFFIX_ALPHABET))
                suffix += SUFFIX_ALPHABET[digit]
            name = "%s-%s" % (manager["baseInstanceName"], suffix)
            taken = any(name in self.emu.instances.table(project, zone) for zone in self._zones(manager))
            if not taken and name not in self.members(manager):
                return name

    def _make_instance(self, manager: dict[str, Any], zone: str, name: str) -> dict[str, Any]:
        project = self._where(manager)[0]
        template = self.emu.resolve(manager["instanceTemplate"], project, "instanceTemplates", "instanceTemplate")
        body = _copy(template["properties"])
        body["name"] = name
        metadata = body.setdefault("metadata", {})
        metadata["items"] = [
            *(metadata.get("items") or []),
            {"key": "instance-template", "value": template["selfLink"]},
            {"key": "created-by", "value": manager["selfLink"]},
        ]
        instances = self.emu.instances
        instance = instances.build(Request("POST", "", {}, body, {}), project, zone)
        instance.update(instances._identity(project, zone, name))
        instance["status"] = "PROVISIONING"
        instances.table(project, zone)[name] = instance
        return instance

    def _add_member(
        self, manager: dict[str, Any], action: str, zone: str | None = None, name: str | None = None
    ) -> None:
        members = self.members(manager)
        if zone is None:
            # EVEN distribution: the zone with the fewest members, first in the policy's order on a tie.
            zones = self._zones(manager)
            counts = {candidate: 0 for candidate in zones}
            for member in members.values():
                if member["action"] != "DELETING" and member["zone"] in counts:
                    counts[member["zone"]] += 1
            zone = min(zones, key=lambda candidate: (counts[candidate], zones.index(candidate)))
        name = name or self._new_name(manager)
        instance = self._make_instance(manager, zone, name)
        members[name] = {
            "name": name,
            "zone": zone,
            "template": manager["instanceTemplate"],
            "action": action,
            "steps": self.emu.operation_polls,
            "id": instance["id"],
        }

    def _remove_instance(self, manager: dict[str, Any], member: dict[str, Any]) -> None:
        project = self._where(manager)[0]
        instance = self.emu.instances.table(project, member["zone"]).pop(member["name"], None)
        if instance is not None:
            self.emu.instances.deleted(project, member["zone"], instance)

    def scale(self, manager: dict[str, Any]) -> None:
        """Start creating or deleting members until the group holds ``targetSize`` of them."""
        members = self.members(manager)
        active = [member for member in members.values() if member["action"] != "DELETING"]
        for _member in range(manager["targetSize"] - len(active)):
            self._add_member(manager, "CREATING")
        surplus = len(active) - manager["targetSize"]
        if surplus > 0:
            # Members not yet running go first, then the last by name: deterministic, and Google's preference.
            victims = sorted(active, key=lambda member: (member["action"] == "NONE", _desc(member["name"])))
            for member in victims[:surplus]:
                member.update(action="DELETING", steps=self.emu.operation_polls)
                instance = self.instance_of(manager, member)
                if instance is not None:
                    instance["status"] = "STOPPING"

    def set_template(self, manager: dict[str, Any], template_url: str) -> None:
        manager["instanceTemplate"] = template_url
        manager["versions"] = [{"instanceTemplate": template_url}]
        if manager["updatePolicy"]["type"] == "PROACTIVE":
            outdated = [name for name, member in self.members(manager).items() if member["template"] != template_url]
            self.recreate(manager, outdated)

    def recreate(self, manager: dict[str, Any], names: list[str]) -> None:
        """Replace each named member by a new instance of the same name from the group's current template."""
        members = self.members(manager)
        for name in names:
            member = members.get(name)
            if member is None or member["action"] == "DELETING":
                continue
            self._remove_instance(manager, member)
            del members[name]
            self._add_member(manager, "RECREATING", zone=member["zone"], name=name)

    def remove_all_members(self, manager: dict[str, Any]) -> None:
        for member in self.members(manager).values():
            self._remove_instance(manager, member)
        self.state.tables.pop(("members", self.emu.path_of(manager)), None)

    def observe(self, manager: dict[str, Any]) -> None:
        """One read of the group: each member in progress moves one step (unless the test holds the group)."""
        if self.emu.path_of(manager) in self.state.table("holds", ""):
            return
        self._step(manager)

    def _step(self, manager: dict[str, Any]) -> None:
        members = self.members(manager)
        for name, member in list(members.items()):
            instance = self.instance_of(manager, member)
            if member["action"] == "NONE":
                if instance is None:
                    # An instance deleted behind the group's back is made again, under its name, as Google does.
                    del members[name]
                    self._add_member(manager, "CREATING", zone=member["zone"], name=name)
                continue
            member["steps"] -= 1
            if member["action"] == "DELETING":
                if member["steps"] <= 0:
                    self._remove_instance(manager, member)
                    del members[name]
                continue
            if instance is None:
                continue
            if member["steps"] <= 0:
                member["action"] = "NONE"
                instance["status"] = "RUNNING"
                instance["lastStartTimestamp"] = now_rfc3339()
            else:
                instance["status"] = "STAGING"

    def refresh(self, manager: dict[str, Any]) -> dict[str, Any]:
        """The MIG's computed fields (currentActions, status) from its members, written into it."""
        members = self.members(manager).values()
        actions = dict.fromkeys(
            (
                "none",
                "creating",
                "creatingWithoutRetries",
                "verifying",
                "recreating",
                "deleting",
                "abandoning",
                "restarting",
                "refreshing",
                "suspending",
                "resuming",
                "stopping",
                "starting",
            ),
            0,
        )
        for member in members:
            actions[_ACTION_KEYS[member["action"]]] += 1
        active = [member for member in members if member["action"] != "DELETING"]
        stable = len(active) == manager["targetSize"] and all(member["action"] == "NONE" for member in members)
        manager["currentActions"] = actions
        manager["status"] = {
            "isStable": stable,
            "versionTarget": {"isReached": all(member["template"] == manager["instanceTemplate"] for member in active)},
            "allInstancesConfig": {"effective": True},
            "stateful": {"hasStatefulConfig": False, "perInstanceConfigs": {"allEffective": True}},
        }
        return manager

    def refresh_group(self, group: dict[str, Any]) -> dict[str, Any]:
        project, scope = self._where(group)
        manager = self.group_managers.table(project, scope).get(group["name"])
        if manager is not None:
            group["size"] = sum(1 for member in self.members(manager).values() if self.instance_of(manager, member))
            if manager.get("namedPorts"):
                group["namedPorts"] = manager["namedPorts"]
        return group

    def managed_instances(self, manager: dict[str, Any]) -> list[dict[str, Any]]:
        entries = []
        checks = [policy["healthCheck"] for policy in manager.get("autoHealingPolicies") or []]
        for name in sorted(self.members(manager)):
            member = self.members(manager)[name]
            instance = self.instance_of(manager, member)
            entry: dict[str, Any] = {"name": name, "currentAction": member["action"]}
            entry["version"] = {"instanceTemplate": member["template"]}
            if instance is not None:
                entry.update(instance=instance["selfLink"], id=instance["id"], instanceStatus=instance["status"])
                if checks:
                    state = self.health_of(instance, member)
                    entry["instanceHealth"] = [{"healthCheck": check, "detailedHealthState": state} for check in checks]
            entries.append(entry)
        return entries

    def health_of(self, instance: dict[str, Any], member: dict[str, Any]) -> str:
        if instance.get("status") != "RUNNING" or member["action"] != "NONE":
            return "UNHEALTHY"
        mark = self.state.table("health", "instances").get(instance["id"])
        if mark is None:
            mark = self.state.table("health", "templates").get(member["template"])
        return mark["state"] if mark else "HEALTHY"

    def group_health(self, group: dict[str, Any], service: dict[str, Any]) -> list[dict[str, Any]]:
        project, scope = self._where(group)
        manager = self.group_managers.table(project, scope).get(group["name"])
        if manager is None:
            return []
        self.observe(manager)
        port = service.get("port", 80)
        for named in manager.get("namedPorts") or []:
            if named["name"] == service.get("portName"):
                port = named["port"]
        statuses = []
        for name in sorted(self.members(manager)):
            member = self.members(manager)[name]
            instance = self.instance_of(manager, member)
            if instance is None:
                continue
            statuses.append(
                {
                    "instance": instance["selfLink"],
                    "ipAddress": instance["networkInterfaces"][0]["networkIP"],
                    "port": port,
                    "healthState": self.health_of(instance, member),
                }
            )
        return statuses

    # test-side helpers --------------------------------------------------------------------------

    def _manager(self, reference: str) -> dict[str, Any]:
        return self.emu.resolve(reference, self.emu.project, "instanceGroupManagers", "instanceGroupManager")

    def hold_members(self, manager: str) -> None:
        """Members of this MIG (a URL or path) stop advancing when the group is read, until released."""
        with self.emu.lock:
            self.state.table("holds", "")[self.emu.path_of(self._manager(manager))] = {}

    def release_members(self, manager: str) -> None:
        with self.emu.lock:
            self.state.table("holds", "").pop(self.emu.path_of(self._manager(manager)), None)

    def advance_members(self, manager: str, steps: int = 1) -> None:
        """Move the members of a MIG ``steps`` steps, as that many reads would (held or not)."""
        with self.emu.lock:
            resource = self._manager(manager)
            for _step in range(steps):
                self._step(resource)

    def settle_members(self) -> None:
        """Every member of every MIG to its end state now (test setup that does not exercise waits)."""
        with self.emu.lock:
            for manager in self.managers():
                while any(member["action"] != "NONE" for member in self.members(manager).values()):
                    self._step(manager)

    def members_of(self, manager: str) -> dict[str, dict[str, Any]]:
        """A copy of the members of a MIG by name: zone, template, currentAction, the instance's id."""
        with self.emu.lock:
            return _copy(self.members(self._manager(manager)))

    def set_instance_health(self, instance: str, state: str | None) -> None:
        """What getHealth and listManagedInstances say of one instance (a URL or path); None clears the mark.

        The mark belongs to the instance's id: a member recreated under the same name starts healthy.
        """
        if state is not None and state not in HEALTH_STATES:
            raise ValueError("state must be one of %s or None" % ", ".join(HEALTH_STATES))
        with self.emu.lock:
            resource = self.emu.resolve(instance, self.emu.project, "instances", "instance")
            marks = self.state.table("health", "instances")
            if state is None:
                marks.pop(resource["id"], None)
            else:
                marks[resource["id"]] = {"state": state}

    def set_template_health(self, template: str, state: str | None) -> None:
        """What getHealth says of every member made from ``template`` (a broken build); None clears it."""
        if state is not None and state not in HEALTH_STATES:
            raise ValueError("state must be one of %s or None" % ", ".join(HEALTH_STATES))
        with self.emu.lock:
            link = self.emu.resolve(template, self.emu.project, "instanceTemplates", "instanceTemplate")["selfLink"]
            marks = self.state.table("health", "templates")
            if state is None:
                marks.pop(link, None)
            else:
                marks[link] = {"state": state}

    def url_map_weights(self, url_map: str) -> dict[str, int]:
        """The URL map's default traffic split as {backend service name: weight}.

        A ``defaultService`` is all of the traffic: ``{name: 100}``; weighted backend services give their
        weights as written (the share of each is its weight over their sum).
        """
        with self.emu.lock:
            reference = url_map if "/" in url_map else "global/urlMaps/%s" % url_map
            resource = self.emu.resolve(reference, self.emu.project, "urlMaps", "urlMap")
            if resource.get("defaultService"):
                return {resource["defaultService"].rsplit("/", 1)[-1]: 100}
            weighted = (resource.get("defaultRouteAction") or {}).get("weightedBackendServices") or []
            return {entry["backendService"].rsplit("/", 1)[-1]: entry["weight"] for entry in weighted}


def _desc(name: str) -> tuple[int, ...]:
    """A sort key ordering names last first."""
    return tuple(-ord(character) for character in name) + (1,)
