# Private to this collection.
"""One small function per Compute Engine v1 call of the load balancer: backend services, URL maps, health checks.

Backend services and URL maps of a global external Application Load Balancer (``global/backendServices``,
``global/urlMaps``), the global health checks they name, and the one read of a managed instance group the
traffic backend needs (its ``instanceGroup``). Each call goes through ``connection.request`` (retried, errors
translated, counted). A mutation waits for its Operation through ``operations.wait_for`` and returns the DONE
Operation, so the change is visible to the next read; a patch or update carries the fingerprint read with the
resource (412 ``PreconditionFailed`` when it is stale).
"""

from __future__ import annotations

from .operations import wait_for
from .pagination import filter_params, list_all


def backend_service_path(project, name):
    return "projects/%s/global/backendServices/%s" % (project, name)


def url_map_path(project, name):
    return "projects/%s/global/urlMaps/%s" % (project, name)


def health_check_path(project, name):
    return "projects/%s/global/healthChecks/%s" % (project, name)


# -- backend services ----------------------------------------------------------------------------


def get_backend_service(connection, project, name):
    path = backend_service_path(project, name)
    return connection.request("GET", path, "compute.backendServices.get", resource=path)


def list_backend_services(connection, project, filter_expression=None):
    path = "projects/%s/global/backendServices" % project
    return list_all(connection, path, "compute.backendServices.list", filter_params(filter_expression), path)


def insert_backend_service(connection, project, body, waiter=None):
    """Make a backend service (``body``: name, protocol, port name, health checks ...) and wait until it exists."""
    operation = connection.request(
        "POST",
        "projects/%s/global/backendServices" % project,
        "compute.backendServices.insert",
        resource=backend_service_path(project, body.get("name")),
        body=body,
        mutation=True,
    )
    return wait_for(connection, operation, waiter)


def delete_backend_service(connection, project, name, waiter=None):
    path = backend_service_path(project, name)
    operation = connection.request("DELETE", path, "compute.backendServices.delete", resource=path, mutation=True)
    return wait_for(connection, operation, waiter)


def patch_backend_service(connection, project, name, body, waiter=None):
    """Merge ``body`` into the backend service; ``body["fingerprint"]`` is the one read with it."""
    path = backend_service_path(project, name)
    operation = connection.request(
        "PATCH", path, "compute.backendServices.patch", resource=path, body=body, mutation=True
    )
    return wait_for(connection, operation, waiter)


def get_backend_health(connection, project, name, group):
    """What the load balancer's health checks see of the instances of ``group`` (an instance group's URL)."""
    path = backend_service_path(project, name)
    return connection.request(
        "POST", path + "/getHealth", "compute.backendServices.getHealth", resource=path, body={"group": group}
    )


# -- URL maps --------------------------------------------------------------------------------------


def get_url_map(connection, project, name):
    path = url_map_path(project, name)
    return connection.request("GET", path, "compute.urlMaps.get", resource=path)


def update_url_map(connection, project, name, body, waiter=None):
    """Replace the URL map with ``body`` (the whole map as read, changed); ``body["fingerprint"]`` as read."""
    path = url_map_path(project, name)
    operation = connection.request("PUT", path, "compute.urlMaps.update", resource=path, body=body, mutation=True)
    return wait_for(connection, operation, waiter)


# -- health checks and groups ---------------------------------------------------------------------


def get_health_check(connection, project, name):
    path = health_check_path(project, name)
    return connection.request("GET", path, "compute.healthChecks.get", resource=path)
