"""Test-side helpers for the drift tests (fleet_drift), the drift benchmark and the demo's drift step.

- `adopt(aws, seed, image_id)`: tag a seeded service's group the way phoenix.immutable.blue_green leaves
  the group serving after a finished rollout (`phoenix:service`, `phoenix:role: blue`, `phoenix:image`,
  `phoenix:phase: done`), so a test starts from a deployed service without running a swap first.
- `launch(aws, image_id, subnet_id, tags)`: an instance launched by hand (not by a group).
- `attach_rogue(client, group, image_id, subnet_id)`: launch an instance from `image_id` and attach it to
  the group (its maximum raised by one first: AttachInstances raises the group's size by one): a wrong
  image inside the group.
- `group_health(aws, group)`: (desired, in service and healthy) of a group, read through boto3.

**Test-side extension: backdated launch times.** moto stamps an instance with the time RunInstances ran
and has no API to change it (nor has EC2). `backdate_instance(aws, instance_id, days)` sets the
`launch_time` attribute of moto's own `Instance` object (moto runs in the test process), which moto's
serializer returns as `LaunchTime` in DescribeInstances: an instance launched `days` ago, as an old
instance of a real fleet is.

**Test-side extension: a deprecation time already past.** EC2 refuses EnableImageDeprecation with a
time in the past (and so does the emulator's extension in emulators/aws.py), yet a real image deprecated
last month has a DeprecationTime in the past. `deprecate_past(aws, image_id, days)` sets the
`deprecation_time` attribute of moto's own `Ami` object (the attribute that extension uses, in the same
format) to `days` ago.

**Test-side extension: DescribeInstances pages counted in instances.** moto's MaxResults counts
reservations, so a group of 5,000 instances (one RunInstances, one reservation) comes back as one page of
5,000, where AWS answers at most MaxResults (5 to 1,000) instances a page. Inside
`with instance_pages_like_aws():` moto's DescribeInstances without instance ids pages by instances (a
reservation may continue on the next page, as a split on AWS would) and refuses a MaxResults outside 5 to
1,000 with InvalidParameterValue, so a scan's pages and calls are those AWS would answer. moto runs in the
test's process: the extension swaps moto's handler for the block and puts it back after. (moto's other
pages, measured with moto 5.2.5: DescribeAutoScalingGroups pages by groups, 50 by default, and fails a
MaxRecords over 100 with an HTML 500, as AWS caps it at 100; DescribeImages ignores MaxResults and NextToken
and answers every match at once.)
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

INSTANCE_TYPE = "t3.micro"


def _ec2_backend(aws: Any, region: str | None = None) -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[aws.seed.account_id][region or aws.seed.region]


def backdate_instance(aws: Any, instance_id: str, days: float) -> None:
    _ec2_backend(aws).get_instance(instance_id).launch_time = datetime.now(UTC) - timedelta(days=days)


def deprecate_past(aws: Any, image_id: str, days: float = 1) -> None:
    when = (datetime.now(UTC) - timedelta(days=days)).replace(second=0, microsecond=0)
    _ec2_backend(aws).amis[image_id].deprecation_time = when.strftime("%Y-%m-%dT%H:%M:%S.000Z")


@contextmanager
def instance_pages_like_aws() -> Iterator[None]:
    from moto.core.responses import ActionResult
    from moto.ec2.exceptions import InvalidParameterValue
    from moto.ec2.responses.instances import InstanceResponse

    moto_describe = InstanceResponse.describe_instances

    def describe_instances(self: Any) -> Any:
        if "MaxResults" not in self.data or self._get_param("InstanceIds", []):
            return moto_describe(self)
        size = int(self._get_param("MaxResults"))
        if not 5 <= size <= 1000:
            raise InvalidParameterValue("MaxResults must be between 5 and 1000, not %d" % size)
        reservations = self.ec2_backend.describe_instances(filters=self._filters_from_querystring())
        pairs = [(reservation, instance) for reservation in reservations for instance in reservation.instances]
        start = int(self._get_param("NextToken") or 0)
        page: list[Any] = []
        for reservation, instance in pairs[start : start + size]:
            if not page or page[-1].id != reservation.id:
                part = copy.copy(reservation)
                part.instances = []
                page.append(part)
            page[-1].instances.append(instance)
        token = str(start + size) if len(pairs) > start + size else None
        return ActionResult({"Reservations": page, "NextToken": token})

    InstanceResponse.describe_instances = describe_instances
    try:
        yield
    finally:
        InstanceResponse.describe_instances = moto_describe


def adopt(aws: Any, seed: Any, image_id: str | None = None) -> None:
    image_id = image_id or seed.image_id
    tags = {
        "phoenix:service": seed.service,
        "phoenix:role": "blue",
        "phoenix:image": image_id,
        "phoenix:phase": "done",
    }
    aws.client("autoscaling").create_or_update_tags(
        Tags=[
            {
                "ResourceId": seed.group_name,
                "ResourceType": "auto-scaling-group",
                "Key": key,
                "Value": value,
                "PropagateAtLaunch": False,
            }
            for key, value in tags.items()
        ]
    )


def launch(aws: Any, image_id: str, subnet_id: str, tags: dict[str, str] | None = None, count: int = 1) -> list[str]:
    options: dict[str, Any] = {}
    if tags:
        options["TagSpecifications"] = [
            {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
        ]
    instances = aws.client("ec2").run_instances(
        ImageId=image_id, InstanceType=INSTANCE_TYPE, MinCount=count, MaxCount=count, SubnetId=subnet_id, **options
    )["Instances"]
    return [instance["InstanceId"] for instance in instances]


def attach_rogue(client: Callable[[str], Any], group: str, image_id: str, subnet_id: str) -> str:
    [instance] = client("ec2").run_instances(
        ImageId=image_id, InstanceType=INSTANCE_TYPE, MinCount=1, MaxCount=1, SubnetId=subnet_id
    )["Instances"]
    autoscaling = client("autoscaling")
    [found] = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"]
    # Attaching raises the desired size by one, which may not pass the maximum (moto: ResourceContention).
    autoscaling.update_auto_scaling_group(AutoScalingGroupName=group, MaxSize=found["DesiredCapacity"] + 1)
    autoscaling.attach_instances(InstanceIds=[instance["InstanceId"]], AutoScalingGroupName=group)
    return instance["InstanceId"]


def group_health(aws: Any, group: str) -> tuple[int, int, list[str]]:
    [found] = aws.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"]
    healthy = [
        instance["InstanceId"]
        for instance in found.get("Instances", [])
        if instance["LifecycleState"] == "InService" and instance["HealthStatus"] == "Healthy"
    ]
    return found["DesiredCapacity"], len(healthy), healthy


def instance_states(aws: Any, instance_ids: list[str]) -> dict[str, str]:
    states = {}
    for reservation in aws.client("ec2").describe_instances(InstanceIds=list(instance_ids))["Reservations"]:
        for instance in reservation["Instances"]:
            states[instance["InstanceId"]] = instance["State"]["Name"]
    return states
