# Private to this collection.
"""The environment variables each Azure connection option falls back to, importing nothing.

The provider's argument spec (``providers.AzureProvider.options``) and ``connection.resolve_options`` both read
this one table, so building the argument spec of every module imports no Azure SDK.
"""

from __future__ import annotations

# First found wins. AWX's Azure Resource Manager credential injects AZURE_SUBSCRIPTION_ID, AZURE_CLIENT_ID,
# AZURE_SECRET, AZURE_TENANT and AZURE_CLOUD_ENVIRONMENT (azure.azcollection's names). azure-identity's own
# names (AZURE_CLIENT_SECRET, AZURE_TENANT_ID) are left to its default chain, which reads them itself.
ENV_FALLBACKS = {
    "subscription_id": ("AZURE_SUBSCRIPTION_ID",),
    "tenant": ("AZURE_TENANT",),
    "client_id": ("AZURE_CLIENT_ID",),
    "secret": ("AZURE_SECRET",),
    "cloud_environment": ("AZURE_CLOUD_ENVIRONMENT",),
    "resource_group": ("AZURE_RESOURCE_GROUP",),
    "location": ("AZURE_LOCATION",),
    "resource_manager_url": ("AZURE_RESOURCE_MANAGER_URL",),
    "authority_host": ("AZURE_AUTHORITY_HOST",),
    "ca_bundle": ("AZURE_CA_BUNDLE",),
    "gallery": ("AZURE_GALLERY",),
    "key_vault_url": ("AZURE_KEY_VAULT_URL",),
    "polling_interval": ("AZURE_POLLING_INTERVAL",),
}
