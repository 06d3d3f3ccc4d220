# Private to this collection.
"""One small function per Azure Compute call the image backend makes, on an AzureConnection.

Each goes through ``connection.call`` (retried while transient, azure-core errors mapped to ``errors.py``:
a 404 is a ``NotFound``, an ``If-None-Match: *`` PUT of something that exists a ``PreconditionFailed``) or,
for a long-running operation the caller waits for here, ``connection.wait``. ``begin_*`` functions return
the SDK's poller unwaited: it polls in a thread of its own, and the caller reads the resource to follow it.
Lists are read whole (every ``nextLink`` page). Nothing here interprets results.
"""

from __future__ import annotations

from .connection import CREATE_ONLY

try:
    from azure.core.rest import HttpRequest
except ImportError:  # reported by the provider as a missing dependency
    HttpRequest = None

# ARM's subscriptions API (the locations a subscription may use), a version every cloud serves.
LOCATIONS_API_VERSION = "2022-12-01"


def _version_path(resource_group, gallery, definition, version=None):
    path = "%s/galleries/%s/images/%s" % (resource_group, gallery, definition)
    return path + "/versions/%s" % version if version else path


# -- galleries and image definitions -------------------------------------------------------------


def get_gallery(connection, resource_group, gallery):
    compute = connection.compute()
    return connection.call("Galleries_Get", compute.galleries.get, resource_group, gallery, resource=gallery)


def create_gallery(connection, resource_group, gallery, body):
    compute = connection.compute()
    return connection.wait(
        "Galleries_CreateOrUpdate",
        compute.galleries.begin_create_or_update,
        resource_group,
        gallery,
        body,
        resource=gallery,
    )


def list_definitions(connection, resource_group, gallery):
    compute = connection.compute()
    return connection.listed(
        "GalleryImages_ListByGallery", compute.gallery_images.list_by_gallery(resource_group, gallery), resource=gallery
    )


def get_definition(connection, resource_group, gallery, definition):
    compute = connection.compute()
    return connection.call(
        "GalleryImages_Get",
        compute.gallery_images.get,
        resource_group,
        gallery,
        definition,
        resource=_version_path(resource_group, gallery, definition),
    )


def create_definition(connection, resource_group, gallery, definition, body):
    compute = connection.compute()
    return connection.wait(
        "GalleryImages_CreateOrUpdate",
        compute.gallery_images.begin_create_or_update,
        resource_group,
        gallery,
        definition,
        body,
        resource=_version_path(resource_group, gallery, definition),
    )


# -- image versions ------------------------------------------------------------------------------


def list_versions(connection, resource_group, gallery, definition):
    compute = connection.compute()
    return connection.listed(
        "GalleryImageVersions_ListByGalleryImage",
        compute.gallery_image_versions.list_by_gallery_image(resource_group, gallery, definition),
        resource=_version_path(resource_group, gallery, definition),
    )


def get_version(connection, resource_group, gallery, definition, version):
    """The version with its per-region replication status."""
    compute = connection.compute()
    return connection.call(
        "GalleryImageVersions_Get",
        compute.gallery_image_versions.get,
        resource_group,
        gallery,
        definition,
        version,
        expand="ReplicationStatus",
        resource=_version_path(resource_group, gallery, definition, version),
    )


def begin_create_version(connection, resource_group, gallery, definition, version, body):
    """Start making a version that must not exist yet (``If-None-Match: *``): PreconditionFailed when it does."""
    compute = connection.compute()
    return connection.call(
        "GalleryImageVersions_CreateOrUpdate",
        compute.gallery_image_versions.begin_create_or_update,
        resource_group,
        gallery,
        definition,
        version,
        body,
        headers=dict(CREATE_ONLY),
        resource=_version_path(resource_group, gallery, definition, version),
    )


def begin_update_version(connection, resource_group, gallery, definition, version, body):
    """Start a PATCH of the version (``body``: a GalleryImageVersionUpdate, or its JSON for explicit nulls)."""
    compute = connection.compute()
    return connection.call(
        "GalleryImageVersions_Update",
        compute.gallery_image_versions.begin_update,
        resource_group,
        gallery,
        definition,
        version,
        body,
        resource=_version_path(resource_group, gallery, definition, version),
    )


def update_version(connection, resource_group, gallery, definition, version, body):
    compute = connection.compute()
    return connection.wait(
        "GalleryImageVersions_Update",
        compute.gallery_image_versions.begin_update,
        resource_group,
        gallery,
        definition,
        version,
        body,
        resource=_version_path(resource_group, gallery, definition, version),
    )


def delete_version(connection, resource_group, gallery, definition, version):
    compute = connection.compute()
    return connection.wait(
        "GalleryImageVersions_Delete",
        compute.gallery_image_versions.begin_delete,
        resource_group,
        gallery,
        definition,
        version,
        resource=_version_path(resource_group, gallery, definition, version),
    )


# -- virtual machines and scale sets -------------------------------------------------------------


def get_vm(connection, resource_group, name):
    """The VM with its instance view (power state, generalized or not)."""
    compute = connection.compute()
    return connection.call(
        "VirtualMachines_Get",
        compute.virtual_machines.get,
        resource_group,
        name,
        expand="instanceView",
        resource="%s/virtualMachines/%s" % (resource_group, name),
    )


def begin_deallocate_vm(connection, resource_group, name):
    compute = connection.compute()
    return connection.call(
        "VirtualMachines_Deallocate",
        compute.virtual_machines.begin_deallocate,
        resource_group,
        name,
        resource="%s/virtualMachines/%s" % (resource_group, name),
    )


def generalize_vm(connection, resource_group, name):
    compute = connection.compute()
    return connection.call(
        "VirtualMachines_Generalize",
        compute.virtual_machines.generalize,
        resource_group,
        name,
        resource="%s/virtualMachines/%s" % (resource_group, name),
    )


def list_all_vms(connection):
    """Every VM of the subscription, in every resource group."""
    compute = connection.compute()
    return connection.listed("VirtualMachines_ListAll", compute.virtual_machines.list_all())


def list_all_scale_sets(connection):
    """Every scale set of the subscription, in every resource group."""
    compute = connection.compute()
    return connection.listed("VirtualMachineScaleSets_ListAll", compute.virtual_machine_scale_sets.list_all())


def list_scale_set_instances(connection, resource_group, name):
    """The instances of a scale set, each with the image it booted (``imageReference.exactVersion``)."""
    compute = connection.compute()
    return connection.listed(
        "VirtualMachineScaleSetVMs_List",
        compute.virtual_machine_scale_set_vms.list(resource_group, name),
        resource="%s/virtualMachineScaleSets/%s" % (resource_group, name),
    )


# -- the subscription ----------------------------------------------------------------------------


def list_locations(connection):
    """The names of the locations the subscription may use (ARM's Subscriptions_ListLocations).

    No installed management client serves it, so it is sent through the compute client's own pipeline
    (``send_request``: the same credential, transport and counting).
    """
    compute = connection.compute()
    path = "/subscriptions/%s/locations?api-version=%s" % (connection.subscription_id, LOCATIONS_API_VERSION)

    def read():
        response = compute.send_request(HttpRequest("GET", path))
        response.raise_for_status()
        return [item["name"] for item in response.json().get("value") or []]

    return connection.call("Subscriptions_ListLocations", read, resource=connection.subscription_id)
