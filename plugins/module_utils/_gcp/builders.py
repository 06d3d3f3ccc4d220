# Private to this collection.
"""Compute Engine instances as builders behind the cloud-neutral BuilderBackend interface.

A builder is an instance in the connection's zone; its access rule a firewall rule allowing tcp:22 to the
instances carrying the rule's name as a network tag; its SSH key an Ed25519 key made here, whose public half
goes into the instance's ``ssh-keys`` metadata (it is deleted with the instance) and whose private half is a
file under ``key_dir``.

What the core writes as tags is written as labels on the instance (``codec.labels_of``). Firewall rules take
no labels, so a rule's ownership (the builder's name and expiry) is the JSON of its description. A builder's
key file lives only on this host: the instance's label names it, so it is reported with its builder's
leftovers while the instance exists or was found by this backend earlier in the task (``absent`` terminates
the instance before it asks for leftovers).

Every mutation waits for its Compute operation: a failed insert is known only from it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re

from .._core import tags as tagging
from .._core.backends import BuilderBackend
from .._core.builders import (
    ACCESS_RULE,
    GONE,
    RUNNING,
    SSH_KEY,
    STARTING,
    STOPPED,
    STOPPING,
    Builder,
    Leftover,
)
from .._core.errors import InvalidInput, PhoenixError
from .._core.keys import require_cryptography
from .._core.timeutil import format_utc, parse_utc
from . import compute
from .codec import GCP_CODEC, GCP_LABEL_LIMITS, label_value, labels_of, tags_of
from .errors import AlreadyExists, NotFound
from .identifiers import instance_id, parse_instance_id
from .operations import wait_for

BUILDER_LABEL = GCP_CODEC.key(tagging.BUILDER)
EXPIRES_LABEL = GCP_CODEC.key(tagging.EXPIRES_AT)
ACCESS_RULE_LABEL = GCP_CODEC.key(tagging.BUILDER_ACCESS_RULE)
SSH_KEY_LABEL = GCP_CODEC.key(tagging.BUILDER_SSH_KEY)
# The image a builder was launched from, as launch was given it: an Instance has no sourceImage of its own and
# an image id is too long for a label value.
SOURCE_IMAGE_ITEM = "phoenix-source-image"
SSH_KEYS_ITEM = "ssh-keys"
KEY_COMMENT = "phoenix"
RESOURCE_PREFIX = "phoenix-builder-"
KEY_PREFIX = "phoenix-builder-key-"
KEY_STEM = re.compile(re.escape(KEY_PREFIX) + r"[0-9a-f]{24}\Z")
LEGAL_NAME = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?\Z")
ILLEGAL_RUN = re.compile(r"[^a-z0-9-]+")
DIGEST_LENGTH = 8

# https://cloud.google.com/compute/docs/instances/instance-life-cycle. A deleted instance is STOPPING and then
# no longer found (get answers None); TERMINATED is a stopped one, its disks kept.
BUILDER_STATES = {
    "PROVISIONING": STARTING,
    "STAGING": STARTING,
    "RUNNING": RUNNING,
    "REPAIRING": STARTING,
    "STOPPING": STOPPING,
    "SUSPENDING": STOPPING,
    "SUSPENDED": STOPPED,
    "TERMINATED": STOPPED,
}


def resource_name(name):
    """``phoenix-builder-<name>`` as a legal instance and firewall name; a digest of ``name`` is added whenever
    it had to change (illegal characters or too long), so two builder names never share a resource name."""
    wanted = RESOURCE_PREFIX + name
    if LEGAL_NAME.match(wanted):
        return wanted
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:DIGEST_LENGTH]
    cleaned = ILLEGAL_RUN.sub("-", wanted.lower())[: 63 - DIGEST_LENGTH - 1].rstrip("-")
    return "%s-%s" % (cleaned, digest)


def key_stem(key_ref):
    """The file name (and label value) of the key made for a builder, from its public key or as labelled; None
    for anything else (a label is anyone's to write: it never names a file outside the key directory)."""
    if key_ref.startswith("ssh-"):
        blob = key_ref.split()[1] if len(key_ref.split()) > 1 else key_ref
        return KEY_PREFIX + hashlib.sha256(blob.encode("ascii")).hexdigest()[:24]
    return key_ref if KEY_STEM.match(key_ref) else None


def _ownership(text):
    """The tags a firewall description written by create_access_rule holds, or None for any other."""
    try:
        tags = json.loads(text or "")
    except ValueError:
        return None
    if not isinstance(tags, dict) or not isinstance(tags.get(BUILDER_LABEL), str):
        return None
    return tags


def _path(link):
    """A Compute URL as the path under the API root (``projects/P/...``)."""
    index = (link or "").find("projects/")
    return link[index:] if index >= 0 else link or ""


def _metadata(instance):
    return {item.get("key"): item.get("value", "") for item in (instance.get("metadata") or {}).get("items") or []}


def builder_from_instance(instance, project, zone):
    """The core's Builder from a Compute Instance."""
    tags = tags_of(instance.get("labels"))
    interface = (instance.get("networkInterfaces") or [{}])[0]
    nat = next((config.get("natIP") for config in interface.get("accessConfigs") or [] if config.get("natIP")), None)
    metadata = _metadata(instance)
    login = metadata.get(SSH_KEYS_ITEM, "").splitlines()
    created = instance.get("creationTimestamp")
    return Builder(
        cloud="gcp",
        id=instance_id(project, zone, instance["name"]),
        name=tags.get(BUILDER_LABEL, ""),
        region=zone,
        state=BUILDER_STATES.get(instance.get("status", ""), STARTING),
        image_id=metadata.get(SOURCE_IMAGE_ITEM, ""),
        machine_type=(instance.get("machineType") or "").rsplit("/", 1)[-1],
        subnet=_path(interface.get("subnetwork")),
        private_address=interface.get("networkIP"),
        public_address=nat,
        access_rule_id=tags.get(ACCESS_RULE_LABEL),
        ssh_key=login[0].split(":", 1)[-1] if login else None,
        owned_access_rule=tags.get(ACCESS_RULE_LABEL),
        owned_ssh_key=tags.get(SSH_KEY_LABEL),
        expires_at=tags.get(EXPIRES_LABEL),
        launched=format_utc(parse_utc(created)) if created else "",
        tags=tags,
        state_reason=instance.get("statusMessage"),
    )


class GcpBuilderBackend(BuilderBackend):
    """A builder is a Compute Engine instance; its access rule a firewall rule, its SSH key instance metadata."""

    cloud = "gcp"
    tag_limits = GCP_LABEL_LIMITS
    codec = GCP_CODEC
    defaults = {"machine_type": "e2-small", "user": "phoenix"}
    kinds = {ACCESS_RULE: "firewall_rule", SSH_KEY: "ssh_key"}

    def __init__(self, connection, waiter=None):
        super().__init__(connection.zone)
        self.connection = connection
        self.project = connection.project
        self.waiter = waiter
        # Builders found in this task, by id: their key files are leftovers even once their instances are gone.
        self._found = {}

    @property
    def zone(self):
        if not self.connection.zone:
            raise InvalidInput(
                "no GCP zone given: a builder is launched in one zone",
                resource="zone",
                hint="Set the zone option (or GCP_ZONE), for example us-central1-a.",
            )
        return self.connection.zone

    def _region(self):
        return self.zone.rsplit("-", 1)[0]

    def _wait(self, operation):
        return wait_for(self.connection, operation, self.waiter)

    def _builder(self, instance, zone):
        builder = builder_from_instance(instance, self.project, zone)
        if builder.name:
            self._found[builder.id] = builder
        return builder

    # -- reading ---------------------------------------------------------------------------------------

    def _instances(self, name):
        if name is None:
            expression = "labels.%s:*" % BUILDER_LABEL
        else:
            expression = 'labels.%s = "%s"' % (BUILDER_LABEL, label_value(name, BUILDER_LABEL))
        found = compute.aggregated_instances(self.connection, self.project, expression)
        # The filter narrows the listing; only the label read back as the name decides.
        return [
            (zone, instance)
            for zone, instance in found
            if BUILDER_LABEL in tags_of(instance.get("labels"))
            and (name is None or tags_of(instance.get("labels"))[BUILDER_LABEL] == name)
        ]

    def find(self, name):
        return [self._builder(instance, zone) for zone, instance in self._instances(name)]

    def get(self, builder_id):
        project, zone, instance_name = parse_instance_id(builder_id)
        try:
            instance = compute.get_instance(self.connection, project, zone, instance_name)
        except NotFound:
            return None
        return self._builder(instance, zone)

    def reachable(self, builder):
        # GCE has no instance status checks: RUNNING is all it reports (the guest may still be booting).
        return builder.state == RUNNING

    def network(self, subnet):
        region = self._region()
        if subnet:
            parts = _path(subnet).split("/")
            if len(parts) >= 4 and parts[-4] == "regions" and parts[-2] == "subnetworks":
                if parts[-3] != region:
                    raise InvalidInput(
                        "subnet %s is in region %s; the builder's zone %s is in %s"
                        % (subnet, parts[-3], self.zone, region),
                        resource="subnet_id",
                        hint="Give a subnetwork of region %s, or another zone." % region,
                    )
                parts = parts[-1:]
            if len(parts) != 1:
                raise InvalidInput(
                    "subnet_id %r is not a subnetwork name or projects/P/regions/R/subnetworks/NAME" % subnet,
                    resource="subnet_id",
                )
            found = compute.get_subnetwork(self.connection, self.project, region, parts[0])
        else:
            default = compute.get_network(self.connection, self.project, "default")
            links = [link for link in default.get("subnetworks") or [] if "/regions/%s/subnetworks/" % region in link]
            if not links:
                raise InvalidInput(
                    "no subnet_id given and the default network of %s has no subnetwork in %s" % (self.project, region),
                    resource="subnet_id",
                    hint="Give subnet_id: the subnetwork the builder runs in.",
                )
            found = compute.get_subnetwork(self.connection, self.project, region, links[0].rsplit("/", 1)[-1])
        return {"subnet": _path(found["selfLink"]), "network": _path(found["network"]), "cidr": found["ipCidrRange"]}

    # -- access rules ------------------------------------------------------------------------------------

    def create_access_rule(self, name, network, ssh_cidrs, tags):
        rule_name = resource_name(name)
        body = {
            "name": rule_name,
            "description": json.dumps(tags, sort_keys=True),
            "network": network["network"],
            "direction": "INGRESS",
            "allowed": [{"IPProtocol": "tcp", "ports": ["22"]}],
            "sourceRanges": list(ssh_cidrs),
            "targetTags": [rule_name],
        }
        try:
            self._wait(compute.insert_firewall(self.connection, self.project, body))
        except AlreadyExists as error:
            # A rule of this name is ours only if it carries this run's ownership; anything else is refused.
            existing = compute.get_firewall(self.connection, self.project, rule_name)
            if _ownership(existing.get("description")) != dict(tags):
                raise PhoenixError(
                    "cannot create firewall rule %s in %s: one of that name exists and was not made by this run (%s)"
                    % (rule_name, self.project, error.message),
                    resource=rule_name,
                    code=error.code,
                    cloud="gcp",
                    hint="Remove what an earlier run of this builder left with state: absent, then run again.",
                ) from None
        return rule_name

    def delete_access_rule(self, rule_id):
        with contextlib.suppress(NotFound):
            self._wait(compute.delete_firewall(self.connection, self.project, rule_id))

    def _target_tags(self, name, access_rule_ids):
        """Network tags that put the builder under each rule: a rule applies to the instances of its target tags."""
        tags = []
        for rule in access_rule_ids:
            targets = [rule] if rule == resource_name(name) else None
            if targets is None:
                targets = compute.get_firewall(self.connection, self.project, rule).get("targetTags") or []
            tags.extend(tag for tag in targets if tag not in tags)
        return tags

    # -- SSH keys --------------------------------------------------------------------------------------

    @staticmethod
    def _key_file(key_ref, key_dir):
        stem = key_stem(key_ref)
        if stem is None:
            return None
        return os.path.join(os.path.expanduser(key_dir or "~/.ansible/phoenix/builder-keys"), stem)

    def create_ssh_key(self, name, key_dir, tags):
        crypto = require_cryptography()
        private = crypto.ed25519.Ed25519PrivateKey.generate()
        public = (
            private.public_key()
            .public_bytes(crypto.serialization.Encoding.OpenSSH, crypto.serialization.PublicFormat.OpenSSH)
            .decode("ascii")
        )
        key_ref = "%s %s" % (public, KEY_COMMENT)
        path = self._key_file(key_ref, key_dir)
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        # The private key exists only here: written readable by its owner alone, before anything else.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(
                private.private_bytes(
                    crypto.serialization.Encoding.PEM,
                    crypto.serialization.PrivateFormat.OpenSSH,
                    crypto.serialization.NoEncryption(),
                )
            )
        return key_ref, path

    def login_key(self, ssh_key, user):
        if not ssh_key or re.match(r"[^\s:]+:", ssh_key):
            return ssh_key
        return "%s:%s" % (user, ssh_key.strip())

    def key_path(self, builder, key_dir):
        if not builder.owned_ssh_key:
            return None
        path = self._key_file(builder.owned_ssh_key, key_dir)
        return path if path and os.path.exists(path) else None

    def delete_ssh_key(self, key_ref, key_dir):
        # The public half is in the instance's metadata and goes with it.
        path = self._key_file(key_ref, key_dir)
        if path and os.path.exists(path):
            os.remove(path)

    # -- instances -----------------------------------------------------------------------------------

    def _source_image(self, image_id):
        if "/" in image_id:
            return image_id
        return "projects/%s/global/images/%s" % (self.project, image_id)

    def launch(self, name, image_id, machine_type, subnet, access_rule_ids, ssh_key, public_address, tags):
        zone = self.zone
        instance_name = resource_name(name)
        labelled = dict(tags)
        if labelled.get(SSH_KEY_LABEL):
            labelled[SSH_KEY_LABEL] = key_stem(labelled[SSH_KEY_LABEL])
        labels = labels_of(labelled, "builder %r" % name)
        interface = {"subnetwork": subnet}
        if public_address:
            interface["accessConfigs"] = [{"type": "ONE_TO_ONE_NAT", "name": "External NAT"}]
        items = [{"key": SOURCE_IMAGE_ITEM, "value": image_id}]
        if ssh_key:
            items.append({"key": SSH_KEYS_ITEM, "value": ssh_key})
        body = {
            "name": instance_name,
            "description": "phoenix.immutable builder %s; deleted with its bake" % name,
            "machineType": "zones/%s/machineTypes/%s" % (zone, machine_type),
            "disks": [
                {"boot": True, "autoDelete": True, "initializeParams": {"sourceImage": self._source_image(image_id)}}
            ],
            "networkInterfaces": [interface],
            "tags": {"items": self._target_tags(name, access_rule_ids)},
            "labels": labels,
            "metadata": {"items": items},
        }
        try:
            # The connection sends one requestId with every attempt: a retry after a lost answer is answered
            # with the first attempt's operation, not a second instance.
            self._wait(compute.insert_instance(self.connection, self.project, zone, body))
        except AlreadyExists as error:
            existing = compute.get_instance(self.connection, self.project, zone, instance_name)
            if tags_of(existing.get("labels")).get(BUILDER_LABEL) != name:
                raise PhoenixError(
                    "cannot launch builder %s: instance %s exists in %s and is not a builder of that name (%s)"
                    % (name, instance_name, zone, error.message),
                    resource=instance_id(self.project, zone, instance_name),
                    code=error.code,
                    cloud="gcp",
                    hint="Delete or rename that instance, or give the builder another name.",
                ) from None
            return self._builder(existing, zone)
        return self._builder(compute.get_instance(self.connection, self.project, zone, instance_name), zone)

    def stop(self, builder):
        project, zone, instance_name = parse_instance_id(builder.id)
        self._wait(compute.stop_instance(self.connection, project, zone, instance_name))

    def terminate(self, builder):
        project, zone, instance_name = parse_instance_id(builder.id)
        try:
            operation = compute.delete_instance(self.connection, project, zone, instance_name)
        except NotFound:
            return GONE
        done = self._wait(operation)
        return GONE if done.get("status") == "DONE" else STOPPING

    def leftovers(self, name):
        found = []
        for rule in compute.list_firewalls(self.connection, self.project):
            owner = _ownership(rule.get("description"))
            if owner is not None and (name is None or owner[BUILDER_LABEL] == name):
                found.append(Leftover(ACCESS_RULE, rule["name"], owner[BUILDER_LABEL], owner.get(EXPIRES_LABEL)))
        builders = {builder.id: builder for builder in self.find(name)}
        for builder_id, builder in self._found.items():
            if name is None or builder.name == name:
                builders.setdefault(builder_id, builder)
        stems = set()
        for builder in builders.values():
            if builder.owned_ssh_key and key_stem(builder.owned_ssh_key) and builder.owned_ssh_key not in stems:
                stems.add(builder.owned_ssh_key)
                found.append(Leftover(SSH_KEY, builder.owned_ssh_key, builder.name, builder.expires_at))
        return found

    def api_calls(self):
        return self.connection.api_calls()
