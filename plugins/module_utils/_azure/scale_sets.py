# Private to this collection.
"""One small function per Compute call of the fleet: virtual machine scale sets, their instances, and VMs.

Each goes through the connection: ``connection.call`` for a read (retried while transient, errors mapped to
``errors.py``), ``connection.wait`` for a long-running operation (started, retried, then waited for within the
task's timeout). Lists are read a page at a time (``nextLink``), each page one retried call, and handed on
as ARM's JSON (``as_dict()`` of the SDK's models): nothing here interprets what it reads.
"""

from __future__ import annotations

from .connection import CREATE_ONLY, arm_json

INSTANCE_VIEW = "instanceView"


def pages(connection, operation, paged, resource=None):
    """Each page of an SDK list as a list of ARM JSON items (``AzureConnection.pages``)."""
    for page in connection.pages(operation, paged, resource=resource):
        yield [arm_json(item) for item in page]


def every(connection, operation, paged, resource=None):
    return [item for page in pages(connection, operation, paged, resource) for item in page]


# -- scale sets ----------------------------------------------------------------------------------


def get_scale_set(connection, resource_group, name):
    compute = connection.compute()
    return arm_json(
        connection.call(
            "VirtualMachineScaleSets_Get",
            compute.virtual_machine_scale_sets.get,
            resource_group,
            name,
            resource=name,
        )
    )


def list_scale_sets(connection, resource_group):
    compute = connection.compute()
    return every(
        connection,
        "VirtualMachineScaleSets_List",
        compute.virtual_machine_scale_sets.list(resource_group),
        resource=resource_group,
    )


def create_scale_set(connection, resource_group, name, body):
    """PUT with If-None-Match: * and wait: PreconditionFailed (412) when a scale set of that name exists."""
    compute = connection.compute()
    return arm_json(
        connection.wait(
            "VirtualMachineScaleSets_CreateOrUpdate",
            compute.virtual_machine_scale_sets.begin_create_or_update,
            resource_group,
            name,
            body,
            headers=dict(CREATE_ONLY),
            resource=name,
        )
    )


def update_scale_set(connection, resource_group, name, patch):
    """PATCH (a JSON merge of ``patch``; tags are replaced as a whole) and wait."""
    compute = connection.compute()
    return arm_json(
        connection.wait(
            "VirtualMachineScaleSets_Update",
            compute.virtual_machine_scale_sets.begin_update,
            resource_group,
            name,
            patch,
            resource=name,
        )
    )


def delete_scale_set(connection, resource_group, name):
    """DELETE and wait until the scale set and its instances are gone; NotFound when it was gone before."""
    compute = connection.compute()
    connection.wait(
        "VirtualMachineScaleSets_Delete",
        compute.virtual_machine_scale_sets.begin_delete,
        resource_group,
        name,
        resource=name,
    )


# -- their instances -----------------------------------------------------------------------------


def scale_set_instance_pages(connection, resource_group, name):
    compute = connection.compute()
    return pages(
        connection,
        "VirtualMachineScaleSetVMs_List",
        compute.virtual_machine_scale_set_vms.list(resource_group, name, expand=INSTANCE_VIEW),
        resource=name,
    )


def list_scale_set_instances(connection, resource_group, name):
    return [item for page in scale_set_instance_pages(connection, resource_group, name) for item in page]


def get_scale_set_instance(connection, resource_group, name, instance_id):
    compute = connection.compute()
    return arm_json(
        connection.call(
            "VirtualMachineScaleSetVMs_Get",
            compute.virtual_machine_scale_set_vms.get,
            resource_group,
            name,
            instance_id,
            resource="%s/%s" % (name, instance_id),
        )
    )


def delete_scale_set_instances(connection, resource_group, name, instance_ids):
    """``POST .../delete`` of these instance ids and wait; the scale set's capacity drops by as many."""
    compute = connection.compute()
    connection.wait(
        "VirtualMachineScaleSets_DeleteInstances",
        compute.virtual_machine_scale_sets.begin_delete_instances,
        resource_group,
        name,
        {"instanceIds": list(instance_ids)},
        resource=name,
    )


# -- virtual machines ----------------------------------------------------------------------------


def virtual_machine_pages(connection, resource_group):
    compute = connection.compute()
    return pages(
        connection,
        "VirtualMachines_List",
        compute.virtual_machines.list(resource_group),
        resource=resource_group,
    )


def delete_virtual_machine(connection, resource_group, name):
    """DELETE and wait; NotFound when it was gone before."""
    compute = connection.compute()
    connection.wait(
        "VirtualMachines_Delete",
        compute.virtual_machines.begin_delete,
        resource_group,
        name,
        resource=name,
    )


# -- gallery image versions ----------------------------------------------------------------------


def list_image_versions(connection, resource_group, gallery, image):
    compute = connection.compute()
    return every(
        connection,
        "GalleryImageVersions_ListByGalleryImage",
        compute.gallery_image_versions.list_by_gallery_image(resource_group, gallery, image),
        resource=image,
    )


def get_image_version(connection, resource_group, gallery, image, version):
    compute = connection.compute()
    return arm_json(
        connection.call(
            "GalleryImageVersions_Get",
            compute.gallery_image_versions.get,
            resource_group,
            gallery,
            image,
            version,
            resource=version,
        )
    )
