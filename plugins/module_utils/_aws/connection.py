# Private to this collection.
"""AWS sessions and clients built from the shared connection options, with calls counted."""

from __future__ import annotations

import threading
from collections import Counter

from .._core.errors import InvalidInput, MissingDependency
from .._core.retry import RetryPolicy

try:
    import boto3
    import botocore.session
    from botocore.config import Config
    from botocore.exceptions import UnknownRegionError
except ImportError as import_error:
    boto3 = None
    BOTO3_IMPORT_ERROR = import_error
else:
    BOTO3_IMPORT_ERROR = None

USER_AGENT = "phoenix.immutable"
# botocore's own defaults, documented in the aws doc fragment: seconds to wait for a connection / an answer.
DEFAULT_CONNECT_TIMEOUT = 60
DEFAULT_READ_TIMEOUT = 60


def require_boto3():
    if boto3 is None:
        raise MissingDependency("boto3", "aws", cause=BOTO3_IMPORT_ERROR)


def validate_region(region):
    """Refuse a region name no AWS partition has, before anything is sent."""
    require_boto3()
    try:
        botocore.session.get_session().get_partition_for_region(region)
    except (UnknownRegionError, ValueError):
        raise InvalidInput(
            "%r is not an AWS region name" % region,
            resource=region,
            hint="Use a region such as us-east-1 or eu-west-1 (option region, or AWS_REGION).",
        ) from None


class AwsConnection:
    """One set of credentials; clients per (service, region), created once and counted."""

    def __init__(
        self,
        region=None,
        endpoint_url=None,
        access_key=None,
        secret_key=None,
        session_token=None,
        profile=None,
        retry_policy=None,
        connect_timeout=None,
        read_timeout=None,
    ):
        require_boto3()
        if profile and (access_key or secret_key):
            raise InvalidInput(
                "give either profile or access_key/secret_key, not both",
                hint="A profile carries its own keys.",
            )
        if bool(access_key) != bool(secret_key):
            raise InvalidInput("access_key and secret_key go together; only one was given")
        try:
            self.session = boto3.session.Session(
                aws_access_key_id=access_key,
                aws_secret_access_key=secret_key,
                aws_session_token=session_token,
                profile_name=profile,
                region_name=region,
            )
        except Exception as error:  # botocore raises ProfileNotFound among others
            raise InvalidInput("cannot open AWS session: %s" % error, resource=profile) from None
        self.region = region or self.session.region_name
        if not self.region:
            raise InvalidInput(
                "no AWS region given",
                hint="Set the region option, or AWS_REGION / AWS_DEFAULT_REGION.",
            )
        validate_region(self.region)
        self.endpoint_url = endpoint_url
        self.connect_timeout = _timeout("connect_timeout", connect_timeout, DEFAULT_CONNECT_TIMEOUT)
        self.read_timeout = _timeout("read_timeout", read_timeout, DEFAULT_READ_TIMEOUT)
        self.retry_policy = retry_policy or RetryPolicy()
        self._clients = {}
        self._lock = threading.Lock()
        self._calls = Counter()

    def client(self, service, region=None):
        region = region or self.region
        with self._lock:
            key = (service, region)
            if key not in self._clients:
                self._clients[key] = self._new_client(service, region)
            return self._clients[key]

    def _new_client(self, service, region):
        validate_region(region)
        # botocore's own retries are switched off: the collection has one retry policy, not two. Its
        # max_attempts counts retries (1 means two requests); total_max_attempts counts requests.
        config = Config(
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            user_agent_extra=USER_AGENT,
        )
        client = self.session.client(service, region_name=region, endpoint_url=self.endpoint_url, config=config)
        prefix = client.meta.service_model.endpoint_prefix
        # before-send fires once per HTTP request, so a retried call counts as often as it was sent.
        client.meta.events.register("before-send.*.*", lambda event_name, **kwargs: self._count(prefix, event_name))
        return client

    def _count(self, prefix, event_name):
        with self._lock:
            self._calls["%s:%s" % (prefix, event_name.rsplit(".", 1)[-1])] += 1

    def api_calls(self):
        with self._lock:
            return dict(sorted(self._calls.items()))


def _timeout(name, value, default):
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise InvalidInput(
            "%s must be a positive number of seconds, not %r" % (name, value),
            hint="Leave %s out for the default of %s seconds." % (name, default),
        )
    return value
