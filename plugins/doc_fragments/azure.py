# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Pairs with AzureProvider.options in plugins/module_utils/providers.py (argspec.AZURE_CONNECTION); each
    # option's environment variables are the table in plugins/module_utils/_azure/environment.py. O(region) and
    # O(endpoint_url) are in phoenix.immutable.cloud, shared with the other clouds.
    DOCUMENTATION = r"""
options:
  subscription_id:
    description:
      - The Azure subscription the resources live in (with O(cloud=azure)).
      - Falls back to E(AZURE_SUBSCRIPTION_ID), which an AWX Azure Resource Manager credential sets.
    type: str
  tenant:
    description:
      - The Entra ID tenant of the service principal O(client_id).
      - Falls back to E(AZURE_TENANT).
      - Without O(tenant), O(client_id) and O(secret), azure-identity's default chain is used (environment,
        workload identity, managed identity, Azure CLI).
    type: str
  client_id:
    description:
      - The application (client) id of a service principal.
      - Falls back to E(AZURE_CLIENT_ID).
    type: str
  secret:
    description:
      - The service principal's client secret. Never logged.
      - Falls back to E(AZURE_SECRET).
    type: str
  cloud_environment:
    description:
      - Which Azure cloud to talk to; it chooses the default O(resource_manager_url), O(authority_host) and the
        audience of the tokens.
      - Falls back to E(AZURE_CLOUD_ENVIRONMENT); V(AzureCloud) when unset.
    type: str
    choices: [AzureCloud, AzureChinaCloud, AzureUSGovernment]
  resource_group:
    description:
      - The resource group the workflow's resources are made in and looked for in (builders, the Compute
        Gallery, scale sets, load balancers).
      - Falls back to E(AZURE_RESOURCE_GROUP).
    type: str
  location:
    description:
      - The Azure location (region) to work in, for example V(westeurope). O(region) means the same.
      - Falls back to E(AZURE_LOCATION).
    type: str
  resource_manager_url:
    description:
      - Azure Resource Manager's URL instead of the one of O(cloud_environment), for a private cloud or a local
        emulator. O(endpoint_url) means the same.
      - Falls back to E(AZURE_RESOURCE_MANAGER_URL).
    type: str
  authority_host:
    description:
      - The Entra ID authority host tokens are asked from, instead of the one of O(cloud_environment). When it
        is given, azure-identity's instance discovery (a call to C(login.microsoftonline.com)) is switched off.
      - Falls back to E(AZURE_AUTHORITY_HOST).
    type: str
  ca_bundle:
    description:
      - A PEM file of the CA certificates to trust for every Azure call, instead of the system's; for a
        TLS-inspecting proxy, a private cloud or a local emulator. Verification is never switched off.
      - Falls back to E(AZURE_CA_BUNDLE).
    type: path
  gallery:
    description:
      - The Azure Compute Gallery (in O(resource_group)) that golden image versions are made in and read from.
      - Falls back to E(AZURE_GALLERY).
    type: str
  key_vault_url:
    description:
      - The Key Vault (V(https://NAME.vault.azure.net/)) that signing keys named by name alone live in.
      - Falls back to E(AZURE_KEY_VAULT_URL).
    type: str
  polling_interval:
    description:
      - Seconds between two polls of a long-running operation when Azure's answer says nothing
        (no C(Retry-After) header, or a zero one); 5 when unset. Azure's own pace wins when it gives one.
      - Falls back to E(AZURE_POLLING_INTERVAL).
    type: float
requirements:
  - azure-identity >= 1.19.0
  - azure-mgmt-compute >= 33.0.0
  - azure-mgmt-network >= 28.0.0
  - azure-keyvault-keys >= 4.9.0 (signing with Key Vault keys)
  - azure-storage-blob >= 12.23.0 (the audit_log callback's blob container)
notes:
  - Set these once for every module of the collection with
    C(module_defaults) and the C(group/phoenix.immutable.azure) action group.
  - See C(docs/azure.md) for the image ids, tag limits and how a canary shares traffic on Azure.
"""
