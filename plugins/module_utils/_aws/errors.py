# Private to this collection.
"""Which AWS failures are worth another try, and how an AWS failure reads to the user."""

from __future__ import annotations

from .._core.errors import PhoenixError

try:
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        ReadTimeoutError,
    )
    from botocore.parsers import ResponseParserError
except ImportError:  # reported by connection.require_boto3() when the AWS adapter is used
    BotoCoreError = ClientError = ConnectionClosedError = ConnectTimeoutError = EndpointConnectionError = None
    NoCredentialsError = ReadTimeoutError = ResponseParserError = None

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
PERMISSION_CODES = frozenset(
    ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthFailure", "UnrecognizedClientException")
)
RETRIED = "The call was retried with backoff until the collection's retry policy gave up; run the task again later."


def _types(*candidates):
    return tuple(t for t in candidates if t is not None)


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
    # An answer botocore cannot parse (an HTML error page from a proxy or load balancer) is a server-side
    # fault like a 5xx: it is worth another try, and a clear error once the tries run out.
    transient_types = _types(
        ConnectionClosedError, EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ResponseParserError
    )
    return bool(transient_types) and isinstance(error, transient_types)


def _client_error_hint(code, status, operation, resource):
    if code in THROTTLING_CODES:
        return "AWS kept throttling %s. %s" % (operation, RETRIED)
    if code in SERVER_CODES or status >= 500:
        return "AWS answered %s with a server error (HTTP %s). %s" % (operation, status or "5xx", RETRIED)
    if code in PERMISSION_CODES:
        return "The credentials in use may not call %s: grant it in their IAM policy, or use other credentials." % (
            operation
        )
    if code.endswith(".NotFound") or code.endswith("NotFound"):
        return "Check that %s exists in this region and account." % (resource or "the resource")
    return "See the AWS API reference of %s for error code %s." % (operation, code)


def _unparseable(operation, where, resource, status=None, reason=None):
    answered = "HTTP %s%s, " % (status, " %s" % reason if reason else "") if status else ""
    return PhoenixError(
        "AWS %s failed for %s: %sthe answer was not an AWS API response (an error page or other body the SDK "
        "cannot parse)" % (operation, where, answered),
        resource=resource,
        code="UnparseableResponse",
        cloud="aws",
        hint="Something between this host and AWS (a proxy, a load balancer, the endpoint_url) answered in AWS's "
        "place. %s" % RETRIED,
    )


def to_phoenix(error, operation, region, resource=None):
    """One readable message for any botocore failure: what was called, on what, where, why and what to do."""
    where = "%s in %s" % (resource, region) if resource else region
    if ClientError is not None and isinstance(error, ClientError):
        info = error.response.get("Error", {})
        code = info.get("Code") or "Unknown"
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        if code == "Unknown" or code.isdigit():
            # No AWS error in the body: botocore read an HTML page as XML, or made a code of the status.
            return _unparseable(operation, where, resource, status, info.get("Message") if code.isdigit() else None)
        return PhoenixError(
            "AWS %s failed for %s: %s" % (operation, where, info.get("Message") or code),
            resource=resource,
            code=code,
            cloud="aws",
            hint=_client_error_hint(code, status, operation, resource),
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
    if ResponseParserError is not None and isinstance(error, ResponseParserError):
        # botocore's message quotes the whole body (an HTML page); the user needs what and where.
        return _unparseable(operation, where, resource)
    if ReadTimeoutError is not None and isinstance(error, ReadTimeoutError):
        return PhoenixError(
            "AWS %s failed for %s: no answer within the read timeout" % (operation, where),
            resource=resource,
            code="ReadTimeout",
            cloud="aws",
            hint="Raise the read_timeout option (seconds) or run again. %s" % RETRIED,
        )
    if _types(EndpointConnectionError, ConnectionClosedError, ConnectTimeoutError) and isinstance(
        error, _types(EndpointConnectionError, ConnectionClosedError, ConnectTimeoutError)
    ):
        return PhoenixError(
            "AWS %s failed for %s: %s" % (operation, where, error),
            resource=resource,
            code=type(error).__name__,
            cloud="aws",
            hint="Check region, endpoint_url, the network and any HTTPS_PROXY; raise connect_timeout for a "
            "slow link. %s" % RETRIED,
        )
    if BotoCoreError is not None and isinstance(error, BotoCoreError):
        return PhoenixError(
            "AWS %s failed for %s: %s" % (operation, where, error),
            resource=resource,
            code=type(error).__name__,
            cloud="aws",
            hint="The SDK refused or could not complete the call; check the task's options for %s." % operation,
        )
    return None
