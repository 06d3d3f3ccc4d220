# Private to this collection.
"""What the cloud-neutral workflow asks of a cloud. One implementation per cloud, in its adapter."""

from __future__ import annotations

import abc

from . import tags as tagging


class ImageBackend(abc.ABC):
    """Images of one cloud in one region (AMIs, GCE images, Azure gallery image versions)."""

    cloud = None
    tag_limits = None
    codec = None  # codec.MetadataCodec

    def __init__(self, region):
        self.region = region

    def check_tags(self, tags, resource):
        """Refuse, before any call, tags (the core's view) the cloud would reject or mangle once written."""
        tagging.validate_tags(tags, self.codec.limits, resource)

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

    def source_instance(self, instance_id):
        """``(state, image_id)`` of a builder instance: state one of the builder states of ``_core.builders``
        (``running``, ``stopping``, ``stopped``, ``gone``, ...), image_id the image it was launched from."""
        raise NotImplementedError("%s cannot stop the instance it images" % self.cloud)

    def stop_source(self, instance_id):
        """Start stopping the builder instance; returns its state as the cloud answered."""
        raise NotImplementedError("%s cannot stop the instance it images" % self.cloud)

    @abc.abstractmethod
    def check_family(self, family, resource):
        """Refuse, before any change, an image family name the cloud would reject."""

    @abc.abstractmethod
    def create(self, name, instance_id, description, tags, no_reboot, family=None):
        """Start creating an image from the builder, in image family ``family`` when given (where the cloud has
        families, its own; elsewhere recorded with the image); returns it, likely pending."""

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
    """Temporary build instances of one cloud in one region, and the access rules and SSH keys made for them.

    An *access rule* lets SSH in from given ranges (a security group on AWS, a firewall rule on GCP, a network
    security group on Azure); an *SSH key* is what the builder accepts logins with (a key pair on AWS, instance
    metadata on GCP, the VM's public key on Azure).
    """

    cloud = None
    tag_limits = None
    codec = None  # codec.MetadataCodec
    # What the core uses when the user gave none: ``machine_type`` and the login ``user`` of the cloud's images.
    defaults = {}
    # The cloud's own word for each kind of resource made for a builder, naming actions (create_<word>).
    kinds = {"access_rule": "access_rule", "ssh_key": "ssh_key"}
    # Result keys in the cloud's own words, each a copy of a neutral key: {cloud's key: neutral key}.
    result_aliases = {}

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
    def network(self, subnet):
        """``{subnet, network, cidr}`` of the given subnet, or of a default one when None."""

    @abc.abstractmethod
    def create_access_rule(self, name, network, ssh_cidrs, tags):
        """Make an access rule in ``network`` allowing SSH from ``ssh_cidrs``; returns its id."""

    @abc.abstractmethod
    def create_ssh_key(self, name, key_dir, tags):
        """Make an SSH key and write its private half under ``key_dir``; returns (key ref, private key path)."""

    @abc.abstractmethod
    def key_path(self, builder, key_dir):
        """Where the private key of the SSH key made for a builder was written, or None."""

    def login_key(self, ssh_key, user):
        """The SSH key (ref, or None) as ``launch`` takes it for logins as ``user``; unchanged where the cloud's
        key names no user (an EC2 key pair), ``user:key`` where it does (GCE's ``ssh-keys`` metadata)."""
        return ssh_key

    @abc.abstractmethod
    def launch(self, name, image_id, machine_type, subnet, access_rule_ids, ssh_key, public_address, tags):
        """Start the builder with these access rules and SSH key (``login_key``'s, or None); returns it, likely
        starting."""

    @abc.abstractmethod
    def stop(self, builder):
        """Stop the builder (its disks are kept for imaging)."""

    @abc.abstractmethod
    def terminate(self, builder):
        """Terminate the builder; returns its state as the cloud answered (a builder state), or None."""

    @abc.abstractmethod
    def leftovers(self, name):
        """Access rules and SSH keys made for builders (of ``name``, or all when None), as Leftover."""

    @abc.abstractmethod
    def delete_access_rule(self, rule_id):
        """Delete an access rule made for a builder; one already gone is fine."""

    @abc.abstractmethod
    def delete_ssh_key(self, key_ref, key_dir):
        """Delete an SSH key made for a builder and its private key file; one already gone is fine."""

    def delete_part(self, part_id):
        """Delete a part of a builder its cloud keeps apart from the instance (``builders.PART``: a network
        interface, an address, a disk) that ``leftovers`` reported; one already gone is fine. Only a cloud
        whose leftovers report parts needs this: elsewhere an instance's parts go with it."""
        raise NotImplementedError("%s reports no builder parts" % type(self).__name__)

    @abc.abstractmethod
    def api_calls(self):
        """Calls made so far, by ``service:Operation``."""


