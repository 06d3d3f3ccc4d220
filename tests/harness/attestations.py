"""Helpers of the scan attestation tests: scans of the fixture root, and reading/forging attestation tags."""

from __future__ import annotations

import base64
import json
import shutil
import zlib
from pathlib import Path

from ansible_collections.phoenix.immutable.plugins.module_utils import scan

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ATT_PREFIX = "phoenix:att:"


def sbom_document():
    return scan.image_sbom(str(FIXTURES / "rootfs" / "debian-12"), "2026-12-01T10:00:00Z", use_syft=False)


def scan_file(folder, name, advisories=None):
    """A vuln_scan predicate of the fixture root against the fixture feed (or only ``advisories`` of it)."""
    feed = folder / ("feed-" + name)
    if advisories is None:
        shutil.copytree(FIXTURES / "osv", feed)
    else:
        feed.mkdir()
        for advisory in advisories:
            shutil.copy(FIXTURES / "osv" / ("%s.json" % advisory), feed)
    predicate = scan.scan_sbom(sbom_document(), str(feed))["predicate"]
    path = folder / ("%s.json" % name)
    path.write_text(json.dumps(predicate))
    return str(path)


def tags_of(aws, image_id):
    [image] = aws.client("ec2").describe_images(ImageIds=[image_id])["Images"]
    return {tag["Key"]: tag["Value"] for tag in image.get("Tags", [])}


def attestation_tags(aws, image_id, kind=""):
    return {key: value for key, value in tags_of(aws, image_id).items() if key.startswith(ATT_PREFIX + kind)}


def put_tags(aws, image_id, tags, remove=()):
    ec2 = aws.client("ec2")
    if remove:
        ec2.delete_tags(Resources=[image_id], Tags=[{"Key": key} for key in remove])
    ec2.create_tags(Resources=[image_id], Tags=[{"Key": key, "Value": value} for key, value in tags.items()])


def read_envelope(tags):
    """The envelope in one key's chunks (decoded here from the format, not with the collection's code)."""
    chunks = sorted(tags.items(), key=lambda item: int(item[0].rsplit(":", 1)[1]))
    text = "".join(value for _key, value in chunks)
    return json.loads(zlib.decompress(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))))


def write_envelope(prefix, envelope):
    """{key: value} chunks of ``envelope`` under ``prefix`` (``phoenix:att:vuln:<digits>:``)."""
    packed = zlib.compress(json.dumps(envelope, sort_keys=True, separators=(",", ":")).encode(), 9)
    text = base64.urlsafe_b64encode(packed).decode().rstrip("=")
    return {prefix + str(number): text[start : start + 256] for number, start in enumerate(range(0, len(text), 256))}
