# Private to this collection.
"""Compute Engine shapes (camelCase dicts) into the cloud-neutral model, and the core's tags into labels.

An Image is a pure function of the GCE image's immutable fields and its labels, the same at every read:
the core rebuilds a detached signature's statement from it (``_core/signatures.py``).

Labels hold at most 63 characters, and ``/`` takes three once escaped (``_2f``), so an id path the core
stores (the builder instance, the base image) would not fit in one label value. Such a value is written as
one label per path segment (``phoenix_-source-image`` = the name, ``phoenix_-source-image_-project`` = the
project) and joined back on read: the core sees exactly the value it wrote, and nothing is ever cut.
"""

from __future__ import annotations

import re

from .._core import model
from .._core import tags as tagging
from .._core.timeutil import format_utc, parse_utc
from .codec import GCP_CODEC, labels_of, tags_of
from .identifiers import image_id

GLOBAL = "global"

IMAGE_STATES = {
    "PENDING": model.PENDING,
    "READY": model.AVAILABLE,
    "FAILED": model.FAILED,
    "DELETING": model.DEREGISTERED,
}
ARCHITECTURES = {"X86_64": "x86_64", "ARM64": "arm64"}
# DeprecationStatus.state values that mark an image as past its deprecation.
DEPRECATED_STATES = ("DEPRECATED", "OBSOLETE", "DELETED")

BUILDER_STATES = {
    "PROVISIONING": "starting",
    "STAGING": "starting",
    "RUNNING": "running",
    "STOPPING": "stopping",
    "SUSPENDING": "stopping",
    "SUSPENDED": "stopped",
    "STOPPED": "stopped",
    "TERMINATED": "stopped",  # Compute's word for a stopped instance: its disks stay
    "REPAIRING": "starting",
}

# Values of the core's tags written one label per path segment: {name: (template, pattern)}.
_SEGMENT = r"[a-z0-9][a-z0-9.:-]{0,62}"
PATH_VALUES = {
    tagging.SOURCE_IMAGE: (
        "projects/{project}/global/images/{name}",
        re.compile(r"projects/(?P<project>%s)/global/images/(?P<name>%s)\Z" % (_SEGMENT, _SEGMENT)),
    ),
    tagging.SOURCE_INSTANCE: (
        "projects/{project}/zones/{zone}/instances/{name}",
        re.compile(
            r"projects/(?P<project>%s)/zones/(?P<zone>%s)/instances/(?P<name>%s)\Z" % (_SEGMENT, _SEGMENT, _SEGMENT)
        ),
    ),
}
_API_ROOT = re.compile(r"^https?://[^/]+/compute/(?:v1|beta|alpha)/")


def api_path(reference):
    """A Compute reference (a selfLink URL of any host, or a path) as the path under the API root, or None."""
    if not reference:
        return None
    return _API_ROOT.sub("", reference).strip("/")


def _path_fields(name):
    template, _pattern = PATH_VALUES[name]
    return [field for field in re.findall(r"{(\w+)}", template) if field != "name"]


def label_keys(tags, codec=GCP_CODEC):
    """The label keys that store ``tags`` (the core's view): a path value's segments are labels of their own."""
    keys = set()
    for key, value in tags.items():
        keys.add(key)
        name = _path_name(key, value, codec)
        if name is not None:
            keys.update(codec.key(name, field) for field in _path_fields(name))
    return keys


def segment_keys(key, codec=GCP_CODEC):
    """The keys of the segment labels that may stand with ``key`` (none unless it is a path-valued name's)."""
    parts = codec.parts(key)
    if not parts or len(parts) != 1 or parts[0] not in PATH_VALUES:
        return []
    return [codec.key(parts[0], field) for field in _path_fields(parts[0])]


def _path_name(key, value, codec):
    parts = codec.parts(key)
    if not parts or len(parts) != 1 or parts[0] not in PATH_VALUES:
        return None
    return parts[0] if PATH_VALUES[parts[0]][1].match(value or "") else None


def labels_for(tags, resource, codec=GCP_CODEC):
    """The labels that write ``tags`` (the core's view), path values split; InvalidInput before any call."""
    flat = {}
    for key, value in tags.items():
        name = _path_name(key, value, codec)
        if name is None:
            flat[key] = value
            continue
        match = PATH_VALUES[name][1].match(value)
        flat[key] = match.group("name")
        for field in _path_fields(name):
            flat[codec.key(name, field)] = match.group(field)
    return labels_of(flat, resource)


def tags_from(labels, codec=GCP_CODEC):
    """The core's view of labels: each value as written, and each split path joined back into one value."""
    tags = tags_of(labels)
    for name, (template, _pattern) in PATH_VALUES.items():
        key = codec.key(name)
        fields = {field: codec.key(name, field) for field in _path_fields(name)}
        if key not in tags or not all(field_key in tags for field_key in fields.values()):
            continue
        values = {field: tags.pop(field_key) for field, field_key in fields.items()}
        tags[key] = template.format(name=tags[key], **values)
    return tags


def project_of(resource):
    """The project of a Compute resource, from its selfLink."""
    path = api_path(resource.get("selfLink")) or ""
    parts = path.split("/")
    return parts[1] if len(parts) > 1 and parts[0] == "projects" else ""


def _utc(text):
    return format_utc(parse_utc(text)) if text else None


def deprecation_time(image):
    status = image.get("deprecated") or {}
    if status.get("state", "ACTIVE") not in DEPRECATED_STATES:
        return None
    return _utc(status.get("deprecated"))


def image_from_gce(image, state_reason=None):
    """The model.Image of a Compute image (``state_reason``: why the operation that made it failed, if it did)."""
    tags = tags_from(image.get("labels"))
    project = project_of(image)
    made_of = (
        image.get("sourceDiskId")
        or api_path(image.get("sourceDisk"))
        or image.get("sourceSnapshotId")
        or image.get("sourceImageId")
    )
    size = image.get("diskSizeGb")
    status = image.get("status", "")
    return model.Image(
        cloud="gcp",
        id=image_id(project, image["name"]),
        name=image["name"],
        region=GLOBAL,
        state=model.FAILED if state_reason else IMAGE_STATES.get(status, model.PENDING),
        created=_utc(image.get("creationTimestamp")) or "",
        owner=project,
        source_image=tags.get(GCP_CODEC.key(tagging.SOURCE_IMAGE)) or api_path(image.get("sourceImage")),
        architecture=ARCHITECTURES.get(image.get("architecture") or ""),
        description=image.get("description") or "",
        tags=tags,
        disks=[model.Disk(device="boot", snapshot_id=made_of, size_gb=int(size) if size else None)],
        deprecation_time=deprecation_time(image),
        cloud_state=status,
        state_reason=state_reason,
        family=image.get("family"),
    )
