"""Blob Storage's REST API (the part the audit store uses), as azure-storage-blob 12 calls it.

Served by `emulators.azure_hosts.AzureHosts` under the accounts' real names,
``https://<account>.blob.core.windows.net`` (`account_url()`), with bearer tokens of the ARM emulator's Entra ID
for ``https://storage.azure.com``. Calls, by the operation ids of Blob Storage's REST specification:

- ``PUT  /C?restype=container``                   Container_Create (409 ContainerAlreadyExists)
- ``GET|HEAD /C?restype=container``               Container_GetProperties: ``x-ms-has-immutability-policy``,
  ``x-ms-has-legal-hold``, ``x-ms-immutable-storage-with-versioning-enabled``
- ``GET  /C?restype=container&comp=list``         Container_ListBlobFlatSegment: ``prefix``, ``marker`` and
  ``maxresults`` paging (a marker is bound to its prefix), ``include=metadata,versions,immutabilitypolicy``
- ``PUT  /C/NAME`` (``x-ms-blob-type: BlockBlob``) BlockBlob_Upload: ``x-ms-meta-*``, ``Content-MD5`` checked
  (400 Md5Mismatch), ``If-None-Match: *`` (409 BlobAlreadyExists when the blob exists), a per-blob
  immutability policy (``x-ms-immutability-policy-until-date``/``-mode``) where the container has
  version-level immutability; answers ``Content-MD5`` (computed here), ``ETag``, ``x-ms-version-id`` with
  versioning
- ``GET|HEAD /C/NAME[?versionid=V]``              Blob_Download (``x-ms-range``, 206) / Blob_GetProperties
- ``DELETE /C/NAME[?versionid=V]``                Blob_Delete

Immutability as Azure has it: a container's time-based retention policy (`create_container(...,
retention_days=N, locked=...)`; set through ARM on Azure, so the data plane shows only that there is one) keeps
every blob from being overwritten or deleted until N days after its creation; version-level immutability
(``immutable_storage_with_versioning=True``, needs versioning) lets each blob version carry its own policy
until a date, ``Unlocked`` or ``Locked``, and no such version is deleted before it. Both answer 409
BlobImmutableDueToPolicy. Error bodies are XML ``<Error><Code/><Message/></Error>`` with ``x-ms-error-code``.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

from emulators.ledger import CallLedger, Fault

if TYPE_CHECKING:
    from emulators.arm import ArmEmulator

BLOB_SUFFIX = ".blob.core.windows.net"
STORAGE_AUDIENCES = ("https://storage.azure.com", "https://storage.azure.com/")
DEFAULT_ACCOUNT = "phoenixaudit"
MAX_RESULTS = 5000
SERVICE_VERSION = "2026-02-06"


def http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


class StorageError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = dict(headers or {})


@dataclass
class BlobVersion:
    name: str
    data: bytes
    content_type: str
    metadata: dict[str, str]
    created: datetime
    version_id: str | None
    etag: str
    policy_until: datetime | None = None
    policy_mode: str | None = None
    current: bool = True

    @property
    def md5(self) -> str:
        return base64.b64encode(hashlib.md5(self.data).digest()).decode()  # noqa: S324 - Azure's own checksum


@dataclass
class Container:
    name: str
    versioning: bool = False
    version_level_immutability: bool = False
    retention_days: int | None = None
    locked: bool = False
    legal_hold: bool = False
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    versions: list[BlobVersion] = field(default_factory=list)

    def live(self, name: str) -> BlobVersion | None:
        return next((v for v in reversed(self.versions) if v.name == name and v.current), None)


class BlobEmulator:
    """The storage accounts and containers the test made, and the calls on them."""

    def __init__(self, arm: ArmEmulator, *, seed: int = 0) -> None:
        self.arm = arm
        self.lock = threading.RLock()
        self._seed = seed
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.accounts: dict[str, dict[str, Container]] = {DEFAULT_ACCOUNT: {}}
            self.clock_offset = 0.0
            self._sequence = 0
            self.ledger = CallLedger(self.lock, self._seed, rated=lambda operation: operation != "Challenge")

    # test-side state ------------------------------------------------------------------------------

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.clock_offset)

    def advance_clock(self, seconds: float) -> None:
        with self.lock:
            self.clock_offset += seconds

    def account_url(self, account: str = DEFAULT_ACCOUNT) -> str:
        return "https://%s%s" % (account, BLOB_SUFFIX)

    def create_container(
        self,
        name: str,
        *,
        account: str = DEFAULT_ACCOUNT,
        versioning: bool = False,
        immutable_storage_with_versioning: bool = False,
        retention_days: int | None = None,
        locked: bool = False,
    ) -> Container:
        """A container as ARM would set it up (versioning is the account's on Azure, kept per container here)."""
        container = Container(
            name,
            versioning=versioning or immutable_storage_with_versioning,
            version_level_immutability=immutable_storage_with_versioning,
            retention_days=retention_days,
            locked=locked,
        )
        with self.lock:
            self.accounts.setdefault(account, {})[name] = container
        return container

    def container(self, name: str, account: str = DEFAULT_ACCOUNT) -> Container:
        return self.accounts[account][name]

    def content_of(self, container: str, name: str, account: str = DEFAULT_ACCOUNT) -> bytes | None:
        live = self.container(container, account).live(name)
        return None if live is None else live.data

    def overwrite(self, container: str, name: str, data: bytes, account: str = DEFAULT_ACCOUNT) -> None:
        """Another writer puts ``data`` at ``name`` (no conditions), as far as immutability lets it."""
        with self.lock:
            self._store(self.container(container, account), name, data, "application/octet-stream", {}, None, None)

    # calls and faults ------------------------------------------------------------------------------

    @property
    def calls(self) -> Counter[str]:
        return self.ledger.calls

    def counting(self) -> AbstractContextManager[Counter[str]]:
        return self.ledger.counting()

    def inject_fault(
        self, operation: str, *, status: int = 503, times: int = 1, retry_after: int | None = 1, after_apply=False
    ) -> None:
        """The next ``times`` calls of ``operation`` are answered ``status``; ``after_apply``: done, answer lost."""
        self.ledger.inject(operation, Fault(times, status, after_apply, retry_after))

    # serving ---------------------------------------------------------------------------------------

    def owns(self, host: str) -> bool:
        with self.lock:
            return host.endswith(BLOB_SUFFIX) and host.removesuffix(BLOB_SUFFIX) in self.accounts

    def handle(self, method: str, host: str, target: str, headers: dict[str, str], body: bytes):
        account = host.removesuffix(BLOB_SUFFIX)
        parts = urllib.parse.urlsplit(target)
        segments = urllib.parse.unquote(parts.path).lstrip("/").split("/", 1)
        query = {key.lower(): value for key, value in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)}
        lowered = {name.lower(): value for name, value in headers.items()}
        operation = self._operation(method, segments, query)
        try:
            self._authenticate(lowered)
        except StorageError as error:
            with self.lock:
                self.ledger.count("Challenge")
            return self._error(error, method)
        with self.lock:
            self.ledger.count(operation)
            fault = self.ledger.take(operation)
        if fault is not None and not fault.after_apply:
            return self._fault(fault, operation, method)
        try:
            if "x-ms-version" not in lowered:
                raise StorageError(400, "MissingRequiredHeader", "An HTTP header that's mandatory is missing.")
            with self.lock:
                containers = self.accounts[account]
                status, answer, data = self._dispatch(operation, containers, segments, query, lowered, body)
        except StorageError as error:
            return self._error(error, method)
        if fault is not None:
            return self._fault(fault, operation, method)
        answer.update(self._common())
        return status, answer, data

    @staticmethod
    def _operation(method: str, segments: list[str], query: dict[str, str]) -> str:
        if len(segments) == 1:
            if query.get("comp") == "list":
                return "Container_ListBlobFlatSegment"
            return {"PUT": "Container_Create", "DELETE": "Container_Delete"}.get(method, "Container_GetProperties")
        return {
            "PUT": "BlockBlob_Upload",
            "HEAD": "Blob_GetProperties",
            "DELETE": "Blob_Delete",
        }.get(method, "Blob_Download")

    def _common(self) -> dict[str, str]:
        return {"x-ms-request-id": str(uuid.uuid4()), "x-ms-version": SERVICE_VERSION}

    def _error(self, error: StorageError, method: str):
        stamp = self.now().strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"
        request_id = str(uuid.uuid4())
        data = (
            '<?xml version="1.0" encoding="utf-8"?><Error><Code>%s</Code><Message>%s\nRequestId:%s\nTime:%s</Message>'
            "</Error>" % (error.code, escape(error.message), request_id, stamp)
        ).encode()
        headers = {
            **self._common(),
            "x-ms-request-id": request_id,
            "x-ms-error-code": error.code,
            "Content-Type": "application/xml",
            **error.headers,
        }
        if method == "HEAD":
            headers["Content-Length"] = str(len(data))
        return error.status, headers, data

    def _fault(self, fault: Fault, operation: str, method: str):
        headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
        if fault.status == 503:
            error = StorageError(503, "ServerBusy", "The server is currently unable to receive requests.", headers)
        else:
            error = StorageError(fault.status, "InternalError", "Injected by the test emulator (%s)." % operation)
        return self._error(error, method)

    def _authenticate(self, headers: dict[str, str]) -> None:
        challenge = {
            "WWW-Authenticate": "Bearer authorization_uri=%s/%s/oauth2/authorize resource_id=https://storage.azure.com"
            % (self.arm.authority_url, self.arm.tenant_id)
        }
        value = headers.get("authorization", "")
        if not value.lower().startswith("bearer "):
            raise StorageError(
                401,
                "NoAuthenticationInformation",
                "Server failed to authenticate the request. Please refer to the information in the "
                "www-authenticate header.",
                challenge,
            )
        grant = self.arm.tokens.get(value[len("bearer ") :].strip())
        if (
            grant is None
            or grant[0] != self.arm.tenant_id
            or grant[2] < time.time()
            or grant[1] not in STORAGE_AUDIENCES
        ):
            raise StorageError(
                401,
                "InvalidAuthenticationInfo",
                "Server failed to authenticate the request. Please refer to the information in the "
                "www-authenticate header.",
                challenge,
            )

    # the calls -------------------------------------------------------------------------------------

    def _dispatch(self, operation, containers, segments, query, headers, body):
        name = segments[0]
        if operation == "Container_Create":
            if name in containers:
                raise StorageError(409, "ContainerAlreadyExists", "The specified container already exists.")
            containers[name] = Container(name, created=self.now())
            return 201, self._container_headers(containers[name]), b""
        container = containers.get(name)
        if container is None:
            raise StorageError(404, "ContainerNotFound", "The specified container does not exist.")
        if operation == "Container_GetProperties":
            answer = self._container_headers(container)
            answer.update(
                {
                    "x-ms-has-immutability-policy": str(container.retention_days is not None).lower(),
                    "x-ms-has-legal-hold": str(container.legal_hold).lower(),
                    "x-ms-immutable-storage-with-versioning-enabled": str(container.version_level_immutability).lower(),
                    "x-ms-lease-status": "unlocked",
                    "x-ms-lease-state": "available",
                    "x-ms-default-encryption-scope": "$account-encryption-key",
                    "x-ms-deny-encryption-scope-override": "false",
                }
            )
            return 200, answer, b""
        if operation == "Container_ListBlobFlatSegment":
            return self._list(container, query)
        blob = segments[1]
        if operation == "BlockBlob_Upload":
            return self._upload(container, blob, headers, body)
        version = self._version(container, blob, query.get("versionid"))
        if operation == "Blob_Delete":
            return self._delete(container, version, bool(query.get("versionid")))
        return self._read(version, headers, with_content=operation == "Blob_Download")

    def _container_headers(self, container: Container) -> dict[str, str]:
        return {
            "ETag": '"0x%X"' % (int(container.created.timestamp() * 1e7)),
            "Last-Modified": http_date(container.created),
        }

    def _version(self, container: Container, name: str, version_id: str | None) -> BlobVersion:
        if version_id:
            found = next((v for v in container.versions if v.name == name and v.version_id == version_id), None)
        else:
            found = container.live(name)
        if found is None:
            raise StorageError(404, "BlobNotFound", "The specified blob does not exist.")
        return found

    def _immutable_until(self, container: Container, version: BlobVersion) -> datetime | None:
        """Until when ``version`` may not be replaced or deleted (None: it may be now)."""
        now = self.now()
        if container.retention_days is not None:
            until = version.created + timedelta(days=container.retention_days)
            if until > now:
                return until
        if version.policy_until is not None and version.policy_until > now:
            return version.policy_until
        return None

    def _refuse_immutable(self) -> StorageError:
        return StorageError(
            409, "BlobImmutableDueToPolicy", "This operation is not permitted as the blob is immutable due to a policy."
        )

    def _store(self, container, name, data, content_type, metadata, policy_until, policy_mode) -> BlobVersion:
        live = container.live(name)
        # A container's policy keeps the blob itself; version-level immutability keeps the version, which an
        # overwrite leaves in place as a previous version.
        kept_in_place = container.retention_days is not None or not container.versioning
        if live is not None and kept_in_place and self._immutable_until(container, live) is not None:
            raise self._refuse_immutable()
        self._sequence += 1
        now = self.now()
        version = BlobVersion(
            name,
            data,
            content_type,
            metadata,
            now,
            now.strftime("%Y-%m-%dT%H:%M:%S.%f") + "%dZ" % (self._sequence % 10) if container.versioning else None,
            '"0x%X"' % (int(now.timestamp() * 1e7) + self._sequence),
            policy_until,
            policy_mode,
        )
        if live is not None:
            if container.versioning:
                live.current = False
            else:
                container.versions.remove(live)
        container.versions.append(version)
        return version

    def _upload(self, container: Container, name: str, headers: dict[str, str], body: bytes):
        if headers.get("x-ms-blob-type") != "BlockBlob":
            raise StorageError(
                400, "InvalidHeaderValue", "The value for one of the HTTP headers is not in the correct format."
            )
        if headers.get("if-none-match") == "*" and container.live(name) is not None:
            raise StorageError(409, "BlobAlreadyExists", "The specified blob already exists.")
        sent_md5 = headers.get("content-md5")
        computed = base64.b64encode(hashlib.md5(body).digest()).decode()  # noqa: S324 - Azure's own checksum
        if sent_md5 and sent_md5 != computed:
            raise StorageError(
                400,
                "Md5Mismatch",
                "The MD5 value specified in the request did not match with the MD5 value calculated by the server.",
            )
        until, mode = headers.get("x-ms-immutability-policy-until-date"), headers.get("x-ms-immutability-policy-mode")
        policy_until = None
        if until:
            if not container.version_level_immutability:
                raise StorageError(
                    409,
                    "ImmutableStorageWithVersioningNotEnabled",
                    "The container does not have version-level immutability enabled, so a blob's immutability "
                    "policy cannot be set.",
                )
            policy_until = parsedate_to_datetime(until)
            if mode not in ("Unlocked", "Locked"):
                raise StorageError(
                    400, "InvalidHeaderValue", "x-ms-immutability-policy-mode must be Unlocked or Locked."
                )
        metadata = {key[len("x-ms-meta-") :]: value for key, value in headers.items() if key.startswith("x-ms-meta-")}
        content_type = headers.get("x-ms-blob-content-type") or "application/octet-stream"
        version = self._store(container, name, body, content_type, metadata, policy_until, mode if until else None)
        answer = {
            "ETag": version.etag,
            "Last-Modified": http_date(version.created),
            "Content-MD5": version.md5,
            "x-ms-request-server-encrypted": "true",
        }
        if container.versioning:
            answer["x-ms-version-id"] = version.version_id
        return 201, answer, b""

    def _read(self, version: BlobVersion, headers: dict[str, str], with_content: bool):
        answer = {
            "ETag": version.etag,
            "Last-Modified": http_date(version.created),
            "x-ms-creation-time": http_date(version.created),
            "x-ms-blob-type": "BlockBlob",
            "Content-Type": version.content_type,
            "Accept-Ranges": "bytes",
            "x-ms-server-encrypted": "true",
            "x-ms-lease-status": "unlocked",
            "x-ms-lease-state": "available",
            **{"x-ms-meta-" + key: value for key, value in version.metadata.items()},
        }
        if version.version_id:
            answer["x-ms-version-id"] = version.version_id
            answer["x-ms-is-current-version"] = str(version.current).lower()
        if version.policy_until is not None:
            answer["x-ms-immutability-policy-until-date"] = http_date(version.policy_until)
            answer["x-ms-immutability-policy-mode"] = (version.policy_mode or "").lower()
        data, status = version.data, 200
        wanted = headers.get("x-ms-range") or headers.get("range")
        if wanted and with_content:
            first, _dash, last = wanted.removeprefix("bytes=").partition("-")
            start = int(first)
            end = min(int(last) if last else len(data) - 1, len(data) - 1)
            if start >= len(data):
                raise StorageError(
                    416, "InvalidRange", "The range specified is invalid for the current size of the resource."
                )
            data, status = data[start : end + 1], 206
            answer["Content-Range"] = "bytes %d-%d/%d" % (start, end, len(version.data))
            answer["x-ms-blob-content-md5"] = version.md5
        else:
            answer["Content-MD5"] = version.md5
        if not with_content:
            answer["Content-Length"] = str(len(version.data))
            data = b""
        return status, answer, data

    def _delete(self, container: Container, version: BlobVersion, by_version: bool):
        if by_version or not container.versioning or container.retention_days is not None:
            if self._immutable_until(container, version) is not None:
                raise self._refuse_immutable()
            container.versions.remove(version)
        else:
            version.current = False  # the live blob becomes a previous version
        return 202, {"x-ms-delete-type-permanent": str(not container.versioning).lower()}, b""

    def _list(self, container: Container, query: dict[str, str]):
        prefix = query.get("prefix", "")
        include = set(filter(None, query.get("include", "").lower().split(",")))
        limit = min(int(query.get("maxresults") or MAX_RESULTS), MAX_RESULTS)
        items = [
            v
            for v in sorted(container.versions, key=lambda v: (v.name, v.version_id or ""))
            if v.name.startswith(prefix) and (v.current or "versions" in include)
        ]
        offset = 0
        marker = query.get("marker")
        if marker:
            try:
                bound, offset_text = base64.urlsafe_b64decode(marker.encode()).decode().split("\n")
                offset = int(offset_text)
            except (ValueError, UnicodeDecodeError):
                raise StorageError(400, "OutOfRangeInput", "One of the request inputs is out of range.") from None
            if bound != prefix:
                raise StorageError(400, "OutOfRangeInput", "The marker does not belong to this listing.")
        page = items[offset : offset + limit]
        blobs = "".join(self._blob_xml(v, include) for v in page)
        next_marker = ""
        if offset + limit < len(items):
            next_marker = base64.urlsafe_b64encode(("%s\n%d" % (prefix, offset + limit)).encode()).decode()
        xml = (
            '<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="%s/" ContainerName="%s">'
            "<Prefix>%s</Prefix>%s<MaxResults>%d</MaxResults><Blobs>%s</Blobs><NextMarker>%s</NextMarker>"
            "</EnumerationResults>"
            % (
                self.account_url(),
                escape(container.name),
                escape(prefix),
                "<Marker>%s</Marker>" % escape(marker) if marker else "",
                limit,
                blobs,
                next_marker,
            )
        )
        return 200, {"Content-Type": "application/xml"}, xml.encode()

    def _blob_xml(self, version: BlobVersion, include: set[str]) -> str:
        fields = [
            ("Creation-Time", http_date(version.created)),
            ("Last-Modified", http_date(version.created)),
            ("Etag", version.etag),
            ("Content-Length", str(len(version.data))),
            ("Content-Type", version.content_type),
            ("Content-MD5", version.md5),
            ("BlobType", "BlockBlob"),
            ("AccessTier", "Hot"),
            ("AccessTierInferred", "true"),
            ("LeaseStatus", "unlocked"),
            ("LeaseState", "available"),
            ("ServerEncrypted", "true"),
        ]
        if "immutabilitypolicy" in include and version.policy_until is not None:
            fields.append(("ImmutabilityPolicyUntilDate", http_date(version.policy_until)))
            fields.append(("ImmutabilityPolicyMode", (version.policy_mode or "").lower()))
        properties = "".join("<%s>%s</%s>" % (key, escape(value), key) for key, value in fields)
        metadata = ""
        if "metadata" in include:
            metadata = "<Metadata>%s</Metadata>" % "".join(
                "<%s>%s</%s>" % (key, escape(value), key) for key, value in version.metadata.items()
            )
        versioned = ""
        if version.version_id:
            versioned = "<VersionId>%s</VersionId>%s" % (
                version.version_id,
                "<IsCurrentVersion>true</IsCurrentVersion>" if version.current else "",
            )
        return "<Blob><Name>%s</Name>%s<Properties>%s</Properties>%s</Blob>" % (
            escape(version.name),
            versioned,
            properties,
            metadata,
        )
