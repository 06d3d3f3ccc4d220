"""Azure for the tests: a wire-format Azure Resource Manager emulator and Entra ID token endpoint, over HTTPS.

`ArmEmulator` is a stateful HTTPS server in a daemon thread of this process, on 127.0.0.1 and a port the
kernel picks, with a certificate of a test CA made at start-up (`emulators.tls`; clients trust
`ca_bundle`, verification stays on). The real Azure SDK drives it unchanged:

- **Identity** (what azure-identity's `ClientSecretCredential(tenant, client, secret, authority=authority_url,
  disable_instance_discovery=True)` calls): `GET /{tenant}/v2.0/.well-known/openid-configuration` and `POST
  /{tenant}/oauth2/v2.0/token` with the client-credentials grant. A registered app (`client_id`,
  `client_secret`; more with `register_client()`) gets a bearer token for the resource its ``scope`` names
  (``https://management.azure.com/.default``); an unknown tenant, an unknown client, a wrong secret or a scope
  without ``/.default`` is refused with the ``AADSTS`` error body Entra ID answers.
- **Tokens are checked on every ARM call**: none, an unknown one, an expired one (`expire_tokens()`), one for
  another audience or another tenant's is answered 401 with ``WWW-Authenticate: Bearer authorization_uri=...``
  and ARM's error body (AuthenticationFailed, InvalidAuthenticationToken, ExpiredAuthenticationToken ...).
- **ARM's machinery**: ``api-version`` required on every call (400 MissingApiVersionParameter,
  InvalidApiVersionParameter), case-insensitive resource ids, ``provisioningState``, ARM error bodies
  ``{"error": {"code", "message"}}``, ``nextLink`` paging with ``$skiptoken`` (`page_size` items a page),
  ``If-None-Match: *`` on PUT (412 PreconditionFailed when the resource exists), and long-running operations:
  a mutation answers 201/202 (200 for an update) with ``Azure-AsyncOperation`` and, for DELETE, ``Location``
  headers; every poll of either moves the operation one step, ``InProgress`` until `operation_polls` polls,
  then ``Succeeded`` (the resource's provisioningState follows it) or, with `fail_operations()`,
  ``Failed`` with an error.
- **Resources**: resource groups, Compute Gallery galleries, image definitions and image versions
  (`emulators.arm_compute`); virtual machines with power states, deallocate and generalize, and their OS
  disks (`emulators.arm_vm`); virtual machine scale sets and their instances (`emulators.arm_scaleset`);
  virtual networks, subnets, security groups (`emulators.arm_network`), public addresses and NICs
  (`emulators.arm_network_interfaces`). `put_resource()` plants what is not served yet (a managed image).
- **Load balancers** (`emulators.arm_loadbalancer`): Standard load balancers, their pools' members whatever names them.
- **Call counting** per operation id of Azure's REST specifications (``Galleries_CreateOrUpdate``,
  ``GalleryImageVersions_ListByGalleryImage``), polls as ``AsyncOperations_Get`` and ``OperationResults_Get``,
  identity as ``Identity_OpenIdConfiguration`` and ``Identity_Token``; a call answered with a fault counts.
- **Fault injection**: `inject_fault("GalleryImages_Get", status=429, times=2, retry_after=3)` answers the next
  two such calls with ARM's throttling answer and ``Retry-After`` before applying them; ``after_apply=True``
  applies the call, then loses its answer. `fault_rate(0.2, seed=7)` answers a seeded share of ARM calls
  429 or 503.

The code: this module (server, dispatch, paging, counting, faults), `emulators.arm_identity` (Entra ID),
`emulators.arm_operations` (long-running operations), `emulators.arm_api` (errors, requests, tags),
`emulators.arm_compute` and `emulators.arm_vm` (the resource types). A new resource type is one
`ResourceType` subclass in `ArmEmulator._types`. See docs/testing.md ("Azure emulator") for what is
faithful and what is not.
"""

