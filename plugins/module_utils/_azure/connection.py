# Private to this collection.
"""Azure credentials and the SDK clients built from the shared connection options, with every request counted.

The Azure SDK for Python is used as it is (azure-identity, azure-mgmt-compute, azure-mgmt-network, and
azure-core based data-plane clients such as Key Vault's), with its own retries switched off
(``retry_total=0``): the collection's retry policy is the one policy. Every client shares one transport
setting (``connection_verify`` = ``ca_bundle``) and one response hook that counts each request sent, polls
of long-running operations and token grants included.

``call()`` and ``wait()`` are the only ways out: they retry what is transient and turn azure-core's exceptions
into ``AzureApiError`` (a PhoenixError).
"""

from __future__ import annotations

import os
import threading
import urllib.parse
from collections import Counter

from .._core.errors import InvalidInput, MissingDependency
from .._core.retry import RetryPolicy
from .._core.waiter import Waiter, WaitTimeout
from .environment import ENV_FALLBACKS
from .errors import AzureApiError, NoAnswer, OperationFailed, api_error, is_transient
from .identifiers import resource_id

try:
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        ServiceRequestError,
        ServiceResponseError,
    )
    from azure.identity import ClientSecretCredential, DefaultAzureCredential
except ImportError as import_error:
    AZURE_IMPORT_ERROR = import_error
else:
    AZURE_IMPORT_ERROR = None

# Each cloud's Resource Manager, Entra ID authority host and the audience ARM tokens are asked for
# (AZURE_CLOUD_ENVIRONMENT's values, as AWX's credential and azure.azcollection name them).
CLOUD_ENVIRONMENTS = {
    "AzureCloud": (
        "https://management.azure.com/",
        "https://login.microsoftonline.com/",
        "https://management.azure.com/.default",
    ),
    "AzureChinaCloud": (
        "https://management.chinacloudapi.cn/",
        "https://login.chinacloudapi.cn/",
        "https://management.chinacloudapi.cn/.default",
    ),
    "AzureUSGovernment": (
        "https://management.usgovcloudapi.net/",
        "https://login.microsoftonline.us/",
        "https://management.usgovcloudapi.net/.default",
    ),
}
DEFAULT_CLOUD_ENVIRONMENT = "AzureCloud"
# The header of a create that must not update: ARM answers 412 PreconditionFailed when the resource exists, so a
# retry after a lost answer meets its own resource instead of changing it.
CREATE_ONLY = {"If-None-Match": "*"}
# Seconds between polls of an operation when ARM's answer carries no Retry-After, or 0 (the SDK's own is 30).
DEFAULT_POLLING_INTERVAL = 5
# Path segments of a data-plane URL that name an action rather than a resource (Key Vault's key operations).
ACTIONS = frozenset(("sign", "verify", "encrypt", "decrypt", "wrapkey", "unwrapkey", "create", "import"))


def require_azure():
    if AZURE_IMPORT_ERROR is not None:
        raise MissingDependency(
            "azure-identity, azure-mgmt-compute and azure-mgmt-network", "azure", cause=AZURE_IMPORT_ERROR
        )


def resolve_options(params, environ=None):
    """The connection options of ``params``, each missing one taken from its environment variables.

    The shared ``region`` and ``endpoint_url`` stand for ``location`` and ``resource_manager_url`` when those
    are not given, before the environment is read.
    """
    environ = os.environ if environ is None else environ
    resolved = dict(params)
    # A task's shared option wins over the environment: it was given, the environment only inherited.
    resolved["location"] = resolved.get("location") or params.get("region")
    resolved["resource_manager_url"] = resolved.get("resource_manager_url") or params.get("endpoint_url")
    for name, variables in ENV_FALLBACKS.items():
        if resolved.get(name) not in (None, ""):
            continue
        resolved[name] = next((environ[variable] for variable in variables if environ.get(variable)), None)
    return resolved


