"""The test ground itself: the moto emulator, its seed and extensions, and the ansible-playbook harness.

Uses only ansible.builtin modules, so it holds whatever state the collection's own modules are in.
"""

from __future__ import annotations

import ipaddress
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError
from harness import PlaybookTimeout, collections_root, run_playbook

REPO_ROOT = Path(__file__).resolve().parents[2]
NO_RETRY = Config(retries={"total_max_attempts": 1})


def tags_of(resource):
    return {tag["Key"]: tag["Value"] for tag in resource.get("Tags", [])}


def test_the_seed_is_a_patched_base_image_and_a_builder_running_from_it(aws, request):
    assert request.node.get_closest_marker("integration") is not None
    seed, ec2 = aws.seed, aws.client("ec2")
    assert seed.account_id == aws.client("sts").get_caller_identity()["Account"]

    [base] = ec2.describe_images(Owners=["self"])["Images"]
    assert (base["ImageId"], base["Name"], base["State"]) == (seed.base_image_id, seed.base_image_name, "available")
    assert base["OwnerId"] == seed.account_id
    assert tags_of(base)["os"] == "ubuntu-24.04"
    [vendor] = ec2.describe_images(ImageIds=[seed.vendor_image_id])["Images"]
    assert vendor["OwnerId"] != seed.account_id and "ubuntu-noble-24.04" in vendor["Name"]

    [reservation] = ec2.describe_instances(InstanceIds=[seed.builder_instance_id])["Reservations"]
    [builder] = reservation["Instances"]
    assert builder["ImageId"] == seed.base_image_id and builder["State"]["Name"] == "running"
    assert builder["SubnetId"] == seed.subnet_ids[0]

    [vpc] = ec2.describe_vpcs(VpcIds=[seed.vpc_id])["Vpcs"]
    assert vpc["IsDefault"] is True
    subnets = ec2.describe_subnets(SubnetIds=list(seed.subnet_ids))["Subnets"]
    assert {subnet["VpcId"] for subnet in subnets} == {seed.vpc_id} and len(subnets) >= 2
    assert all(
        ipaddress.ip_network(subnet["CidrBlock"]).num_addresses - 5 >= seed.subnet_capacity for subnet in subnets
    )
    assert seed.subnet_capacity >= 2000  # room for fleet tests of thousands of instances


def test_reset_forgets_everything_a_test_created(aws):
    ec2 = aws.client("ec2")
    image_id = ec2.create_image(InstanceId=aws.seed.builder_instance_id, Name="leftover")["ImageId"]
    aws.client("autoscaling", "us-west-2").create_launch_configuration(
        LaunchConfigurationName="leftover", ImageId="ami-0c7a1e5b2f4d60a01", InstanceType="t3.micro"
    )
    aws.emu.inject_fault("ec2:DescribeVpcs")
    aws.emu.reset()
    assert aws.calls == {}  # calls and faults are forgotten too
    assert ec2.describe_images(Owners=["self"])["Images"] == []
    assert ec2.describe_images(Filters=[{"Name": "image-id", "Values": [image_id]}])["Images"] == []
    asg = aws.client("autoscaling", "us-west-2")
    assert asg.describe_launch_configurations()["LaunchConfigurations"] == []
    assert aws.client("ec2", config=NO_RETRY).describe_vpcs()["Vpcs"]


def test_a_new_seed_after_reset_has_new_ids(aws):
    aws.emu.reset()
    again = aws.emu.seed()
    assert again.base_image_id != aws.seed.base_image_id
    assert again.builder_instance_id != aws.seed.builder_instance_id
    assert again.vpc_id and again.subnet_ids


def test_image_deprecation_is_stored_and_returned_by_describe_images(aws):
    ec2, image_id = aws.client("ec2"), aws.seed.base_image_id
    at = (datetime.now(UTC) + timedelta(days=30)).replace(hour=12, minute=34, second=56, microsecond=0)
    assert ec2.enable_image_deprecation(ImageId=image_id, DeprecateAt=at)["Return"] is True
    [image] = ec2.describe_images(ImageIds=[image_id])["Images"]
    assert image["DeprecationTime"] == at.strftime("%Y-%m-%dT12:34:00.000Z")  # seconds dropped

    assert ec2.disable_image_deprecation(ImageId=image_id)["Return"] is True
    [image] = ec2.describe_images(ImageIds=[image_id])["Images"]
    assert "DeprecationTime" not in image


