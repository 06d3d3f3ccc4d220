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
    "audit_store",
    "canonical",
    "change_record",
    "main",
    "read_records",
    "record_hash",
    "redact",
    "resources_of",
    "seal",
    "summary_rows",
    "verify",
    "verify_lines",
]


def audit_store(params, container, prefix="phoenix-audit/", lock_mode=None, retention_days=None):
    """The destination of each run's lines: ``container`` on the cloud of ``params`` (its provider's options).

    The provider map is imported only when asked for: the cloud's adapter needs its SDK (and Ansible), which
    ``python -m ... audit verify`` does without.
    """
    from .providers import provider

    return provider(params).audit_store(container, prefix=prefix, lock_mode=lock_mode, retention_days=retention_days)


if __name__ == "__main__":
    raise SystemExit(main())
