# Private to this collection.
"""AWS tag syntax: keys ``phoenix:<name>[:<part>…]``, values of any text, 50 tags of 256-character values.

A part holding ``:`` or ``%`` has them written ``%3A`` and ``%25``, so every key parses back to its parts;
the parts the collection writes hold neither, so its keys read as they always have:
``phoenix:sig:<keyid digits>:<n>``, ``phoenix:promo:<channel>:<keyid digits>:<n>``. Chunked values are
URL-safe base64 without padding (the signatures and promotions already on images are read as before).
Two builder names keep the names AWS resources already carry (``WRITTEN_NAMES``).
"""

from __future__ import annotations

import base64
import binascii
import re

from .._core import tags as tagging
from .._core.codec import MetadataCodec
from .._core.errors import InvalidInput
from .._core.tags import TagLimits

# https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Using_Tags.html#tag-restrictions
AWS_TAG_LIMITS = TagLimits(max_tags=50, max_key_length=128, max_value_length=256, reserved_prefixes=("aws:",))
ESCAPED = re.compile(r"%(25|3[Aa])")
# Names written otherwise on AWS than the core calls them, so builders made before the rename are still found.
WRITTEN_NAMES = {tagging.BUILDER_ACCESS_RULE: "builder-security-group", tagging.BUILDER_SSH_KEY: "builder-key"}
READ_NAMES = {written: name for name, written in WRITTEN_NAMES.items()}


class AwsTagCodec(MetadataCodec):
    prefix = "phoenix:"
    separator = ":"

    def __init__(self, limits=AWS_TAG_LIMITS):
        self.limits = limits

    def key(self, name, *parts):
        written = (WRITTEN_NAMES.get(name, name),) + parts
        key = self.prefix + self.separator.join(_escaped(part) for part in written)
        if len(key) > self.limits.max_key_length:
            raise InvalidInput(
                "tag key %r is %d characters, at most %d" % (key[:40], len(key), self.limits.max_key_length),
                resource=key[:40],
                hint="Nothing was changed; use a shorter name.",
            )
        return key

    def parts(self, key):
        if not key.startswith(self.prefix):
            return None
        name, *parts = (_unescaped(part) for part in key[len(self.prefix) :].split(self.separator))
        return (READ_NAMES.get(name, name), *parts)

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


def _escaped(part):
    return part.replace("%", "%25").replace(":", "%3A")


def _unescaped(part):
    return ESCAPED.sub(lambda match: chr(int(match.group(1), 16)), part)


AWS_CODEC = AwsTagCodec()
