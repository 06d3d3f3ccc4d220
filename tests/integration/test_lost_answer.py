"""Lost answers: every mutating call of the bake, signing, promotion and prune, applied but unanswered.

For each flow and each of its mutating calls in turn, the emulator lets moto apply the call once and
answers it with HTTP 500 (`inject_fault(call, after_apply=True)`, see tests/emulators/aws.py): what a
client sees when the cloud did the work and the answer was lost. The collection's retry policy sends
the call again, and the retry meets what the first attempt made. Each run must converge (in the run
itself, or else on a re-run after failing with a PhoenixError), and leave nothing behind that the flow
did not mean to make: no second image, copy, instance, key pair, security group or snapshot, no key
file, no lock.

A fault-free run of each flow first checks that the parametrised list is every mutating call the flow
makes, so a new create cannot slip in untested.
"""

from __future__ import annotations

import pytest
import test_bake
from emulators.lifecycle import Keys, image_exists, make_images, promotion_tags, snapshot_exists, tags_of, write_policy
from test_bake import NOTHING_LEFT, bake_task, leftovers

bake_dir = test_bake.bake_dir  # the bake tests' fixture: a signing key, its policy, a builder root

READS = ("Describe", "List", "Get")
BAKE_NAME = "web-golden-1"
COPY_REGION = "us-west-2"
LOCK_TAGS = ("phoenix:owner", "phoenix:lease-until", "phoenix:rollout")
# The creates of the bake (the other mutating calls are idempotent by nature: tags, stop, delete).
BAKE_CREATES = [
    "ec2:CreateSecurityGroup",
    "ec2:CreateKeyPair",
    "ec2:RunInstances",
    "ec2:CreateImage",
    "ec2:CopyImage",
]

FLOWS = {
    "bake": [
        "ec2:CreateSecurityGroup",
        "ec2:AuthorizeSecurityGroupIngress",
        "ec2:CreateKeyPair",
        "ec2:RunInstances",
        "ec2:StopInstances",
        "ec2:CreateImage",
        "ec2:CopyImage",
        "ec2:CreateTags",
        "ec2:TerminateInstances",
        "ec2:DeleteSecurityGroup",
        "ec2:DeleteKeyPair",
    ],
    "sign": ["ec2:CreateTags"],
    "promote": ["ec2:CreateTags"],
    "withdraw": ["ec2:DeleteTags"],
    "prune_delete": [
        "ec2:DeregisterImage",
        "ec2:DeleteSnapshot",
        "ec2:TerminateInstances",
        "ec2:DeleteSecurityGroup",
        "ec2:DeleteKeyPair",
    ],
    "prune_deprecate": ["ec2:EnableImageDeprecation"],
}
CASES = [(flow, call) for flow, calls in FLOWS.items() for call in [None, *calls]]


def mutating(calls):
    return {key for key, count in calls.items() if count and not key.split(":", 1)[1].startswith(READS)}


def live_instances(aws, region=None):
    live = ["pending", "running", "stopping", "stopped"]
    reservations = aws.client("ec2", region).describe_instances(
        Filters=[{"Name": "instance-state-name", "Values": live}]
    )["Reservations"]
    return sorted(i["InstanceId"] for r in reservations for i in r["Instances"])


def own_images(aws, region=None):
    return aws.client("ec2", region).describe_images(Owners=["self"])["Images"]


def loose_snapshots(aws, region=None):
    """Snapshots of ours that no image of ours refers to."""
    ec2 = aws.client("ec2", region)
    held = {
        mapping["Ebs"]["SnapshotId"]
        for image in own_images(aws, region)
        for mapping in image.get("BlockDeviceMappings", [])
        if mapping.get("Ebs", {}).get("SnapshotId")
    }
    return sorted(
        s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"] if s["SnapshotId"] not in held
    )


def lock_tags(aws):
    found = []
    for region in (None, COPY_REGION):
        for image in own_images(aws, region):
            found += [t["Key"] for t in image.get("Tags", []) if t["Key"] in LOCK_TAGS]
    return found


def census(aws):
    """Live instances and loose snapshots in both regions: a run may end some, never add one."""
    return {
        (kind, region or aws.seed.region, item)
        for region in (None, COPY_REGION)
        for kind, items in (("instance", live_instances(aws, region)), ("snapshot", loose_snapshots(aws, region)))
        for item in items
    }


def failure_text(run):
    return "\n".join(str(record["result"].get("msg", "")) for record in run.failed_tasks())


# -- the flows: each returns (tasks, check); check(aws) asserts the flow's own result -----------------


