# Private to this collection.
"""Managed instance groups and the instance templates they launch, behind the cloud-neutral GroupBackend.

Where the groups live: zonal MIGs in the connection's ``zone`` when it is set, else regional MIGs in its
``region`` (``rollout_store.group_scope``). The *base* is an instance template, global or regional, named by
its name (global first, then the connection's region) or by its path or selfLink. A *launch* is a template's
path (``projects/P/global/instanceTemplates/NAME``): templates are immutable, so a rollout's launch is a new
template copying the base with only the boot disk's ``sourceImage`` changed, named from the base and the
rollout's id (``<base>-r<digest>``) so that a retry finds the one made before.
"""

from __future__ import annotations

import contextlib

from .._core.backends import GroupBackend
from .._core.errors import InvalidInput, PhoenixError
from . import compute, fleet_api, traffic_api
from .codec import GCP_CODEC
from .errors import AlreadyExists, NotFound
from .fleet_transformations import (
    NAME_PATTERN,
    backend_ids_of,
    group_from_manager,
    has_members,
    image_reference,
    is_prepared_launch,
    launch_body,
    launch_name,
    manager_template,
    metadata_items,
    parse_template,
    record_item_key,
    record_of,
    scope_of,
    template_image,
    template_networks,
)
from .rollout_store import change_record_item, group_scope
from .transformations import api_path

# A MIG's baseInstanceName (its name here) leaves 5 characters of its 63 for the members' "-xxxx" suffix, and a
# service's groups are <service>-a / <service>-b.
MAX_GROUP_NAME = 58
COLOUR_SUFFIX = "-a"
MAX_SERVICE_NAME = MAX_GROUP_NAME - len(COLOUR_SUFFIX)


def check_service_name(service):
    service = service or ""
    if len(service) > MAX_SERVICE_NAME or not NAME_PATTERN.match(service + COLOUR_SUFFIX):
        raise InvalidInput(
            "service %r must be 1 to %d lower-case letters, digits or hyphens, starting with a letter"
            % (service, MAX_SERVICE_NAME),
            resource=service,
            hint="Its managed instance groups and backend services are named <service>-a / <service>-b, and a "
            "group's members <group>-xxxx within the 63 characters Compute allows.",
        )