class GroupBackend(abc.ABC):
    """Instance groups (Auto Scaling groups, managed instance groups, scale sets) and what they launch.

    A *base* is what the user names as the service's launch configuration (a launch template, an instance
    template, a scale set model); a *launch* is an opaque reference the adapter makes from the base with
    only the image changed, and the only thing the core hands back to it.
    """

    cloud = None
    codec = None

    @abc.abstractmethod
    def groups(self, with_members=True):
        """Every group of the account and region (fleet.Group, with its decoded ``record``), deleting ones too.

        ``with_members=False``: a caller that needs no group's ``instances`` (only records, sizes and settings)
        says so, and an adapter that reads members in calls of their own (one list per group) skips them; where
        the group's listing carries its members anyway they may still be there."""

    @abc.abstractmethod
    def get(self, name, with_members=True):
        """The group of this name, or None; ``with_members`` as for ``groups``."""

    @abc.abstractmethod
    def check_service_name(self, service):
        """Refuse (InvalidInput), before any call, a service name whose groups or backends the cloud would refuse."""

    @abc.abstractmethod
    def resolve_base(self, base):
        """The id of the base the user named (id or name); InvalidInput when there is none."""

    @abc.abstractmethod
    def base_launch(self, base):
        """The launch of the base itself (what a group points at when nothing of a rollout may stay in use)."""

    @abc.abstractmethod
    def image_of(self, group):
        """The image id ``group`` launches from now, or None."""

    @abc.abstractmethod
    def prepare_launch(self, base, image_id, rollout_id):
        """A launch of ``base`` with only the image changed, made once per ``rollout_id`` (a retry finds it)."""

    @abc.abstractmethod
    def prepared_launches(self, base, rollout_id):
        """Every launch made for ``rollout_id`` (more than one only after a create whose answer was lost)."""

    @abc.abstractmethod
    def discard_launch(self, launch):
        """Delete a launch made by prepare_launch; the base's own launch and one already gone are left alone."""

    @abc.abstractmethod
    def launch(self, name, launch, size):
        """Point the group at ``launch`` and size it."""

    @abc.abstractmethod
    def resize(self, name, size):
        """Set the group's minimum, maximum and desired size to ``size``."""

    @abc.abstractmethod
    def delete(self, name):
        """Delete the group and its instances in one request; one already gone is fine.

        It may return while the cloud still removes the group (``Group.deleting``), but only once nothing of it
        stands in the way of deleting its launch and its backend next: a cloud that refuses to delete a launch
        still in use by a group being deleted waits for that here."""

    @abc.abstractmethod
    def api_calls(self):
        """Calls made so far, by ``service:Operation``."""


class RolloutStore(abc.ABC):
    """Where a rollout's record (rollout_model.RolloutRecord) lives, and the service's lock.

    The record travels with the new group so that any controller resumes it. How it is written (tags,
    labels, a description; which characters, lengths, chunks) is the adapter's; the core only reads and
    writes records. ``create`` is the lock: however the cloud makes it atomic (a create that fails when the
    name exists, a conditional write), two runs never both get True for one name.
    """

    cloud = None

    @abc.abstractmethod
    def create(self, group, base, subnets, record, backends=()):
        """Create ``group`` empty (size 0, launching ``base``) carrying ``record`` and attached to ``backends`` (ids
        of TrafficBackend backends), in one request where the cloud allows: False when it exists already."""

    @abc.abstractmethod
    def read(self, group):
        """The record of ``group`` (RolloutRecord), or None when the group or its record is missing."""

    @abc.abstractmethod
    def write(self, group, record, fields):
        """Write ``fields`` (names of RolloutRecord fields) of ``record`` to the group's record."""

    @abc.abstractmethod
    def clear(self, group, fields):
        """Remove ``fields`` from the group's record."""

    @abc.abstractmethod
    def shown(self, field, value):
        """How a user sees ``field`` = ``value`` of a record in the cloud's console (for messages)."""


