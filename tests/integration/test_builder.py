"""phoenix.immutable.builder through ansible-playbook against the moto server.

Each test asserts on the module's result and on the instances, security groups and key pairs read back
through boto3.
"""

from __future__ import annotations

import datetime
import os
import stat
import time

import pytest

BUILDER_TAG = "phoenix:builder"


def builder_task(title="builder", **options):
    return {"name": title, "phoenix.immutable.builder": options}


def run_ok(playbook, *tasks, **options):
    run = playbook(list(tasks), **options)
    assert run.rc == 0, run.explain()
    return run


def live_builders(aws, name=None):
    filters = [{"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}]
    filters.append(
        {"Name": "tag:%s" % BUILDER_TAG, "Values": [name]} if name else {"Name": "tag-key", "Values": [BUILDER_TAG]}
    )
    reservations = aws.client("ec2").describe_instances(Filters=filters)["Reservations"]
    return [instance for reservation in reservations for instance in reservation["Instances"]]


def builder_groups(aws):
    return aws.client("ec2").describe_security_groups(Filters=[{"Name": "tag-key", "Values": [BUILDER_TAG]}])[
        "SecurityGroups"
    ]


def builder_keys(aws):
    return aws.client("ec2").describe_key_pairs(Filters=[{"Name": "tag-key", "Values": [BUILDER_TAG]}])["KeyPairs"]


def tags_of(resource):
    return {tag["Key"]: tag["Value"] for tag in resource.get("Tags", [])}


@pytest.fixture
def key_dir(tmp_path):
    return str(tmp_path / "keys")


def test_launch_from_a_base_image_creates_group_key_and_tagged_instance(aws, playbook, key_dir):
    run = run_ok(
        playbook,
        builder_task(
            name="bake-1", base_image_id=aws.seed.base_image_id, key_dir=key_dir, ttl=3600, connection_user="ubuntu"
        ),
    )
    result = run.task("builder")["result"]
    assert result["changed"] is True
    assert [action["action"] for action in result["actions"]] == [
        "launch_builder",
        "create_security_group",
        "create_key_pair",
    ]
    [instance] = live_builders(aws, "bake-1")
    assert instance["ImageId"] == aws.seed.base_image_id
    assert instance["InstanceType"] == "t3.micro"
    assert "PublicIpAddress" not in instance or not instance["PublicIpAddress"]
    tags = tags_of(instance)
    expires = datetime.datetime.fromisoformat(tags["phoenix:expires-at"].replace("Z", "+00:00"))
    remaining = expires - datetime.datetime.now(datetime.UTC)
    assert datetime.timedelta(minutes=55) < remaining <= datetime.timedelta(hours=1)

    [group] = builder_groups(aws)
    [interface] = instance["NetworkInterfaces"]
    assert [g["GroupId"] for g in interface["Groups"]] == [group["GroupId"]]
    assert result["builder"]["security_group_id"] == group["GroupId"]
    [rule] = group["IpPermissions"]
    assert rule["FromPort"] == 22 and [r["CidrIp"] for r in rule["IpRanges"]] != ["0.0.0.0/0"]
    [key] = builder_keys(aws)
    assert instance["KeyName"] == key["KeyName"]

    connection = result["connection"]
    assert connection["host"] == instance["PrivateIpAddress"] and connection["user"] == "ubuntu"
    assert connection["instance_id"] == instance["InstanceId"]
    assert stat.S_IMODE(os.stat(connection["key_path"]).st_mode) == 0o600
    assert result["base_image"]["id"] == aws.seed.base_image_id


def test_present_again_reuses_the_running_builder(aws, playbook, key_dir):
    task = builder_task(name="bake-1", base_image_id=aws.seed.base_image_id, key_dir=key_dir)
    first = run_ok(playbook, task).task("builder")["result"]
    again = run_ok(playbook, task).task("builder")["result"]
    assert again["changed"] is False and again["actions"] == []
    assert again["builder"]["id"] == first["builder"]["id"]
    assert again["connection"]["key_path"] == first["connection"]["key_path"]
    assert not any(call.startswith(("ec2:Run", "ec2:Create")) for call in again["api_calls"])
    assert len(live_builders(aws, "bake-1")) == 1


def test_the_newest_base_image_matching_a_name_is_chosen(aws, playbook, key_dir):
    ec2 = aws.client("ec2")
    newer = ec2.create_image(InstanceId=aws.seed.builder_instance_id, Name="phoenix-base-ubuntu-24.04-patched-2")[
        "ImageId"
    ]
    run = run_ok(playbook, builder_task(name="bake-2", base_image_name="phoenix-base-ubuntu-24.04-*", key_dir=key_dir))
    assert run.task("builder")["result"]["base_image"]["id"] in (newer, aws.seed.base_image_id)
    [instance] = live_builders(aws, "bake-2")
    images = ec2.describe_images(ImageIds=[newer, aws.seed.base_image_id])["Images"]
    newest = max(images, key=lambda image: (image["CreationDate"], image["ImageId"]))
    assert instance["ImageId"] == newest["ImageId"]


def test_check_mode_plans_and_launches_nothing(aws, playbook, key_dir):
    run = run_ok(
        playbook, builder_task(name="bake-1", base_image_id=aws.seed.base_image_id, key_dir=key_dir), check=True
    )
    result = run.task("builder")["result"]
    assert result["changed"] is True and result["actions"][0]["action"] == "launch_builder"
    assert live_builders(aws) == [] and builder_groups(aws) == [] and builder_keys(aws) == []
    assert not os.path.exists(key_dir)


def test_stop_then_absent_removes_the_builder_its_group_its_key_and_the_key_file(aws, playbook, key_dir):
    launched = run_ok(playbook, builder_task(name="bake-1", base_image_id=aws.seed.base_image_id, key_dir=key_dir))
    key_path = launched.task("builder")["result"]["connection"]["key_path"]
    stopped = run_ok(playbook, builder_task(name="bake-1", state="stopped")).task("builder")["result"]
    assert stopped["changed"] is True and stopped["builder"]["state"] == "stopped"
    [instance] = live_builders(aws, "bake-1")
    assert instance["State"]["Name"] == "stopped"

    removed = run_ok(playbook, builder_task(name="bake-1", state="absent", key_dir=key_dir)).task("builder")["result"]
    assert removed["changed"] is True
    assert {action["action"] for action in removed["actions"]} == {
        "terminate_builder",
        "delete_security_group",
        "delete_key_pair",
    }
    assert live_builders(aws) == [] and builder_groups(aws) == [] and builder_keys(aws) == []
    assert not os.path.exists(key_path)
    again = run_ok(playbook, builder_task(name="bake-1", state="absent", key_dir=key_dir)).task("builder")["result"]
    assert again["changed"] is False


def test_reaping_removes_only_expired_builders_and_their_leftovers(aws, playbook, key_dir):
    run_ok(
        playbook,
        builder_task("old", name="crashed", base_image_id=aws.seed.base_image_id, key_dir=key_dir, ttl=1),
        builder_task("young", name="baking", base_image_id=aws.seed.base_image_id, key_dir=key_dir, ttl=3600),
    )
    # A crash after the security group was made and before the launch: a leftover with an expiry.
    ec2 = aws.client("ec2")
    ec2.create_security_group(
        GroupName="phoenix-builder-lost",
        Description="lost",
        VpcId=aws.seed.vpc_id,
        TagSpecifications=[
            {
                "ResourceType": "security-group",
                "Tags": [
                    {"Key": BUILDER_TAG, "Value": "lost"},
                    {"Key": "phoenix:expires-at", "Value": "2020-01-01T00:00:00Z"},
                ],
            }
        ],
    )
    [crashed] = live_builders(aws, "crashed")
    expiry = datetime.datetime.fromisoformat(tags_of(crashed)["phoenix:expires-at"].replace("Z", "+00:00"))
    deadline = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=30)
    while datetime.datetime.now(datetime.UTC) <= expiry:
        assert datetime.datetime.now(datetime.UTC) < deadline
        time.sleep(0.1)

    reaped = run_ok(playbook, builder_task("reap", state="reaped", key_dir=key_dir)).task("reap")["result"]
    assert [builder["name"] for builder in reaped["reaped"]] == ["crashed"]
    assert [instance["InstanceId"] for instance in live_builders(aws)] == [
        instance["InstanceId"] for instance in live_builders(aws, "baking")
    ]
    assert {tags_of(group)[BUILDER_TAG] for group in builder_groups(aws)} == {"baking"}
    assert {tags_of(key)[BUILDER_TAG] for key in builder_keys(aws)} == {"baking"}


def test_a_failed_launch_leaves_nothing_behind(aws, playbook, key_dir):
    aws.emu.inject_fault("ec2:RunInstances", code="Unsupported", status=400, message="t3.micro is not offered here")
    run = playbook([builder_task(name="bake-1", base_image_id=aws.seed.base_image_id, key_dir=key_dir)])
    assert run.rc != 0
    assert "RunInstances" in run.task("builder")["result"]["msg"]
    assert live_builders(aws) == [] and builder_groups(aws) == [] and builder_keys(aws) == []
    assert not os.listdir(key_dir)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"base_image_id": "ami-0123456789abcdef0"}, "base image ami-0123456789abcdef0 not found"),
        ({"base_image_name": "no-such-image-*"}, "no available image matches"),
        ({"ttl": 0}, "ttl 0s is out of range"),
        ({"tags": {"x": "v" * 300}}, "at most 256"),
        ({}, "give base_image_id, or base_image_name"),
    ],
)
def test_bad_input_fails_clearly_and_creates_nothing(aws, playbook, key_dir, options, message):
    run = playbook([builder_task(name="bake-1", key_dir=key_dir, **options)])
    assert run.rc != 0
    assert message in run.task("builder")["result"]["msg"]
    assert live_builders(aws) == [] and builder_groups(aws) == [] and builder_keys(aws) == []