from __future__ import annotations

import base64
import json
import random
import re
import ssl
import tempfile
import threading
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager, suppress
from http.server import ThreadingHTTPServer
from typing import Any

from emulators.arm_api import Answer, ArmError, Request, check_api_version, no_route, parse_body
from emulators.arm_compute import (
    Galleries,
    GalleryImages,
    ResourceGroups,
    ResourceType,
)
from emulators.arm_gallery import GalleryImageVersions, SubscriptionReads
from emulators.arm_identity import ClientApp, EntraId
from emulators.arm_loadbalancer import LoadBalancers
from emulators.arm_network import NetworkSecurityGroups, Subnets, VirtualNetworks
from emulators.arm_network_interfaces import NetworkInterfaces, PublicIPAddresses
from emulators.arm_operations import AsyncOperation, Operations
from emulators.arm_scaleset import VirtualMachineScaleSets
from emulators.arm_vm import Disks, VirtualMachines
from emulators.ledger import CallLedger, Fault
from emulators.serving import EmulatorRequestHandler, ServedInThread
from emulators.tls import TestCertificates

__all__ = ["ArmEmulator", "ArmError", "AsyncOperation"]

LOOPBACK = "127.0.0.1"
LOCATION = "eastus"
MANAGEMENT_SCOPE = "https://management.azure.com/.default"
PAGE_SIZE = 100
IDENTITY_CALLS = ("Identity_OpenIdConfiguration", "Identity_Token")
_OPERATION_PATH = (
    r"/subscriptions/(?P<subscription>[^/]+)(?:/providers/(?P<provider>[^/]+)/locations/(?P<location>[^/]+))?"
    r"/(?P<kind>operations|operationResults)/(?P<operation_id>[^/]+)"
)


class _Handler(EmulatorRequestHandler):
    def _serve(self) -> None:
        answer = self.server.emulator.handle(self.command, self.path, dict(self.headers.items()), self.request_body())
        data = b"" if answer.body is None else json.dumps(answer.body).encode()
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        if answer.body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", "0" if self.command == "HEAD" else str(len(data)))
        self.end_headers()
        if data and self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_DELETE = do_PATCH = do_PUT = do_HEAD = _serve


class _TlsServer(ThreadingHTTPServer):
    """Serves TLS; the handshake runs in the connection's own thread, so one slow client blocks no other."""

    daemon_threads = True
    context: ssl.SSLContext

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return  # a client that does not trust the CA hangs up during the handshake
        try:
            super().finish_request(tls, client_address)
        finally:
            with suppress(OSError):
                tls.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        if getattr(self, "emulator", None) is not None and self.emulator.verbose:
            super().handle_error(request, client_address)