@pytest.mark.parametrize(
    "image_id, days, code",
    [
        ("ami-0123456789abcdef0", 30, "InvalidAMIID.NotFound"),
        ("not-an-image", 30, "InvalidAMIID.Malformed"),
        (None, -1, "InvalidParameterValue"),
        (None, 11 * 366, "InvalidParameterValue"),
    ],
)
def test_image_deprecation_refuses_what_ec2_refuses(aws, image_id, days, code):
    ec2 = aws.client("ec2")
    with pytest.raises(ClientError) as raised:
        ec2.enable_image_deprecation(
            ImageId=image_id or aws.seed.base_image_id, DeprecateAt=datetime.now(UTC) + timedelta(days=days)
        )
    assert raised.value.response["Error"]["Code"] == code
    if image_id:
        with pytest.raises(ClientError, match=code.replace(".", r"\.")):
            ec2.disable_image_deprecation(ImageId=image_id)


def test_calls_are_counted_by_service_and_action(aws):
    assert aws.calls == {}  # the seed's calls are not counted
    ec2 = aws.client("ec2")
    ec2.describe_images(Owners=["self"])
    ec2.describe_images(ImageIds=[aws.seed.base_image_id])
    aws.client("autoscaling").describe_auto_scaling_groups()
    aws.client("kms").list_keys()
    with aws.emu.counting() as inside:
        aws.client("cloudwatch").describe_alarms()
    assert aws.calls == {
        "ec2:DescribeImages": 2,
        "autoscaling:DescribeAutoScalingGroups": 1,
        "kms:ListKeys": 1,
        "monitoring:DescribeAlarms": 1,
    }
    assert inside == {"monitoring:DescribeAlarms": 1}
    aws.emu.reset_calls()
    assert aws.calls == {}


@pytest.mark.parametrize(
    "service, call, invoke, code, status",
    [
        ("ec2", "ec2:DescribeImages", lambda c: c.describe_images(Owners=["self"]), "RequestLimitExceeded", 503),
        (
            "autoscaling",
            "autoscaling:DescribeAutoScalingGroups",
            lambda c: c.describe_auto_scaling_groups(),
            "Throttling",
            400,
        ),
        ("kms", "kms:ListKeys", lambda c: c.list_keys(), "ThrottlingException", 400),
        ("cloudwatch", "monitoring:DescribeAlarms", lambda c: c.describe_alarms(), "ThrottlingException", 400),
    ],
)
def test_injected_faults_answer_the_next_calls_in_the_protocols_format(aws, service, call, invoke, code, status):
    client = aws.client(service, config=NO_RETRY)
    aws.emu.inject_fault(call, times=2)
    for _attempt in range(2):
        with pytest.raises(ClientError) as raised:
            invoke(client)
        assert raised.value.response["Error"]["Code"] == code
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    invoke(client)
    assert aws.calls[call] == 3


def test_an_sdk_with_retries_gets_through_injected_throttling(aws):
    aws.emu.inject_fault("ec2:DescribeImages", times=2)
    ec2 = aws.client("ec2", config=Config(retries={"mode": "standard", "total_max_attempts": 3}))
    [image] = ec2.describe_images(ImageIds=[aws.seed.base_image_id])["Images"]
    assert image["ImageId"] == aws.seed.base_image_id
    assert aws.calls == {"ec2:DescribeImages": 3}


def _create_group(aws):
    ec2 = aws.client("ec2")
    ec2.create_launch_template(LaunchTemplateName="lost-answer", LaunchTemplateData={"ImageId": aws.seed.base_image_id})
    aws.client("autoscaling", config=NO_RETRY).create_auto_scaling_group(
        AutoScalingGroupName="lost-answer",
        LaunchTemplate={"LaunchTemplateName": "lost-answer", "Version": "$Latest"},
        MinSize=0,
        MaxSize=1,
        DesiredCapacity=0,
        VPCZoneIdentifier=aws.seed.subnet_ids[0],
    )


