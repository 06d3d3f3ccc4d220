"""The label codec of the contract tests: the tightest rules of the three clouds at once, which are GCP's.

Keys and values use only ``[a-z0-9_-]``, at most 63 characters each, at most 64 labels a resource, a key
starts with a letter, and labels are too small to carry a signed statement (``stores_statement`` false).
``_gcp/codec.py`` is that codec; the contract tests run the core on it and on the AWS codec.
"""

from __future__ import annotations

from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.codec import (
    GCP_LABEL_LIMITS,
    LEGAL_KEY,
    LEGAL_VALUE,
    GcpLabelCodec,
)

STRICT_LIMITS = GCP_LABEL_LIMITS
STRICT_CODEC = GcpLabelCodec()

__all__ = ["LEGAL_KEY", "LEGAL_VALUE", "STRICT_CODEC", "STRICT_LIMITS"]
