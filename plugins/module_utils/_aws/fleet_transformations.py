# Private to this collection.
"""AWS shapes of groups, template versions and target groups turned into the rollout's model."""

from __future__ import annotations

from .._core.drift import Observed
from .._core.fleet import Group, Instance, Target, TemplateVersion
from .._core.timeutil import format_utc, parse_utc

IN_SERVICE = "InService"
HEALTHY = "Healthy"
# The tag EC2 Auto Scaling puts on every instance it launches.
AUTOSCALING_GROUP_TAG = "aws:autoscaling:groupName"
# Settings of a target group that a new one copies from the group it stands next to.
TARGET_SETTINGS = (
    "Protocol",
    "ProtocolVersion",
    "Port",
    "VpcId",
    "TargetType",
    "HealthCheckProtocol",
    "HealthCheckPort",
    "HealthCheckEnabled",
    "HealthCheckPath",
    "HealthCheckIntervalSeconds",
    "HealthCheckTimeoutSeconds",
    "HealthyThresholdCount",
    "UnhealthyThresholdCount",
    "Matcher",
)


def tags_of(tag_list):
    return {tag["Key"]: tag.get("Value", "") for tag in tag_list or []}


def group_from_asg(asg):
    template = asg.get("LaunchTemplate") or (asg.get("MixedInstancesPolicy") or {}).get("LaunchTemplate", {}).get(
        "LaunchTemplateSpecification", {}
    )
    return Group(
        name=asg["AutoScalingGroupName"],
        size=asg.get("DesiredCapacity", 0),
        min_size=asg.get("MinSize", 0),
        max_size=asg.get("MaxSize", 0),
        template=(template.get("LaunchTemplateId"), template.get("Version")),
        targets=list(asg.get("TargetGroupARNs") or []),
        instances=[
            Instance(
                id=instance["InstanceId"],
                in_service=instance.get("LifecycleState") == IN_SERVICE,
                healthy=instance.get("HealthStatus") == HEALTHY,
            )
            for instance in asg.get("Instances") or []
        ],
        tags=tags_of(asg.get("Tags")),
        subnets=[subnet for subnet in (asg.get("VPCZoneIdentifier") or "").split(",") if subnet],
        deleting=bool(asg.get("Status")),
    )


def version_from_aws(version):
    return TemplateVersion(
        template_id=version["LaunchTemplateId"],
        version=str(version["VersionNumber"]),
        image_id=(version.get("LaunchTemplateData") or {}).get("ImageId"),
        description=version.get("VersionDescription") or "",
        default=bool(version.get("DefaultVersion")),
    )


def target_from_aws(target_group):
    return Target(
        id=target_group["TargetGroupArn"],
        name=target_group["TargetGroupName"],
        settings={key: target_group[key] for key in TARGET_SETTINGS if key in target_group},
    )


def forward_weights(actions):
    """{target group arn: weight} of a listener's default forward action (either of its two shapes)."""
    weights = {}
    for action in actions or []:
        if action.get("Type") != "forward":
            continue
        groups = (action.get("ForwardConfig") or {}).get("TargetGroups")
        if groups:
            for group in groups:
                weights[group["TargetGroupArn"]] = int(group.get("Weight", 1))
        elif action.get("TargetGroupArn"):
            weights[action["TargetGroupArn"]] = 100
    return weights


def forward_action(weights, previous_actions=None):
    """A default forward action splitting by ``weights``, keeping the stickiness setting there was."""
    config = {"TargetGroups": [{"TargetGroupArn": arn, "Weight": weight} for arn, weight in sorted(weights.items())]}
    for action in previous_actions or []:
        stickiness = (action.get("ForwardConfig") or {}).get("TargetGroupStickinessConfig")
        if action.get("Type") == "forward" and stickiness:
            config["TargetGroupStickinessConfig"] = stickiness
    return [{"Type": "forward", "ForwardConfig": config}]


def observed_from_instance(instance):
    """An EC2 instance as a drift scan sees it (drift.Observed)."""
    tags = tags_of(instance.get("Tags"))
    launched = instance.get("LaunchTime")
    return Observed(
        id=instance["InstanceId"],
        image_id=instance.get("ImageId"),
        launched=format_utc(parse_utc(launched)) if launched else "",
        state=(instance.get("State") or {}).get("Name", ""),
        group=tags.get(AUTOSCALING_GROUP_TAG),
        subnet=instance.get("SubnetId"),
        tags=tags,
    )