def _group_exists(aws):
    groups = aws.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=["lost-answer"])
    return len(groups["AutoScalingGroups"]) == 1


def _create_security_group(aws):
    aws.client("ec2", config=NO_RETRY).create_security_group(
        GroupName="lost-answer", Description="lost answer", VpcId=aws.seed.vpc_id
    )


def _security_group_exists(aws):
    groups = aws.client("ec2").describe_security_groups(Filters=[{"Name": "group-name", "Values": ["lost-answer"]}])
    return len(groups["SecurityGroups"]) == 1


def _create_alias(aws):
    kms = aws.client("kms")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    aws.client("kms", config=NO_RETRY).create_alias(AliasName="alias/lost-answer", TargetKeyId=key_id)


def _alias_exists(aws):
    aliases = aws.client("kms").list_aliases()["Aliases"]
    return any(alias["AliasName"] == "alias/lost-answer" for alias in aliases)


@pytest.mark.parametrize(
    "call, create, exists, code",
    [
        ("autoscaling:CreateAutoScalingGroup", _create_group, _group_exists, "InternalFailure"),
        ("ec2:CreateSecurityGroup", _create_security_group, _security_group_exists, "InternalError"),
        ("kms:CreateAlias", _create_alias, _alias_exists, "InternalFailure"),
    ],
)
def test_a_lost_answer_is_applied_by_the_emulator_while_the_client_sees_an_error(aws, call, create, exists, code):
    aws.emu.inject_fault(call, after_apply=True)
    assert not exists(aws)
    with pytest.raises(ClientError) as raised:
        create(aws)
    assert raised.value.response["Error"]["Code"] == code
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert exists(aws)  # applied although the client was told it failed
    assert aws.calls[call] == 1  # counted: the client sent it
    assert aws.emu.pending_faults == {}  # spent


def test_a_reset_after_apply_gives_the_client_no_answer_and_keeps_the_change(aws):
    aws.emu.inject_fault("ec2:CreateSecurityGroup", after_apply=True, reset=True)
    with pytest.raises(ConnectionClosedError):
        _create_security_group(aws)
    assert _security_group_exists(aws)
    assert aws.calls["ec2:CreateSecurityGroup"] == 1


def test_a_reset_before_apply_changes_nothing(aws):
    aws.emu.inject_fault("ec2:CreateSecurityGroup", reset=True)
    with pytest.raises(ConnectionClosedError):
        _create_security_group(aws)
    assert not _security_group_exists(aws)
    assert aws.calls["ec2:CreateSecurityGroup"] == 1


def test_a_playbook_returns_its_task_results_as_data(capsys):
    run = run_playbook(
        [
            {"name": "compute", "ansible.builtin.set_fact": {"answer": "{{ base * 2 }}"}},
            {"name": "say", "ansible.builtin.debug": {"msg": "{{ answer }} {{ words | join('-') }}"}},
            {"name": "not now", "ansible.builtin.debug": {"msg": "never"}, "when": False},
            {"name": "touch", "ansible.builtin.command": "true", "changed_when": True},
        ],
        extra_vars={"base": 21, "words": ["a", "b"]},
        stream=True,
    )
    assert run.rc == 0, run.explain()
    assert [(record["task"], record["status"]) for record in run.tasks] == [
        ("compute", "ok"),
        ("say", "ok"),
        ("not now", "skipped"),
        ("touch", "changed"),
    ]
    assert run.task("compute")["result"]["ansible_facts"] == {"answer": 42}
    say = run.task("say")
    assert (say["result"]["msg"], say["action"], say["host"], say["play"]) == (
        "42 a-b",
        "ansible.builtin.debug",
        "localhost",
        "harness",
    )
    assert run.task("touch")["result"]["changed"] is True and run.task("touch")["result"]["failed"] is False
    assert run.stats["localhost"]["changed"] == 1 and run.stats["localhost"]["skipped"] == 1
    assert run.failed_tasks() == []
    assert "PLAY RECAP" in capsys.readouterr().out  # stream=True copied ansible's output


