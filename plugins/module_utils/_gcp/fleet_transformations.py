# Private to this collection.
"""Compute Engine shapes of managed instance groups, instance templates and rollout records turned into the
rollout's model, and back. Pure functions: no call is made here.

Ids are paths relative to the Compute API root, as for images and instances (``_gcp/identifiers.py``): a
launch is an instance template's path (``projects/P/global/instanceTemplates/NAME`` or
``projects/P/regions/R/instanceTemplates/NAME``), an instance ``projects/P/zones/Z/instances/NAME``. A
traffic backend is named by its backend service's ``selfLink``, as a URL map names it.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re

from .._core.errors import InvalidInput, PhoenixError
from .._core.fleet import Group, Instance
from .._core.rollout_model import FIELDS, RolloutRecord
from .identifiers import instance_id, parse_instance_id
from .transformations import api_path

# Compute names: RFC 1035 labels of at most 63 characters.
MAX_NAME = 63
NAME_PATTERN = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
# A template made for a rollout: "<base name, cut>-r<digest of base and rollout id>".
LAUNCH_DIGEST_LENGTH = 12
LAUNCH_MARKER = "phoenix rollout %s: image %s"
# The first record rides in the group's description (set once, at insert: the lock and the record in one call).
DESCRIPTION_PREFIX = "phoenix-rollout "
MAX_DESCRIPTION = 2048
# The record's item in the project's common instance metadata (keys: 1-128 of [a-zA-Z0-9_-]).
RECORD_ITEM_PREFIX = "phoenix-rollout-"
# A value no field of a record needs (reason is cut at 250): longer is refused before any call.
MAX_FIELD_LENGTH = 1024
_TEMPLATE_PATH = re.compile(
    r"^projects/(?P<project>[^/]+)/(?P<scope>global|regions/[^/]+)/instanceTemplates/(?P<name>[^/]+)$"
)
_FAMILY = re.compile(r"^(?:projects/(?P<project>[^/]+)/)?global/images/family/(?P<family>[^/]+)$")
_IMAGE = re.compile(r"^(?:projects/(?P<project>[^/]+)/)?global/images/(?P<name>[^/]+)$")
RUNNING = "RUNNING"
NO_ACTION = "NONE"
HEALTHY = "HEALTHY"


def parse_template(reference):
    """(project, scope, name) of a template path or selfLink; None for anything else."""
    match = _TEMPLATE_PATH.match(api_path(reference or ""))
    return (match.group("project"), match.group("scope"), match.group("name")) if match else None


def boot_disk(properties):
    return next((disk for disk in (properties or {}).get("disks") or [] if disk.get("boot")), None)


def template_image(template):
    """The boot disk's ``sourceImage`` of a template, as written in it (a path, URL or family), or None."""
    disk = boot_disk(template.get("properties"))
    return ((disk or {}).get("initializeParams") or {}).get("sourceImage")


def image_reference(source, project):
    """``("image", id)`` or ``("family", (project, family))`` of a template's sourceImage; None if neither."""
    path = api_path(source) or ""
    family = _FAMILY.match(path)
    if family:
        return "family", (family.group("project") or project, family.group("family"))
    image = _IMAGE.match(path)
    if image:
        return "image", "projects/%s/global/images/%s" % (image.group("project") or project, image.group("name"))
    return None


def launch_name(base_name, base_path, rollout_id):
    """The name of the template made from ``base_path`` for ``rollout_id``: the same every time it is asked."""
    digest = hashlib.sha256(("%s\n%s" % (base_path, rollout_id)).encode("utf-8")).hexdigest()
    suffix = "-r" + digest[:LAUNCH_DIGEST_LENGTH]
    stem = base_name[: MAX_NAME - len(suffix)].rstrip("-")
    return stem + suffix


def launch_body(base, name, image_id, rollout_id):
    """A template copying ``base`` with only the boot disk's image changed, marked with the rollout's id."""
    properties = copy.deepcopy(base.get("properties") or {})
    disk = boot_disk(properties)
    if disk is None:
        raise InvalidInput(
            "instance template %s has no boot disk to take image %s" % (base.get("name"), image_id),
            resource=api_path(base.get("selfLink")),
            hint="Give a base template whose properties.disks has a boot disk made from an image.",
        )
    disk.setdefault("initializeParams", {})["sourceImage"] = image_id
    return {"name": name, "description": LAUNCH_MARKER % (rollout_id, image_id), "properties": properties}


def is_prepared_launch(template):
    """Whether a template was made by prepare_launch (the base and templates of others never are)."""
    return (template.get("description") or "").startswith(LAUNCH_MARKER.split("%", 1)[0])


# -- groups and their members ------------------------------------------------------------------------------


def instance_from_member(member):
    """A member of listManagedInstances as the core's Instance (id: ``projects/P/zones/Z/instances/NAME``)."""
    project, zone, name = parse_instance_id(member["instance"])
    running = member.get("instanceStatus") == RUNNING and member.get("currentAction") == NO_ACTION
    health = member.get("instanceHealth") or []
    healthy = running and all(entry.get("detailedHealthState") == HEALTHY for entry in health)
    return Instance(id=instance_id(project, zone, name), in_service=running, healthy=healthy)


