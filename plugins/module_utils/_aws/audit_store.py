# Private to this collection.
"""S3 as a destination of the audit trail: one object per run, in a bucket with versioning and, where
the bucket has it, S3 Object Lock. One small method per API call, through the shared retry policy."""

from __future__ import annotations

import datetime

from .._core.audit import run_object_key
from .._core.backends import BlobStore
from .._core.errors import PhoenixError
from .api import AwsApi

NO_OBJECT_CODES = ("NoSuchKey", "NotFound", "404")
NO_LOCK_CODES = ("ObjectLockConfigurationNotFoundError", "ObjectLockConfigurationNotFound")
LOCK_MODES = ("GOVERNANCE", "COMPLIANCE")


class AuditStoreApi(AwsApi):
    def get_bucket_versioning(self, bucket):
        return self._call("s3", "get_bucket_versioning", resource=bucket, Bucket=bucket)

    def get_object_lock_configuration(self, bucket):
        try:
            return self._call("s3", "get_object_lock_configuration", resource=bucket, Bucket=bucket)
        except PhoenixError as error:
            if error.code in NO_LOCK_CODES:
                return {}
            raise

    def get_object_bytes(self, bucket, key):
        """The object's bytes, or None when there is no such object."""
        try:
            response = self._call("s3", "get_object", resource="s3://%s/%s" % (bucket, key), Bucket=bucket, Key=key)
        except PhoenixError as error:
            if error.code in NO_OBJECT_CODES:
                return None
            raise
        return response["Body"].read()

    def put_object(self, bucket, key, body, **kwargs):
        return self._call(
            "s3", "put_object", resource="s3://%s/%s" % (bucket, key), Bucket=bucket, Key=key, Body=body, **kwargs
        )


class S3AuditStore(BlobStore):
    """Puts the lines of one run as ``PREFIX/YYYY/MM/DD/<time>-<run>.jsonl`` and says how it is protected.

    As a BlobStore it keeps content by digest as ``PREFIX/sha256/<hex>`` (attestation reports, SBOMs).
    """

    # What protects objects from being overwritten besides versioning, in the words of messages.
    lock_name = "Object Lock"

    def __init__(self, api, bucket, prefix="phoenix-audit/", lock_mode=None, retention_days=None):
        self.api = api
        self.bucket = bucket
        self.prefix = prefix
        self.lock_mode = lock_mode
        self.retention_days = retention_days
        self.url = "s3://%s" % bucket

    def protection(self):
        """``versioning`` (the bucket's status, or None) and ``object_lock`` (whether the bucket has it)."""
        versioning = self.api.get_bucket_versioning(self.bucket).get("Status")
        lock = self.api.get_object_lock_configuration(self.bucket).get("ObjectLockConfiguration") or {}
        return {"versioning": versioning, "object_lock": lock.get("ObjectLockEnabled") == "Enabled"}

    def key_for(self, run, first_time):
        return run_object_key(self.prefix, run, first_time)

    def put_run(self, run, lines, head, first_time, now=None):
        """Upload the run's lines; returns {key, version_id, protection, retain_until}."""
        protection = self.protection()
        key = self.key_for(run, first_time)
        extra = {
            "ContentType": "application/x-ndjson",
            "Metadata": {"phoenix-audit-run": run, "phoenix-audit-head": head, "phoenix-audit-lines": str(len(lines))},
        }
        retain_until = None
        if protection["object_lock"] and self.lock_mode and self.retention_days:
            now = now or datetime.datetime.now(datetime.timezone.utc)
            retain_until = now + datetime.timedelta(days=self.retention_days)
            extra.update(ObjectLockMode=self.lock_mode, ObjectLockRetainUntilDate=retain_until)
        body = ("\n".join(lines) + "\n").encode("ascii")
        response = self.api.put_object(self.bucket, key, body, **extra)
        return {
            "key": key,
            "version_id": response.get("VersionId"),
            "protection": protection,
            "retain_until": retain_until.isoformat() if retain_until else None,
        }

    def blob_key(self, digest):
        return "%ssha256/%s" % (self.prefix, digest)

    def url_of(self, digest):
        return "%s/%s" % (self.url, self.blob_key(digest))

    def put_blob(self, digest, data, media_type="application/json"):
        self.api.put_object(self.bucket, self.blob_key(digest), data, ContentType=media_type)
        return self.url_of(digest)

    def get_blob(self, digest):
        return self.api.get_object_bytes(self.bucket, self.blob_key(digest))
