# Private to this collection.
"""What the cloud-neutral workflow asks of a cloud. One implementation per cloud, in its adapter."""

from __future__ import annotations

import abc


class ImageBackend(abc.ABC):
    """Images of one cloud in one region (AMIs, GCE images, Azure gallery image versions)."""

    cloud = None
    tag_limits = None
    codec = None  # codec.MetadataCodec

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


class BuilderBackend(abc.ABC):
    """Temporary build instances of one cloud in one region, and the access rules and keys made for them."""

    cloud = None
    tag_limits = None
    codec = None  # codec.MetadataCodec

    def __init__(self, region):
        self.region = region

    @abc.abstractmethod
    def find(self, name):
        """Builders with this name (every builder of the collection when ``name`` is None), any state."""

    @abc.abstractmethod
    def get(self, builder_id):
        """The builder with this id, or None once it is gone."""

    @abc.abstractmethod
    def reachable(self, builder):
        """Whether the cloud reports the running builder ready for connections (status checks passed)."""

    @abc.abstractmethod
    def network_of(self, subnet_id):
        """``{subnet_id, vpc_id, cidr}`` of the given subnet, or of a default one when None."""

    @abc.abstractmethod
    def create_security_group(self, name, network, ssh_cidrs, tags):
        """Make a rule set allowing SSH from ``ssh_cidrs``; returns its id."""

    @abc.abstractmethod
    def create_key_pair(self, name, key_dir, tags):
        """Make a key pair and write its private key under ``key_dir``; returns (key name, key path)."""

    @abc.abstractmethod
    def key_path(self, builder, key_dir):
        """Where the private key of a builder's own key pair was written, or None."""

    @abc.abstractmethod
    def launch(self, name, image_id, instance_type, subnet_id, security_group_ids, key_name, public_address, tags):
        """Start the builder instance; returns it, likely starting."""

    @abc.abstractmethod
    def stop(self, builder):
        """Stop the builder (its disks are kept for imaging)."""

    @abc.abstractmethod
    def terminate(self, builder):
        """Terminate the builder."""

    @abc.abstractmethod
    def leftovers(self, name):
        """Security groups and key pairs made for builders (of ``name``, or all when None), as Leftover."""

    @abc.abstractmethod
    def delete_security_group(self, group_id):
        """Delete a security group made for a builder; one already gone is fine."""

    @abc.abstractmethod
    def delete_key_pair(self, key_name, key_dir):
        """Delete a key pair made for a builder and its private key file; one already gone is fine."""

    @abc.abstractmethod
    def api_calls(self):
        """Calls made so far, by ``service:Operation``."""


class GroupBackend(abc.ABC):
    """Instance groups (Auto Scaling groups) and the template versions they launch from."""

    cloud = None
    tag_limits = None
    codec = None  # codec.MetadataCodec

    @abc.abstractmethod
    def groups(self):
        """Every group of the account and region (fleet.Group), including those being deleted."""

    @abc.abstractmethod
    def get(self, name):
        """The group of this name, or None."""

    @abc.abstractmethod
    def create_empty(self, name, template, subnets, tags):
        """Create a group of size 0 with ``tags`` in one atomic call: the rollout's lock.

        Returns False, creating nothing, when a group of that name exists already.
        """

    @abc.abstractmethod
    def template_version(self, template, version=None):
        """fleet.TemplateVersion of ``template`` (id or name): ``version``, or the default one."""

    @abc.abstractmethod
    def template_versions(self, template):
        """Every version of ``template`` (fleet.TemplateVersion)."""

    @abc.abstractmethod
    def create_template_version(self, base, image_id, description):
        """A new version of ``base``'s template: the same data with only the image changed."""

    @abc.abstractmethod
    def delete_template_version(self, template_id, version):
        """Delete one template version; one already gone is fine."""

    @abc.abstractmethod
    def launch(self, name, template, target, size):
        """Point the group at ``template`` (id, version), register it with ``target`` and size it."""

    @abc.abstractmethod
    def resize(self, name, size):
        """Set the group's minimum, maximum and desired size to ``size``."""

    @abc.abstractmethod
    def set_tags(self, name, tags):
        """Add or overwrite tags on the group."""

    @abc.abstractmethod
    def remove_tags(self, name, keys):
        """Remove tags from the group."""

    @abc.abstractmethod
    def delete(self, name):
        """Delete the group and its instances; one already gone is fine."""

    @abc.abstractmethod
    def api_calls(self):
        """Calls made so far, by ``service:Operation``."""


class TrafficBackend(abc.ABC):
    """A listener that splits traffic between targets by weight (ALB listener, backend service)."""

    cloud = None

    @abc.abstractmethod
    def weights(self, listener):
        """{target id: weight} the listener forwards to now."""

    @abc.abstractmethod
    def set_weights(self, listener, weights):
        """Forward by these {target id: weight}; targets left out get nothing."""

    @abc.abstractmethod
    def target(self, target_id):
        """fleet.Target with this id, or None."""

    @abc.abstractmethod
    def find_target(self, name):
        """fleet.Target with this name, or None."""

    @abc.abstractmethod
    def create_target_like(self, name, model, tags):
        """A new target named ``name`` with the protocol, port, network and health check of ``model``."""

    @abc.abstractmethod
    def delete_target(self, target_id):
        """Delete a target no listener uses; one already gone is fine."""

    @abc.abstractmethod
    def target_health(self, target_id):
        """{instance id: state} as the load balancer sees it (healthy, unhealthy, initial, unused, ...)."""


class HealthBackend(abc.ABC):
    """The cloud's own health signals beyond the load balancer: alarms."""

    cloud = None

    @abc.abstractmethod
    def alarm_states(self, names):
        """{alarm name: OK | ALARM | INSUFFICIENT_DATA | MISSING}."""


class SigningKeyBackend(abc.ABC):
    """Asymmetric signing keys of a cloud's key service (AWS KMS, Cloud KMS, Key Vault)."""

    cloud = None

    @abc.abstractmethod
    def signer(self, key_id):
        """A signer (``keyid``, ``public_key``, ``algorithm``, ``name``, ``sign(data)``) for an enabled key."""

    @abc.abstractmethod
    def describe_public_key(self, key_id, region=None):
        """``{public_key_der, enabled, state, arn}`` of a key, to verify its signatures offline."""

    @abc.abstractmethod
    def api_calls(self):
        """Calls made so far, by ``service:Operation``."""


class InstanceBackend(abc.ABC):
    """Running instances of one cloud and region as a drift scan reads them, and their replacement."""

    cloud = None

    @abc.abstractmethod
    def instances(self, subnets=None, tags=None):
        """drift.Observed of every live instance in any of ``subnets`` carrying all ``tags``, a page per call."""

    @abc.abstractmethod
    def images(self, image_ids):
        """model.Image of each id the cloud still has, read in as few calls as the cloud allows."""

    @abc.abstractmethod
    def replace_in_group(self, group, instance_id):
        """Terminate an instance of ``group`` without lowering its size, so the group launches a replacement."""

    @abc.abstractmethod
    def terminate(self, instance_ids):
        """Terminate instances no group of ours launched."""

    @abc.abstractmethod
    def api_calls(self):
        """Calls made so far, by ``service:Operation``."""
