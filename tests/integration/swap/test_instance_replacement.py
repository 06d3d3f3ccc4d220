"""Replacing an instance of a group through the AWS InstanceBackend, against moto: one already gone is fine."""

from __future__ import annotations

import pytest

from ansible_collections.phoenix.immutable.plugins.module_utils import providers
from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import PhoenixError


def instance_backend(aws):
    return providers.AwsProvider(
        {"region": aws.seed.region, "endpoint_url": aws.emu.endpoint_url, "access_key": "testing", "secret_key": "x"}
    ).instances()


def test_replacing_an_instance_no_group_holds_any_more_is_not_an_error(aws):
    ec2 = aws.client("ec2")
    [instance] = ec2.run_instances(
        ImageId=aws.seed.base_image_id, InstanceType="t3.micro", MinCount=1, MaxCount=1, SubnetId=aws.seed.subnet_ids[0]
    )["Instances"]
    # AWS's answer for an instance no group holds; moto fails with a 500 (StopIteration) instead.
    aws.emu.inject_fault(
        "autoscaling:TerminateInstanceInAutoScalingGroup",
        code="ValidationError",
        status=400,
        message="Instance Id not found - No managed instance found for instance ID: %s" % instance["InstanceId"],
    )
    instance_backend(aws).replace_in_group("web-a", instance["InstanceId"])
    assert aws.calls["autoscaling:DescribeAutoScalingInstances"] == 1  # asked, not read from the message


def test_replacing_an_instance_of_a_group_terminates_it_and_keeps_the_size(aws, service):
    autoscaling = aws.client("autoscaling")
    [group] = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[service.group_name])["AutoScalingGroups"]
    victim = group["Instances"][0]["InstanceId"]
    instance_backend(aws).replace_in_group(service.group_name, victim)
    [after] = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[service.group_name])["AutoScalingGroups"]
    assert after["DesiredCapacity"] == group["DesiredCapacity"]
    assert victim not in {instance["InstanceId"] for instance in after["Instances"]}


def test_a_refusal_for_an_instance_a_group_still_holds_is_reported(aws, service):
    autoscaling = aws.client("autoscaling")
    [group] = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[service.group_name])["AutoScalingGroups"]
    held = group["Instances"][0]["InstanceId"]
    aws.emu.inject_fault(
        "autoscaling:TerminateInstanceInAutoScalingGroup", code="ValidationError", status=400, message="refused"
    )
    with pytest.raises(PhoenixError) as refused:
        instance_backend(aws).replace_in_group(service.group_name, held)
    assert refused.value.code == "ValidationError"
