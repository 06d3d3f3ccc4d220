"""A service behind a load balancer, seeded in moto, for the blue/green swap tests and the demo.

`seed_service(client, ...)` creates what a team already runs before its first swap: an Application Load
Balancer with an HTTP listener forwarding to one target group, a base launch template (network, type,
user data) and a *blue* Auto Scaling group of that template attached to the target group. `client` is a
factory `client(service_name) -> boto3 client` (for example `MotoEmulator.client` or
`AwsContext.client`), so the tests and the demo seed the same way. `service_table(client, seed)` gives
report rows: each group, its size, its image and its share of the listener's traffic.

Importing this module (after the `emulators` package, which points moto at its AMI catalogue) installs
the extensions below into the moto of this process, the one `MotoEmulator` serves.

**Test-side extension: DeleteLaunchTemplateVersions.** moto 5.2.5 answers it with HTTP 500 (not
implemented). `install_delete_launch_template_versions()` adds the action to moto's EC2 response class
(moto dispatches an EC2 `Action` to the response method of the same snake_case name) on moto's own
state model (`LaunchTemplate.versions`, a list, and its `default_version_number`). Behaviour follows the
EC2 API reference: the default version cannot be deleted and an unknown one cannot either; both are
reported in `UnsuccessfullyDeletedLaunchTemplateVersions` (codes `launchTemplateVersionIsDefault`,
`launchTemplateVersionDoesNotExist`) rather than raised. A deleted version stays in moto's list (moto
finds versions by list position) marked deleted, and disappears from DescribeLaunchTemplateVersions and
from lookups by number. If a later moto implements the action, its own is kept.

**Test-side fix: user data of new launch template versions.** moto 5.2.5's CreateLaunchTemplateVersion
stores `UserData` as the plain string it received (CreateLaunchTemplate parses it), so an Auto Scaling
group launching that version fails inside moto (an AssertionError, HTTP 500).
`install_version_user_data()` parses it the way CreateLaunchTemplate does.

**Test-side extension: phase gates.** `PhaseGate` holds moto's answer to the Auto Scaling
CreateOrUpdateTags call that records a given rollout phase (tag `phoenix:phase`), after moto has applied
it, until the test releases it: a test kills ansible-playbook at a phase boundary deterministically.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from typing import Any

from moto.autoscaling.responses import AutoScalingResponse
from moto.core.responses import ActionResult
from moto.ec2.exceptions import InvalidLaunchTemplateVersionNotFound
from moto.ec2.models.launch_templates import LaunchTemplate, LaunchTemplateBackend
from moto.ec2.responses import EC2Response
from moto.ec2.utils import parse_user_data

SERVICE = "web"
INSTANCE_TYPE = "t3.micro"
USER_DATA = "IyEvYmluL3NoCmVjaG8gaGVsbG8K"  # base64 of a two-line shell script
PHASE_TAG = "phoenix:phase"


@dataclasses.dataclass(frozen=True)
class ServiceSeed:
    """What `seed_service` created."""

    service: str
    load_balancer_arn: str
    listener_arn: str
    target_group_arn: str
    launch_template_id: str
    launch_template_name: str
    group_name: str
    size: int
    image_id: str
    subnet_ids: tuple[str, ...]
    vpc_id: str


def seed_service(
    client: Callable[[str], Any],
    image_id: str,
    subnet_ids: list[str] | tuple[str, ...],
    vpc_id: str,
    service: str = SERVICE,
    size: int = 2,
) -> ServiceSeed:
    """An ALB + listener + target group + base launch template + blue group of `size` serving `image_id`."""
    elb = client("elbv2")
    ec2 = client("ec2")
    autoscaling = client("autoscaling")
    subnets = list(subnet_ids)[:2]
    balancer = elb.create_load_balancer(Name="%s-alb" % service, Subnets=subnets, Type="application")
    balancer_arn = balancer["LoadBalancers"][0]["LoadBalancerArn"]
    group_name = "%s-blue" % service
    target_group_arn = elb.create_target_group(
        Name=group_name,
        Protocol="HTTP",
        Port=80,
        VpcId=vpc_id,
        TargetType="instance",
        HealthCheckPath="/health",
    )["TargetGroups"][0]["TargetGroupArn"]
    listener_arn = elb.create_listener(
        LoadBalancerArn=balancer_arn,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": target_group_arn}],
    )["Listeners"][0]["ListenerArn"]
    template = ec2.create_launch_template(
        LaunchTemplateName="%s-base" % service,
        VersionDescription="base",
        LaunchTemplateData={
            "ImageId": image_id,
            "InstanceType": INSTANCE_TYPE,
            "UserData": USER_DATA,
            "TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "service", "Value": service}]}],
        },
    )["LaunchTemplate"]
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=group_name,
        LaunchTemplate={"LaunchTemplateId": template["LaunchTemplateId"], "Version": "1"},
        MinSize=size,
        MaxSize=size,
        DesiredCapacity=size,
        VPCZoneIdentifier=",".join(subnets),
        TargetGroupARNs=[target_group_arn],
        Tags=[
            {
                "ResourceId": group_name,
                "ResourceType": "auto-scaling-group",
                "Key": "service",
                "Value": service,
                "PropagateAtLaunch": True,
            }
        ],
    )
    return ServiceSeed(
        service=service,
        load_balancer_arn=balancer_arn,
        listener_arn=listener_arn,
        target_group_arn=target_group_arn,
        launch_template_id=template["LaunchTemplateId"],
        launch_template_name=template["LaunchTemplateName"],
        group_name=group_name,
        size=size,
        image_id=image_id,
        subnet_ids=tuple(subnets),
        vpc_id=vpc_id,
    )


@dataclasses.dataclass
class FleetState:
    groups: dict[str, dict[str, Any]]
    target_groups: dict[str, str]  # name -> arn
    versions: list[dict[str, Any]]
    weights: dict[str, int]  # target group name -> weight

    def serving(self) -> dict[str, int]:
        return {name: weight for name, weight in self.weights.items() if weight > 0}


def tags_of(resource: dict[str, Any]) -> dict[str, str]:
    return {tag["Key"]: tag.get("Value", "") for tag in resource.get("Tags", [])}


def read_fleet(aws, service: ServiceSeed) -> FleetState:
    """What a swap left of ``service``, read from the emulator: groups, target groups, template versions, weights."""
    autoscaling, elb, ec2 = aws.client("autoscaling"), aws.client("elbv2"), aws.client("ec2")
    groups = {}
    for group in autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]:
        instances = group.get("Instances", [])
        ids = [instance["InstanceId"] for instance in instances]
        images = set()
        if ids:
            for reservation in ec2.describe_instances(InstanceIds=ids)["Reservations"]:
                images.update(instance["ImageId"] for instance in reservation["Instances"])
        groups[group["AutoScalingGroupName"]] = {
            "size": group["DesiredCapacity"],
            "in_service": sum(1 for instance in instances if instance["LifecycleState"] == "InService"),
            "tags": tags_of(group),
            "images": images,
            "targets": group.get("TargetGroupARNs", []),
        }
    target_groups = {tg["TargetGroupName"]: tg["TargetGroupArn"] for tg in elb.describe_target_groups()["TargetGroups"]}
    names = {arn: name for name, arn in target_groups.items()}
    versions = ec2.describe_launch_template_versions(LaunchTemplateId=service.launch_template_id, MaxResults=200)[
        "LaunchTemplateVersions"
    ]
    [listener] = elb.describe_listeners(ListenerArns=[service.listener_arn])["Listeners"]
    weights = {}
    for action in listener["DefaultActions"]:
        forward = action.get("ForwardConfig", {}).get("TargetGroups")
        if forward:
            for item in forward:
                weights[names.get(item["TargetGroupArn"], item["TargetGroupArn"])] = item.get("Weight", 1)
        elif action.get("TargetGroupArn"):
            weights[names.get(action["TargetGroupArn"], action["TargetGroupArn"])] = 100
    return FleetState(groups=groups, target_groups=target_groups, versions=versions, weights=weights)


def service_table(client: Callable[[str], Any], seed: ServiceSeed) -> list[str]:
    """Rows for a report: each group of the account with its size, image and share of the listener's traffic."""
    elb, autoscaling, ec2 = client("elbv2"), client("autoscaling"), client("ec2")
    [listener] = elb.describe_listeners(ListenerArns=[seed.listener_arn])["Listeners"]
    weights: dict[str, int] = {}
    for action in listener["DefaultActions"]:
        forward = (action.get("ForwardConfig") or {}).get("TargetGroups") or [
            {"TargetGroupArn": action.get("TargetGroupArn"), "Weight": 100}
        ]
        for item in forward:
            weights[item["TargetGroupArn"]] = item.get("Weight", 1)
    total = sum(weights.values()) or 1
    rows = []
    for group in autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]:
        ids = [instance["InstanceId"] for instance in group.get("Instances", [])]
        images = set()
        if ids:
            for reservation in ec2.describe_instances(InstanceIds=ids)["Reservations"]:
                images.update(instance["ImageId"] for instance in reservation["Instances"])
        share = sum(weights.get(arn, 0) for arn in group.get("TargetGroupARNs", [])) * 100 // total
        tags = {tag["Key"]: tag.get("Value", "") for tag in group.get("Tags", [])}
        rows.append(
            "  %-10s %2d instances  %-24s %3d%% of the traffic  %s"
            % (
                group["AutoScalingGroupName"],
                len(ids),
                ", ".join(sorted(images)) or "-",
                share,
                "rollout %s, phase %s" % (tags["phoenix:rollout"], tags.get("phoenix:phase"))
                if "phoenix:rollout" in tags
                else "",
            )
        )
    return rows or ["  (no groups)"]