def test_a_failing_task_is_reported_failed_and_explained():
    run = run_playbook(
        [
            {"name": "tolerated", "ansible.builtin.fail": {"msg": "first"}, "ignore_errors": True},
            {"name": "broken", "ansible.builtin.fail": {"msg": "image ami-1 is in use"}},
            {"name": "never reached", "ansible.builtin.debug": {"msg": "no"}},
        ]
    )
    assert run.rc != 0
    broken = run.task("broken")
    assert broken["status"] == "failed" and broken["ignore_errors"] is False
    assert broken["result"]["failed"] is True and broken["result"]["msg"] == "image ami-1 is in use"
    assert [record["task"] for record in run.failed_tasks()] == ["tolerated", "broken"]
    assert [record["task"] for record in run.failed_tasks(include_ignored=False)] == ["broken"]
    assert run.stats["localhost"]["failures"] == 1 and run.stats["localhost"]["ignored"] == 1
    explained = run.explain()
    assert "FAILED: broken [ansible.builtin.fail] on localhost: image ami-1 is in use" in explained
    assert "PLAY RECAP" in explained and "generated playbook:" in explained
    assert "failed=['tolerated', 'broken']" in repr(run)
    with pytest.raises(KeyError, match=r"no task 'never reached'.*'tolerated', 'broken'"):
        run.task("never reached")


def processes_running(argv):
    wanted = "\0".join(argv).encode() + b"\0"
    running = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if cmdline.read_bytes() == wanted:
                running.append(cmdline.parent.name)
        except OSError:
            continue
    return running


def test_a_playbook_file_runs_and_a_timeout_ends_it_and_its_task(tmp_path):
    seconds = "%d" % (600 + os.getpid() % 1000)  # an argv of our own to look for
    path = tmp_path / "slow.yml"
    path.write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - name: wait\n      ansible.builtin.command: sleep %s\n" % seconds,
        encoding="utf-8",
    )
    with pytest.raises(PlaybookTimeout) as raised:
        run_playbook(path, timeout=3)
    assert raised.value.run.rc != 0 and "TASK [wait]" in raised.value.run.stdout
    deadline = time.monotonic() + 10
    while processes_running(["sleep", seconds]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_running(["sleep", seconds]) == []
    with pytest.raises(TypeError, match="module_defaults"):
        run_playbook(path, module_defaults={"group/phoenix.immutable.aws": {}})


def test_the_playbook_fixture_points_the_sdk_at_the_emulator_and_nowhere_else(aws, playbook, monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "real-production")
    monkeypatch.setenv("ANSIBLE_STDOUT_CALLBACK", "json")
    monkeypatch.setenv("HARNESS_PROBE", "kept")
    monkeypatch.setenv("HARNESS_GONE", "removed by env=None")
    script = (
        "import boto3; ec2 = boto3.client('ec2'); print(ec2.describe_images(Owners=['self'])['Images'][0]['ImageId'])"
    )
    run = playbook(
        [
            {
                "name": "env",
                "ansible.builtin.debug": {
                    "msg": "{{ lookup('env', 'AWS_ENDPOINT_URL', 'AWS_PROFILE', 'HARNESS_PROBE', 'HARNESS_GONE') }}"
                },
            },
            {"name": "sdk", "ansible.builtin.command": {"argv": [sys.executable, "-c", script]}},
        ],
        env={"HARNESS_GONE": None},
    )
    assert run.rc == 0, run.explain()
    assert run.task("env")["result"]["msg"] == "%s,,kept," % aws.emu.endpoint_url
    assert run.task("sdk")["result"]["stdout"] == aws.seed.base_image_id
    assert aws.calls == {"ec2:DescribeImages": 1}
    assert "group/phoenix.immutable.aws" in run.playbook_text and aws.emu.endpoint_url in run.playbook_text
    assert "PLAY RECAP" in run.stdout  # the default stdout callback, not the caller's


def test_the_collection_is_importable_from_the_symlink_tree():
    from ansible_collections.phoenix.immutable import plugins

    link = collections_root() / "ansible_collections" / "phoenix" / "immutable"
    assert link.is_symlink() and link.resolve() == REPO_ROOT
    assert [Path(entry).resolve() for entry in plugins.__path__] == [REPO_ROOT / "plugins"]
