# Private to this collection.
"""One small function per Compute Engine v1 call, on a GcpConnection.

Images, instances, instance templates, firewall rules, networks and subnetworks, the project's metadata and
disks so far.

Each sends one request through ``connection.request`` (retried, errors translated, counted): a 404 is a
``NotFound``, a stale fingerprint a ``PreconditionFailed``. Mutations return the Operation unwaited;
``operations.wait_for`` waits for it. Nothing here interprets results beyond unwrapping pages.
"""

from __future__ import annotations

from .errors import PreconditionFailed
from .operations import operations_collection, wait_for
from .pagination import aggregated_all, filter_params, list_all

# How often a label change is re-read and redone when another writer changed the labels meanwhile.
LABEL_ATTEMPTS = 5


def _image_path(project, name):
    return "projects/%s/global/images/%s" % (project, name)


def _instance_path(project, zone, name):
    return "projects/%s/zones/%s/instances/%s" % (project, zone, name)


# -- images --------------------------------------------------------------------------------------


def get_image(connection, project, name):
    path = _image_path(project, name)
    return connection.request("GET", path, "compute.images.get", resource=path)


def get_image_from_family(connection, project, family):
    """The newest READY, non-deprecated image of ``family``."""
    path = "projects/%s/global/images/family/%s" % (project, family)
    return connection.request("GET", path, "compute.images.getFromFamily", resource=path)


def list_images(connection, project, filter_expression=None, page_size=None):
    kwargs = {"page_size": page_size} if page_size else {}
    path = "projects/%s/global/images" % project
    return list_all(connection, path, "compute.images.list", filter_params(filter_expression), path, **kwargs)


def insert_image(connection, project, body, force_create=False):
    """Start making an image (``body``: name, sourceDisk or sourceImage, family, labels ...)."""
    return connection.request(
        "POST",
        "projects/%s/global/images" % project,
        "compute.images.insert",
        resource=_image_path(project, body.get("name")),
        params={"forceCreate": "true"} if force_create else None,
        body=body,
        mutation=True,
    )


def delete_image(connection, project, name):
    path = _image_path(project, name)
    return connection.request("DELETE", path, "compute.images.delete", resource=path, mutation=True)


def deprecate_image(connection, project, name, state, replacement=None, deprecated=None, obsolete=None, deleted=None):
    """Set the image's deprecation status (ACTIVE clears it); times are RFC 3339 strings."""
    body = {"state": state}
    for key, value in (("replacement", replacement), ("deprecated", deprecated), ("obsolete", obsolete)):
        if value:
            body[key] = value
    if deleted:
        body["deleted"] = deleted
    path = _image_path(project, name)
    return connection.request(
        "POST", path + "/deprecate", "compute.images.deprecate", resource=path, body=body, mutation=True
    )


def set_image_labels(connection, project, name, labels, fingerprint):
    """Replace the image's labels; ``fingerprint`` is the labelFingerprint read with them (412 when stale)."""
    path = _image_path(project, name)
    return connection.request(
        "POST",
        path + "/setLabels",
        "compute.images.setLabels",
        resource=path,
        body={"labels": dict(labels), "labelFingerprint": fingerprint},
        mutation=True,
    )


def change_image_labels(connection, project, name, to_set, to_remove, waiter=None, attempts=LABEL_ATTEMPTS):
    """Apply a label change to what the image holds now: read, change, write with the fingerprint read.

    A 412 means another writer changed the labels in between: the image is read again and the change
    redone on its labels (never written over them blindly), up to ``attempts`` times. Returns the image's
    labels as written, or None when nothing had to change.
    """
    for attempt in range(attempts):
        image = get_image(connection, project, name)
        current = dict(image.get("labels") or {})
        wanted = {key: value for key, value in current.items() if key not in set(to_remove)}
        wanted.update(to_set)
        if wanted == current:
            return None
        try:
            operation = set_image_labels(connection, project, name, wanted, image.get("labelFingerprint"))
        except PreconditionFailed:
            if attempt == attempts - 1:
                raise
            continue
        wait_for(connection, operation, waiter)
        return wanted
    return None


# -- instances -----------------------------------------------------------------------------------


def get_instance(connection, project, zone, name):
    path = _instance_path(project, zone, name)
    return connection.request("GET", path, "compute.instances.get", resource=path)


def list_instances(connection, project, zone, filter_expression=None, page_size=None):
    kwargs = {"page_size": page_size} if page_size else {}
    path = "projects/%s/zones/%s/instances" % (project, zone)
    return list_all(connection, path, "compute.instances.list", filter_params(filter_expression), path, **kwargs)


