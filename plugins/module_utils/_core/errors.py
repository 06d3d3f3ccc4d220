# Private to this collection.
"""The one error type the collection raises; modules turn it into ``fail_json`` in one place."""

from __future__ import annotations


class PhoenixError(Exception):
    """A failure a user can act on.

    ``resource`` names what was being worked on (an image id, a region), ``code`` is the cloud's own
    error code when there is one (``InvalidAMIID.NotFound``) or ours, and ``hint`` says what to do.
    """

    def __init__(self, message, resource=None, code=None, cloud=None, hint=None, details=None):
        super().__init__(message)
        self.message = message
        self.resource = resource
        self.code = code
        self.cloud = cloud
        self.hint = hint
        self.details = details or {}

    def __str__(self):
        parts = [self.message]
        if self.code:
            parts[0] = "%s [%s]" % (self.message, self.code)
        if self.hint:
            parts.append(self.hint)
        return " ".join(parts)

    def to_dict(self):
        return {
            "message": self.message,
            "resource": self.resource,
            "code": self.code,
            "cloud": self.cloud,
            "hint": self.hint,
        }


class InvalidInput(PhoenixError):
    """The request itself is wrong; nothing was sent to the cloud."""

    def __init__(self, message, resource=None, hint=None):
        super().__init__(message, resource=resource, code="InvalidInput", hint=hint)


class MissingDependency(PhoenixError):
    """A Python library the chosen cloud needs is not installed on the host running the module."""

    def __init__(self, library, cloud, cause=None):
        super().__init__(
            "the %s library is required for cloud=%s" % (library, cloud),
            code="MissingDependency",
            cloud=cloud,
        )
        self.library = library
        self.cause = cause
