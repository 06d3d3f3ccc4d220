#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: image_prune
short_description: Retire old golden images, never one still in use, and reap expired builders
version_added: 0.1.0
description:
  - Applies a retention rule to the golden images of one region, family by family, and deprecates or
    deletes the images it lets go.
  - An image's family is its name without the version suffix (the
    first hyphen-separated part starting with a digit, and what follows), so C(web-2026-11-24-1) is of
    family C(web).
  - 'An image is kept when any of these holds, and the result says which: it is one of the newest O(keep)
    of its family; it is younger than O(older_than_days); it is the current image of a channel (the
    newest image of its family promoted there, see M(phoenix.immutable.image_channel)); an instance group
    of a service names it as its current, previous (rollback) or incoming image (the tags
    M(phoenix.immutable.blue_green) writes); or something launches from it: an instance in any state
    (stopped ones too), the default or latest version of a launch template, a launch configuration or an
    Auto Scaling group.'
  - Deleting checks the image's users again right before it deletes the image and its snapshots.
  - Also terminates builder instances (and the security groups and key pairs made for them) whose
    expiry tag has passed, as M(phoenix.immutable.builder) with O(phoenix.immutable.builder#module:state=reaped) does.
author:
  - Phoenix maintainers (@phoenix-immutable)
options:
  name:
    description:
      - The image families to prune, for example V(web).
      - Empty (the default) prunes every family of the images the collection made (tagged C(phoenix:managed)).
    type: list
    elements: str
    default: []
  keep:
    description:
      - How many of the newest images of each family always stay, whatever else holds.
    type: int
    default: 3
  action:
    description:
      - V(deprecate) schedules the deprecation of the images let go one to two minutes ahead (they can still be
        launched by id, but are hidden from listings); the images and snapshots stay.
      - V(delete) deletes them and their snapshots.
    type: str
    choices: [deprecate, delete]
    default: deprecate
  older_than_days:
    description:
      - Also keep every image created fewer than this many days ago, whatever its rank in its family.
    type: float
  reap_builders:
    description:
      - Also terminate expired builders and delete what was made for them.
    type: bool
    default: true
  key_dir:
    description:
      - Where private keys of builders' key pairs were written; a reaped builder's key file is removed.
    type: path
    default: ~/.ansible/phoenix/builder-keys
extends_documentation_fragment:
  - phoenix.immutable.cloud
  - phoenix.immutable.aws
  - phoenix.immutable.gcp
  - phoenix.immutable.azure
attributes:
  check_mode:
    support: full
    description: Lists what would be pruned (RV(pruned)) and why each survivor stays (RV(kept)); changes nothing.
  diff_mode:
    support: none
    description: The result lists every image pruned and kept with its reasons.
notes:
  - On O(cloud=gcp) an image is in use when an instance's boot disk was made from it, a global instance
    template names it (by id, by name or by a family it heads), a managed instance group launches such a
    template, or the rollout record of a group in O(zone) (else O(region)) names it. V(deprecate) sets the
    image's Compute deprecation status; V(delete) deletes the image (GCE images have no snapshots).
"""

EXAMPLES = r"""
- name: What would go, and why the rest stays
  phoenix.immutable.image_prune:
    name: [web, api]
    keep: 3
    action: delete
  check_mode: true
  register: plan

- name: Delete all but the newest 5 images of every managed family, none younger than 30 days
  phoenix.immutable.image_prune:
    keep: 5
    older_than_days: 30
    action: delete
"""

RETURN = r"""
pruned:
  description: Images deprecated or deleted (or that would be, in check mode).
  returned: always
  type: list
  elements: dict
  sample:
    - {id: ami-0a1b2c3d4e5f67890, name: web-2026-08-01-1, family: web, action: delete,
       why: "older than the newest 3 of its family, unused"}
kept:
  description: Every image that stays, with the reasons it stays.
  returned: always
  type: list
  elements: dict
  sample:
    - {id: ami-0123456789abcdef0, name: web-2026-09-01-1, family: web,
       reasons: ["current image of channel prod", "in use by Auto Scaling group web-a"]}
families:
  description: Per family, how many images were found, kept and pruned.
  returned: always
  type: dict
  sample: {web: {images: 7, kept: 4, pruned: 3}}
reaped:
  description: Expired builders terminated.
  returned: always
  type: list
  elements: dict
actions:
  description: What the task did, or would do in check mode, one entry per change.
  returned: always
  type: list
  elements: dict
api_calls:
  description: Cloud API calls this task made, by service and operation.
  returned: always
  type: dict
  sample: {"ec2:DescribeImages": 2, "ec2:DeregisterImage": 3}
"""

from ansible_collections.phoenix.immutable.plugins.module_utils.argspec import CONNECTION, build
from ansible_collections.phoenix.immutable.plugins.module_utils.modules import PhoenixModule
from ansible_collections.phoenix.immutable.plugins.module_utils.providers import retention_backends
from ansible_collections.phoenix.immutable.plugins.module_utils.retention import ACTIONS, PruneRequest, prune

ARGUMENT_SPEC = build(
    CONNECTION,
    name=dict(type="list", elements="str", default=[]),
    keep=dict(type="int", default=3),
    action=dict(type="str", default="deprecate", choices=list(ACTIONS)),
    older_than_days=dict(type="float"),
    reap_builders=dict(type="bool", default=True),
    key_dir=dict(type="path", default="~/.ansible/phoenix/builder-keys", no_log=False),
)


def run(module):
    params = module.params
    request = PruneRequest(
        families=list(params["name"]),
        keep=params["keep"],
        action=params["action"],
        older_than_days=params["older_than_days"],
        reap_builders=params["reap_builders"],
    )
    images, groups, builders = retention_backends(params)
    outcome = prune(
        images, groups, builders, request, module.waiter(), check_mode=module.check_mode, key_dir=params["key_dir"]
    )
    result = outcome.to_dict()
    result["api_calls"] = images.api_calls()
    return result


def main():
    PhoenixModule(ARGUMENT_SPEC, supports_check_mode=True).run(run)


if __name__ == "__main__":
    main()
