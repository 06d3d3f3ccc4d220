# Private to this collection.
"""How one cloud writes the collection's metadata: the syntax of keys, the legal characters and sizes.

The core names what it stores (``tags.py``); each adapter's codec decides how that name and its value are
written in the cloud's tags or labels. The core never builds a key or a value by hand.
"""

from __future__ import annotations

import abc


class MetadataCodec(abc.ABC):
    """One cloud's tag or label syntax. ``limits`` is its ``tags.TagLimits``."""

    limits = None

    @abc.abstractmethod
    def key(self, name):
        """The tag or label key of one of the collection's names (a constant of ``tags.py``)."""
