# Private to this collection.
"""Which AWS failures are worth another try, and how an AWS failure reads to the user."""

from __future__ import annotations

from .._core.errors import PhoenixError

try:
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectionClosedError,
        EndpointConnectionError,
        NoCredentialsError,
        ReadTimeoutError,
    )
except ImportError:  # reported by connection.require_boto3() when the AWS adapter is used
    BotoCoreError = ClientError = ConnectionClosedError = EndpointConnectionError = None
    NoCredentialsError = ReadTimeoutError = None

THROTTLING_CODES = frozenset(
    (
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "TooManyRequestsException",
        "EC2ThrottledException",
        "SlowDown",
        "PriorRequestNotComplete",
    )
)
SERVER_CODES = frozenset(("InternalError", "InternalFailure", "ServiceUnavailable", "Unavailable"))


def error_code(error):
    if ClientError is not None and isinstance(error, ClientError):
        return error.response.get("Error", {}).get("Code", "")
    return ""


def is_transient(error, retry_not_found=False):
    """Throttling, server faults and dropped connections pass; so does NotFound right after a create.

    ``retry_not_found`` is set only for reads of something this run just created: AWS is eventually
    consistent there, and anywhere else a NotFound is the truth.
    """
    if ClientError is not None and isinstance(error, ClientError):
        code = error_code(error)
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        if code in THROTTLING_CODES or code in SERVER_CODES or status >= 500:
            return True
        return retry_not_found and code.endswith(".NotFound")
    transient_types = tuple(t for t in (ConnectionClosedError, EndpointConnectionError, ReadTimeoutError) if t)
    return bool(transient_types) and isinstance(error, transient_types)


def to_phoenix(error, operation, region, resource=None):
    """One readable message for any botocore failure: what was called, on what, where, and why."""
    where = "%s in %s" % (resource, region) if resource else region
    if ClientError is not None and isinstance(error, ClientError):
        info = error.response.get("Error", {})
        code = info.get("Code") or "Unknown"
        return PhoenixError(
            "AWS %s failed for %s: %s" % (operation, where, info.get("Message") or code),
            resource=resource,
            code=code,
            cloud="aws",
        )
    if NoCredentialsError is not None and isinstance(error, NoCredentialsError):
        return PhoenixError(
            "no AWS credentials found for %s" % operation,
            resource=resource,
            code="NoCredentials",
            cloud="aws",
            hint="Set access_key/secret_key or profile, or the AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY "
            "environment variables (an AWX AWS credential sets them).",
        )
    if BotoCoreError is not None and isinstance(error, BotoCoreError):
        return PhoenixError(
            "AWS %s failed for %s: %s" % (operation, where, error),
            resource=resource,
            code=type(error).__name__,
            cloud="aws",
        )
    return None