# ---------------------------------------------------------------------------------------------------
# Test-side extension of moto: DeleteLaunchTemplateVersions


def _delete_launch_template_versions(self: Any) -> ActionResult:
    template_id = self._get_param("LaunchTemplateId")
    template_name = self._get_param("LaunchTemplateName")
    numbers = self._get_param("Versions", [])
    self.error_on_dryrun()
    if template_id:
        template = self.ec2_backend.get_launch_template(template_id)
    else:
        template = self.ec2_backend.get_launch_template_by_name(template_name)
    deleted, failed = [], []
    for raw in numbers:
        number = int(raw)
        entry = {"LaunchTemplateId": template.id, "LaunchTemplateName": template.name, "VersionNumber": number}
        current = template.versions[number - 1] if 0 < number <= len(template.versions) else None
        if current is None or getattr(current, "deleted", False):
            error = {"Code": "launchTemplateVersionDoesNotExist", "Message": "version %d does not exist" % number}
            failed.append(dict(entry, ResponseError=error))
        elif number == template.default_version_number:
            error = {"Code": "launchTemplateVersionIsDefault", "Message": "the default version cannot be deleted"}
            failed.append(dict(entry, ResponseError=error))
        else:
            current.deleted = True  # kept in moto's list, which moto indexes by version number
            deleted.append(entry)
    return ActionResult(
        {"SuccessfullyDeletedLaunchTemplateVersions": deleted, "UnsuccessfullyDeletedLaunchTemplateVersions": failed}
    )


