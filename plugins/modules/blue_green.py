#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: blue_green
short_description: Crash-safe blue/green and canary replacement of an instance group behind a load balancer
version_added: 0.1.0
description:
  - Replaces the group of instances serving a service with a new group built from O(image_id), never
    modifying the running one. On AWS a group is an Auto Scaling group with its own target group, built
    from a new version of the launch template O(template) whose only change is the image; traffic moves by
    the weighted forward of the listener O(listener) between the groups' target groups.
  - O(state=deployed) converges on "O(image_id) serves all the traffic". It creates the new group
    (I(green)) next to the serving one (I(blue)), waits until green is healthy, moves traffic to it all at
    once or in O(canary_steps) with a health gate at each step, keeps blue at full size for
    O(keep_blue_seconds) and then deletes blue. When the image already serves everything, nothing changes.
  - When green fails its health gate, traffic goes back to blue (at its original size) before anything of
    green is deleted (O(on_failure=rollback)), or the rollout stops where it is (O(on_failure=pause)). The task
    then fails, with the health evidence in RV(rollout).
  - O(state=rolled_back) returns traffic to the previous group and deletes the candidate. After a finished swap,
    whose previous group is gone, it deploys the previous image again.
  - All rollout state lives in tags on the groups (prefix C(phoenix:)), never in local files, so a run that was
    killed at any point is resumed by the next run, on any controller. A run that finds a half-done rollout of
    another image rolls it back first (O(supersede=true)) or fails.
  - Creating the new group, named after the free slot (C(<service>-a) or C(<service>-b)), is the lock. A second
    rollout of the service at the same time fails at once, naming the one in progress. The running rollout
    holds a lease (O(lease_seconds)) it renews while it works; a rollout whose run died is resumed once its
    lease has run out.
  - With O(verify), the image is checked against a trust policy before anything is created, failing closed.
  - 'Progress: one line per phase or step, the service first (C(web: launch web-b, 2 instances of ami-0123),
    C(web: web-b healthy, 2/2 in 34 s), C(web: shift 50% → web-b, 3/3 healthy, next step in 60 s),
    C(web: retire web-a), C(web: done, web-b serves ami-0123 in 95 s), C(web: roll back (reason\), traffic back
    to web-a)); a long wait says what it waits for at most every 30 seconds. The lines are shown on the
    controller as they come and returned in RV(progress).'
  - A listener whose traffic goes to a group of another service (tagged C(phoenix:service) with another name)
    is refused before anything is created, naming that service; so is O(state=rolled_back) on it.
author:
  - Phoenix maintainers (@phoenix-immutable)
