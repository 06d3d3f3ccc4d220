"""Google Cloud for the tests: a wire-format Compute Engine v1 emulator and OAuth token endpoint on 127.0.0.1.

`GceEmulator` is a stateful HTTP server in a daemon thread of this process, on a port the kernel picks,
that the real google-auth client (`google.oauth2.service_account.Credentials` + `AuthorizedSession`)
drives unchanged:

- **OAuth.** `POST /token` takes the JWT-bearer grant google-auth sends for a service-account key. The
  assertion's RS256 signature is verified with the public half of a key made by `service_account_key()`
  (a forged key, one the emulator did not make, is refused with `invalid_grant` as Google refuses it);
  its audience must be Google's token endpoint (what google-auth always sends) or this one. The answer
  is an access token every other call must carry as `Authorization: Bearer`; without one, or with an
  unknown or expired one, a call is answered 401 with Google's error body.
- **Compute v1** under `/compute/v1/`: one `Collection` (a resource table) per collection, each serving
  insert/get/list/delete (and aggregatedList for zonal ones) in Google's JSON shapes (`kind`,
  `selfLink`, `id` as a string, `creationTimestamp`, `status`), with the `filter`, `maxResults` and
  `pageToken` parameters, plus its custom methods. So far: images (insert from a disk or an image, get,
  getFromFamily, list, delete, deprecate, setLabels), instances (insert, get, list, aggregatedList,
  delete, stop, start, setLabels, setMetadata), disks (get, list, aggregatedList; boot disks are made
  by instances.insert), instance templates (insert, get, list, delete: immutable, as on Google),
  firewall rules (insert, get, list, delete), the project's common instance metadata (get,
  setCommonInstanceMetadata with its fingerprint), networks (the auto-mode `default` of every project)
  and subnetworks (insert, get, list, aggregatedList, delete). The fleet (`emulators.gce_fleet`, `emu.fleet`):
  regional instance templates, zonal and regional managed instance groups and their instance groups, health
  checks, backend services and URL maps. A regional twin of a global or zonal collection is counted under its
  own method ids (`compute.regionInstanceGroupManagers.resize`).
- **Operations.** Every mutation answers an Operation (`PENDING`) kept in the global, zone or region
  operations table. Each `get` or `wait` of it moves it one step: `RUNNING` until `operation_polls`
  polls were made, then `DONE`; the mutation's effect completes then (an image becomes READY). A wait
  is answered after one step, as a real wait that reached its deadline before the operation finished,
  so a client's loop of waits is exercised too. `fail_operations("compute.images.insert")` makes the
  next such operations end DONE with `error.errors[]` (and `httpErrorStatusCode`).
- **requestId.** A mutation repeated with the `requestId` of one already applied is answered with the
  first one's operation, not applied again (how Compute makes retries after a lost answer safe).
- **Errors** in Google's shape: `{"error": {"code", "message", "errors": [{"message", "domain",
  "reason"}], "status"}}` (404 notFound, 409 alreadyExists, 412 conditionNotMet, 400 invalid or
  required naming the field, 401 UNAUTHENTICATED, 429 rateLimitExceeded, 503 backendError).
- **Call counting** per method id of Google's discovery documents (`compute.images.insert`,
  `compute.globalOperations.wait`, `oauth2.token`); a call answered with an injected fault is counted.
- **Fault injection.** `inject_fault("compute.images.get", status=429, times=2)` answers the next two
  such calls with a throttling error, before the call is applied; `after_apply=True` applies it first
  and loses the answer (503). `fault_rate(0.2, seed=7)` answers a seeded share of calls 429 or 503.

The code is in four modules: this one (the server, OAuth, operations, paging, counting and faults),
`emulators.gce_api` (error answers, field checks, the filter language), `emulators.gce_compute` (the
collections) and `emulators.gce_fleet` (the fleet's collections). A new collection is one `Collection`
subclass and one entry in `GceEmulator._collections`; another API (Cloud KMS, GCS) adds routes of its own
through `_route()`. See docs/testing.md for what is faithful and what is not.
"""

from __future__ import annotations

