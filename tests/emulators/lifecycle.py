"""Test-side helpers for the image lifecycle tests (channels, retention, the golden_image lookup).

- `make_images(aws, names, ages)`: golden images made from the seed's builder with create_image, each
  backdated to its age in days by setting the creation time of moto's own `Ami` object (moto stamps
  images with the current second, so images made in one test would otherwise tie).
- `Keys(tmp_path)`: Ed25519 key pairs as PEM files: `keys.private("build")`, `keys.public("build")`.
- `write_policy(tmp_path, keys=[...], promoters=[...], **fields)`: a trust policy file.
- `tags_of(aws, image_id)`, `image_exists(aws, image_id)`, `snapshot_ids(aws, image_id)`: state read back.

**Test-side fix: the image-id filter of DescribeLaunchTemplateVersions.** moto 5.2.5 ignores the
Filters of DescribeLaunchTemplateVersions ("not yet implemented" in its backend), so a call for the
default and latest versions that launch one image returns every template's default and latest versions,
and every image looks used by every template. `install_launch_template_version_filters()` (run on import)
applies the `image-id` filter to moto's answer, as the EC2 API reference describes it: versions whose
launch template data has one of the given image ids. Other filters are left as moto handles them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519


def install_launch_template_version_filters() -> None:
    from moto.ec2.responses import EC2Response

    original = EC2Response.describe_launch_template_versions
    if getattr(original, "_phoenix_image_filter", False):
        return

    def describe_launch_template_versions(self: Any) -> Any:
        answer = original(self)
        wanted = self._filters_from_querystring().get("image-id")
        if wanted:
            result = answer.result
            result["LaunchTemplateVersions"] = [
                version
                for version in result["LaunchTemplateVersions"]
                if (version.get("LaunchTemplateData") or {}).get("ImageId") in wanted
            ]
        return answer

    describe_launch_template_versions._phoenix_image_filter = True  # type: ignore[attr-defined]
    EC2Response.describe_launch_template_versions = describe_launch_template_versions


install_launch_template_version_filters()


def backdate_image(aws: Any, image_id: str, days: float, region: str | None = None) -> None:
    """Make moto report the image as created ``days`` ago (moto runs in this process)."""
    from moto.ec2.models import ec2_backends

    backend = ec2_backends[aws.seed.account_id][region or aws.seed.region]
    backend.amis[image_id].creation_date = datetime.now(UTC) - timedelta(days=days)


def make_images(aws: Any, names: list[str], ages: list[float], tags: dict[str, str] | None = None) -> dict[str, str]:
    """{name: image id} of new images made from the seed's builder, created ``ages`` days ago."""
    ec2 = aws.client("ec2")
    made = {}
    for name, age in zip(names, ages, strict=True):
        image_id = ec2.create_image(InstanceId=aws.seed.builder_instance_id, Name=name)["ImageId"]
        if tags:
            ec2.create_tags(Resources=[image_id], Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
        backdate_image(aws, image_id, age)
        made[name] = image_id
    return made


class Keys:
    """Ed25519 key pairs written as PEM files under ``folder``, made on first use."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _make(self, name: str) -> None:
        private = self.folder / ("%s.pem" % name)
        if private.exists():
            return
        key = ed25519.Ed25519PrivateKey.generate()
        private.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        (self.folder / ("%s.pub" % name)).write_bytes(
            key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )

    def private(self, name: str) -> str:
        self._make(name)
        return str(self.folder / ("%s.pem" % name))

    def public(self, name: str) -> str:
        self._make(name)
        return str(self.folder / ("%s.pub" % name))


def write_policy(folder: Path, keys: Keys, trusted: list[str], promoters: list[str], name: str = "trust.yml", **fields):
    document = {
        "keys": [{"name": key, "public_key": keys.public(key)} for key in trusted],
        "promoters": [{"name": key, "public_key": keys.public(key)} for key in promoters],
        **fields,
    }
    path = folder / name
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return str(path)


def tags_of(aws: Any, image_id: str) -> dict[str, str]:
    images = aws.client("ec2").describe_images(ImageIds=[image_id])["Images"]
    return {tag["Key"]: tag["Value"] for tag in images[0].get("Tags", [])} if images else {}


def promotion_tags(aws: Any, image_id: str, channel: str | None = None) -> dict[str, str]:
    prefix = "phoenix:promo:" + ("%s:" % channel if channel else "")
    return {key: value for key, value in tags_of(aws, image_id).items() if key.startswith(prefix)}


def image_exists(aws: Any, image_id: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        return bool(aws.client("ec2").describe_images(ImageIds=[image_id])["Images"])
    except ClientError as error:
        if error.response["Error"]["Code"].startswith("InvalidAMIID"):
            return False
        raise


def snapshot_ids(aws: Any, image_id: str) -> list[str]:
    [image] = aws.client("ec2").describe_images(ImageIds=[image_id])["Images"]
    return [m["Ebs"]["SnapshotId"] for m in image.get("BlockDeviceMappings", []) if m.get("Ebs", {}).get("SnapshotId")]


def snapshot_exists(aws: Any, snapshot_id: str) -> bool:
    snapshots = aws.client("ec2").describe_snapshots(OwnerIds=["self"])["Snapshots"]
    return any(snapshot["SnapshotId"] == snapshot_id for snapshot in snapshots)