options:
  state:
    description:
      - V(deployed) makes O(image_id) serve all traffic of O(service).
      - V(rolled_back) returns traffic to the previous group.
    type: str
    choices: [deployed, rolled_back]
    default: deployed
  service:
    description:
      - The service's name, 1 to 30 letters, digits or hyphens. Groups and target groups are named
        C(<service>-a) and C(<service>-b) and tagged C(phoenix:service).
    type: str
    required: true
  image_id:
    description:
      - The image the new group launches. Required with O(state=deployed).
    type: str
  listener:
    description:
      - What serves the service's traffic. On AWS the load balancer listener (its ARN); its default action
        forwards to the serving group's target group and the module rewrites it as a weighted forward.
    type: str
    required: true
    aliases: [listener_arn]
  template:
    description:
      - What the service's groups launch from. On AWS the base launch template (id C(lt-...) or name); each
        rollout adds a version with the data of its default version (network, instance type, user data) and
        only the image changed.
    type: str
    required: true
    aliases: [launch_template]
  subnets:
    description:
      - Subnets of the new group. By default those of the serving group.
    type: list
    elements: str
  size:
    description:
      - Instances in the new group. By default as many as the serving group has.
    type: int
  strategy:
    description:
      - V(all_at_once) moves all traffic in one step once green is healthy.
      - V(canary) moves it in O(canary_steps).
    type: str
    choices: [all_at_once, canary]
    default: all_at_once
  canary_steps:
    description:
      - With O(strategy=canary), the percentages of traffic green gets, step by step, ending with 100.
    type: list
    elements: int
    default: [10, 50, 100]
  step_seconds:
    description:
      - How long each step bakes, health checked every O(health.interval), before the next one.
    type: int
    default: 60
  health:
    description:
      - What healthy means for green. Checked before any traffic moves and throughout every step.
    type: dict
    default: {}
    suboptions:
      target_health:
        description:
          - Every instance of green must be registered and healthy at the load balancer.
        type: bool
        default: true
      probe_url:
        description:
          - A URL that must answer 2xx, requested from the host running the module.
        type: str
      probe_timeout:
        description:
          - Seconds to wait for the probe's answer.
        type: int
        default: 5
      healthy_for_seconds:
        description:
          - How long green must be healthy without a break before traffic moves to it.
        type: int
        default: 0
      alarms:
        description:
          - Names of CloudWatch alarms that must not be in ALARM (a missing alarm counts as failing).
        type: list
        elements: str
        default: []
      interval:
        description:
          - Seconds between health checks.
        type: float
        default: 5
  wait_timeout:
    description:
      - Seconds to wait for green to become healthy (and for each group to be deleted) before the rollout
        counts as failed.
    type: int
    default: 900
    aliases: [timeout]
  on_failure:
    description:
      - V(rollback) returns traffic to blue and deletes green when a health gate fails.
      - V(pause) leaves traffic where it is and records the pause; run again to resume, or O(state=rolled_back).
    type: str
    choices: [rollback, pause]
    default: rollback
  keep_blue_seconds:
    description:
      - How long blue stays at full size after green serves everything, health still checked (a failure then
        rolls back at once), before it is scaled to 0 and deleted.
    type: int
    default: 300
  supersede:
    description:
      - When a half-done rollout of another image is found (and its run is gone), roll it back first.
        With V(false), fail instead.
    type: bool
    default: true
  lease_seconds:
    description:
      - How long a rollout's lock outlives its last sign of life. The running rollout renews it every third
        of O(lease_seconds) while it waits, so a live run keeps it however long it takes.
      - A rollout whose run died (a killed controller, a lost node) blocks the service until its lease has run
        out; then the next run resumes it (same O(image_id)), supersedes it, or undoes it (O(state=rolled_back)).
        A run refused meanwhile says how many seconds are left.
    type: int
    default: 60
  verify:
    description:
      - A trust policy (a file path or a mapping, in the shape of the O(phoenix.immutable.image_verify#module:policy)
        option of M(phoenix.immutable.image_verify)) the image must satisfy. Checked before anything is created;
        an image that fails it is refused.
      - With O(state=rolled_back), the previous image is checked when it has to be deployed again.
      - An empty policy (V({}) or V("")) or one without C(keys) fails the task before anything is read or
        created. Only leaving O(verify) out skips the check, a deliberate choice the result shows as
        RV(verified=false); the P(phoenix.immutable.deploy#role) role always gives a policy.
    type: raw
extends_documentation_fragment:
  - phoenix.immutable.cloud
  - phoenix.immutable.aws
  - phoenix.immutable.gcp
  - phoenix.immutable.azure
  - phoenix.immutable.attestation_store
attributes:
  check_mode:
    support: full
    description: Returns the plan (the phases it would go through) in RV(rollout.plan) and changes nothing.
  diff_mode:
    support: full
    description: Shows which image (and group) serves before and after.
notes:
  - On O(cloud=gcp) O(listener) is the global URL map (name, path or selfLink) whose default route the swap
    splits by weighted backend services, O(template) the base instance template (each rollout copies it into
    one template of its own, only the boot image changed), and each group is a managed instance group (zonal
    with O(zone), else regional in O(region)) with a backend service of its
    own. The first record is the group's description, later ones a project metadata item
    C(phoenix-rollout-<zone or region>-<group>).
  - On O(cloud=gcp) no alarms are read (Cloud Monitoring is not in the collection's scope), so each name in
    O(health.alarms) counts as a missing alarm and fails the health gate (fail closed); leave it empty there.
  - Needs the permissions to describe and change Auto Scaling groups, launch templates, target groups and the
    listener, and to describe CloudWatch alarms.
"""

EXAMPLES = r"""
- name: Canary swap of the web service to the new golden image, verified first
  phoenix.immutable.blue_green:
    service: web
    image_id: "{{ golden.image.id }}"
    listener: "{{ web_listener_arn }}"
    template: web-base
    strategy: canary
    canary_steps: [10, 50, 100]
    step_seconds: 120
    health:
      probe_url: https://web.example.com/health
      healthy_for_seconds: 60
      alarms: [web-5xx-rate]
    keep_blue_seconds: 900
    verify: "{{ playbook_dir }}/trust-policy.yml"
  register: swap

- name: Back to the previous image
  phoenix.immutable.blue_green:
    state: rolled_back
    service: web
    listener: "{{ web_listener_arn }}"
    template: web-base
"""

RETURN = r"""
rollout:
  description: The rollout, as far as this run took it.
  returned: always
  type: dict
  contains:
    id: {description: The rollout's id (the tag C(phoenix:rollout))., type: str, sample: 20261125T010000Z-1a2b3c4d}
    service: {description: The service., type: str, sample: web}
    from_image: {description: The image serving before., type: str, sample: ami-0a1b2c3d4e5f67890}
    to_image: {description: The image serving after., type: str, sample: ami-0f9e8d7c6b5a43210}
    group: {description: The new group (or the serving one when nothing changed)., type: str, sample: web-a}
    previous_group: {description: The group serving before., type: str, sample: web-blue}
    strategy: {description: V(all_at_once) or V(canary)., type: str}
    phases:
      description:
        - Each phase this run went through, with its start and end time, how long it took (V(seconds)) and the
          health evidence.
      type: list
      elements: dict
      sample:
        - {phase: wait_healthy, started: "2026-11-25T01:00:00Z", finished: "2026-11-25T01:02:00Z", seconds: 120.0,
           evidence: {instances: {in_service: 2, healthy: 2, wanted: 2}, probe: {ok: true, detail: HTTP 200}}}
        - {phase: shift, weight: 10, started: "2026-11-25T01:02:00Z"}
    plan:
      description: In check mode, the phases it would go through.
      type: list
      elements: dict
    state:
      description: V(deployed), V(serving) (nothing to do), V(rolled_back), V(paused) or V(planned) (check mode).
      type: str
    resumed_from: {description: The phase a half-done rollout was resumed from., type: str}
    superseded: {description: The half-done rollout of another image rolled back first., type: dict}
    api_calls:
      description: Cloud API calls made, by service and operation.
      type: dict
verification:
  description: With O(verify), the trust policy's verdicts on the images checked.
  returned: when O(verify) is given
  type: list
  elements: dict
verified:
  description:
    - Whether the trust policy O(verify) was checked and every image this run would deploy satisfies it.
    - V(false) when O(verify) was left out (no trust gate), and for O(state=rolled_back) when it only returns
      traffic to the previous group (no image had to be checked).
  returned: success
  type: bool
  sample: true
api_calls:
  description: Cloud API calls this task made, by service and operation.
  returned: always
  type: dict
  sample: {"autoscaling:DescribeAutoScalingGroups": 2, "elasticloadbalancing:ModifyListener": 3}
progress:
  description: The progress lines of the swap, one per phase or step, as shown on the controller.
  returned: when the swap reported any
  type: list
  elements: str
  sample: ["web: launch web-b, 2 instances of ami-0123", "web: web-b healthy, 2/2 in 34 s",
           "web: shift 100% → web-b, 2/2 healthy", "web: retire web-a", "web: done, web-b serves ami-0123 in 95 s"]
"""

from ansible_collections.phoenix.immutable.plugins.module_utils.argspec import ATTESTATION_STORE, CONNECTION, build
from ansible_collections.phoenix.immutable.plugins.module_utils.modules import PhoenixModule
from ansible_collections.phoenix.immutable.plugins.module_utils.swap import DEFAULTS, swap

HEALTH_OPTIONS = dict(
    target_health=dict(type="bool", default=True),
    probe_url=dict(type="str"),
    probe_timeout=dict(type="int", default=5),
    healthy_for_seconds=dict(type="int", default=0),
    alarms=dict(type="list", elements="str", default=[]),
    interval=dict(type="float", default=5),
)

ARGUMENT_SPEC = build(
    CONNECTION,
    ATTESTATION_STORE,
    state=dict(type="str", default="deployed", choices=["deployed", "rolled_back"]),
    service=dict(type="str", required=True),
    image_id=dict(type="str"),
    listener=dict(type="str", required=True, aliases=["listener_arn"]),
    template=dict(type="str", required=True, aliases=["launch_template"]),
    subnets=dict(type="list", elements="str"),
    size=dict(type="int"),
    strategy=dict(type="str", default=DEFAULTS["strategy"], choices=["all_at_once", "canary"]),
    canary_steps=dict(type="list", elements="int", default=DEFAULTS["canary_steps"]),
    step_seconds=dict(type="int", default=DEFAULTS["step_seconds"]),
    health=dict(type="dict", default={}, options=HEALTH_OPTIONS),
    wait_timeout=dict(type="int", default=DEFAULTS["wait_timeout"], aliases=["timeout"]),
    on_failure=dict(type="str", default=DEFAULTS["on_failure"], choices=["rollback", "pause"]),
    keep_blue_seconds=dict(type="int", default=DEFAULTS["keep_blue_seconds"]),
    supersede=dict(type="bool", default=DEFAULTS["supersede"]),
    lease_seconds=dict(type="int", default=DEFAULTS["lease_seconds"]),
    verify=dict(type="raw"),
)


def converge(module):
    return swap(module.params, check_mode=module.check_mode, progress=module.progress)


def main():
    module = PhoenixModule(
        ARGUMENT_SPEC,
        supports_check_mode=True,
        required_if=[("state", "deployed", ["image_id"])],
    )
    module.run(converge)


if __name__ == "__main__":
    main()
