# Private to this collection.
"""Every tag or label the collection writes, and each cloud's metadata limits."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InvalidInput

# The names of what the collection stores; each cloud's codec (``codec.MetadataCodec``, in its adapter) turns a
# name and its parts into a tag or label key: ``backend.codec.key(MANAGED)``.
MANAGED = "managed"
SOURCE_IMAGE = "source-image"
SOURCE_INSTANCE = "source-instance"
COPIED_FROM = "copied-from"
# The image family, where the cloud has none of its own (AWS): what GCP keeps in the image's family field.
FAMILY = "family"
# Builders (bake): what a builder is called and when it may be reaped, on the instance and on each
# resource made for it; on the instance, which access rule and SSH key were made for it (each codec may
# write these under older names of its own: AWS keeps builder-security-group and builder-key).
BUILDER = "builder"
EXPIRES_AT = "expires-at"
BUILDER_ACCESS_RULE = "builder-access-rule"
BUILDER_SSH_KEY = "builder-ssh-key"
# Signatures (image_sign): a DSSE envelope per signing key, chunked across the keys
# (SIGNATURE, <first 16 hex digits of the keyid>, <chunk number>); see _core/signatures.py.
SIGNATURE = "sig"
# Scan attestations (image_attest): a DSSE envelope per predicate kind (sbom, vuln, compliance) and key,
# chunked as signatures are: (ATTESTATION, <kind>, <keyid digits>, <chunk number>); see _scan/attest.py.
ATTESTATION = "att"

# Rollouts (blue_green): the rollout's record (rollout_model.RolloutRecord) lives on the groups, written by
# each adapter's RolloutStore; the backend made for a new group carries the service it belongs to.
SERVICE = "service"

# Channels (image_channel, golden_image): promotions in the keys (PROMOTION, <channel>, <keyid digits>, <chunk>);
# see _core/channels.py. image_prune keeps the images named by the rollout records of services' groups.
PROMOTION = "promo"


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
