"""AWS shapes of Auto Scaling groups, template versions and listener actions turned into the rollout's model."""

from __future__ import annotations

import pytest

from ansible_collections.phoenix.immutable.plugins.module_utils._aws.fleet_transformations import (
    backend_from_aws,
    forward_action,
    forward_weights,
    group_from_asg,
    record_from_tags,
    tags_from_record,
)
from ansible_collections.phoenix.immutable.plugins.module_utils._core.rollout_model import RolloutRecord

TG_A = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-a/1"
TG_B = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-b/2"


@pytest.mark.parametrize(
    ("actions", "weights"),
    [
        ([{"Type": "forward", "TargetGroupArn": TG_A}], {TG_A: 100}),
        (
            [
                {
                    "Type": "forward",
                    "ForwardConfig": {
                        "TargetGroups": [{"TargetGroupArn": TG_A, "Weight": 90}, {"TargetGroupArn": TG_B, "Weight": 10}]
                    },
                }
            ],
            {TG_A: 90, TG_B: 10},
        ),
        ([{"Type": "forward", "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": TG_B}]}}], {TG_B: 1}),
        ([{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "503"}}], {}),
        (None, {}),
    ],
)
def test_forward_weights_reads_both_shapes(actions, weights):
    assert forward_weights(actions) == weights


def test_forward_action_keeps_stickiness():
    sticky = {"Enabled": True, "DurationSeconds": 60}
    previous = [{"Type": "forward", "ForwardConfig": {"TargetGroups": [], "TargetGroupStickinessConfig": sticky}}]
    [action] = forward_action({TG_B: 10, TG_A: 90}, previous)
    assert action["ForwardConfig"] == {
        "TargetGroups": [{"TargetGroupArn": TG_A, "Weight": 90}, {"TargetGroupArn": TG_B, "Weight": 10}],
        "TargetGroupStickinessConfig": sticky,
    }
    assert "TargetGroupStickinessConfig" not in forward_action({TG_A: 100})[0]["ForwardConfig"]


def test_group_from_asg():
    group = group_from_asg(
        {
            "AutoScalingGroupName": "web-a",
            "DesiredCapacity": 2,
            "MinSize": 2,
            "MaxSize": 2,
            "LaunchTemplate": {"LaunchTemplateId": "lt-1", "Version": "3"},
            "TargetGroupARNs": [TG_A],
            "Instances": [
                {"InstanceId": "i-1", "LifecycleState": "InService", "HealthStatus": "Healthy"},
                {"InstanceId": "i-2", "LifecycleState": "Pending", "HealthStatus": "Healthy"},
                {"InstanceId": "i-3", "LifecycleState": "InService", "HealthStatus": "Unhealthy"},
            ],
            "Tags": [{"Key": "phoenix:role", "Value": "green"}],
            "VPCZoneIdentifier": "subnet-1,subnet-2",
        }
    )
    assert (group.name, group.size, group.launch, group.backends) == ("web-a", 2, "lt-1:3", [TG_A])
    assert [i.id for i in group.live_instances()] == ["i-1", "i-3"]
    assert [i.id for i in group.live_instances() if i.healthy] == ["i-1"]
    assert group.tags == {"phoenix:role": "green"} and group.subnets == ["subnet-1", "subnet-2"]
    assert group.record == RolloutRecord(role="green")
    assert group.deleting is False
    assert group_from_asg({"AutoScalingGroupName": "old", "Status": "Delete in progress"}).deleting is True


def test_group_from_asg_with_a_mixed_instances_policy():
    spec = {"LaunchTemplate": {"LaunchTemplateSpecification": {"LaunchTemplateId": "lt-2", "Version": "$Default"}}}
    assert group_from_asg({"AutoScalingGroupName": "g", "MixedInstancesPolicy": spec}).launch == "lt-2:$Default"


def test_target_group_as_a_backend():
    target = backend_from_aws(
        {"TargetGroupArn": TG_A, "TargetGroupName": "web-a", "Port": 80, "Protocol": "HTTP", "LoadBalancerArns": ["x"]}
    )
    assert target.settings == {"Port": 80, "Protocol": "HTTP"}


def test_the_rollout_record_keeps_the_tag_names_aws_groups_already_carry():
    record = RolloutRecord(
        service="web",
        phase="target",
        base="lt-1",
        launch="lt-1:7",
        blue_launch="lt-1:3",
        blue_backend=TG_A,
        lease_until=1800000060,
        reason="shift at weight 50: probe https://x/health answered HTTP 503",
    )
    tags = tags_from_record(record, None)
    assert tags == {
        "phoenix:service": "web",
        "phoenix:phase": "target",
        "phoenix:template-id": "lt-1",
        "phoenix:template-version": "7",
        "phoenix:blue-template-version": "3",
        "phoenix:blue-target": TG_A,
        "phoenix:lease-until": "1800000060",
        "phoenix:reason": "shift at weight 50: probe https://x/health answered HTTP 503",
    }
    assert record_from_tags(tags) == record
    assert record_from_tags({"Name": "not ours"}) is None
    assert tags_from_record(record, ["phase", "lease_until"]) == {
        "phoenix:phase": "target",
        "phoenix:lease-until": "1800000060",
    }
