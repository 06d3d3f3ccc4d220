# Private to this collection.
"""AWS shapes of groups, template versions and target groups turned into the rollout's model."""

from __future__ import annotations

from .._core.drift import Observed
from .._core.fleet import Backend, Group, Instance
from .._core.rollout_model import FIELDS, RolloutRecord
from .._core.timeutil import format_utc, parse_utc
from .codec import AWS_CODEC

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


# The rollout record as tags on the Auto Scaling group: one tag per field, named as the field, except these
# (their names predate the neutral record). A launch is ``<launch template id>:<version>``; its tags hold the
# version only, next to the template id.
RECORD_TAG_NAMES = dict(
    {name: name.replace("_", "-") for name in FIELDS},
    blue_backend="blue-target",
    blue_launch="blue-template-version",
    launch="template-version",
    base="template-id",
)
LAUNCH_FIELDS = ("launch", "blue_launch")


def launch_ref(template_id, version):
    return "%s:%s" % (template_id, version) if template_id else None


def parse_launch(launch):
    """(launch template id, version) of a launch reference."""
    template_id, _sep, version = (launch or "").rpartition(":")
    return template_id, version


def record_from_tags(tags):
    """The group's RolloutRecord, or None when it carries none of the record's tags."""
    values = {}
    for name, tag in RECORD_TAG_NAMES.items():
        value = tags.get(AWS_CODEC.key(tag))
        if value is not None:
            values[name] = value
    if not values:
        return None
    for name in LAUNCH_FIELDS:
        if values.get(name) and values.get("base"):
            values[name] = launch_ref(values["base"], values[name])
    return RolloutRecord.from_record(values)


def tags_from_record(record, fields):
    """{tag key: value} of ``fields`` of ``record``."""
    values = record.to_record(fields)
    for name in LAUNCH_FIELDS:
        if values.get(name):
            values[name] = parse_launch(values[name])[1]
    return {AWS_CODEC.key(RECORD_TAG_NAMES[name]): value for name, value in values.items() if value is not None}


def record_tag_keys(fields):
    return [AWS_CODEC.key(RECORD_TAG_NAMES[name]) for name in fields]


def tags_of(tag_list):
    return {tag["Key"]: tag.get("Value", "") for tag in tag_list or []}


def group_from_asg(asg):
    template = asg.get("LaunchTemplate") or (asg.get("MixedInstancesPolicy") or {}).get("LaunchTemplate", {}).get(
        "LaunchTemplateSpecification", {}
    )
    tags = tags_of(asg.get("Tags"))
    return Group(
        name=asg["AutoScalingGroupName"],
        size=asg.get("DesiredCapacity", 0),
        min_size=asg.get("MinSize", 0),
        max_size=asg.get("MaxSize", 0),
        launch=launch_ref(template.get("LaunchTemplateId"), template.get("Version")),
        backends=list(asg.get("TargetGroupARNs") or []),
        instances=[
            Instance(
                id=instance["InstanceId"],
                in_service=instance.get("LifecycleState") == IN_SERVICE,
                healthy=instance.get("HealthStatus") == HEALTHY,
            )
            for instance in asg.get("Instances") or []
        ],
        record=record_from_tags(tags),
        tags=tags,
        subnets=[subnet for subnet in (asg.get("VPCZoneIdentifier") or "").split(",") if subnet],
        deleting=bool(asg.get("Status")),
    )


def backend_from_aws(target_group):
    return Backend(
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