import base64
import json
import random
import re
import secrets
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from emulators.gce_api import (
    MAX_RESULTS,
    ApiError,
    ListFilter,
    Request,
    check_labels,
    invalid,
    label_fingerprint,
    not_found,
    now_rfc3339,
)
from emulators.gce_compute import (
    Collection,
    Disks,
    Firewalls,
    Images,
    Instances,
    Networks,
    Projects,
    Subnetworks,
)
from emulators.gce_fleet import GceFleet
from emulators.gcp_kms import KMS_PREFIX, CloudKms
from emulators.gcs import CloudStorage
from emulators.ledger import CallLedger, Fault
from emulators.serving import EmulatorRequestHandler, ServedInThread

__all__ = ["ApiError", "GceEmulator", "GceSeed", "ListFilter", "ServiceAccountKey"]

LOOPBACK = "127.0.0.1"
PROJECT = "phoenix-test"
ZONES = ("us-central1-a", "us-central1-b", "us-central1-c", "europe-west1-b")
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
COMPUTE_PREFIX = "/compute/v1/"
TOKEN_PATH = "/token"
TOKEN_LIFETIME = 3600
VENDOR_PROJECT = "debian-cloud"
BASE_IMAGE_NAME = "phoenix-base-debian-12-patched"
BASE_FAMILY = "phoenix-base"
# A reference to a resource: a full URL (any host), "projects/P/...", or a path relative to the project.
_REFERENCE = re.compile(
    r"^(?:https?://[^/]+/compute/v1/)?(?:projects/(?P<project>[^/]+)/)?"
    r"(?P<scope>global|zones/[^/]+|regions/[^/]+)/(?P<collection>[A-Za-z]+)/(?P<name>[^/]+)$"
)
_FAMILY_REFERENCE = re.compile(
    r"^(?:https?://[^/]+/compute/v1/)?(?:projects/(?P<project>[^/]+)/)?global/images/family/(?P<family>[^/]+)$"
)

# ---------------------------------------------------------------------------------------------------
# Requests, operations and collections


@dataclass
class Operation:
    resource: dict[str, Any]
    scope: str  # "global", "zones/Z" or "regions/R"
    project: str
    polls: int = 0
    polls_to_done: int = 3
    # Called once when the operation reaches DONE: completes the mutation (or, with `error`, undoes it).
    on_done: Callable[[], None] | None = None
    on_fail: Callable[[], None] | None = None
    error: list[dict[str, str]] | None = None
    http_error: int = 400


@dataclass
class _OperationFault:
    remaining: int
    code: str
    message: str
    http_status: int


@dataclass(frozen=True)
class GceSeed:
    """What `GceEmulator.seed()` planted: the baseline a GCP test starts from."""

    project: str
    zone: str
    vendor_image: str
    base_image: str
    base_image_name: str


@dataclass
class ServiceAccountKey:
    """A key the emulator made: its JSON key file content (`info`) and where it was registered."""

    info: dict[str, str]
    private_key: Any = field(repr=False)

    @property
    def email(self) -> str:
        return self.info["client_email"]

    def write(self, path: Path | str) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.info, indent=2))
        path.chmod(0o600)
        return path

    def json(self) -> str:
        return json.dumps(self.info)


# ---------------------------------------------------------------------------------------------------
# The server


class _Handler(EmulatorRequestHandler):
    def _serve(self) -> None:
        status, payload, content_type = self.server.emulator.handle(
            self.command, self.path, dict(self.headers.items()), self.request_body()
        )
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = do_PATCH = do_PUT = _serve


