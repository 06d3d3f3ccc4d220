# Private to this collection.
"""AWS shapes (CamelCase dicts) into the cloud-neutral model."""

from __future__ import annotations

from .._core import model
from .._core import tags as tagging
from .._core.builders import Builder
from .._core.timeutil import format_utc, parse_utc
from .codec import AWS_CODEC

IMAGE_STATES = {
    "pending": model.PENDING,
    "transient": model.PENDING,
    "available": model.AVAILABLE,
    "invalid": model.FAILED,
    "failed": model.FAILED,
    "error": model.FAILED,
    "deregistered": model.DEREGISTERED,
    "disabled": model.DEREGISTERED,
}


def tags_to_dict(tag_list):
    return {tag["Key"]: tag.get("Value", "") for tag in tag_list or []}


def image_from_ami(ami, region):
    tags = tags_to_dict(ami.get("Tags"))
    disks = [
        model.Disk(
            device=mapping.get("DeviceName", ""),
            snapshot_id=mapping["Ebs"].get("SnapshotId"),
            size_gb=mapping["Ebs"].get("VolumeSize"),
        )
        for mapping in ami.get("BlockDeviceMappings", [])
        if "Ebs" in mapping
    ]
    deprecation = ami.get("DeprecationTime")
    return model.Image(
        cloud="aws",
        id=ami["ImageId"],
        name=ami.get("Name", ""),
        region=region,
        state=IMAGE_STATES.get(ami.get("State", ""), model.PENDING),
        created=format_utc(parse_utc(ami["CreationDate"])) if ami.get("CreationDate") else "",
        owner=ami.get("OwnerId", ""),
        source_image=tags.get(AWS_CODEC.key(tagging.SOURCE_IMAGE)) or ami.get("SourceImageId"),
        architecture=ami.get("Architecture"),
        description=ami.get("Description") or "",
        tags=tags,
        disks=disks,
        deprecation_time=format_utc(parse_utc(deprecation)) if deprecation else None,
        cloud_state=ami.get("State"),
        state_reason=(ami.get("StateReason") or {}).get("Message"),
        family=tags.get(AWS_CODEC.key(tagging.FAMILY)),
    )


BUILDER_STATES = {
    "pending": "starting",
    "running": "running",
    "stopping": "stopping",
    "stopped": "stopped",
    "shutting-down": "gone",
    "terminated": "gone",
}


def builder_from_instance(instance, region):
    tags = tags_to_dict(instance.get("Tags"))
    launched = instance.get("LaunchTime")
    # moto lists the groups of an instance launched with NetworkInterfaces only on the interface.
    interfaces = instance.get("NetworkInterfaces") or [{}]
    groups = instance.get("SecurityGroups") or interfaces[0].get("Groups") or []
    return Builder(
        cloud="aws",
        id=instance["InstanceId"],
        name=tags.get(AWS_CODEC.key(tagging.BUILDER), ""),
        region=region,
        state=BUILDER_STATES.get(instance.get("State", {}).get("Name", ""), "starting"),
        image_id=instance.get("ImageId", ""),
        machine_type=instance.get("InstanceType", ""),
        subnet=instance.get("SubnetId", ""),
        private_address=instance.get("PrivateIpAddress"),
        public_address=instance.get("PublicIpAddress"),
        access_rule_id=groups[0]["GroupId"] if groups else None,
        ssh_key=instance.get("KeyName"),
        owned_access_rule=tags.get(AWS_CODEC.key(tagging.BUILDER_ACCESS_RULE)),
        owned_ssh_key=tags.get(AWS_CODEC.key(tagging.BUILDER_SSH_KEY)),
        expires_at=tags.get(AWS_CODEC.key(tagging.EXPIRES_AT)),
        launched=format_utc(parse_utc(launched)) if launched else "",
        tags=tags,
        state_reason=(instance.get("StateReason") or {}).get("Message"),
    )
