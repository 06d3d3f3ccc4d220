# Private to this collection.
"""AWS sessions and clients built from the shared connection options, with calls counted."""

from __future__ import annotations

import functools
import os
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


def validate_region(region, session=None):
    """Refuse a region name no AWS partition has, before anything is sent. ``session`` (a botocore
    session) answers from the partition data it has already loaded; by default, one shared by the process."""
    require_boto3()
    try:
        (session or _partitions()).get_partition_for_region(region)
    except (UnknownRegionError, ValueError):
        raise InvalidInput(
            "%r is not an AWS region name" % region,
            resource=region,
            hint="Use a region such as us-east-1 or eu-west-1 (option region, or AWS_REGION).",
        ) from None


@functools.cache
def _partitions():
    """A botocore session for region names only: its partition data (endpoints.json) is read once."""
    return botocore.session.get_session()


# Sessions shared by the connections of a process with the same credentials, profile, region and AWS_*
# environment, so that each botocore file (endpoints, the model of each service) is read and parsed once
# per process, not once per connection. A session reads its credentials and configuration once, as each
# connection's own session did. Each connection still makes and counts its own clients.
_SESSIONS = {}
_SESSIONS_LOCK = threading.Lock()
_MAX_SESSIONS = 16


class _SharedSession:
    """A boto3 session, its botocore session, and the lock that its users hold while making a client or
    reading its partitions (a session is not thread-safe)."""

    def __init__(self, session, core):
        self.session = session
        self.core = core
        self.lock = threading.Lock()


def _shared_session(access_key, secret_key, session_token, profile, region):
    environment = tuple(sorted((name, value) for name, value in os.environ.items() if name.startswith("AWS_")))
    # The process id too: a forked child (an Ansible worker) makes its own, never using its parent's.
    key = (os.getpid(), access_key, secret_key, session_token, profile, region, environment)
    with _SESSIONS_LOCK:
        shared = _SESSIONS.get(key)
        if shared is None:
            core = botocore.session.get_session()
            try:
                session = boto3.session.Session(
                    aws_access_key_id=access_key,
                    aws_secret_access_key=secret_key,
                    aws_session_token=session_token,
                    profile_name=profile,
                    region_name=region,
                    botocore_session=core,
                )
            except Exception as error:  # botocore raises ProfileNotFound among others
                raise InvalidInput("cannot open AWS session: %s" % error, resource=profile) from None
            if len(_SESSIONS) >= _MAX_SESSIONS:
                _SESSIONS.pop(next(iter(_SESSIONS)))
            shared = _SESSIONS[key] = _SharedSession(session, core)
        return shared


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
        self._shared = _shared_session(access_key, secret_key, session_token, profile, region)
        self.session = self._shared.session
        self.region = region or self.session.region_name
        if not self.region:
            raise InvalidInput(
                "no AWS region given",
                hint="Set the region option, or AWS_REGION / AWS_DEFAULT_REGION.",
            )
        with self._shared.lock:
            validate_region(self.region, self._shared.core)
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
        # botocore's own retries are switched off: the collection has one retry policy, not two. Its
        # max_attempts counts retries (1 means two requests); total_max_attempts counts requests.
        config = Config(
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            user_agent_extra=USER_AGENT,
        )
        with self._shared.lock:
            validate_region(region, self._shared.core)
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
