# Private to this collection.
"""Signatures stored in the image's own tags (AWS, Azure) or labels (GCP), within the cloud's limits.

One DSSE envelope per signing key. The envelope's canonical JSON is compressed (zlib), encoded in
unpadded URL-safe base64 and cut into chunks no longer than the cloud's value limit, one tag each:

    phoenix:sig:<first 16 hex digits of the keyid>:<chunk number from 0>

Reading joins a key's chunks in order, decodes and decompresses them (zlib's checksum catches a missing
or altered chunk) and parses the envelope. Nothing outside the tags is needed to verify an image.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from dataclasses import dataclass

from . import dsse
from .canonical import canonical_json
from .errors import InvalidInput
from .tags import SIGNATURE, TAG_PREFIX, tag_key

KEYID_TAG_DIGITS = 16
# An envelope decompresses to far less than this; a larger one is refused rather than inflated.
MAX_ENVELOPE_BYTES = 64 * 1024


def signature_prefix(cloud):
    """The prefix of every signature tag on ``cloud``: ``phoenix:sig:`` on AWS."""
    separator = TAG_PREFIX[cloud][-1]
    return tag_key(cloud, SIGNATURE) + separator


def key_prefix(cloud, keyid):
    """The prefix of the tags holding the envelope of one key."""
    return signature_prefix(cloud) + keyid[:KEYID_TAG_DIGITS].lower() + TAG_PREFIX[cloud][-1]


def encode_envelope(envelope):
    packed = zlib.compress(canonical_json(envelope), 9)
    return base64.urlsafe_b64encode(packed).decode("ascii").rstrip("=")


def decode_envelope(text):
    """The envelope dict from its encoded form; raises ValueError with a reason when unreadable."""
    padded = text + "=" * (-len(text) % 4)
    try:
        packed = base64.urlsafe_b64decode(padded.encode("ascii"))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise ValueError("the signature tags are not base64") from None
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(packed, MAX_ENVELOPE_BYTES)
        if inflater.unconsumed_tail:
            raise ValueError("the signature tags hold more than %d bytes" % MAX_ENVELOPE_BYTES)
        data += inflater.flush()
    except zlib.error:
        raise ValueError("the signature tags are incomplete or altered (they do not decompress)") from None
    if not inflater.eof:
        raise ValueError("the signature tags are incomplete (the compressed stream is cut short)")
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ValueError("the signature tags do not hold JSON") from None


def chunked_tags(prefix, envelope, max_value_length):
    """The tags ``<prefix><n>`` that store ``envelope``, each value at most ``max_value_length`` long."""
    text = encode_envelope(envelope)
    return {
        "%s%d" % (prefix, number): text[start : start + max_value_length]
        for number, start in enumerate(range(0, len(text), max_value_length))
    }


def envelope_tags(cloud, keyid, envelope, max_value_length):
    """The tags that store ``envelope`` for ``keyid``."""
    return chunked_tags(key_prefix(cloud, keyid), envelope, max_value_length)


@dataclass
class StoredSignature:
    """What the tags of one key prefix hold: an envelope, or why it cannot be read."""

    key_prefix: str
    tag_keys: list
    envelope: dict = None
    error: str = None


def read_chunked(prefix, separator, tags, what):
    """Every envelope stored as ``<prefix><group><separator><n>`` tags, one StoredSignature per group.

    ``group`` is what sits between the prefix and the chunk number (a keyid's digits, or ``channel:digits``
    for promotions); ``what`` names the tags in errors ("signature tags").
    """
    chunks = {}
    for key, value in tags.items():
        if not key.startswith(prefix):
            continue
        group, _sep, number = key[len(prefix) :].rpartition(separator)
        if not group or not number.isdigit():
            continue
        chunks.setdefault(group, {})[int(number)] = (key, value)
    found = []
    for group in sorted(chunks):
        parts = chunks[group]
        stored = StoredSignature(key_prefix=group, tag_keys=[parts[number][0] for number in sorted(parts)])
        if sorted(parts) != list(range(len(parts))):
            stored.error = "%s %s… are missing chunks" % (what, group)
        else:
            try:
                stored.envelope = decode_envelope("".join(parts[number][1] for number in sorted(parts)))
                dsse.parse(stored.envelope)
            except (ValueError, dsse.EnvelopeError) as error:
                stored.envelope = None
                stored.error = "%s %s… are unreadable: %s" % (what, group, error)
        found.append(stored)
    return found


def stored_signatures(cloud, tags):
    """Every stored envelope on an image, by the keyid digits in its tag names."""
    return read_chunked(signature_prefix(cloud), TAG_PREFIX[cloud][-1], tags, "signature tags of key")


def tag_plan(cloud, current_tags, keyid, new_tags, limits, resource):
    """``(to_set, to_remove)`` to replace the key's stored envelope by ``new_tags``, refused past the limits."""
    prefix = key_prefix(cloud, keyid)
    old_keys = {key for key in current_tags if key.startswith(prefix)}
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
