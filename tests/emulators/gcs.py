"""Cloud Storage's JSON API for the GCE emulator: buckets the test makes, objects with generations and retention.

Served at Google's own paths on the emulator's root (what ``storage_endpoint_url`` names; Google's is
https://storage.googleapis.com/):

- ``GET    storage/v1/b/B``                     buckets.get (``versioning``, ``retentionPolicy``)
- ``POST   upload/storage/v1/b/B/o``            objects.insert, ``uploadType=media`` (``name=`` in the query,
  the body is the content) or ``uploadType=multipart`` (``multipart/related``: the object's JSON metadata,
  then its content)
- ``GET    storage/v1/b/B/o/NAME``              objects.get: metadata, or the content with ``alt=media``
- ``GET    storage/v1/b/B/o``                   objects.list (``prefix``, ``maxResults``, ``pageToken``, ``versions``)
- ``DELETE storage/v1/b/B/o/NAME``              objects.delete

Each write makes a new ``generation`` (microseconds, increasing). ``ifGenerationMatch`` (``0``: the object
must not exist) is checked before anything else: 412 ``conditionNotMet``. A multipart upload's ``crc32c``
and ``md5Hash`` are checked against the content: 400 ``invalid``. A bucket's retention policy keeps each
object from being replaced or deleted until it is older than the retention period: 403
``retentionPolicyNotMet``. Versioning keeps a replaced or deleted object as a noncurrent generation; with
both (as Google allows today), a retained live object may be made noncurrent, but no retained generation
may be deleted for good. Error bodies are the JSON API's:
``{"error": {"code", "message", "errors": [{"message", "domain", "reason"}]}}``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.parser import BytesParser
from email.policy import HTTP
from typing import TYPE_CHECKING, Any

from emulators.gce_api import ApiError, Request

if TYPE_CHECKING:
    from emulators.gce import GceEmulator

STORAGE_PREFIX = "/storage/v1/"
UPLOAD_PREFIX = "/upload/storage/v1/"
DEFAULT_PAGE = 1000


def _rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (moment.microsecond // 1000)


def crc32c_base64(data: bytes) -> str:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _bit in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return base64.b64encode((crc ^ 0xFFFFFFFF).to_bytes(4, "big")).decode()


class StorageError(ApiError):
    """An error answer of the Cloud Storage JSON API (its bodies carry no ``status``)."""

    def body(self) -> dict[str, Any]:
        body = super().body()
        del body["error"]["status"]
        return body


def _precondition_failed() -> StorageError:
    return StorageError(
        412,
        "conditionNotMet",
        "At least one of the pre-conditions you specified did not hold.",
        locationType="header",
        location="If-Match",
    )


@dataclass
class Bucket:
    name: str
    project: str
    versioning: bool = False
    retention_seconds: int | None = None
    retention_locked: bool = False
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    # name -> the live generation; (name, generation) -> every generation kept (live and noncurrent).
    live: dict[str, dict[str, Any]] = field(default_factory=dict)
    generations: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    content: dict[tuple[str, str], bytes] = field(default_factory=dict, repr=False)


class CloudStorage:
    """The buckets the test made and the five calls on them."""

    def __init__(self, emu: GceEmulator) -> None:
        self.emu = emu
        self.buckets: dict[str, Bucket] = {}
        self._last_generation = 0
        self.clock_offset = 0.0

    def reset(self) -> None:
        self.buckets.clear()
        self.clock_offset = 0.0

    def routes(self) -> list[tuple[str, str, str, Any]]:
        bucket = r"b/(?P<bucket>[^/]+)"
        return [
            ("GET", STORAGE_PREFIX + bucket, "storage.buckets.get", self._get_bucket),
            ("POST", UPLOAD_PREFIX + bucket + "/o", "storage.objects.insert", self._insert),
            ("GET", STORAGE_PREFIX + bucket + "/o", "storage.objects.list", self._list),
            ("GET", STORAGE_PREFIX + bucket + "/o/(?P<object>.+)", "storage.objects.get", self._get),
            ("DELETE", STORAGE_PREFIX + bucket + "/o/(?P<object>.+)", "storage.objects.delete", self._delete),
        ]

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.clock_offset)

    def advance_clock(self, seconds: float) -> None:
        """Move the storage clock on (so a retention period passes without waiting for it)."""
        with self.emu.lock:
            self.clock_offset += seconds

    # test-side state ------------------------------------------------------------------------------

    def create_bucket(
        self,
        name: str,
        *,
        project: str | None = None,
        versioning: bool = False,
        retention_seconds: int | None = None,
        retention_locked: bool = False,
    ) -> Bucket:
        """A bucket with versioning, a retention policy (locked or not), both or neither."""
        with self.emu.lock:
            if name in self.buckets:
                raise ValueError("bucket %s exists already" % name)
            bucket = Bucket(name, project or self.emu.project, versioning, retention_seconds, retention_locked)
            self.buckets[name] = bucket
            return bucket

    def content_of(self, bucket: str, name: str) -> bytes:
        stored = self.buckets[bucket]
        return stored.content[(name, stored.live[name]["generation"])]

    def overwrite(self, bucket: str, name: str, data: bytes) -> dict[str, Any]:
        """Replace an object as another writer would (no precondition); refused as GCS refuses it."""
        with self.emu.lock:
            return self._write(self._bucket(bucket), name, data, "application/octet-stream", {}, None)

    # the calls -------------------------------------------------------------------------------------

    def _bucket(self, name: str) -> Bucket:
        bucket = self.buckets.get(name)
        if bucket is None:
            raise StorageError(404, "notFound", "The specified bucket does not exist.")
        return bucket

    def _get_bucket(self, request: Request) -> dict[str, Any]:
        bucket = self._bucket(request.match["bucket"])
        resource: dict[str, Any] = {
            "kind": "storage#bucket",
            "selfLink": self.emu.base_url + STORAGE_PREFIX + "b/" + bucket.name,
            "id": bucket.name,
            "name": bucket.name,
            "projectNumber": "123456789012",
            "metageneration": "1",
            "location": "US",
            "storageClass": "STANDARD",
            "etag": "CAE=",
            "timeCreated": _rfc3339(bucket.created),
            "updated": _rfc3339(bucket.created),
            "locationType": "multi-region",
        }
        if bucket.versioning:
            resource["versioning"] = {"enabled": True}
        if bucket.retention_seconds:
            resource["retentionPolicy"] = {
                "retentionPeriod": str(bucket.retention_seconds),
                "effectiveTime": _rfc3339(bucket.created),
                "isLocked": bucket.retention_locked,
            }
        return resource

    def _insert(self, request: Request) -> dict[str, Any]:
        bucket = self._bucket(request.match["bucket"])
        upload_type = request.query.get("uploadType")
        content_type = request.headers.get("content-type", "")
        raw = request.body if isinstance(request.body, bytes) else b""
        if upload_type == "media":
            name = request.query.get("name")
            metadata: dict[str, Any] = {}
            data = raw
        elif upload_type == "multipart":
            metadata, data, content_type = self._multipart(content_type, raw)
            name = request.query.get("name") or metadata.get("name")
        else:
            raise StorageError(400, "invalid", "Upload type must be one of media, multipart, resumable.")
        if not name:
            raise StorageError(400, "required", "Required parameter: name")
        _check_hashes(metadata, data)
        return self._write(
            bucket,
            name,
            data,
            metadata.get("contentType") or content_type or "application/octet-stream",
            metadata.get("metadata") or {},
            request.query.get("ifGenerationMatch"),
        )

    @staticmethod
    def _multipart(content_type: str, raw: bytes) -> tuple[dict[str, Any], bytes, str]:
        if not content_type.startswith("multipart/related"):
            raise StorageError(400, "invalid", "Multipart uploads must be multipart/related.")
        message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw)
        parts = list(message.iter_parts()) if message.is_multipart() else []
        if len(parts) != 2:
            raise StorageError(400, "invalid", "A multipart upload has exactly two parts: metadata and media.")
        try:
            metadata = json.loads(parts[0].get_payload(decode=True))
        except ValueError:
            raise StorageError(400, "parseError", "Parse Error") from None
        return metadata, parts[1].get_payload(decode=True), parts[1].get_content_type()

    def _retained_until(self, bucket: Bucket, stored: dict[str, Any]) -> datetime | None:
        if not bucket.retention_seconds:
            return None
        created = datetime.fromisoformat(stored["timeCreated"].replace("Z", "+00:00"))
        until = created + timedelta(seconds=bucket.retention_seconds)
        return until if until > self.now() else None

    def _refuse_if_retained(self, bucket: Bucket, stored: dict[str, Any]) -> None:
        until = self._retained_until(bucket, stored)
        if until is not None:
            raise StorageError(
                403,
                "retentionPolicyNotMet",
                "Object '%s/%s' is subject to bucket's retention policy or object retention and cannot be "
                "deleted or overwritten until %s" % (bucket.name, stored["name"], until.isoformat()),
            )

    def _write(
        self,
        bucket: Bucket,
        name: str,
        data: bytes,
        content_type: str,
        metadata: dict[str, str],
        if_generation_match: str | None,
    ) -> dict[str, Any]:
        current = bucket.live.get(name)
        if if_generation_match is not None:
            if not if_generation_match.isdigit():
                raise StorageError(400, "invalid", "Invalid argument for ifGenerationMatch.")
            expected = "0" if current is None else current["generation"]
            if int(if_generation_match) != int(expected):
                raise _precondition_failed()
        if current is not None:
            if not bucket.versioning:
                self._refuse_if_retained(bucket, current)
            self._retire(bucket, current)
        generation = max(int(self.now().timestamp() * 1_000_000), self._last_generation + 1)
        self._last_generation = generation
        created = self.now()
        stored = {
            "kind": "storage#object",
            "id": "%s/%s/%d" % (bucket.name, name, generation),
            "selfLink": self.emu.base_url + STORAGE_PREFIX + "b/%s/o/%s" % (bucket.name, _quote(name)),
            "mediaLink": self.emu.base_url
            + STORAGE_PREFIX
            + "b/%s/o/%s?generation=%d&alt=media" % (bucket.name, _quote(name), generation),
            "name": name,
            "bucket": bucket.name,
            "generation": str(generation),
            "metageneration": "1",
            "contentType": content_type,
            "storageClass": "STANDARD",
            "size": str(len(data)),
            "md5Hash": base64.b64encode(hashlib.md5(data).digest()).decode(),  # noqa: S324 - GCS's own field
            "crc32c": crc32c_base64(data),
            "etag": base64.b64encode(str(generation).encode()).decode(),
            "timeCreated": _rfc3339(created),
            "updated": _rfc3339(created),
            "timeStorageClassUpdated": _rfc3339(created),
        }
        if metadata:
            stored["metadata"] = {str(key): str(value) for key, value in metadata.items()}
        bucket.live[name] = stored
        bucket.generations[(name, stored["generation"])] = stored
        bucket.content[(name, stored["generation"])] = bytes(data)
        return self._shown(bucket, stored)

    def _retire(self, bucket: Bucket, stored: dict[str, Any]) -> None:
        """The live generation stops being live: kept as noncurrent with versioning, gone without."""
        key = (stored["name"], stored["generation"])
        del bucket.live[stored["name"]]
        if bucket.versioning:
            stored["timeDeleted"] = _rfc3339(self.now())
        else:
            del bucket.generations[key]
            del bucket.content[key]

    def _shown(self, bucket: Bucket, stored: dict[str, Any]) -> dict[str, Any]:
        shown = dict(stored)
        if bucket.retention_seconds:
            created = datetime.fromisoformat(stored["timeCreated"].replace("Z", "+00:00"))
            shown["retentionExpirationTime"] = _rfc3339(created + timedelta(seconds=bucket.retention_seconds))
        return shown

    def _find(self, bucket: Bucket, request: Request) -> dict[str, Any]:
        name = request.match["object"]
        generation = request.query.get("generation")
        stored = bucket.generations.get((name, generation)) if generation else bucket.live.get(name)
        if stored is None:
            raise StorageError(404, "notFound", "No such object: %s/%s" % (bucket.name, name))
        return stored

    def _get(self, request: Request) -> Any:
        bucket = self._bucket(request.match["bucket"])
        stored = self._find(bucket, request)
        if request.query.get("alt") == "media":
            return 200, bucket.content[(stored["name"], stored["generation"])], stored["contentType"]
        return self._shown(bucket, stored)

    def _delete(self, request: Request) -> Any:
        bucket = self._bucket(request.match["bucket"])
        stored = self._find(bucket, request)
        # Deleting a generation for good waits for its retention; with versioning, the live one may go noncurrent.
        if request.query.get("generation") or not bucket.versioning:
            self._refuse_if_retained(bucket, stored)
        key = (stored["name"], stored["generation"])
        if bucket.live.get(stored["name"]) is stored:
            self._retire(bucket, stored)
        if request.query.get("generation"):
            bucket.generations.pop(key, None)
            bucket.content.pop(key, None)
        return 204, b"", "application/json"

    def _list(self, request: Request) -> dict[str, Any]:
        bucket = self._bucket(request.match["bucket"])
        prefix = request.query.get("prefix", "")
        try:
            size = int(request.query.get("maxResults", DEFAULT_PAGE))
        except ValueError:
            raise StorageError(400, "invalid", "Invalid maxResults.") from None
        size = max(1, min(size, DEFAULT_PAGE))
        if request.query.get("versions") == "true":
            listed = sorted(bucket.generations.values(), key=lambda item: (item["name"], int(item["generation"])))
        else:
            listed = [bucket.live[name] for name in sorted(bucket.live)]
        listed = [item for item in listed if item["name"].startswith(prefix)]
        bound = {"prefix": prefix, "versions": request.query.get("versions") == "true"}
        offset = 0
        token = request.query.get("pageToken")
        if token:
            try:
                state = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
                offset = int(state["offset"])
            except (ValueError, KeyError, TypeError):
                raise StorageError(400, "invalid", "Invalid page token.") from None
            if {name: state.get(name) for name in bound} != bound:
                raise StorageError(400, "invalid", "The page token does not belong to this list request.")
        answer: dict[str, Any] = {
            "kind": "storage#objects",
            "items": [self._shown(bucket, item) for item in listed[offset : offset + size]],
        }
        if offset + size < len(listed):
            state = {"offset": offset + size, **bound}
            answer["nextPageToken"] = base64.urlsafe_b64encode(json.dumps(state).encode()).decode().rstrip("=")
        if not answer["items"]:
            del answer["items"]
        return answer


def _check_hashes(metadata: dict[str, Any], data: bytes) -> None:
    """The checksums a client sent with an upload must be those of what arrived (Google checks both)."""
    sent_crc32c = metadata.get("crc32c")
    if sent_crc32c is not None and sent_crc32c != crc32c_base64(data):
        raise StorageError(
            400,
            "invalid",
            'Provided CRC32C "%s" doesn\'t match calculated CRC32C "%s".' % (sent_crc32c, crc32c_base64(data)),
        )
    sent_md5 = metadata.get("md5Hash")
    calculated_md5 = base64.b64encode(hashlib.md5(data).digest()).decode()  # noqa: S324 - GCS's own field
    if sent_md5 is not None and sent_md5 != calculated_md5:
        raise StorageError(
            400,
            "invalid",
            'Provided MD5 hash "%s" doesn\'t match calculated MD5 hash "%s".' % (sent_md5, calculated_md5),
        )


def _quote(name: str) -> str:
    return urllib.parse.quote(name, safe="")
