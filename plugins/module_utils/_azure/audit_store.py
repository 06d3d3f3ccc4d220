# Private to this collection.
"""Blob Storage as a destination of the audit trail: one blob per run, never overwritten.

The store is named by its container's URL, ``https://<account>.blob.core.windows.net/<container>`` (or
``<account>/<container>``). Each run is one Put Blob with ``If-None-Match: *`` (the blob must not exist yet),
so a record is written once: a retry after a lost answer finds its own blob and stops there, and a blob of
another run under the same name is never replaced. The run id and the chain's head go into the blob's
metadata; the upload carries its MD5, which Blob Storage checks, and the MD5 it stored is checked here.

What S3 Object Lock is on AWS, version-level immutability is here: in a container that has it, each blob
version carries its own immutability policy until a date, ``Locked`` (no one can shorten or remove it: the
store's COMPLIANCE) or ``Unlocked`` (GOVERNANCE), and no version is deleted before then. A retention asked
for is set on each blob that way, and refused before anything is written where the container cannot keep it.
A container-level time-based retention policy also makes the container WORM, but the data plane shows only
that there is one, not its period or whether it is locked, so a retention of some days cannot be checked
against it; it is reported in ``protection()``.

As a ``backends.BlobStore`` it keeps content by its sha256 as ``PREFIX/sha256/<hex>`` (attestation reports,
SBOMs), written the same way: once, with ``If-None-Match: *``. A blob already there with the same MD5 is the
same content (put again, or an answer lost); one with another MD5 is refused, never overwritten.
``get_blob`` is Blob_Download, None when there is no blob.
"""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import datetime, timedelta, timezone

from .._core.audit import run_object_key
from .._core.backends import BlobStore
from .._core.errors import InvalidInput, PhoenixError
from .errors import AlreadyExists, AzureApiError, NotFound

try:
    from azure.storage.blob import ContainerClient, ContentSettings, ImmutabilityPolicy
except ImportError:  # reported by the connection (require_azure) or by the first call
    ContainerClient = ContentSettings = ImmutabilityPolicy = None

LOCK_MODES = ("GOVERNANCE", "COMPLIANCE")
# COMPLIANCE: a locked policy, which no one can shorten or remove; GOVERNANCE: an unlocked one.
POLICY_MODES = {"COMPLIANCE": "Locked", "GOVERNANCE": "Unlocked", None: "Unlocked"}
CONTENT_TYPE = "application/x-ndjson"
# Blob Storage answers at most 5,000 blobs a page.
LIST_PAGE_SIZE = 5000
SECONDS_A_DAY = 86400
# Metadata names are C# identifiers on Azure: no dashes.
RUN_KEY = "phoenix_audit_run"
HEAD_KEY = "phoenix_audit_head"
LINES_KEY = "phoenix_audit_lines"
_CONTAINER_URL = re.compile(r"^https://(?P<host>[^/?#]+)/(?P<container>[a-z0-9][a-z0-9-]{1,61}[a-z0-9])/?$")
_ACCOUNT_AND_CONTAINER = re.compile(r"^(?P<account>[a-z0-9]{3,24})/(?P<container>[a-z0-9][a-z0-9-]{1,61}[a-z0-9])$")
ROLE_HINT = (
    "Give the identity in use the role Storage Blob Data Contributor on the container (reading its properties and "
    "creating blobs), and check that the storage account allows Entra ID authorization."
)


def container_location(container):
    """``(account URL, container name)`` of a container URL or ``account/container``, or InvalidInput."""
    text = str(container or "")
    match = _CONTAINER_URL.match(text)
    if match:
        return "https://%s" % match.group("host"), match.group("container")
    match = _ACCOUNT_AND_CONTAINER.match(text)
    if match:
        return "https://%s.blob.core.windows.net" % match.group("account"), match.group("container")
    raise InvalidInput(
        "%r is not a blob container: name it https://<account>.blob.core.windows.net/<container> or "
        "<account>/<container>" % (container,),
        resource=text,
        hint="Container names are 3-63 lower-case letters, digits and dashes; the account's blob endpoint is "
        "shown by az storage account show --name A --query primaryEndpoints.blob.",
    )


