# Private to this collection.
"""The cloud-neutral model of an image: what the workflow reads, whatever the cloud calls it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

# Normalised lifecycle states; each adapter maps its cloud's states onto these.
PENDING = "pending"
AVAILABLE = "available"
FAILED = "failed"
DEREGISTERED = "deregistered"


@dataclass(frozen=True)
class Disk:
    device: str
    snapshot_id: str | None
    size_gb: int | None = None


@dataclass(frozen=True)
class Image:
    cloud: str
    id: str
    name: str
    region: str
    state: str
    created: str
    owner: str
    source_image: str | None = None
    architecture: str | None = None
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    disks: list[Disk] = field(default_factory=list)
    deprecation_time: str | None = None
    cloud_state: str | None = None
    state_reason: str | None = None
    # The image family it was made in: its versions' common name, resolved to the newest one (None: none).
    family: str | None = None

    @property
    def snapshot_ids(self):
        return [disk.snapshot_id for disk in self.disks if disk.snapshot_id]

    def to_dict(self):
        return asdict(self)


@dataclass(frozen=True)
class ImageUser:
    """Something that would break if the image disappeared: an instance, a template, a group."""

    kind: str
    id: str
    detail: str = ""

    def describe(self):
        return "%s %s%s" % (self.kind, self.id, " (%s)" % self.detail if self.detail else "")

    def to_dict(self):
        return asdict(self)


def newest_first(images):
    # ISO 8601 UTC strings sort chronologically; ids break ties so the order is stable.
    return sorted(images, key=lambda image: (image.created, image.id), reverse=True)
