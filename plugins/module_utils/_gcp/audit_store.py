# Private to this collection.
"""Cloud Storage as a destination of the audit trail: one object per run, never overwritten.

Each run is one ``objects.insert`` with ``ifGenerationMatch=0`` (the object must not exist yet), so a
record is written once: a retry after a lost answer finds its own object and stops there, and an object
of another run under the same name is never replaced. The run id and the chain's head go into the
object's metadata, and its CRC32C with the upload, which Cloud Storage checks.

What S3 Object Lock is on AWS, a bucket's retention policy is here: every object of the bucket is kept
for the policy's period from its creation, and a locked policy can be neither shortened nor removed.
A retention the caller asks for is checked against the bucket's policy before anything is written;
Cloud Storage sets no retention per object in such a bucket.

As a ``backends.BlobStore`` it keeps content by its sha256 as ``PREFIX/sha256/<hex>`` (attestation
statements and reports, SBOMs), written the same way: once, with ``ifGenerationMatch=0``. An object already
there with the same CRC32C is the same content (put again, or an answer lost); one with another CRC32C is
refused, never overwritten. ``get_blob`` is ``objects.get`` with ``alt=media``, None when there is no object.
"""

from __future__ import annotations

import json
import uuid
from urllib.parse import quote

from .._core.audit import run_object_key
from .._core.backends import BlobStore
from .._core.errors import InvalidInput, PhoenixError
from .crc32c import crc32c_base64
from .errors import GcpApiError, NotFound, PreconditionFailed
from .pagination import pages

LOCK_MODES = ("GOVERNANCE", "COMPLIANCE")
CONTENT_TYPE = "application/x-ndjson"
# Cloud Storage answers at most 1,000 objects a page.
LIST_PAGE_SIZE = 1000
SECONDS_A_DAY = 86400
RUN_KEY = "phoenix-audit-run"
HEAD_KEY = "phoenix-audit-head"
LINES_KEY = "phoenix-audit-lines"


def multipart_body(metadata, data, content_type):
    """(body, content type) of a ``multipart/related`` upload: the object's JSON metadata, then its bytes."""
    boundary = "phoenix-%s" % uuid.uuid4().hex
    head = (
        "--%s\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n%s\r\n--%s\r\nContent-Type: %s\r\n\r\n"
        % (boundary, json.dumps(metadata, sort_keys=True), boundary, content_type)
    ).encode("utf-8")
    tail = ("\r\n--%s--\r\n" % boundary).encode("ascii")
    return head + data + tail, 'multipart/related; boundary="%s"' % boundary


