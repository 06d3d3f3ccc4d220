"""What a drift scan costs on AWS, read through boto3 against moto: pages of at most 1,000 instances (AWS's
MaxResults cap), 100 groups (AWS's MaxRecords cap for DescribeAutoScalingGroups) and one DescribeImages per
200 distinct images, and instances handed on page by page, not after the last page.

moto counts DescribeInstances' MaxResults in reservations; these tests page as AWS does with the test-side
extension `instance_pages_like_aws` (tests/emulators/drift.py), and use a small page where a page of 1,000
would need thousands of instances.
"""

from __future__ import annotations

import pytest
from emulators.drift import INSTANCE_TYPE, instance_pages_like_aws, launch

from ansible_collections.phoenix.immutable.plugins.module_utils._aws.connection import AwsConnection
from ansible_collections.phoenix.immutable.plugins.module_utils._aws.drift_api import DriftApi
from ansible_collections.phoenix.immutable.plugins.module_utils._aws.groups import AwsGroupBackend
from ansible_collections.phoenix.immutable.plugins.module_utils._aws.instances import AwsInstanceBackend


def connect(aws):
    return AwsConnection(
        region=aws.seed.region, endpoint_url=aws.emu.endpoint_url, access_key="testing", secret_key="testing"
    )


def page_sizes(connection, service, operation, parameter):
    sizes = []
    connection.client(service).meta.events.register(
        "provide-client-params.%s.%s" % (service, operation), lambda params, **_: sizes.append(params.get(parameter))
    )
    return sizes


@pytest.fixture
def paged_like_aws():
    with instance_pages_like_aws():
        yield


def test_instances_are_read_a_page_at_a_time_and_handed_on_as_each_arrives(aws, paged_like_aws):
    subnet = aws.seed.subnet_ids[1]
    ids = launch(aws, aws.seed.base_image_id, subnet, count=12)  # one reservation of 12
    connection = connect(aws)
    sizes = page_sizes(connection, "ec2", "DescribeInstances", "MaxResults")
    backend = AwsInstanceBackend(connection, instance_page=5)
    arriving = backend.instances(subnets=[subnet])
    first = next(arriving)
    assert connection.api_calls() == {"ec2:DescribeInstances": 1}  # the first page only, so far
    found = [first] + list(arriving)
    assert sorted(instance.id for instance in found) == sorted(ids)
    assert connection.api_calls() == {"ec2:DescribeInstances": 3} and sizes == [5, 5, 5]


def test_a_full_scan_asks_for_pages_of_1000(aws, paged_like_aws):
    connection = connect(aws)
    sizes = page_sizes(connection, "ec2", "DescribeInstances", "MaxResults")
    found = list(AwsInstanceBackend(connection).instances(subnets=list(aws.seed.subnet_ids)))
    assert [instance.id for instance in found] == [aws.seed.builder_instance_id]
    assert sizes == [1000]


def test_a_page_over_awss_cap_is_refused_before_any_call(aws):
    with pytest.raises(ValueError, match="instance_page"):
        DriftApi(connect(aws), aws.seed.region, instance_page=1001)


def test_images_are_read_200_ids_a_call_and_a_gone_one_is_left_out(aws):
    ec2 = aws.client("ec2")
    made = [
        ec2.create_image(InstanceId=aws.seed.builder_instance_id, Name="drift-page-%d" % number)["ImageId"]
        for number in range(205)
    ]
    gone = "ami-0123456789abcdef0"
    connection = connect(aws)
    images = AwsInstanceBackend(connection).images(made + [gone, made[0]])
    assert sorted(image.id for image in images) == sorted(made)
    assert connection.api_calls() == {"ec2:DescribeImages": 2}  # 206 distinct ids: 200 + 6


def test_groups_are_read_100_a_page(aws):
    ec2, autoscaling = aws.client("ec2"), aws.client("autoscaling")
    template = ec2.create_launch_template(
        LaunchTemplateName="drift-pages",
        LaunchTemplateData={"ImageId": aws.seed.base_image_id, "InstanceType": INSTANCE_TYPE},
    )["LaunchTemplate"]["LaunchTemplateId"]
    for number in range(101):
        autoscaling.create_auto_scaling_group(
            AutoScalingGroupName="drift-page-%03d" % number,
            LaunchTemplate={"LaunchTemplateId": template, "Version": "1"},
            MinSize=0,
            MaxSize=0,
            DesiredCapacity=0,
            VPCZoneIdentifier=aws.seed.subnet_ids[0],
        )
    connection = connect(aws)
    sizes = page_sizes(connection, "autoscaling", "DescribeAutoScalingGroups", "MaxRecords")
    groups = AwsGroupBackend(connection).groups()
    assert len(groups) == 101
    assert connection.api_calls() == {"autoscaling:DescribeAutoScalingGroups": 2} and sizes == [100, 100]