class ArmEmulator:
    """Azure Resource Manager and Entra ID's token endpoint on https://127.0.0.1:PORT, in a daemon thread.

    with ArmEmulator() as arm:
        credential = ClientSecretCredential(arm.tenant_id, arm.client_id, arm.client_secret,
                                            authority=arm.authority_url, disable_instance_discovery=True,
                                            connection_verify=arm.ca_bundle)
        compute = ComputeManagementClient(credential, arm.subscription_id, base_url=arm.endpoint_url,
                                          credential_scopes=[arm.credential_scope],
                                          connection_verify=arm.ca_bundle, retry_total=0)
    """

    def __init__(
        self,
        *,
        location: str = LOCATION,
        operation_polls: int = 3,
        page_size: int = PAGE_SIZE,
        seed: int = 0,
        verbose: bool = False,
    ) -> None:
        if operation_polls < 1 or page_size < 1:
            raise ValueError("operation_polls and page_size must be at least 1")
        ids = random.Random(seed)
        self.tenant_id = str(uuid.UUID(int=ids.getrandbits(128), version=4))
        self.subscription_id = str(uuid.UUID(int=ids.getrandbits(128), version=4))
        self.location = location
        self.operation_polls = operation_polls
        self.page_size = page_size
        # The Retry-After (seconds) of an answer that starts or polls an operation; the SDK's poller waits that long.
        self.poll_retry_after = 0
        self.verbose = verbose
        self.lock = threading.RLock()
        self._seed = seed
        self._served: ServedInThread | None = None
        self._tls_folder: tempfile.TemporaryDirectory[str] | None = None
        self._certificates: TestCertificates | None = None
        self.identity = EntraId(self, self.tenant_id)
        self.lro = Operations(self)
        self.resource_groups = ResourceGroups(self)
        self.virtual_machines = VirtualMachines(self)
        self._types: list[ResourceType] = [
            self.resource_groups,
            Galleries(self),
            GalleryImages(self),
            GalleryImageVersions(self),
            Disks(self),
            self.virtual_machines,
            VirtualMachineScaleSets(self),
            LoadBalancers(self),
            VirtualNetworks(self),
            Subnets(self),
            NetworkSecurityGroups(self),
            PublicIPAddresses(self),
            NetworkInterfaces(self),
            SubscriptionReads(self),
        ]
        self._routes: list[tuple[str, re.Pattern[str], str, Callable[[Request], Answer]]] = []
        openid = r"/(?P<tenant>[^/]+)/v2\.0/\.well-known/openid-configuration"
        self._route("GET", openid, "Identity_OpenIdConfiguration", self.identity.openid_configuration)
        self._route("POST", r"/(?P<tenant>[^/]+)/oauth2/v2\.0/token", "Identity_Token", self.identity.token)
        self._route("GET", _OPERATION_PATH, "", self.lro.poll)
        for resource_type in self._types:
            for method, pattern, operation, handler in resource_type.routes():
                self._route(method, pattern, operation, handler)
        self.reset()
        app = self.register_client()
        self.client_id, self.client_secret = app.client_id, app.client_secret

    def _route(self, method: str, pattern: str, operation: str, handler: Callable[[Request], Answer]) -> None:
        """Serve ``method`` on paths matching ``pattern`` (a regex of the whole path, any case) as ``operation``."""
        self._routes.append((method, re.compile("^" + pattern + "/?$", re.IGNORECASE), operation, handler))

    # lifecycle -------------------------------------------------------------------------------------

    def start(self) -> ArmEmulator:
        if self._served is not None:
            return self
        self._tls_folder = tempfile.TemporaryDirectory(prefix="arm-emulator-tls-")
        self._certificates = TestCertificates.create(self._tls_folder.name, common_name="ARM emulator")
        server = _TlsServer((LOOPBACK, 0), _Handler)
        server.context = self._certificates.server_context()
        server.emulator = self  # type: ignore[attr-defined]
        self._served = ServedInThread(server, "arm-emulator")
        return self

    def stop(self) -> None:
        if self._served is None:
            return
        self._served.stop()
        self._served = None
        if self._tls_folder is not None:
            self._tls_folder.cleanup()
            self._tls_folder = None
            self._certificates = None

    def __enter__(self) -> ArmEmulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget every resource, operation, token, counted call and fault (the app registrations stay)."""
        with self.lock:
            self.resources: dict[str, dict[str, Any]] = {}
            self.lro.reset()
            self.identity.tokens.clear()
            for resource_type in self._types:
                resource_type.reset()
            self.ledger = CallLedger(self.lock, self._seed, rated=lambda operation: operation not in IDENTITY_CALLS)

    @property
    def port(self) -> int:
        if self._served is None:
            raise RuntimeError("the emulator is not running: call start() first")
        return self._served.port

    @property
    def endpoint_url(self) -> str:
        """ARM's base URL (the clients' ``base_url``, the collection's ``resource_manager_url``)."""
        return "https://%s:%d" % (LOOPBACK, self.port)

    @property
    def authority_url(self) -> str:
        """Entra ID's authority host (``authority=`` of azure-identity, the collection's ``authority_host``)."""
        return self.endpoint_url

    @property
    def credential_scope(self) -> str:
        return MANAGEMENT_SCOPE

    @property
    def ca_bundle(self) -> str:
        """A PEM file with the test CA only: ``connection_verify`` of azure-core, the collection's ``ca_bundle``."""
        if self._certificates is None:
            raise RuntimeError("the emulator is not running: call start() first")
        return str(self._certificates.ca_bundle)

    def env(self) -> dict[str, str]:
        """Environment of a subprocess whose Azure connection is this emulator (AWX's names for the credential)."""
        return {
            "AZURE_SUBSCRIPTION_ID": self.subscription_id,
            "AZURE_TENANT": self.tenant_id,
            "AZURE_CLIENT_ID": self.client_id,
            "AZURE_SECRET": self.client_secret,
            "NO_PROXY": "%s,localhost" % LOOPBACK,
            "no_proxy": "%s,localhost" % LOOPBACK,
        }

    # identity (emulators.arm_identity) -----------------------------------------------------------

    @property
    def tokens(self) -> dict[str, tuple[str, str, float]]:
        """The tokens granted since the last reset: token -> (tenant, audience, expiry)."""
        return self.identity.tokens

    def register_client(self, client_id: str | None = None, client_secret: str | None = None) -> ClientApp:
        """A new app registration in the emulator's tenant, with a client secret."""
        return self.identity.register_client(client_id, client_secret)

    def issue_token(self, audience: str = "https://management.azure.com/") -> str:
        """A token as the token endpoint grants it, for ``audience``."""
        return self.identity.issue_token(audience)

    def expire_tokens(self) -> None:
        """Make every token granted so far expired: the next call with one is answered 401."""
        self.identity.expire_tokens()

    # request dispatch ------------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> Answer:
        parsed = urllib.parse.urlsplit(target)
        path = urllib.parse.unquote(parsed.path)
        query = {key.lower(): value for key, value in urllib.parse.parse_qsl(parsed.query, keep_blank_values=True)}
        lowered = {key.lower(): value for key, value in headers.items()}
        found = None
        for route_method, pattern, operation, handler in self._routes:
            match = pattern.match(path)
            if match and route_method == method:
                found = (operation, handler, match)
                break
        if found is None:
            return self._render(no_route(method, path), method)
        operation, handler, match = found
        groups = {k: v for k, v in match.groupdict().items() if v is not None}
        if not operation:  # an operation's status: counted by which URL was polled
            operation = "AsyncOperations_Get" if groups["kind"].lower() == "operations" else "OperationResults_Get"
        with self.lock:
            self.ledger.count(operation)
            fault = self.ledger.take(operation)
        if fault is not None and not fault.after_apply:
            return self._fault_answer(fault, operation)
        try:
            body = parse_body(lowered, raw)
            request = Request(method, path, query, lowered, body, groups, operation)
            if operation not in IDENTITY_CALLS:
                self.identity.authenticate(lowered)
                check_api_version(request)
                self._check_subscription(groups)
            with self.lock:
                answer = handler(request)
        except ArmError as error:
            answer = Answer(error.status, error.body(), dict(error.headers))
        if fault is not None:
            return self._fault_answer(fault, operation)
        return self._render(answer, method)

    def _render(self, answer: Answer | ArmError, method: str) -> Answer:
        if isinstance(answer, ArmError):
            answer = Answer(answer.status, answer.body(), dict(answer.headers))
        request_id = str(uuid.uuid4())
        answer.headers.setdefault("x-ms-request-id", request_id)
        answer.headers.setdefault("x-ms-correlation-request-id", request_id)
        if answer.status >= 400 and isinstance(answer.body, dict) and isinstance(answer.body.get("error"), dict):
            answer.headers.setdefault("x-ms-failure-cause", "gateway" if answer.status == 401 else "service")
        if method == "HEAD":
            answer.body = None
        return answer

    def _check_subscription(self, groups: dict[str, str]) -> None:
        subscription = groups.get("subscription")
        if subscription is not None and subscription.lower() != self.subscription_id:
            raise ArmError(404, "SubscriptionNotFound", "The subscription '%s' could not be found." % subscription)

    # resources -------------------------------------------------------------------------------------

    def get(self, resource_id: str) -> dict[str, Any] | None:
        """The stored resource of ``resource_id`` (any case), or None."""
        with self.lock:
            return self.resources.get(resource_id.lower())

    def children_of(self, parent_id: str, resource_type: str) -> list[dict[str, Any]]:
        """The resources of ``resource_type`` directly under ``parent_id``, in creation order."""
        prefix = parent_id.lower().rstrip("/") + "/"
        with self.lock:
            return [
                resource
                for key, resource in self.resources.items()
                if key.startswith(prefix)
                and key[len(prefix) :].count("/") == 1
                and resource["type"].lower() == resource_type.lower()
            ]

    def put_resource(
        self,
        resource_id: str,
        resource_type: str,
        *,
        location: str | None = None,
        properties: dict[str, Any] | None = None,
        tags: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Plant a resource directly (no call, no operation): a source the emulator does not serve yet."""
        resource = {
            "id": resource_id,
            "name": resource_id.rstrip("/").rsplit("/", 1)[-1],
            "type": resource_type,
            "location": location or self.location,
            "tags": dict(tags or {}),
            "properties": {**(properties or {}), "provisioningState": "Succeeded"},
        }
        with self.lock:
            self.resources[resource_id.lower()] = resource
        return self.shape(resource)

    def latest_version(self, definition_id: str) -> dict[str, Any] | None:
        """What ``.../images/NAME`` resolves to: its highest succeeded version not excluded from latest."""
        candidates = [
            version
            for version in self.children_of(definition_id, "Microsoft.Compute/galleries/images/versions")
            if version["properties"].get("provisioningState") == "Succeeded"
            and not version["properties"]["publishingProfile"].get("excludeFromLatest")
        ]
        return max(candidates, key=lambda v: tuple(int(p) for p in v["name"].split(".")), default=None)

    def resource_group_id(self, group: str) -> str:
        return "/subscriptions/%s/resourceGroups/%s" % (self.subscription_id, group)

    # paging ----------------------------------------------------------------------------------------

    def page(self, items: list[dict[str, Any]], request: Request) -> dict[str, Any]:
        """A list answer ``{"value": [...], "nextLink": ...}`` of the page ``$skiptoken`` names."""
        offset = 0
        token = request.query.get("$skiptoken")
        if token:
            try:
                state = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
                offset = int(state["offset"])
                listing = state["path"]
            except (ValueError, KeyError, TypeError):
                raise ArmError(400, "InvalidSkipToken", "The skip token '%s' is invalid." % token) from None
            if listing.lower() != request.path.lower():
                raise ArmError(400, "InvalidSkipToken", "The skip token does not belong to this list request.")
        answer: dict[str, Any] = {"value": items[offset : offset + self.page_size]}
        if offset + self.page_size < len(items):
            state = json.dumps({"offset": offset + self.page_size, "path": request.path})
            token = base64.urlsafe_b64encode(state.encode()).decode().rstrip("=")
            answer["nextLink"] = "%s%s?%s" % (
                self.endpoint_url,
                urllib.parse.quote(request.path),
                urllib.parse.urlencode({"api-version": request.api_version, "$skiptoken": token}),
            )
        return answer

    # operations (emulators.arm_operations) --------------------------------------------------------

    @property
    def operations(self) -> dict[str, AsyncOperation]:
        """The long-running operations since the last reset, by id."""
        return self.lro.table

    def start_operation(self, request: Request, resource_id: str, **options: Any) -> dict[str, str]:
        """Record a long-running operation of ``request`` on ``resource_id``; return its answer's headers."""
        return self.lro.start_operation(request, resource_id, **options)

    def settle(self) -> None:
        """Run every operation in progress to its end now (for setup that does not exercise polling)."""
        self.lro.settle()

    def hold_operations(self) -> None:
        """Polls answer ``InProgress`` and move nothing until `release_operations()`.

        The SDK's poller polls in a thread of its own from the moment ``begin_...()`` returns, so a test that
        reads a resource while its operation runs holds the operations first.
        """
        with self.lock:
            self.lro.held = True

    def release_operations(self) -> None:
        with self.lock:
            self.lro.held = False

    def fail_operations(
        self, call: str, *, times: int = 1, code: str = "InternalOperationError", message: str | None = None
    ) -> None:
        """The next ``times`` operations ``call`` starts (``GalleryImageVersions_CreateOrUpdate``) end Failed."""
        self.lro.fail_operations(call, times=times, code=code, message=message)

    def shape(self, resource: dict[str, Any]) -> dict[str, Any]:
        """The resource as ARM answers it (a deep copy: a client cannot change the stored one)."""
        return json.loads(json.dumps(resource))

    # calls and faults ------------------------------------------------------------------------------

    @property
    def calls(self) -> Counter[str]:
        """A snapshot of the calls counted since the last reset, keyed like ``Galleries_CreateOrUpdate``."""
        return self.ledger.calls

    def reset_calls(self) -> None:
        self.ledger.reset_calls()

    def counting(self) -> AbstractContextManager[Counter[str]]:
        """``with arm.counting() as calls:`` ... afterwards ``calls`` holds the calls made inside the block."""
        return self.ledger.counting()

    def inject_fault(
        self,
        operation: str,
        *,
        status: int = 429,
        times: int = 1,
        retry_after: int | None = 1,
        after_apply: bool = False,
    ) -> None:
        """Answer the next ``times`` calls of ``operation`` with ``status`` (429 TooManyRequests, 503 ...).

        ``retry_after`` is the answer's ``Retry-After`` in seconds (None: no header). ``after_apply=True`` is a
        lost answer: the call is applied first, then answered with the error.
        """
        self.ledger.inject(operation, Fault(times, status, after_apply, retry_after))

    def fault_rate(
        self,
        share: float,
        seed: int | None = None,
        *,
        statuses: tuple[int, ...] = (429, 503),
        operations: set[str] | None = None,
    ) -> None:
        """Answer a seeded ``share`` of ARM calls (of ``operations``, default all but identity) with ``statuses``."""
        self.ledger.set_rate(share, seed, statuses, operations, retry_after=1)

    def clear_faults(self) -> None:
        with self.lock:
            self.ledger.clear_faults()
            self.lro.faults.clear()

    @property
    def pending_faults(self) -> dict[str, int]:
        return self.ledger.pending

    def _fault_answer(self, fault: Fault, operation: str) -> Answer:
        headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
        if operation in IDENTITY_CALLS:
            answer = self.identity.aad_error(
                fault.status,
                "temporarily_unavailable",
                50196 if fault.status == 429 else 90033,
                "The server is temporarily unavailable (injected by the test emulator, %s)." % operation,
            )
            answer.headers.update(headers)
            return self._render(answer, "POST")
        if fault.status == 429:
            error = ArmError(
                429,
                "TooManyRequests",
                "The request is being throttled as the limit has been reached for operation type '%s' "
                "(injected by the test emulator)." % operation,
                headers=headers,
            )
        elif fault.status == 503:
            error = ArmError(
                503,
                "ServiceUnavailable",
                "The service is currently unavailable (injected by the test emulator, %s)." % operation,
                headers=headers,
            )
        else:
            error = ArmError(
                fault.status, "InternalServerError", "Internal error (injected by the test emulator, %s)." % operation
            )
        return self._render(error, "GET")
