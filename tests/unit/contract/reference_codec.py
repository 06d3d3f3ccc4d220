"""A strict metadata codec for the contract tests: labels only, the tightest rules of the three clouds at once.

Keys and values use only ``[a-z0-9_-]``, at most 63 characters each, at most 64 labels a resource, and a key
starts with a letter; no ``:`` anywhere. A key is ``phoenix`` followed by each part after the separator
``_-``; in a part, a character other than ``[a-z0-9-]`` (``_`` included) is written ``_`` and two hex digits
per UTF-8 byte, so ``_`` is never followed by ``-`` inside a part and every key parses back to its parts.
Values are base32, lower case, without padding. It proves the core cloud-neutral; it is no real cloud's codec.
"""

from __future__ import annotations

import base64
import binascii
import re

from ansible_collections.phoenix.immutable.plugins.module_utils._core.codec import MetadataCodec
from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import InvalidInput
from ansible_collections.phoenix.immutable.plugins.module_utils._core.tags import TagLimits

STRICT_LIMITS = TagLimits(max_tags=64, max_key_length=63, max_value_length=63)
LEGAL_KEY = re.compile(r"[a-z][a-z0-9_-]{0,62}\Z")
LEGAL_VALUE = re.compile(r"[a-z0-9_-]{0,63}\Z")
PLAIN = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")
HEX = frozenset("0123456789abcdef")


class StrictLabelCodec(MetadataCodec):
    prefix = "phoenix"
    separator = "_-"
    limits = STRICT_LIMITS

    def key(self, name, *parts):
        key = self.prefix + "".join(self.separator + _escaped(part) for part in (name, *parts))
        if len(key) > self.limits.max_key_length:
            raise InvalidInput(
                "label key %s is %d characters, at most %d" % (key, len(key), self.limits.max_key_length),
                resource=key,
            )
        return key

    def parts(self, key):
        if not key.startswith(self.prefix + self.separator):
            return None
        parts, current, position = [], bytearray(), len(self.prefix) + len(self.separator)
        while position < len(key):
            char = key[position]
            if char in PLAIN:
                current += char.encode("ascii")
                position += 1
            elif key[position : position + 2] == self.separator:
                parts.append(current)
                current, position = bytearray(), position + 2
            elif char == "_" and set(key[position + 1 : position + 3]) <= HEX and position + 3 <= len(key):
                current.append(int(key[position + 1 : position + 3], 16))
                position += 3
            else:
                return None  # not a key this codec wrote
        parts.append(current)
        try:
            return tuple(part.decode("utf-8") for part in parts)
        except UnicodeDecodeError:
            return None

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


def _escaped(part):
    return "".join(char if char in PLAIN else "".join("_%02x" % byte for byte in char.encode("utf-8")) for char in part)


STRICT_CODEC = StrictLabelCodec()
