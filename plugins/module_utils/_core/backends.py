# Private to this collection.
"""What the cloud-neutral workflow asks of a cloud. One implementation per cloud, in its adapter."""

from __future__ import annotations

import abc


class ImageBackend(abc.ABC):
    """Images of one cloud in one region (AMIs, GCE images, Azure gallery image versions)."""

    cloud = None
    tag_limits = None

    def __init__(self, region):
        self.region = region

    @abc.abstractmethod
    def in_region(self, region):
        """The same backend, same credentials, for another region."""

    @abc.abstractmethod
    def enabled_regions(self):
        """Regions this account may use, to refuse a copy to one it cannot."""

    @abc.abstractmethod
    def get(self, image_id):
        """The image with this id, or None."""

    @abc.abstractmethod
    def find_by_name(self, name):
        """The caller's images with exactly this name (a list: names are unique on some clouds only)."""

    @abc.abstractmethod
    def search(self, image_ids=None, name_pattern=None, tags=None, owners=None):
        """Images matching every given criterion; ``name_pattern`` is a glob."""

    @abc.abstractmethod
    def source_of(self, instance_id):
        """The image a builder instance was launched from, or raise if the instance does not exist."""

    @abc.abstractmethod
    def create(self, name, instance_id, description, tags, no_reboot):
        """Start creating an image from the builder; returns it, likely pending."""

    @abc.abstractmethod
    def copy_from(self, image, tags):
        """Start copying ``image`` (from another region) into this backend's region."""

    @abc.abstractmethod
    def set_tags(self, image, to_set, to_remove):
        """Apply a tag change computed by the core."""

    @abc.abstractmethod
    def users(self, image):
        """Every ImageUser that would break if the image were deleted."""

    @abc.abstractmethod
    def delete(self, image):
        """Delete the image and the storage it owns (snapshots, disks)."""

    @abc.abstractmethod
    def set_deprecation(self, image, deprecate_at):
        """Schedule deprecation at a UTC datetime, or cancel it with None."""

    @abc.abstractmethod
    def api_calls(self):
        """Calls made so far, by ``service:Operation``: the cost the user pays."""
