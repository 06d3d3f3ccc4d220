"""Builders keep the AWS tag names of earlier releases, whatever the core calls them now."""

from __future__ import annotations

from ansible_collections.phoenix.immutable.plugins.module_utils._aws.builders import AwsBuilderBackend
from ansible_collections.phoenix.immutable.plugins.module_utils._aws.codec import AWS_CODEC
from ansible_collections.phoenix.immutable.plugins.module_utils._aws.transformations import builder_from_instance
from ansible_collections.phoenix.immutable.plugins.module_utils._core import tags as tagging
from ansible_collections.phoenix.immutable.plugins.module_utils._core.builders import ACCESS_RULE, SSH_KEY


def test_the_neutral_builder_names_are_written_as_the_old_aws_tag_keys():
    assert AWS_CODEC.key(tagging.BUILDER_ACCESS_RULE) == "phoenix:builder-security-group"
    assert AWS_CODEC.key(tagging.BUILDER_SSH_KEY) == "phoenix:builder-key"
    assert AWS_CODEC.key(tagging.BUILDER) == "phoenix:builder"
    assert AWS_CODEC.key(tagging.EXPIRES_AT) == "phoenix:expires-at"


def test_a_builder_tagged_by_an_earlier_release_knows_what_was_made_for_it():
    instance = {
        "InstanceId": "i-1",
        "ImageId": "ami-1",
        "InstanceType": "t3.micro",
        "SubnetId": "subnet-1",
        "KeyName": "phoenix-builder-bake-1",
        "SecurityGroups": [{"GroupId": "sg-1"}],
        "State": {"Name": "running"},
        "Tags": [
            {"Key": "phoenix:builder", "Value": "bake-1"},
            {"Key": "phoenix:builder-security-group", "Value": "sg-1"},
            {"Key": "phoenix:builder-key", "Value": "phoenix-builder-bake-1"},
        ],
    }
    builder = builder_from_instance(instance, "us-east-1")
    assert (builder.machine_type, builder.subnet, builder.access_rule_id, builder.ssh_key) == (
        "t3.micro",
        "subnet-1",
        "sg-1",
        "phoenix-builder-bake-1",
    )
    assert builder.owned_access_rule == "sg-1" and builder.owned_ssh_key == "phoenix-builder-bake-1"


def test_the_aws_adapter_declares_its_defaults_and_words():
    assert AwsBuilderBackend.defaults == {"machine_type": "t3.micro", "user": "ec2-user"}
    assert AwsBuilderBackend.kinds == {ACCESS_RULE: "security_group", SSH_KEY: "key_pair"}
    assert AwsBuilderBackend.result_aliases["instance_type"] == "machine_type"
    assert AwsBuilderBackend.result_aliases["security_group_id"] == "access_rule_id"
