"""The AWS connection against the emulator: one request per policy attempt, api_calls equal to the requests
the emulator received (with and without faults), unparseable answers as clear errors, paged reads of large
fleets, and the connect/read timeouts reaching the SDK.
"""

from __future__ import annotations

import pytest
from emulators.drift import INSTANCE_TYPE, _ec2_backend

from ansible_collections.phoenix.immutable.plugins.module_utils import providers
from ansible_collections.phoenix.immutable.plugins.module_utils._aws.api import AwsApi
from ansible_collections.phoenix.immutable.plugins.module_utils._aws.connection import AwsConnection
from ansible_collections.phoenix.immutable.plugins.module_utils._aws.drift_api import DriftApi
from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import InvalidInput, PhoenixError
from ansible_collections.phoenix.immutable.plugins.module_utils._core.retry import RetryPolicy

HTML_PAGE = "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"


def connect(aws, max_attempts=5, **options):
    # The policy's pause is skipped: the faults are served by the emulator, not by the clock.
    policy = RetryPolicy(max_attempts=max_attempts, base_delay=0.01, max_delay=0.01, sleep=lambda _seconds: None)
    return AwsConnection(
        region=aws.seed.region,
        endpoint_url=aws.emu.endpoint_url,
        access_key="testing",
        secret_key="testing",
        retry_policy=policy,
        **options,
    )


def emulator_saw(aws, before):
    """The requests the emulator received since ``before``, keyed like api_calls()."""
    return dict(sorted((aws.calls - before).items()))


# -- defect 5: one request per policy attempt; api_calls is what was sent --------------------------------


def test_the_sdk_sends_exactly_one_request_per_policy_attempt(aws):
    connection = connect(aws, max_attempts=1)
    aws.emu.inject_fault("ec2:DescribeImages", times=5)
    before = aws.calls
    with pytest.raises(PhoenixError) as raised:
        AwsApi(connection, aws.seed.region).describe_images(owners=["self"])
    assert raised.value.code == "RequestLimitExceeded"
    assert emulator_saw(aws, before) == {"ec2:DescribeImages": 1}  # botocore's max_attempts=1 sent two
    assert connection.api_calls() == {"ec2:DescribeImages": 1}
    assert connection.client("ec2").meta.config.retries["total_max_attempts"] == 1


@pytest.mark.parametrize(
    "call, fault",
    [
        ("ec2:DescribeImages", {}),  # EC2 throttling, HTTP 503
        ("ec2:DescribeImages", {"code": "InternalError", "status": 500}),
        ("autoscaling:DescribeAutoScalingGroups", {}),  # query-protocol Throttling, HTTP 400
        ("autoscaling:DescribeAutoScalingGroups", {"code": "InternalFailure", "status": 500}),
    ],
)
def test_api_calls_equal_the_requests_the_emulator_received_under_faults(aws, call, fault):
    connection = connect(aws, max_attempts=6)
    api = AwsApi(connection, aws.seed.region)
    before = aws.calls
    api.describe_images(owners=["self"])
    api.describe_auto_scaling_groups()
    assert (
        connection.api_calls()
        == emulator_saw(aws, before)
        == {
            "autoscaling:DescribeAutoScalingGroups": 1,
            "ec2:DescribeImages": 1,
        }
    )

    aws.emu.inject_fault(call, times=3, **fault)
    before = aws.calls
    counted = connection.api_calls()
    api.describe_images(owners=["self"])
    api.describe_auto_scaling_groups()
    sent = {key: connection.api_calls()[key] - counted.get(key, 0) for key in connection.api_calls()}
    assert sent == emulator_saw(aws, before)
    assert sent[call] == 4  # three faults, then the answer: one request each


# -- defect 8: an answer the SDK cannot parse is a PhoenixError with operation, resource and hint ---------


@pytest.mark.parametrize(
    "body, status",
    [
        (HTML_PAGE, 502),  # botocore reads it as XML without an error in it
        ("Internal Server Error", 500),  # botocore: "Unable to parse response (syntax error ...)"
        ("<html><body>Service Unavailable</body></html>", 503),  # botocore: code "503"
    ],
)
def test_an_html_error_page_is_retried_then_reported_as_a_phoenix_error(aws, body, status):
    connection = connect(aws, max_attempts=3)
    aws.emu.inject_fault("ec2:DescribeImages", times=3, body=body, status=status, content_type="text/html")
    before = aws.calls
    with pytest.raises(PhoenixError) as raised:
        AwsApi(connection, aws.seed.region).describe_images(image_ids=[aws.seed.base_image_id])
    error = raised.value
    assert emulator_saw(aws, before) == {"ec2:DescribeImages": 3}  # transient: retried to the policy's end
    assert connection.api_calls() == {"ec2:DescribeImages": 3}
    assert error.code == "UnparseableResponse" and error.cloud == "aws"
    assert error.resource == aws.seed.base_image_id
    message = str(error)
    assert "DescribeImages" in message and aws.seed.base_image_id in message and aws.seed.region in message
    assert error.hint and "proxy" in error.hint
    assert "Unable to parse" not in message and "html" not in message.lower()


