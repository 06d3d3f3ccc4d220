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
  - With O(sign), each copy is signed as soon as it arrives, and the image itself last, once every copy is
    there and signed, so an image signed with that key is a finished one; signing is the same as
    M(phoenix.immutable.image_sign)'s (the same statement, envelope and tags).
  - A copy that fails does not stop the others. The task then fails naming each failed region, and
    its result still lists the copies that succeeded (available and, with O(sign), signed) in RV(copies)
    and the failed ones in RV(failed_copies). They are kept, and a second run finds them by name and copies
    only what failed.
  - While it waits, the task reports one line per phase (the image available, each copy arrived and
    signed) and, during a long wait, at most one line every 30 seconds; they are shown on the controller
    as they come and returned in RV(progress).
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
  provenance:
    description:
      - How the image was made, by name (for example C(bake-id), C(git-revision)); values are turned into strings.
      - Written when the image is created, as the collection's own metadata through the cloud's syntax (on AWS
        the tag C(phoenix:<name>), on GCP the label C(phoenix_-<name>)), never purged; an existing image keeps the
        provenance it was made with. M(phoenix.immutable.image_info) returns it by name (each image's C(provenance)).
      - A value longer than one tag or label holds (256 characters on AWS, 63 label characters on GCP) is
        stored whole in numbered chunks, never cut. Names the collection uses itself (C(managed), C(sig),
        C(source-image) and the like) are refused before any change.
    type: dict
    default: {}
  family:
    description:
      - The image family a new image joins, so that its versions are found by one name, the newest first.
      - On GCP, Compute's own image family (the image's C(family) field; an instance template or a MIG naming
        C(projects/P/global/images/family/F) launches the newest image of the family that is not deprecated). On
        AWS, which has no families, the tag C(phoenix:family).
      - Given when the image is made; an image that exists already keeps its family (a warning says so when
        it differs). A name GCP would refuse is refused before any change.
    type: str
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
  stop_instance:
    description:
      - Stop O(instance_id) and wait until it is stopped before imaging it, so that nothing runs on the
        builder between its clean-up and the snapshot and the snapshot needs no reboot.
      - Only when the image is created; an existing image leaves the instance as it is.
    type: bool
    default: false
  sign:
    description:
      - Sign each copy as soon as it is available and then the image itself (an in-toto statement in a
        DSSE envelope stored in the image's tags; see M(phoenix.immutable.image_sign)). An image already
        signed by this key with the same claims is left as it is.
    type: dict
    suboptions:
      key:
        description:
          - Path of a PEM private key (Ed25519 or ECDSA P-256). Exactly one of O(sign.key) and O(sign.kms_key).
        type: path
      key_passphrase:
        description: Passphrase of an encrypted O(sign.key). Never logged.
        type: str
      kms_key:
        description:
          - A cloud KMS key (on AWS a key id, ARN or alias of an C(ECC_NIST_P256) C(SIGN_VERIFY) key).
          - A key ARN signs in its own region; an alias or id is resolved in the region of each image
            signed, so the copies need a multi-region key or a key of that alias in each region.
        type: str
      claims:
        description: Build facts signed with the image (see O(phoenix.immutable.image_sign#module:claims)).
        type: dict
        default: {}
      attest:
        description:
          - Attest these results about each image, with the same key, before signing it (as
            M(phoenix.immutable.image_attest) does), so that an image signed by this key is one that carries
            them (a run stopped between the two leaves an unsigned image).
          - The documents are read before anything is imaged; a missing or malformed one fails the task first.
        type: dict
        suboptions:
          sbom:
            description: The path of the image's CycloneDX JSON SBOM (M(phoenix.immutable.image_sbom)'s C(dest)).
            type: path
          vuln_scan:
            description: The path of the vulnerability scan (M(phoenix.immutable.vuln_scan)'s C(dest)).
            type: path
          compliance:
            description: The path of the compliance result (M(phoenix.immutable.compliance_scan)'s C(dest)).
            type: path
          store:
            description:
              - The attestation store, as O(phoenix.immutable.image_attest#module:store) (required on GCP).
            type: dict
            suboptions:
              container:
                description: The bucket or container.
                type: str
                required: true
              prefix:
                description: The key prefix of the objects.
                type: str
                default: phoenix-attestations/
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
  - phoenix.immutable.gcp
  - phoenix.immutable.azure
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

- name: Stop the builder, image it, copy it to two regions and sign the image and each copy as it arrives
  phoenix.immutable.image:
    name: web-2026-11-24-2
    instance_id: "{{ builder.instance_id }}"
    stop_instance: true
    copy_to_regions: [eu-west-1, ap-southeast-2]
    sign:
      key: /etc/phoenix/keys/build.pem
      claims: {tests: passed}
  register: signed_golden

- name: On GCP, image the builder into the family web, which instance templates name as family/web
  phoenix.immutable.image:
    cloud: gcp
    name: web-2026-11-24-3
    family: web
    instance_id: "{{ builder.builder.id }}"
    stop_instance: true
    sign:
      key: /etc/phoenix/keys/build.pem

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
    family: {description: "The image family it was made in (see O(family)), or null.", type: str}
    cloud_state: {description: The state as the cloud names it., type: str}
    state_reason: {description: "Why the image failed, when it did.", type: str}
  sample:
    cloud: aws
    id: ami-0a1b2c3d4e5f67890
    name: web-2026-11-24-1
    region: us-east-1
    state: available
copies:
  description:
    - The copies in O(copy_to_regions), in the same shape as RV(image).
    - On a failed copy, the task fails and this lists the copies that succeeded.
  returned: always
  type: list
  elements: dict
failed_copies:
  description: The copies that failed (then the task fails), with the copy's id if it was started.
  returned: when a copy failed
  type: list
  elements: dict
  sample:
    - {region: eu-west-1, id: ami-0456789abcdef0123, error: "image ami-0456789abcdef0123 ... failed: ..."}
signatures:
  description:
    - With O(sign), one entry per image signed or found signed, the image first, then the copies.
    - With O(sign.attest), each entry's C(attestations) lists what was attested about that image before it was
      signed, as RV(phoenix.immutable.image_attest#module:attestations).
  returned: always
  type: list
  elements: dict
  sample:
    - {image_id: ami-0a1b2c3d4e5f67890, region: us-east-1, keyid: 3c1b5e0f..., statement_digest: 9f2c..., changed: true}
progress:
  description: The progress lines the task reported while it worked.
  returned: when it reported any
  type: list
  elements: str
  sample:
    - "ami-0a1b2c3d4e5f67890: available in 40 s"
    - "ami-0a1b2c3d4e5f67890: copy to eu-west-1 → ami-0456789abcdef0123 available in 212 s, signed (1/2)"
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

from ansible_collections.phoenix.immutable.plugins.module_utils.argspec import (
    ATTESTATION_STORE,
    CONNECTION,
    WAIT,
    build,
)
from ansible_collections.phoenix.immutable.plugins.module_utils.images import (
    ImageRequest,
    ImageSigning,
    ImageWorkflow,
)
from ansible_collections.phoenix.immutable.plugins.module_utils.modules import PhoenixModule
from ansible_collections.phoenix.immutable.plugins.module_utils.providers import provider

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
    provenance=dict(type="dict", default={}),
    family=dict(type="str"),
    copy_to_regions=dict(type="list", elements="str", default=[]),
    no_reboot=dict(type="bool", default=False),
    stop_instance=dict(type="bool", default=False),
    sign=dict(
        type="dict",
        options=dict(
            key=dict(type="path", no_log=False),
            key_passphrase=dict(type="str", no_log=True),
            kms_key=dict(type="str", no_log=False),
            claims=dict(type="dict", default={}),
            attest=dict(
                type="dict",
                options=dict(
                    sbom=dict(type="path"),
                    vuln_scan=dict(type="path"),
                    compliance=dict(type="path"),
                    **ATTESTATION_STORE,
                ),
                required_one_of=[("sbom", "vuln_scan", "compliance")],
            ),
        ),
        mutually_exclusive=[("key", "kms_key")],
        required_one_of=[("key", "kms_key")],
    ),
    force=dict(type="bool", default=False),
    deprecate_at=dict(type="str"),
)


def signing(options, check_mode, cloud):
    """The ImageSigning of the sign option (None without it): signs the way image_sign does, after attesting
    what sign.attest names the way image_attest does."""
    if not options:
        return None
    # Imported only when signing: cryptography and the trust policy are not needed otherwise.
    from ansible_collections.phoenix.immutable.plugins.module_utils.attest import image_attester
    from ansible_collections.phoenix.immutable.plugins.module_utils.providers import signing_key_backend_for
    from ansible_collections.phoenix.immutable.plugins.module_utils.trust import local_signer

    attest = image_attester(options["attest"], cloud, check_mode)
    if options["key"]:
        signer = local_signer(options["key"], options["key_passphrase"] or None)
        return ImageSigning(lambda backend: signer, options["claims"], check_mode=check_mode, attest=attest)
    return ImageSigning(
        lambda backend: signing_key_backend_for(backend).signer(options["kms_key"]),
        options["claims"],
        check_mode=check_mode,
        attest=attest,
    )


def converge(module):
    params = module.params
    cloud = provider(params)
    backend = cloud.images()
    workflow = ImageWorkflow(backend, module.waiter(), check_mode=module.check_mode, report=module.progress.report)
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
                stop_instance=params["stop_instance"],
                provenance={str(key): str(value) for key, value in params["provenance"].items()},
                family=params["family"],
            ),
            signing=signing(params["sign"], module.check_mode, cloud),
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
        signatures=outcome.signatures,
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
            ("stop_instance", True, ["instance_id"]),
        ],
        mutually_exclusive=[("name", "image_id")],
    )
    module.run(converge)


if __name__ == "__main__":
    main()