def install_delete_launch_template_versions() -> None:
    """Add DeleteLaunchTemplateVersions; deleted versions disappear from describes and lookups."""
    if hasattr(EC2Response, "delete_launch_template_versions"):
        return
    EC2Response.delete_launch_template_versions = _delete_launch_template_versions
    original_get = LaunchTemplate.get_version
    original_describe = LaunchTemplateBackend.describe_launch_template_versions

    def get_version(self: Any, num: Any) -> Any:
        version = original_get(self, num)
        if getattr(version, "deleted", False):
            raise InvalidLaunchTemplateVersionNotFound(template_id=self.id, version=num)
        return version

    def describe_launch_template_versions(self: Any, *args: Any, **kwargs: Any) -> Any:
        found = original_describe(self, *args, **kwargs)
        return [(template, version) for template, version in found if not getattr(version, "deleted", False)]

    LaunchTemplate.get_version = get_version
    LaunchTemplateBackend.describe_launch_template_versions = describe_launch_template_versions


install_delete_launch_template_versions()


def install_version_user_data() -> None:
    original = LaunchTemplate.create_version
    if getattr(original, "_phoenix", False):
        return

    def create_version(self: Any, data: dict[str, Any], description: str) -> Any:
        if isinstance(data.get("UserData"), (str, bytes)) and not hasattr(data["UserData"], "decode_str"):
            data = dict(data, UserData=parse_user_data(data["UserData"]))
        return original(self, data, description)

    create_version._phoenix = True  # type: ignore[attr-defined]
    LaunchTemplate.create_version = create_version


