# Private to this collection.
"""A URL map's weighted backend services behind the cloud-neutral TrafficBackend.

The *frontend* is a global URL map, named by its name (in the connection's project) or its path; a *backend* is
a global backend service, and its id is the backend service's ``selfLink`` as Compute writes it: what a URL map's
``defaultRouteAction.weightedBackendServices`` names, and what the group backend reports a MIG's backends by
(``fleet_transformations.backend_ids_of``). The methods also take the path under the Compute API root
(``projects/P/global/backendServices/NAME``) or a bare name (in the connection's project); comparisons are by path,
so the host of a URL never matters.

The split is WEIGHTED: the URL map's default route sends by ``weightedBackendServices`` (weights written as the
core's percentages; a ``defaultService`` is 100 % of it). Host rules and path matchers are left as they are.
Every change of the map is sent with the fingerprint it was read with: on a 412 the map is read again, and the
change is redone only when another writer changed something else; a default route that another writer changed
is refused, never overwritten.

A group is attached by adding its managed instance group's instance group (``instanceGroupManagers.get`` names
it) to the backend service's ``backends``, with the service's fingerprint. The MIG is looked for in the
connection's zone, then in its region. Backend services carry no labels: the labels the core gives a new one
(the service it belongs to) are the JSON of its description, which also tells a backend service made by an
earlier run (a lost answer) from one of the same name made by someone else.
"""

from __future__ import annotations

import json
import re

from .._core.backends import WEIGHTED, TrafficBackend
from .._core.errors import InvalidInput, PhoenixError
from .._core.fleet import Backend
from . import fleet_api
from . import traffic_api as api
from .codec import GCP_CODEC
from .errors import NotFound, PreconditionFailed
from .identifiers import instance_id, parse_instance_id
from .transformations import api_path

# What a backend service made next to another copies of it (backends, name, description and ids are its own).
BACKEND_SETTINGS = (
    "protocol",
    "port",
    "portName",
    "timeoutSec",
    "healthChecks",
    "loadBalancingScheme",
    "sessionAffinity",
    "affinityCookieTtlSec",
    "connectionDraining",
    "enableCDN",
    "localityLbPolicy",
    "logConfig",
    "customRequestHeaders",
    "customResponseHeaders",
    "network",
)
# What a group's entry in a backend service copies from the entries there (never capacityScaler: a drained
# backend's 0 would drain the new group too).
BALANCING_SETTINGS = ("balancingMode", "maxUtilization", "maxRatePerInstance", "maxConnectionsPerInstance")
# getHealth's healthState in the core's words (health.HEALTHY_TARGET is "healthy"). UNKNOWN: the health checks
# have not judged the instance yet; TIMEOUT: its check did not answer in time, which is a failed check.
HEALTH_STATES = {
    "HEALTHY": "healthy",
    "UNHEALTHY": "unhealthy",
    "TIMEOUT": "unhealthy",
    "DRAINING": "draining",
    "UNKNOWN": "initial",
}
ALREADY_EXISTS_CODES = frozenset(("alreadyExists", "RESOURCE_ALREADY_EXISTS"))
IN_USE_CODES = frozenset(("resourceInUseByAnotherResource", "RESOURCE_IN_USE_BY_ANOTHER_RESOURCE"))
# How often a change is redone after a 412 when another writer changed something else of the resource.
CHANGE_ATTEMPTS = 5
# Google's weights are 0 to 1000 per backend service.
MAX_WEIGHT = 1000
NAME = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?\Z")
_GLOBAL_REFERENCE = r"projects/(?P<project>[a-z0-9.:-]+)/global/%s/(?P<name>[a-z]([-a-z0-9]{0,61}[a-z0-9])?)\Z"
URL_MAP_REFERENCE = re.compile(_GLOBAL_REFERENCE % "urlMaps")
BACKEND_SERVICE_REFERENCE = re.compile(_GLOBAL_REFERENCE % "backendServices")


def backend_from_gce(service):
    """fleet.Backend of a backend service: its selfLink as the id, the settings a backend made like it copies."""
    return Backend(
        id=service["selfLink"],
        name=service["name"],
        settings={key: service[key] for key in BACKEND_SETTINGS if key in service},
    )


def default_split(url_map):
    """{backend service URL: weight as written} of the URL map's default route ({} for a redirect)."""
    if url_map.get("defaultService"):
        return {url_map["defaultService"]: 100}
    weighted = (url_map.get("defaultRouteAction") or {}).get("weightedBackendServices") or []
    return {entry["backendService"]: int(entry.get("weight") or 0) for entry in weighted}


def _by_path(split):
    return {api_path(backend): weight for backend, weight in split.items()}


def percentages(weights):
    """Weights as percentages of their sum (Google's weights need not add up to 100)."""
    total = sum(weights.values())
    if total in (0, 100):
        return dict(weights)
    return {backend: int(round(weight * 100.0 / total)) for backend, weight in weights.items()}


def ownership(description):
    """The labels a description written by create_backend_like holds, or None for any other description."""
    try:
        labels = json.loads(description or "")
    except ValueError:
        return None
    return labels if isinstance(labels, dict) else None