WEIGHTED = "weighted"
MEMBERSHIP = "membership"


class TrafficBackend(abc.ABC):
    """The load balancer in front of a service: a *frontend* sends traffic to *backends* groups are attached to.

    ``split`` is what it can do: WEIGHTED (shares per backend in percent: ALB listener, URL map) or
    MEMBERSHIP (a backend pool with no weights: every attached instance gets an equal share).
    """

    cloud = None
    split = WEIGHTED

    @abc.abstractmethod
    def shares(self, frontend):
        """{backend id: percent} the frontend sends traffic to now (MEMBERSHIP: 100 for each pool it serves)."""

    @abc.abstractmethod
    def set_shares(self, frontend, shares):
        """WEIGHTED: send by these {backend id: percent}; backends left out get nothing. The core calls it after
        ``shares`` of the same frontend in the same task: what that read returned may be relied on."""

    @abc.abstractmethod
    def backend(self, backend_id):
        """fleet.Backend with this id, or None."""

    @abc.abstractmethod
    def find_backend(self, name):
        """fleet.Backend with this name, or None."""

    @abc.abstractmethod
    def create_backend_like(self, name, model, labels):
        """WEIGHTED: a new backend named ``name`` with the protocol, port, network and health check of ``model``;
        one of that name made before (a lost answer, a run killed before its lock) is returned instead."""

    @abc.abstractmethod
    def delete_backend(self, backend_id):
        """Delete a backend no frontend uses; one already gone is fine."""

    @abc.abstractmethod
    def attach(self, group, backend_id):
        """Register the instances of ``group`` (now and to come) with the backend; attaching again is fine."""

    @abc.abstractmethod
    def detach(self, group, backend_id):
        """Deregister the group from the backend; a group not attached is fine."""

    @abc.abstractmethod
    def backend_health(self, backend_id):
        """{instance id: state} as the load balancer sees it (healthy, unhealthy, initial, unused, ...)."""


class HealthBackend(abc.ABC):
    """The cloud's own health signals beyond the load balancer: alarms (health.AlarmState)."""

    cloud = None

    def check_alarm_names(self, names):
        """Refuse (InvalidInput), before any call, alarm names this cloud's health gate cannot read."""
        return None

    @abc.abstractmethod
    def alarm_states(self, names):
        """{alarm name: health.AlarmState} of each alarm found; one not found is left out (and fails the gate)."""


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
    codec = None  # codec.MetadataCodec, to read the images' signatures
    # Whether a replacement comes back under the replaced instance's id (a managed instance group recreates a
    # member under its name): the wait for a batch then goes by the group's view of its members, not by ids.
    replaces_under_same_id = False
    # Whether an observed instance's ``group`` comes from that group's own list of members, so the scan's listing
    # is the groups' membership and a drift scan reads the groups without their members. Not where the group is
    # named by something that can outlive membership (an Auto Scaling tag stays on a detached instance).
    lists_group_members = False

    @abc.abstractmethod
    def instances(self, subnets=None, tags=None):
        """An iterable of drift.Observed of every live instance in any of ``subnets`` carrying all ``tags``, made
        as each page of the cloud's answer arrives (a generator holds one page, not every page)."""

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


# The key prefix of a BlobStore's objects unless the ``store`` option names another.
BLOB_PREFIX = "phoenix-attestations/"


class BlobStore(abc.ABC):
    """Content addressed by its sha256 in the cloud's object storage (S3, GCS, blob storage).

    What does not fit in an image's tags (a full vulnerability report, an SBOM) is put here; the signed
    statement in the tags carries its digest, so whatever ``get_blob`` returns is checked against that
    digest by the caller before it is believed.
    """

    @abc.abstractmethod
    def url_of(self, digest):
        """Where the blob of ``digest`` (sha256 hex) lives, as a URL of the cloud (``s3://bucket/key``)."""

    @abc.abstractmethod
    def put_blob(self, digest, data, media_type="application/json"):
        """Store ``data`` (bytes) under ``digest``; returns ``url_of(digest)``."""

    @abc.abstractmethod
    def get_blob(self, digest):
        """The bytes stored under ``digest``, or None when there are none."""
