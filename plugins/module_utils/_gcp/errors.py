# Private to this collection.
"""Which Google API failures are worth another try, and how a Google API failure reads to the user.

Google's JSON APIs answer an error with ``{"error": {"code", "message", "errors": [{"reason", "message",
"domain"}], "status"}}``. The ``reason`` of the first entry (``notFound``, ``alreadyExists``,
``conditionNotMet``, ``rateLimitExceeded`` ...) is the code a ``GcpApiError`` carries.
"""

from __future__ import annotations

from .._core.errors import PhoenixError

RETRIED = "The call was retried with backoff until the collection's retry policy gave up; run the task again later."
# 403 with these reasons is Google's older way of saying "slow down" (429 is the newer one).
RATE_LIMIT_REASONS = frozenset(("rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"))
PERMISSION_REASONS = frozenset(("forbidden", "insufficientPermissions", "accessNotConfigured", "iamPermissionDenied"))


class GcpApiError(PhoenixError):
    """A Google API answered an error: ``status`` is the HTTP status, ``code`` the first error's reason."""

    def __init__(self, message, status, reason, resource=None, operation=None, hint=None, details=None):
        super().__init__(message, resource=resource, code=reason, cloud="gcp", hint=hint, details=details)
        self.status = status
        self.reason = reason
        self.operation = operation


class NotFound(GcpApiError):
    """404: the resource named does not exist (or the caller may not see it)."""


class AlreadyExists(GcpApiError):
    """409: a resource of that name exists already."""


class PreconditionFailed(GcpApiError):
    """412: a fingerprint sent with the change is stale; read the resource again and redo the change."""


_BY_STATUS = {404: NotFound, 409: AlreadyExists, 412: PreconditionFailed}


def parse_error_body(payload):
    """(reason, message, status name) from a Google error body, or None when it is not one."""
    if not isinstance(payload, dict) or not isinstance(payload.get("error"), dict):
        return None
    error = payload["error"]
    entries = error.get("errors") if isinstance(error.get("errors"), list) else []
    first = entries[0] if entries and isinstance(entries[0], dict) else {}
    reason = first.get("reason") or error.get("status") or str(error.get("code") or "unknown")
    message = error.get("message") or first.get("message") or reason
    return reason, message, error.get("status")


def _hint(status, reason, operation, resource):
    if status == 429 or reason in RATE_LIMIT_REASONS:
        return "Google kept rate-limiting %s. %s" % (operation, RETRIED)
    if status >= 500:
        return "Google answered %s with a server error (HTTP %s). %s" % (operation, status, RETRIED)
    if status == 401:
        return (
            "The credentials were refused: check auth_kind, service_account_file/service_account_contents or "
            "access_token (GCP_* / GCE_* environment variables), and token_uri."
        )
    if status == 403 or reason in PERMISSION_REASONS:
        return "The credentials in use may not call %s: grant the role in IAM, or use another service account." % (
            operation
        )
    if status == 404:
        return "Check that %s exists in this project." % (resource or "the resource")
    if status == 412:
        return "The resource changed since it was read; read it again and redo the change."
    return "See the Google API reference of %s for reason %s." % (operation, reason)


def from_response(status, payload, operation, resource=None):
    """The GcpApiError (of the class of its status) for an error answer; ``payload`` is the parsed body or None."""
    parsed = parse_error_body(payload)
    where = " for %s" % resource if resource else ""
    if parsed is None:
        return GcpApiError(
            "GCP %s failed%s: HTTP %s, and the answer was not a Google API error (an error page or other body)"
            % (operation, where, status),
            status,
            "UnparseableResponse",
            resource=resource,
            operation=operation,
            hint="Something between this host and Google (a proxy, a load balancer, the endpoint_url) answered in "
            "Google's place. %s" % RETRIED,
        )
    reason, message, status_name = parsed
    error_class = _BY_STATUS.get(status, GcpApiError)
    return error_class(
        "GCP %s failed%s: %s" % (operation, where, message),
        status,
        reason,
        resource=resource,
        operation=operation,
        hint=_hint(status, reason, operation, resource),
        details={"status": status_name} if status_name else None,
    )


def is_transient(error):
    """Rate limits, server faults and dropped connections are worth another try; nothing else is."""
    if isinstance(error, GcpApiError):
        return (
            error.status == 429 or error.status >= 500 or (error.status == 403 and error.reason in RATE_LIMIT_REASONS)
        )
    return isinstance(error, TransportFailure)


class TransportFailure(Exception):
    """No answer at all (connection refused or reset, timeout); ``cause`` is the transport's own error."""

    def __init__(self, cause, timeout=False):
        super().__init__(str(cause))
        self.cause = cause
        self.timeout = timeout


def transport_to_phoenix(failure, operation, resource=None):
    where = " for %s" % resource if resource else ""
    if failure.timeout:
        return PhoenixError(
            "GCP %s failed%s: no answer within the timeout" % (operation, where),
            resource=resource,
            code="Timeout",
            cloud="gcp",
            hint="Raise the timeout or run again. %s" % RETRIED,
        )
    return PhoenixError(
        "GCP %s failed%s: %s" % (operation, where, failure.cause),
        resource=resource,
        code=type(failure.cause).__name__,
        cloud="gcp",
        hint="Check endpoint_url, token_uri, the network and any HTTPS_PROXY. %s" % RETRIED,
    )
