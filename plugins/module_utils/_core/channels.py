# Private to this collection.
"""Channels: an image is promoted to a channel (dev, staging, prod) by a signed promotion statement.

A promotion is an in-toto Statement v1 whose subject is the image's descriptor digest (as for a build
signature) and whose predicate names the channel and the image's family:

    {"_type": "https://in-toto.io/Statement/v1",
     "subject": [{"name": "aws:us-east-1:ami-…", "digest": {"sha256": "<descriptor digest>"}}],
     "predicateType": "urn:phoenix-immutable:promotion:v1",
     "predicate": {"channel": "prod", "family": "web"}}

It is signed as a DSSE envelope by one of the trust policy's ``promoters`` and stored in the image's own
tags, one envelope per channel and key, compressed and chunked as signatures are, under the keys

    codec.key(PROMOTION, <channel>, <first 16 hex digits of the keyid>, <chunk number>)

(each adapter's codec says how it writes them). The codec parses a key back into its parts, so a channel
named ``pre-prod`` reads back as itself on every cloud.

Withdrawing a promotion removes that channel's tags. The image of a channel is the newest image of the
family whose promotion verifies and which itself satisfies the trust policy. No I/O here but the
backend's.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from . import dsse, keys
from .canonical import canonical_json, sha256_hex
from .descriptor import descriptor_digest, subject_name
from .errors import InvalidInput, PhoenixError
from .model import AVAILABLE, newest_first
from .policy import evaluate
from .signatures import keyid_digits, keys_of, pack_envelope, read_chunked, stored_form
from .signing import existing_image
from .statement import STATEMENT_TYPE, subjects_of
from .tags import PROMOTION

PROMOTION_TYPE = "urn:phoenix-immutable:promotion:v1"
CHANNEL_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
FAMILY_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._()/-]{0,127}$")
# The version part of an image name: the first hyphen-separated part that starts with a digit, and the rest.
VERSION_SUFFIX = re.compile(r"-[0-9].*$")

# Why an image of a channel does not count.
NOT_PROMOTED = "not promoted"
PROMOTION_INVALID = "promotion not valid"


# -- families ------------------------------------------------------------------------------------------


def family_of(image):
    """The family of an image: its name without the version suffix.

    ``web-2026-11-24-1`` and ``web-42`` are of family ``web``; ``web-api-3`` of ``web-api``; a name with no
    version part is a family of its own.
    """
    return VERSION_SUFFIX.sub("", image.name or "") or image.name


def validate_family(family):
    if not isinstance(family, str) or not FAMILY_PATTERN.match(family) or "*" in family:
        raise InvalidInput(
            "image family %r must be 1 to 128 letters, digits or . _ - ( ) /, without wildcards" % (family,),
            resource=str(family),
            hint="Name the family as images are named before their version: web for web-2026-11-24-1.",
        )
    return family


def family_images(backend, family):
    """The caller's images of ``family``, newest first, in one listing (paged)."""
    validate_family(family)
    found = backend.search(name_pattern="%s*" % family)
    return newest_first(image for image in found if family_of(image) == family)


def validate_channel(channel):
    if not isinstance(channel, str) or not CHANNEL_PATTERN.match(channel):
        raise InvalidInput(
            "channel %r must be 1 to 32 lower-case letters, digits, - or _, starting with a letter or digit"
            % (channel,),
            resource=str(channel),
            hint="For example dev, staging or prod.",
        )
    return channel


# -- tags ----------------------------------------------------------------------------------------------


def promotion_tags(codec, channel, keyid, envelope, resource="the image"):
    """The tags that store the promotion ``envelope`` to ``channel`` signed by ``keyid``."""
    return codec.chunks(
        PROMOTION, (channel, keyid_digits(keyid)), pack_envelope(stored_form(codec, envelope)), resource
    )


@dataclass
class StoredPromotion:
    channel: str
    key_prefix: str
    tag_keys: list
    envelope: dict = None
    error: str = None


def stored_promotions(codec, image, tags=None):
    """{channel: [StoredPromotion]} of every promotion envelope in an image's tags (or in ``tags``)."""
    found = {}
    tags = image.tags if tags is None else tags
    for stored in read_chunked(codec, PROMOTION, 2, tags, "promotion tags of", _promotion_rebuilder(image)):
        channel, digits = stored.group
        promotion = StoredPromotion(
            channel=channel, key_prefix=digits, tag_keys=stored.tag_keys, envelope=stored.envelope, error=stored.error
        )
        found.setdefault(channel, []).append(promotion)
    return found