def test_without_a_machine_type_or_user_the_aws_defaults_apply_and_tags_keep_their_aws_names(aws, playbook, key_dir):
    result = run_ok(playbook, builder_task(name="bake-1", base_image_id=aws.seed.base_image_id, key_dir=key_dir)).task(
        "builder"
    )["result"]
    [instance] = live_builders(aws, "bake-1")
    assert instance["InstanceType"] == "t3.micro"
    assert result["builder"]["machine_type"] == result["builder"]["instance_type"] == "t3.micro"
    assert result["actions"][0]["machine_type"] == result["actions"][0]["instance_type"] == "t3.micro"
    assert result["connection"]["user"] == "ec2-user"
    [group] = builder_groups(aws)
    [key] = builder_keys(aws)
    tags = tags_of(instance)
    # The names earlier releases wrote, so what they left is found and reaped as before.
    assert tags["phoenix:builder-security-group"] == group["GroupId"]
    assert tags["phoenix:builder-key"] == key["KeyName"]
    assert "phoenix:builder-access-rule" not in tags and "phoenix:builder-ssh-key" not in tags
    assert tags["Name"] == "phoenix-builder-bake-1"
    assert result["builder"]["access_rule_id"] == result["builder"]["security_group_id"] == group["GroupId"]
    assert result["builder"]["ssh_key"] == result["builder"]["key_name"] == key["KeyName"]
    assert result["builder"]["owned_access_rule"] == group["GroupId"]