class GcpTrafficBackend(TrafficBackend):
    cloud = "gcp"
    split = WEIGHTED
    codec = GCP_CODEC

    def __init__(self, connection, waiter=None):
        self.connection = connection
        self.project = connection.project
        self.waiter = waiter
        self._read = {}  # (project, URL map name): the map as this task last read it
        self._groups = {}  # MIG name: the path of its instance group

    # -- references ------------------------------------------------------------------------------

    def _reference(self, reference, pattern, what, option):
        path = api_path(reference) or ""
        match = pattern.match(path)
        if match:
            return match.group("project"), match.group("name")
        if NAME.match(path):
            return self.project, path
        raise InvalidInput(
            "%s %r is not the name or path of a %s" % (option, reference, what),
            resource=str(reference),
            hint="Give the name (in project %s) or projects/PROJECT/global/%s/NAME."
            % (self.project, "urlMaps" if what == "URL map" else "backendServices"),
        )

    def _url_map(self, frontend):
        return self._reference(frontend, URL_MAP_REFERENCE, "URL map", "frontend")

    def _service(self, backend_id):
        return self._reference(backend_id, BACKEND_SERVICE_REFERENCE, "backend service", "backend")

    # -- the split -------------------------------------------------------------------------------

    def shares(self, frontend):
        project, name = self._url_map(frontend)
        url_map = api.get_url_map(self.connection, project, name)
        self._read[(project, name)] = url_map
        return percentages(default_split(url_map))

    def set_shares(self, frontend, shares):
        project, name = self._url_map(frontend)
        wanted = {}
        for backend_id, weight in shares.items():
            if not isinstance(weight, int) or not 0 <= weight <= MAX_WEIGHT:
                raise InvalidInput(
                    "the weight of %s must be a whole number from 0 to %d, not %r" % (backend_id, MAX_WEIGHT, weight),
                    resource=backend_id,
                )
            if weight:
                # A backend service left in the map at weight 0 would still be in use by it (not deletable).
                wanted[api.backend_service_path(*self._service(backend_id))] = weight
        if not wanted:
            raise InvalidInput("a traffic split needs one backend with a weight above 0: %r" % (shares,), resource=name)
        # The map as this task read it (the core reads the shares before it changes them), or read now; after the
        # change it is read again next time, since its fingerprint changed.
        url_map = self._read.pop((project, name), None) or api.get_url_map(self.connection, project, name)
        based_on = _by_path(default_split(url_map))
        for _attempt in range(CHANGE_ATTEMPTS):
            if _by_path(default_split(url_map)) == wanted:
                return
            try:
                api.update_url_map(self.connection, project, name, self._with_split(url_map, wanted), self.waiter)
                return
            except PreconditionFailed:
                url_map = api.get_url_map(self.connection, project, name)
            found = _by_path(default_split(url_map))
            if found not in (based_on, wanted):
                raise PhoenixError(
                    "URL map %s changed while this task was setting its traffic split: its default route now sends "
                    "%s, where this task read %s; nothing was overwritten"
                    % (api.url_map_path(project, name), _shown(found), _shown(based_on)),
                    resource=api.url_map_path(project, name),
                    code="ConcurrentChange",
                    cloud="gcp",
                    hint="Another writer changes this URL map's default route: let it finish (or stop it), then run "
                    "the task again.",
                )
        raise PhoenixError(
            "URL map %s kept changing while this task set its traffic split (%d attempts); nothing was overwritten"
            % (api.url_map_path(project, name), CHANGE_ATTEMPTS),
            resource=api.url_map_path(project, name),
            code="ConcurrentChange",
            cloud="gcp",
            hint="Another writer keeps changing this URL map; run the task again once it has finished.",
        )

    def _with_split(self, url_map, wanted):
        """The whole map as read, its default route sending by ``wanted`` (the rest of the route kept)."""
        body = json.loads(json.dumps(url_map))
        body.pop("defaultService", None)
        body.pop("defaultUrlRedirect", None)
        route = dict(body.get("defaultRouteAction") or {})
        before = {api_path(entry["backendService"]): entry for entry in route.get("weightedBackendServices") or []}
        route["weightedBackendServices"] = [
            dict(before.get(path) or {}, backendService=self.connection.url(path), weight=weight)
            for path, weight in sorted(wanted.items())
        ]
        body["defaultRouteAction"] = route
        return body

    # -- backend services ------------------------------------------------------------------------

    def backend(self, backend_id):
        project, name = self._service(backend_id)
        try:
            return backend_from_gce(api.get_backend_service(self.connection, project, name))
        except NotFound:
            return None

    def find_backend(self, name):
        if not NAME.match(name or ""):
            return None  # no backend service can have this name
        return self.backend(name)

    def create_backend_like(self, name, model, labels):
        if not NAME.match(name or ""):
            raise InvalidInput(
                "backend service name %r is not 1 to 63 lower-case letters, digits or -, starting with a letter" % name,
                resource=name,
                hint="Nothing was changed; use a shorter service name.",
            )
        owner = {self.codec.key(key): value for key, value in sorted(labels.items())}
        body = {key: value for key, value in model.settings.items() if key in BACKEND_SETTINGS}
        body.update(name=name, description=json.dumps(owner, sort_keys=True))
        try:
            api.insert_backend_service(self.connection, self.project, body, self.waiter)
        except PhoenixError as error:
            if error.code not in ALREADY_EXISTS_CODES:
                raise
            # Made by an earlier try whose answer was lost (or a run killed before its lock): ours if it carries
            # these labels; one of this name made by someone else is refused, never taken over.
            existing = api.get_backend_service(self.connection, self.project, name)
            if ownership(existing.get("description")) != owner:
                raise PhoenixError(
                    "cannot create backend service %s: one of that name exists and was not made for this service "
                    "(its description is %r)"
                    % (api.backend_service_path(self.project, name), existing.get("description")),
                    resource=api.backend_service_path(self.project, name),
                    code=error.code,
                    cloud="gcp",
                    hint="Rename or delete that backend service, or give the service another name.",
                ) from None
            return backend_from_gce(existing)
        return backend_from_gce(api.get_backend_service(self.connection, self.project, name))

    def delete_backend(self, backend_id):
        project, name = self._service(backend_id)
        try:
            api.delete_backend_service(self.connection, project, name, self.waiter)
        except NotFound:
            return
        except PhoenixError as error:
            if error.code not in IN_USE_CODES:
                raise
            raise PhoenixError(
                "backend service %s was not deleted: it is still in use (%s)"
                % (api.backend_service_path(project, name), error.message),
                resource=api.backend_service_path(project, name),
                code=error.code,
                cloud="gcp",
                hint="A URL map still sends to it: change the URL map's routes first.",
            ) from None

    # -- groups ----------------------------------------------------------------------------------

    def _scopes(self):
        zone, region = self.connection.zone, self.connection.region
        return (["zones/%s" % zone] if zone else []) + (["regions/%s" % region] if region else [])

    def _instance_group(self, group):
        """The path of the instance group of the MIG ``group`` (in the connection's zone, else its region)."""
        if group not in self._groups:
            for scope in self._scopes():
                try:
                    manager = fleet_api.get_group_manager(self.connection, self.project, scope, group)
                except NotFound:
                    continue
                self._groups[group] = api_path(manager["instanceGroup"])
                break
            else:
                raise PhoenixError(
                    "no managed instance group %s in %s"
                    % (group, " or ".join(self._scopes()) or "(no zone or region)"),
                    resource=group,
                    code="notFound",
                    cloud="gcp",
                    hint="Check the zone and region options: the group is looked for there.",
                )
        return self._groups[group]

    def attach(self, group, backend_id):
        link = self._instance_group(group)
        self._change_backends(backend_id, {link}, attach=True)

    def detach(self, group, backend_id):
        # No read of the MIG: its instance group has its name and scope, and it may be gone already.
        links = {self._groups[group]} if group in self._groups else set()
        links.update("projects/%s/%s/instanceGroups/%s" % (self.project, scope, group) for scope in self._scopes())
        self._change_backends(backend_id, links, attach=False)

    def _change_backends(self, backend_id, links, attach):
        project, name = self._service(backend_id)
        for attempt in range(CHANGE_ATTEMPTS):
            try:
                service = api.get_backend_service(self.connection, project, name)
            except NotFound:
                if attach:
                    raise
                return
            backends = service.get("backends") or []
            present = [backend for backend in backends if api_path(backend.get("group")) in links]
            if bool(present) == attach:
                return
            if attach:
                changed = backends + [_entry_like(self.connection.url(sorted(links)[0]), backends)]
            else:
                changed = [backend for backend in backends if backend not in present]
            try:
                api.patch_backend_service(
                    self.connection,
                    project,
                    name,
                    {"backends": changed, "fingerprint": service.get("fingerprint")},
                    self.waiter,
                )
                return
            except PreconditionFailed:
                # Another writer changed the backend service: its change is read and this one redone on it.
                if attempt == CHANGE_ATTEMPTS - 1:
                    raise

    def backend_health(self, backend_id):
        project, name = self._service(backend_id)
        try:
            service = api.get_backend_service(self.connection, project, name)
        except NotFound:
            return {}
        states = {}
        for backend in service.get("backends") or []:
            answer = api.get_backend_health(self.connection, project, name, backend["group"])
            for status in answer.get("healthStatus") or []:
                try:
                    parts = parse_instance_id(status.get("instance") or "")
                except ValueError:
                    continue  # a network endpoint, not an instance
                state = status.get("healthState") or "UNKNOWN"
                states[instance_id(*parts)] = HEALTH_STATES.get(state, state.lower())
        return states

    def api_calls(self):
        return self.connection.api_calls()


def _entry_like(group_url, backends):
    """A group's entry in a backend service, balanced as the entries there are (Google's defaults if none)."""
    entry = {key: backends[0][key] for key in BALANCING_SETTINGS if backends and key in backends[0]}
    entry["group"] = group_url
    return entry


def _shown(split):
    return ", ".join("%s %s" % (path.rsplit("/", 1)[-1], weight) for path, weight in sorted(split.items())) or "nothing"