def bake_flow(aws, playbook, tmp_path, bake_dir):
    def check():
        [image] = [i for i in own_images(aws) if i["Name"] == BAKE_NAME]
        [copy] = [i for i in own_images(aws, COPY_REGION) if i["Name"] == BAKE_NAME]
        assert any(key.startswith("phoenix:sig:") for key in tags_of_image(image))
        copy_tags = tags_of_image(copy)
        assert copy_tags["phoenix:copied-from"] == "%s/%s" % (aws.seed.region, image["ImageId"])
        assert copy_tags["phoenix:bake-id"] == tags_of_image(image)["phoenix:bake-id"]
        assert any(key.startswith("phoenix:sig:") for key in copy_tags)
        assert leftovers(aws) == NOTHING_LEFT
        assert not list((bake_dir / "keys").glob("*.pem"))

    tasks = [
        bake_task(aws, bake_dir, bake_copy_to_regions=[COPY_REGION]),
        {
            "name": "verify",
            "phoenix.immutable.image_verify": {
                "image_id": ["{{ bake_image.id }}"],
                "policy": str(bake_dir / "policy.yml"),
            },
        },
    ]
    return tasks, check


def tags_of_image(image):
    return {tag["Key"]: tag["Value"] for tag in image.get("Tags", [])}


def _keys(tmp_path):
    folder = tmp_path / "keys"
    folder.mkdir(exist_ok=True)
    keys = Keys(folder)
    return keys, write_policy(folder, keys, trusted=["build"], promoters=["release"])


def _sign(image_id, keys):
    return {"name": "sign", "phoenix.immutable.image_sign": {"image_id": image_id, "key": keys.private("build")}}


def _verify(image_id, policy):
    return {"name": "verify", "phoenix.immutable.image_verify": {"image_id": [image_id], "policy": policy}}


def _promote(image_id, keys, policy, title="promote", **options):
    return {
        "name": title,
        "phoenix.immutable.image_channel": {
            "image_id": image_id,
            "channel": "prod",
            "policy": policy,
            "key": keys.private("release"),
            **options,
        },
    }


def sign_flow(aws, playbook, tmp_path, bake_dir):
    keys, policy = _keys(tmp_path)
    image_id = make_images(aws, ["web-1"], [1])["web-1"]
    return [_sign(image_id, keys), _verify(image_id, policy)], lambda: None


def promote_flow(aws, playbook, tmp_path, bake_dir):
    keys, policy = _keys(tmp_path)
    image_id = make_images(aws, ["web-1"], [1])["web-1"]
    setup = playbook([_sign(image_id, keys)])
    assert setup.rc == 0, setup.explain()

    def check():
        assert promotion_tags(aws, image_id, "prod")
        again = playbook([_promote(image_id, keys, policy, title="again")])
        assert again.rc == 0, again.explain()
        result = again.task("again")["result"]
        assert result["promoted"] is True and result["changed"] is False

    return [_promote(image_id, keys, policy)], check


def withdraw_flow(aws, playbook, tmp_path, bake_dir):
    keys, policy = _keys(tmp_path)
    image_id = make_images(aws, ["web-1"], [1])["web-1"]
    setup = playbook([_sign(image_id, keys), _promote(image_id, keys, policy)])
    assert setup.rc == 0, setup.explain()
    assert promotion_tags(aws, image_id, "prod")

    def check():
        assert promotion_tags(aws, image_id, "prod") == {}
        assert any(key.startswith("phoenix:sig:") for key in tags_of(aws, image_id))

    task = {
        "name": "withdraw",
        "phoenix.immutable.image_channel": {"image_id": image_id, "channel": "prod", "state": "absent"},
    }
    return [task], check


def _expired_builder(aws, playbook, tmp_path):
    """A builder made by the builder module (instance, security group, key pair), its expiry backdated."""
    key_dir = tmp_path / "builder-keys"
    run = playbook(
        [
            {
                "name": "builder",
                "phoenix.immutable.builder": {
                    "name": "old-bake",
                    "base_image_id": aws.seed.base_image_id,
                    "key_dir": str(key_dir),
                },
            }
        ]
    )
    assert run.rc == 0, run.explain()
    made = leftovers(aws)
    assert all(len(made[kind]) == 1 for kind in made), made
    ec2 = aws.client("ec2")
    key_id = ec2.describe_key_pairs(KeyNames=made["key_pairs"])["KeyPairs"][0]["KeyPairId"]
    ec2.create_tags(
        Resources=made["instances"] + made["security_groups"] + [key_id],
        Tags=[{"Key": "phoenix:expires-at", "Value": "2020-01-01T00:00:00Z"}],
    )
    return key_dir


def prune_delete_flow(aws, playbook, tmp_path, bake_dir):
    web = make_images(aws, ["web-1", "web-2", "web-3"], [30, 20, 10])
    doomed = {name: _snapshots(aws, web[name]) for name in ("web-1", "web-2")}
    key_dir = _expired_builder(aws, playbook, tmp_path)

    def check():
        for name, snapshots in doomed.items():
            assert not image_exists(aws, web[name])
            assert not any(snapshot_exists(aws, snapshot_id) for snapshot_id in snapshots)
        assert image_exists(aws, web["web-3"])
        assert leftovers(aws) == NOTHING_LEFT
        assert not list(key_dir.glob("*.pem"))

    task = {
        "name": "prune",
        "phoenix.immutable.image_prune": {"name": ["web"], "keep": 1, "action": "delete", "key_dir": str(key_dir)},
    }
    return [task], check


