#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: image_channel
short_description: Promote a golden image to a channel (dev, staging, prod) with a signed statement
version_added: 0.1.0
description:
  - Promotes O(image_id) to O(channel) by adding a signed promotion statement to the image itself; the
    P(phoenix.immutable.golden_image#lookup) lookup then returns the newest image of the family whose
    promotion to the channel verifies.
  - The image must first satisfy the trust policy O(policy) (see M(phoenix.immutable.image_verify)); the
    task fails, changing nothing, when it does not.
  - The promotion is an in-toto Statement v1 (predicate type C(urn:phoenix-immutable:promotion:v1)
    naming the channel and the image's family) about the image's descriptor, signed as a DSSE envelope
    with O(key) or O(kms_key), which must be one of the policy's C(promoters). It is stored in the
    image's tags C(phoenix:promo:<channel>:<keyid prefix>:<n>).
  - Promoting again with the same key changes nothing. O(state=absent) withdraws the image from the
    channel by removing that channel's promotion tags; it needs no key.
  - The format is in the collection's C(docs/lifecycle.md).
author:
  - Phoenix maintainers (@phoenix-immutable)
options:
  image_id:
    description:
      - The image to promote or withdraw.
    type: str
    required: true
  channel:
    description:
      - The channel, 1 to 32 lower-case letters, digits, V(-) or V(_), for example V(prod).
    type: str
    required: true
  state:
    description:
      - V(present) promotes the image to the channel; V(absent) withdraws it.
    type: str
    choices: [present, absent]
    default: present
  key:
    description:
      - Path of the promoter's PEM private key (Ed25519 or ECDSA P-256) on the host that runs the module.
      - With O(state=present), exactly one of O(key) and O(kms_key) is required.
    type: path
  key_passphrase:
    description:
      - Passphrase of an encrypted O(key). Never logged.
    type: str
  kms_key:
    description:
      - A cloud KMS key of the promoter (on AWS a key id, ARN or alias of an C(ECC_NIST_P256) signing key).
    type: str
extends_documentation_fragment:
  - phoenix.immutable.cloud
  - phoenix.immutable.aws
  - phoenix.immutable.gcp
  - phoenix.immutable.azure
  - phoenix.immutable.attestation_store
  - phoenix.immutable.policy
attributes:
  check_mode:
    support: full
    description: Checks the image against the policy and returns the plan; changes nothing.
  diff_mode:
    support: full
    description: Shows the channels the image is promoted to before and after.
notes:
  - On O(cloud=gcp) a promotion is stored detached, as signatures are, with only its signature in the image's labels
    (about 6), the statement rebuilt from the image when it is checked, so labels copied to another image do
    not promote it. The family is the image's name without its version suffix, as on AWS (not the GCE image
    C(family) field).
  - O(policy) is required with O(state=present) and must list C(promoters).
requirements:
  - cryptography >= 41.0.0
"""

EXAMPLES = r"""
- name: Promote the verified image to prod
  phoenix.immutable.image_channel:
    image_id: "{{ golden.image.id }}"
    channel: prod
    policy: "{{ playbook_dir }}/trust-policy.yml"
    key: /etc/phoenix/keys/release-manager.pem

- name: Withdraw a bad image from prod
  phoenix.immutable.image_channel:
    image_id: ami-0a1b2c3d4e5f67890
    channel: prod
    state: absent
"""

RETURN = r"""
image_id:
  description: The image.
  returned: always
  type: str
channel:
  description: The channel.
  returned: always
  type: str
promoted:
  description: Whether the image is promoted to the channel now.
  returned: always
  type: bool
promoter:
  description: The name, in the policy, of the promoter whose signature promotes it; null after a withdrawal.
  returned: always
  type: str
channels:
  description: Every channel the image carries a promotion to, after the task.
  returned: always
  type: list
  elements: str
  sample: [staging, prod]
statement:
  description: The signed promotion statement; null after a withdrawal.
  returned: always
  type: dict
verification:
  description:
    - The image's verdict under the trust policy (as M(phoenix.immutable.image_verify) returns it); null after a
      withdrawal.
  returned: always
  type: dict
actions:
  description: What the task did, or would do in check mode.
  returned: always
  type: list
  elements: dict
api_calls:
  description: Cloud API calls this task made, by service and operation.
  returned: always
  type: dict
  sample: {"ec2:DescribeImages": 1, "ec2:CreateTags": 1}
"""

from ansible_collections.phoenix.immutable.plugins.module_utils.argspec import (
    ATTESTATION_STORE,
    CONNECTION,
    POLICY,
    build,
)
from ansible_collections.phoenix.immutable.plugins.module_utils.attest import attestation_store
from ansible_collections.phoenix.immutable.plugins.module_utils.channels import (
    InvalidInput,
    promote,
    trusted_policy,
    withdraw,
)
from ansible_collections.phoenix.immutable.plugins.module_utils.modules import PhoenixModule
from ansible_collections.phoenix.immutable.plugins.module_utils.providers import image_backend, signing_key_backend_for
from ansible_collections.phoenix.immutable.plugins.module_utils.trust import local_signer

ARGUMENT_SPEC = build(
    CONNECTION,
    POLICY,
    ATTESTATION_STORE,
    image_id=dict(type="str", required=True),
    channel=dict(type="str", required=True),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    key=dict(type="path", no_log=False),
    key_passphrase=dict(type="str", no_log=True),
    kms_key=dict(type="str", no_log=False),
)


def converge(module):
    params = module.params
    images = image_backend(params)
    if params["state"] == "absent":
        outcome = withdraw(images, params["image_id"], params["channel"], check_mode=module.check_mode)
    else:
        if not params["key"] and not params["kms_key"]:
            raise InvalidInput(
                "promoting %s to %s needs the promoter's key" % (params["image_id"], params["channel"]),
                resource=params["image_id"],
                hint="Give key (a PEM private key) or kms_key, one of the policy's promoters.",
            )
        policy = trusted_policy(params["policy"], images)
        if params["key"]:
            signer = local_signer(params["key"], params["key_passphrase"])
        else:
            signer = signing_key_backend_for(images).signer(params["kms_key"])
        outcome = promote(
            images,
            params["image_id"],
            params["channel"],
            signer,
            policy,
            check_mode=module.check_mode,
            store=attestation_store(params),
        )
    result = outcome.to_dict()
    if outcome.changed:
        result["diff"] = dict(before=outcome.before, after=outcome.after)
    result["api_calls"] = images.api_calls()
    return result


def main():
    PhoenixModule(ARGUMENT_SPEC, supports_check_mode=True, mutually_exclusive=[("key", "kms_key")]).run(converge)


if __name__ == "__main__":
    main()