def call_key(method, url, service=None):
    """How a request is counted: ``<METHOD> <provider type path>`` for ARM, ``<METHOD> <service> ...`` otherwise.

    ``GET Microsoft.Compute/galleries/images/versions``, ``POST Microsoft.Compute/virtualMachines/generalize``,
    ``GET Microsoft.Compute/locations/operations`` (a poll), ``POST keyvault keys/sign``.
    """
    parsed = urllib.parse.urlsplit(url)
    segments = [urllib.parse.unquote(segment) for segment in parsed.path.split("/") if segment]
    lowered = [segment.lower() for segment in segments]
    if service:
        action = segments[-1] if segments and lowered[-1] in ACTIONS else None
        query = urllib.parse.parse_qs(parsed.query)
        shape = "/".join(part for part in (segments[0] if segments else "", action) if part)
        if "comp" in query:
            shape += "?comp=" + query["comp"][0]
        return "%s %s %s" % (method, service, shape or "/")
    if "token" in lowered and "oauth2" in lowered:
        return "%s identity/token" % method
    if "openid-configuration" in lowered:
        return "%s identity/openid-configuration" % method
    if "providers" in lowered:
        start = len(lowered) - 1 - lowered[::-1].index("providers")
        namespace, *rest = segments[start + 1 :] or ["?"]
        return "%s %s" % (method, "/".join([namespace, *rest[0::2]]))
    if "resourcegroups" in lowered:
        return "%s resourceGroups" % method
    return "%s %s" % (method, "/".join(segments[0::2]) or "/")


