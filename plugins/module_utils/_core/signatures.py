# Private to this collection.
"""Signatures stored in the image's own tags (AWS, Azure) or labels (GCP), within the cloud's limits.

One DSSE envelope per signing key. The envelope's canonical JSON is compressed (zlib), written by the
cloud's codec (``codec.MetadataCodec``) as legal values and cut into chunks no longer than its value limit,
one tag each, under the keys ``codec.key(SIGNATURE, <first 16 hex digits of the keyid>, <chunk number>)``
(each adapter's codec says how it writes them, e.g. ``_aws/codec.py``).

Reading joins a key's chunks in order, decodes and decompresses them (zlib's checksum catches a missing
or altered chunk) and parses the envelope. Nothing outside the tags is needed to verify an image.

Where a codec's metadata is too small for the statement (``codec.stores_statement`` false: GCP's labels),
the stored form is *detached*: the envelope without its payload, plus what the statement cannot be rebuilt
without (``kept``: the claims). The statement is a pure function of the image and those (``statement.py``),
so the reader rebuilds the payload from the image it reads and puts it back in the envelope; a signature
copied from another image, or kept fields altered, then fail to verify like any tampered payload.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass

from . import dsse
from .canonical import canonical_json
from .errors import InvalidInput
from .statement import build_statement, claims_of, statement_payload
from .tags import SIGNATURE

KEYID_TAG_DIGITS = 16
# An envelope decompresses to far less than this; a larger one is refused rather than inflated.
MAX_ENVELOPE_BYTES = 64 * 1024


def keyid_digits(keyid):
    """The part of a key that names the signing key: the first 16 hex digits of its keyid."""
    return keyid[:KEYID_TAG_DIGITS].lower()


def pack_envelope(envelope):
    return zlib.compress(canonical_json(envelope), 9)


def unpack_envelope(packed):
    """The envelope dict from its compressed form; raises ValueError with a reason when unreadable."""
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(packed, MAX_ENVELOPE_BYTES)
        if inflater.unconsumed_tail:
            raise ValueError("they hold more than %d bytes" % MAX_ENVELOPE_BYTES)
        data += inflater.flush()
    except zlib.error:
        raise ValueError("they are incomplete or altered (they do not decompress)") from None
    if not inflater.eof:
        raise ValueError("they are incomplete (the compressed stream is cut short)")
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ValueError("they do not hold JSON") from None


def stored_form(codec, envelope, kept=None):
    """What is written for ``envelope``: itself, or its detached form where the codec cannot store statements."""
    if codec.stores_statement:
        return envelope
    detached = {"payloadType": envelope["payloadType"], "signatures": envelope["signatures"]}
    if kept:
        detached["kept"] = kept
    return detached


def attached(stored, rebuild):
    """The envelope of a stored form: a whole envelope as it is; a detached one with ``rebuild(kept)`` as payload.

    Raises ValueError when the detached form cannot be rebuilt.
    """
    if not isinstance(stored, dict) or "payload" in stored:
        return stored
    kept = stored.get("kept", {})
    if rebuild is None or not isinstance(kept, dict):
        raise ValueError("they hold no statement, and none can be rebuilt")
    try:
        payload = rebuild(kept)
    except InvalidInput as error:
        raise ValueError("their statement cannot be rebuilt: %s" % error.message) from None
    envelope = {key: value for key, value in stored.items() if key != "kept"}
    envelope["payload"] = dsse.b64encode(payload)
    return envelope


def envelope_tags(codec, keyid, envelope, resource="the image"):
    """The tags that store ``envelope`` for ``keyid`` (a signature of the image's statement)."""
    kept = None if codec.stores_statement else {"claims": claims_of(json.loads(dsse.parse(envelope).payload))}
    stored = stored_form(codec, envelope, kept)
    return codec.chunks(SIGNATURE, (keyid_digits(keyid),), pack_envelope(stored), resource)


def statement_rebuilder(image):
    """How a detached signature's payload is rebuilt: the statement about ``image`` with the kept claims."""
    return lambda kept: statement_payload(build_statement(image, kept.get("claims")))


@dataclass
class StoredSignature:
    """What the tags of one key prefix hold: an envelope, or why it cannot be read."""

    key_prefix: str  # the keyid digits its keys name
    tag_keys: list
    envelope: dict = None
    error: str = None
    group: tuple = ()  # the parts of its keys between the name and the chunk number


def read_chunked(codec, name, group_size, tags, what, rebuild=None):
    """Every envelope stored in the chunks of ``name`` (``codec.chunk_groups``), one StoredSignature per group.

    A group is a keyid's digits, or (channel, keyid digits) for promotions; ``what`` names the tags in
    errors ("signature tags of key"). ``rebuild(group)`` gives the function that rebuilds the payload of a
    detached form of that group (``attached``); without it a detached form is unreadable.
    """
    found = []
    chunks = codec.chunk_groups(name, tags, group_size)
    for group in sorted(chunks):
        parts = chunks[group]
        label = ":".join(group)
        stored = StoredSignature(
            key_prefix=group[-1], tag_keys=[parts[number][0] for number in sorted(parts)], group=group
        )
        if sorted(parts) != list(range(len(parts))):
            stored.error = "%s %s… are missing chunks" % (what, label)
        else:
            try:
                packed = codec.decode_value([parts[number][1] for number in sorted(parts)])
                stored.envelope = attached(unpack_envelope(packed), rebuild(group) if rebuild else None)
                dsse.parse(stored.envelope)
            except (ValueError, dsse.EnvelopeError) as error:
                stored.envelope = None
                stored.error = "%s %s… are unreadable: %s" % (what, label, error)
        found.append(stored)
    return found


def stored_signatures(codec, image, tags=None):
    """Every stored envelope on an image (in ``tags``, by default the image's), by the keyid digits in its tag names."""
    rebuild = statement_rebuilder(image)
    return read_chunked(
        codec, SIGNATURE, 1, image.tags if tags is None else tags, "signature tags of key", lambda _group: rebuild
    )


def keys_of(codec, tags, name, group):
    """The keys in ``tags`` of every chunk of ``name`` whose group starts with ``group``, well-formed or not."""
    found = []
    for key in tags:
        parts = codec.parts(key)
        if parts and len(parts) > len(group) + 1 and parts[: len(group) + 1] == (name, *group):
            found.append(key)
    return found


def tag_plan(codec, current_tags, keyid, new_tags, resource):
    """``(to_set, to_remove)`` to replace the key's stored envelope by ``new_tags``, refused past the limits."""
    limits = codec.limits
    old_keys = set(keys_of(codec, current_tags, SIGNATURE, (keyid_digits(keyid),)))
    to_set = {key: value for key, value in new_tags.items() if current_tags.get(key) != value}
    to_remove = sorted(old_keys - set(new_tags))
    final_count = len(set(current_tags) - set(to_remove) | set(new_tags))
    if final_count > limits.max_tags:
        others = len(set(current_tags) - old_keys)
        raise InvalidInput(
            "cannot store the signature on %s: it needs %d tags and the image already has %d other tags, "
            "%d in all where at most %d are allowed" % (resource, len(new_tags), others, final_count, limits.max_tags),
            resource=resource,
            hint="Nothing was changed. Remove tags the image does not need, or fewer keys' signatures.",
        )
    return to_set, to_remove
