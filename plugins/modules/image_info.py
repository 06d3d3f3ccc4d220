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
extends_documentation_fragment:
  - phoenix.immutable.cloud
  - phoenix.immutable.aws
  - phoenix.immutable.gcp
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
      tags: {service: web}
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
)


def find(module):
    params = module.params
    backend = image_backend(params)
    images = ImageWorkflow(backend, module.waiter()).find(
        image_ids=params["image_ids"],
        name_pattern=params["name"],
        tags={str(key): str(value) for key, value in params["tags"].items()},
        owners=params["owners"],
    )
    return dict(changed=False, images=[image.to_dict() for image in images], api_calls=backend.api_calls())


def main():
    PhoenixModule(ARGUMENT_SPEC, supports_check_mode=True).run(find)


if __name__ == "__main__":
    main()