class AzureConnection:
    """One credential and the clients built on it; every HTTP request they send is counted."""

    def __init__(
        self,
        subscription_id=None,
        tenant=None,
        client_id=None,
        secret=None,
        cloud_environment=None,
        resource_group=None,
        location=None,
        resource_manager_url=None,
        authority_host=None,
        ca_bundle=None,
        gallery=None,
        key_vault_url=None,
        retry_policy=None,
        operation_timeout=None,
        polling_interval=None,
        credential=None,
    ):
        require_azure()
        if not subscription_id:
            raise InvalidInput(
                "no Azure subscription given",
                hint="Set subscription_id, or AZURE_SUBSCRIPTION_ID (which an AWX Azure credential sets).",
            )
        environment = cloud_environment or DEFAULT_CLOUD_ENVIRONMENT
        if environment not in CLOUD_ENVIRONMENTS:
            raise InvalidInput(
                "cloud_environment %r is not one of %s" % (environment, ", ".join(CLOUD_ENVIRONMENTS)),
                resource=environment,
                hint="For Azure Stack or another private cloud, set resource_manager_url and authority_host.",
            )
        default_manager, default_authority, self.credential_scope = CLOUD_ENVIRONMENTS[environment]
        if ca_bundle and not os.path.isfile(os.path.expanduser(ca_bundle)):
            raise InvalidInput(
                "ca_bundle %s is not a file" % ca_bundle,
                resource=ca_bundle,
                hint="Give the path of a PEM file of the CA certificates to trust.",
            )
        self.subscription_id = subscription_id
        self.tenant = tenant
        self.cloud_environment = environment
        self.resource_group = resource_group
        self.location = location
        self.resource_manager_url = (resource_manager_url or default_manager).rstrip("/")
        self.authority_host = authority_host or default_authority
        self.ca_bundle = os.path.expanduser(ca_bundle) if ca_bundle else None
        self.gallery = gallery
        self.key_vault_url = key_vault_url
        self.retry_policy = retry_policy or RetryPolicy()
        # How long a long-running operation is waited for: the task's wait_timeout, else the core waiter's.
        self.operation_timeout = operation_timeout or Waiter().timeout
        self.polling_interval = DEFAULT_POLLING_INTERVAL if polling_interval is None else float(polling_interval)
        self._lock = threading.Lock()
        self._calls = Counter()
        self._clients = {}
        # (resource group, scale set name), in lower case -> the scale set as ARM last answered this connection (GET,
        # PUT or PATCH), with its etag: where scale_sets.modify_scale_set starts, conditional on that etag.
        self.last_seen = {}
        self.credential = credential or self._credential(tenant, client_id, secret, authority_host)

    @property
    def region(self):
        """The core's name for the location."""
        return self.location

    @classmethod
    def from_params(cls, params, environ=None, **kwargs):
        """A connection from a task's options, with their environment fallbacks."""
        options = resolve_options(params, environ)
        try:
            options["polling_interval"] = _seconds(options.get("polling_interval"))
        except ValueError:
            raise InvalidInput(
                "polling_interval %r is not a number of seconds" % (options["polling_interval"],),
                hint="Set polling_interval (or AZURE_POLLING_INTERVAL) to a number of seconds, 0 or more.",
            ) from None
        kwargs.setdefault("operation_timeout", params.get("wait_timeout"))
        return cls(**{name: options.get(name) for name in ENV_FALLBACKS}, **kwargs)

    def _transport(self, service=None):
        """The settings every azure-core client of this connection is built with."""
        settings = {"retry_total": 0, "raw_response_hook": self._counter(service)}
        if self.ca_bundle:
            settings["connection_verify"] = self.ca_bundle
        return settings

    def _credential(self, tenant, client_id, secret, authority_host):
        given = [name for name, value in (("tenant", tenant), ("client_id", client_id), ("secret", secret)) if value]
        if given and len(given) < 3:
            missing = sorted({"tenant", "client_id", "secret"} - set(given))
            raise InvalidInput(
                "a service principal needs tenant, client_id and secret; %s missing" % ", ".join(missing),
                hint="Set all three (AZURE_TENANT, AZURE_CLIENT_ID, AZURE_SECRET), or none to use azure-identity's "
                "default chain (managed identity, environment, Azure CLI).",
            )
        if given:
            return ClientSecretCredential(
                tenant,
                client_id,
                secret,
                authority=self.authority_host,
                # Instance discovery asks login.microsoftonline.com about the authority: not for a private one.
                disable_instance_discovery=authority_host is not None,
                **self._transport(),
            )
        return DefaultAzureCredential(authority=self.authority_host)

    # -- clients -----------------------------------------------------------------------------------

    def _arm_client(self, factory):
        with self._lock:
            client = self._clients.get(factory)
        if client is None:
            client = factory(
                self.credential,
                self.subscription_id,
                base_url=self.resource_manager_url,
                credential_scopes=[self.credential_scope],
                polling_interval=self.polling_interval,
                **self._transport(),
            )
            with self._lock:
                client = self._clients.setdefault(factory, client)
        return client

    def compute(self):
        """azure-mgmt-compute's ComputeManagementClient on this connection."""
        from azure.mgmt.compute import ComputeManagementClient

        return self._arm_client(ComputeManagementClient)

    def network(self):
        """azure-mgmt-network's NetworkManagementClient on this connection."""
        from azure.mgmt.network import NetworkManagementClient

        return self._arm_client(NetworkManagementClient)

    def client(self, factory, *args, service=None, **kwargs):
        """Another azure-core based client (Key Vault, Blob storage) with this connection's transport.

        ``service`` names its requests in ``api_calls()`` (``keyvault``, ``blob``).
        """
        settings = self._transport(service or getattr(factory, "__name__", "data"))
        settings.update(kwargs)
        return factory(*args, **settings)

    def resource_id(self, provider_type, *names, resource_group=None):
        """The id of a resource in this subscription (and in the connection's resource group by default)."""
        group = resource_group or self.resource_group
        if not group:
            raise InvalidInput(
                "no Azure resource group given",
                hint="Set resource_group (or AZURE_RESOURCE_GROUP): the resources of the workflow live in it.",
            )
        return resource_id(self.subscription_id, group, provider_type, *names)

    # -- calls -------------------------------------------------------------------------------------

    def call(self, operation, fn, *args, resource=None, **kwargs):
        """``fn(*args, **kwargs)``, retried while transient; azure-core's failures raised as AzureApiError.

        ``operation`` is Azure's REST operation id (``GalleryImageVersions_Get``), for messages.
        """

        def attempt():
            try:
                return fn(*args, **kwargs)
            except Exception as error:  # noqa: BLE001 - mapped, or re-raised as it is
                raise sdk_error(error, operation, resource) from None

        return self.retry_policy.run(attempt, is_transient)

    def wait(self, operation, begin, *args, resource=None, **kwargs):
        """The result of the long-running operation ``begin(*args, **kwargs)`` starts (a ``begin_*`` method).

        The start is retried like ``call``; the wait is one ``poller.result()`` bounded by the operation
        timeout. A poll that failed transiently resumes the same operation from its continuation token,
        so nothing is started twice. An operation that ended Failed or Canceled raises OperationFailed.
        """
        poller = self.call(operation, begin, *args, resource=resource, **kwargs)
        token = poller.continuation_token()
        timeout = self.operation_timeout
        resumed = []

        def attempt():
            current = resumed[-1] if resumed else poller
            try:
                result = current.result(timeout=timeout)
            except Exception as error:  # noqa: BLE001 - mapped, or re-raised as it is
                failure = sdk_error(error, operation, resource, polling=True)
                if is_transient(failure):
                    resumed.append(begin(*args, continuation_token=token, **kwargs))
                raise failure from None
            if not current.done():
                raise WaitTimeout(
                    "timed out after %ss waiting for %s%s"
                    % (timeout, operation, " of %s" % resource if resource else ""),
                    resource=resource or operation,
                    code="WaitTimeout",
                    hint="Raise wait_timeout, or run again later: the next run picks up where this one stopped.",
                )
            return result

        return self.retry_policy.run(attempt, is_transient)

    def pages(self, operation, paged, resource=None):
        """Each page of an SDK list (an ``ItemPaged``) as a list of its items; every page is one retried call.

        A failed page is asked again from the same ``nextLink``: azure-core's page iterator keeps its place
        until a page has arrived.
        """
        iterator = paged.by_page()
        while True:
            page = self.call(operation, next, iterator, None, resource=resource)
            if page is None:
                return
            yield list(page)

    def listed(self, operation, paged, resource=None):
        """Every item of an SDK list, page by page (``pages``)."""
        return [item for page in self.pages(operation, paged, resource=resource) for item in page]

    # -- counting ----------------------------------------------------------------------------------

    def _counter(self, service):
        def count(pipeline_response):
            request = pipeline_response.http_request
            key = call_key(request.method, request.url, service)
            with self._lock:
                self._calls[key] += 1

        return count

    def api_calls(self):
        """HTTP requests sent so far (polls and token grants included), by ``call_key``."""
        with self._lock:
            return dict(sorted(self._calls.items()))


