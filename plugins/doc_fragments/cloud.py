# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Pairs with CLOUD in plugins/module_utils/argspec.py.
    DOCUMENTATION = r"""
options:
  cloud:
    description:
      - The cloud the resource lives in.
      - Each cloud takes its own connection options besides O(region) and O(endpoint_url); see the
        options of that cloud.
    type: str
    default: aws
    choices: [aws, gcp, azure]
  region:
    description:
      - The region to work in.
      - On V(aws), falls back to the E(AWS_REGION) then E(AWS_DEFAULT_REGION) environment variables, then to
        the region of O(profile).
      - On V(gcp), falls back to E(GCP_REGION), then to the region of C(zone).
      - On V(azure), the location; C(location) is its Azure name and wins when both are given.
    type: str
  endpoint_url:
    description:
      - Send API calls to this URL instead of the cloud's public endpoint, for example a private endpoint or a
        local emulator.
      - On V(aws), the endpoint of every AWS service; falls back to E(AWS_ENDPOINT_URL).
      - On V(gcp), the Compute Engine API base URL (V(https://compute.googleapis.com/compute/v1/) by default);
        falls back to E(GCP_ENDPOINT_URL). Cloud KMS and Cloud Storage have C(kms_endpoint_url) and
        C(storage_endpoint_url).
      - On V(azure), Azure Resource Manager's URL; C(resource_manager_url) is its Azure name and wins when both
        are given.
    type: str
"""
