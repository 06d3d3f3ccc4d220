# Private to this collection.
"""AWS tag syntax: keys ``phoenix:<name>``, any text in values, 50 tags of 256-character values."""

from __future__ import annotations

from .._core.codec import MetadataCodec
from .._core.tags import TagLimits

AWS_TAG_LIMITS = TagLimits(max_tags=50, max_key_length=128, max_value_length=256, reserved_prefixes=("aws:",))


class AwsTagCodec(MetadataCodec):
    prefix = "phoenix:"
    limits = AWS_TAG_LIMITS

    def key(self, name):
        return self.prefix + name


AWS_CODEC = AwsTagCodec()
