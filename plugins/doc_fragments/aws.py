# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Pairs with AwsProvider.options in plugins/module_utils/providers.py (argspec.AWS_CONNECTION). O(region) and
    # O(endpoint_url) are in phoenix.immutable.cloud, shared with the other clouds.
    DOCUMENTATION = r"""
options:
  access_key:
    description:
      - AWS access key id.
      - Falls back to E(AWS_ACCESS_KEY_ID), then E(AWS_ACCESS_KEY) (which an AWX AWS credential sets).
      - When neither keys nor O(profile) are given, boto3's own chain applies (instance role, SSO, config files).
    type: str
  secret_key:
    description:
      - AWS secret access key. Never logged.
      - Falls back to E(AWS_SECRET_ACCESS_KEY), then E(AWS_SECRET_KEY).
    type: str
  session_token:
    description:
      - AWS session token for temporary credentials. Never logged.
      - Falls back to E(AWS_SESSION_TOKEN), then E(AWS_SECURITY_TOKEN) (which an AWX AWS credential sets).
    type: str
  profile:
    description:
      - A named profile from the AWS config files. Mutually exclusive with O(access_key) and O(secret_key).
      - Falls back to E(AWS_PROFILE).
    type: str
  connect_timeout:
    description:
      - Seconds to wait for a connection to the AWS endpoint (or O(endpoint_url)) before the attempt counts
        as failed and is retried.
    type: int
    default: 60
  read_timeout:
    description:
      - Seconds to wait for an answer on an open connection before the attempt counts as failed and is
        retried.
      - Reads are paged (at most 1,000 instances or images a page), so the default suits large fleets;
        raise it for a slow proxy or a congested link.
    type: int
    default: 60
requirements:
  - boto3 >= 1.34.0
notes:
  - Set these once for every module of the collection with
    C(module_defaults) and the C(group/phoenix.immutable.aws) action group.
"""