install_version_user_data()


# ---------------------------------------------------------------------------------------------------
# Test-side extension of moto: hold the answer to the write of a rollout phase


class PhaseGate:
    """`with PhaseGate("shifting") as gate:` ... `gate.reached.wait(30)`; `gate.release()` (or leaving the block).

    While armed, the first Auto Scaling CreateOrUpdateTags (or CreateAutoScalingGroup) that sets `phoenix:phase`
    to `phase` (and, if given, `phoenix:weight` to `weight`) is applied by moto, then its answer is held until
    released.
    """

    _lock = threading.Lock()
    _armed: list[PhaseGate] = []

    def __init__(self, phase: str, weight: str | None = None, timeout: float = 60.0) -> None:
        self.phase = phase
        self.weight = weight
        self.timeout = timeout
        self.reached = threading.Event()
        self._released = threading.Event()

    def __enter__(self) -> PhaseGate:
        _install_phase_hook()
        with self._lock:
            self._armed.append(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()
        with self._lock:
            if self in self._armed:
                self._armed.remove(self)

    def release(self) -> None:
        self._released.set()

    def _matches(self, tags: dict[str, str]) -> bool:
        if tags.get(PHASE_TAG) != self.phase:
            return False
        return self.weight is None or tags.get("phoenix:weight") == self.weight

    @classmethod
    def _hold(cls, tags: dict[str, str]) -> None:
        with cls._lock:
            gates = [gate for gate in cls._armed if not gate.reached.is_set() and gate._matches(tags)]
            for gate in gates:
                gate.reached.set()
        for gate in gates:
            gate._released.wait(gate.timeout)


def _install_phase_hook() -> None:
    if getattr(AutoScalingResponse.create_or_update_tags, "_phoenix", False):
        return
    original = AutoScalingResponse.create_or_update_tags

    def create_or_update_tags(self: Any) -> Any:
        answer = original(self)
        tags = {tag.get("Key"): tag.get("Value") for tag in self._get_param("Tags", []) or []}
        if PHASE_TAG in tags:
            PhaseGate._hold(tags)
        return answer

    create_or_update_tags._phoenix = True  # type: ignore[attr-defined]
    AutoScalingResponse.create_or_update_tags = create_or_update_tags

    # The rollout's lock is a CreateAutoScalingGroup carrying its first record (phase `locked`): held the same way.
    original_create = AutoScalingResponse.create_auto_scaling_group

    def create_auto_scaling_group(self: Any) -> Any:
        answer = original_create(self)
        tags = {tag.get("Key"): tag.get("Value") for tag in self._get_params().get("Tags", []) or []}
        if PHASE_TAG in tags:
            PhaseGate._hold(tags)
        return answer

    AutoScalingResponse.create_auto_scaling_group = create_auto_scaling_group