def promoted_channels(codec, image):
    """Channels an image carries promotion tags for, verified or not (what retention must not guess about)."""
    return sorted(stored_promotions(codec, image))


def current_by_channel(codec, images):
    """{channel: newest image carrying promotion tags for it}, without verifying: retention's view."""
    current = {}
    for image in newest_first(images):
        if image.state != AVAILABLE:
            continue
        for channel in promoted_channels(codec, image):
            current.setdefault(channel, image)
    return current


# -- the statement -------------------------------------------------------------------------------------


def promotion_statement(image, channel):
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": subject_name(image), "digest": {"sha256": descriptor_digest(image)}}],
        "predicateType": PROMOTION_TYPE,
        "predicate": {"channel": channel, "family": family_of(image)},
    }


def _promotion_rebuilder(image):
    """How the payload of a detached promotion is rebuilt: the statement promoting ``image`` to the group's channel."""
    return lambda group: lambda _kept: canonical_json(promotion_statement(image, group[0]))


# -- promoters -----------------------------------------------------------------------------------------


def resolve_promoters(policy, key_source=None):
    """The policy's promoters with the public keys of cloud KMS keys fetched (once)."""
    if not policy.promoters:
        raise InvalidInput(
            "the trust policy %s names no promoters, so nothing can be promoted to a channel or read from one"
            % policy.source,
            resource=policy.source,
            hint="Add promoters: (keys like those under keys:) to the policy; see docs/signing.md.",
        )
    for promoter in policy.promoters:
        if promoter.public_key is None and promoter.kms_key:
            if key_source is None:
                raise InvalidInput(
                    "%s names the KMS key %s as a promoter but no cloud key service is available"
                    % (policy.source, promoter.kms_key),
                    resource=promoter.kms_key,
                )
            info = key_source.describe_public_key(promoter.kms_key, promoter.region)
            promoter.public_key = keys.load_public_key(info["public_key_der"], resource="KMS key %s" % promoter.kms_key)
            promoter.enabled = info.get("enabled", True)
            promoter.detail = info.get("state", "")
    return policy.promoters


def needs_key_service(policy):
    return any(key.public_key is None for key in list(policy.keys) + list(policy.promoters))


# -- verdicts ------------------------------------------------------------------------------------------


@dataclass
class PromotionCheck:
    valid: bool
    reason: str = None
    detail: str = ""
    promoter: str = None
    keyid: str = None
    statement: dict = None


def check_promotion(codec, image, channel, promoters):
    """Whether a promoter's valid signature promotes ``image`` (as it is now) to ``channel``."""
    stored = stored_promotions(codec, image).get(channel, [])
    if not stored:
        return PromotionCheck(False, NOT_PROMOTED, "image %s carries no promotion to %s" % (image.id, channel))
    live_digest = descriptor_digest(image)
    closest = None
    for entry in stored:
        if entry.error:
            closest = closest or PromotionCheck(False, PROMOTION_INVALID, entry.error)
            continue
        parsed = dsse.parse(entry.envelope)
        for signed_keyid, signature in parsed.signatures:
            promoter = next(
                (
                    key
                    for key in promoters
                    if key.public_key is not None and keys.verify(key.public_key, parsed.pae(), signature)
                ),
                None,
            )
            if promoter is None:
                closest = closest or PromotionCheck(
                    False,
                    PROMOTION_INVALID,
                    "the promotion to %s signed as %s… is not by a promoter of the policy"
                    % (channel, signed_keyid[:16]),
                )
                continue
            if not promoter.enabled:
                closest = PromotionCheck(
                    False, PROMOTION_INVALID, "promoter %s is %s" % (promoter.name, promoter.detail or "disabled")
                )
                continue
            problem, statement = _statement_problem(parsed, live_digest, channel)
            if problem:
                closest = PromotionCheck(False, PROMOTION_INVALID, "%s (promoted by %s)" % (problem, promoter.name))
                continue
            return PromotionCheck(
                True,
                promoter=promoter.name,
                keyid=promoter.keyid,
                statement=statement,
                detail="promoted by %s" % promoter.name,
            )
    return closest


