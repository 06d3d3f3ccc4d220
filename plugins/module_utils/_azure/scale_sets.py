# Private to this collection.
"""One small function per Compute call of the fleet: virtual machine scale sets, their instances, and VMs.

Each goes through the connection: ``connection.call`` for a read (retried while transient, errors mapped to
``errors.py``), ``connection.wait`` for a long-running operation (started, retried, then waited for within the
task's timeout). Lists are read a page at a time (``nextLink``), each page one retried call, and handed on
as ARM's JSON (``as_dict()`` of the SDK's models): nothing here interprets what it reads.

A scale set as ARM last answered the connection is remembered (``connection.last_seen``) so that a change
(``modify_scale_set``) can be computed from it without reading again, conditional on its etag.
"""

from __future__ import annotations

from .._core.errors import PhoenixError
from .connection import CREATE_ONLY, arm_json
from .errors import NotFound, PreconditionFailed

INSTANCE_VIEW = "instanceView"
# How many times a read-modify-write computes its PATCH before it gives up: each time after the first from a fresh
# read, because its If-Match met a newer etag (someone changed it meanwhile, or a retried PATCH whose answer was lost
# had been applied) or its remembered copy needed no change.
MODIFY_ATTEMPTS = 3


def pages(connection, operation, paged, resource=None):
    """Each page of an SDK list as a list of ARM JSON items (``AzureConnection.pages``)."""
    for page in connection.pages(operation, paged, resource=resource):
        yield [arm_json(item) for item in page]


def every(connection, operation, paged, resource=None):
    return [item for page in pages(connection, operation, paged, resource) for item in page]


# -- scale sets ----------------------------------------------------------------------------------


def _key(resource_group, name):
    return (resource_group.lower(), name.lower())


def _seen(connection, resource_group, name, scale_set):
    """``scale_set`` remembered as this connection's last answer for it (None forgets it); returned."""
    if scale_set is None:
        connection.last_seen.pop(_key(resource_group, name), None)
    else:
        connection.last_seen[_key(resource_group, name)] = scale_set
    return scale_set


def get_scale_set(connection, resource_group, name):
    compute = connection.compute()
    try:
        found = connection.call(
            "VirtualMachineScaleSets_Get",
            compute.virtual_machine_scale_sets.get,
            resource_group,
            name,
            resource=name,
        )
    except NotFound:
        _seen(connection, resource_group, name, None)
        raise
    return _seen(connection, resource_group, name, arm_json(found))


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
    made = connection.wait(
        "VirtualMachineScaleSets_CreateOrUpdate",
        compute.virtual_machine_scale_sets.begin_create_or_update,
        resource_group,
        name,
        body,
        headers=dict(CREATE_ONLY),
        resource=name,
    )
    return _seen(connection, resource_group, name, arm_json(made))


def update_scale_set(connection, resource_group, name, patch, etag=None):
    """PATCH (a JSON merge of ``patch``; tags are replaced as a whole) and wait; with ``etag``, only if the scale set
    still has it (If-Match), else PreconditionFailed."""
    compute = connection.compute()
    condition = {}
    if etag:
        from azure.core import MatchConditions  # the SDK is there: connection.compute() required it

        condition = {"etag": etag, "match_condition": MatchConditions.IfNotModified}
    try:
        updated = connection.wait(
            "VirtualMachineScaleSets_Update",
            compute.virtual_machine_scale_sets.begin_update,
            resource_group,
            name,
            patch,
            resource=name,
            **condition,
        )
    except (NotFound, PreconditionFailed):
        _seen(connection, resource_group, name, None)
        raise
    return _seen(connection, resource_group, name, arm_json(updated))


def modify_scale_set(connection, resource_group, name, change, remembered=True):
    """Read-modify-write: ``change(scale_set)`` gives the PATCH of the scale set as ARM holds it (None: nothing to
    change); returns the scale set as it is after. NotFound when there is none.

    It starts from this connection's last answer for the scale set when that carries an etag, and the PATCH is
    conditional on it: a 412 (changed since) starts again from a read. A remembered copy that needs no change
    proves nothing (it may be stale), so that is read again. Every PATCH names the etag it was computed from, so
    a retried PATCH whose first answer was lost meets a 412 and is computed again from what ARM holds then; the
    operation that first PATCH started is then nobody's to wait for.

    ``remembered=False`` is for a change whose end the caller waits on (a capacity, an image): the scale set is
    read first and the PATCH sent without a condition, so a retry after a lost answer is an operation of its own,
    waited for like any.
    """
    if not remembered:
        scale_set = get_scale_set(connection, resource_group, name)
        patch = change(scale_set)
        return update_scale_set(connection, resource_group, name, patch) if patch else scale_set
    known = connection.last_seen.get(_key(resource_group, name))
    scale_set = known if known is not None and known.get("etag") else None
    for _attempt in range(MODIFY_ATTEMPTS):
        read = scale_set is None
        if read:
            scale_set = get_scale_set(connection, resource_group, name)
        patch = change(scale_set)
        if not patch:
            if read:
                return scale_set
            scale_set = None
            continue
        try:
            return update_scale_set(connection, resource_group, name, patch, etag=scale_set.get("etag"))
        except PreconditionFailed:
            scale_set = None
    raise PhoenixError(
        "scale set %s changed under every one of %d attempts to change it" % (name, MODIFY_ATTEMPTS),
        resource=name,
        code="PreconditionFailed",
        cloud="azure",
        hint="Something else is changing the scale set; run again once it has stopped.",
    )


def delete_scale_set(connection, resource_group, name):
    """DELETE and wait until the scale set and its instances are gone; NotFound when it was gone before."""
    _seen(connection, resource_group, name, None)
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
    _seen(connection, resource_group, name, None)  # its capacity changes
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
