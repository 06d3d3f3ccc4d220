# Private to this collection.
"""Which Azure failures are worth another try, and how an Azure failure reads to the user.

ARM answers an error with ``{"error": {"code", "message", "details": [...]}}``; azure-core raises it as an
``HttpResponseError`` whose ``.error.code`` is that code. ``from_sdk_error`` turns those (and the answers that
never came) into an ``AzureApiError``, a PhoenixError, so the core sees one error type on every cloud.
"""

from __future__ import annotations

from .._core.errors import PhoenixError

RETRIED = "The call was retried with backoff until the collection's retry policy gave up; run the task again later."


class AzureApiError(PhoenixError):
    """Azure refused or failed a call: ``status`` is the HTTP status (None: no answer), ``code`` ARM's code."""

    def __init__(self, message, status, code, resource=None, operation=None, hint=None, details=None):
        super().__init__(message, resource=resource, code=code, cloud="azure", hint=hint, details=details)
        self.status = status
        self.operation = operation


class NotFound(AzureApiError):
    """404: the resource named does not exist (ResourceNotFound, NotFound, ResourceGroupNotFound ...)."""


class AlreadyExists(AzureApiError):
    """409: a conflicting resource exists, or the resource is busy with another operation."""


class PreconditionFailed(AzureApiError):
    """412: ``If-None-Match: *`` met an existing resource, or an ``If-Match`` etag is stale."""


class OperationFailed(AzureApiError):
    """A long-running operation ended Failed or Canceled; ``code`` is the operation's error code."""


class NoAnswer(AzureApiError):
    """The request got no answer (connection refused or reset, timeout): it may or may not have been applied."""


_BY_STATUS = {404: NotFound, 409: AlreadyExists, 412: PreconditionFailed}


def _hint(status, code, operation, resource):
    if status == 429:
        return "Azure kept throttling %s. %s" % (operation, RETRIED)
    if status is not None and status >= 500:
        return "Azure answered %s with a server error (HTTP %s). %s" % (operation, status, RETRIED)
    if status == 401:
        return (
            "The credentials were refused: check tenant, client_id and secret (AZURE_TENANT, AZURE_CLIENT_ID, "
            "AZURE_SECRET), cloud_environment and authority_host."
        )
    if status == 403:
        return "The identity in use may not call %s: grant it a role on the subscription or resource group." % (
            operation
        )
    if status == 404:
        return "Check that %s exists in this subscription and resource group." % (resource or "the resource")
    if status == 412:
        return "The resource exists already or changed since it was read."
    return "See the Azure REST reference of %s for error code %s." % (operation, code)


def api_error(status, code, message, operation, resource=None, error_class=None):
    """The AzureApiError (of the class of its status unless ``error_class`` is given) of one failure."""
    where = " for %s" % resource if resource else ""
    error_class = error_class or _BY_STATUS.get(status, AzureApiError)
    return error_class(
        "Azure %s failed%s: %s" % (operation, where, message),
        status,
        code,
        resource=resource,
        operation=operation,
        hint=_hint(status, code, operation, resource),
    )


def is_transient(error):
    """Throttling, server faults and requests without an answer are worth another try; nothing else is."""
    if isinstance(error, NoAnswer):
        return True
    if isinstance(error, OperationFailed):
        return False
    return (
        isinstance(error, AzureApiError) and error.status is not None and (error.status == 429 or error.status >= 500)
    )
