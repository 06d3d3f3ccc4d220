# Private to this collection.
"""Compute Gallery image versions (azure-mgmt-compute models) into the cloud-neutral model.Image.

An image is a gallery image version. Its ``region`` is the version's own location (its gallery's), the
same from every region it is replicated to: the version is one resource with one set of tags, so its
descriptor, and the signature over it, must be the same wherever it is read. Its ``state`` is the
replication state in the region it is read from (``state_in``). An Image is a pure function of the
version, its definition and the region, the same at every read.

The collection's name of the image and its description live in tags of their own (``NAME_TAG``,
``DESCRIPTION_TAG``): a version is named ``x.y.z`` by Azure. They are read into ``name`` and
``description``, not shown among the image's tags, and kept by every tag change.

Also here, as pure functions: version names from bake times (``version_name``), the family of an image's
name (``family_of_name``), and the search's match of a name glob and tags (``matches``).
"""

from __future__ import annotations

import re

from .._core import model
from .._core import tags as tagging
from .._core.channels import VERSION_SUFFIX
from .._core.timeutil import format_utc, parse_utc
from .codec import AZURE_CODEC

NAME_TAG = AZURE_CODEC.key("image-name")
DESCRIPTION_TAG = AZURE_CODEC.key("image-description")
HIDDEN_TAGS = (NAME_TAG, DESCRIPTION_TAG)
SOURCE_IMAGE_TAG = AZURE_CODEC.key(tagging.SOURCE_IMAGE)

ARCHITECTURES = {"x64": "x86_64", "arm64": "arm64"}
# provisioningState of a version -> the state where its replication status is not known (a listing).
PROVISIONING_STATES = {
    "creating": model.PENDING,
    "updating": model.AVAILABLE,  # an update (a region added, tags) leaves it serving where it was replicated
    "succeeded": model.AVAILABLE,
    "failed": model.FAILED,
    "deleting": model.DEREGISTERED,
    "migrating": model.AVAILABLE,
}
# RegionalReplicationStatus.state -> the state in that region.
REPLICATION_STATES = {
    "replicating": model.PENDING,
    "completed": model.AVAILABLE,
    "failed": model.FAILED,
    "unknown": model.PENDING,
}
# Power states of the instance view -> the builder states of _core.builders.
POWER_STATES = {
    "starting": "starting",
    "running": "running",
    "stopping": "stopping",
    "deallocating": "stopping",
    "stopped": "stopped",
    "deallocated": "stopped",
}
_SPACES = re.compile(r"\s+")


def location_name(location):
    """ARM's canonical location name: ``East US`` and ``eastus`` are one place."""
    return _SPACES.sub("", location or "").lower()


def target_regions(version):
    """The normalised names of the regions the version is (being) replicated to, in order."""
    profile = version.publishing_profile
    regions = [location_name(region.name) for region in (profile.target_regions if profile else None) or []]
    return regions or [location_name(version.location)]


def state_in(version, region):
    """(state, reason) of the version in ``region``: its replication there when the read carried it (a get),
    else what its provisioningState says (a listing)."""
    provisioning = (version.provisioning_state or "").lower()
    if provisioning == "deleting":
        return model.DEREGISTERED, None
    status = version.replication_status
    for summary in (status.summary if status else None) or []:
        if location_name(summary.region) == region:
            state = REPLICATION_STATES.get((summary.state or "").lower(), model.PENDING)
            if state != model.FAILED:
                return state, None
            return state, summary.details or "the replication to %s failed" % region
    if provisioning == "updating" and region != location_name(version.location):
        return model.PENDING, None  # maybe the region being added: not known to serve yet
    state = PROVISIONING_STATES.get(provisioning, model.PENDING)
    if state == model.FAILED:
        return state, "the image version's last operation failed (provisioningState Failed)"
    return state, None


def visible_tags(tags):
    """The tags the core sees: all but the collection's own name and description of the image."""
    return {key: value for key, value in (tags or {}).items() if key not in HIDDEN_TAGS}


