#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: image_sign
short_description: Sign a golden image with a local key or a cloud KMS key
version_added: 0.1.0
description:
  - Signs what an image immutably is, so that a deploy can later refuse anything else
    (see M(phoenix.immutable.image_verify)).
  - Reads the image's descriptor from the cloud (cloud, owning account, region, image id, name, creation
    time, architecture and the snapshots it is made of; never tags or description), makes an in-toto
    Statement v1 about it whose subject digest is the descriptor's sha256, with a SLSA provenance v1
    predicate carrying O(claims), and signs it as a DSSE envelope.
  - The envelope is stored in the image's own tags (on AWS, compressed and chunked across tags named
    C(phoenix:sig:<keyid prefix>:<n>), within the limits of 50 tags and 256 characters a value), so the
    image and the trusted public keys are all a verifier needs. The task fails before writing when the
    image would end up with more tags than the cloud allows.
  - One signature per key; signatures by other keys are kept. Signing again with the same key and the
    same claims changes nothing; other claims replace that key's signature.
  - The keyid is the sha256 (hex) of the DER SubjectPublicKeyInfo of the public key.
  - The format of the descriptor, statement, envelope and tags is in the collection's C(docs/signing.md).
author:
  - Phoenix maintainers (@phoenix-immutable)
options:
  image_id:
    description:
      - The image to sign. It must be available.
    type: str
    required: true
  claims:
    description:
      - Build facts to sign along with the image, kept in the statement's SLSA predicate under
        C(buildDefinition.internalParameters.claims), where a trust policy's C(required_claims) look for them.
      - V(base_image) (default the image's source image), V(git_revision) and V(git_repository) are also
        recorded as resolved dependencies, and V(builder) as the builder id.
      - Values must be JSON values (no floating-point NaN or infinity).
    type: dict
    default: {}
  bundle_path:
    description:
      - Also write the DSSE envelope, as JSON, to this file on the host that runs the module, for offline
        audit. Any DSSE implementation can verify it with the signer's public key.
      - The file is rewritten only when its content would change.
    type: path
extends_documentation_fragment:
  - phoenix.immutable.signing_key
  - phoenix.immutable.cloud
  - phoenix.immutable.aws
  - phoenix.immutable.gcp
  - phoenix.immutable.azure
attributes:
  check_mode:
    support: full
    description: Reports whether the image would be signed, and refuses what would not fit in its tags, without signing.
  diff_mode:
    support: full
    description: Shows the keyids that have signed the image before and after.
notes:
  - The signing time is not part of the statement (so that signing is idempotent); a policy's
    C(max_age_days) counts from the image's creation time, which is signed.
requirements:
  - cryptography >= 41.0.0
"""

EXAMPLES = r"""
- name: Sign the golden image with the build key, recording test and scan results
  phoenix.immutable.image_sign:
    image_id: "{{ golden.image.id }}"
    key: /etc/phoenix/keys/build.pem
    key_passphrase: "{{ build_key_passphrase }}"
    claims:
      tests: passed
      scan: passed
      git_revision: "{{ lookup('ansible.builtin.pipe', 'git rev-parse HEAD') }}"
    bundle_path: "{{ playbook_dir }}/bundles/{{ golden.image.id }}.dsse.json"
  register: signed

- name: Approve it with the security team's KMS key
  phoenix.immutable.image_sign:
    image_id: "{{ golden.image.id }}"
    kms_key: alias/security-approver
    claims:
      tests: passed
      scan: passed
      approved_by: security
"""

RETURN = r"""
image_id:
  description: The image signed.
  returned: always
  type: str
  sample: ami-0a1b2c3d4e5f67890
region:
  description: Its region.
  returned: always
  type: str
  sample: us-east-1
keyid:
  description: The signing key's id, sha256 (hex) of its DER SubjectPublicKeyInfo.
  returned: always
  type: str
  sample: 3c1b5e0f9a7d4c2b8e6f1a0d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b
statement:
  description: The in-toto Statement v1 that is signed.
  returned: always
  type: dict
  sample:
    _type: https://in-toto.io/Statement/v1
    subject: [{name: "aws:us-east-1:ami-0a1b2c3d4e5f67890", digest: {sha256: 9f2c...}}]
    predicateType: https://slsa.dev/provenance/v1
statement_digest:
  description: sha256 (hex) of the statement's canonical JSON, the DSSE payload.
  returned: always
  type: str
descriptor:
  description: The image descriptor (canonical JSON of it is what RV(descriptor_digest) hashes).
  returned: always
  type: dict
descriptor_digest:
  description: sha256 (hex) of the image descriptor; the statement's subject digest.
  returned: always
  type: str
envelope:
  description: The DSSE envelope stored in the image's tags. Absent in check mode when the image would be signed.
  returned: when signed or already signed
  type: dict
  sample:
    payloadType: application/vnd.in-toto+json
    payload: eyJfdHlwZSI6...
    signatures: [{keyid: 3c1b..., sig: MEUCIQ...}]
tags_set:
  description: Signature tags written (or that would be written).
  returned: always
  type: list
  elements: str
  sample: ["phoenix:sig:3c1b5e0f9a7d4c2b:0", "phoenix:sig:3c1b5e0f9a7d4c2b:1"]
tags_removed:
  description: Signature tags of the same key removed because the new envelope needs fewer.
  returned: always
  type: list
  elements: str
actions:
  description:
    - What the task did (in check mode, would do); empty when the image already carries this signature.
    - One V(sign_image) action naming the image, its region, the key and the signature tags it wrote and removed.
  returned: always
  type: list
  elements: dict
  sample:
    - {action: sign_image, image_id: ami-0a1b2c3d4e5f67890, region: us-east-1, keyid: 3c1b5e0f9a7d...,
       tags_set: ["phoenix:sig:3c1b5e0f9a7d4c2b:0"], tags_removed: []}
bundle_path:
  description: Where the envelope was written, when O(bundle_path) was given.
  returned: when O(bundle_path) is given
  type: str
api_calls:
  description: Cloud API calls this task made, by service and operation.
  returned: always
  type: dict
  sample: {"ec2:DescribeImages": 1, "ec2:CreateTags": 1}
"""

from ansible_collections.phoenix.immutable.plugins.module_utils.argspec import CONNECTION, SIGNING_KEY, build
from ansible_collections.phoenix.immutable.plugins.module_utils.modules import PhoenixModule
from ansible_collections.phoenix.immutable.plugins.module_utils.providers import image_backend, signing_key_backend_for
from ansible_collections.phoenix.immutable.plugins.module_utils.trust import local_signer, sign_image, write_bundle

ARGUMENT_SPEC = build(
    CONNECTION,
    SIGNING_KEY,
    image_id=dict(type="str", required=True),
    claims=dict(type="dict", default={}),
    bundle_path=dict(type="path"),
)


def sign(module):
    params = module.params
    backend = image_backend(params)
    if params["key"]:
        signer = local_signer(params["key"], params["key_passphrase"] or None)
    else:
        signer = signing_key_backend_for(backend).signer(params["kms_key"])
    outcome = sign_image(backend, params["image_id"], signer, claims=params["claims"], check_mode=module.check_mode)
    result = outcome.to_dict()
    if outcome.envelope is None:
        result.pop("envelope")
    if params["bundle_path"] and outcome.envelope is not None:
        if write_bundle(params["bundle_path"], outcome.envelope, check_mode=module.check_mode):
            result["changed"] = True
        result["bundle_path"] = params["bundle_path"]
    elif params["bundle_path"]:
        result["bundle_path"] = params["bundle_path"]
    if result["changed"]:
        result["diff"] = dict(before=outcome.before, after=outcome.after)
    result["api_calls"] = backend.api_calls()
    return result


def main():
    module = PhoenixModule(
        ARGUMENT_SPEC,
        supports_check_mode=True,
        mutually_exclusive=[("key", "kms_key")],
        required_one_of=[("key", "kms_key")],
    )
    module.run(sign)


if __name__ == "__main__":
    main()
