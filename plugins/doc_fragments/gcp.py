# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Pairs with GcpProvider.options in plugins/module_utils/providers.py (argspec.GCP_CONNECTION); each
    # option's environment variables are the table in plugins/module_utils/_gcp/environment.py. O(region) and
    # O(endpoint_url) are in phoenix.immutable.cloud, shared with the other clouds.
    DOCUMENTATION = r"""
options:
  project:
    description:
      - The GCP project the resources live in (with O(cloud=gcp)).
      - Falls back to E(GCP_PROJECT), then E(GCE_PROJECT) (which an AWX Google Compute Engine credential sets),
        then to the project of the service-account key or of the application default credentials.
    type: str
  auth_kind:
    description:
      - How to authenticate to GCP. V(serviceaccount) uses a service-account key (O(service_account_file) or
        O(service_account_contents)), V(application) the application default credentials, V(accesstoken) a
        bare O(access_token).
      - Falls back to E(GCP_AUTH_KIND). Without either, a key given means V(serviceaccount), a token
        V(accesstoken), and nothing V(application).
    type: str
    choices: [serviceaccount, application, accesstoken]
  service_account_file:
    description:
      - Path of a service-account JSON key file.
      - Falls back to E(GCP_SERVICE_ACCOUNT_FILE), then E(GCE_CREDENTIALS_FILE_PATH) (which an AWX Google
        Compute Engine credential sets).
    type: path
  service_account_contents:
    description:
      - The service-account JSON key itself, as a string or a mapping. Never logged.
      - Falls back to E(GCP_SERVICE_ACCOUNT_CONTENTS).
    type: jsonarg
  access_token:
    description:
      - An OAuth 2.0 access token, for O(auth_kind=accesstoken). It is not refreshed. Never logged.
      - Falls back to E(GCP_ACCESS_TOKEN).
    type: str
  scopes:
    description:
      - OAuth scopes to ask for; the default is V(https://www.googleapis.com/auth/cloud-platform).
      - Falls back to E(GCP_SCOPES), a comma-separated list.
    type: list
    elements: str
  token_uri:
    description:
      - The OAuth 2.0 token endpoint the service-account grant is sent to, overriding the C(token_uri) of the
        key file (AWX writes Google's there), for a private endpoint or a local emulator.
      - Falls back to E(GCP_TOKEN_URI).
    type: str
  zone:
    description:
      - The zone of zonal resources (builders and their disks) when an id does not name one.
      - Falls back to E(GCP_ZONE).
    type: str
  kms_endpoint_url:
    description:
      - The Cloud KMS v1 API base URL, instead of V(https://cloudkms.googleapis.com/v1/).
      - Falls back to E(GCP_KMS_ENDPOINT_URL).
    type: str
  storage_endpoint_url:
    description:
      - The Cloud Storage base URL, instead of V(https://storage.googleapis.com/).
      - Falls back to E(GCP_STORAGE_ENDPOINT_URL).
    type: str
requirements:
  - google-auth >= 2.22.0
  - requests >= 2.31.0
notes:
  - Set these once for every module of the collection with
    C(module_defaults) and the C(group/phoenix.immutable.gcp) action group.
  - See C(docs/gcp.md) for the image ids, label limits and what works on GCP so far.
"""
