# Private to this collection.
"""The environment variables each GCP connection option falls back to, importing nothing.

The provider's argument spec (``providers.GcpProvider.options``) and ``connection.resolve_options`` both read
this one table; it lives apart from ``connection.py`` so that building the argument spec of every module
does not import google-auth and requests for a user of another cloud.
"""

from __future__ import annotations

# First found wins: what AWX's Google Compute Engine credential injects (GCE_*, GCP_*) and what google.cloud's
# users already set (GCP_*). ``endpoint_url`` is the Compute API base URL (``.../compute/v1/``).
ENV_FALLBACKS = {
    "project": ("GCP_PROJECT", "GCE_PROJECT"),
    "auth_kind": ("GCP_AUTH_KIND",),
    "service_account_file": ("GCP_SERVICE_ACCOUNT_FILE", "GCE_CREDENTIALS_FILE_PATH"),
    "service_account_contents": ("GCP_SERVICE_ACCOUNT_CONTENTS",),
    "access_token": ("GCP_ACCESS_TOKEN",),
    "scopes": ("GCP_SCOPES",),
    "endpoint_url": ("GCP_ENDPOINT_URL",),
    "token_uri": ("GCP_TOKEN_URI",),
    "zone": ("GCP_ZONE",),
    "region": ("GCP_REGION",),
    "kms_endpoint_url": ("GCP_KMS_ENDPOINT_URL",),
    "storage_endpoint_url": ("GCP_STORAGE_ENDPOINT_URL",),
}
