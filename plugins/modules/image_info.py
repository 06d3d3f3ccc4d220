#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: image_info
short_description: Find golden images
version_added: 0.1.0
description:
  - Finds images by id, name pattern and tags, newest first, in the collection's cloud-neutral shape.
  - Every criterion given must match. With none, lists the caller's own images.
  - Image ids that do not exist make the task fail, naming them; a search that matches nothing returns
    an empty list.
author:
  - Phoenix maintainers (@phoenix-immutable)
options:
  image_ids:
    description: Image ids to read.
    type: list
    elements: str
    default: []
  name:
    description: A name pattern; C(*) matches any characters and C(?) one.
    type: str
  tags:
    description: Tags the images must carry, each with exactly this value.
    type: dict
    default: {}
  owners:
    description:
      - Accounts (or aliases such as V(amazon)) whose images to search.
      - Defaults to your own images, unless O(image_ids) is given.
    type: list
    elements: str
    default: []
  copy_to_regions:
    description:
      - Regions a later M(phoenix.immutable.image) task will copy the images to, checked the way it checks them,
        so that a workflow (the P(phoenix.immutable.bake#role) role) is refused before it changes anything.
      - The task fails for a region the account cannot use, and for any region with O(cloud=gcp), whose images
        are global and not copied. The regions kept are returned in RV(copy_to_regions).
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - phoenix.immutable.cloud
  - phoenix.immutable.aws
  - phoenix.immutable.gcp
  - phoenix.immutable.azure
attributes:
  check_mode:
    support: full
    description: Reads only; runs the same in check mode.
  diff_mode:
    support: none
    description: Reads only; there is nothing to diff.
"""

EXAMPLES = r"""
- name: The newest golden image of the web service
  phoenix.immutable.image_info:
    name: web-*
    tags:
      service: web
  register: found

- name: Use it
  ansible.builtin.debug:
    msg: "{{ found.images[0].id }}"
  when: found.images | length > 0
"""

RETURN = r"""
images:
  description: The images found, newest first, in the same shape as the RV(phoenix.immutable.image#module:image) result.
  returned: always
  type: list
  elements: dict
  sample:
    - cloud: aws
      id: ami-0a1b2c3d4e5f67890
      name: web-2026-11-24-1
      region: us-east-1
      state: available
      created: "2026-11-24T09:00:00Z"
      tags: {service: web, "phoenix:bake-id": web-2026-11-24-1}
      provenance: {bake-id: web-2026-11-24-1, managed: "true", source-image: ami-0fedcba9876543210}
      signers: [3c1b5e0f9a2d...]
      signed: true
  contains:
    provenance:
      description:
        - The collection's own metadata on the image by name, whatever the cloud writes it as (tag
          C(phoenix:<name>) on AWS, label C(phoenix_-<name>) on GCP), that is what M(phoenix.immutable.image)
          wrote on creation (C(managed), C(source-image), C(source-instance), C(copied-from)) and its
          O(phoenix.immutable.image#module:provenance)
          (the bake's C(bake-id), C(base-image), C(git-revision), C(roles), C(tests)).
      type: dict
    signers:
      description:
        - The keyids the image's stored signatures name, sorted. Read, not verified; M(phoenix.immutable.image_verify)
          verifies them against a trust policy.
      type: list
      elements: str
    signed:
      description: Whether the image carries a readable signature (RV(images[].signers) is not empty).
      type: bool
copy_to_regions:
  description: The regions of O(copy_to_regions) an image would be copied to (the connection's own left out).
  returned: always
  type: list
  elements: str
  sample: [eu-west-1]
api_calls:
  description: Cloud API calls this task made, by service and operation.
  returned: always
  type: dict
  sample: {"ec2:DescribeImages": 1}
"""

from ansible_collections.phoenix.immutable.plugins.module_utils.argspec import CONNECTION, build
from ansible_collections.phoenix.immutable.plugins.module_utils.images import ImageWorkflow
from ansible_collections.phoenix.immutable.plugins.module_utils.modules import PhoenixModule
from ansible_collections.phoenix.immutable.plugins.module_utils.providers import image_backend

ARGUMENT_SPEC = build(
    CONNECTION,
    image_ids=dict(type="list", elements="str", default=[]),
    name=dict(type="str"),
    tags=dict(type="dict", default={}),
    owners=dict(type="list", elements="str", default=[]),
    copy_to_regions=dict(type="list", elements="str", default=[]),
)


def find(module):
    params = module.params
    backend = image_backend(params)
    workflow = ImageWorkflow(backend, module.waiter())
    copy_to_regions = workflow.copy_regions(params["copy_to_regions"])
    images = workflow.find(
        image_ids=params["image_ids"],
        name_pattern=params["name"],
        tags={str(key): str(value) for key, value in params["tags"].items()},
        owners=params["owners"],
    )
    return dict(
        changed=False,
        images=[workflow.describe(image) for image in images],
        copy_to_regions=copy_to_regions,
        api_calls=backend.api_calls(),
    )


def main():
    PhoenixModule(ARGUMENT_SPEC, supports_check_mode=True).run(find)


if __name__ == "__main__":
    main()
