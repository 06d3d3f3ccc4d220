#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: image_attest
short_description: Sign and store an image's SBOM, vulnerability scan and compliance result as attestations
version_added: 0.1.0
description:
  - Makes an in-toto Statement v1 about the image for each result given (O(sbom), O(vuln_scan),
    O(compliance)), whose subject is the image's descriptor exactly as in its signature (see
    M(phoenix.immutable.image_sign)), signs it as a DSSE envelope with a local key or a cloud KMS key, and
    stores it in the image's own tags under a name of its own per kind (on AWS
    C(phoenix:att:<kind>:<keyid prefix>:<n>)), apart from signatures and promotions.
  - A trust policy with C(vulnerabilities) or C(compliance) sections then requires these attestations
    wherever it is evaluated (M(phoenix.immutable.image_verify), M(phoenix.immutable.blue_green)'s
    C(verify), M(phoenix.immutable.image_channel), the C(phoenix.immutable.golden_image) lookup).
  - An attestation may use at most a fifth of the tags the image can carry. A vulnerability scan too large
    for that is stored as a signed summary (all counts; the findings at or above the lowest severity floor
    that fits) and a compliance result without its passed rules; the full predicate's sha256 is in the
    signed summary, and the full predicate is put in the object store named by O(store) under that digest.
  - On O(cloud=gcp) image labels cannot hold a statement, so O(store) (a Cloud Storage bucket) is required.
    The statement is put there under its sha256 and the labels keep only its signature and that digest;
    the gate then needs the same O(store). On O(cloud=azure) attestations are stored in tags as on AWS.
  - Idempotent, a result already attested by the same key changes nothing.
author:
  - Phoenix maintainers (@phoenix-immutable)
options:
  image_id:
    description: The image the results are about. It must be available.
    type: str
    required: true
  sbom:
    description:
      - The image's CycloneDX JSON SBOM, as a mapping or the path of its file. Its attestation names its
        digest, producer and component count; the SBOM itself is put in O(store) when given.
    type: raw
  vuln_scan:
    description:
      - The vulnerability scan, as the C(predicate) M(phoenix.immutable.vuln_scan) returns, its whole
        result, or the path of a JSON file holding either.
    type: raw
  compliance:
    description:
      - The compliance result predicate (profile, passed, failed, failedRules, passedRules, metadata), as a
        mapping or the path of its JSON file.
    type: raw
extends_documentation_fragment:
  - phoenix.immutable.signing_key
  - phoenix.immutable.cloud
  - phoenix.immutable.aws
  - phoenix.immutable.gcp
  - phoenix.immutable.azure
  - phoenix.immutable.attestation_store
attributes:
  check_mode:
    support: full
    description: Plans the attestations (form, tags, objects) and refuses what would not fit, without signing.
  diff_mode:
    support: none
    description: No diff is returned; RV(attestations) and RV(actions) say what changed.
requirements:
  - cryptography >= 41.0.0
"""

EXAMPLES = r"""
- name: Scan the baked image's SBOM
  phoenix.immutable.vuln_scan:
    sbom: "{{ bake_dir }}/sbom.cdx.json"
    osv: /srv/osv/debian
  register: scanned

- name: Attest the SBOM and the scan with the build key
  phoenix.immutable.image_attest:
    image_id: "{{ golden.image.id }}"
    key: /etc/phoenix/keys/build.pem
    sbom: "{{ bake_dir }}/sbom.cdx.json"
    vuln_scan: "{{ scanned.predicate }}"
    store:
      container: my-attestations
"""

RETURN = r"""
image_id:
  description: The image attested.
  returned: always
  type: str
region:
  description: Its region.
  returned: always
  type: str
keyid:
  description: The signing key's id, sha256 (hex) of its DER SubjectPublicKeyInfo.
  returned: always
  type: str
attestations:
  description:
    - One entry per result given, in the order sbom, vuln, compliance.
    - C(form) is V(full) or V(summary); C(floor) the lowest severity a vulnerability summary keeps;
      C(predicate_digest) the sha256 of the full predicate; C(blobs) what was put in O(store), each
      C({digest, url, what}) with C(what) V(sbom), V(<kind> predicate) (a summary's full predicate) or
      V(<kind> statement) (the statement itself, where the image's metadata cannot hold it, as on GCP);
      C(statement_digest) the sha256 of the signed statement.
  returned: always
  type: list
  elements: dict
actions:
  description: What was done (in check mode, would be); empty when every result was already attested.
  returned: always
  type: list
  elements: dict
api_calls:
  description: Cloud API calls this task made, by service and operation.
  returned: always
  type: dict
"""

from ansible_collections.phoenix.immutable.plugins.module_utils.argspec import (
    ATTESTATION_STORE,
    CONNECTION,
    SIGNING_KEY,
    build,
)
from ansible_collections.phoenix.immutable.plugins.module_utils.attest import attest_image, attestation_store
from ansible_collections.phoenix.immutable.plugins.module_utils.modules import PhoenixModule
from ansible_collections.phoenix.immutable.plugins.module_utils.providers import image_backend, signing_key_backend_for
from ansible_collections.phoenix.immutable.plugins.module_utils.trust import local_signer

ARGUMENT_SPEC = build(
    CONNECTION,
    ATTESTATION_STORE,
    SIGNING_KEY,
    image_id=dict(type="str", required=True),
    sbom=dict(type="raw"),
    vuln_scan=dict(type="raw"),
    compliance=dict(type="raw"),
)


def run(module):
    params = module.params
    backend = image_backend(params)
    if params["key"]:
        signer = local_signer(params["key"], params["key_passphrase"] or None)
    else:
        signer = signing_key_backend_for(backend).signer(params["kms_key"])
    result = attest_image(
        backend,
        params["image_id"],
        signer,
        sbom=params["sbom"],
        vuln_scan=params["vuln_scan"],
        compliance=params["compliance"],
        store=attestation_store(params),
        check_mode=module.check_mode,
    )
    result["api_calls"] = backend.api_calls()
    return result


def main():
    module = PhoenixModule(
        ARGUMENT_SPEC,
        supports_check_mode=True,
        mutually_exclusive=[("key", "kms_key")],
        required_one_of=[("key", "kms_key"), ("sbom", "vuln_scan", "compliance")],
    )
    module.run(run)


if __name__ == "__main__":
    main()