def _integer(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class GcsAuditStore(BlobStore):
    """Puts the lines of one run as ``PREFIX/YYYY/MM/DD/<time>-<run>.jsonl`` and says how it is protected.

    The interface of ``_aws.audit_store.S3AuditStore``: ``protection()``, ``key_for()``, ``put_run()``
    (``version_id`` is the object's generation), and ``runs()`` to list what was put; as a BlobStore,
    ``url_of()``, ``put_blob()`` and ``get_blob()``.
    """

    lock_name = "a retention policy"

    def __init__(self, connection, bucket, prefix="phoenix-audit/", lock_mode=None, retention_days=None):
        self.connection = connection
        self.bucket = bucket
        self.url = "gs://%s" % bucket
        self.prefix = prefix
        self.lock_mode = lock_mode
        self.retention_days = retention_days

    # -- one method per call ---------------------------------------------------------------------

    def _bucket_url(self):
        return "%sstorage/v1/b/%s" % (self.connection.storage_endpoint_url, quote(self.bucket, safe=""))

    def _object_url(self, key):
        return "%s/o/%s" % (self._bucket_url(), quote(key, safe=""))

    def _where(self, key=None):
        return "gs://%s/%s" % (self.bucket, key) if key else "gs://%s" % self.bucket

    def get_bucket(self):
        try:
            return self.connection.request("GET", self._bucket_url(), "storage.buckets.get", resource=self._where())
        except GcpApiError as error:
            raise self._bucket_refusal(error) from None

    def insert_object(self, key, data, metadata, content_type=CONTENT_TYPE):
        """objects.insert of ``key`` only if no object has that name (``ifGenerationMatch=0``)."""
        body, content_type = multipart_body(dict(metadata, name=key), data, content_type)
        url = "%supload/storage/v1/b/%s/o" % (self.connection.storage_endpoint_url, quote(self.bucket, safe=""))
        return self.connection.request(
            "POST",
            url,
            "storage.objects.insert",
            resource=self._where(key),
            params={"uploadType": "multipart", "ifGenerationMatch": "0"},
            data=body,
            content_type=content_type,
        )

    def get_object(self, key):
        return self.connection.request("GET", self._object_url(key), "storage.objects.get", resource=self._where(key))

    def download_object(self, key):
        """objects.get with ``alt=media``: the object's bytes."""
        return self.connection.request(
            "GET",
            self._object_url(key),
            "storage.objects.get",
            resource=self._where(key),
            params={"alt": "media"},
            raw=True,
        )

    def list_objects(self, prefix):
        items = []
        for page in pages(
            self.connection,
            self._bucket_url() + "/o",
            "storage.objects.list",
            params={"prefix": prefix},
            resource=self._where(prefix),
            page_size=LIST_PAGE_SIZE,
        ):
            items.extend(page.get("items") or [])
        return items

    # -- the store -------------------------------------------------------------------------------

    def protection(self, bucket=None):
        """``versioning`` ("Enabled" or None), ``object_lock`` (the bucket has a retention policy) and the policy.

        ``retention_seconds`` is the policy's period, ``retention_locked`` whether it can no longer be
        shortened or removed.
        """
        bucket = self.get_bucket() if bucket is None else bucket
        policy = bucket.get("retentionPolicy") or {}
        seconds = _integer(policy.get("retentionPeriod"))
        return {
            "versioning": "Enabled" if (bucket.get("versioning") or {}).get("enabled") else None,
            "object_lock": bool(seconds),
            "retention_seconds": seconds or None,
            "retention_locked": bool(seconds) and policy.get("isLocked") is True,
        }

    def key_for(self, run, first_time):
        return run_object_key(self.prefix, run, first_time)

    def put_run(self, run, lines, head, first_time):
        """Upload the run's lines once; returns {key, version_id, protection, retain_until}.

        ``retain_until`` is when Cloud Storage lets the object go (None without a retention policy): the
        bucket's clock starts it, not this host's.
        """
        self._check_request()
        protection = self.protection()
        self._check_retention(protection)
        key = self.key_for(run, first_time)
        data = ("\n".join(lines) + "\n").encode("utf-8")
        checksum = crc32c_base64(data)
        metadata = {
            "contentType": CONTENT_TYPE,
            "crc32c": checksum,
            "metadata": {RUN_KEY: run, HEAD_KEY: head, LINES_KEY: str(len(lines))},
        }
        try:
            stored = self.insert_object(key, data, metadata)
        except PreconditionFailed:
            # An object has that name: ours, when an answer was lost and the insert sent again; else not ours.
            stored = self._own_object(key, run, head, checksum)
        except GcpApiError as error:
            raise self._bucket_refusal(error, key) from None
        if stored.get("crc32c") != checksum:
            raise PhoenixError(
                "Cloud Storage stored %s with CRC32C %s, not the %s of the lines sent"
                % (self._where(key), stored.get("crc32c"), checksum),
                resource=self._where(key),
                code="ChecksumMismatch",
                cloud="gcp",
                hint="Something between this host and Cloud Storage changed the upload; check "
                "storage_endpoint_url and any proxy. The lines are still in the local audit log.",
            )
        return {
            "key": key,
            "version_id": stored.get("generation"),
            "protection": protection,
            "retain_until": stored.get("retentionExpirationTime"),
        }

    def runs(self, prefix=None):
        """Every run put under ``prefix`` (default: the store's), oldest name first, from the objects' metadata."""
        found = []
        for item in self.list_objects(self.prefix if prefix is None else prefix):
            metadata = item.get("metadata") or {}
            found.append(
                {
                    "key": item.get("name"),
                    "version_id": item.get("generation"),
                    "run": metadata.get(RUN_KEY),
                    "head": metadata.get(HEAD_KEY),
                    "lines": _integer(metadata.get(LINES_KEY)),
                    "size": _integer(item.get("size")),
                    "crc32c": item.get("crc32c"),
                    "time_created": item.get("timeCreated"),
                    "retain_until": item.get("retentionExpirationTime"),
                }
            )
        return found

    # -- the BlobStore ---------------------------------------------------------------------------

    def blob_key(self, digest):
        return "%ssha256/%s" % (self.prefix, digest)

    def url_of(self, digest):
        return "%s/%s" % (self.url, self.blob_key(digest))

    def put_blob(self, digest, data, media_type="application/json"):
        """Create the object of ``digest`` once; the same content already there is success."""
        key = self.blob_key(digest)
        checksum = crc32c_base64(data)
        try:
            stored = self.insert_object(key, data, {"contentType": media_type, "crc32c": checksum}, media_type)
        except PreconditionFailed:
            stored = self.get_object(key)  # put before, or an answer was lost and the insert sent again
            if stored.get("crc32c") != checksum or _integer(stored.get("size")) != len(data):
                where = self._where(key)
                raise PhoenixError(
                    "%s exists already and holds other content than sha256 %s: it was not overwritten"
                    % (where, digest),
                    resource=where,
                    code="BlobMismatch",
                    cloud="gcp",
                    hint="Objects under %ssha256/ are named by the sha256 of their content; this one was altered. "
                    "Delete it (it is no longer what its name says) and run again." % self.prefix,
                ) from None
        except GcpApiError as error:
            raise self._bucket_refusal(error, key) from None
        if stored.get("crc32c") != checksum:
            raise PhoenixError(
                "Cloud Storage stored %s with CRC32C %s, not the %s of the content sent"
                % (self._where(key), stored.get("crc32c"), checksum),
                resource=self._where(key),
                code="ChecksumMismatch",
                cloud="gcp",
                hint="Something between this host and Cloud Storage changed the upload; check storage_endpoint_url "
                "and any proxy.",
            )
        return self.url_of(digest)

    def get_blob(self, digest):
        try:
            return self.download_object(self.blob_key(digest))
        except NotFound:
            return None

    # -- checks ----------------------------------------------------------------------------------

    def _check_request(self):
        if self.lock_mode is not None and self.lock_mode not in LOCK_MODES:
            raise InvalidInput(
                "lock mode %r is not one of %s" % (self.lock_mode, ", ".join(LOCK_MODES)),
                resource=self._where(),
                hint="COMPLIANCE needs a locked retention policy on the bucket; GOVERNANCE an unlocked one will do.",
            )
        if self.retention_days is not None and (
            isinstance(self.retention_days, bool) or not isinstance(self.retention_days, int) or self.retention_days < 1
        ):
            raise InvalidInput(
                "retention days must be a whole number of days of at least 1, not %r" % (self.retention_days,),
                resource=self._where(),
            )

    def _check_retention(self, protection):
        """Refuse, before writing, a retention the bucket's policy does not give every object it holds."""
        if not self.retention_days:
            return
        wanted = self.retention_days * SECONDS_A_DAY
        where = self._where()
        seconds = protection["retention_seconds"]
        if not seconds:
            raise PhoenixError(
                "%s has no retention policy, so its audit objects cannot be kept for %d days"
                % (where, self.retention_days),
                resource=where,
                code="RetentionPolicyMissing",
                cloud="gcp",
                hint="Give the bucket a retention policy of at least %d days (gcloud storage buckets update %s "
                "--retention-period=%dd), or do not ask for a retention."
                % (self.retention_days, where, self.retention_days),
                details=protection,
            )
        if seconds < wanted:
            raise PhoenixError(
                "the retention policy of %s keeps objects for %s seconds, less than the %d days asked for"
                % (where, seconds, self.retention_days),
                resource=where,
                code="RetentionPolicyTooShort",
                cloud="gcp",
                hint="Raise the bucket's retention period to at least %dd (gcloud storage buckets update %s "
                "--retention-period=%dd), or ask for fewer days." % (self.retention_days, where, self.retention_days),
                details=protection,
            )
        if self.lock_mode == "COMPLIANCE" and not protection["retention_locked"]:
            raise PhoenixError(
                "the retention policy of %s is not locked: COMPLIANCE retention needs a policy that no one can "
                "shorten or remove" % where,
                resource=where,
                code="RetentionPolicyNotLocked",
                cloud="gcp",
                hint="Lock it (gcloud storage buckets update %s --lock-retention-period; this cannot be undone), "
                "or ask for GOVERNANCE retention, which an unlocked policy gives." % where,
                details=protection,
            )

    def _own_object(self, key, run, head, checksum):
        """The object already at ``key`` when it is this run's own upload; a PhoenixError when it is not."""
        existing = self.get_object(key)
        metadata = existing.get("metadata") or {}
        if metadata.get(RUN_KEY) == run and metadata.get(HEAD_KEY) == head and existing.get("crc32c") == checksum:
            return existing
        where = self._where(key)
        raise PhoenixError(
            "%s exists already and holds other lines than this run's (run %s, generation %s): it was not "
            "overwritten" % (where, metadata.get(RUN_KEY) or "unknown", existing.get("generation")),
            resource=where,
            code="AuditObjectExists",
            cloud="gcp",
            hint="Audit objects are written once. Check who else writes under the prefix %r; this run's lines are "
            "in the local audit log." % self.prefix,
        )

    def _bucket_refusal(self, error, key=None):
        where = self._where()
        if error.status == 404:
            return PhoenixError(
                "Cloud Storage bucket %s does not exist, or the credentials in use may not see it" % where,
                resource=where,
                code=error.code,
                cloud="gcp",
                hint="Create the bucket (gcloud storage buckets create %s, with a retention policy for audit "
                "records) or name an existing one." % where,
            )
        if error.status == 403 and error.code != "retentionPolicyNotMet":
            return PhoenixError(
                "the credentials in use may not %s %s: %s"
                % ("create objects in" if key else "read the settings of", where, error.message),
                resource=self._where(key) if key else where,
                code=error.code,
                cloud="gcp",
                hint="Grant the service account storage.buckets.get (roles/storage.legacyBucketReader) and "
                "storage.objects.create (roles/storage.objectCreator) on the bucket.",
            )
        return error