def _own_group_and_key(aws, suffix):
    ec2 = aws.client("ec2")
    group_id = ec2.create_security_group(GroupName="mine-%s" % suffix, Description="mine", VpcId=aws.seed.vpc_id)[
        "GroupId"
    ]
    ec2.create_key_pair(KeyName="mine-%s" % suffix)
    return group_id, "mine-%s" % suffix


@pytest.mark.parametrize(
    "names",
    [
        ("instance_type", "security_group_ids", "key_name"),
        ("machine_type", "access_rule_ids", "ssh_key"),
    ],
    ids=["aws-aliases", "neutral-names"],
)
def test_the_aws_option_names_are_aliases_of_the_neutral_ones(aws, playbook, key_dir, names):
    group_id, key_name = _own_group_and_key(aws, names[0])
    machine_type, rule_ids, ssh_key = names
    options = {machine_type: "t3.small", rule_ids: [group_id], ssh_key: key_name}
    result = run_ok(
        playbook, builder_task(name="bake-1", base_image_id=aws.seed.base_image_id, key_dir=key_dir, **options)
    ).task("builder")["result"]
    assert [action["action"] for action in result["actions"]] == ["launch_builder"]
    [instance] = live_builders(aws, "bake-1")
    assert instance["InstanceType"] == "t3.small"
    assert instance["KeyName"] == key_name
    assert [g["GroupId"] for g in instance["NetworkInterfaces"][0]["Groups"]] == [group_id]
    assert result["connection"]["key_path"] is None
    assert builder_groups(aws) == [] and builder_keys(aws) == []