def _snapshots(aws, image_id):
    [image] = aws.client("ec2").describe_images(ImageIds=[image_id])["Images"]
    return [m["Ebs"]["SnapshotId"] for m in image.get("BlockDeviceMappings", []) if m.get("Ebs", {}).get("SnapshotId")]


def prune_deprecate_flow(aws, playbook, tmp_path, bake_dir):
    web = make_images(aws, ["web-1", "web-2", "web-3"], [30, 20, 10])

    def check():
        images = {i["ImageId"]: i for i in own_images(aws)}
        assert images[web["web-1"]].get("DeprecationTime") and images[web["web-2"]].get("DeprecationTime")
        assert not images[web["web-3"]].get("DeprecationTime")

    task = {"name": "prune", "phoenix.immutable.image_prune": {"name": ["web"], "keep": 1, "reap_builders": False}}
    return [task], check


BUILD = {
    "bake": bake_flow,
    "sign": sign_flow,
    "promote": promote_flow,
    "withdraw": withdraw_flow,
    "prune_delete": prune_delete_flow,
    "prune_deprecate": prune_deprecate_flow,
}


@pytest.mark.parametrize("flow, call", CASES, ids=["%s-%s" % (flow, call or "no-fault") for flow, call in CASES])
def test_a_lost_answer_converges_and_leaves_nothing_behind(aws, playbook, tmp_path, bake_dir, flow, call):
    tasks, check = BUILD[flow](aws, playbook, tmp_path, bake_dir)
    before = census(aws)
    own_before = {region: {i["ImageId"] for i in own_images(aws, region)} for region in (None, COPY_REGION)}
    if call is not None:
        aws.emu.inject_fault(call, after_apply=True)
    with aws.emu.counting() as calls:
        run = playbook(tasks, timeout=300)
    if call is None:
        assert run.rc == 0, run.explain()
        assert mutating(calls) == set(FLOWS[flow]), "the flow's mutating calls changed: update FLOWS"
    else:
        assert aws.emu.pending_faults == {}, "the lost answer was never served: %s is not called" % call
        # The retry policy sends the call again and meets what the first attempt made: the run converges
        # by itself. (A run that failed instead would have to fail with a PhoenixError, and a re-run to
        # converge; none needs to.)
        assert run.rc == 0, run.explain()
    check()
    assert census(aws) - before == set(), "left behind"
    # No second image or copy: the only new images are the ones the flow makes (the bake's, one a region).
    for region in (None, COPY_REGION):
        new = [i["Name"] for i in own_images(aws, region) if i["ImageId"] not in own_before[region]]
        assert new == ([BAKE_NAME] if flow == "bake" else []), new
    assert lock_tags(aws) == []


@pytest.mark.parametrize("call", BAKE_CREATES)
def test_a_connection_reset_after_the_cloud_applied_a_create_converges(aws, playbook, tmp_path, bake_dir, call):
    tasks, check = bake_flow(aws, playbook, tmp_path, bake_dir)
    before = census(aws)
    aws.emu.inject_fault(call, after_apply=True, reset=True)
    run = playbook(tasks, timeout=300)
    assert aws.emu.pending_faults == {}
    assert run.rc == 0, run.explain()
    check()
    assert census(aws) - before == set()
    assert [i["Name"] for i in own_images(aws) if i["ImageId"] != aws.seed.base_image_id] == [BAKE_NAME]
    assert [i["Name"] for i in own_images(aws, COPY_REGION)] == [BAKE_NAME]


@pytest.mark.parametrize("call", BAKE_CREATES)
def test_a_create_applied_but_failed_for_good_fails_clearly_leaves_nothing_and_reruns(
    aws,
    playbook,
    tmp_path,
    bake_dir,
    call,
):
    """The cloud made it, then answered with an error that is not retried: nothing may be left over."""
    tasks, check = bake_flow(aws, playbook, tmp_path, bake_dir)
    before = census(aws)
    aws.emu.inject_fault(call, after_apply=True, code="InjectedFinalError", status=400, message="refused for good")
    run = playbook(tasks, timeout=300)
    assert aws.emu.pending_faults == {}
    if run.rc != 0:
        # A PhoenixError names the operation, the cloud's message and code.
        assert "refused for good [InjectedFinalError]" in failure_text(run), run.explain()
        assert leftovers(aws) == NOTHING_LEFT
        assert census(aws) - before == set(), "left behind"
        assert [i["ImageId"] for i in own_images(aws) if i["ImageId"] != aws.seed.base_image_id] == []
        assert own_images(aws, COPY_REGION) == []
        run = playbook(tasks, timeout=300)
    assert run.rc == 0, run.explain()
    check()
    assert census(aws) - before == set()
    assert [i["Name"] for i in own_images(aws) if i["ImageId"] != aws.seed.base_image_id] == [BAKE_NAME]
    assert [i["Name"] for i in own_images(aws, COPY_REGION)] == [BAKE_NAME]