def _statement_problem(parsed, live_digest, channel):
    if parsed.payload_type != dsse.PAYLOAD_TYPE:
        return "payloadType %r is not an in-toto statement" % parsed.payload_type, None
    try:
        statement = json.loads(parsed.payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return "the promotion payload is not JSON", None
    if not isinstance(statement, dict) or statement.get("predicateType") != PROMOTION_TYPE:
        return "the signed statement is not a promotion", None
    if live_digest not in [digest for _name, digest in subjects_of(statement)]:
        return "the promotion was signed for another image (descriptor mismatch)", statement
    if (statement.get("predicate") or {}).get("channel") != channel:
        return "the promotion names channel %r" % (statement.get("predicate") or {}).get("channel"), statement
    return None, statement


# -- promote / withdraw --------------------------------------------------------------------------------


@dataclass
class ChannelOutcome:
    changed: bool = False
    image_id: str = None
    region: str = None
    channel: str = None
    promoted: bool = False
    promoter: str = None
    keyid: str = None
    statement: dict = None
    statement_digest: str = None
    verification: dict = None
    channels: list = field(default_factory=list)
    tags_set: list = field(default_factory=list)
    tags_removed: list = field(default_factory=list)
    actions: list = field(default_factory=list)
    before: dict = None
    after: dict = None

    def to_dict(self):
        return {
            "changed": self.changed,
            "image_id": self.image_id,
            "region": self.region,
            "channel": self.channel,
            "promoted": self.promoted,
            "promoter": self.promoter,
            "keyid": self.keyid,
            "statement": self.statement,
            "statement_digest": self.statement_digest,
            "verification": self.verification,
            "channels": self.channels,
            "tags_set": self.tags_set,
            "tags_removed": self.tags_removed,
            "actions": self.actions,
        }


def promote(backend, image_id, channel, signer, policy, check_mode=False, now=None, store=None):
    """Promote the image to ``channel``, signed by ``signer`` (one of the policy's resolved promoters).

    The image must satisfy the trust policy first (its scan gates read ``store``, a BlobStore or None).
    Idempotent: an existing valid promotion to the channel by the same key changes nothing.
    """
    validate_channel(channel)
    promoters = policy.promoters
    if signer.keyid not in {promoter.keyid for promoter in promoters if promoter.public_key is not None}:
        raise InvalidInput(
            "the promotion key %s (keyid %s…) is not one of the promoters of %s"
            % (signer.name, signer.keyid[:16], policy.source),
            resource=signer.name,
            hint="Sign with a key listed under promoters: in the trust policy, or add its public key there.",
        )
    codec = backend.codec
    image = existing_image(backend, image_id)
    outcome = ChannelOutcome(image_id=image.id, region=image.region, channel=channel, keyid=signer.keyid)
    outcome.before = {"channels": promoted_channels(codec, image)}
    verdict = evaluate(policy, image, codec, now=now, store=store)
    outcome.verification = verdict.to_dict()
    if not verdict.verified:
        raise PhoenixError(
            "refusing to promote %s to %s: %s" % (image.id, channel, verdict.message),
            resource=image.id,
            code="ImageNotVerified",
            cloud=backend.cloud,
            hint="Only an image that satisfies the trust policy can be promoted; sign it with a trusted key first.",
            details={"verification": verdict.to_dict()},
        )
    statement = promotion_statement(image, channel)
    payload = canonical_json(statement)
    outcome.statement = statement
    outcome.statement_digest = sha256_hex(payload)
    existing = check_promotion(codec, image, channel, [key for key in promoters if key.keyid == signer.keyid])
    if existing is not None and existing.valid:
        outcome.promoted = True
        outcome.promoter = existing.promoter
        outcome.channels = outcome.before["channels"]
        outcome.after = outcome.before
        return outcome
    if check_mode:
        placeholder = b"\0" * keys.MAX_SIGNATURE_LENGTH.get(signer.algorithm, 128)
        envelope = dsse.envelope(payload, [(signer.keyid, placeholder)])
    else:
        pae = dsse.pae(dsse.PAYLOAD_TYPE, payload)
        signature = signer.sign(pae)
        if not keys.verify(signer.public_key, pae, signature):
            raise PhoenixError(
                "the promotion signature made by %s does not verify with its own public key" % signer.name,
                resource=signer.name,
                code="SignatureSelfCheckFailed",
                hint="Nothing was stored. Check that the key is an ECC_NIST_P256 or Ed25519 signing key.",
            )
        envelope = dsse.envelope(payload, [(signer.keyid, signature)])
    limits = codec.limits
    wanted = promotion_tags(codec, channel, signer.keyid, envelope, "image %s in %s" % (image.id, image.region))
    old = set(keys_of(codec, image.tags, PROMOTION, (channel, keyid_digits(signer.keyid))))
    to_set = {key: value for key, value in wanted.items() if image.tags.get(key) != value}
    to_remove = sorted(old - set(wanted))
    final = set(image.tags) - set(to_remove) | set(wanted)
    if len(final) > limits.max_tags:
        raise InvalidInput(
            "cannot store the promotion of %s to %s: it needs %d tags and the image would have %d, at most %d allowed"
            % (image.id, channel, len(wanted), len(final), limits.max_tags),
            resource=image.id,
            hint="Nothing was changed. Withdraw promotions to channels the image no longer needs, or remove tags.",
        )
    outcome.actions.append({"action": "promote", "image_id": image.id, "channel": channel, "keyid": signer.keyid})
    if not check_mode:
        backend.set_tags(image, to_set, to_remove)
    outcome.changed = True
    outcome.promoted = True
    outcome.promoter = next((key.name for key in promoters if key.keyid == signer.keyid), signer.name)
    outcome.tags_set = sorted(wanted)
    outcome.tags_removed = to_remove
    outcome.channels = sorted(set(outcome.before["channels"]) | {channel})
    outcome.after = {"channels": outcome.channels}
    return outcome


def withdraw(backend, image_id, channel, check_mode=False):
    """Remove every promotion of the image to ``channel``; an image not promoted there changes nothing."""
    validate_channel(channel)
    codec = backend.codec
    image = existing_image(backend, image_id)
    outcome = ChannelOutcome(image_id=image.id, region=image.region, channel=channel)
    outcome.before = {"channels": promoted_channels(codec, image)}
    to_remove = sorted(keys_of(codec, image.tags, PROMOTION, (channel,)))
    outcome.channels = [name for name in outcome.before["channels"] if name != channel]
    outcome.after = {"channels": outcome.channels}
    if not to_remove:
        return outcome
    outcome.actions.append({"action": "withdraw", "image_id": image.id, "channel": channel})
    if not check_mode:
        backend.set_tags(image, {}, to_remove)
    outcome.changed = True
    outcome.tags_removed = to_remove
    return outcome


# -- reading a channel ---------------------------------------------------------------------------------


@dataclass
class Candidate:
    image: object
    reason: str = None
    detail: str = ""


@dataclass
class ChannelImage:
    """The image of a channel: the image, its trust verdict and the promotion that counts."""

    family: str
    channel: str
    image: object
    verification: object
    promotion: PromotionCheck
    skipped: list = field(default_factory=list)

    def to_dict(self):
        model = self.image.to_dict()
        model.update(
            family=self.family,
            channel=self.channel,
            promoted_by=self.promotion.promoter,
            promotion_keyid=self.promotion.keyid,
            verification=self.verification.to_dict(),
            skipped=[
                {"image_id": item.image.id, "name": item.image.name, "reason": item.reason, "detail": item.detail}
                for item in self.skipped
            ],
        )
        return model


def channel_image(codec, images, family, channel, policy, now=None, store=None):
    """The newest of ``images`` (of ``family``) validly promoted to ``channel`` that satisfies ``policy``.

    ``codec`` reads the images' tags; ``policy`` has its keys and promoters resolved; ``store`` (a BlobStore
    or None) is what the policy's scan gates read attestations from. Raises PhoenixError
    naming each candidate's reason when none qualifies.
    """
    validate_channel(channel)
    promoters = policy.promoters
    skipped = []
    for image in newest_first(images):
        if channel not in promoted_channels(codec, image):
            continue
        if image.state != AVAILABLE:
            skipped.append(Candidate(image, "not available", "the image is %s" % image.state))
            continue
        promotion = check_promotion(codec, image, channel, promoters)
        if not promotion.valid:
            skipped.append(Candidate(image, promotion.reason, promotion.detail))
            continue
        verdict = evaluate(policy, image, codec, now=now, store=store)
        if not verdict.verified:
            skipped.append(Candidate(image, verdict.reason, verdict.message))
            continue
        return ChannelImage(family, channel, image, verdict, promotion, skipped)
    if skipped:
        reasons = "; ".join(
            "%s (%s): %s" % (item.image.id, item.image.name, item.reason)
            + (" - %s" % item.detail if item.reason == PROMOTION_INVALID else "")
            for item in skipped
        )
        message = "no image of %s promoted to %s satisfies the trust policy %s: %s" % (
            family,
            channel,
            policy.source,
            reasons,
        )
    else:
        message = "no image of %s is promoted to %s (%d image(s) of that family found)" % (
            family,
            channel,
            len(images),
        )
    raise PhoenixError(
        message,
        resource="%s@%s" % (family, channel),
        code="NoChannelImage",
        hint="Promote a signed image with phoenix.immutable.image_channel, or check the family, channel and region.",
        details={
            "skipped": [
                {"image_id": item.image.id, "name": item.image.name, "reason": item.reason, "detail": item.detail}
                for item in skipped
            ]
        },
    )
