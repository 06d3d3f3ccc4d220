# Private to this collection.
"""AWS shapes (CamelCase dicts) into the cloud-neutral model."""

from __future__ import annotations

from .._core import model
from .._core import tags as tagging
from .._core.timeutil import format_utc, parse_utc

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
        source_image=tags.get(tagging.tag_key("aws", tagging.SOURCE_IMAGE)) or ami.get("SourceImageId"),
        architecture=ami.get("Architecture"),
        description=ami.get("Description") or "",
        tags=tags,
        disks=disks,
        deprecation_time=format_utc(parse_utc(deprecation)) if deprecation else None,
        cloud_state=ami.get("State"),
        state_reason=(ami.get("StateReason") or {}).get("Message"),
    )
