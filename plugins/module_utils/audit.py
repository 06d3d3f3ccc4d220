# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Public face of the audit trail for the callback plugin, the audit_verify module and the command line.

Without Ansible, with the directory holding ``ansible_collections/`` on PYTHONPATH::

    python -m ansible_collections.phoenix.immutable.plugins.module_utils.audit verify audit.jsonl
    python -m ansible_collections.phoenix.immutable.plugins.module_utils.audit show audit.jsonl
"""

from __future__ import annotations

from ._core.audit import (
    FORMAT_VERSION,
    GENESIS,
    AuditError,
    VerifyResult,
    append,
    canonical,
    main,
    read_records,
    record_hash,
    seal,
    summary_rows,
    verify,
    verify_lines,
)
from ._core.audit_records import change_record, redact, resources_of

__all__ = [
    "FORMAT_VERSION",
    "GENESIS",
    "AuditError",
    "VerifyResult",
    "append",
    "canonical",
    "change_record",
    "main",
    "read_records",
    "record_hash",
    "redact",
    "resources_of",
    "s3_audit_store",
    "seal",
    "summary_rows",
    "verify",
    "verify_lines",
]


def s3_audit_store(bucket, **options):
    """The S3 destination (``_aws/audit_store.py``), imported only when asked for: it needs boto3."""
    from ._aws.audit_store import s3_audit_store as build_store

    return build_store(bucket, **options)


if __name__ == "__main__":
    raise SystemExit(main())
