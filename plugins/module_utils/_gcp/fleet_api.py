# Private to this collection.
"""One small function per Compute Engine v1 call of the fleet: managed instance groups and instance templates.

A managed instance group (MIG) lives in a *scope*: ``zones/Z`` (a zonal MIG, ``instanceGroupManagers``) or
``regions/R`` (a regional MIG, ``regionInstanceGroupManagers``); an instance template in ``global`` or in
``regions/R`` (``regionInstanceTemplates``). Every function takes the scope as Compute's paths write it, so
one function serves both forms of its collection.

Each sends its request through ``connection.request`` (retried, errors translated, counted). A mutation
waits for its Operation through ``operations.wait_for`` (the one waiter) and returns the DONE operation; a
disabled ``waiter`` returns it unfinished. Nothing here interprets results beyond unwrapping pages.
"""

from __future__ import annotations

from .operations import wait_for
from .pagination import aggregated_all, filter_params, list_all

GLOBAL = "global"


def is_regional(scope):
    return scope.startswith("regions/")


def zonal_scope(zone):
    return "zones/%s" % zone


def regional_scope(region):
    return "regions/%s" % region


# -- managed instance groups ---------------------------------------------------------------------


def _manager_collection(scope):
    return "regionInstanceGroupManagers" if is_regional(scope) else "instanceGroupManagers"


def manager_path(project, scope, name):
    """``projects/P/zones/Z/instanceGroupManagers/NAME`` (or ``regions/R/...``): how a MIG is named."""
    return "projects/%s/%s/instanceGroupManagers/%s" % (project, scope, name)


def _manager_call(scope, method):
    return "compute.%s.%s" % (_manager_collection(scope), method)


def get_group_manager(connection, project, scope, name):
    path = manager_path(project, scope, name)
    return connection.request("GET", path, _manager_call(scope, "get"), resource=path)


def list_group_managers(connection, project, scope, filter_expression=None, page_size=None):
    kwargs = {"page_size": page_size} if page_size else {}
    path = "projects/%s/%s/instanceGroupManagers" % (project, scope)
    return list_all(connection, path, _manager_call(scope, "list"), filter_params(filter_expression), path, **kwargs)


def aggregated_group_managers(connection, project, filter_expression=None, page_size=None):
    """Every MIG of the project as ``(scope, manager)``, ``scope`` being ``zones/Z`` or ``regions/R``."""
    kwargs = {"page_size": page_size} if page_size else {}
    path = "projects/%s/aggregated/instanceGroupManagers" % project
    return aggregated_all(
        connection,
        path,
        "compute.instanceGroupManagers.aggregatedList",
        "instanceGroupManagers",
        filter_params(filter_expression),
        path,
        **kwargs,
    )


def insert_group_manager(connection, project, scope, body, waiter=None):
    """Make a MIG (``body``: name, instanceTemplate, targetSize, baseInstanceName, ...); 409 when it exists."""
    operation = connection.request(
        "POST",
        "projects/%s/%s/instanceGroupManagers" % (project, scope),
        _manager_call(scope, "insert"),
        resource=manager_path(project, scope, body.get("name")),
        body=body,
        mutation=True,
    )
    return wait_for(connection, operation, waiter)


def delete_group_manager(connection, project, scope, name, waiter=None):
    """Delete the MIG and its instances."""
    path = manager_path(project, scope, name)
    operation = connection.request("DELETE", path, _manager_call(scope, "delete"), resource=path, mutation=True)
    return wait_for(connection, operation, waiter)


def resize_group_manager(connection, project, scope, name, size, waiter=None):
    path = manager_path(project, scope, name)
    operation = connection.request(
        "POST", path + "/resize", _manager_call(scope, "resize"), resource=path, params={"size": size}, mutation=True
    )
    return wait_for(connection, operation, waiter)


def set_instance_template(connection, project, scope, name, template, waiter=None):
    """Make the MIG launch from ``template`` (a selfLink or path); members already running keep theirs."""
    path = manager_path(project, scope, name)
    operation = connection.request(
        "POST",
        path + "/setInstanceTemplate",
        _manager_call(scope, "setInstanceTemplate"),
        resource=path,
        body={"instanceTemplate": template},
        mutation=True,
    )
    return wait_for(connection, operation, waiter)


