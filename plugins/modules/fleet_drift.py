#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: fleet_drift
short_description: Find instances that drifted from what their service should run, and replace them
version_added: 0.1.0
description:
  - Scans the running instances of one service (O(service)), of every service the collection deploys, or
    those carrying O(tags), and classifies each as C(compliant) or drifted, with every reason that holds.
  - 'Reasons: C(wrong_image) (not the image its group launches now, from the group''s C(phoenix:image) tag or
    launch template; for an instance outside our groups, the service''s current image); C(unsigned_image),
    C(untrusted_image) and C(revoked_image) (its image fails O(policy): no signature, any other failure,
    revoked by the policy or signed by a revoked key); C(deprecated_image) (its image''s deprecation time has
    passed); C(over_age) (launched more than O(max_age_days) ago); C(unmanaged) (in the scope, but no
    instance group of this collection launched it).'
  - 'With a O(policy) that has C(vulnerabilities) or C(compliance) sections: C(vulnerable_image) (the image''s
    signed vulnerability scan has a finding above C(max_severity) that no live allow entry covers) and
    C(noncompliant_image) (its signed compliance result fails C(max_failed) or C(required_rules)). An image whose
    scans cannot vouch for it (no scan, a stale, incomplete or malformed one, an invalid attestation, the wrong
    profile) is C(untrusted_image). Run M(phoenix.immutable.image_rescan) first so the scans carry today''s
    advisories.'
  - The scope of a service is every live instance in the subnets of its instance groups (narrowed by O(tags)
    when given); without O(service) it is the subnets of every service's groups, or only O(tags) when given.
  - 'Cost: the calls grow with pages, not with instances: one C(DescribeAutoScalingGroups) per 100 groups (AWS''s
    page cap for it), one C(DescribeInstances) per 1,000 instances, and one C(DescribeImages) per 200 distinct
    images (each image is read once). RV(api_calls) shows them. The instances are classified as each page
    arrives, so the task holds one page of the cloud''s answer at a time.'
  - 'Progress: one line when the fleet is classified (C(drift: 1,000 instances in 12 groups, 37 drifted
    (unsigned 20, too old 17\))) and, with O(remediate=replace), one per batch once its group is healthy again
    (C(web-a: replace batch 2/5 (3 instances: ami-old → ami-new\), 12/12 healthy in 40 s)); a wait that lasts
    says what it waits for at most every 30 seconds. The lines are shown on the controller as they come and
    returned in RV(progress).'
  - With O(remediate=replace), drifted instances of our groups are terminated a batch at a time without
    lowering the group's size, so the group launches replacements from its current template; the next batch
    starts once the group is back to its size with every instance in service and healthy (and healthy at its
    load balancer targets with O(target_health)). An instance whose only drift is its group's own image
    (deprecated, untrusted, vulnerable, noncompliant) is reported in RV(not_replaced), not replaced (a replacement
    would run the same image). Bake a new image, verify it and deploy it (C(playbooks/remediate.yml)).
  - Instances outside our groups are reported and never touched, unless O(terminate_unmanaged=true).
  - A service with a rollout in progress (M(phoenix.immutable.blue_green)) is reported, not replaced.
author:
  - Phoenix maintainers (@phoenix-immutable)
