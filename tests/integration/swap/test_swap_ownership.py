"""A swap never takes over another service: a listener whose serving group belongs to another service
(tag `phoenix:service`) is refused before anything is created, for a deploy and for a rollback."""

from __future__ import annotations

import pytest
from emulators.fleet import seed_service


@pytest.fixture
def other(aws, service):
    """A second service, `other`, behind a listener of its own; its group tagged as the collection tags it."""
    seed = seed_service(aws.client, aws.seed.base_image_id, aws.seed.subnet_ids, aws.seed.vpc_id, service="other")
    aws.client("autoscaling").create_or_update_tags(
        Tags=[
            {
                "ResourceId": seed.group_name,
                "ResourceType": "auto-scaling-group",
                "Key": "phoenix:service",
                "Value": "other",
                "PropagateAtLaunch": False,
            }
        ]
    )
    return seed


def snapshot(aws):
    autoscaling, elb, ec2 = aws.client("autoscaling"), aws.client("elbv2"), aws.client("ec2")
    groups = {
        g["AutoScalingGroupName"]: (g["DesiredCapacity"], sorted(g.get("TargetGroupARNs", [])))
        for g in autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]
    }
    targets = sorted(tg["TargetGroupName"] for tg in elb.describe_target_groups()["TargetGroups"])
    listeners = {
        lb["LoadBalancerArn"]: elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"][0][
            "DefaultActions"
        ]
        for lb in elb.describe_load_balancers()["LoadBalancers"]
    }
    versions = {
        t["LaunchTemplateName"]: sorted(
            v["VersionNumber"]
            for v in ec2.describe_launch_template_versions(LaunchTemplateId=t["LaunchTemplateId"])[
                "LaunchTemplateVersions"
            ]
        )
        for t in ec2.describe_launch_templates()["LaunchTemplates"]
    }
    return groups, targets, listeners, versions


@pytest.mark.parametrize("state", ["deployed", "rolled_back"])
def test_a_listener_of_another_service_is_refused_naming_its_service(aws, playbook, golden, swap_task, other, state):
    before = snapshot(aws)
    options = {"listener_arn": other.listener_arn, "state": state}
    run = playbook([swap_task(golden.first if state == "deployed" else None, **options)])
    assert run.rc != 0
    result = run.task("swap")["result"]
    assert result["error"]["code"] == "ServiceMismatch", result["msg"]
    assert "serves service other" in result["msg"] and "other-blue" in result["msg"], result["msg"]
    assert "service web" in result["msg"]
    # Refused before anything was created: only reads were sent, and nothing changed.
    assert not [call for call in result["api_calls"] if not call.split(":")[1].startswith("Describe")]
    assert snapshot(aws) == before


def test_the_service_own_listener_still_deploys_next_to_another_service(
    aws, playbook, service, golden, swap_task, other
):
    run = playbook([swap_task(golden.first)])
    assert run.rc == 0, run.explain()
    groups = {
        g["AutoScalingGroupName"] for g in aws.client("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]
    }
    assert groups == {"web-a", "other-blue"}
    # After that swap web-a carries phoenix:service=web; giving web's listener with service=other is refused too.
    run = playbook([swap_task(golden.second, title="wrong", service="other")])
    assert run.rc != 0
    assert run.task("wrong")["result"]["error"]["code"] == "ServiceMismatch"
