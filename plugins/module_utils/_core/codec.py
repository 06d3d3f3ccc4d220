# Private to this collection.
"""How one cloud writes the collection's metadata: the syntax of keys, the legal characters and sizes.

The core names what it stores (``tags.py``); each adapter's codec decides how that name and its value are
written in the cloud's tags or labels. The core never builds a key or a value by hand.

A key is made of parts: a name of ``tags.py`` alone (``key(MANAGED)``) or followed by more parts
(``key(SIGNATURE, keyid digits, chunk number)``). ``parts(key)`` gives them back exactly, whatever
characters they hold, and None for a key the codec did not make. A value too long for one tag or label is
stored as numbered chunks: ``chunks(name, group, data)`` writes bytes as ``key(name, *group, n)`` tags,
``chunk_groups(name, tags)`` finds them again.
"""

from __future__ import annotations

import abc

from .errors import InvalidInput


class MetadataCodec(abc.ABC):
    """One cloud's tag or label syntax. ``limits`` is its ``tags.TagLimits``."""

    limits = None
    # Whether a signed statement is stored whole with its signature. Where the metadata is too small for
    # it (labels), only the signature and what cannot be recomputed are stored, and the statement is
    # rebuilt from the image when read (``signatures.py``).
    stores_statement = True

    @abc.abstractmethod
    def key(self, name, *parts):
        """The tag or label key of ``name`` (a constant of ``tags.py``) and its further parts (strings).

        Raises InvalidInput when the key would be longer than the cloud allows.
        """

    @abc.abstractmethod
    def parts(self, key):
        """The tuple of parts ``key`` was made of (its name first), or None for a key this codec did not make."""

    @abc.abstractmethod
    def encode_value(self, data):
        """``data`` (bytes) as a list of legal values of at most ``limits.max_value_length`` characters."""

    @abc.abstractmethod
    def decode_value(self, values):
        """The bytes that ``encode_value`` gave ``values`` for; raises ValueError saying why it cannot."""

    def fits(self, text):
        """Whether ``text`` is stored as one plain value (else it goes in chunks, or is refused)."""
        return len(text) <= self.limits.max_value_length

    # Chunked values, built on the four methods above: the same for every cloud.

    def chunks(self, name, group, data, resource):
        """{key: value} storing ``data`` as the chunks ``key(name, *group, n)``, n from 0.

        Refuses, before any call, data that needs more chunks than a resource can carry tags.
        """
        values = self.encode_value(data)
        if len(values) > self.limits.max_tags:
            raise InvalidInput(
                "cannot store %d bytes on %s: they need %d tags of %d characters, at most %d tags are allowed"
                % (len(data), resource, len(values), self.limits.max_value_length, self.limits.max_tags),
                resource=resource,
                hint="Nothing was changed; store less (fewer claims, a shorter statement).",
            )
        return {self.key(name, *group, str(number)): value for number, value in enumerate(values)}

    def chunk_groups(self, name, tags, group_size):
        """{group: {chunk number: (key, value)}} of the chunks of ``name`` in ``tags``.

        A group is the tuple of ``group_size`` parts between the name and the chunk number; keys of other
        names, other shapes or other owners are ignored.
        """
        found = {}
        for key, value in tags.items():
            parts = self.parts(key)
            if not parts or parts[0] != name or len(parts) != group_size + 2:
                continue
            number = parts[-1]
            if not (number.isascii() and number.isdigit()):
                continue
            found.setdefault(tuple(parts[1:-1]), {})[int(number)] = (key, value)
        return found
