import pytest

from ansible_collections.phoenix.immutable.plugins.module_utils._aws.transformations import image_from_ami

AMI = {
    "ImageId": "ami-1",
    "Name": "web-1",
    "State": "available",
    "CreationDate": "2026-11-24T09:38:58.000Z",
    "OwnerId": "123456789012",
    "Architecture": "arm64",
    "Description": "golden",
    "Tags": [{"Key": "service", "Value": "web"}, {"Key": "phoenix:source-image", "Value": "ami-base"}],
    "BlockDeviceMappings": [
        {"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": "snap-1", "VolumeSize": 8}},
        {"DeviceName": "/dev/sdb", "VirtualName": "ephemeral0"},
    ],
    "DeprecationTime": "2027-01-01T00:00:00.000Z",
}


def test_an_ami_becomes_the_neutral_image():
    image = image_from_ami(AMI, "eu-west-1")
    assert (image.cloud, image.id, image.name, image.region) == ("aws", "ami-1", "web-1", "eu-west-1")
    assert image.created == "2026-11-24T09:38:58Z"
    assert image.source_image == "ami-base"
    assert image.tags == {"service": "web", "phoenix:source-image": "ami-base"}
    assert image.snapshot_ids == ["snap-1"]
    assert image.disks[0].size_gb == 8
    assert image.deprecation_time == "2027-01-01T00:00:00Z"


def test_a_copy_names_its_source():
    image = image_from_ami({"ImageId": "ami-2", "State": "pending", "SourceImageId": "ami-1"}, "us-east-1")
    assert image.source_image == "ami-1"
    assert image.state == "pending"
    assert image.created == ""


@pytest.mark.parametrize(
    "aws_state, state",
    [
        ("pending", "pending"),
        ("transient", "pending"),
        ("available", "available"),
        ("failed", "failed"),
        ("invalid", "failed"),
        ("error", "failed"),
        ("deregistered", "deregistered"),
        ("disabled", "deregistered"),
    ],
)
def test_states_are_normalised(aws_state, state):
    assert image_from_ami({"ImageId": "ami-3", "State": aws_state}, "us-east-1").state == state
