# Private to this collection.
"""UTC timestamps as the collection reads and writes them (ISO 8601, always with a zone)."""

from __future__ import annotations

import datetime


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def parse_utc(text, what="timestamp"):
    """Parse ISO 8601 (``2026-12-01``, ``2026-12-01T10:00:00Z``, ``...+02:00``) into an aware UTC datetime."""
    from .errors import InvalidInput

    if isinstance(text, datetime.datetime):
        value = text
    else:
        raw = str(text).strip()
        if raw.endswith(("Z", "z")):
            raw = raw[:-1] + "+00:00"
        try:
            value = datetime.datetime.fromisoformat(raw)
        except ValueError:
            raise InvalidInput(
                "%s %r is not an ISO 8601 date or time" % (what, text),
                resource=what,
                hint="Use a form like 2026-12-31 or 2026-12-31T23:00:00Z.",
            ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value.astimezone(datetime.timezone.utc)


def format_utc(value):
    return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
