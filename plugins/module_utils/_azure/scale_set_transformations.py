# Private to this collection.
"""Compute's shapes of scale sets, their instances and VMs turned into the rollout's and the drift scan's model,
and back. Pure functions over ARM's JSON: no call is made here.

- A group is a scale set: its size is ``sku.capacity``, its backends the load balancer backend pools its model's
  ip configurations name, its subnets the model's, its record tags ``phoenix:rollout:<field>``.
- A launch is the image reference of a scale set's model: a resource id (a gallery image version, an image
  definition meaning its latest version, a managed image) or a marketplace URN ``publisher:offer:sku:version``.
- An instance's id is its resource id (``.../virtualMachineScaleSets/NAME/virtualMachines/ID`` or
  ``.../virtualMachines/NAME``), as ARM spells it.
"""

from __future__ import annotations

import copy
import re

from .._core.drift import Observed
from .._core.errors import InvalidInput
from .._core.fleet import Group, Instance
from .._core.rollout_model import FIELDS, RolloutRecord
from .._core.timeutil import format_utc, parse_utc
from .codec import AZURE_CODEC

# The record's tags: phoenix:rollout:<field>, or phoenix:rollout:<field>:<n> for a value longer than a tag's.
RECORD = "rollout"
MARKETPLACE_PARTS = ("publisher", "offer", "sku", "version")
SCALE_SET_VM = re.compile(
    r"^(?P<scale_set>/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.Compute/"
    r"virtualMachineScaleSets/(?P<name>[^/]+))/virtualMachines/(?P<instance>[^/]+)$",
    re.IGNORECASE,
)
IMAGE_DEFINITION = re.compile(
    r"^/subscriptions/[^/]+/resourceGroups/(?P<group>[^/]+)/providers/Microsoft\.Compute/galleries/(?P<gallery>[^/]+)"
    r"/images/(?P<image>[^/]+)$",
    re.IGNORECASE,
)
# Power states (instanceView ``PowerState/<state>``) as the core's builder states.
POWER_STATES = {
    "starting": "starting",
    "running": "running",
    "stopping": "stopping",
    "stopped": "stopped",
    "deallocating": "stopping",
    "deallocated": "stopped",
}
PROVISIONING_STATES = {"Creating": "starting", "Succeeded": "running", "Deleting": "stopping", "Failed": "failed"}
HEALTHY = "HealthState/healthy"


# -- the model -------------------------------------------------------------------------------------


def profile_of(scale_set):
    return ((scale_set or {}).get("properties") or {}).get("virtualMachineProfile") or {}


def ip_configurations(profile):
    """Every ip configuration of the model's network interfaces, primary interface first."""
    interfaces = (profile.get("networkProfile") or {}).get("networkInterfaceConfigurations") or []
    ordered = sorted(interfaces, key=lambda nic: not (nic.get("properties") or {}).get("primary"))
    return [
        configuration
        for nic in ordered
        for configuration in (nic.get("properties") or {}).get("ipConfigurations") or []
    ]


def pools_of(profile):
    """The backend pool ids the model's ip configurations name, in order, once each."""
    found = []
    for configuration in ip_configurations(profile):
        for pool in (configuration.get("properties") or {}).get("loadBalancerBackendAddressPools") or []:
            if pool.get("id") and pool["id"] not in found:
                found.append(pool["id"])
    return found


def subnets_of(profile):
    found = []
    for configuration in ip_configurations(profile):
        subnet = ((configuration.get("properties") or {}).get("subnet") or {}).get("id")
        if subnet and subnet not in found:
            found.append(subnet)
    return found


def launch_of(reference):
    """The launch (image reference) a model's ``imageReference`` names, or None."""
    reference = reference or {}
    if reference.get("id"):
        return reference["id"]
    if all(reference.get(part) for part in MARKETPLACE_PARTS):
        return ":".join(reference[part] for part in MARKETPLACE_PARTS)
    return None


def image_reference(launch):
    """The ``imageReference`` of a launch: ``{"id": ...}`` or the marketplace URN's four parts."""
    if launch.startswith("/"):
        return {"id": launch}
    parts = launch.split(":")
    if len(parts) != len(MARKETPLACE_PARTS) or not all(parts):
        raise InvalidInput(
            "%r is neither an image resource id nor a marketplace image publisher:offer:sku:version" % launch,
            resource=launch,
        )
    return dict(zip(MARKETPLACE_PARTS, parts))


