#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: image
short_description: Create, copy, deprecate and delete golden images
version_added: 0.1.0
description:
  - Manages golden images, the only thing a server of an immutable fleet is ever started from.
  - O(state=present) snapshots a builder instance (stopped or running) into an image named O(name),
    waits until it is available, tags it with its provenance and O(tags), and copies it to
    O(copy_to_regions) in parallel. An image of that name that already exists is left as it is, apart
    from its tags, so a second run reports no change.
  - O(state=absent) deletes an image and the snapshots it is made of, but refuses while anything still
    uses it (an instance in any live state, the default or latest version of a launch template, a launch
    configuration, an Auto Scaling group) unless O(force=true). The refusal names every user.
  - O(state=deprecated) schedules the image's deprecation at O(deprecate_at).
  - On AWS an image is an AMI.
author:
  - Phoenix maintainers (@phoenix-immutable)
options:
  state:
    description:
      - V(present) creates the image if it does not exist and converges its tags and copies.
      - V(absent) deletes it with its snapshots.
      - V(deprecated) schedules its deprecation.
    type: str
    choices: [present, absent, deprecated]
    default: present
  name:
    description:
      - The image name, unique among your images in a region. Identifies the image for O(state=present).
      - For O(state=absent) and O(state=deprecated), either O(name) or O(image_id) identifies the image.
    type: str
  image_id:
    description:
      - The image id, for O(state=absent) and O(state=deprecated).
    type: str
  instance_id:
    description:
      - The builder instance to snapshot. Needed only when the image does not exist yet.
    type: str
  description:
    description:
      - Description of a new image.
    type: str
    default: ''
  tags:
    description:
      - Tags to set on the image and its copies. Values are turned into strings.
      - Checked against the cloud's limits (on AWS 50 tags, keys of 128 and values of 256 characters, no
        C(aws:) prefix) before any change is made.
      - The collection's own provenance tags (prefix C(phoenix:)) are added on creation and never purged.
    type: dict
    default: {}
  purge_tags:
    description:
      - Remove tags not listed in O(tags) (except the collection's provenance tags).
    type: bool
    default: false
  copy_to_regions:
    description:
      - Regions to copy the image to, in parallel, each copy tagged like the source and with
        C(phoenix:copied-from). A copy with the same name already in a region counts as done.
      - Every region must be enabled for the account; this is checked before anything is copied.
    type: list
    elements: str
    default: []
  no_reboot:
    description:
      - Snapshot a running builder without rebooting it first. The file systems may then not be consistent.
    type: bool
    default: false
  force:
    description:
      - With O(state=absent), delete the image even though something uses it. That user will fail to
        launch or replace instances.
    type: bool
    default: false
  deprecate_at:
    description:
      - With O(state=deprecated), when the image becomes deprecated, as an ISO 8601 date or UTC time
        (V(2026-12-31), V(2026-12-31T18:00:00Z)). Rounded down to the minute.
      - Must be in the future, and at most ten years ahead, unless the image already has exactly this time.
    type: str
extends_documentation_fragment:
  - phoenix.immutable.cloud
  - phoenix.immutable.aws
  - phoenix.immutable.wait
attributes:
  check_mode:
    support: full
    description: Returns the plan in RV(actions) and changes nothing.
  diff_mode:
    support: full
    description: Shows the image's name, tags and deprecation time before and after.
"""

EXAMPLES = r"""
- name: Snapshot the builder into a golden image, copied to a second region
  phoenix.immutable.image:
    name: web-2026-11-24-1
    instance_id: "{{ builder.instance_id }}"
    tags:
      service: web
      channel: dev
    copy_to_regions: [eu-west-1]
  register: golden

- name: Deprecate it in three months
  phoenix.immutable.image:
    state: deprecated
    image_id: "{{ golden.image.id }}"
    deprecate_at: "2027-02-24"

- name: Delete an old image; fails, naming its users, while anything still launches from it
  phoenix.immutable.image:
    state: absent
    name: web-2026-08-01-1

- name: Set the connection once for every module of the collection
  module_defaults:
    group/phoenix.immutable.aws:
      region: us-east-1
      profile: golden-images
  block:
    - name: Create the image
      phoenix.immutable.image:
        name: api-2026-11-24-1
        instance_id: i-0123456789abcdef0
"""

RETURN = r"""
image:
  description:
    - The image, after the change (for O(state=absent), as it was before deletion).
    - Absent when the image does not exist, or in check mode before it would be created.
  returned: when the image exists
  type: dict
  contains:
    cloud: {description: The cloud., type: str, sample: aws}
    id: {description: The image id., type: str, sample: ami-0a1b2c3d4e5f67890}
    name: {description: The image name., type: str, sample: web-2026-11-24-1}
    region: {description: The region., type: str, sample: us-east-1}
    state: {description: "V(pending), V(available), V(failed) or V(deregistered).", type: str}
    created: {description: "Creation time, ISO 8601 UTC.", type: str, sample: "2026-11-24T09:00:00Z"}
    owner: {description: Owning account., type: str, sample: "123456789012"}
    source_image: {description: "The image the builder was launched from, or the source of a copy.", type: str}
    architecture: {description: CPU architecture., type: str, sample: x86_64}
    description: {description: Description., type: str}
    tags: {description: All tags., type: dict}
    disks:
      description: The disks the image is made of.
      type: list
      elements: dict
      contains:
        device: {description: Device name., type: str}
        snapshot_id: {description: Snapshot behind the disk., type: str}
        size_gb: {description: Size in GiB., type: int}
    deprecation_time: {description: "When the image is deprecated, ISO 8601 UTC.", type: str}
    cloud_state: {description: The state as the cloud names it., type: str}
    state_reason: {description: "Why the image failed, when it did.", type: str}
  sample:
    cloud: aws
    id: ami-0a1b2c3d4e5f67890
    name: web-2026-11-24-1
    region: us-east-1
    state: available
copies:
  description: The copies in O(copy_to_regions), in the same shape as RV(image).
  returned: always
  type: list
  elements: dict
actions:
  description: What was done, or in check mode what would be done, one entry per change.
  returned: always
  type: list
  elements: dict
  sample:
    - {action: create_image, name: web-2026-11-24-1, region: us-east-1, instance_id: i-0123456789abcdef0}
    - {action: copy_image, name: web-2026-11-24-1, region: eu-west-1, source: ami-0a1b2c3d4e5f67890}
users:
  description: For O(state=absent), what uses the image (kind, id, detail).
  returned: always
  type: list
  elements: dict
  sample:
    - {kind: instance, id: i-0123456789abcdef0, detail: running}
api_calls:
  description: Cloud API calls this task made, by service and operation.
  returned: always
  type: dict
  sample: {"ec2:DescribeImages": 2, "ec2:CreateImage": 1}
"""

from ansible_collections.phoenix.immutable.plugins.module_utils.argspec import CONNECTION, WAIT, build
from ansible_collections.phoenix.immutable.plugins.module_utils.images import ImageRequest, ImageWorkflow
from ansible_collections.phoenix.immutable.plugins.module_utils.modules import PhoenixModule
from ansible_collections.phoenix.immutable.plugins.module_utils.providers import image_backend

ARGUMENT_SPEC = build(
    CONNECTION,
    WAIT,
    state=dict(type="str", default="present", choices=["present", "absent", "deprecated"]),
    name=dict(type="str"),
    image_id=dict(type="str"),
    instance_id=dict(type="str"),
    description=dict(type="str", default=""),
    tags=dict(type="dict", default={}),
    purge_tags=dict(type="bool", default=False),
    copy_to_regions=dict(type="list", elements="str", default=[]),
    no_reboot=dict(type="bool", default=False),
    force=dict(type="bool", default=False),
    deprecate_at=dict(type="str"),
)


def converge(module):
    params = module.params
    backend = image_backend(params)
    workflow = ImageWorkflow(backend, module.waiter(), check_mode=module.check_mode)
    state = params["state"]
    if state == "present":
        outcome = workflow.present(
            ImageRequest(
                name=params["name"],
                instance_id=params["instance_id"],
                description=params["description"],
                tags={str(key): str(value) for key, value in params["tags"].items()},
                purge_tags=params["purge_tags"],
                copy_to_regions=params["copy_to_regions"],
                no_reboot=params["no_reboot"],
            )
        )
    elif state == "absent":
        outcome = workflow.absent(image_id=params["image_id"], name=params["name"], force=params["force"])
    else:
        outcome = workflow.deprecated(params["deprecate_at"], image_id=params["image_id"], name=params["name"])
    result = dict(
        changed=outcome.changed,
        copies=outcome.copies,
        actions=outcome.actions,
        users=outcome.users,
        api_calls=backend.api_calls(),
    )
    if outcome.image is not None:
        result["image"] = outcome.image
    if outcome.changed:
        result["diff"] = dict(before=outcome.before or {}, after=outcome.after or {})
    for warning in outcome.warnings:
        module.ansible.warn(warning)
    return result


def main():
    module = PhoenixModule(
        ARGUMENT_SPEC,
        supports_check_mode=True,
        required_if=[
            ("state", "present", ["name"]),
            ("state", "absent", ["name", "image_id"], True),
            ("state", "deprecated", ["deprecate_at"]),
            ("state", "deprecated", ["name", "image_id"], True),
        ],
        mutually_exclusive=[("name", "image_id")],
    )
    module.run(converge)


if __name__ == "__main__":
    main()
