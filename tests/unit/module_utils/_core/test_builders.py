"""The builder workflow against an in-memory cloud of its own words: defaults, kinds and aliases come from the
adapter, never from the core."""

from __future__ import annotations

import datetime
import itertools
import re
from dataclasses import replace
from pathlib import Path

import pytest

from ansible_collections.phoenix.immutable.plugins.module_utils._core import builders as core_builders
from ansible_collections.phoenix.immutable.plugins.module_utils._core import tags as tagging
from ansible_collections.phoenix.immutable.plugins.module_utils._core.backends import BuilderBackend
from ansible_collections.phoenix.immutable.plugins.module_utils._core.builders import (
    ACCESS_RULE,
    PART,
    RUNNING,
    SSH_KEY,
    Builder,
    BuilderRequest,
    BuilderWorkflow,
    Leftover,
)
from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import InvalidInput
from ansible_collections.phoenix.immutable.plugins.module_utils._core.model import AVAILABLE, Image
from ansible_collections.phoenix.immutable.plugins.module_utils._core.tags import TagLimits
from ansible_collections.phoenix.immutable.plugins.module_utils._core.waiter import Waiter

NOW = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)
BASE = Image(
    cloud="memory",
    id="img-base",
    name="base",
    region="r-1",
    state=AVAILABLE,
    created="2026-11-30T12:00:00Z",
    owner="me",
    source_image=None,
    tags={},
    deprecation_time=None,
)


class LabelCodec:
    """A cloud whose label keys are ``x_<name>`` with ``-`` written as ``_`` (only what builders use of a codec)."""

    limits = TagLimits(max_tags=20, max_key_length=63, max_value_length=63)

    def key(self, name):
        return "x_" + name.replace("-", "_")


class MemoryImages:
    def get(self, image_id):
        return BASE if image_id == BASE.id else None

    def search(self, image_ids=None, name_pattern=None, tags=None, owners=None):
        return [BASE]


class MemoryBuilders(BuilderBackend):
    cloud = "memory"
    codec = LabelCodec()
    tag_limits = LabelCodec.limits
    defaults = {"machine_type": "m-small", "user": "admin"}
    kinds = {ACCESS_RULE: "firewall_rule", SSH_KEY: "metadata_key"}
    result_aliases = {"size": "machine_type", "firewall_rule": "access_rule_id"}

    def __init__(self):
        super().__init__("r-1")
        self.instances = {}
        self.rules = {}
        self.keys = {}
        self.launches = []
        self.ids = itertools.count(1)

    def find(self, name):
        return [b for b in self.instances.values() if name is None or b.name == name]

    def get(self, builder_id):
        builder = self.instances.get(builder_id)
        if builder is not None and builder.state != RUNNING:
            builder = self.instances[builder_id] = replace(builder, state=RUNNING)
        return builder

    def reachable(self, builder):
        return True

    def network(self, subnet):
        return {"subnet": subnet or "sub-default", "network": "net-1", "cidr": "10.1.0.0/24"}

    def create_access_rule(self, name, network, ssh_cidrs, tags):
        rule_id = "fw-%d" % next(self.ids)
        self.rules[rule_id] = (name, list(ssh_cidrs), dict(tags))
        return rule_id

    def create_ssh_key(self, name, key_dir, tags):
        ref = "key-%s" % name
        self.keys[ref] = dict(tags)
        return ref, "%s/%s" % (key_dir, ref)

    def key_path(self, builder, key_dir):
        return "%s/%s" % (key_dir, builder.owned_ssh_key) if builder.owned_ssh_key else None

    def launch(self, name, image_id, machine_type, subnet, access_rule_ids, ssh_key, public_address, tags):
        self.launches.append(dict(machine_type=machine_type, access_rule_ids=access_rule_ids, ssh_key=ssh_key))
        builder = Builder(
            cloud=self.cloud,
            id="vm-%d" % next(self.ids),
            name=name,
            region=self.region,
            state="starting",
            image_id=image_id,
            machine_type=machine_type,
            subnet=subnet,
            private_address="10.1.0.5",
            access_rule_id=access_rule_ids[0],
            ssh_key=ssh_key,
            owned_access_rule=tags.get(self.codec.key(tagging.BUILDER_ACCESS_RULE)),
            owned_ssh_key=tags.get(self.codec.key(tagging.BUILDER_SSH_KEY)),
            expires_at=tags[self.codec.key(tagging.EXPIRES_AT)],
            tags=dict(tags),
        )
        self.instances[builder.id] = builder
        return builder

    def stop(self, builder):
        self.instances[builder.id] = replace(builder, state="stopped")

    def terminate(self, builder):
        self.instances[builder.id] = replace(builder, state="gone")

    def leftovers(self, name):
        found = [
            Leftover(ACCESS_RULE, rule_id, rule_name, tags[self.codec.key(tagging.EXPIRES_AT)])
            for rule_id, (rule_name, _cidrs, tags) in self.rules.items()
        ]
        found += [
            Leftover(SSH_KEY, ref, tags[self.codec.key(tagging.BUILDER)], tags[self.codec.key(tagging.EXPIRES_AT)])
            for ref, tags in self.keys.items()
        ]
        return [leftover for leftover in found if name is None or leftover.builder == name]

    def delete_access_rule(self, rule_id):
        self.rules.pop(rule_id, None)

    def delete_ssh_key(self, key_ref, key_dir):
        self.keys.pop(key_ref, None)

    def api_calls(self):
        return {}


def workflow(backend, check_mode=False):
    return BuilderWorkflow(backend, MemoryImages(), Waiter(sleep=lambda seconds: None), check_mode=check_mode)


def request(**options):
    return BuilderRequest(name="bake-1", base_image_id=BASE.id, key_dir="/keys", **options)


