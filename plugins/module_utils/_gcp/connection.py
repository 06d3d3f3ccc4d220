# Private to this collection.
"""GCP credentials and one AuthorizedSession built from the shared connection options, with calls counted.

Only google-auth and requests at run time: the Compute v1 (and later Cloud KMS and Storage) REST APIs are
called through ``google.auth.transport.requests.AuthorizedSession``. google-cloud-compute is not used: its
operation clients ignore an endpoint override and would poll the real service.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections import Counter

from .._core.errors import InvalidInput, MissingDependency, PhoenixError
from .._core.retry import RetryPolicy
from .environment import ENV_FALLBACKS
from .errors import TransportFailure, from_response, is_transient, transport_to_phoenix

try:
    import google.auth
    import google.auth.exceptions
    import google.oauth2.credentials
    import requests
    from google.auth.transport.requests import AuthorizedSession, Request
    from google.oauth2 import service_account
except ImportError as import_error:
    google = requests = None
    GOOGLE_AUTH_IMPORT_ERROR = import_error
else:
    GOOGLE_AUTH_IMPORT_ERROR = None

AUTH_KINDS = ("serviceaccount", "application", "accesstoken")
DEFAULT_SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
DEFAULT_ENDPOINT_URL = "https://compute.googleapis.com/compute/v1/"
DEFAULT_KMS_ENDPOINT_URL = "https://cloudkms.googleapis.com/v1/"
DEFAULT_STORAGE_ENDPOINT_URL = "https://storage.googleapis.com/"
# Seconds to wait for a connection / for an answer (requests has no default: it would wait forever).
DEFAULT_CONNECT_TIMEOUT = 60
DEFAULT_READ_TIMEOUT = 60
TOKEN_CALL = "oauth2.token"

# The environment fallbacks of the connection options (one table, for this and for the argument spec).


def require_google_auth():
    if GOOGLE_AUTH_IMPORT_ERROR is not None:
        raise MissingDependency("google-auth", "gcp", cause=GOOGLE_AUTH_IMPORT_ERROR)


def resolve_options(params, environ=None):
    """The connection options of ``params``, each missing one taken from its environment variables.

    ``scopes`` from the environment is a comma-separated list. Options not in ENV_FALLBACKS pass unchanged.
    """
    environ = os.environ if environ is None else environ
    resolved = dict(params)
    for name, variables in ENV_FALLBACKS.items():
        if resolved.get(name) not in (None, "", []):
            continue
        for variable in variables:
            value = environ.get(variable)
            if value:
                resolved[name] = (
                    [part.strip() for part in value.split(",") if part.strip()] if name == "scopes" else value
                )
                break
    return resolved


def auth_kind_of(auth_kind, service_account_file, service_account_contents, access_token):
    """The auth_kind given, or the one the other options imply (a key means serviceaccount, a token accesstoken)."""
    if auth_kind:
        if auth_kind not in AUTH_KINDS:
            raise InvalidInput(
                "auth_kind must be one of %s, not %r" % (", ".join(AUTH_KINDS), auth_kind),
                hint="Set auth_kind (or GCP_AUTH_KIND) to serviceaccount, application or accesstoken.",
            )
        return auth_kind
    if service_account_file or service_account_contents:
        return "serviceaccount"
    if access_token:
        return "accesstoken"
    return "application"


def load_service_account_info(service_account_file=None, service_account_contents=None):
    """The key file's JSON as a dict, from a path or from the contents (a JSON string or a mapping)."""
    if service_account_file and service_account_contents:
        raise InvalidInput(
            "give either service_account_file or service_account_contents, not both",
            hint="Both name a service-account key; keep the one you mean.",
        )
    if not (service_account_file or service_account_contents):
        raise InvalidInput(
            "auth_kind serviceaccount needs a service-account key",
            hint="Set service_account_file or service_account_contents (or GCP_SERVICE_ACCOUNT_FILE / "
            "GCE_CREDENTIALS_FILE_PATH, which an AWX Google Compute Engine credential sets).",
        )
    where = service_account_file or "service_account_contents"
    if isinstance(service_account_contents, dict):
        info = dict(service_account_contents)
    else:
        try:
            if service_account_file:
                with open(os.path.expanduser(service_account_file), encoding="utf-8") as handle:
                    text = handle.read()
            else:
                text = service_account_contents
            info = json.loads(text)
        except OSError as error:
            raise InvalidInput(
                "cannot read service_account_file %s: %s" % (where, error.strerror), resource=where
            ) from None
        except ValueError:
            # Never quote the contents: they hold a private key.
            raise InvalidInput("the service-account key in %s is not JSON" % where, resource=where) from None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise InvalidInput(
            "the key in %s is not a service-account key (its type is %r)"
            % (where, info.get("type") if isinstance(info, dict) else None),
            resource=where,
            hint="Download a JSON key of the service account (IAM > Service accounts > Keys).",
        )
    return info


