#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: image_rescan
short_description: Re-check the images in use against today's advisories and sign a fresh scan on each
version_added: 0.1.0
description:
  - For every image in use (the images the instances of O(service), of every service, or carrying O(tags) run,
    and what their groups launch now, found as M(phoenix.immutable.fleet_drift) finds them; or the images of
    O(image_ids)), reads the image's SBOM attestation, verifies it with the keys of O(policy) exactly as the scan
    gate verifies a scan (signed by a trusted key that is not revoked, about this image's descriptor), fetches
    the SBOM document from O(store) by the sha256 in the signed statement and believes it only when it has
    that digest, matches it against the OSV feed O(osv), and signs and stores the fresh vulnerability scan on
    the image as M(phoenix.immutable.image_attest) does (same tags, same summary when too large).
  - It never touches an instance. Run M(phoenix.immutable.fleet_drift) with the same O(policy) afterwards;
    instances of an image whose fresh scan fails the policy's C(vulnerabilities) are C(vulnerable_image).
  - An image that cannot be re-checked (no SBOM attestation, none signed by a trusted key, the SBOM not in
    O(store) or not matching its signed digest, the image gone or not available) is listed in
    RV(not_rescanned) with its reason; with O(fail_on_unscannable) the task then fails (after re-checking
    the others).
  - Each re-check is a new scan with its own times, so it is written every run (C(changed)). With
    O(max_age_days), a stored scan signed by the same key, with the same findings as today's and finished at
    most that many days ago, is kept instead (nothing written, RV(kept)).
  - 'Cost: the reads of M(phoenix.immutable.fleet_drift) (groups, instances, images by pages), then per image one
    object read (the SBOM) and one tag write (C(CreateTags), plus C(DeleteTags) when fewer chunks are needed);
    RV(api_calls) shows them.'
author:
  - Phoenix maintainers (@phoenix-immutable)
options:
  service:
    description:
      - Re-check the images of this service's instances (as deployed by M(phoenix.immutable.blue_green)).
      - Without O(service), O(tags) and O(image_ids), the images of every service's instances.
    type: str
  tags:
    description:
      - Only the images of instances carrying every one of these tags.
    type: dict
    default: {}
  image_ids:
    description:
      - Re-check exactly these images instead of finding the images in use. Not with O(service) or O(tags).
    type: list
    elements: str
  osv:
    description:
      - The OSV advisories to match against, as for M(phoenix.immutable.vuln_scan) (a JSON file, a JSON list, a
        zip export or a directory of records). Loaded once for every image.
    type: path
    required: true
  store:
    description:
      - The object store M(phoenix.immutable.image_attest) put the SBOM documents in, addressed by sha256 (an S3
        bucket on AWS, a Cloud Storage bucket on GCP, a blob container on Azure). Full reports of scans too large
        for the tags are put there too, and on GCP every attestation's statement.
    type: dict
    required: true
    suboptions:
      container:
        description: The bucket or container.
        type: str
        required: true
      prefix:
        description: The key prefix; objects are C(<prefix>sha256/<hex>).
        type: str
        default: phoenix-attestations/
  max_age_days:
    description:
      - Keep a stored scan signed by the same key whose findings are the same as today's while it finished at
        most this many days ago, instead of signing a fresh one. Unset, every run signs a fresh scan.
      - Keep it below the policy's C(vulnerabilities.max_scan_age_days), or a kept scan goes stale at the gate.
    type: float
  fail_on_unscannable:
    description:
      - Fail the task when an image in use could not be re-checked (RV(not_rescanned) has the reasons). By default
        they are reported and the task succeeds.
    type: bool
    default: false
extends_documentation_fragment:
  - phoenix.immutable.signing_key
  - phoenix.immutable.cloud
  - phoenix.immutable.aws
  - phoenix.immutable.gcp
  - phoenix.immutable.azure
  - phoenix.immutable.policy
attributes:
  check_mode:
    support: full
    description: Re-matches every SBOM and plans the attestations (form, tags) without signing or writing.
  diff_mode:
    support: none
    description: RV(images) says, per image, what changed against its previous scan.
notes:
  - O(policy) is required here; its C(keys) decide which SBOM attestations are believed. A warning says so when
    the signing key is not one of them (the gate would not believe the fresh scans).
requirements:
  - cryptography >= 41.0.0
"""

EXAMPLES = r"""
- name: Re-check every image the web service runs against today's advisories
  phoenix.immutable.image_rescan:
    service: web
    policy: /etc/phoenix/trust.yml
    osv: /srv/osv/debian
    key: /etc/phoenix/keys/build.pem
    store:
      container: my-attestations
    max_age_days: 1
  register: rescan

- name: Then find the instances whose image is now vulnerable
  phoenix.immutable.fleet_drift:
    service: web
    policy: /etc/phoenix/trust.yml
    store:
      container: my-attestations
  register: drift
"""

RETURN = r"""
images:
  description:
    - One entry per image in use, by id.
    - C(status) is V(rescanned), V(kept) or V(not rescanned) (then C(reason) and C(message) say why); C(counts)
      and C(findings) are today's, C(worst) the most severe level found; C(previous_counts) those of the newest
      earlier scan, C(findings_changed) whether the findings differ from it (null without one),
      C(new_findings) and C(gone_findings) the advisory ids that came and went; C(attestation) the stored scan
      as M(phoenix.immutable.image_attest) returns it; C(instances) the instances that run the image.
  returned: always
  type: list
  elements: dict
  sample:
    - {image_id: ami-0123456789abcdef0, region: us-east-1, status: rescanned, changed: true,
       counts: {critical: 1, high: 1, medium: 0, low: 1, unknown: 0}, findings: 3, worst: critical,
       previous_counts: {critical: 0, high: 1, medium: 0, low: 1, unknown: 0}, findings_changed: true,
       new_findings: [PHX-2026-0001], gone_findings: [], instances: [i-0a1b2c3d4e5f67890]}
rescanned:
  description: Images a fresh scan was signed for (in check mode, would be).
  returned: always
  type: list
  elements: str
kept:
  description: Images whose stored scan was kept (O(max_age_days)).
  returned: always
  type: list
  elements: str
not_rescanned:
  description:
    - Images in use that could not be re-checked, each with C(reason) (V(no sbom), V(invalid sbom attestation),
      V(sbom not in store), V(sbom mismatch), V(image not found), V(image not available)) and C(message).
  returned: always
  type: list
  elements: dict
  sample: [{image_id: ami-0fedcba9876543210, reason: no sbom,
            message: image ami-0fedcba9876543210 carries no SBOM attestation}]
counts:
  description: Today's findings of every image re-checked, added up by severity.
  returned: always
  type: dict
worst:
  description: The most severe level found on any image re-checked, or null.
  returned: always
  type: str
findings_changed:
  description: Images whose findings differ from their previous scan.
  returned: always
  type: list
  elements: str
keyid:
  description: The signing key's id.
  returned: always
  type: str
actions:
  description: The attestations written (in check mode, that would be).
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
    POLICY,
    SIGNING_KEY,
    build,
)
from ansible_collections.phoenix.immutable.plugins.module_utils.modules import PhoenixModule
from ansible_collections.phoenix.immutable.plugins.module_utils.rescan import rescan

ARGUMENT_SPEC = build(
    CONNECTION,
    POLICY,
    SIGNING_KEY,
    service=dict(type="str"),
    tags=dict(type="dict", default={}),
    image_ids=dict(type="list", elements="str"),
    osv=dict(type="path", required=True),
    store=dict(ATTESTATION_STORE["store"], required=True),
    max_age_days=dict(type="float"),
    fail_on_unscannable=dict(type="bool", default=False),
)


def run(module):
    result = rescan(module.params, check_mode=module.check_mode)
    for warning in result.pop("warnings", []):
        module.ansible.warn(warning)
    return result


def main():
    module = PhoenixModule(
        ARGUMENT_SPEC,
        supports_check_mode=True,
        mutually_exclusive=[("key", "kms_key")],
        required_one_of=[("key", "kms_key")],
    )
    module.run(run)


if __name__ == "__main__":
    main()
