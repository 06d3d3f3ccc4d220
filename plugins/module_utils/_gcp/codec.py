# Private to this collection.
"""GCP label syntax: ``[a-z0-9_-]`` only, at most 63 characters a key or value, at most 64 labels a resource.

A key is ``phoenix`` followed by each part after the separator ``_-`` (``phoenix_-sig_-<keyid digits>_-0``);
it starts with a letter, as Google requires. In a part, a character other than ``[a-z0-9-]`` (``_``
included) is written ``_`` and two hex digits per UTF-8 byte, so ``_`` is never followed by ``-`` inside a
part and every key parses back to its parts. Chunked values are base32, lower case, without padding.

Plain values (an image id, a builder's name, a time) are written with the same escape by ``label_value``
and read back by ``text_of``; one that does not fit in 63 characters is refused, never cut.

Labels are too small to carry a signed statement: ``stores_statement`` is false, so the core stores only a
signature and what cannot be recomputed (the claims) and rebuilds the statement from the image when it reads
(``_core/signatures.py``).
"""

from __future__ import annotations

import base64
import binascii
import re

from .._core.codec import MetadataCodec
from .._core.errors import InvalidInput
from .._core.tags import TagLimits

# https://cloud.google.com/compute/docs/labeling-resources#requirements
GCP_LABEL_LIMITS = TagLimits(max_tags=64, max_key_length=63, max_value_length=63, reserved_prefixes=("goog",))
LEGAL_KEY = re.compile(r"[a-z][a-z0-9_-]{0,62}\Z")
LEGAL_VALUE = re.compile(r"[a-z0-9_-]{0,63}\Z")
PLAIN = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")
HEX = frozenset("0123456789abcdef")


class GcpLabelCodec(MetadataCodec):
    prefix = "phoenix"
    separator = "_-"
    stores_statement = False

    def __init__(self, limits=GCP_LABEL_LIMITS):
        self.limits = limits

    def key(self, name, *parts):
        key = self.prefix + "".join(self.separator + _escaped(part) for part in (name, *parts))
        if len(key) > self.limits.max_key_length:
            raise InvalidInput(
                "label key %s is %d characters, at most %d" % (key, len(key), self.limits.max_key_length),
                resource=key,
                hint="Nothing was changed; use a shorter name.",
            )
        return key

    def parts(self, key):
        if not key.startswith(self.prefix + self.separator):
            return None
        texts = []
        for escaped in key[len(self.prefix) + len(self.separator) :].split(self.separator):
            text = _unescaped(escaped)
            if text is None:
                return None  # not a key this codec wrote
            texts.append(text)
        return tuple(texts)

    def fits(self, text):
        return len(_escaped(text)) <= self.limits.max_value_length

    def encode_value(self, data):
        text = base64.b32encode(data).decode("ascii").rstrip("=").lower()
        size = self.limits.max_value_length
        return [text[start : start + size] for start in range(0, len(text), size)]

    def decode_value(self, values):
        text = "".join(values).upper()
        try:
            return base64.b32decode(text + "=" * (-len(text) % 8))
        except (binascii.Error, ValueError):
            raise ValueError("they are not base32") from None


def label_value(text, key, limits=GCP_LABEL_LIMITS):
    """``text`` as a legal label value; InvalidInput when it is too long once escaped."""
    value = _escaped(str(text))
    if len(value) > limits.max_value_length:
        raise InvalidInput(
            "the value of label %s would be %d characters (%r written as label characters), at most %d"
            % (key, len(value), text, limits.max_value_length),
            resource=key,
            hint="Nothing was changed; use a shorter value.",
        )
    return value


def text_of(value):
    """The text ``label_value`` wrote as ``value``; a value it did not write is returned as it is."""
    text = _unescaped(value)
    return value if text is None else text


def labels_of(tags, resource, limits=GCP_LABEL_LIMITS):
    """The labels that write ``tags`` (the core's view: plain values), refused before any call when illegal."""
    labels, problems = {}, []
    for key, value in sorted(tags.items()):
        if not LEGAL_KEY.match(key):
            problems.append(
                "label key %r is not 1 to 63 lower-case letters, digits, _ or -, starting with a letter" % key
            )
            continue
        if any(key.startswith(prefix) for prefix in limits.reserved_prefixes):
            problems.append("label key %r uses a prefix Google reserves" % key)
            continue
        try:
            labels[key] = label_value(value, key, limits)
        except InvalidInput as error:
            problems.append(error.message)
    if len(labels) > limits.max_tags:
        problems.append("%d labels, at most %d allowed" % (len(labels), limits.max_tags))
    if problems:
        raise InvalidInput(
            "invalid labels for %s: %s" % (resource, "; ".join(problems)),
            resource=resource,
            hint="Nothing was changed; GCP labels are lower-case letters, digits, _ and -, at most 63 characters.",
        )
    return labels


def tags_of(labels):
    """The core's view of a resource's labels: each value as the text it was written from."""
    return {key: text_of(value) for key, value in (labels or {}).items()}


def _escaped(part):
    return "".join(char if char in PLAIN else "".join("_%02x" % byte for byte in char.encode("utf-8")) for char in part)


def _unescaped(escaped):
    """The text of one escaped part, or None when it is not one."""
    data, position = bytearray(), 0
    while position < len(escaped):
        char = escaped[position]
        if char in PLAIN:
            data += char.encode("ascii")
            position += 1
        elif char == "_" and position + 3 <= len(escaped) and set(escaped[position + 1 : position + 3]) <= HEX:
            data.append(int(escaped[position + 1 : position + 3], 16))
            position += 3
        else:
            return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


GCP_CODEC = GcpLabelCodec()