def image_definition(launch):
    """(resource group, gallery, image) when the launch is a gallery image definition (its latest version)."""
    match = IMAGE_DEFINITION.match(launch or "")
    return (match.group("group"), match.group("gallery"), match.group("image")) if match else None


def latest_version(versions):
    """The id of the version ``.../images/NAME`` resolves to: the highest succeeded one not excluded from latest."""
    candidates = [
        version
        for version in versions
        if (version.get("properties") or {}).get("provisioningState") == "Succeeded"
        and not ((version["properties"].get("publishingProfile") or {}).get("excludeFromLatest"))
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda version: tuple(int(part) for part in version["name"].split(".")))["id"]


# What ARM fills in on a scale set: not sent back when a new one copies it.
SCALE_SET_OUTPUTS = ("provisioningState", "uniqueId", "timeCreated")
IDENTITY_OUTPUTS = ("principalId", "tenantId")


def new_group_body(base, tags, backends):
    """A scale set of capacity 0 copying the base (its model and settings, its identity and zones) with its
    primary IP configuration in ``backends`` (pool ids) only and no other pool, carrying ``tags``."""
    properties = {key: value for key, value in (base.get("properties") or {}).items() if key not in SCALE_SET_OUTPUTS}
    properties = copy.deepcopy(properties)
    profile = properties.setdefault("virtualMachineProfile", {})
    profile.pop("timeCreated", None)
    configurations = ip_configurations(profile)
    primary = next(
        (index for index, item in enumerate(configurations) if (item.get("properties") or {}).get("primary")), 0
    )
    for index, configuration in enumerate(configurations):
        settings = configuration.setdefault("properties", {})
        settings["loadBalancerBackendAddressPools"] = [{"id": pool} for pool in backends] if index == primary else []
    sku = {key: value for key, value in (base.get("sku") or {}).items() if key in ("name", "tier") and value}
    body = {"location": base["location"], "sku": dict(sku, capacity=0), "tags": dict(tags), "properties": properties}
    for setting in ("zones", "plan", "extendedLocation"):
        if base.get(setting):
            body[setting] = copy.deepcopy(base[setting])
    if base.get("identity"):
        identity = copy.deepcopy({key: value for key, value in base["identity"].items() if key not in IDENTITY_OUTPUTS})
        for assigned in (identity.get("userAssignedIdentities") or {}).values():
            for output in IDENTITY_OUTPUTS + ("clientId",):
                (assigned or {}).pop(output, None)
        body["identity"] = identity
    return body


def users_tags(tags):
    """The tags of the base that are not the collection's (the user's own: cost centre, owner ...)."""
    return {key: value for key, value in (tags or {}).items() if AZURE_CODEC.parts(key) is None}


# -- the rollout record ----------------------------------------------------------------------------


def _record_field(key):
    """The record field a tag key belongs to (plain or a chunk), or None."""
    parts = AZURE_CODEC.parts(key)
    if not parts or parts[0] != RECORD or len(parts) not in (2, 3) or parts[1] not in FIELDS:
        return None
    return parts[1]


def record_of(tags):
    """The RolloutRecord the tags hold, or None when they hold none of it."""
    tags = tags or {}
    values = {}
    for key, value in tags.items():
        parts = AZURE_CODEC.parts(key)
        if parts and len(parts) == 2 and _record_field(key):
            values[parts[1]] = value
    for group, chunks in AZURE_CODEC.chunk_groups(RECORD, tags, 1).items():
        if group[0] in FIELDS and group[0] not in values:
            try:
                data = AZURE_CODEC.decode_value([chunks[number][1] for number in sorted(chunks)])
            except ValueError:
                continue
            values[group[0]] = data.decode("utf-8")
    return RolloutRecord.from_record(values) if values else None


def field_tags(name, value, resource):
    """{key: value} of one record field: one tag, or chunks when the value is longer than a tag's."""
    if AZURE_CODEC.fits(value):
        return {AZURE_CODEC.key(RECORD, name): value}
    # A refusal names the field: it is the field the user can shorten.
    return AZURE_CODEC.chunks(RECORD, (name,), value.encode("utf-8"), "%s (record field %s)" % (resource, name))


