#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: image_verify
short_description: Check golden images' signatures against a trust policy; fail closed
version_added: 0.1.0
description:
  - Verifies that each image in O(image_id) satisfies the trust policy O(policy), from the image itself
    (its signature tags, see M(phoenix.immutable.image_sign)) and the trusted public keys; no other
    server or bucket is needed.
  - The image's descriptor is recomputed from the live image and must match the digest that was signed,
    so signature tags copied onto another image, or an image registered again from the same snapshots,
    do not verify. Tags and description are not signed and may change freely.
  - Fails the task unless every image is verified, naming the precise reason for each one that is not,
    V(image not found), V(owner not allowed), V(revoked), V(expired), V(no signature), V(unknown key),
    V(bad signature), V(descriptor mismatch), V(missing claim <name>), V(failed claim <name>) or
    V(below threshold); with O(fail_on_unverified=false) it reports instead.
author:
  - Phoenix maintainers (@phoenix-immutable)
options:
  image_id:
    description:
      - The image, or a list of images, to verify.
    type: list
    elements: str
    required: true
  fail_on_unverified:
    description:
      - Fail the task when an image is not verified (fail closed).
      - V(false) returns the verdicts, RV(verified) false, for reporting.
    type: bool
    default: true
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
    description: Reads only; runs the same in check mode.
  diff_mode:
    support: none
    description: Reads only; there is nothing to diff.
notes:
  - O(policy) is required. An empty one (V({}), V("")) or one without C(keys) fails the task, as everywhere a
    policy is read.
  - A policy that trusts KMS keys fetches their public keys (and state) from KMS; a disabled key's
    signatures count as revoked.
requirements:
  - cryptography >= 41.0.0
"""

EXAMPLES = r"""
- name: Refuse to deploy anything but an approved image
  phoenix.immutable.image_verify:
    image_id: "{{ golden.image.id }}"
    policy: "{{ playbook_dir }}/trust-policy.yml"

- name: Report on the images of the fleet without failing
  phoenix.immutable.image_verify:
    image_id: "{{ fleet_images }}"
    policy:
      keys:
        - name: build
          public_key: /etc/phoenix/keys/build.pub
        - name: security
          kms_key: alias/security-approver
      threshold: 2
      required_claims:
        tests: passed
        scan: passed
      max_age_days: 90
    fail_on_unverified: false
  register: report
"""

RETURN = r"""
verified:
  description: Whether every image satisfies the policy.
  returned: always
  type: bool
reason:
  description: The reason the first unverified image fails, null when all are verified.
  returned: always
  type: str
  sample: descriptor mismatch
statement:
  description: The in-toto statement of the first image's counted signature (null when it has none).
  returned: always
  type: dict
signatures:
  description: Per-signature results of the first image (see RV(results) for each image's).
  returned: always
  type: list
  elements: dict
  sample:
    - {keyid: 3c1b5e0f9a7d..., key: build, valid: true, reason: null, detail: "", statement_digest: 5d1e...}
results:
  description: One verdict per image.
  returned: always
  type: list
  elements: dict
  contains:
    image_id: {description: The image., type: str}
    region: {description: Its region., type: str}
    verified: {description: Whether it satisfies the policy., type: bool}
    reason: {description: "Why not, or null.", type: str}
    message: {description: The verdict in one sentence., type: str}
    descriptor_digest: {description: sha256 of the live image's descriptor., type: str}
    statement: {description: The statement of a counted signature., type: dict}
    signatures: {description: "Per signature: keyid, key (its name in the policy), valid, reason, detail.", type: list}
    threshold: {description: Signatures required., type: int}
    valid_keys: {description: Keyids of the valid signatures., type: list}
api_calls:
  description: Cloud API calls this task made, by service and operation.
  returned: always
  type: dict
  sample: {"ec2:DescribeImages": 1}
"""

from ansible_collections.phoenix.immutable.plugins.module_utils.argspec import (
    ATTESTATION_STORE,
    CONNECTION,
    POLICY,
    build,
)
from ansible_collections.phoenix.immutable.plugins.module_utils.attest import attestation_store
from ansible_collections.phoenix.immutable.plugins.module_utils.modules import PhoenixModule
from ansible_collections.phoenix.immutable.plugins.module_utils.providers import image_backend
from ansible_collections.phoenix.immutable.plugins.module_utils.trust import (
    PhoenixError,
    load_policy,
    verify_image,
)

ARGUMENT_SPEC = build(
    CONNECTION,
    ATTESTATION_STORE,
    POLICY,
    image_id=dict(type="list", elements="str", required=True),
    fail_on_unverified=dict(type="bool", default=True),
)


def verify(module):
    params = module.params
    if not params["image_id"]:
        raise PhoenixError("image_verify needs at least one image_id", code="InvalidInput")
    policy = load_policy(params["policy"])  # None, "" and {} are refused: a policy trusts at least one key
    backend = image_backend(params)
    store = attestation_store(params)
    verdicts = [verify_image(backend, image_id, policy, store=store) for image_id in params["image_id"]]
    results = [verdict.to_dict() for verdict in verdicts]
    failing = [verdict for verdict in verdicts if not verdict.verified]
    result = dict(
        changed=False,
        verified=not failing,
        reason=failing[0].reason if failing else None,
        statement=results[0]["statement"] if results else None,
        signatures=results[0]["signatures"] if results else [],
        results=results,
        api_calls=backend.api_calls(),
    )
    if failing and params["fail_on_unverified"]:
        raise PhoenixError(
            "; ".join(verdict.message for verdict in failing),
            resource=", ".join(verdict.image_id for verdict in failing),
            code="ImageNotVerified",
            hint="Refusing (fail closed). Sign the image with a trusted key, or fix the policy.",
            details=result,
        )
    return result


def main():
    PhoenixModule(ARGUMENT_SPEC, supports_check_mode=True).run(verify)


if __name__ == "__main__":
    main()
