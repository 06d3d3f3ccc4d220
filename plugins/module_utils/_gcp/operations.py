# Private to this collection.
"""Waiting for Compute Engine long-running operations through the collection's one waiter.

Every mutating Compute call answers an Operation (``compute#operation``) that lives in the global, a
region's or a zone's operations collection. It is polled with ``POST <selfLink>/wait`` (Google holds a
wait open for up to two minutes and answers early when the operation ends, so one wait usually does)
until its ``status`` is ``DONE``; a DONE operation with ``error.errors[]`` failed, and the failure is
raised as a PhoenixError naming the operation's target.
"""

from __future__ import annotations

import re

from .._core.errors import PhoenixError
from .._core.waiter import Waiter

# The operations collection of an operation's selfLink: global, a region or a zone.
_SCOPE = re.compile(r"/projects/[^/]+/(global|regions/[^/]+|zones/[^/]+)/operations/[^/]+$")
_KINDS = {"global": "globalOperations", "regions": "regionOperations", "zones": "zoneOperations"}
# Between waits: a wait itself blocks on Google's side until the operation is done (or for up to two minutes),
# so the client hardly needs to pause; the short pause only keeps a wait that returns early from spinning.
DEFAULT_DELAY = 0.25


def operations_collection(operation):
    """``globalOperations``, ``regionOperations`` or ``zoneOperations`` for an Operation."""
    match = _SCOPE.search(operation.get("selfLink", ""))
    if not match:
        raise PhoenixError(
            "the answer is not a Compute operation (no operations selfLink): %r" % sorted(operation),
            code="UnexpectedResponse",
            cloud="gcp",
        )
    return _KINDS[match.group(1).split("/", 1)[0]]


def target_of(operation):
    """The operation's target as ``projects/P/.../NAME`` (its targetLink without the API root)."""
    link = operation.get("targetLink") or ""
    index = link.find("/projects/")
    return link[index + 1 :] if index >= 0 else link or operation.get("name")


def operation_error(operation):
    """The PhoenixError for a DONE operation with errors, or None when it succeeded."""
    errors = (operation.get("error") or {}).get("errors") or []
    if not errors:
        return None
    target = target_of(operation)
    first = errors[0]
    message = "; ".join(entry.get("message") or entry.get("code") or "unknown error" for entry in errors)
    return PhoenixError(
        "GCP operation %s (%s of %s) failed: %s"
        % (operation.get("name"), operation.get("operationType", "?"), target, message),
        resource=target,
        code=first.get("code") or "OperationFailed",
        cloud="gcp",
        hint="The change was not made; fix the cause the error names and run the task again.",
        details={
            "operation": operation.get("name"),
            "errors": errors,
            "http_status": operation.get("httpErrorStatusCode"),
        },
    )


def wait_for(connection, operation, waiter=None, what=None):
    """The operation once DONE (``waiter`` defaults to the connection's operation timeout, else the core waiter's);
    raise its error if it failed.

    A disabled waiter (check mode, ``wait: false``) returns the operation as it is, unfinished.
    """
    if waiter is None:
        timeout = connection.operation_timeout
        waiter = Waiter(delay=DEFAULT_DELAY) if timeout is None else Waiter(timeout=timeout, delay=DEFAULT_DELAY)
    kind = operations_collection(operation)
    target = target_of(operation)

    def fetch():
        return connection.request(
            "POST", operation["selfLink"] + "/wait", "compute.%s.wait" % kind, resource=operation.get("name")
        )

    if operation.get("status") == "DONE" or not waiter.enabled:
        done = operation
    else:
        # The first /wait goes out at once, without the waiter's pause: /wait itself waits on Compute's side.
        done = waiter.until(
            fetch,
            lambda value: value.get("status") == "DONE",
            what or "operation %s on %s" % (operation.get("name"), target),
        )
    if done.get("status") == "DONE":
        error = operation_error(done)
        if error is not None:
            raise error
    return done
