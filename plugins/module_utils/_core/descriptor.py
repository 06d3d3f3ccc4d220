# Private to this collection.
"""The image descriptor: what an image immutably is, read from the cloud, and its digest.

Only fields the cloud never lets anyone change once the image exists are in it: the cloud, the owning
account, the region, the image id and name, the creation time, the architecture and the disks (device,
snapshot, size) the image is made of. Tags, description, state and deprecation are mutable and left out,
so retagging a signed image keeps its signature valid, while an image registered again from the same
snapshots (a new id and creation time) has another descriptor.
"""

from __future__ import annotations

from .canonical import canonical_json, sha256_hex

DESCRIPTOR_TYPE = "phoenix.immutable/image-descriptor/v1"


def subject_name(image):
    """The in-toto subject name of an image: ``<cloud>:<region>:<image id>``."""
    return "%s:%s:%s" % (image.cloud, image.region, image.id)


def image_descriptor(image):
    disks = sorted(
        (
            {"device": disk.device or "", "snapshot_id": disk.snapshot_id, "size_gb": disk.size_gb}
            for disk in image.disks
        ),
        key=lambda disk: (disk["device"], disk["snapshot_id"] or ""),
    )
    return {
        "_type": DESCRIPTOR_TYPE,
        "cloud": image.cloud,
        "owner": image.owner or "",
        "region": image.region,
        "id": image.id,
        "name": image.name or "",
        "created": image.created or "",
        "architecture": image.architecture,
        "disks": disks,
    }


def descriptor_bytes(image):
    return canonical_json(image_descriptor(image))


def descriptor_digest(image):
    """sha256, hex, of the canonical JSON of the image's descriptor."""
    return sha256_hex(descriptor_bytes(image))