class GcpGroupBackend(GroupBackend):
    cloud = "gcp"
    codec = GCP_CODEC

    def __init__(self, connection, scope=None, traffic=None, waiter=None):
        """``traffic``: a callable returning the TrafficBackend, to detach a group from its backends before
        Compute deletes it (Compute refuses to delete a group a backend service names)."""
        self.connection = connection
        self.project = connection.project
        self.region = connection.region
        self._scope = scope
        self.traffic = traffic
        self.waiter = waiter
        self._templates = {}  # templates are immutable: one read per task

    # -- groups --------------------------------------------------------------------------------------

    def _group(self, manager, items, services, with_members=True):
        members = []
        if with_members and has_members(manager):
            members = fleet_api.list_managed_instances(self.connection, self.project, self.scope, manager["name"])
        template = self._template(api_path(manager_template(manager))) if manager_template(manager) else None
        return group_from_manager(
            manager,
            members,
            backend_ids_of(manager, services),
            record_of(manager, items),
            subnets=template_networks(template),
        )

    def _context(self):
        """What every group's read needs besides the group: the records and the backend services."""
        items = metadata_items(fleet_api.get_project(self.connection, self.project))
        return items, traffic_api.list_backend_services(self.connection, self.project)

    def groups(self, with_members=True):
        managers = fleet_api.list_group_managers(self.connection, self.project, self.scope)
        if not managers:
            return []
        items, services = self._context()
        return [self._group(manager, items, services, with_members) for manager in managers]

    @property
    def scope(self):
        """Asked when a group is: a task that reads no group (an image prune without zone or region) needs none."""
        return group_scope(self.connection, self._scope)

    def _manager(self, name):
        try:
            return fleet_api.get_group_manager(self.connection, self.project, self.scope, name)
        except NotFound:
            return None

    def get(self, name, with_members=True):
        manager = self._manager(name)
        if manager is None:
            return None
        return self._group(manager, *self._context(), with_members=with_members)

    def check_service_name(self, service):
        check_service_name(service)

    # -- the base and its launches -------------------------------------------------------------------

    def _template(self, path, fresh=False):
        """The template at ``path``, or None when there is none."""
        if fresh or path not in self._templates:
            project, scope, name = parse_template(path)
            try:
                self._templates[path] = fleet_api.get_template(self.connection, project, scope, name)
            except NotFound:
                self._templates.pop(path, None)
                return None
        return self._templates[path]

    def _no_base(self, base):
        return InvalidInput(
            "instance template %r does not exist (global, or in region %s) in project %s"
            % (base, self.region, self.project),
            resource=base,
            hint="Give the name, path or selfLink of the instance template the service's groups launch from.",
        )

    def resolve_base(self, base):
        base = base or ""
        if "/" in base:
            if parse_template(base) is None:
                raise InvalidInput(
                    "%r is not an instance template (projects/P/global/instanceTemplates/NAME or "
                    "projects/P/regions/R/instanceTemplates/NAME)" % base,
                    resource=base,
                )
            candidates = [api_path(base)]
        elif NAME_PATTERN.match(base):
            candidates = [fleet_api.template_path(self.project, fleet_api.GLOBAL, base)]
            if self.region:
                candidates.append(fleet_api.template_path(self.project, fleet_api.regional_scope(self.region), base))
        else:
            raise self._no_base(base)
        for path in candidates:
            if self._template(path) is not None:
                return path
        raise self._no_base(base)

    def base_launch(self, base):
        return self.resolve_base(base)

    def image_of(self, group):
        if not group.launch or parse_template(group.launch) is None:
            return None
        template = self._template(group.launch)
        if not template:
            return None
        found = image_reference(template_image(template), self.project)
        if found is None:
            return None
        kind, value = found
        if kind == "family":
            # A family names whatever image is newest in it: what the group's next member would boot.
            return api_path(compute.get_image_from_family(self.connection, *value)["selfLink"])
        return value

    def _launch_path(self, base, rollout_id):
        base_path = self.resolve_base(base)
        _project, scope, base_name = parse_template(base_path)
        return base_path, fleet_api.template_path(self.project, scope, launch_name(base_name, base_path, rollout_id))

    def prepare_launch(self, base, image_id, rollout_id):
        base_path, path = self._launch_path(base, rollout_id)
        if self._template(path) is None:
            _project, scope, name = parse_template(path)
            body = launch_body(self._template(base_path), name, image_id, rollout_id)
            # AlreadyExists: made by an earlier run of this rollout (or an attempt whose answer was lost).
            with contextlib.suppress(AlreadyExists):
                fleet_api.insert_template(self.connection, self.project, scope, body, self.waiter)
        return path

    def prepared_launches(self, base, rollout_id):
        _base_path, path = self._launch_path(base, rollout_id)
        # Read afresh: what an earlier run made for this rollout must be found to be discarded.
        return [path] if self._template(path, fresh=True) is not None else []

    def discard_launch(self, launch):
        found = parse_template(launch)
        if found is None:
            return
        template = self._template(launch, fresh=True)
        if template is None or not is_prepared_launch(template):
            return  # gone already, or the base (or a template of someone else): left alone
        project, scope, name = found
        with contextlib.suppress(NotFound):
            fleet_api.delete_template(self.connection, project, scope, name, self.waiter)
        self._templates.pop(launch, None)

    # -- the group -----------------------------------------------------------------------------------

    def launch(self, name, launch, size):
        # The template first: members the resize adds are made from it.
        fleet_api.set_instance_template(
            self.connection, self.project, self.scope, name, self.connection.url(launch), self.waiter
        )
        self.resize(name, size)

    def resize(self, name, size):
        fleet_api.resize_group_manager(self.connection, self.project, self.scope, name, size, self.waiter)

    def delete(self, name):
        """Detach the group from its backend services, delete it and wait until Compute has: its operation is
        DONE once the MIG and its instances are gone, so its template is free to delete next. Then its record."""
        manager = self._manager(name)
        if manager is not None:
            backends = backend_ids_of(manager, traffic_api.list_backend_services(self.connection, self.project))
            if backends:
                if self.traffic is None:
                    raise PhoenixError(
                        "cannot delete group %s: backend services %s still send it traffic"
                        % (name, ", ".join(backends)),
                        resource=name,
                        cloud="gcp",
                        hint="Remove the group from those backend services first.",
                    )
                traffic = self.traffic()
                for backend in backends:
                    traffic.detach(name, backend)
            with contextlib.suppress(NotFound):
                fleet_api.delete_group_manager(self.connection, self.project, self.scope, name, self.waiter)
        scope = scope_of(manager) if manager is not None else self.scope
        change_record_item(self.connection, self.project, record_item_key(scope, name), lambda items: None, self.waiter)

    def api_calls(self):
        return self.connection.api_calls()