class GcpConnection:
    """One set of credentials and one AuthorizedSession; every HTTP request it sends is counted.

    ``request()`` is the only way out: it retries 429, 5xx and dropped connections through the
    collection's retry policy and turns Google's error bodies into ``GcpApiError`` (a PhoenixError).
    """

    def __init__(
        self,
        project=None,
        auth_kind=None,
        service_account_file=None,
        service_account_contents=None,
        access_token=None,
        scopes=None,
        endpoint_url=None,
        token_uri=None,
        zone=None,
        region=None,
        kms_endpoint_url=None,
        storage_endpoint_url=None,
        retry_policy=None,
        connect_timeout=None,
        read_timeout=None,
        operation_timeout=None,
    ):
        require_google_auth()
        self.auth_kind = auth_kind_of(auth_kind, service_account_file, service_account_contents, access_token)
        self.scopes = list(scopes or DEFAULT_SCOPES)
        self.endpoint_url = _base_url(endpoint_url or DEFAULT_ENDPOINT_URL)
        # Cloud KMS v1 and Cloud Storage (its JSON API under storage/v1/, its uploads under upload/storage/v1/).
        self.kms_endpoint_url = _base_url(kms_endpoint_url or DEFAULT_KMS_ENDPOINT_URL)
        self.storage_endpoint_url = _base_url(storage_endpoint_url or DEFAULT_STORAGE_ENDPOINT_URL)
        self.token_uri = token_uri
        self.zone = zone
        self.region = region or (zone.rsplit("-", 1)[0] if zone else None)
        self.retry_policy = retry_policy or RetryPolicy()
        self.timeout = (connect_timeout or DEFAULT_CONNECT_TIMEOUT, read_timeout or DEFAULT_READ_TIMEOUT)
        # How long a long-running operation is waited for: the task's wait_timeout, where it has one.
        self.operation_timeout = operation_timeout
        self._lock = threading.Lock()
        self._calls = Counter()
        credentials, found_project = self._credentials(service_account_file, service_account_contents, access_token)
        self.project = project or found_project
        if not self.project:
            raise InvalidInput(
                "no GCP project given",
                hint="Set the project option, or GCP_PROJECT / GCE_PROJECT.",
            )
        self.credentials = credentials
        # The token grant goes through a session of its own whose answers are counted too.
        token_session = requests.Session()
        token_session.hooks["response"].append(self._count_token_call)
        # A bare access token cannot be refreshed: its 401 is the answer, not a cue to refresh.
        refresh = () if self.auth_kind == "accesstoken" else (401,)
        self.session = AuthorizedSession(credentials, auth_request=Request(token_session), refresh_status_codes=refresh)

    @classmethod
    def from_params(cls, params, environ=None, **kwargs):
        """A connection from a task's options, with their environment fallbacks."""
        options = resolve_options(params, environ)
        names = (
            "project",
            "auth_kind",
            "service_account_file",
            "service_account_contents",
            "access_token",
            "scopes",
            "endpoint_url",
            "token_uri",
            "zone",
            "region",
            "kms_endpoint_url",
            "storage_endpoint_url",
        )
        kwargs.setdefault("operation_timeout", params.get("wait_timeout"))
        return cls(**{name: options.get(name) for name in names}, **kwargs)

    def _credentials(self, service_account_file, service_account_contents, access_token):
        if self.auth_kind == "serviceaccount":
            info = load_service_account_info(service_account_file, service_account_contents)
            try:
                credentials = service_account.Credentials.from_service_account_info(info, scopes=self.scopes)
            except (ValueError, KeyError) as error:
                where = service_account_file or "service_account_contents"
                raise InvalidInput(
                    "the service-account key in %s is incomplete: %s" % (where, error), resource=where
                ) from None
            if self.token_uri:
                # AWX writes Google's token_uri into the key file; the option points the grant elsewhere.
                credentials = credentials.with_token_uri(self.token_uri)
            return credentials, info.get("project_id")
        if self.auth_kind == "accesstoken":
            if not access_token:
                raise InvalidInput(
                    "auth_kind accesstoken needs access_token", hint="Set access_token (or GCP_ACCESS_TOKEN)."
                )
            return google.oauth2.credentials.Credentials(token=access_token), None
        try:
            credentials, project = google.auth.default(scopes=self.scopes)
        except google.auth.exceptions.DefaultCredentialsError as error:
            raise PhoenixError(
                "no GCP application default credentials found: %s" % error,
                code="NoCredentials",
                cloud="gcp",
                hint="Run `gcloud auth application-default login`, set GOOGLE_APPLICATION_CREDENTIALS, or use "
                "auth_kind serviceaccount with service_account_file.",
            ) from None
        if self.token_uri and hasattr(credentials, "with_token_uri"):
            # Application default credentials may be a service-account key file too.
            credentials = credentials.with_token_uri(self.token_uri)
        return credentials, project

    # -- URLs --------------------------------------------------------------------------------------

    def url(self, path):
        """The absolute URL of a Compute path relative to the API root (``projects/P/global/images``)."""
        if path.startswith("http://") or path.startswith("https://"):
            return path
        return self.endpoint_url + path.lstrip("/")

    def project_url(self, path):
        return self.url("projects/%s/%s" % (self.project, path.lstrip("/")))

    # -- calls -------------------------------------------------------------------------------------

    def request(
        self,
        method,
        path,
        operation,
        resource=None,
        params=None,
        body=None,
        mutation=False,
        data=None,
        content_type=None,
        raw=False,
    ):
        """Send one API call (retried while transient); its JSON answer, or a GcpApiError.

        ``operation`` is Google's method id (``compute.images.insert``): the key calls are counted under.
        A ``mutation`` carries a ``requestId`` made once for the call and sent again with every retry, so
        Compute applies it once even when an answer was lost and the call is sent again.
        ``data`` (bytes, of ``content_type``) is sent instead of a JSON ``body``: a Cloud Storage upload.
        ``raw`` returns the answer's bytes instead of its JSON: a Cloud Storage download (``alt=media``).
        """
        url = self.url(path)
        headers = {"Content-Type": content_type} if data is not None and content_type else None
        if mutation:
            params = dict(params or {}, requestId=str(uuid.uuid4()))

        def counted(response, *args, **kwargs):
            self._count(operation)
            return response

        def attempt():
            # Counted per answer (so the request AuthorizedSession sends again after refreshing a token on a
            # 401 counts too), and per request that got no answer.
            try:
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    json=body if data is None else None,
                    data=data,
                    headers=headers,
                    timeout=self.timeout,
                    hooks={"response": [counted]},
                )
            except requests.exceptions.Timeout as error:
                self._count(operation)
                raise TransportFailure(error, timeout=True) from None
            except requests.exceptions.ConnectionError as error:
                self._count(operation)
                raise TransportFailure(error) from None
            if response.status_code >= 400:
                raise from_response(response.status_code, _json_or_none(response), operation, resource)
            if raw:
                return response.content
            return _json_or_none(response) or {}

        try:
            return self.retry_policy.run(attempt, is_transient)
        except TransportFailure as failure:
            raise transport_to_phoenix(failure, operation, resource) from None
        except google.auth.exceptions.RefreshError as error:
            raise PhoenixError(
                "GCP refused the credentials while calling %s: %s" % (operation, _refresh_reason(error)),
                resource=resource,
                code="RefreshError",
                cloud="gcp",
                hint="Check the service-account key (it may be deleted or disabled), auth_kind and token_uri.",
            ) from None
        except google.auth.exceptions.TransportError as error:
            raise PhoenixError(
                "GCP token endpoint unreachable while calling %s: %s" % (operation, error),
                resource=resource,
                code="TransportError",
                cloud="gcp",
                hint="Check token_uri, the network and any HTTPS_PROXY.",
            ) from None

    def _count(self, operation):
        with self._lock:
            self._calls[operation] += 1

    def _count_token_call(self, response, *args, **kwargs):
        self._count(TOKEN_CALL)
        return response

    def api_calls(self):
        """HTTP requests sent so far (retries included), by Google's method id."""
        with self._lock:
            return dict(sorted(self._calls.items()))


def _base_url(url):
    return url if url.endswith("/") else url + "/"


def _json_or_none(response):
    try:
        return response.json()
    except ValueError:
        return None


def _refresh_reason(error):
    # RefreshError's args are (message, response body); the message names the reason (invalid_grant ...).
    return error.args[0] if error.args else str(error)
