# Private to this collection.
"""EC2 instances as builders behind the cloud-neutral BuilderBackend interface."""

from __future__ import annotations

import os
import uuid

from .._core import tags as tagging
from .._core.backends import BuilderBackend
from .._core.builders import ACCESS_RULE, SSH_KEY, Leftover
from .._core.errors import InvalidInput, PhoenixError
from .builder_api import BuilderApi
from .codec import AWS_CODEC, AWS_TAG_LIMITS
from .transformations import BUILDER_STATES, builder_from_instance, tags_to_dict

BUILDER_TAG = AWS_CODEC.key(tagging.BUILDER)
EXPIRES_TAG = AWS_CODEC.key(tagging.EXPIRES_AT)
GONE_CODES = ("InvalidGroup.NotFound", "InvalidKeyPair.NotFound", "InvalidInstanceID.NotFound")
GROUP_DUPLICATE = "InvalidGroup.Duplicate"
KEY_PAIR_DUPLICATE = "InvalidKeyPair.Duplicate"
RULE_DUPLICATE = "InvalidPermission.Duplicate"


def _resource_name(name):
    return "phoenix-builder-%s" % name


class AwsBuilderBackend(BuilderBackend):
    """A builder is an EC2 instance; its access rule a security group, its SSH key an EC2 key pair."""

    cloud = "aws"
    tag_limits = AWS_TAG_LIMITS
    codec = AWS_CODEC
    defaults = {"machine_type": "t3.micro", "user": "ec2-user"}
    kinds = {ACCESS_RULE: "security_group", SSH_KEY: "key_pair"}
    # The keys results had before the core was neutral: playbooks read them.
    result_aliases = {
        "instance_type": "machine_type",
        "subnet_id": "subnet",
        "vpc_id": "network",
        "security_group_id": "access_rule_id",
        "key_name": "ssh_key",
    }

    def __init__(self, connection, region=None):
        super().__init__(region or connection.region)
        self.connection = connection
        self.api = BuilderApi(connection, self.region)

    def find(self, name):
        instances = self.api.instances_tagged(BUILDER_TAG, name)
        return [builder_from_instance(instance, self.region) for instance in instances]

    def get(self, builder_id):
        try:
            instances = self.api.describe_instances(instance_ids=[builder_id])
        except PhoenixError as error:
            if error.code == "InvalidInstanceID.NotFound":
                return None
            raise
        return builder_from_instance(instances[0], self.region) if instances else None

    def reachable(self, builder):
        return self.api.instance_status_ok(builder.id)

    def network(self, subnet):
        if subnet:
            subnets = self.api.describe_subnets(subnet_ids=[subnet])
        else:
            subnets = sorted(
                self.api.describe_subnets(filters=[{"Name": "default-for-az", "Values": ["true"]}]),
                key=lambda subnet: subnet["AvailabilityZone"],
            )
            if not subnets:
                raise InvalidInput(
                    "no subnet_id given and %s has no default subnet" % self.region,
                    resource="subnet_id",
                    hint="Give subnet_id: the subnet the builder runs in.",
                )
        subnet = subnets[0]
        return {"subnet": subnet["SubnetId"], "network": subnet["VpcId"], "cidr": subnet["CidrBlock"]}

    # A create whose answer was lost (the cloud made it, the reply never came) is retried by the retry
    # policy and meets its own resource: "Duplicate". Security groups and key pairs take no client
    # token, so the one found by name is ours only if it carries this run's tags (the builder's name
    # and this run's expiry time); anything else is refused, never adopted.

    def create_access_rule(self, name, network, ssh_cidrs, tags):
        group_name = _resource_name(name)
        try:
            group_id = self.api.create_security_group(
                group_name,
                "SSH to the phoenix.immutable builder %s; deleted with it" % name,
                network["network"],
                tags,
            )
        except PhoenixError as error:
            if error.code != GROUP_DUPLICATE:
                raise
            found = [
                group
                for group in self.api.security_groups_tagged(BUILDER_TAG, name)
                if group.get("GroupName") == group_name and group.get("VpcId") == network["network"]
            ]
            group_id = _made_by_this_run(error, "security group", group_name, self.region, found, tags)["GroupId"]
        try:
            self.api.allow_ssh(group_id, ssh_cidrs)
        except PhoenixError as error:
            # The rule is there: the answer to an earlier attempt was lost. Nothing else writes to the group.
            if error.code != RULE_DUPLICATE:
                raise
        return group_id

    def create_ssh_key(self, name, key_dir, tags):
        key_name = _resource_name(name)
        path = self._key_file(key_name, key_dir)
        try:
            created = self.api.create_key_pair(key_name, tags)
        except PhoenixError as error:
            if error.code != KEY_PAIR_DUPLICATE:
                raise
            found = [pair for pair in self.api.key_pairs_tagged(BUILDER_TAG, name) if pair.get("KeyName") == key_name]
            _made_by_this_run(error, "key pair", key_name, self.region, found, tags)
            # Ours, but its private key was in the answer that was lost: nobody can use it. Make it again.
            self.api.delete_key_pair(key_name)
            created = self.api.create_key_pair(key_name, tags)
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        # The private key exists only here: written readable by its owner alone, before anything else.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(created["KeyMaterial"])
        return key_name, path

    @staticmethod
    def _key_file(key_name, key_dir):
        return os.path.join(os.path.expanduser(key_dir or "~/.ansible/phoenix/builder-keys"), key_name + ".pem")

    def key_path(self, builder, key_dir):
        if not builder.owned_ssh_key:
            return None
        path = self._key_file(builder.owned_ssh_key, key_dir)
        return path if os.path.exists(path) else None

    def launch(self, name, image_id, machine_type, subnet, access_rule_ids, ssh_key, public_address, tags):
        token = "phoenix-builder-%s" % uuid.uuid4().hex
        # The Name tag is what the EC2 console shows: the builder's, whatever the user's tags say.
        tags = dict(tags, Name=_resource_name(name))
        instance = self.api.run_instance(
            image_id, machine_type, subnet, access_rule_ids, ssh_key, public_address, tags, token
        )
        return builder_from_instance(instance, self.region)

    def stop(self, builder):
        self.api.stop_instance(builder.id)

    def terminate(self, builder):
        return BUILDER_STATES.get(self.api.terminate_instance(builder.id))

    def leftovers(self, name):
        found = []
        for group in self.api.security_groups_tagged(BUILDER_TAG, name):
            tags = tags_to_dict(group.get("Tags"))
            found.append(Leftover(ACCESS_RULE, group["GroupId"], tags.get(BUILDER_TAG, ""), tags.get(EXPIRES_TAG)))
        for pair in self.api.key_pairs_tagged(BUILDER_TAG, name):
            tags = tags_to_dict(pair.get("Tags"))
            found.append(Leftover(SSH_KEY, pair["KeyName"], tags.get(BUILDER_TAG, ""), tags.get(EXPIRES_TAG)))
        return found

    def delete_access_rule(self, rule_id):
        self._ignore_gone(self.api.delete_security_group, rule_id)

    def delete_ssh_key(self, key_ref, key_dir):
        self._ignore_gone(self.api.delete_key_pair, key_ref)
        path = self._key_file(key_ref, key_dir)
        if os.path.exists(path):
            os.remove(path)

    @staticmethod
    def _ignore_gone(call, resource_id):
        try:
            call(resource_id)
        except PhoenixError as error:
            if error.code not in GONE_CODES:
                raise

    def api_calls(self):
        return self.connection.api_calls()


def _made_by_this_run(error, kind, name, region, found, tags):
    """The resource of that name if it carries every tag this run wrote with it, else a PhoenixError."""
    for resource in found:
        if all(tags_to_dict(resource.get("Tags")).get(key) == value for key, value in tags.items()):
            return resource
    raise PhoenixError(
        "cannot create %s %s in %s: one of that name exists and was not made by this run (%s)"
        % (kind, name, region, error.message),
        resource=name,
        code=error.code,
        cloud="aws",
        hint="Remove what an earlier run of this builder left with state: absent, then run again.",
    ) from None
