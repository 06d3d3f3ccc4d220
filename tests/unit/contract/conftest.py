"""The adapters every contract test runs against: `subject` is parametrised over "aws", "gcp", "azure" and
"reference".

- "aws": the real AWS adapter (through the provider map, so on one connection) over boto3 against the moto
  server of tests/conftest.py, with the service of `emulators.fleet.seed_service` (fixture `service`).
- "gcp": the real GCP adapter over google-auth against the GCE emulator of tests/emulators/gce.py, with the
  service of `_gcp_service` (a URL map sending to the backend service of a zonal MIG launching a base template).
- "azure": the real Azure adapter (AzureGroupBackend, AzureRolloutStore, AzureTrafficBackend, AzureHealthBackend
  on one AzureConnection) over the Azure SDK against the ARM emulator of tests/emulators/arm.py, with the service
  of `emulators.arm_seed.seed_service` (a load balancer rule sending to the pool of scale set ``web-blue``, base
  scale set ``web-base``), as the Azure integration tests seed it.
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

ADAPTERS = ["aws", "gcp", "azure", "reference"]
# Where the Azure subject's service lives.
AZURE_RESOURCE_GROUP = "rg-phoenix"
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
    # Whether a launch is the image itself, nothing made per rollout to list or discard (a scale set's model).
    launch_is_image: bool = False
    missing_image: str | None = None  # an image id of the cloud's form that does not exist
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


@pytest.fixture(scope="session")
def gce_server():
    from emulators.gce import GceEmulator

    with GceEmulator() as emu:
        yield emu


def _gcp_subject(request):
    from ansible_collections.phoenix.immutable.plugins.module_utils._core.retry import RetryPolicy
    from ansible_collections.phoenix.immutable.plugins.module_utils._core.waiter import Waiter
    from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.connection import GcpConnection
    from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.groups import GcpGroupBackend
    from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.health import GcpHealthBackend
    from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.rollout_store import GcpRolloutStore
    from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.traffic import GcpTrafficBackend
    from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.transformations import api_path

    emu = request.getfixturevalue("gce_server")
    for name, value in emu.env().items():
        if name.lower() == "no_proxy":
            request.getfixturevalue("monkeypatch").setenv(name, value)
    emu.reset()
    emu.operation_polls = 2
    seed = emu.seed()
    key_file = emu.service_account_key().write(request.getfixturevalue("tmp_path") / "key.json")
    connection = GcpConnection.from_params(
        {
            "project": seed.project,
            "auth_kind": "serviceaccount",
            "service_account_file": str(key_file),
            "endpoint_url": emu.compute_url,
            "zone": seed.zone,
        },
        environ={},
        retry_policy=RetryPolicy(max_attempts=6, base_delay=0.01, max_delay=0.05, deadline=60),
    )
    # The core's waiter, polling the emulator's operations without pauses.
    waiter = Waiter(timeout=120, delay=0.01, max_delay=0.05)
    traffic = GcpTrafficBackend(connection, waiter=waiter)
    service = _gcp_service(connection, seed, waiter, emu)
    groups = GcpGroupBackend(connection, traffic=lambda: traffic, waiter=waiter)
    store = GcpRolloutStore(connection, traffic=lambda: traffic, waiter=waiter)
    images = tuple(api_path(emu.put_image(name, family="contract")["selfLink"]) for name in ("web-2", "web-3"))

    def set_alarm(name, firing):
        pytest.skip("GCP has no alarms in this collection's scope (a named alarm is refused up front)")

    return Subject(
        name="gcp",
        groups=groups,
        store=store,
        traffic=traffic,
        health=GcpHealthBackend(connection),
        service="web",
        frontend="web-map",
        base="web-base",
        blue="web-blue",
        blue_size=2,
        blue_backend=service["selfLink"],
        blue_backend_name="web-blue",
        blue_image=api_path(seed.base_image),
        images=images,
        subnets=[],
        missing_backend_id=service["selfLink"].rsplit("/", 1)[0] + "/web-missing",
        set_alarm=set_alarm,
    )


def _gcp_service(connection, seed, waiter, emu):
    """A base template, a zonal MIG of 2 settled members (blue), its backend service and a URL map sending to it."""
    from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.operations import wait_for

    def done(path, operation, body):
        wait_for(connection, connection.request("POST", connection.project_url(path), operation, body=body), waiter)

    zone = "zones/%s" % seed.zone
    disk = {"boot": True, "autoDelete": True, "initializeParams": {"sourceImage": seed.base_image}}
    properties = {
        "machineType": "e2-small",
        "disks": [disk],
        "networkInterfaces": [{"network": "global/networks/default"}],
    }
    done("global/instanceTemplates", "compute.instanceTemplates.insert", {"name": "web-base", "properties": properties})
    manager = {"name": "web-blue", "instanceTemplate": "global/instanceTemplates/web-base", "targetSize": 2}
    done(
        zone + "/instanceGroupManagers",
        "compute.instanceGroupManagers.insert",
        dict(manager, baseInstanceName="web-blue"),
    )
    emu.fleet.settle_members()
    done("global/healthChecks", "compute.healthChecks.insert", {"name": "web-hc", "type": "HTTP"})
    done(
        "global/backendServices",
        "compute.backendServices.insert",
        {
            "name": "web-blue",
            "healthChecks": ["global/healthChecks/web-hc"],
            "backends": [{"group": "%s/instanceGroups/web-blue" % zone}],
        },
    )
    done(
        "global/urlMaps",
        "compute.urlMaps.insert",
        {"name": "web-map", "defaultService": "global/backendServices/web-blue"},
    )
    emu.reset_calls()
    return connection.request(
        "GET", connection.project_url("global/backendServices/web-blue"), "compute.backendServices.get"
    )


@pytest.fixture(scope="session")
def arm_server():
    from emulators.arm import ArmEmulator

    with ArmEmulator() as emu:
        yield emu


def _azure_subject(request):
    from emulators.arm_seed import GALLERY, ArmClients, lb_path, seed_service

    from ansible_collections.phoenix.immutable.plugins.module_utils._azure.connection import AzureConnection
    from ansible_collections.phoenix.immutable.plugins.module_utils._azure.groups import AzureGroupBackend
    from ansible_collections.phoenix.immutable.plugins.module_utils._azure.health import AzureHealthBackend
    from ansible_collections.phoenix.immutable.plugins.module_utils._azure.rollout_store import AzureRolloutStore
    from ansible_collections.phoenix.immutable.plugins.module_utils._azure.traffic import AzureTrafficBackend
    from ansible_collections.phoenix.immutable.plugins.module_utils._core.retry import RetryPolicy

    emu = request.getfixturevalue("arm_server")
    for name, value in emu.env().items():
        if name.lower() == "no_proxy":
            request.getfixturevalue("monkeypatch").setenv(name, value)
    emu.reset()
    emu.operation_polls = 2
    emu.poll_retry_after = 0
    arm = ArmClients(emu)
    arm.group(AZURE_RESOURCE_GROUP)
    service = seed_service(arm, AZURE_RESOURCE_GROUP, 2, blue="web-blue")
    connection = AzureConnection.from_params(
        {
            "subscription_id": emu.subscription_id,
            "tenant": emu.tenant_id,
            "client_id": emu.client_id,
            "secret": emu.client_secret,
            "resource_group": AZURE_RESOURCE_GROUP,
            "location": emu.location,
            "resource_manager_url": emu.endpoint_url,
            "authority_host": emu.authority_url,
            "ca_bundle": emu.ca_bundle,
            "gallery": GALLERY,
            # The emulator answers Retry-After: 0 (poll again now), which the SDK reads as "no advice".
            "polling_interval": 0,
        },
        environ={},
        retry_policy=RetryPolicy(max_attempts=6, base_delay=0.01, max_delay=0.05, deadline=60),
    )
    traffic = AzureTrafficBackend(connection)
    emu.reset_calls()

    def set_alarm(name, firing):
        pytest.skip("Azure has no alarms in this collection's scope (a named alarm is refused up front)")

    return Subject(
        name="azure",
        groups=AzureGroupBackend(connection, traffic=lambda: traffic),
        store=AzureRolloutStore(connection, traffic=lambda: traffic),
        traffic=traffic,
        health=AzureHealthBackend(connection),
        service="web",
        frontend=service.load_balancer,
        base=service.base,
        blue=service.blue,
        blue_size=service.size,
        blue_backend=service.pool,
        blue_backend_name="web-pool",
        blue_image=service.images[0],
        images=(service.images[1], service.images[2]),
        subnets=[],
        missing_backend_id=lb_path(arm, AZURE_RESOURCE_GROUP, service.load_balancer) + "/backendAddressPools/web-z",
        set_alarm=set_alarm,
        launch_is_image=True,
        missing_image=service.images[0].rsplit("/", 1)[0] + "/9.9.9",
    )


@pytest.fixture(params=ADAPTERS)
def subject(request):
    if request.param == "aws":
        return _aws_subject(request)
    if request.param == "gcp":
        return _gcp_subject(request)
    if request.param == "azure":
        return _azure_subject(request)
    return _reference_subject()


@pytest.fixture
def reference():
    """The reference adapter alone, for what only it does (its labels, its lock objects)."""
    return _reference_subject()