def arm_json(model):
    """ARM's JSON of an SDK model (its ``as_dict()``); None, or what is JSON already, as it is."""
    return model.as_dict() if model is not None and hasattr(model, "as_dict") else model


def _seconds(value):
    if value in (None, ""):
        return None
    seconds = float(value)
    if seconds < 0:
        raise ValueError(value)
    return seconds


def sdk_error(error, operation, resource=None, polling=False):
    """The AzureApiError of an exception azure-core or azure-identity raised; anything else unchanged.

    ``polling``: the error ended a wait, so an error raised without a failed HTTP status is the operation's
    own failure (OperationFailed), not the call's.
    """
    if isinstance(error, AzureApiError) or AZURE_IMPORT_ERROR is not None:
        return error
    if isinstance(error, (ServiceRequestError, ServiceResponseError)):
        return api_error(
            None, type(error).__name__, "no answer (%s)" % error, operation, resource, error_class=NoAnswer
        )
    if isinstance(error, HttpResponseError):
        status = error.status_code
        odata = getattr(error, "error", None)
        # ARM and Key Vault put the code in the error body; Blob Storage in x-ms-error-code (``error_code``).
        code = (
            getattr(odata, "code", None)
            or getattr(error, "error_code", None)
            or getattr(error, "reason", None)
            or type(error).__name__
        )
        message = getattr(odata, "message", None) or error.message or str(error)
        if isinstance(error, ClientAuthenticationError) and (status is None or status < 400):
            return api_error(401, code, message, operation, resource)
        if polling and (status is None or status < 400):
            return api_error(status, code, message, operation, resource, error_class=OperationFailed)
        return api_error(status, code, message, operation, resource)
    return error
