#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: builder
short_description: Launch, stop and tear down the temporary instance a golden image is baked on
version_added: 0.1.0
description:
  - A builder is a temporary instance launched from a base image, provisioned by your roles, imaged by
    M(phoenix.immutable.image), and then removed. The P(phoenix.immutable.bake#role) role drives it.
  - O(state=present) resolves the base image (O(base_image_id), or the newest available image whose name
    matches O(base_image_name)), creates an access rule allowing SSH from O(ssh_cidrs) and an SSH key unless
    given, launches the builder and waits until the cloud reports it running with its status checks passed.
    It returns the facts to connect to it. A builder of that O(name) that already runs is reused.
  - Everything made for a builder is tagged with its name and an expiry (now + O(ttl)), written with the
    resource itself, so what a crashed bake leaves behind is found later by O(state=reaped).
  - If a launch fails half-way, what this run made is removed before the task fails.
  - O(state=stopped) stops the builder before imaging. O(state=absent) terminates it and deletes the
    access rule and SSH key made for it (and the private key file). O(state=reaped) does that for every
    builder, access rule and SSH key whose expiry has passed.
  - On AWS a builder is an EC2 instance, its access rule a security group and its SSH key an EC2 key pair;
    RV(actions) name them C(security_group) and C(key_pair).
  - On GCP (O(cloud=gcp)) a builder is a Compute Engine instance in the connection's O(zone) (required), its
    access rule a firewall rule allowing tcp:22 to the builder's network tag and its SSH key an Ed25519 key whose
    public half is in the instance's C(ssh-keys) metadata; RV(actions) name them C(firewall_rule) and
    C(ssh_key). Labels carry the builder's name and expiry, the firewall rule's description the same as JSON.
    GCE has no status checks, so the builder counts as reachable once C(RUNNING). O(ssh_key) is then an OpenSSH
    public key line and O(access_rule_ids) firewall rule names whose target tags the builder gets.
  - On Azure (O(cloud=azure)) a builder is a Linux VM in the connection's O(resource_group) and O(location), on
    a network interface of its own (and a public IP address with O(public_address=true)); its access rule a
    network security group on that NIC allowing tcp/22 from O(ssh_cidrs), and its SSH key an Ed25519 key whose
    public half is in the VM's OS profile; RV(actions) name them C(network_security_group) and C(ssh_key), and
    the NIC, public address and OS disk a crashed bake left C(resource). O(subnet_id) is a subnet id,
    C(VNET/SUBNET) or a subnet name of the resource group (default its only virtual network's first subnet),
    O(access_rule_ids) one network security group (id or name). The builder counts as reachable once ARM
    reports it provisioned and running.
author:
  - Phoenix maintainers (@phoenix-immutable)
options:
  state:
    description:
      - V(present) launches the builder, or reuses the running one of that name.
      - V(stopped) stops it. V(absent) removes it and what was made for it.
      - V(reaped) removes every expired builder and everything made for one.
    type: str
    choices: [present, stopped, absent, reaped]
    default: present
  name:
    description:
      - The builder's name, usually the bake id. Required unless O(state=reaped).
    type: str
  base_image_id:
    description:
      - The image to launch the builder from.
    type: str
  base_image_name:
    description:
      - A name pattern (glob); the newest available image matching it is the base. Used when
        O(base_image_id) is not given.
    type: str
  base_image_owners:
    description:
      - Accounts whose images O(base_image_name) may match (for example a vendor's). Default your own.
    type: list
    elements: str
    default: []
  machine_type:
    description:
      - The builder's size.
      - Default the cloud's default, a small one (V(t3.micro) on AWS, V(e2-small) on GCP, V(Standard_B2s) on
        Azure).
    type: str
    aliases: [instance_type]
  subnet_id:
    description:
      - The subnet to launch into. Default a default subnet of the region.
    type: str
  access_rule_ids:
    description:
      - Access rules (security groups on AWS) to use instead of creating one for the builder.
    type: list
    elements: str
    default: []
    aliases: [security_group_ids]
  ssh_cidrs:
    description:
      - Address ranges allowed to reach the builder over SSH, in the access rule made for it.
      - Default the range of the builder's subnet, never the whole internet.
    type: list
    elements: str
    default: []
  ssh_key:
    description:
      - An existing SSH key (a key pair name on AWS) to use instead of creating one (its private key is then
        yours to provide).
    type: str
    aliases: [key_name]
  key_dir:
    description:
      - Where the private key of the SSH key made for the builder is written (mode 0600).
    type: path
    default: ~/.ansible/phoenix/builder-keys
  public_address:
    description:
      - Give the builder a public address and connect to it. Off by default.
    type: bool
    default: false
  ttl:
    description:
      - Seconds after launch at which the builder, and what was made for it, may be reaped.
    type: int
    default: 14400
  tags:
    description:
      - Extra tags for the builder and its volumes.
    type: dict
    default: {}
  connection_user:
    description:
      - The user to connect as, returned in RV(connection.user) (the base image's default user).
      - Default the cloud's default (V(ec2-user) on AWS, V(phoenix) on GCP, V(azureuser) on Azure).
    type: str
extends_documentation_fragment:
  - phoenix.immutable.cloud
  - phoenix.immutable.aws
  - phoenix.immutable.gcp
  - phoenix.immutable.azure
  - phoenix.immutable.wait
attributes:
  check_mode:
    support: full
    description: Returns the plan in RV(actions) and launches, stops or removes nothing.
  diff_mode:
    support: none
    description: A builder is launched or removed whole; RV(actions) says which.
"""

EXAMPLES = r"""
- name: Launch a builder from the newest patched base image
  phoenix.immutable.builder:
    name: web-2026-11-25-1
    base_image_name: base-ubuntu-24.04-*
    subnet_id: subnet-0123456789abcdef0
    ssh_cidrs: [10.0.0.0/16]
    connection_user: ubuntu
  register: builder

- name: Stop it before imaging
  phoenix.immutable.builder:
    name: web-2026-11-25-1
    state: stopped

- name: Tear it down, with its access rule and SSH key
  phoenix.immutable.builder:
    name: web-2026-11-25-1
    state: absent

- name: Reap builders that crashed bakes left behind
  phoenix.immutable.builder:
    state: reaped
"""

RETURN = r"""
builder:
  description:
    - The builder instance (for O(state=present) and O(state=stopped)).
    - C(machine_type), C(subnet), C(access_rule_id) and C(ssh_key) are the same on every cloud; on AWS they
      are also under their AWS names C(instance_type), C(subnet_id), C(security_group_id) and C(key_name).
  returned: when a builder exists
  type: dict
  sample:
    cloud: aws
    id: i-0123456789abcdef0
    name: web-2026-11-25-1
    state: running
    image_id: ami-0a1b2c3d4e5f67890
    machine_type: t3.micro
    instance_type: t3.micro
    private_address: 10.0.1.23
    access_rule_id: sg-0123456789abcdef0
    security_group_id: sg-0123456789abcdef0
    expires_at: "2026-11-25T14:00:00Z"
connection:
  description: How to reach the builder.
  returned: for O(state=present) outside check mode
  type: dict
  contains:
    host:
      description: The address to connect to.
      type: str
    user:
      description: The user to connect as.
      type: str
    key_path:
      description: The private key of the SSH key made for the builder; null when O(ssh_key) was given.
      type: str
    instance_id:
      description: The builder's id.
      type: str
  sample: {host: 10.0.1.23, user: ubuntu, key_path: /home/me/.ansible/phoenix/builder-keys/phoenix-builder-web-1.pem,
           instance_id: i-0123456789abcdef0}
base_image:
  description: The base image the builder runs from, in the shape of RV(phoenix.immutable.image#module:image).
  returned: for O(state=present)
  type: dict
actions:
  description: What the task did, or would do in check mode, one entry per change.
  returned: always
  type: list
  elements: dict
  sample:
    - {action: launch_builder, name: web-1, image_id: ami-0a1b2c3d4e5f67890, subnet_id: subnet-0123456789abcdef0}
reaped:
  description: Builders terminated by O(state=absent) or O(state=reaped).
  returned: always
  type: list
  elements: dict
progress:
  description:
    - The progress lines the task reported while it worked (launched, running and waiting for SSH,
      reachable, torn down; during a long wait at most one line every 30 seconds).
  returned: when it reported any
  type: list
  elements: str
  sample:
    - "builder web-1: launched i-0123456789abcdef0 from ami-0a1b2c3d4e5f67890"
    - "builder web-1: i-0123456789abcdef0 running, waiting for ssh"
api_calls:
  description: Cloud API calls this task made, by service and operation.
  returned: always
  type: dict
  sample: {"ec2:RunInstances": 1, "ec2:DescribeInstances": 2}
"""

from ansible_collections.phoenix.immutable.plugins.module_utils.argspec import CONNECTION, WAIT, build
from ansible_collections.phoenix.immutable.plugins.module_utils.builders import BuilderRequest, BuilderWorkflow
from ansible_collections.phoenix.immutable.plugins.module_utils.modules import PhoenixModule
from ansible_collections.phoenix.immutable.plugins.module_utils.providers import builder_backends

ARGUMENT_SPEC = build(
    CONNECTION,
    WAIT,
    state=dict(type="str", default="present", choices=["present", "stopped", "absent", "reaped"]),
    name=dict(type="str"),
    base_image_id=dict(type="str"),
    base_image_name=dict(type="str"),
    base_image_owners=dict(type="list", elements="str", default=[]),
    machine_type=dict(type="str", aliases=["instance_type"]),
    subnet_id=dict(type="str"),
    access_rule_ids=dict(type="list", elements="str", default=[], aliases=["security_group_ids"]),
    ssh_cidrs=dict(type="list", elements="str", default=[]),
    ssh_key=dict(type="str", no_log=False, aliases=["key_name"]),
    key_dir=dict(type="path", default="~/.ansible/phoenix/builder-keys", no_log=False),
    public_address=dict(type="bool", default=False),
    ttl=dict(type="int", default=14400),
    tags=dict(type="dict", default={}),
    connection_user=dict(type="str"),
)


def converge(module):
    params = module.params
    builders, images = builder_backends(params)
    workflow = BuilderWorkflow(
        builders, images, module.waiter(), check_mode=module.check_mode, report=module.progress.report
    )
    state = params["state"]
    if state == "present":
        outcome = workflow.present(
            BuilderRequest(
                name=params["name"],
                base_image_id=params["base_image_id"],
                base_image_name=params["base_image_name"],
                base_image_owners=params["base_image_owners"],
                machine_type=params["machine_type"],
                subnet=params["subnet_id"],
                access_rule_ids=params["access_rule_ids"],
                ssh_cidrs=params["ssh_cidrs"],
                ssh_key=params["ssh_key"],
                key_dir=params["key_dir"],
                public_address=params["public_address"],
                ttl_seconds=params["ttl"],
                tags={str(key): str(value) for key, value in params["tags"].items()},
                user=params["connection_user"],
            )
        )
    elif state == "stopped":
        outcome = workflow.stopped(params["name"])
    elif state == "absent":
        outcome = workflow.absent(params["name"], key_dir=params["key_dir"])
    else:
        outcome = workflow.reap(key_dir=params["key_dir"])
    result = dict(
        changed=outcome.changed, actions=outcome.actions, reaped=outcome.reaped, api_calls=builders.api_calls()
    )
    for key in ("builder", "connection", "base_image"):
        if getattr(outcome, key) is not None:
            result[key] = getattr(outcome, key)
    return result


def main():
    PhoenixModule(
        ARGUMENT_SPEC,
        supports_check_mode=True,
        required_if=[("state", "present", ["name"]), ("state", "stopped", ["name"]), ("state", "absent", ["name"])],
        mutually_exclusive=[("base_image_id", "base_image_name")],
    ).run(converge)


if __name__ == "__main__":
    main()
