# Private to this collection.
"""Every tag or label the collection writes, and each cloud's metadata limits."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InvalidInput

# AWS and Azure accept ':' in keys; GCP label keys allow only [a-z0-9_-].
TAG_PREFIX = {"aws": "phoenix:", "azure": "phoenix:", "gcp": "phoenix-"}

MANAGED = "managed"
SOURCE_IMAGE = "source-image"
SOURCE_INSTANCE = "source-instance"
COPIED_FROM = "copied-from"
# Builders (bake): what a builder is called and when it may be reaped, on the instance and on each
# resource made for it; on the instance, which security group and key pair were made for it.
BUILDER = "builder"
EXPIRES_AT = "expires-at"
BUILDER_SECURITY_GROUP = "builder-security-group"
BUILDER_KEY = "builder-key"
# Signatures (image_sign): a DSSE envelope per signing key, chunked across tags named
# <prefix>sig<sep><first 16 hex digits of the keyid><sep><chunk number>; see _core/signatures.py.
SIGNATURE = "sig"

# Rollouts (blue_green): all rollout state lives in these tags on the groups, so any controller resumes.
SERVICE = "service"
ROLE = "role"
IMAGE = "image"
ROLLOUT = "rollout"
PHASE = "phase"
PHASE_AT = "phase-at"
WEIGHT = "weight"
OWNER = "owner"
LEASE_UNTIL = "lease-until"
FROM_IMAGE = "from-image"
BLUE_GROUP = "blue-group"
BLUE_SIZE = "blue-size"
BLUE_TARGET = "blue-target"
BLUE_TEMPLATE_VERSION = "blue-template-version"
TEMPLATE_VERSION = "template-version"
SERVING_SINCE = "serving-since"
PAUSED_IN = "paused-in"
REASON = "reason"
PREVIOUS_IMAGE = "previous-image"
ROLLED_BACK_FROM = "rolled-back-from"
SIZE = "size"
TEMPLATE_ID = "template-id"

# Channels (image_channel, golden_image): promotions <prefix>promo<sep><channel><sep><keyid digits><sep><chunk>;
# see _core/channels.py. image_prune keeps the images named by SERVICE groups' IMAGE, PREVIOUS_IMAGE, FROM_IMAGE.
PROMOTION = "promo"


def tag_key(cloud, name):
    return TAG_PREFIX[cloud] + name


@dataclass(frozen=True)
class TagLimits:
    max_tags: int
    max_key_length: int
    max_value_length: int
    reserved_prefixes: tuple = ()


def validate_tags(tags, limits, resource):
    """Refuse, before any call, a tag set the cloud would reject or silently mangle."""
    problems = []
    if len(tags) > limits.max_tags:
        problems.append("%d tags, at most %d allowed" % (len(tags), limits.max_tags))
    for key, value in sorted(tags.items()):
        if not key:
            problems.append("an empty tag key")
        elif len(key) > limits.max_key_length:
            problems.append("tag key %r is %d characters, at most %d" % (key[:40], len(key), limits.max_key_length))
        if any(key.lower().startswith(prefix) for prefix in limits.reserved_prefixes):
            problems.append("tag key %r uses a reserved prefix" % key)
        if len(value) > limits.max_value_length:
            problems.append(
                "tag %r has a value of %d characters, at most %d" % (key, len(value), limits.max_value_length)
            )
    if problems:
        raise InvalidInput(
            "invalid tags for %s: %s" % (resource, "; ".join(problems)),
            resource=resource,
            hint="Nothing was changed; fix the tags and run again.",
        )


def tag_changes(current, wanted, purge):
    """What to add or change and what to remove to go from ``current`` to ``wanted``."""
    to_set = {key: value for key, value in wanted.items() if current.get(key) != value}
    to_remove = sorted(key for key in current if key not in wanted) if purge else []
    return to_set, to_remove
