"""AWS for the tests: moto's server on 127.0.0.1, with a seed, call counting and fault injection.

`MotoEmulator` serves moto's WSGI application (the one `moto_server` and `ThreadedMotoServer` serve)
from a werkzeug server of its own in a daemon thread, bound to 127.0.0.1 on a port the kernel picks,
so that a middleware of ours sits in front of moto:

- **Call counting.** Every signed request is counted as `<service>:<Action>`, the service being the
  signing name of the SigV4 credential scope (`ec2`, `autoscaling`, `elasticloadbalancing`,
  `monitoring`, `kms`, `sts` ...) and the action coming from the `Action` form/query field (query and
  EC2 protocols), the X-Amz-Target header (JSON protocol) or the `/service/<s>/operation/<Action>`
  path (Smithy RPC v2 CBOR, e.g. CloudWatch). REST protocols count as `<service>:<METHOD> <path>`.
  Throttled calls (see below) are counted too: a count is what the client sent.
- **Fault injection.** `inject_fault("ec2:DescribeImages", times=2)` answers the next two such calls
  with a throttling error in the protocol's own error format, so retries are tested for real.
- **Lost answers.** `inject_fault("autoscaling:CreateAutoScalingGroup", after_apply=True)` lets moto
  apply the call (the group is created), throws moto's answer away and gives the client an error
  instead, by default HTTP 500 in the protocol's format (EC2 `InternalError`, other services
  `InternalFailure`): what a client sees when the cloud did the work but the answer was lost. With
  `reset=True` the client gets no answer at all: the connection is shut down (what a reset or a proxy
  timing out looks like to the SDK); `after_apply=True, reset=True` applies the call first. A lost
  answer is counted like any other call, so a retry shows as a second count.
- **Raw answers.** `inject_fault("ec2:DescribeImages", body="<!DOCTYPE html>...")` answers with that
  body (HTTP 500, text/html unless `status`/`content_type` say otherwise), not the protocol's error
  format: the error page a proxy or load balancer sends, which the SDK cannot parse.

moto's state is global to the Python process: run one emulator per process (pytest-xdist workers are
processes). `reset()` returns moto to its initial state; `seed()` then creates the baseline.

**AMI catalogue.** moto loads its AMI catalogue (about 1,300 AMIs of 2017-2025, most of them ECS
images) into every region's EC2 backend; describing them all costs ~0.6 s of serialisation each time.
The `emulators` package sets MOTO_AMIS_PATH (unless already set) to `aws_amis.json`, five vendor-like
AMIs owned by vendor accounts, which moto reads once, when moto.ec2 is first imported: import
`emulators` before anything imports moto (tests/conftest.py does). If moto was imported first with its
own catalogue, importing this module raises ImportError rather than silently testing against it.

**Test-side extension: image deprecation.** moto 5.2.5 answers EnableImageDeprecation and
DisableImageDeprecation with HTTP 500 (not implemented). `_install_image_deprecation()` adds both
actions to moto's EC2 response class (moto dispatches an EC2 `Action` to the response method of the
same snake_case name) and keeps moto's state model: the time is an attribute `deprecation_time` of
moto's own `Ami` object, which moto's serializer returns as `DeprecationTime` in DescribeImages.
Behaviour follows the EC2 API reference: an unknown image is `InvalidAMIID.NotFound` (a malformed id
`InvalidAMIID.Malformed`); DeprecateAt loses its seconds (the reference says EC2 "rounds the seconds to
the nearest minute"; we drop them, which is what that rounding does to a whole-minute request); a time
in the past, or more than 10 years ahead, is refused with `InvalidParameterValue` (the reference does
not name the error code; this one is our choice). DescribeImages's IncludeDeprecated is not modelled:
moto lists deprecated images as AWS does for their owner. If a later moto implements the actions,
its own implementation is kept.

**Test-side extension: AMI names and idempotency tokens.** moto 5.2.5 lets an account have any number
of images of one name, ignores the ClientToken of RunInstances and CopyImage, and drops CopyImage's
TagSpecifications; AWS does none of these, and a retry after a lost answer (see above) behaves
differently because of them. `_install_idempotency()` wraps moto's response methods:
- CreateImage, CopyImage and RegisterImage refuse a name that an image of the same account already
  has in the region with `InvalidAMIName.Duplicate` (the EC2 API reference's error code; the names of
  deregistered images are free again, as on AWS);
- RunInstances and CopyImage with a ClientToken already used in the region return the original
  instances or image instead of making new ones ("Ensuring idempotency in Amazon EC2 API requests");
  a RunInstances repeat with another ImageId or InstanceType is `IdempotentParameterMismatch`. The
  token is kept on moto's own objects (instance, image), so `reset()` forgets it with them;
- CopyImage applies the `image` TagSpecifications to the new image, as CreateImage does.
"""

