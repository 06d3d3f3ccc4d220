# Private to this collection.
"""What a builder is on Azure, from ARM's JSON: the names of a builder's resources and the core's Builder of a
VM (its instance view expanded), its primary NIC and public address."""

from __future__ import annotations

import hashlib
import re

from .._core import tags as tagging
from .._core.builders import BUILDER_FAILED, RUNNING, STARTING, STOPPED, STOPPING, Builder
from .._core.timeutil import format_utc, parse_utc
from .codec import AZURE_CODEC

BUILDER_TAG = AZURE_CODEC.key(tagging.BUILDER)
EXPIRES_TAG = AZURE_CODEC.key(tagging.EXPIRES_AT)
ACCESS_RULE_TAG = AZURE_CODEC.key(tagging.BUILDER_ACCESS_RULE)
SSH_KEY_TAG = AZURE_CODEC.key(tagging.BUILDER_SSH_KEY)
KEY_COMMENT = "phoenix"
RESOURCE_PREFIX = "phoenix-builder-"
KEY_PREFIX = "phoenix-builder-key-"
KEY_STEM = re.compile(re.escape(KEY_PREFIX) + r"[0-9a-f]{24}\Z")
# A Linux VM's name is its host name: letters, digits and hyphens, at most 64 (lower case here).
LEGAL_NAME = re.compile(r"[a-z]([-a-z0-9]{0,62}[a-z0-9])?\Z")
ILLEGAL_RUN = re.compile(r"[^a-z0-9-]+")
DIGEST_LENGTH = 8
# The parts of a builder, named after its VM (at most 64 + 7 characters: within Network's and Compute's 80).
NIC_SUFFIX = "-nic"
ADDRESS_SUFFIX = "-ip"
DISK_SUFFIX = "-osdisk"
NSG_SUFFIX = "-nsg"

# https://learn.microsoft.com/azure/virtual-machines/states-billing: the power state of the instance view,
# read once the VM's provisioning succeeded.
POWER_STATES = {
    "starting": STARTING,
    "running": RUNNING,
    "stopping": STOPPING,
    "deallocating": STOPPING,
    "stopped": STOPPED,
    "deallocated": STOPPED,
}


def resource_name(name):
    """``phoenix-builder-<name>`` as a legal VM (and host) name; a digest of ``name`` is added whenever it had
    to change (illegal characters or too long), so two builder names never share a resource name."""
    wanted = RESOURCE_PREFIX + name
    if LEGAL_NAME.match(wanted):
        return wanted
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:DIGEST_LENGTH]
    cleaned = ILLEGAL_RUN.sub("-", wanted.lower())[: 64 - DIGEST_LENGTH - 1].rstrip("-")
    return "%s-%s" % (cleaned, digest)


def key_stem(key_ref):
    """The file name (and tag value) of the key made for a builder, from its public key or as tagged; None for
    anything else (a tag is anyone's to write: it never names a file outside the key directory)."""
    if key_ref.startswith("ssh-"):
        blob = key_ref.split()[1] if len(key_ref.split()) > 1 else key_ref
        return KEY_PREFIX + hashlib.sha256(blob.encode("ascii")).hexdigest()[:24]
    return key_ref if KEY_STEM.match(key_ref) else None


def properties_of(resource):
    return (resource or {}).get("properties") or {}


def same_name(left, right):
    """ARM's ids and names are case-insensitive."""
    return (left or "").lower() == (right or "").lower()


def _power_state(vm):
    statuses = properties_of(vm).get("instanceView", {}).get("statuses") or []
    codes = [status.get("code", "") for status in statuses]
    return next((code.split("/", 1)[1] for code in codes if code.startswith("PowerState/")), None)


def _state(vm):
    provisioning = properties_of(vm).get("provisioningState")
    if provisioning == "Failed":
        return BUILDER_FAILED
    if provisioning == "Deleting":
        return STOPPING
    if provisioning != "Succeeded":
        return STARTING  # Creating, or Updating: ARM's own work on it is not done
    return POWER_STATES.get(_power_state(vm), STARTING)


def _state_reason(vm):
    statuses = properties_of(vm).get("instanceView", {}).get("statuses") or []
    errors = [
        status.get("message") or status.get("displayStatus") for status in statuses if status.get("level") == "Error"
    ]
    return "; ".join(item for item in errors if item) or None


def _image_id(reference):
    """The image as launch was given it: an image id, or a marketplace URN ``publisher:offer:sku:version``."""
    if reference.get("id"):
        return reference["id"]
    parts = [reference.get(part) or "" for part in ("publisher", "offer", "sku", "version")]
    return ":".join(parts) if any(parts) else ""


def image_reference(image_id):
    if image_id.count(":") == 3 and "/" not in image_id:
        publisher, offer, sku, version = image_id.split(":")
        return {"publisher": publisher, "offer": offer, "sku": sku, "version": version}
    return {"id": image_id}


def builder_from_vm(vm, location, nic=None, address=None):
    """The core's Builder from an ARM VM (its instance view expanded), its primary NIC and public address."""
    properties = properties_of(vm)
    tags = dict(vm.get("tags") or {})
    configuration = (properties_of(nic).get("ipConfigurations") or [{}])[0]
    keys = ((properties.get("osProfile") or {}).get("linuxConfiguration") or {}).get("ssh", {}).get("publicKeys")
    created = properties.get("timeCreated")
    return Builder(
        cloud="azure",
        id=vm["id"],
        name=tags.get(BUILDER_TAG, ""),
        region=location,
        state=_state(vm),
        image_id=_image_id((properties.get("storageProfile") or {}).get("imageReference") or {}),
        machine_type=(properties.get("hardwareProfile") or {}).get("vmSize", ""),
        subnet=(properties_of(configuration).get("subnet") or {}).get("id", ""),
        private_address=properties_of(configuration).get("privateIPAddress"),
        public_address=properties_of(address).get("ipAddress"),
        access_rule_id=(properties_of(nic).get("networkSecurityGroup") or {}).get("id") or tags.get(ACCESS_RULE_TAG),
        ssh_key=(keys or [{}])[0].get("keyData"),
        owned_access_rule=tags.get(ACCESS_RULE_TAG),
        owned_ssh_key=tags.get(SSH_KEY_TAG),
        expires_at=tags.get(EXPIRES_TAG),
        launched=format_utc(parse_utc(created)) if created else "",
        tags=tags,
        state_reason=_state_reason(vm),
    )