def content_md5(data):
    return hashlib.md5(data, usedforsecurity=False).digest()  # Blob Storage's own checksum, not a security use


def _b64(value):
    return base64.b64encode(bytes(value)).decode("ascii") if value else None


def _iso(moment):
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if moment else None


def _integer(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class BlobAuditStore(BlobStore):
    """Puts the lines of one run as ``PREFIX/YYYY/MM/DD/<time>-<run>.jsonl`` and says how it is protected.

    The interface of ``_gcp.audit_store.GcsAuditStore``: ``protection()``, ``key_for()``, ``put_run()``
    (``version_id`` is the blob's version id, where the account keeps versions), and ``runs()``; as a
    BlobStore, ``url_of()``, ``put_blob()`` and ``get_blob()``.
    """

    lock_name = "an immutability policy"

    def __init__(self, connection, container, prefix="phoenix-audit/", lock_mode=None, retention_days=None):
        self.connection = connection
        self.account_url, self.container = container_location(container)
        self.url = "%s/%s" % (self.account_url, self.container)
        self.prefix = prefix
        self.lock_mode = lock_mode
        self.retention_days = retention_days
        self._client = None

    # -- one method per call ---------------------------------------------------------------------

    def container_client(self):
        if self._client is None:
            self._client = self.connection.client(
                ContainerClient, self.account_url, self.container, credential=self.connection.credential, service="blob"
            )
        return self._client

    def _where(self, key=None):
        return "%s/%s" % (self.url, key) if key else self.url

    def get_container_properties(self):
        client = self.container_client()
        try:
            return self.connection.call(
                "Container_GetProperties", client.get_container_properties, resource=self._where()
            )
        except AzureApiError as error:
            raise self._container_refusal(error) from None

    def upload_blob(self, key, data, metadata, immutability_policy=None, content_type=CONTENT_TYPE):
        """Put Blob of ``key`` only if no blob has that name (``If-None-Match: *``), its MD5 sent along."""
        options = {"immutability_policy": immutability_policy} if immutability_policy is not None else {}
        blob = self.container_client().get_blob_client(key)
        return self.connection.call(
            "BlockBlob_Upload",
            blob.upload_blob,
            data,
            overwrite=False,
            metadata=metadata,
            content_settings=ContentSettings(content_type=content_type),
            validate_content=True,
            resource=self._where(key),
            **options,
        )

    def get_blob_properties(self, key):
        blob = self.container_client().get_blob_client(key)
        return self.connection.call("Blob_GetProperties", blob.get_blob_properties, resource=self._where(key))

    def download_blob(self, key):
        """Blob_Download of ``key``: its bytes (the whole download retried as one call)."""
        blob = self.container_client().get_blob_client(key)
        return self.connection.call("Blob_Download", lambda: blob.download_blob().readall(), resource=self._where(key))

    def list_blobs(self, prefix):
        """Every blob under ``prefix``, page by page (each page retried on its own)."""
        client, items, token = self.container_client(), [], None
        while True:

            def page(marker=token):
                pager = client.list_blobs(
                    name_starts_with=prefix, include=["metadata", "immutabilitypolicy"], results_per_page=LIST_PAGE_SIZE
                ).by_page(continuation_token=marker)
                return list(next(pager)), pager.continuation_token

            found, token = self.connection.call("Container_ListBlobFlatSegment", page, resource=self._where(prefix))
            items.extend(found)
            if not token:
                return items

    # -- the store -------------------------------------------------------------------------------

    def protection(self, properties=None):
        """``versioning``, ``object_lock`` (the container is WORM in some way) and how.

        ``version_level_immutability``: each blob can carry its own policy (the account keeps versions, so
        ``versioning`` is "Enabled"); ``container_policy``: a container-level time-based retention policy, whose
        period (``retention_seconds``) and lock (``retention_locked``) only ARM shows, so they are None here;
        ``legal_hold``: a legal hold keeps every blob until it is cleared.
        """
        properties = self.get_container_properties() if properties is None else properties
        version_level = bool(getattr(properties, "immutable_storage_with_versioning_enabled", False))
        container_policy = bool(properties.has_immutability_policy)
        legal_hold = bool(properties.has_legal_hold)
        return {
            "versioning": "Enabled" if version_level else None,
            "object_lock": version_level or container_policy or legal_hold,
            "version_level_immutability": version_level,
            "container_policy": container_policy,
            "legal_hold": legal_hold,
            "retention_seconds": None,
            "retention_locked": None,
        }

    def key_for(self, run, first_time):
        return run_object_key(self.prefix, run, first_time)

    def put_run(self, run, lines, head, first_time, now=None):
        """Upload the run's lines once; returns {key, version_id, protection, retain_until}.

        ``retain_until`` is the blob's own immutability policy's date (None without one): this host's clock
        plus the retention asked for, as Blob Storage takes it.
        """
        self._check_request()
        protection = self.protection()
        self._check_retention(protection)
        key = self.key_for(run, first_time)
        data = ("\n".join(lines) + "\n").encode("utf-8")
        checksum = content_md5(data)
        metadata = {RUN_KEY: run, HEAD_KEY: head, LINES_KEY: str(len(lines))}
        policy = None
        if self.retention_days:
            until = (now or datetime.now(timezone.utc)) + timedelta(days=self.retention_days)
            policy = ImmutabilityPolicy(
                expiry_time=until.replace(microsecond=0), policy_mode=POLICY_MODES[self.lock_mode]
            )
        try:
            stored = self.upload_blob(key, data, metadata, policy)
            stored_md5, version_id = stored.get("content_md5"), stored.get("version_id")
        except AlreadyExists:
            # A blob has that name: ours, when an answer was lost and the upload sent again; else not ours.
            existing = self._own_blob(key, run, head, checksum)
            stored_md5, version_id = existing.content_settings.content_md5, existing.version_id
        except AzureApiError as error:
            raise self._container_refusal(error, key) from None
        if bytes(stored_md5 or b"") != checksum:
            raise PhoenixError(
                "Blob Storage stored %s with MD5 %s, not the %s of the lines sent"
                % (self._where(key), _b64(stored_md5), _b64(checksum)),
                resource=self._where(key),
                code="ChecksumMismatch",
                cloud="azure",
                hint="Something between this host and Blob Storage changed the upload; check the container URL and "
                "any proxy. The lines are still in the local audit log.",
            )
        return {
            "key": key,
            "version_id": version_id,
            "protection": protection,
            "retain_until": _iso(policy.expiry_time) if policy is not None else None,
        }

    def runs(self, prefix=None):
        """Every run put under ``prefix`` (default: the store's), oldest name first, from the blobs' metadata."""
        found = []
        for blob in self.list_blobs(self.prefix if prefix is None else prefix):
            metadata = blob.metadata or {}
            policy = getattr(blob, "immutability_policy", None)
            found.append(
                {
                    "key": blob.name,
                    "version_id": blob.version_id,
                    "run": metadata.get(RUN_KEY),
                    "head": metadata.get(HEAD_KEY),
                    "lines": _integer(metadata.get(LINES_KEY)),
                    "size": blob.size,
                    "content_md5": _b64(blob.content_settings.content_md5),
                    "time_created": _iso(blob.creation_time),
                    "retain_until": _iso(policy.expiry_time) if policy is not None else None,
                }
            )
        return found

    # -- the BlobStore ---------------------------------------------------------------------------

    def blob_key(self, digest):
        return "%ssha256/%s" % (self.prefix, digest)

    def url_of(self, digest):
        return self._where(self.blob_key(digest))

    def put_blob(self, digest, data, media_type="application/json"):
        """Create the blob of ``digest`` once; the same content already there is success."""
        key = self.blob_key(digest)
        checksum = content_md5(data)
        try:
            stored_md5 = self.upload_blob(key, data, {}, content_type=media_type).get("content_md5")
        except AlreadyExists:
            # Put before, or an answer was lost and the upload sent again.
            existing = self.get_blob_properties(key)
            stored_md5 = existing.content_settings.content_md5
            if bytes(stored_md5 or b"") != checksum or existing.size != len(data):
                where = self._where(key)
                raise PhoenixError(
                    "%s exists already and holds other content than sha256 %s: it was not overwritten"
                    % (where, digest),
                    resource=where,
                    code="BlobMismatch",
                    cloud="azure",
                    hint="Blobs under %ssha256/ are named by the sha256 of their content; this one was altered. "
                    "Delete it (it is no longer what its name says) and run again." % self.prefix,
                ) from None
        except AzureApiError as error:
            raise self._container_refusal(error, key) from None
        if bytes(stored_md5 or b"") != checksum:
            raise PhoenixError(
                "Blob Storage stored %s with MD5 %s, not the %s of the content sent"
                % (self._where(key), _b64(stored_md5), _b64(checksum)),
                resource=self._where(key),
                code="ChecksumMismatch",
                cloud="azure",
                hint="Something between this host and Blob Storage changed the upload; check the container URL and "
                "any proxy.",
            )
        return self.url_of(digest)

    def get_blob(self, digest):
        try:
            return self.download_blob(self.blob_key(digest))
        except NotFound:
            return None

    # -- checks ----------------------------------------------------------------------------------

    def _check_request(self):
        if self.lock_mode is not None and self.lock_mode not in LOCK_MODES:
            raise InvalidInput(
                "lock mode %r is not one of %s" % (self.lock_mode, ", ".join(LOCK_MODES)),
                resource=self._where(),
                hint="COMPLIANCE sets a Locked immutability policy on each audit blob, GOVERNANCE an Unlocked one.",
            )
        if self.retention_days is not None and (
            isinstance(self.retention_days, bool) or not isinstance(self.retention_days, int) or self.retention_days < 1
        ):
            raise InvalidInput(
                "retention days must be a whole number of days of at least 1, not %r" % (self.retention_days,),
                resource=self._where(),
            )

    def _check_retention(self, protection):
        """Refuse, before writing, a retention the container cannot give each audit blob."""
        if not self.retention_days or protection["version_level_immutability"]:
            return
        where = self._where()
        if protection["container_policy"]:
            message = (
                "%s has a container-level retention policy, whose period and lock only Azure Resource Manager shows, "
                "so a retention of %d days cannot be checked against it" % (where, self.retention_days)
            )
            code = "RetentionNotVerifiable"
        else:
            message = "%s has no version-level immutability, so its audit blobs cannot be kept for %d days" % (
                where,
                self.retention_days,
            )
            code = "ImmutabilityMissing"
        raise PhoenixError(
            message,
            resource=where,
            code=code,
            cloud="azure",
            hint="Enable version-level immutability on the container (az storage container-rm create or update "
            "--enable-vlw, on an account with blob versioning), so that each audit blob carries its own policy, or "
            "do not ask for a retention.",
            details=protection,
        )

    def _own_blob(self, key, run, head, checksum):
        """The blob already at ``key`` when it is this run's own upload; a PhoenixError when it is not."""
        existing = self.get_blob_properties(key)
        metadata = existing.metadata or {}
        stored_md5 = bytes(existing.content_settings.content_md5 or b"")
        if metadata.get(RUN_KEY) == run and metadata.get(HEAD_KEY) == head and stored_md5 == checksum:
            return existing
        where = self._where(key)
        raise PhoenixError(
            "%s exists already and holds other lines than this run's (run %s, version %s): it was not overwritten"
            % (where, metadata.get(RUN_KEY) or "unknown", existing.version_id or existing.etag),
            resource=where,
            code="AuditObjectExists",
            cloud="azure",
            hint="Audit blobs are written once. Check who else writes under the prefix %r; this run's lines are in "
            "the local audit log." % self.prefix,
        )

    def _container_refusal(self, error, key=None):
        where = self._where()
        if error.status == 404:
            return PhoenixError(
                "blob container %s does not exist, or the credentials in use may not see it" % where,
                resource=where,
                code=error.code,
                cloud="azure",
                hint="Create the container (az storage container create --account-name A --name C --auth-mode "
                "login; with version-level immutability for audit records) or name an existing one.",
            )
        if error.status == 403:
            return PhoenixError(
                "the credentials in use may not %s %s: %s"
                % ("create blobs in" if key else "read the properties of", where, error),
                resource=self._where(key) if key else where,
                code=error.code,
                cloud="azure",
                hint=ROLE_HINT,
            )
        return error