def aggregated_instances(connection, project, filter_expression=None, page_size=None):
    """Every instance of the project, any zone, as ``(zone, instance)``."""
    kwargs = {"page_size": page_size} if page_size else {}
    path = "projects/%s/aggregated/instances" % project
    found = aggregated_all(
        connection,
        path,
        "compute.instances.aggregatedList",
        "instances",
        filter_params(filter_expression),
        path,
        **kwargs,
    )
    return [(scope.split("/", 1)[-1], instance) for scope, instance in found]


def insert_instance(connection, project, zone, body):
    return connection.request(
        "POST",
        "projects/%s/zones/%s/instances" % (project, zone),
        "compute.instances.insert",
        resource=_instance_path(project, zone, body.get("name")),
        body=body,
        mutation=True,
    )


def delete_instance(connection, project, zone, name):
    path = _instance_path(project, zone, name)
    return connection.request("DELETE", path, "compute.instances.delete", resource=path, mutation=True)


def set_instance_metadata(connection, project, zone, name, items, fingerprint):
    """Replace the instance's metadata ``items``; ``fingerprint`` is its ``metadata.fingerprint`` (412 when stale)."""
    path = _instance_path(project, zone, name)
    return connection.request(
        "POST",
        path + "/setMetadata",
        "compute.instances.setMetadata",
        resource=path,
        body={"items": list(items), "fingerprint": fingerprint},
        mutation=True,
    )


def stop_instance(connection, project, zone, name):
    path = _instance_path(project, zone, name)
    return connection.request("POST", path + "/stop", "compute.instances.stop", resource=path, mutation=True)


def start_instance(connection, project, zone, name):
    path = _instance_path(project, zone, name)
    return connection.request("POST", path + "/start", "compute.instances.start", resource=path, mutation=True)


# -- firewall rules (they take no labels) -------------------------------------------------------


def _firewall_path(project, name):
    return "projects/%s/global/firewalls/%s" % (project, name)


def get_firewall(connection, project, name):
    path = _firewall_path(project, name)
    return connection.request("GET", path, "compute.firewalls.get", resource=path)


def list_firewalls(connection, project, filter_expression=None):
    path = "projects/%s/global/firewalls" % project
    return list_all(connection, path, "compute.firewalls.list", filter_params(filter_expression), path)


def insert_firewall(connection, project, body):
    return connection.request(
        "POST",
        "projects/%s/global/firewalls" % project,
        "compute.firewalls.insert",
        resource=_firewall_path(project, body.get("name")),
        body=body,
        mutation=True,
    )


def delete_firewall(connection, project, name):
    path = _firewall_path(project, name)
    return connection.request("DELETE", path, "compute.firewalls.delete", resource=path, mutation=True)


# -- networks and subnetworks --------------------------------------------------------------------


def get_network(connection, project, name):
    path = "projects/%s/global/networks/%s" % (project, name)
    return connection.request("GET", path, "compute.networks.get", resource=path)


def get_subnetwork(connection, project, region, name):
    path = "projects/%s/regions/%s/subnetworks/%s" % (project, region, name)
    return connection.request("GET", path, "compute.subnetworks.get", resource=path)


# -- disks ---------------------------------------------------------------------------------------


def get_disk(connection, project, zone, name):
    path = "projects/%s/zones/%s/disks/%s" % (project, zone, name)
    return connection.request("GET", path, "compute.disks.get", resource=path)


def boot_disk_source_image(connection, instance):
    """The image an instance was made from: its boot disk's ``sourceImage`` (an Instance has none), or None."""
    boot = next((disk for disk in instance.get("disks") or [] if disk.get("boot")), None)
    if boot is None or not boot.get("source"):
        return None
    disk = connection.request("GET", boot["source"], "compute.disks.get", resource=boot["source"])
    return disk.get("sourceImage")


# -- operations and disks read by the image backend ----------------------------------------------


def get_operation(connection, operation):
    """The Operation as it is now (one non-blocking read of its selfLink), for a caller whose own waiter polls."""
    kind = operations_collection(operation)
    return connection.request("GET", operation["selfLink"], "compute.%s.get" % kind, resource=operation.get("name"))


def aggregated_disks(connection, project, filter_expression=None, page_size=None):
    """Every disk of the project, any zone, as ``(zone, disk)``."""
    kwargs = {"page_size": page_size} if page_size else {}
    path = "projects/%s/aggregated/disks" % project
    found = aggregated_all(
        connection, path, "compute.disks.aggregatedList", "disks", filter_params(filter_expression), path, **kwargs
    )
    return [(scope.split("/", 1)[-1], disk) for scope, disk in found]