def test_without_a_machine_type_or_user_the_adapters_defaults_are_used():
    backend = MemoryBuilders()
    outcome = workflow(backend).present(request(), now=NOW)
    assert [launch["machine_type"] for launch in backend.launches] == ["m-small"]
    assert outcome.builder["machine_type"] == "m-small"
    assert outcome.actions[0]["machine_type"] == "m-small"
    assert outcome.connection["user"] == "admin"


def test_a_given_machine_type_and_user_win_over_the_defaults():
    backend = MemoryBuilders()
    outcome = workflow(backend).present(request(machine_type="m-large", user="ubuntu"), now=NOW)
    assert [launch["machine_type"] for launch in backend.launches] == ["m-large"]
    assert outcome.connection["user"] == "ubuntu"


@pytest.mark.parametrize("missing, option", [("machine_type", "machine_type"), ("user", "connection_user")])
def test_a_cloud_without_a_default_needs_the_option_and_launches_nothing(missing, option):
    backend = MemoryBuilders()
    backend.defaults = {key: value for key, value in MemoryBuilders.defaults.items() if key != missing}
    with pytest.raises(InvalidInput, match="give %s: memory has no default" % option):
        workflow(backend).present(request(), now=NOW)
    assert backend.launches == [] and backend.rules == {} and backend.keys == {}


def test_actions_name_what_is_made_in_the_clouds_words_and_results_carry_its_aliases():
    backend = MemoryBuilders()
    outcome = workflow(backend).present(request(ssh_cidrs=["192.0.2.0/24"]), now=NOW)
    assert [action["action"] for action in outcome.actions] == [
        "launch_builder",
        "create_firewall_rule",
        "create_metadata_key",
    ]
    assert outcome.actions[1]["network"] == "net-1" and outcome.actions[1]["ssh_cidrs"] == ["192.0.2.0/24"]
    [rule_id] = list(backend.rules)
    assert outcome.builder["access_rule_id"] == outcome.builder["firewall_rule"] == rule_id
    assert outcome.builder["size"] == outcome.builder["machine_type"]
    assert outcome.connection["key_path"] == "/keys/key-bake-1"


def test_what_is_made_for_the_builder_is_tagged_through_the_clouds_codec():
    backend = MemoryBuilders()
    workflow(backend).present(request(), now=NOW)
    [builder] = list(backend.instances.values())
    [rule_id] = list(backend.rules)
    assert builder.tags["x_builder"] == "bake-1" and builder.tags["x_managed"] == "true"
    assert builder.tags["x_builder_access_rule"] == rule_id
    assert builder.tags["x_builder_ssh_key"] == "key-bake-1"
    assert "Name" not in builder.tags
    assert backend.keys["key-bake-1"]["x_expires_at"] == builder.expires_at


def test_given_access_rules_and_ssh_key_are_used_and_nothing_is_made():
    backend = MemoryBuilders()
    outcome = workflow(backend).present(request(access_rule_ids=["fw-mine"], ssh_key="my-key"), now=NOW)
    assert [action["action"] for action in outcome.actions] == ["launch_builder"]
    assert backend.launches == [dict(machine_type="m-small", access_rule_ids=["fw-mine"], ssh_key="my-key")]
    assert backend.rules == {} and backend.keys == {}


def test_absent_deletes_the_leftovers_naming_them_in_the_clouds_words():
    backend = MemoryBuilders()
    workflow(backend).present(request(), now=NOW)
    outcome = workflow(backend).absent("bake-1", key_dir="/keys")
    assert [action["action"] for action in outcome.actions] == [
        "terminate_builder",
        "delete_firewall_rule",
        "delete_metadata_key",
    ]
    assert backend.rules == {} and backend.keys == {}


def test_the_core_names_no_cloud_default_and_no_aws_word():
    source = Path(core_builders.__file__).read_text()
    for word in ("t3.micro", "ec2-user", "instance_type", "security_group", "key_pair", "vpc", "aws", "ec2"):
        assert not re.search(re.escape(word), source, re.IGNORECASE), word
    assert not re.search(r"\bName\b", source)


class PartedBuilders(MemoryBuilders):
    """A cloud whose instances leave a network interface behind, reported as a part until it is deleted."""

    kinds = {**MemoryBuilders.kinds, PART: "resource"}

    def __init__(self):
        super().__init__()
        self.parts = {}
        self.deleted = []

    def terminate(self, builder):
        super().terminate(builder)
        self.parts["nic-of-%s" % builder.id] = (builder.name, builder.expires_at)

    def leftovers(self, name):
        parts = [Leftover(PART, part_id, owner, expires) for part_id, (owner, expires) in self.parts.items()]
        return [part for part in parts if name is None or part.builder == name] + super().leftovers(name)

    def delete_part(self, part_id):
        assert all(builder.state == "gone" for builder in self.instances.values()), "a part of a live builder"
        self.deleted.append(part_id)
        self.parts.pop(part_id)


def test_a_part_left_by_a_terminated_builder_is_deleted_after_it_and_named_in_the_clouds_words():
    backend = PartedBuilders()
    workflow(backend).present(request(), now=NOW)
    [builder_id] = list(backend.instances)
    outcome = workflow(backend).absent("bake-1", key_dir="/keys")
    assert [action["action"] for action in outcome.actions] == [
        "terminate_builder",
        "delete_resource",
        "delete_firewall_rule",
        "delete_metadata_key",
    ]
    assert backend.deleted == ["nic-of-%s" % builder_id] and backend.parts == {} and backend.rules == {}


def test_a_backend_that_reports_no_parts_needs_no_delete_part():
    with pytest.raises(NotImplementedError, match="MemoryBuilders reports no builder parts"):
        MemoryBuilders().delete_part("nic-1")