def test_an_html_error_page_once_is_retried_and_the_call_succeeds(aws):
    connection = connect(aws, max_attempts=3)
    aws.emu.inject_fault("autoscaling:DescribeAutoScalingGroups", body=HTML_PAGE, status=500)
    groups = AwsApi(connection, aws.seed.region).describe_auto_scaling_groups()
    assert groups == []  # the seed has no group: an answer, not an error
    assert connection.api_calls() == {"autoscaling:DescribeAutoScalingGroups": 2}


def test_a_bare_html_500_and_a_refusal_carry_a_hint_too(aws):
    connection = connect(aws, max_attempts=2)
    api = AwsApi(connection, aws.seed.region)
    aws.emu.inject_fault("ec2:DescribeImages", times=2, body="<html><body>Service Unavailable</body></html>")
    with pytest.raises(PhoenixError) as raised:
        api.describe_images(owners=["self"])
    assert "DescribeImages" in str(raised.value) and raised.value.hint
    with pytest.raises(PhoenixError) as raised:
        api.describe_images(image_ids=["ami-0123456789abcdef0"])
    assert raised.value.code == "InvalidAMIID.NotFound" and "ami-0123456789abcdef0" in raised.value.hint


# -- defect 9: large fleets are read in pages of at most 1,000; timeouts are options ----------------------


@pytest.fixture
def fleet_of_1200(aws):
    """1,200 instances of the base image, each its own reservation (moto pages by reservation)."""
    backend = _ec2_backend(aws)
    subnet = aws.seed.subnet_ids[0]
    for _index in range(1200):
        backend.run_instances(
            aws.seed.base_image_id,
            1,
            None,
            [],
            instance_type=INSTANCE_TYPE,
            is_instance_type_default=False,
            subnet_id=subnet,
        )
    return aws.seed.base_image_id


def record_page_sizes(connection, operation):
    sizes = []

    def record(params, **_kwargs):
        sizes.append(params.get("MaxResults"))

    connection.client("ec2").meta.events.register("provide-client-params.ec2.%s" % operation, record)
    return sizes


def test_instances_of_an_image_are_read_in_pages_of_at_most_1000(aws, fleet_of_1200):
    connection = connect(aws)
    sizes = record_page_sizes(connection, "DescribeInstances")
    before = aws.calls
    instances = AwsApi(connection, aws.seed.region).instances_launched_from(fleet_of_1200)
    assert len(instances) >= 1200
    assert emulator_saw(aws, before) == connection.api_calls() == {"ec2:DescribeInstances": 2}
    assert len(sizes) == 2 and all(size and size <= 1000 for size in sizes)


def test_a_drift_scan_reads_1200_instances_in_two_pages(aws, fleet_of_1200):
    connection = connect(aws)
    sizes = record_page_sizes(connection, "DescribeInstances")
    before = aws.calls
    instances = list(DriftApi(connection, aws.seed.region).live_instances(subnets=[aws.seed.subnet_ids[0]]))
    assert len(instances) >= 1200
    assert emulator_saw(aws, before) == {"ec2:DescribeInstances": 2}
    assert len(sizes) == 2 and all(size and size <= 1000 for size in sizes)


def test_instances_by_id_are_read_without_a_page_size(aws):
    # EC2 refuses MaxResults together with InstanceIds.
    connection = connect(aws)
    sizes = record_page_sizes(connection, "DescribeInstances")
    [instance] = AwsApi(connection, aws.seed.region).describe_instances(instance_ids=[aws.seed.builder_instance_id])
    assert instance["InstanceId"] == aws.seed.builder_instance_id and sizes == [None]


def test_read_and_connect_timeouts_reach_the_client_config(aws):
    params = {
        "region": aws.seed.region,
        "endpoint_url": aws.emu.endpoint_url,
        "access_key": "testing",
        "secret_key": "testing",
        "read_timeout": 300,
        "connect_timeout": 7,
    }
    connection = providers.AwsProvider(params).connection
    for service in ("ec2", "autoscaling"):
        config = connection.client(service).meta.config
        assert (config.read_timeout, config.connect_timeout) == (300, 7)
    default = connect(aws).client("ec2").meta.config
    assert (default.read_timeout, default.connect_timeout) == (60, 60)


@pytest.mark.parametrize("value", [0, -1, "60"])
def test_a_timeout_that_is_not_a_positive_number_is_refused(aws, value):
    with pytest.raises(InvalidInput, match="read_timeout"):
        connect(aws, read_timeout=value)


def test_a_module_takes_the_timeouts_as_options(playbook, aws):
    options = {"owners": ["self"], "read_timeout": 120, "connect_timeout": 10}
    run = playbook([{"name": "find", "phoenix.immutable.image_info": options}])
    assert run.rc == 0, run.explain()
    result = run.task("find")["result"]
    assert [image["id"] for image in result["images"]] == [aws.seed.base_image_id]