options:
  service:
    description:
      - The service to scan, as deployed by M(phoenix.immutable.blue_green) (its groups' C(phoenix:service) tag).
      - Fails when the service has no instance group of this collection.
    type: str
  tags:
    description:
      - Only instances carrying every one of these tags are scanned.
    type: dict
    default: {}
  max_age_days:
    description:
      - Instances launched longer ago than this many days are C(over_age). Unset, age is not checked.
    type: float
  remediate:
    description:
      - V(report) only reports; V(replace) replaces drifted instances of our groups in batches.
    type: str
    choices: [report, replace]
    default: report
  max_unavailable:
    description:
      - How many instances of a group are replaced at once, as a count (V(2)) or a percentage of the group's size
        (V(25%), rounded down, at least one).
    type: str
    default: 25%
  terminate_unmanaged:
    description:
      - With O(remediate=replace), also terminate drifted instances that no group of ours launched. Nothing
        launches replacements for them.
    type: bool
    default: false
  target_health:
    description:
      - Between batches, also wait for every instance of the group to be healthy at its load balancer targets.
    type: bool
    default: true
  health_interval:
    description:
      - Seconds between health checks while waiting for replacements.
    type: float
    default: 5
extends_documentation_fragment:
  - phoenix.immutable.cloud
  - phoenix.immutable.aws
  - phoenix.immutable.gcp
  - phoenix.immutable.azure
  - phoenix.immutable.policy
  - phoenix.immutable.wait
  - phoenix.immutable.attestation_store
attributes:
  check_mode:
    support: full
    description: Reports the classification and the batches O(remediate=replace) would carry out; changes nothing.
  diff_mode:
    support: none
    description: RV(instances) lists every instance with its reasons; RV(replaced) what was replaced.
notes:
  - 'On O(cloud=gcp) the instances are read with C(instances.aggregatedList), 500 a call, narrowed by Compute to
    live instances with O(tags) as labels; their images come from their boot disks (one C(disks.aggregatedList)
    per 500 disks, not one read per instance) and are read with one C(images.list) per 100 distinct names. A
    drifted member is replaced with its group''s C(recreateInstances): the group makes it again under the same
    name from its current template.'
  - Without O(policy), the trust reasons (C(unsigned_image), C(untrusted_image), C(revoked_image)) are not checked,
    a deliberate choice RV(images) shows as C(verified=null). An empty policy (V({}) or V("")) or one without
    C(keys) fails the task before any cloud call.
  - A service with a rollout in progress is reported in a warning.
"""

EXAMPLES = r"""
- name: Report the drift of the web service
  phoenix.immutable.fleet_drift:
    service: web
    policy: /etc/phoenix/trust.yml
    max_age_days: 30
  register: drift

- name: Replace drifted instances of web, a quarter of each group at a time
  phoenix.immutable.fleet_drift:
    service: web
    policy: /etc/phoenix/trust.yml
    max_age_days: 30
    remediate: replace
    max_unavailable: 25%

- name: What a replacement of every service would do
  phoenix.immutable.fleet_drift:
    remediate: replace
  check_mode: true
  register: plan
"""

RETURN = r"""
instances:
  description: Every instance scanned, with its classification.
  returned: always
  type: list
  elements: dict
  sample:
    - {id: i-0a1b2c3d4e5f67890, image_id: ami-0123456789abcdef0, wanted_image: ami-0fedcba9876543210,
       group: web-a, service: web, launched: "2026-11-01T10:00:00Z", state: running, compliant: false,
       reasons: [wrong_image], details: ["runs ami-0123456789abcdef0, its service runs ami-0fedcba9876543210"]}
counts:
  description:
    - How many instances are compliant and how many drifted for each reason (an instance counts once per reason).
  returned: always
  type: dict
  sample: {compliant: 98, wrong_image: 2, unsigned_image: 0, untrusted_image: 0, revoked_image: 0,
           vulnerable_image: 0, noncompliant_image: 0, deprecated_image: 0, over_age: 0, unmanaged: 1}
total:
  description: How many instances were scanned.
  returned: always
  type: int
drifted:
  description: Ids of the drifted instances.
  returned: always
  type: list
  elements: str
batches:
  description:
    - The replacement plan, in order.
    - The group C((unmanaged)) holds the instances terminated by O(terminate_unmanaged).
  returned: always
  type: list
  elements: dict
  sample: [{group: web-a, instances: [i-0a1b2c3d4e5f67890], max_unavailable: 25}]
replaced:
  description:
    - Instances terminated so that their group replaced them (empty in check mode and with O(remediate=report)).
  returned: always
  type: list
  elements: str
terminated_unmanaged:
  description: Instances outside our groups terminated with O(terminate_unmanaged).
  returned: always
  type: list
  elements: str
not_replaced:
  description:
    - Drifted instances of our groups a replacement would not cure (their group's own image is at fault), or of a
      service with a rollout in progress.
  returned: always
  type: list
  elements: str
unmanaged:
  description: Drifted instances no group of ours launched.
  returned: always
  type: list
  elements: str
images:
  description:
    - Each distinct image the scanned instances run, read once, with its trust verdict.
    - C(verified) is null without a policy.
  returned: always
  type: dict
  sample: {ami-0123456789abcdef0: {name: web-2026-11-01-1, found: true, deprecation_time: null, verified: false,
           trust_reason: no signature}}
scanned_at:
  description: When the scan ran (UTC).
  returned: always
  type: str
progress:
  description: The progress lines the task showed while it ran, in order.
  returned: always
  type: list
  elements: str
  sample:
    - "drift: 242 instances in 1 group, 242 drifted (wrong image 242)"
    - "web-blue: replace batch 1/4 (60 instances: ami-0123456789abcdef0 → ami-0fedcba9876543210),
      240/240 healthy in 12 s"
api_calls:
  description: Cloud API calls this task made, by service and operation.
  returned: always
  type: dict
  sample: {"autoscaling:DescribeAutoScalingGroups": 1, "ec2:DescribeInstances": 1, "ec2:DescribeImages": 1}
"""

from ansible_collections.phoenix.immutable.plugins.module_utils.argspec import (
    ATTESTATION_STORE,
    CONNECTION,
    POLICY,
    WAIT,
    build,
)
from ansible_collections.phoenix.immutable.plugins.module_utils.drift import REMEDIATIONS, drift
from ansible_collections.phoenix.immutable.plugins.module_utils.modules import PhoenixModule

ARGUMENT_SPEC = build(
    CONNECTION,
    POLICY,
    WAIT,
    ATTESTATION_STORE,
    service=dict(type="str"),
    tags=dict(type="dict", default={}),
    max_age_days=dict(type="float"),
    remediate=dict(type="str", default="report", choices=list(REMEDIATIONS)),
    max_unavailable=dict(type="str", default="25%"),
    terminate_unmanaged=dict(type="bool", default=False),
    target_health=dict(type="bool", default=True),
    health_interval=dict(type="float", default=5),
)


def run(module):
    result = drift(module.params, module.waiter(), check_mode=module.check_mode, report=module.progress.report)
    # Warnings go through module.warn: exit_json(warnings=...) is deprecated (an error from ansible-core 2.23).
    for warning in result.pop("warnings", []):
        module.ansible.warn(warning)
    return result


def main():
    PhoenixModule(ARGUMENT_SPEC, supports_check_mode=True).run(run)


if __name__ == "__main__":
    main()
