"""The adapters every contract test runs against: `subject` is parametrised over "aws" and "reference".

- "aws": the real AWS adapter (through the provider map, so on one connection) over boto3 against the moto
  server of tests/conftest.py, with the service of `emulators.fleet.seed_service` (fixture `service`).
- "reference": the in-memory reference cloud of `reference.py`, with the strictest rules of the three clouds.

A test reads the seeded service from the subject (`frontend`, `base`, `blue`, `blue_backend` ...) and acts on
it only through the four interfaces; what differs per cloud (how an alarm is made to fire, an id that does
not exist) is a small function of the subject.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from typing import Any

import pytest
from reference import Clock, ReferenceCloud, reference_adapters, seed_service

from ansible_collections.phoenix.immutable.plugins.module_utils._core.rollout_model import RolloutRecord

ADAPTERS = ["aws", "reference"]
NOT_LANDED = (
    "the AWS adapter on the new fleet interfaces (GroupBackend.prepare_launch, _aws/rollout_store.py) is not "
    "there yet: %s"
)


@dataclasses.dataclass
class Subject:
    name: str
    groups: Any
    store: Any
    traffic: Any
    health: Any
    service: str
    frontend: str
    base: str
    blue: str
    blue_size: int
    blue_backend: str
    blue_backend_name: str
    blue_image: str
    images: tuple[str, str]  # two images the cloud can launch, neither blue's
    subnets: list[str]
    missing_backend_id: str
    set_alarm: Callable[[str, bool], None]  # make an alarm exist, firing or not
    clock: Callable[[], float] | None = None
    cloud: Any = None  # the reference cloud, for its own tests
    _names: Any = dataclasses.field(default_factory=lambda: itertools.count(1))

    def base_id(self):
        return self.groups.resolve_base(self.base)

    def new_name(self):
        """A group name of this service that is free: <service>-a is the first slot a rollout takes."""
        return "%s-%s" % (self.service, "abcdefgh"[next(self._names) - 1])

    def record(self, **values):
        """A green's first record: what the core writes when it takes the lock."""
        fields = dict(service=self.service, role="green", rollout="R1", owner="owner-1", phase="locked")
        fields.update(values)
        return RolloutRecord(**fields)

    def create(self, name=None, record=None):
        """A new empty group carrying ``record``, made through the store; its name."""
        name = name or self.new_name()
        assert self.store.create(name, self.base_id(), self.subnets, record or self.record()) is True
        return name


def _reference_subject():
    clock = Clock()
    cloud = ReferenceCloud(clock=clock)
    seed = seed_service(cloud)
    groups, store, traffic, health = reference_adapters(cloud)

    def set_alarm(name, firing):
        cloud.alarms[name] = firing

    return Subject(
        name="reference",
        groups=groups,
        store=store,
        traffic=traffic,
        health=health,
        service=seed.service,
        frontend=seed.frontend,
        base=seed.base,
        blue=seed.group_name,
        blue_size=seed.size,
        blue_backend=seed.backend_id,
        blue_backend_name=cloud.pools[seed.backend_id]["name"],
        blue_image=seed.image_id,
        images=("img-green", "img-next"),
        subnets=list(seed.subnets),
        missing_backend_id="pool-missing",
        set_alarm=set_alarm,
        clock=clock,
        cloud=cloud,
    )


def _aws_subject(request):
    from ansible_collections.phoenix.immutable.plugins.module_utils import providers

    aws = request.getfixturevalue("aws")
    service = request.getfixturevalue("service")
    provider = providers.AwsProvider(
        {
            "region": aws.seed.region,
            "endpoint_url": aws.emu.endpoint_url,
            "access_key": "testing",
            "secret_key": "testing",
        }
    )
    try:
        groups, store, traffic, health = (
            provider.groups(),
            provider.rollout_store(),
            provider.traffic(),
            provider.health(),
        )
    except (ImportError, TypeError) as error:  # a missing module, or a class with abstract methods left
        pytest.skip(NOT_LANDED % error)
    cloudwatch = aws.client("cloudwatch")

    def set_alarm(name, firing):
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            MetricName="HTTPCode_Target_5XX_Count",
            Namespace="AWS/ApplicationELB",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1.0,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        )
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM" if firing else "OK", StateReason="contract test")

    made = aws.client("ec2").create_image(InstanceId=aws.seed.builder_instance_id, Name="contract-next")["ImageId"]
    return Subject(
        name="aws",
        groups=groups,
        store=store,
        traffic=traffic,
        health=health,
        service=service.service,
        frontend=service.listener_arn,
        base=service.launch_template_name,
        blue=service.group_name,
        blue_size=service.size,
        blue_backend=service.target_group_arn,
        blue_backend_name=service.group_name,
        blue_image=service.image_id,
        images=(aws.seed.vendor_image_id, made),
        subnets=list(service.subnet_ids),
        missing_backend_id=service.target_group_arn.rsplit("/", 1)[0] + "/0123456789abcdef",
        set_alarm=set_alarm,
    )


@pytest.fixture(params=ADAPTERS)
def subject(request):
    return _aws_subject(request) if request.param == "aws" else _reference_subject()


@pytest.fixture
def reference():
    """The reference adapter alone, for what only it does (its labels, its lock objects)."""
    return _reference_subject()