def record_tags(record, fields, resource):
    """{key: value} of ``fields`` (all set fields when None) of ``record``; fields without a value are left out."""
    tags = {}
    for name, value in record.to_record(fields).items():
        if value is not None:
            tags.update(field_tags(name, value, resource))
    return tags


def without_fields(tags, fields):
    """``tags`` without any tag (plain or chunk) of the record ``fields``."""
    names = set(fields)
    return {key: value for key, value in (tags or {}).items() if _record_field(key) not in names}


# -- instances -------------------------------------------------------------------------------------


def statuses_of(vm):
    view = (vm.get("properties") or {}).get("instanceView") or {}
    return [status.get("code") or "" for status in view.get("statuses") or []]


def power_of(vm):
    for code in statuses_of(vm):
        if code.startswith("PowerState/"):
            return code.split("/", 1)[1]
    return None


def health_of(vm):
    view = (vm.get("properties") or {}).get("instanceView") or {}
    return ((view.get("vmHealth") or {}).get("status") or {}).get("code")


def instance_from_vm(vm):
    """A scale set instance as the core's Instance: in service when made and running; healthy by its health
    probe (``vmHealth``), or in service when the scale set reports no health."""
    in_service = (vm.get("properties") or {}).get("provisioningState") == "Succeeded" and power_of(vm) in (
        "running",
        None,
    )
    health = health_of(vm)
    return Instance(id=vm["id"], in_service=in_service, healthy=in_service and (health in (None, HEALTHY)))


def group_from_scale_set(scale_set, members):
    properties = scale_set.get("properties") or {}
    profile = profile_of(scale_set)
    size = int((scale_set.get("sku") or {}).get("capacity") or 0)
    return Group(
        name=scale_set["name"],
        size=size,
        min_size=size,
        max_size=size,
        launch=launch_of((profile.get("storageProfile") or {}).get("imageReference")),
        backends=pools_of(profile),
        instances=[instance_from_vm(vm) for vm in members],
        record=record_of(scale_set.get("tags")),
        tags=dict(scale_set.get("tags") or {}),
        subnets=subnets_of(profile),
        deleting=properties.get("provisioningState") == "Deleting",
    )


def booted_image(reference):
    """The image an instance booted: a definition reference completed with its ``exactVersion``."""
    reference = reference or {}
    image = launch_of(reference)
    if image and reference.get("exactVersion") and image_definition(image):
        return "%s/versions/%s" % (image, reference["exactVersion"])
    return image


def scale_set_of(instance_id):
    """(scale set name, instance id) of a scale set instance's resource id, or None for anything else."""
    match = SCALE_SET_VM.match(instance_id or "")
    return (match.group("name"), match.group("instance")) if match else None


def _launched(properties):
    created = properties.get("timeCreated")
    return format_utc(parse_utc(created, "creation time")) if created else None


def instance_subnets(vm):
    """The subnets of a scale set instance's applied model (``networkProfileConfiguration``)."""
    configuration = (vm.get("properties") or {}).get("networkProfileConfiguration") or {}
    return subnets_of({"networkProfile": configuration})


def observed_scale_set_vm(vm, scale_set_name):
    properties = vm.get("properties") or {}
    power = power_of(vm)
    return Observed(
        id=vm["id"],
        image_id=booted_image((properties.get("storageProfile") or {}).get("imageReference")),
        launched=_launched(properties),
        state=POWER_STATES.get(power) or PROVISIONING_STATES.get(properties.get("provisioningState"), "starting"),
        group=scale_set_name,
        subnet=next(iter(instance_subnets(vm)), None),
        tags=dict(vm.get("tags") or {}),
    )


def observed_vm(vm, subnet=None):
    properties = vm.get("properties") or {}
    return Observed(
        id=vm["id"],
        image_id=booted_image((properties.get("storageProfile") or {}).get("imageReference")),
        launched=_launched(properties),
        state=PROVISIONING_STATES.get(properties.get("provisioningState"), "starting"),
        group=None,
        subnet=subnet,
        tags=dict(vm.get("tags") or {}),
    )