def manager_template(manager):
    versions = manager.get("versions") or []
    return manager.get("instanceTemplate") or (versions[0].get("instanceTemplate") if versions else None)


def backend_ids_of(manager, services):
    """The selfLinks of the backend services (of ``services``) that name the MIG's instance group."""
    group = api_path(manager.get("instanceGroup"))
    return [
        service["selfLink"]
        for service in services
        if any(api_path(backend.get("group")) == group for backend in service.get("backends") or [])
    ]


def template_networks(template):
    """Where a template's instances are attached: each interface's subnetwork, else its network.

    A path under ``projects/`` is kept whole; a relative one (``global/networks/default``) is reduced to its
    name, which the drift scan matches as a bare name. A MIG has no subnets of its own: these are its group's.
    """
    found = []
    for interface in ((template or {}).get("properties") or {}).get("networkInterfaces") or []:
        path = api_path(interface.get("subnetwork") or interface.get("network"))
        if path:
            found.append(path if path.startswith("projects/") else path.rsplit("/", 1)[-1])
    return sorted(set(found))


def group_from_manager(manager, members, backends, record, subnets=()):
    """A MIG as the core's Group: it has one size (min = max = target), no labels; ``subnets`` its template's."""
    size = int(manager.get("targetSize") or 0)
    return Group(
        name=manager["name"],
        size=size,
        min_size=size,
        max_size=size,
        launch=api_path(manager_template(manager)),
        backends=list(backends),
        instances=[instance_from_member(member) for member in members if member.get("instance")],
        record=record,
        subnets=list(subnets),
    )


def has_members(manager):
    return int(manager.get("targetSize") or 0) > 0 or any((manager.get("currentActions") or {}).values())


# -- the rollout record --------------------------------------------------------------------------------------


def check_record(values, group):
    """Refuse, before any call, a field value no record needs (the store would hold it, a console would not)."""
    long = sorted(name for name, value in values.items() if value is not None and len(value) > MAX_FIELD_LENGTH)
    if long:
        raise InvalidInput(
            "the rollout record of group %s has %s longer than %d characters; nothing was written"
            % (group, ", ".join(long), MAX_FIELD_LENGTH),
            resource=group,
            hint="Shorten the value (a reason is cut at 250 characters by the collection itself).",
        )


def _encoded(values):
    return json.dumps(values, sort_keys=True, separators=(",", ":"))


def description_of(record, group):
    """The MIG's description carrying its first record."""
    values = record.to_record()
    check_record(values, group)
    description = DESCRIPTION_PREFIX + _encoded(values)
    if len(description) > MAX_DESCRIPTION:
        raise InvalidInput(
            "the first rollout record of group %s is %d characters written out, a group's description holds %d"
            % (group, len(description), MAX_DESCRIPTION),
            resource=group,
            hint="Shorten the longest values (reason, image and template names).",
        )
    return description


def values_from_description(description):
    """{field: text} of the record a description carries, or None when it carries none."""
    if not (description or "").startswith(DESCRIPTION_PREFIX):
        return None
    try:
        values = json.loads(description[len(DESCRIPTION_PREFIX) :])
    except ValueError:
        return None
    return _checked_values(values)


def _checked_values(values):
    if not isinstance(values, dict):
        return None
    return {name: str(value) for name, value in values.items() if name in FIELDS and value is not None}


def record_item_key(scope, name):
    """The metadata key of a group's record: ``phoenix-rollout-<zone or region>-<group>``."""
    return "%s%s-%s" % (RECORD_ITEM_PREFIX, scope.split("/", 1)[-1], name)


def record_item_value(manager, values):
    """The item's value: the record and the group it belongs to (its path and id, as a later group of the same
    name has another id)."""
    return _encoded({"group": api_path(manager["selfLink"]), "id": str(manager["id"]), "record": values})


def values_from_item(value, manager):
    """{field: text} of an item's record when it belongs to ``manager`` (same id), else None."""
    try:
        decoded = json.loads(value or "")
    except ValueError:
        return None
    if not isinstance(decoded, dict) or str(decoded.get("id")) != str(manager.get("id")):
        return None
    return _checked_values(decoded.get("record"))


def record_values(manager, items):
    """{field: text} of the MIG's record: its metadata item when it has one, else its description's; or None."""
    key = record_item_key(scope_of(manager), manager["name"])
    for item in items:
        if item.get("key") == key:
            values = values_from_item(item.get("value"), manager)
            if values is not None:
                return values
    return values_from_description(manager.get("description"))


def record_of(manager, items):
    values = record_values(manager, items)
    return RolloutRecord.from_record(values) if values else None


def scope_of(manager):
    """``zones/Z`` or ``regions/R`` of a MIG, from its selfLink."""
    match = re.search(r"/((?:zones|regions)/[^/]+)/instanceGroupManagers/", manager.get("selfLink") or "")
    if match is None:
        raise PhoenixError(
            "the answer is not a managed instance group (no selfLink): %r" % sorted(manager),
            code="UnexpectedResponse",
            cloud="gcp",
        )
    return match.group(1)


def metadata_items(project_resource):
    return list((project_resource.get("commonInstanceMetadata") or {}).get("items") or [])


def metadata_fingerprint(project_resource):
    return (project_resource.get("commonInstanceMetadata") or {}).get("fingerprint")