def image_name(version, definition_name):
    """The collection's name of the image; ``<definition>-<version>`` for a version made without one."""
    return (version.tags or {}).get(NAME_TAG) or "%s-%s" % (definition_name, version.name)


def _text(value):
    """An SDK enum member (a str subclass) as plain text, for results."""
    return None if value is None else str(getattr(value, "value", value))


def _utc(value):
    return format_utc(parse_utc(value)) if value else ""


def image_from_version(version, definition, subscription_id, region, reason=None):
    """The model.Image of a gallery image version read from ``region``.

    ``definition`` is its image definition (GalleryImage): the family and the architecture. ``reason`` is
    why the operation this backend started on it failed, when it did.
    """
    tags = version.tags or {}
    state, state_reason = state_in(version, region)
    if reason:
        state, state_reason = model.FAILED, reason
    profile = version.publishing_profile
    storage = version.storage_profile
    os_disk = storage.os_disk_image if storage else None
    return model.Image(
        cloud="azure",
        id=version.id,
        name=image_name(version, definition.name),
        region=location_name(version.location),
        state=state,
        created=_utc(profile.published_date if profile else None),
        owner=subscription_id,
        source_image=tags.get(SOURCE_IMAGE_TAG) or None,
        architecture=ARCHITECTURES.get((definition.architecture or "x64").lower()),
        description=tags.get(DESCRIPTION_TAG, ""),
        tags=visible_tags(tags),
        disks=[
            model.Disk(
                device="os",
                snapshot_id=None,  # the version owns its storage: no snapshot of its own to list or delete
                size_gb=os_disk.size_in_gb if os_disk else None,
            )
        ],
        deprecation_time=_utc(profile.end_of_life_date if profile else None) or None,
        cloud_state=_text(version.provisioning_state),
        state_reason=state_reason,
        family=definition.name,
    )


def placeholder(image_id, name, region, state, subscription_id, family, reason=None):
    """An Image for a version not readable yet (just started), or one whose making failed and left nothing."""
    return model.Image(
        cloud="azure",
        id=image_id,
        name=name,
        region=region,
        state=state,
        created="",
        owner=subscription_id,
        state_reason=reason,
        family=family,
    )


def power_state(vm):
    """The builder state of a VM from its instance view (``starting`` when it has none yet)."""
    view = vm.instance_view
    for status in (view.statuses if view else None) or []:
        if (status.code or "").startswith("PowerState/"):
            return POWER_STATES.get(status.code.split("/", 1)[1].lower(), "starting")
    return "starting"


def is_generalized(vm):
    view = vm.instance_view
    return any((status.code or "").lower() == "osstate/generalized" for status in (view.statuses if view else []) or [])


def image_reference_text(reference):
    """The image a VM was made from: an id, or a marketplace image as Azure's URN ``publisher:offer:sku:version``."""
    if reference is None:
        return None
    if reference.id:
        return reference.id
    parts = (reference.publisher, reference.offer, reference.sku, reference.exact_version or reference.version)
    return ":".join(part or "" for part in parts) if reference.publisher else None


def version_name(when):
    """``YEAR.MMDD.SECONDS`` of a UTC time: ordered as the times are, each part a 32-bit integer."""
    return "%d.%d.%d" % (when.year, when.month * 100 + when.day, when.hour * 3600 + when.minute * 60 + when.second)


def family_of_name(name):
    """The image definition an image of this name goes to when no family is given (``_core/channels.py``)."""
    return VERSION_SUFFIX.sub("", name) or name


def version_key(name):
    try:
        return tuple(int(part) for part in name.split("."))
    except ValueError:
        return ()


def matches(image, name_pattern, tags):
    if name_pattern and not _glob(name_pattern).match(image.name):
        return False
    return all(image.tags.get(key) == value for key, value in tags.items())


def _glob(pattern):
    """``*`` any characters, ``?`` one, everything else itself (as image_info documents)."""
    return re.compile(
        "".join(".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern) + r"\Z"
    )