class GceEmulator:
    """Compute Engine v1 and Google's OAuth token endpoint on 127.0.0.1, in a daemon thread.

    with GceEmulator() as emu:
        key = emu.service_account_key()
        session = AuthorizedSession(service_account.Credentials.from_service_account_info(key.info, scopes=[...]))
        session.get(emu.compute_url + "projects/%s/global/images" % emu.project)
    """

    def __init__(
        self,
        *,
        project: str = PROJECT,
        zones: tuple[str, ...] = ZONES,
        operation_polls: int = 3,
        seed: int = 0,
        verbose: bool = False,
    ) -> None:
        if operation_polls < 1:
            raise ValueError("operation_polls must be at least 1")
        self.project = project
        self.projects = {project}
        self.zones = tuple(zones)
        self.operation_polls = operation_polls
        self.verbose = verbose
        self.lock = threading.RLock()
        self._seed = seed
        self._served: ServedInThread | None = None
        self.images = Images(self)
        self.disks = Disks(self)
        self.instances = Instances(self)
        # Instance templates (global and regional), managed instance groups and load balancing: emulators.gce_fleet.
        self.fleet = GceFleet(self)
        self.instance_templates = self.fleet.instance_templates
        self.firewalls = Firewalls(self)
        self.projects_metadata = Projects(self)
        self.networks = Networks(self)
        self.subnetworks = Subnetworks(self)
        self._collections: list[Collection] = [
            self.images,
            self.disks,
            self.instances,
            self.instance_templates,
            self.firewalls,
            self.projects_metadata,
            self.networks,
            self.subnetworks,
            *self.fleet.collections,
        ]
        self._routes: list[tuple[str, re.Pattern[str], str, Callable[[Request], Any]]] = []
        for collection in self._collections:
            for method, pattern, verb, handler in collection.routes():
                self._route(
                    method,
                    COMPUTE_PREFIX + pattern,
                    "compute.%s.%s" % (collection.api_name or collection.name, verb),
                    handler,
                )
        for kind, scope in (
            ("global", r"(?P<scope>global)"),
            ("zone", r"(?P<scope>zones/[^/]+)"),
            ("region", r"(?P<scope>regions/[^/]+)"),
        ):
            one = COMPUTE_PREFIX + r"projects/(?P<project>[^/]+)/%s/operations/(?P<name>[^/]+)" % scope
            self._route("GET", one, "compute.%sOperations.get" % kind, self._get_operation)
            self._route("POST", one + "/wait", "compute.%sOperations.wait" % kind, self._get_operation)
        self._route("POST", TOKEN_PATH, "oauth2.token", self._token)
        # Cloud KMS (emulators.gcp_kms) and Cloud Storage (emulators.gcs): routes of their own, same tokens.
        self.kms = CloudKms(self)
        self.storage = CloudStorage(self)
        self._raw_bodies = {"storage.objects.insert"}  # an upload's body is the object, not JSON
        for service in (self.kms, self.storage):
            for method, pattern, operation, handler in service.routes():
                self._route(method, pattern, operation, handler)
        self.reset()

    def _route(self, method: str, pattern: str, operation: str, handler: Callable[[Request], Any]) -> None:
        """Serve ``method`` on paths matching ``pattern`` (a regex of the whole path) as ``operation``."""
        self._routes.append((method, re.compile("^" + pattern + "$"), operation, handler))

    # lifecycle -------------------------------------------------------------------------------------

    def start(self) -> GceEmulator:
        if self._served is not None:
            return self
        server = ThreadingHTTPServer((LOOPBACK, 0), _Handler)
        server.daemon_threads = True
        server.emulator = self  # type: ignore[attr-defined]
        self._served = ServedInThread(server, "gce-emulator")
        return self

    def stop(self) -> None:
        if self._served is None:
            return
        self._served.stop()
        self._served = None

    def __enter__(self) -> GceEmulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget every resource, operation, token, key, counted call and fault."""
        with self.lock:
            for collection in self._collections:
                collection.tables.clear()
            self.kms.reset()
            self.storage.reset()
            self.operations: dict[tuple[str, str, str], Operation] = {}
            self.tokens: dict[str, tuple[str, float]] = {}
            self.keys: dict[tuple[str, str], Any] = {}
            self.ledger = CallLedger(self.lock, self._seed, rated=lambda operation: operation.startswith("compute."))
            self._operation_faults: dict[str, _OperationFault] = {}
            self._before: dict[str, list[Callable[[], None]]] = {}
            self._request_ids: dict[tuple[str, str], tuple[str, tuple[str, str, str]]] = {}
            self._ids = random.Random(self._seed + 1)
            self._addresses = 0

    @property
    def port(self) -> int:
        if self._served is None:
            raise RuntimeError("the emulator is not running: call start() first")
        return self._served.port

    @property
    def base_url(self) -> str:
        return "http://%s:%d" % (LOOPBACK, self.port)

    @property
    def compute_url(self) -> str:
        """The Compute v1 base URL (what `endpoint_url` names): ``http://127.0.0.1:PORT/compute/v1/``."""
        return self.base_url + COMPUTE_PREFIX

    @property
    def kms_url(self) -> str:
        """The Cloud KMS v1 base URL (``kms_endpoint_url``): ``http://127.0.0.1:PORT/cloudkms/v1/``."""
        return self.base_url + KMS_PREFIX

    @property
    def storage_url(self) -> str:
        """The Cloud Storage base URL (``storage_endpoint_url``): the server's root, as storage.googleapis.com's."""
        return self.base_url + "/"

    @property
    def token_uri(self) -> str:
        return self.base_url + TOKEN_PATH

    def url(self, path: str) -> str:
        return self.compute_url + path

    def path_of(self, resource_or_url: Any) -> str:
        url = resource_or_url["selfLink"] if isinstance(resource_or_url, dict) else resource_or_url
        return url.split(COMPUTE_PREFIX, 1)[-1]

    def new_id(self) -> str:
        return str(self._ids.randrange(10**18, 10**19))

    def next_address(self) -> str:
        """The next internal address of the default network's 10.128.0.0/9 range."""
        self._addresses += 1
        return "10.128.%d.%d" % (self._addresses // 250, self._addresses % 250 + 2)

    def scopes(self, scope_kind: str) -> list[str]:
        if scope_kind == "zones":
            return ["zones/%s" % zone for zone in self.zones]
        if scope_kind == "regions":
            return ["regions/%s" % region for region in sorted({zone.rsplit("-", 1)[0] for zone in self.zones})]
        return ["global"]

    # credentials -----------------------------------------------------------------------------------

    def service_account_key(
        self, email: str | None = None, *, token_uri: str | None = None, register: bool = True
    ) -> ServiceAccountKey:
        """A new service-account key in Google's JSON key file format, its public half known to the emulator.

        ``token_uri`` is what the key file names (default: this emulator's; AWX's files name Google's).
        ``register=False`` makes a forged key: well formed, but the emulator refuses its signatures.
        """
        email = email or "phoenix-%s@%s.iam.gserviceaccount.com" % (secrets.token_hex(3), self.project)
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        key_id = secrets.token_hex(20)
        pem = private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        info = {
            "type": "service_account",
            "project_id": self.project,
            "private_key_id": key_id,
            "private_key": pem,
            "client_email": email,
            "client_id": str(self._ids.randrange(10**20, 10**21)),
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri or self.token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/%s" % urllib.parse.quote(email),
            "universe_domain": "googleapis.com",
        }
        if register:
            with self.lock:
                self.keys[(email, key_id)] = private_key.public_key()
        return ServiceAccountKey(info, private_key)

    def issue_token(self, email: str = "user@example.com", lifetime: int = TOKEN_LIFETIME) -> str:
        """An access token as the token endpoint would grant it (for `auth_kind: accesstoken` tests)."""
        token = "ya29.emu-" + secrets.token_urlsafe(24)
        with self.lock:
            self.tokens[token] = (email, time.time() + lifetime)
        return token

    def expire_tokens(self) -> None:
        """Make every token granted so far expired (the next call with one is answered 401)."""
        with self.lock:
            self.tokens = {token: (email, 0.0) for token, (email, _expiry) in self.tokens.items()}

    def _token(self, request: Request) -> tuple[int, dict[str, Any]]:
        form = request.body if isinstance(request.body, dict) else {}
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return 400, {
                "error": "unsupported_grant_type",
                "error_description": "Invalid grant_type: %s" % form.get("grant_type", ""),
            }
        try:
            email, scope = self._verify_assertion(form.get("assertion", ""))
        except ValueError as refusal:
            return 400, {"error": "invalid_grant", "error_description": str(refusal)}
        if not scope:
            return 400, {
                "error": "invalid_scope",
                "error_description": "Invalid OAuth scope or ID token audience provided.",
            }
        return 200, {"access_token": self.issue_token(email), "expires_in": TOKEN_LIFETIME - 1, "token_type": "Bearer"}

    def _verify_assertion(self, assertion: str) -> tuple[str, str]:
        parts = assertion.split(".")
        if len(parts) != 3:
            raise ValueError("Invalid JWT: token must have three segments.")
        try:
            header, claims = (json.loads(_b64url(part)) for part in parts[:2])
            signature = _b64url(parts[2])
        except (ValueError, TypeError):
            raise ValueError("Invalid JWT: segments are not base64url JSON.") from None
        if header.get("alg") != "RS256":
            raise ValueError("Invalid JWT: alg must be RS256.")
        email = claims.get("iss", "")
        with self.lock:
            # Every key of the account is tried: a key it does not have fails as a bad signature, as on Google.
            candidates = [key for (owner, _key_id), key in self.keys.items() if owner == email]
        if not candidates:
            raise ValueError("Invalid grant: account not found")
        signed = ("%s.%s" % (parts[0], parts[1])).encode()
        for public_key in candidates:
            try:
                public_key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
                break
            except InvalidSignature:
                continue
        else:
            raise ValueError("Invalid JWT Signature.")
        if claims.get("aud") not in (GOOGLE_TOKEN_URI, self.token_uri):
            raise ValueError("Invalid JWT: audience must be %s" % GOOGLE_TOKEN_URI)
        now = time.time()
        if not isinstance(claims.get("exp"), int) or not isinstance(claims.get("iat"), int):
            raise ValueError("Invalid JWT: iat and exp are required.")
        if claims["exp"] < now - 30 or claims["iat"] > now + 30 or claims["exp"] - claims["iat"] > TOKEN_LIFETIME:
            raise ValueError(
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe."
            )
        return email, claims.get("scope", "")

    def _authenticate(self, headers: dict[str, str]) -> None:
        value = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        if not value.startswith("Bearer "):
            raise ApiError(
                401,
                "required",
                "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie "
                "or other valid authentication credential.",
                location="Authorization",
                locationType="header",
            )
        with self.lock:
            grant = self.tokens.get(value[len("Bearer ") :])
        if grant is None or grant[1] < time.time():
            raise ApiError(
                401,
                "authError",
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or "
                "other valid authentication credential.",
                location="Authorization",
                locationType="header",
            )

    # request dispatch ------------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any, str]:
        parsed = urllib.parse.urlsplit(target)
        path = urllib.parse.unquote(parsed.path)
        query = dict(urllib.parse.parse_qsl(parsed.query, keep_blank_values=True))
        for route_method, pattern, operation, handler in self._routes:  # noqa: B007 - used after the loop
            match = pattern.match(path)
            if match and route_method == method:
                break
        else:
            return (
                404,
                ApiError(404, "notFound", "The requested URL %s was not found on this server." % path).body(),
                "application/json",
            )
        with self.lock:
            self.ledger.count(operation)
            fault = self.ledger.take(operation)
            hooks = self._before.get(operation) if fault is None or fault.after_apply else None
            hook = hooks.pop(0) if hooks else None
        if fault is not None and not fault.after_apply:
            return self._fault_answer(fault.status, operation)
        if hook is not None:
            with self.lock:
                hook()
        try:
            body = raw if operation in self._raw_bodies else self._body(headers, raw)
            request = Request(method, path, query, body, {k: v for k, v in match.groupdict().items() if v is not None})
            request.headers = {k.lower(): v for k, v in headers.items()}
            with self.lock:
                if operation != "oauth2.token":
                    self._authenticate(headers)
                answer = self._once(request, operation, handler)
        except ApiError as error:
            return error.code, error.body(), "application/json"
        if fault is not None:
            return self._fault_answer(fault.status, operation)
        if isinstance(answer, tuple) and len(answer) == 3:
            return answer  # (status, bytes, content type): an object's content (alt=media)
        status, payload = answer if isinstance(answer, tuple) else (200, answer)
        return status, json.loads(json.dumps(payload)), "application/json"

    def _once(self, request: Request, operation: str, handler: Callable[[Request], Any]) -> Any:
        """Apply a mutation once per ``requestId``: a repeat is answered with the first one's operation.

        Compute's mutations take a ``requestId`` (a UUID) so that a client may retry one whose answer it
        lost; Google remembers it for at least 60 minutes (here: until reset).
        """
        request_id = request.query.get("requestId")
        if request_id is None or request.method == "GET" or not operation.startswith("compute."):
            return handler(request)
        try:
            parsed = uuid.UUID(request_id)
        except ValueError:
            raise invalid("requestId", request_id, "Must be a UUID.") from None
        if parsed.int == 0:
            raise invalid("requestId", request_id, "The zero UUID is not supported.")
        project = request.match.get("project", "")
        earlier = self._request_ids.get((project, request_id))
        if earlier is not None:
            if earlier[0] != operation:
                raise invalid("requestId", request_id, "Already used by another method (%s)." % earlier[0])
            return dict(self.operations[earlier[1]].resource)
        answer = handler(request)
        if isinstance(answer, dict) and answer.get("kind") == "compute#operation":
            scope = answer["selfLink"].split("/projects/%s/" % project, 1)[1].rsplit("/operations/", 1)[0]
            self._request_ids[(project, request_id)] = (operation, (project, scope, answer["name"]))
        return answer

    @staticmethod
    def _body(headers: dict[str, str], raw: bytes) -> Any:
        if not raw:
            return {}
        content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        if "application/x-www-form-urlencoded" in content_type:
            return dict(urllib.parse.parse_qsl(raw.decode()))
        try:
            return json.loads(raw)
        except ValueError:
            raise ApiError(400, "parseError", "This API does not support parsing form-encoded input.") from None

    # scopes and references -------------------------------------------------------------------------

    def check_project(self, project: str) -> str:
        if project not in self.projects:
            raise not_found("projects/%s" % project)
        return project

    def check_scope(self, match: dict[str, str]) -> tuple[str, str]:
        project = self.check_project(match["project"])
        scope = match.get("scope", "global")
        if scope != "global" and scope not in self.scopes(scope.split("/", 1)[0]):
            kind, where = scope.split("/", 1)
            raise invalid(kind[:-1], where, "Unknown %s." % kind[:-1])
        return project, scope

    def resolve(self, reference: str, project: str, collection_name: str, field_name: str) -> dict[str, Any]:
        """The resource a reference (URL, "projects/..." or project-relative path) names; 404 when none."""
        match = _REFERENCE.match(reference or "")
        if not match or match.group("collection") != collection_name:
            raise invalid(field_name, reference, "Must be a URL of a %s resource." % collection_name)
        collection = next(item for item in self._collections if item.name == collection_name)
        return collection.find(match.group("project") or project, match.group("scope"), match.group("name"))

    def resolve_image(self, reference: str, project: str, field_name: str) -> dict[str, Any]:
        family = _FAMILY_REFERENCE.match(reference or "")
        if family:
            owner = family.group("project") or project
            image = self.images.latest_of_family(owner, family.group("family"))
            if image is None:
                raise not_found("projects/%s/global/images/family/%s" % (owner, family.group("family")))
            return image
        return self.resolve(reference, project, "images", field_name)

    def api_name_of(self, url: str) -> str:
        """The discovery name of the collection a resource URL is in (``compute.<it>.<verb>``).

        Looked up by URL segment AND scope kind: only a regional twin of a global or zonal collection has a
        name of its own (regionInstanceGroupManagers); a purely regional one keeps its segment (subnetworks).
        """
        match = _REFERENCE.match(url)
        if not match:
            return url.rstrip("/").split("/")[-2]  # the project resource: .../projects/P
        scope_kind = match.group("scope").split("/", 1)[0]
        for collection in self._collections:
            if collection.name == match.group("collection") and collection.scope_kind == scope_kind:
                return collection.api_name or collection.name
        return match.group("collection")

    def instance_running(self, url: str) -> bool:
        try:
            instance = self.resolve(url, self.project, "instances", "instance")
        except ApiError:
            return False
        return instance.get("status") not in ("TERMINATED", "STOPPED", "SUSPENDED")

    # paging ----------------------------------------------------------------------------------------

    def page(
        self,
        items: list[Any],
        request: Request,
        listing: str,
        resource_of: Callable[[Any], dict[str, Any]] = lambda item: item,
    ) -> tuple[list[Any], str | None]:
        """The page of ``items`` (filtered) the request asks for, and the token of the next page or None."""
        text = request.query.get("filter", "")
        list_filter = ListFilter(text)
        try:
            size = int(request.query.get("maxResults", MAX_RESULTS))
        except ValueError:
            raise invalid("maxResults", request.query.get("maxResults")) from None
        if not 0 <= size <= MAX_RESULTS:
            raise invalid("maxResults", size, "Must be in the range [0, %d]." % MAX_RESULTS)
        size = size or MAX_RESULTS
        offset = 0
        token = request.query.get("pageToken")
        if token:
            try:
                state = json.loads(_b64url(token))
                offset = int(state["offset"])
            except (ValueError, KeyError, TypeError):
                raise invalid("pageToken", token) from None
            if state.get("listing") != listing or state.get("filter") != text:
                raise invalid("pageToken", token, "The page token does not belong to this list request.")
        matching = [item for item in items if list_filter.matches(resource_of(item))]
        page = matching[offset : offset + size]
        following = None
        if offset + size < len(matching):
            state = {"offset": offset + size, "listing": listing, "filter": text}
            following = base64.urlsafe_b64encode(json.dumps(state).encode()).decode().rstrip("=")
        return page, following

    # operations ------------------------------------------------------------------------------------

    def start_operation(
        self,
        verb: str,
        project: str,
        scope: str,
        target: dict[str, Any],
        on_done: Callable[[], None] | None = None,
        on_fail: Callable[[], None] | None = None,
    ) -> dict[str, Any]:
        """Record an Operation on ``target`` (PENDING) and return it; ``on_done`` runs when it is DONE."""
        name = "operation-%d-%s" % (int(time.time() * 1000), secrets.token_hex(6))
        api_operation = "compute.%s.%s" % (self.api_name_of(target["selfLink"]), verb)
        resource = {
            "kind": "compute#operation",
            "id": self.new_id(),
            "name": name,
            "operationType": verb,
            "targetLink": target["selfLink"],
            "targetId": target["id"],
            "status": "PENDING",
            "user": "phoenix@%s.iam.gserviceaccount.com" % project,
            "progress": 0,
            "insertTime": now_rfc3339(),
            "creationTimestamp": now_rfc3339(),
            "selfLink": self.url("projects/%s/%s/operations/%s" % (project, scope, name)),
        }
        if scope.startswith("zones/"):
            resource["zone"] = self.url("projects/%s/%s" % (project, scope))
        elif scope.startswith("regions/"):
            resource["region"] = self.url("projects/%s/%s" % (project, scope))
        operation = Operation(
            resource, scope, project, polls_to_done=self.operation_polls, on_done=on_done, on_fail=on_fail
        )
        fault = self._operation_faults.get(api_operation)
        if fault is not None and fault.remaining > 0:
            fault.remaining -= 1
            operation.error = [{"code": fault.code, "message": fault.message}]
            operation.http_error = fault.http_status
        self.operations[(project, scope, name)] = operation
        return dict(resource)

    def _get_operation(self, request: Request) -> dict[str, Any]:
        project, scope = self.check_scope(request.match)
        operation = self.operations.get((project, scope, request.match["name"]))
        if operation is None:
            raise not_found("projects/%s/%s/operations/%s" % (project, scope, request.match["name"]))
        self._advance(operation)
        return dict(operation.resource)

    def _advance(self, operation: Operation) -> None:
        resource = operation.resource
        if resource["status"] == "DONE":
            return
        operation.polls += 1
        if resource["status"] == "PENDING":
            resource["startTime"] = now_rfc3339()
        if operation.polls < operation.polls_to_done:
            resource["status"] = "RUNNING"
            resource["progress"] = min(99, 100 * operation.polls // operation.polls_to_done)
            return
        resource.update(status="DONE", progress=100, endTime=now_rfc3339())
        if operation.error:
            resource["error"] = {"errors": operation.error}
            resource["httpErrorStatusCode"] = operation.http_error
            resource["httpErrorMessage"] = {400: "BAD REQUEST", 403: "FORBIDDEN", 409: "CONFLICT"}.get(
                operation.http_error, "ERROR"
            )
            if operation.on_fail:
                operation.on_fail()
        elif operation.on_done:
            operation.on_done()

    def before_call(self, call: str, action: Callable[[], None]) -> None:
        """Run ``action()`` once, just before the next ``call`` is applied: another writer's change in a race."""
        with self.lock:
            self._before.setdefault(call, []).append(action)

    # test-side state ------------------------------------------------------------------------------

    def put_image(
        self,
        name: str,
        *,
        project: str | None = None,
        family: str | None = None,
        labels: dict[str, str] | None = None,
        disk_size_gb: str = "10",
        status: str = "READY",
    ) -> dict[str, Any]:
        """Plant an image directly (no call, no operation): a vendor's public image, a baseline."""
        project = project or self.project
        with self.lock:
            self.projects.add(project)
            table = self.images.table(project, "global")
            if name in table:
                raise ValueError("image %s exists already in %s" % (name, project))
            labels = check_labels(labels)
            image = {
                **self.images._identity(project, "global", name),
                "description": "",
                "sourceType": "RAW",
                "status": status,
                "diskSizeGb": disk_size_gb,
                "archiveSizeBytes": "1073741824",
                "labelFingerprint": label_fingerprint(labels),
                "storageLocations": ["us"],
            }
            if labels:
                image["labels"] = labels
            if family:
                image["family"] = family
            table[name] = image
            return image

    def seed(self) -> GceSeed:
        """The baseline: a vendor image in ``debian-cloud`` (family debian-12) and a patched base in the project."""
        vendor = self.put_image("debian-12-bookworm-v20261101", project=VENDOR_PROJECT, family="debian-12")
        base = self.put_image(BASE_IMAGE_NAME, family=BASE_FAMILY, labels={"os": "debian-12", "role": "base"})
        return GceSeed(
            project=self.project,
            zone=self.zones[0],
            vendor_image=vendor["selfLink"],
            base_image=base["selfLink"],
            base_image_name=base["name"],
        )

    def env(self) -> dict[str, str]:
        """Environment variables that point a subprocess's GCP connection at the emulator (key file not included)."""
        return {
            "GCP_PROJECT": self.project,
            "GCP_ENDPOINT_URL": self.compute_url,
            "GCP_TOKEN_URI": self.token_uri,
            # Cloud Storage too, so that no playbook of a test can reach storage.googleapis.com.
            "GCP_STORAGE_ENDPOINT_URL": self.storage_url,
            "GCP_ZONE": self.zones[0],
            "NO_PROXY": "%s,localhost" % LOOPBACK,
            "no_proxy": "%s,localhost" % LOOPBACK,
        }

    def settle(self) -> None:
        """Run every pending operation to DONE now (for test setup that does not exercise waits)."""
        with self.lock:
            for operation in list(self.operations.values()):
                while operation.resource["status"] != "DONE":
                    self._advance(operation)

    def fail_operations(
        self,
        call: str,
        *,
        times: int = 1,
        code: str = "RESOURCE_OPERATION_RATE_EXCEEDED",
        message: str | None = None,
        http_status: int = 400,
    ) -> None:
        """The next ``times`` operations started by ``call`` (``compute.images.insert``) end DONE with an error."""
        with self.lock:
            self._operation_faults[call] = _OperationFault(
                times, code, message or "Operation failed (injected by the test emulator)", http_status
            )

    # calls and faults ------------------------------------------------------------------------------

    @property
    def calls(self) -> Counter[str]:
        """A snapshot of the calls counted since the last reset, keyed like ``compute.images.insert``."""
        return self.ledger.calls

    def reset_calls(self) -> None:
        self.ledger.reset_calls()

    def counting(self) -> AbstractContextManager[Counter[str]]:
        """``with emu.counting() as calls:`` ... afterwards ``calls`` holds the calls made inside the block."""
        return self.ledger.counting()

    def inject_fault(self, call: str, *, status: int = 429, times: int = 1, after_apply: bool = False) -> None:
        """Answer the next ``times`` calls of ``call`` with ``status`` (429 rateLimitExceeded, 503 backendError ...).

        ``after_apply=True`` is a lost answer: the call is applied first, then answered with the error.
        """
        self.ledger.inject(call, Fault(times, status, after_apply))

    def fault_rate(
        self,
        rate: float,
        *,
        statuses: tuple[int, ...] = (429, 503),
        calls: set[str] | None = None,
        seed: int | None = None,
    ) -> None:
        """Answer a seeded share ``rate`` of calls (of ``calls``, default every Compute call) with ``statuses``."""
        self.ledger.set_rate(rate, seed, statuses, calls)

    def clear_faults(self) -> None:
        with self.lock:
            self.ledger.clear_faults()
            self._operation_faults.clear()

    @property
    def pending_faults(self) -> dict[str, int]:
        return self.ledger.pending

    @staticmethod
    def _fault_answer(status: int, operation: str) -> tuple[int, Any, str]:
        if status == 429:
            error = ApiError(
                429,
                "rateLimitExceeded",
                "Quota exceeded for quota metric 'Queries' of service 'compute.googleapis.com' "
                "(injected by the test emulator, %s)" % operation,
            )
        elif status == 503:
            error = ApiError(
                503,
                "backendError",
                "The service is currently unavailable (injected by the test emulator, %s)" % operation,
            )
        else:
            error = ApiError(status, "backendError", "Internal error (injected by the test emulator, %s)" % operation)
        return status, error.body(), "application/json"


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