from __future__ import annotations

import dataclasses
import io
import ipaddress
import json
import os
import re
import socket
import sys
import threading
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from typing import Any

# The package's __init__ has set MOTO_AMIS_PATH (unless it was set already) before the imports below.
from emulators import AWS_AMIS_FILE

_MOTO_IMPORTED_BEFORE_US = "moto.ec2.models.amis" in sys.modules

import boto3  # noqa: E402
import botocore.session  # noqa: E402
from botocore.config import Config  # noqa: E402
from moto.core.responses import ActionResult  # noqa: E402
from moto.ec2.exceptions import EC2ClientError, InvalidAMIIdError, MalformedAMIIdError  # noqa: E402
from moto.ec2.models import amis as _moto_amis  # noqa: E402
from moto.ec2.responses import EC2Response  # noqa: E402
from moto.moto_server.werkzeug_app import (  # noqa: E402
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server  # noqa: E402

from emulators.autoscaling_atomic import install_atomic_create  # noqa: E402
from emulators.serving import ServedInThread  # noqa: E402

if (
    _MOTO_IMPORTED_BEFORE_US
    and os.environ.get("MOTO_AMIS_PATH") == str(AWS_AMIS_FILE)
    and {ami["ami_id"] for ami in _moto_amis.AMIS} != {ami["ami_id"] for ami in json.loads(AWS_AMIS_FILE.read_text())}
):
    raise ImportError(
        "moto was imported before the emulators package, so it loaded its default AMI catalogue instead of %s; "
        "import emulators first (tests/conftest.py does) or set MOTO_AMIS_PATH before moto is imported" % AWS_AMIS_FILE
    )

LOOPBACK = "127.0.0.1"
REGION = "us-east-1"
ACCESS_KEY = "testing"
SECRET_KEY = "testing"

# The vendor image the seed's base is made from: Canonical's Ubuntu 24.04 (amd64) in aws_amis.json.
VENDOR_OWNER = "099720109477"
VENDOR_IMAGE_NAMES = ("ubuntu/images/*ubuntu-noble-24.04-amd64-server-*", "ubuntu/images/*amd64-server-*")
BASE_IMAGE_NAME = "phoenix-base-ubuntu-24.04-patched"
BASE_IMAGE_TAGS = {"os": "ubuntu-24.04", "vendor": "canonical", "role": "base"}
BUILDER_NAME = "phoenix-builder"
INSTANCE_TYPE = "t3.micro"
# AWS keeps 5 addresses of every subnet for itself (network, router, DNS, future use, broadcast).
AWS_RESERVED_PER_SUBNET = 5


@dataclasses.dataclass(frozen=True)
class AwsSeed:
    """What `MotoEmulator.seed()` created: the baseline every integration test starts from."""

    region: str
    account_id: str
    vpc_id: str
    # moto's default VPC has one default subnet per availability zone of the region (six in us-east-1),
    # each a /20 as on AWS: 4,096 addresses, 4,091 usable, so thousands of instances fit in one.
    # `subnet_capacity` is that usable count, computed from the CIDR blocks moto returns.
    subnet_ids: tuple[str, ...]
    subnet_capacity: int
    base_image_id: str
    base_image_name: str
    vendor_image_id: str
    builder_instance_id: str


# ---------------------------------------------------------------------------------------------------
# Test-side extension of moto: EnableImageDeprecation / DisableImageDeprecation


def _ami_of(ec2_backend: Any, image_id: str | None) -> Any:
    if not image_id or not image_id.startswith("ami-"):
        raise MalformedAMIIdError([str(image_id)])
    ami = ec2_backend.amis.get(image_id)
    if ami is None:
        raise InvalidAMIIdError([image_id])
    return ami


def _deprecation_time(value: Any, now: datetime) -> str:
    if not isinstance(value, datetime):
        raise EC2ClientError("MissingParameter", "The request must contain the parameter DeprecateAt")
    when = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    when = when.replace(second=0, microsecond=0)
    if when <= now:
        raise EC2ClientError(
            "InvalidParameterValue", "DeprecateAt %s is in the past; it must be in the future" % when.isoformat()
        )
    if when > now + timedelta(days=3653):
        raise EC2ClientError("InvalidParameterValue", "DeprecateAt %s is more than 10 years away" % when.isoformat())
    return when.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _enable_image_deprecation(self: Any) -> ActionResult:
    image_id = self._get_param("ImageId")
    deprecate_at = self._get_param("DeprecateAt")
    self.error_on_dryrun()
    ami = _ami_of(self.ec2_backend, image_id)
    ami.deprecation_time = _deprecation_time(deprecate_at, datetime.now(UTC))
    return ActionResult({"Return": True})


def _disable_image_deprecation(self: Any) -> ActionResult:
    image_id = self._get_param("ImageId")
    self.error_on_dryrun()
    ami = _ami_of(self.ec2_backend, image_id)
    ami.deprecation_time = None
    return ActionResult({"Return": True})


def _install_image_deprecation() -> None:
    if not hasattr(EC2Response, "enable_image_deprecation"):
        EC2Response.enable_image_deprecation = _enable_image_deprecation
    if not hasattr(EC2Response, "disable_image_deprecation"):
        EC2Response.disable_image_deprecation = _disable_image_deprecation


_install_image_deprecation()
# moto replaces a group of the same name; AWS answers AlreadyExists, which the swap's lock relies on.
install_atomic_create()


# ---------------------------------------------------------------------------------------------------
# Test-side extension of moto: unique AMI names, ClientToken idempotency, CopyImage TagSpecifications


def _refuse_duplicate_name(response: Any) -> None:
    name = response._get_param("Name")
    backend = response.ec2_backend
    for ami in list(backend.amis.values()):
        if ami.name == name and ami.owner_id == backend.account_id:
            raise EC2ClientError("InvalidAMIName.Duplicate", "AMI name %s is already in use by AMI %s" % (name, ami.id))


def _unique_name(original: Any) -> Any:
    def create(self: Any) -> Any:
        _refuse_duplicate_name(self)
        return original(self)

    create._phoenix_unique_name = True  # type: ignore[attr-defined]
    return create


def _run_instances_once(original: Any) -> Any:
    def run_instances(self: Any) -> Any:
        token = self._get_param("ClientToken")
        if token:
            for reservation in list(self.ec2_backend.reservations.values()):
                instances = list(reservation.instances)
                if instances and all(getattr(i, "_phoenix_client_token", None) == token for i in instances):
                    first = instances[0]
                    if first.image_id != self._get_param("ImageId") or first.instance_type != self._get_param(
                        "InstanceType", "m1.small"
                    ):
                        raise EC2ClientError(
                            "IdempotentParameterMismatch",
                            "The client token %s was already used with other parameters" % token,
                        )
                    return ActionResult(reservation)
        answer = original(self)
        if token:
            for instance in answer.result.instances:
                instance._phoenix_client_token = token
        return answer

    run_instances._phoenix_client_token = True  # type: ignore[attr-defined]
    return run_instances


def _copy_image_once(original: Any) -> Any:
    def copy_image(self: Any) -> Any:
        token = self._get_param("ClientToken")
        if token:
            for ami in list(self.ec2_backend.amis.values()):
                if getattr(ami, "_phoenix_client_token", None) == token:
                    return ActionResult({"ImageId": ami.id})
        _refuse_duplicate_name(self)
        answer = original(self)
        ami = self.ec2_backend.amis[answer.result["ImageId"]]
        ami._phoenix_client_token = token or None
        for specification in self._get_param("TagSpecifications", []):
            if specification.get("ResourceType") == "image":
                for tag in specification.get("Tags", []):
                    ami.add_tag(tag["Key"], tag["Value"])
        return answer

    copy_image._phoenix_client_token = True  # type: ignore[attr-defined]
    return copy_image


def _install_idempotency() -> None:
    for action in ("create_image", "register_image"):
        method = getattr(EC2Response, action)
        if not getattr(method, "_phoenix_unique_name", False):
            setattr(EC2Response, action, _unique_name(method))
    if not getattr(EC2Response.run_instances, "_phoenix_client_token", False):
        EC2Response.run_instances = _run_instances_once(EC2Response.run_instances)
    if not getattr(EC2Response.copy_image, "_phoenix_client_token", False):
        EC2Response.copy_image = _copy_image_once(EC2Response.copy_image)


_install_idempotency()


# ---------------------------------------------------------------------------------------------------
# Call counting and fault injection: a WSGI middleware in front of moto

_CBOR_PATH = re.compile(r"^/service/[^/]+/operation/(?P<action>[^/?]+)")
_FORM = "application/x-www-form-urlencoded"


def _cbor_text(text: str) -> bytes:
    data = text.encode()
    size = len(data)
    if size < 24:
        head = bytes([0x60 + size])
    elif size < 0x100:
        head = bytes([0x78, size])
    else:
        head = bytes([0x79]) + size.to_bytes(2, "big")
    return head + data


def _cbor_map(mapping: dict[str, str]) -> bytes:
    """The few bytes of CBOR (RFC 8949) a Smithy RPC v2 error body needs: a short map of text to text."""
    return bytes([0xA0 + len(mapping)]) + b"".join(_cbor_text(k) + _cbor_text(v) for k, v in mapping.items())


@dataclasses.dataclass
class _Fault:
    remaining: int
    code: str | None
    status: int | None
    message: str
    # Lost answer: moto applies the call, its answer is discarded and the client gets the error.
    after_apply: bool = False
    # No answer at all: the connection is shut down instead of answering with an error.
    reset: bool = False
    # A raw answer instead of the protocol's error format (an HTML page from a proxy), default HTTP 500.
    body: bytes | None = None
    content_type: str = "text/html"


@dataclasses.dataclass(frozen=True)
class _Call:
    service: str
    action: str
    protocol: str  # ec2, query, json, cbor or rest

    @property
    def key(self) -> str:
        return "%s:%s" % (self.service, self.action)


class _Recorder:
    """WSGI middleware: counts each signed call by `<service>:<action>` and serves injected faults."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.faults: dict[str, _Fault] = {}

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        call = self._identify(environ)
        if call is not None:
            with self.lock:
                self.calls[call.key] += 1
                fault = self.faults.get(call.key)
                if fault is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        del self.faults[call.key]
            if fault is not None:
                if fault.after_apply:
                    self._apply_and_discard(environ)
                if fault.reset:
                    self._drop_connection(environ)
                return self._fail(call, fault, start_response)
        return self.app(environ, start_response)

    def _apply_and_discard(self, environ: dict[str, Any]) -> None:
        """Let moto handle the request to the end, and throw its answer away."""
        answer = self.app(environ, lambda status, headers, exc_info=None: lambda data: None)
        try:
            for _chunk in answer:
                pass
        finally:
            close = getattr(answer, "close", None)
            if close is not None:
                close()

    @staticmethod
    def _drop_connection(environ: dict[str, Any]) -> None:
        """Shut the client's connection down without an answer; werkzeug treats this as a dropped client."""
        connection = environ.get("werkzeug.socket")
        if connection is not None:
            with suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        raise ConnectionResetError("connection reset (injected by the test emulator)")

    @staticmethod
    def _identify(environ: dict[str, Any]) -> _Call | None:
        path = environ.get("PATH_INFO", "")
        scope = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/", environ.get("HTTP_AUTHORIZATION", ""))
        if scope is None or path.startswith("/moto-api"):
            return None
        service = scope.group(1)
        target = environ.get("HTTP_X_AMZ_TARGET")
        if target:
            return _Call(service, target.rsplit(".", 1)[-1], "json")
        cbor = _CBOR_PATH.match(path)
        if cbor:
            return _Call(service, cbor.group("action"), "cbor")
        fields = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
        if environ.get("CONTENT_TYPE", "").startswith(_FORM):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)  # moto reads the body after us
            fields.update(urllib.parse.parse_qs(body.decode("utf-8", "replace")))
        if "Action" in fields:
            return _Call(service, fields["Action"][0], "ec2" if service == "ec2" else "query")
        return _Call(service, "%s %s" % (environ.get("REQUEST_METHOD", "GET"), path), "rest")

    @staticmethod
    def _fail(call: _Call, fault: _Fault, start_response: Any) -> list[bytes]:
        request_id = str(uuid.uuid4())
        message = fault.message
        if fault.after_apply:
            # A lost answer looks like a server-side failure unless the test says otherwise.
            fault = dataclasses.replace(
                fault,
                code=fault.code or ("InternalError" if call.protocol == "ec2" else "InternalFailure"),
                status=fault.status or 500,
            )
        if call.protocol == "ec2":
            code, status = fault.code or "RequestLimitExceeded", fault.status or 503
            body = (
                "<Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors>"
                "<RequestID>%s</RequestID></Response>" % (code, message, request_id)
            ).encode()
            headers = [("Content-Type", "text/xml")]
        elif call.protocol in ("query", "rest"):
            code, status = fault.code or "Throttling", fault.status or 400
            body = (
                "<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error>"
                "<RequestId>%s</RequestId></ErrorResponse>" % (code, message, request_id)
            ).encode()
            headers = [("Content-Type", "text/xml")]
        elif call.protocol == "cbor":
            code, status = fault.code or "ThrottlingException", fault.status or 400
            body = _cbor_map({"__type": code, "message": message})
            headers = [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor")]
        else:
            code, status = fault.code or "ThrottlingException", fault.status or 400
            body = json.dumps({"__type": code, "message": message}).encode()
            headers = [("Content-Type", "application/x-amz-json-1.1")]
        if fault.body is not None:
            body, status, headers = fault.body, fault.status or 500, [("Content-Type", fault.content_type)]
        headers += [("x-amzn-RequestId", request_id), ("Content-Length", str(len(body)))]
        start_response("%d Injected" % status, headers)
        return [body]


class _QuietHandler(MotoRequestHandler):
    """moto's request handler without the per-request access log line (errors are still logged)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


# ---------------------------------------------------------------------------------------------------
# The emulator


class MotoEmulator:
    """moto's server on 127.0.0.1 (a free port), in a daemon thread of this process.

    with MotoEmulator() as emu:
        emu.reset()
        seed = emu.seed()
        emu.client("ec2").describe_images(ImageIds=[seed.base_image_id])
    """

    def __init__(self, *, verbose: bool = False) -> None:
        self._verbose = verbose
        self._served: ServedInThread | None = None
        self._recorder = _Recorder(DomainDispatcherApplication(create_backend_app))
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        self._session: Any = None
        self._session_lock = threading.Lock()

    # lifecycle -------------------------------------------------------------------------------------

    def start(self) -> MotoEmulator:
        if self._served is not None:
            return self
        handler = MotoRequestHandler if self._verbose else _QuietHandler
        # Port 0: the kernel binds a free port (no race between finding a port and binding it).
        server = make_server(LOOPBACK, 0, self._recorder, threaded=True, request_handler=handler)
        self._served = ServedInThread(server, "moto-emulator")
        return self

    def stop(self) -> None:
        if self._served is None:
            return
        self._served.stop()
        self._served = None

    def __enter__(self) -> MotoEmulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._served is None:
            raise RuntimeError("the emulator is not running: call start() first")
        return self._served.port

    @property
    def endpoint_url(self) -> str:
        return "http://%s:%d" % (LOOPBACK, self.port)

    def reset(self) -> None:
        """Return moto to its initial state (POST /moto-api/reset); forget counted calls and faults."""
        request = urllib.request.Request(self.endpoint_url + "/moto-api/reset", data=b"", method="POST")
        with self._opener.open(request, timeout=30) as response:
            response.read()
        self.reset_calls()
        self.clear_faults()

    # clients and subprocess environment ------------------------------------------------------------

    def client(self, service: str, region: str = REGION, **kwargs: Any) -> Any:
        """A boto3 client for the emulator that reads no ~/.aws file and uses no proxy."""
        config = Config(proxies={})
        if kwargs.get("config") is not None:
            config = config.merge(kwargs.pop("config"))
        with self._session_lock:
            if self._session is None:
                # One session, so that botocore loads each service model once (a new one costs ~0.1 s a client).
                core = botocore.session.Session()
                core.set_config_variable("config_file", os.devnull)
                core.set_config_variable("credentials_file", os.devnull)
                self._session = boto3.session.Session(
                    aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, botocore_session=core
                )
            return self._session.client(
                service, region_name=region, endpoint_url=self.endpoint_url, config=config, **kwargs
            )

    def env(self) -> dict[str, str]:
        """Environment variables that point a subprocess's AWS SDK at the emulator and nowhere else."""
        return {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "NO_PROXY": "%s,localhost" % LOOPBACK,
            "no_proxy": "%s,localhost" % LOOPBACK,
        }

    # call counting and faults ----------------------------------------------------------------------

    @property
    def calls(self) -> Counter[str]:
        """A snapshot of the calls counted since the last reset, keyed like `ec2:DescribeImages`."""
        with self._recorder.lock:
            return Counter(self._recorder.calls)

    def reset_calls(self) -> None:
        with self._recorder.lock:
            self._recorder.calls.clear()

    @contextmanager
    def counting(self) -> Iterator[Counter[str]]:
        """`with emu.counting() as calls:` ... afterwards `calls` holds the calls made inside the block."""
        before = self.calls
        made: Counter[str] = Counter()
        try:
            yield made
        finally:
            made.update(self.calls - before)

    def inject_fault(
        self,
        call: str,
        *,
        times: int = 1,
        code: str | None = None,
        status: int | None = None,
        message: str | None = None,
        after_apply: bool = False,
        reset: bool = False,
        body: bytes | str | None = None,
        content_type: str = "text/html",
    ) -> None:
        """Answer the next `times` calls of `call` (`ec2:DescribeImages`) with an error, default throttling.

        The error takes the protocol's format: EC2 `RequestLimitExceeded` (HTTP 503), other query services
        `Throttling` (400), JSON and CBOR services `ThrottlingException` (400), unless `code`/`status`
        say otherwise. A later injection for the same call replaces an earlier one.

        `after_apply=True` is a lost answer: moto applies the call first and its answer is replaced by
        the error, by default HTTP 500 (EC2 `InternalError`, others `InternalFailure`). `reset=True`
        shuts the connection down instead of answering (after applying the call if `after_apply`).

        `body=` answers with these raw bytes (`content_type`, default text/html; `status`, default 500)
        instead of the protocol's error format: the HTML page a proxy or load balancer sends.
        """
        if ":" not in call or times < 1:
            raise ValueError("inject_fault needs a call like 'ec2:DescribeImages' and times >= 1")
        if message is None:
            message = (
                "We encountered an internal error (the call was applied; answer lost by the test emulator)"
                if after_apply
                else "Rate exceeded (injected by the test emulator)"
            )
        with self._recorder.lock:
            self._recorder.faults[call] = _Fault(
                times,
                code,
                status,
                message,
                after_apply,
                reset,
                body.encode() if isinstance(body, str) else body,
                content_type,
            )

    def clear_faults(self) -> None:
        with self._recorder.lock:
            self._recorder.faults.clear()

    @property
    def pending_faults(self) -> dict[str, int]:
        """Injected faults not served yet: {call: how many times more}."""
        with self._recorder.lock:
            return {call: fault.remaining for call, fault in self._recorder.faults.items()}

    # the seed ----------------------------------------------------------------------------------------

    def seed(self, region: str = REGION) -> AwsSeed:
        """Create the baseline: a patched base image in our account and a builder instance running from it.

        The base image is what a patching pipeline would make: an instance of a vendor's image (Ubuntu
        24.04 from Canonical's account), imaged with create_image and then terminated. The builder is a
        running instance launched from the base image: what the `image` module snapshots.
        """
        ec2 = self.client("ec2", region)
        account_id = self.client("sts", region).get_caller_identity()["Account"]
        [vpc] = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
        subnets = ec2.describe_subnets(
            Filters=[
                {"Name": "vpc-id", "Values": [vpc["VpcId"]]},
                {"Name": "default-for-az", "Values": ["true"]},
            ]
        )["Subnets"]
        subnets.sort(key=lambda subnet: subnet["AvailabilityZone"])
        capacity = min(
            ipaddress.ip_network(subnet["CidrBlock"]).num_addresses - AWS_RESERVED_PER_SUBNET for subnet in subnets
        )
        vendor_image_id = self._vendor_image(ec2)

        patched = self._launch(ec2, vendor_image_id, subnets[0]["SubnetId"], "phoenix-base-patching")
        base_image_id = ec2.create_image(
            InstanceId=patched,
            Name=BASE_IMAGE_NAME,
            Description="Ubuntu 24.04 with the latest security updates, made from %s" % vendor_image_id,
            TagSpecifications=[
                {"ResourceType": "image", "Tags": [{"Key": k, "Value": v} for k, v in BASE_IMAGE_TAGS.items()]}
            ],
        )["ImageId"]
        ec2.terminate_instances(InstanceIds=[patched])
        builder = self._launch(ec2, base_image_id, subnets[0]["SubnetId"], BUILDER_NAME)
        return AwsSeed(
            region=region,
            account_id=account_id,
            vpc_id=vpc["VpcId"],
            subnet_ids=tuple(subnet["SubnetId"] for subnet in subnets),
            subnet_capacity=capacity,
            base_image_id=base_image_id,
            base_image_name=BASE_IMAGE_NAME,
            vendor_image_id=vendor_image_id,
            builder_instance_id=builder,
        )

    @staticmethod
    def _vendor_image(ec2: Any) -> str:
        for pattern in VENDOR_IMAGE_NAMES:
            images = ec2.describe_images(
                Owners=[VENDOR_OWNER],
                Filters=[{"Name": "name", "Values": [pattern]}, {"Name": "architecture", "Values": ["x86_64"]}],
            )["Images"]
            if images:
                return max(images, key=lambda image: (image.get("CreationDate", ""), image["ImageId"]))["ImageId"]
        raise RuntimeError(
            "no Ubuntu image of account %s in moto's AMI catalogue (MOTO_AMIS_PATH=%s)"
            % (VENDOR_OWNER, os.environ.get("MOTO_AMIS_PATH"))
        )

    @staticmethod
    def _launch(ec2: Any, image_id: str, subnet_id: str, name: str) -> str:
        [instance] = ec2.run_instances(
            ImageId=image_id,
            InstanceType=INSTANCE_TYPE,
            MinCount=1,
            MaxCount=1,
            SubnetId=subnet_id,
            TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name}]}],
        )["Instances"]
        return instance["InstanceId"]


@dataclasses.dataclass(frozen=True)
class AwsContext:
    """What the `aws` test fixture hands a test: the running emulator and the seed it was given."""

    emu: MotoEmulator
    seed: AwsSeed

    def client(self, service: str, region: str | None = None, **kwargs: Any) -> Any:
        return self.emu.client(service, region or self.seed.region, **kwargs)

    @property
    def env(self) -> dict[str, str]:
        return self.emu.env()

    @property
    def calls(self) -> Counter[str]:
        return self.emu.calls
