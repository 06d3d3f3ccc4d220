# Private to this collection.
"""Azure tag syntax: keys ``phoenix:<name>[:<part>…]``, values of any text, 50 tags of 256-character values.

ARM refuses a tag name holding any of ``< > % & \\ ? /`` and allows 512 characters a name and 256 a value, 50
tags a resource. A part holding ``:``, ``~`` or one of those characters has each written ``~`` and two hex
digits (``~3a``), so every key parses back to its parts; ``%`` is refused in names, so it cannot be the escape.
Chunked values are URL-safe base64 without padding, as on AWS: a signed statement fits in 50 tags whole.
"""

from __future__ import annotations

import base64
import binascii
import re

from .._core.codec import MetadataCodec
from .._core.errors import InvalidInput
from .._core.tags import TagLimits

# https://learn.microsoft.com/azure/azure-resource-manager/management/tag-resources#limitations
AZURE_TAG_LIMITS = TagLimits(
    max_tags=50, max_key_length=512, max_value_length=256, reserved_prefixes=("microsoft", "azure", "windows")
)
# Characters ARM refuses in a tag name, the codec's separator and its escape character.
ESCAPED_CHARACTERS = frozenset("<>%&\\?/:~")
ESCAPE = re.compile(r"~([0-9a-f]{2})")


class AzureTagCodec(MetadataCodec):
    prefix = "phoenix:"
    separator = ":"

    def __init__(self, limits=AZURE_TAG_LIMITS):
        self.limits = limits

    def key(self, name, *parts):
        key = self.prefix + self.separator.join(_escaped(part) for part in (name, *parts))
        if len(key) > self.limits.max_key_length:
            raise InvalidInput(
                "tag name %r is %d characters, at most %d" % (key[:40], len(key), self.limits.max_key_length),
                resource=key[:40],
                hint="Nothing was changed; use a shorter name.",
            )
        return key

    def parts(self, key):
        if not key.startswith(self.prefix):
            return None
        return tuple(_unescaped(part) for part in key[len(self.prefix) :].split(self.separator))

    def encode_value(self, data):
        text = base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")
        size = self.limits.max_value_length
        return [text[start : start + size] for start in range(0, len(text), size)]

    def decode_value(self, values):
        text = "".join(values)
        try:
            return base64.urlsafe_b64decode((text + "=" * (-len(text) % 4)).encode("ascii"))
        except (binascii.Error, ValueError, UnicodeEncodeError):
            raise ValueError("they are not base64") from None


def tag_value(text, key, limits=AZURE_TAG_LIMITS):
    """``text`` as a tag value; InvalidInput when it is longer than a tag value may be (never cut)."""
    value = str(text)
    if len(value) > limits.max_value_length:
        raise InvalidInput(
            "the value of tag %s would be %d characters, at most %d" % (key, len(value), limits.max_value_length),
            resource=key,
            hint="Nothing was changed; use a shorter value.",
        )
    return value


def _escaped(part):
    return "".join("~%02x" % ord(char) if char in ESCAPED_CHARACTERS else char for char in part)


def _unescaped(part):
    return ESCAPE.sub(lambda match: chr(int(match.group(1), 16)), part)


AZURE_CODEC = AzureTagCodec()
