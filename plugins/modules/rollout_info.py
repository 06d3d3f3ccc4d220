#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: rollout_info
short_description: The state of a service's blue/green rollout, read from the cloud
version_added: 0.1.0
description:
  - Reads what M(phoenix.immutable.blue_green) keeps in the cloud about a service's rollout and shows it,
    changing nothing. It shows the phase and weight, the new (green) and old (blue) groups with their sizes
    and health, the traffic shares, and who holds the rollout's lease and until when.
  - Works while a rollout runs (for a dashboard or a second terminal) and after a run was killed, to see what
    it left before the next run resumes it or O(phoenix.immutable.blue_green#module:state=rolled_back) undoes it.
  - The health shown is read now (instances in service and healthy, the load balancer's view, alarms); the
    HTTP probe of the rollout is not run.
author:
  - Phoenix maintainers (@phoenix-immutable)
options:
  service:
    description:
      - The service's name, as given to M(phoenix.immutable.blue_green).
    type: str
    required: true
  listener:
    description:
      - What serves the service's traffic. On AWS the load balancer listener (its ARN).
    type: str
    required: true
    aliases: [listener_arn]
extends_documentation_fragment:
  - phoenix.immutable.cloud
  - phoenix.immutable.aws
  - phoenix.immutable.gcp
  - phoenix.immutable.azure
attributes:
  check_mode:
    support: full
    description: The module only reads; check mode changes nothing either.
  diff_mode:
    support: none
    description: Nothing is changed, so there is no diff.
notes:
  - On O(cloud=gcp) O(listener) is the URL map; the record is read from the managed instance groups'
    descriptions and the project metadata, the shares from the URL map's weighted backend services.
"""

EXAMPLES = r"""
- name: What is the web service's rollout doing?
  phoenix.immutable.rollout_info:
    service: web
    listener: "{{ web_listener_arn }}"
  register: web

- name: Say so
  ansible.builtin.debug:
    msg: >-
      {{ web.rollout.state }}: {{ web.rollout.phase }} at {{ web.rollout.weight }}% to
      {{ web.rollout.green.name | default('-') }}, lease held by {{ web.rollout.lease.owner | default('nobody') }}
  when: web.rollout.state != 'serving'
"""

RETURN = r"""
rollout:
  description: The service's rollout as the cloud holds it now.
  returned: always
  type: dict
  contains:
    state:
      description:
        - V(serving) (no rollout in progress; RV(rollout.serving) is the group serving), V(in_progress),
          V(paused), V(rolling_back), V(retiring) (the swap is done but its run died while deleting the previous
          group, RV(rollout.blue); the next run finishes it), or V(not_serving) (no group of the listener serves).
      type: str
      sample: in_progress
    rollout:
      description: The rollout's id, or null with no rollout in progress.
      type: str
      sample: 20261202T101500Z-1a2b3c4d
    phase:
      description: The phase being worked on (for a paused rollout, the phase it paused in).
      type: str
      sample: shift
    weight:
      description:
        - The share of traffic (percent) of the shift step being worked on; RV(rollout.shares) shows what the
          frontend sends now (a phase is recorded before its action).
      type: int
      sample: 50
    green:
      description: The new group (name, size, in_service, healthy, image).
      type: dict
    blue:
      description: The group being replaced (name, size, in_service, healthy, image).
      type: dict
    serving:
      description: With no rollout in progress, the group serving and its image.
      type: dict
    shares:
      description: Each backend the frontend sends traffic to, with its weight and the groups attached.
      type: dict
      sample: {"arn:aws:elasticloadbalancing:...:targetgroup/web-a/1": {"weight": 50, "groups": ["web-a"]}}
    lease:
      description:
        - The run that holds the rollout (V(owner)), until when (V(until), UTC), the seconds left and whether
          it is still held. A run that died leaves its lease to run out; then the next run resumes.
      type: dict
      sample: {"owner": "4f2c9d0e1a7b3c55", "until": "2026-12-02T10:16:00Z", "seconds_left": 42, "held": true}
    health:
      description: The new group's health read now (V(problems), and the V(evidence)), without the probe.
      type: dict
    image:
      description: The image being rolled out.
      type: str
    from_image:
      description: The image being replaced.
      type: str
    reason:
      description: Why the rollout paused or is rolling back, if it is.
      type: str
api_calls:
  description: Cloud API calls this task made, by service and operation.
  returned: always
  type: dict
  sample: {"autoscaling:DescribeAutoScalingGroups": 1, "elasticloadbalancing:DescribeListeners": 1}
"""

from ansible_collections.phoenix.immutable.plugins.module_utils.argspec import CONNECTION, build
from ansible_collections.phoenix.immutable.plugins.module_utils.modules import PhoenixModule
from ansible_collections.phoenix.immutable.plugins.module_utils.swap import rollout_info

ARGUMENT_SPEC = build(
    CONNECTION,
    service=dict(type="str", required=True),
    listener=dict(type="str", required=True, aliases=["listener_arn"]),
)


def read(module):
    return rollout_info(module.params)


def main():
    PhoenixModule(ARGUMENT_SPEC, supports_check_mode=True).run(read)


if __name__ == "__main__":
    main()