def recreate_instances(connection, project, scope, name, instances, waiter=None):
    """Replace members (their URLs or ``projects/P/zones/Z/instances/N`` paths) from the current template."""
    path = manager_path(project, scope, name)
    operation = connection.request(
        "POST",
        path + "/recreateInstances",
        _manager_call(scope, "recreateInstances"),
        resource=path,
        body={"instances": list(instances)},
        mutation=True,
    )
    return wait_for(connection, operation, waiter)


def list_managed_instances(connection, project, scope, name, filter_expression=None, page_size=None):
    """Every member of the MIG (``managedInstances``: instance URL, instanceStatus, currentAction ...).

    A MIG lists PAGELESS by default (everything in one answer); a PAGINATED one is read page by page.
    """
    path = manager_path(project, scope, name)
    query = dict(filter_params(filter_expression) or {})
    if page_size:
        query["maxResults"] = page_size
    members = []
    while True:
        page = connection.request(
            "POST",
            path + "/listManagedInstances",
            _manager_call(scope, "listManagedInstances"),
            resource=path,
            params=query or None,
        )
        members.extend(page.get("managedInstances") or [])
        token = page.get("nextPageToken")
        if not token:
            return members
        query["pageToken"] = token


def patch_group_manager(connection, project, scope, name, changes, fingerprint, waiter=None):
    """Apply a merge patch to the MIG; ``fingerprint`` is the one read with it (412 when stale)."""
    path = manager_path(project, scope, name)
    operation = connection.request(
        "PATCH",
        path,
        _manager_call(scope, "patch"),
        resource=path,
        body=dict(changes, fingerprint=fingerprint),
        mutation=True,
    )
    return wait_for(connection, operation, waiter)


# -- instance templates, global and regional (immutable: a change is a new template) ----------------


def _template_collection(scope):
    return "regionInstanceTemplates" if is_regional(scope) else "instanceTemplates"


def template_path(project, scope, name):
    """``projects/P/global/instanceTemplates/NAME`` or ``projects/P/regions/R/instanceTemplates/NAME``."""
    return "projects/%s/%s/instanceTemplates/%s" % (project, scope, name)


def _template_call(scope, method):
    return "compute.%s.%s" % (_template_collection(scope), method)


def get_template(connection, project, scope, name):
    path = template_path(project, scope, name)
    return connection.request("GET", path, _template_call(scope, "get"), resource=path)


def list_templates(connection, project, scope, filter_expression=None, page_size=None):
    kwargs = {"page_size": page_size} if page_size else {}
    path = "projects/%s/%s/instanceTemplates" % (project, scope)
    return list_all(connection, path, _template_call(scope, "list"), filter_params(filter_expression), path, **kwargs)


def insert_template(connection, project, scope, body, waiter=None):
    """Make a template (``body``: name, properties, description); a regional one in the scope's region."""
    operation = connection.request(
        "POST",
        "projects/%s/%s/instanceTemplates" % (project, scope),
        _template_call(scope, "insert"),
        resource=template_path(project, scope, body.get("name")),
        body=body,
        mutation=True,
    )
    return wait_for(connection, operation, waiter)


def delete_template(connection, project, scope, name, waiter=None):
    """Delete a template; Compute refuses one a MIG uses (400 resourceInUseByAnotherResource)."""
    path = template_path(project, scope, name)
    operation = connection.request("DELETE", path, _template_call(scope, "delete"), resource=path, mutation=True)
    return wait_for(connection, operation, waiter)


# -- the project's common instance metadata -------------------------------------------------------


def get_project(connection, project):
    path = "projects/%s" % project
    return connection.request("GET", path, "compute.projects.get", resource=path)


def set_common_instance_metadata(connection, project, items, fingerprint, waiter=None):
    """Replace the project's metadata ``items`` ([{key, value}]); ``fingerprint`` as read (412 when stale)."""
    path = "projects/%s" % project
    operation = connection.request(
        "POST",
        path + "/setCommonInstanceMetadata",
        "compute.projects.setCommonInstanceMetadata",
        resource=path,
        body={"items": list(items), "fingerprint": fingerprint},
        mutation=True,
    )
    return wait_for(connection, operation, waiter)
