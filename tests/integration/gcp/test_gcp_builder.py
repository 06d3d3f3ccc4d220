"""phoenix.immutable.builder with cloud: gcp through ansible-playbook against the GCE emulator.

Each test asserts on the module's result and on the instances, firewall rules and key files read back
through google-auth (compute.py over a GcpConnection).
"""

from __future__ import annotations

import datetime
import json
import os
import stat
import time

import pytest
from emulators.gce_api import Request
from harness import run_playbook

from ansible_collections.phoenix.immutable.plugins.module_utils._gcp import compute
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.codec import label_value, tags_of
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.errors import NotFound
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.identifiers import image_id
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.operations import wait_for

BUILDER_LABEL = "phoenix_-builder"
EXPIRES_LABEL = "phoenix_-expires-at"


def builder_task(title="builder", **options):
    return {"name": title, "phoenix.immutable.builder": dict(cloud="gcp", **options)}


@pytest.fixture
def key_dir(tmp_path):
    return str(tmp_path / "keys")


@pytest.fixture
def playbook(gce):
    """`playbook(tasks, **run_playbook_options)` with the emulator's environment and a key it knows."""

    def run(tasks, *, env=None, **options):
        environment = {
            **gce.emu.env(),
            "GCP_AUTH_KIND": "serviceaccount",
            "GCP_SERVICE_ACCOUNT_FILE": str(gce.key_file),
            **(env or {}),
        }
        return run_playbook(list(tasks), env=environment, **options)

    return run


@pytest.fixture
def base_image(gce):
    return image_id(gce.seed.project, gce.seed.base_image_name)


def run_ok(playbook, *tasks, **options):
    run = playbook(tasks, **options)
    assert run.rc == 0, run.explain()
    return run


def live_builders(gce, name=None):
    found = compute.aggregated_instances(gce.connection(), gce.seed.project)
    return [
        instance
        for _zone, instance in found
        if BUILDER_LABEL in (instance.get("labels") or {})
        and (name is None or tags_of(instance["labels"])[BUILDER_LABEL] == name)
    ]


def builder_rules(gce):
    rules = compute.list_firewalls(gce.connection(), gce.seed.project)
    return [rule for rule in rules if BUILDER_LABEL in rule.get("description", "")]


def metadata_of(instance):
    return {item["key"]: item["value"] for item in instance["metadata"].get("items", [])}


def test_present_launches_a_labelled_instance_with_its_firewall_rule_and_key(gce, playbook, key_dir, base_image):
    run = run_ok(
        playbook,
        builder_task(name="bake-1", base_image_id=base_image, key_dir=key_dir, ttl=3600, connection_user="debian"),
    )
    result = run.task("builder")["result"]
    assert result["changed"] is True
    assert [action["action"] for action in result["actions"]] == [
        "launch_builder",
        "create_firewall_rule",
        "create_ssh_key",
    ]
    [instance] = live_builders(gce, "bake-1")
    assert instance["name"] == "phoenix-builder-bake-1" and instance["status"] == "RUNNING"
    assert instance["machineType"].endswith("/machineTypes/e2-small")
    labels = tags_of(instance["labels"])
    assert labels[BUILDER_LABEL] == "bake-1" and labels["phoenix_-managed"] == "true"
    expires = datetime.datetime.fromisoformat(labels[EXPIRES_LABEL].replace("Z", "+00:00"))
    remaining = expires - datetime.datetime.now(datetime.UTC)
    assert datetime.timedelta(minutes=55) < remaining <= datetime.timedelta(hours=1)
    assert result["builder"]["expires_at"] == labels[EXPIRES_LABEL]
    [boot] = instance["disks"]
    assert boot["boot"] and boot["autoDelete"]
    disk = compute.get_disk(gce.connection(), gce.seed.project, gce.seed.zone, boot["source"].rsplit("/", 1)[-1])
    assert disk["sourceImage"].endswith(base_image)
    [interface] = instance["networkInterfaces"]
    assert "accessConfigs" not in interface

    [rule] = builder_rules(gce)
    assert rule["name"] == "phoenix-builder-bake-1" and rule["targetTags"] == [rule["name"]]
    assert instance["tags"]["items"] == [rule["name"]]
    assert rule["allowed"] == [{"IPProtocol": "tcp", "ports": ["22"]}]
    # Default: the range of the builder's subnetwork, never the whole internet.
    assert rule["sourceRanges"] == ["10.128.0.0/20"]
    ownership = json.loads(rule["description"])
    assert ownership[BUILDER_LABEL] == "bake-1" and ownership[EXPIRES_LABEL] == labels[EXPIRES_LABEL]
    assert labels["phoenix_-builder-access-rule"] == rule["name"]

    connection = result["connection"]
    assert connection["host"] == interface["networkIP"] and connection["user"] == "debian"
    assert connection["instance_id"] == "projects/%s/zones/%s/instances/%s" % (
        gce.seed.project,
        gce.seed.zone,
        instance["name"],
    )
    assert stat.S_IMODE(os.stat(connection["key_path"]).st_mode) == 0o600
    with open(connection["key_path"], encoding="ascii") as handle:
        assert handle.read().startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    user, public_key = metadata_of(instance)["ssh-keys"].split(":", 1)
    assert user == "debian" and public_key.startswith("ssh-ed25519 ") and public_key.endswith(" phoenix")
    assert result["builder"]["ssh_key"] == public_key
    assert result["base_image"]["id"] == base_image
    assert result["api_calls"]["compute.instances.insert"] == 1


def test_present_again_reuses_the_running_builder(gce, playbook, key_dir, base_image):
    task = builder_task(name="bake-1", base_image_id=base_image, key_dir=key_dir)
    first = run_ok(playbook, task).task("builder")["result"]
    again = run_ok(playbook, task).task("builder")["result"]
    assert again["changed"] is False and again["actions"] == []
    assert again["builder"]["id"] == first["builder"]["id"]
    assert again["connection"]["key_path"] == first["connection"]["key_path"]
    assert again["connection"]["user"] == "phoenix"
    assert not any(call.endswith(".insert") for call in again["api_calls"])
    assert len(live_builders(gce, "bake-1")) == 1 and len(builder_rules(gce)) == 1


def test_check_mode_plans_and_launches_nothing(gce, playbook, key_dir, base_image):
    run = run_ok(playbook, builder_task(name="bake-1", base_image_id=base_image, key_dir=key_dir), check=True)
    result = run.task("builder")["result"]
    assert result["changed"] is True and result["actions"][0]["action"] == "launch_builder"
    assert live_builders(gce) == [] and builder_rules(gce) == []
    assert not os.path.exists(key_dir)


def test_a_public_address_and_a_long_name_that_gce_would_refuse(gce, playbook, key_dir, base_image):
    name = "Bake_" + "x" * 50
    result = run_ok(
        playbook, builder_task(name=name, base_image_id=base_image, key_dir=key_dir, public_address=True)
    ).task("builder")["result"]
    [instance] = live_builders(gce, name)
    # Lowercase, [a-z0-9-], at most 63 characters, and a digest so that "bake-xxx..." gets another name.
    assert len(instance["name"]) <= 63 and instance["name"].startswith("phoenix-builder-bake-xxx")
    assert tags_of(instance["labels"])[BUILDER_LABEL] == name
    [config] = instance["networkInterfaces"][0]["accessConfigs"]
    assert result["connection"]["host"] == config["natIP"] == result["builder"]["public_address"]
    [rule] = builder_rules(gce)
    assert rule["name"] == instance["name"]


def test_stop_then_absent_removes_the_instance_its_rule_and_its_key_file(gce, playbook, key_dir, base_image):
    launched = run_ok(playbook, builder_task(name="bake-1", base_image_id=base_image, key_dir=key_dir))
    key_path = launched.task("builder")["result"]["connection"]["key_path"]
    stopped = run_ok(playbook, builder_task(name="bake-1", state="stopped")).task("builder")["result"]
    assert stopped["changed"] is True and stopped["builder"]["state"] == "stopped"
    [instance] = live_builders(gce, "bake-1")
    assert instance["status"] == "TERMINATED"
    boot_disk = instance["disks"][0]["source"].rsplit("/", 1)[-1]

    removed = run_ok(playbook, builder_task(name="bake-1", state="absent", key_dir=key_dir)).task("builder")["result"]
    assert removed["changed"] is True
    assert sorted(action["action"] for action in removed["actions"]) == [
        "delete_firewall_rule",
        "delete_ssh_key",
        "terminate_builder",
    ]
    assert live_builders(gce) == [] and builder_rules(gce) == []
    assert not os.path.exists(key_path)
    # The boot disk went with the instance (autoDelete).
    with pytest.raises(NotFound):
        compute.get_disk(gce.connection(), gce.seed.project, gce.seed.zone, boot_disk)
    again = run_ok(playbook, builder_task(name="bake-1", state="absent", key_dir=key_dir)).task("builder")["result"]
    assert again["changed"] is False


@pytest.mark.parametrize("call", ["compute.instances.insert", "compute.firewalls.insert"])
def test_a_create_whose_answer_was_lost_is_found_not_duplicated(gce, playbook, key_dir, base_image, call):
    gce.emu.inject_fault(call, status=503, after_apply=True)
    result = run_ok(playbook, builder_task(name="bake-1", base_image_id=base_image, key_dir=key_dir)).task("builder")[
        "result"
    ]
    assert gce.emu.calls[call] == 2 and gce.emu.pending_faults == {}
    [instance] = live_builders(gce, "bake-1")
    assert result["builder"]["id"].endswith("/instances/" + instance["name"])
    assert len(builder_rules(gce)) == 1


def test_an_instance_of_the_builder_made_meanwhile_is_taken_not_refused(gce, playbook, key_dir, base_image):
    """Another run of the same builder inserted it between this run's find and its insert (answered 409)."""
    project, scope = gce.seed.project, "zones/%s" % gce.seed.zone
    labels = {BUILDER_LABEL: "bake-1", EXPIRES_LABEL: label_value("2999-01-01T00:00:00Z", EXPIRES_LABEL)}
    body = {
        "name": "phoenix-builder-bake-1",
        "machineType": "zones/%s/machineTypes/e2-small" % gce.seed.zone,
        "disks": [{"boot": True, "autoDelete": True, "initializeParams": {"sourceImage": base_image}}],
        "labels": labels,
    }

    def other_run():
        path = "projects/%s/%s/instances" % (project, scope)
        gce.emu.instances.insert(Request("POST", path, {}, body, {"project": project, "scope": scope}))
        gce.emu.settle()

    gce.emu.before_call("compute.instances.insert", other_run)
    result = run_ok(playbook, builder_task(name="bake-1", base_image_id=base_image, key_dir=key_dir)).task("builder")[
        "result"
    ]
    [instance] = live_builders(gce, "bake-1")
    assert tags_of(instance["labels"])[EXPIRES_LABEL] == "2999-01-01T00:00:00Z"
    assert result["builder"]["id"].endswith("/instances/phoenix-builder-bake-1")
    assert result["builder"]["state"] == "running"


def test_an_instance_of_that_name_that_is_not_the_builder_is_refused(gce, playbook, key_dir, base_image):
    connection = gce.connection()
    body = {
        "name": "phoenix-builder-bake-1",
        "machineType": "zones/%s/machineTypes/e2-small" % gce.seed.zone,
        "disks": [{"boot": True, "autoDelete": True, "initializeParams": {"sourceImage": base_image}}],
    }
    operation = compute.insert_instance(connection, gce.seed.project, gce.seed.zone, body)
    wait_for(connection, operation, gce.waiter())

    run = playbook([builder_task(name="bake-1", base_image_id=base_image, key_dir=key_dir)])
    assert run.rc != 0
    assert "is not a builder of that name" in run.task("builder")["result"]["msg"]
    # What this run made for it is removed; the stranger's instance is left alone.
    assert builder_rules(gce) == [] and not os.listdir(key_dir)
    assert compute.get_instance(connection, gce.seed.project, gce.seed.zone, "phoenix-builder-bake-1")


def _leftover_rule(gce, name, expires_at):
    """What a bake that crashed after making its rule and before its launch leaves behind."""
    connection = gce.connection()
    body = {
        "name": "phoenix-builder-%s" % name,
        "description": json.dumps({BUILDER_LABEL: name, EXPIRES_LABEL: expires_at, "phoenix_-managed": "true"}),
        "network": "projects/%s/global/networks/default" % gce.seed.project,
        "allowed": [{"IPProtocol": "tcp", "ports": ["22"]}],
        "sourceRanges": ["10.128.0.0/20"],
        "targetTags": ["phoenix-builder-%s" % name],
    }
    wait_for(connection, compute.insert_firewall(connection, gce.seed.project, body), gce.waiter())


def test_reaping_removes_only_expired_builders_and_leftover_rules(gce, playbook, key_dir, base_image):
    launched = run_ok(
        playbook,
        builder_task("old", name="crashed", base_image_id=base_image, key_dir=key_dir, ttl=1),
        builder_task("young", name="baking", base_image_id=base_image, key_dir=key_dir, ttl=3600),
    )
    crashed_key = launched.task("old")["result"]["connection"]["key_path"]
    baking_key = launched.task("young")["result"]["connection"]["key_path"]
    _leftover_rule(gce, "lost", "2020-01-01T00:00:00Z")
    _leftover_rule(gce, "later", "2999-01-01T00:00:00Z")
    [crashed] = live_builders(gce, "crashed")
    expiry = datetime.datetime.fromisoformat(tags_of(crashed["labels"])[EXPIRES_LABEL].replace("Z", "+00:00"))
    deadline = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=60)
    while datetime.datetime.now(datetime.UTC) <= expiry:
        assert datetime.datetime.now(datetime.UTC) < deadline
        time.sleep(0.1)

    reaped = run_ok(playbook, builder_task("reap", state="reaped", key_dir=key_dir)).task("reap")["result"]
    assert [builder["name"] for builder in reaped["reaped"]] == ["crashed"]
    assert [instance["name"] for instance in live_builders(gce)] == ["phoenix-builder-baking"]
    assert {rule["name"] for rule in builder_rules(gce)} == {"phoenix-builder-baking", "phoenix-builder-later"}
    assert not os.path.exists(crashed_key) and os.path.exists(baking_key)
    again = run_ok(playbook, builder_task("reap", state="reaped", key_dir=key_dir)).task("reap")["result"]
    assert again["changed"] is False


def test_without_a_zone_the_builder_fails_clearly_and_creates_nothing(gce, playbook, key_dir, base_image):
    run = playbook([builder_task(name="bake-1", base_image_id=base_image, key_dir=key_dir)], env={"GCP_ZONE": None})
    assert run.rc != 0
    message = run.task("builder")["result"]["msg"]
    assert "no GCP zone given" in message and "GCP_ZONE" in message
    assert live_builders(gce) == [] and builder_rules(gce) == []
    assert not os.path.exists(key_dir)


def test_a_failed_launch_leaves_nothing_behind(gce, playbook, key_dir, base_image):
    gce.emu.fail_operations("compute.instances.insert", code="ZONE_RESOURCE_POOL_EXHAUSTED")
    run = playbook([builder_task(name="bake-1", base_image_id=base_image, key_dir=key_dir)])
    assert run.rc != 0
    assert "ZONE_RESOURCE_POOL_EXHAUSTED" in run.task("builder")["result"]["msg"]
    assert live_builders(gce) == [] and builder_rules(gce) == []
    assert not os.listdir(key_dir)


def test_an_operation_is_waited_for_no_longer_than_the_tasks_wait_timeout(gce, playbook, key_dir, base_image):
    gce.emu.operation_polls = 10_000  # Compute never finishes: only wait_timeout ends the wait
    run = playbook([builder_task(name="bake-1", base_image_id=base_image, key_dir=key_dir, wait_timeout=3)])
    assert run.rc != 0
    result = run.task("builder")["result"]
    assert result["error"]["code"] == "WaitTimeout", result
    assert "timed out after 3s waiting for operation" in result["msg"] and "Raise wait_timeout" in result["msg"]


@pytest.mark.parametrize(
    "tags, message",
    [
        ({"Team": "web"}, "label key 'Team' is not 1 to 63 lower-case letters"),
        ({"team": "W" * 30}, "at most 63"),
    ],
)
def test_tags_gce_would_refuse_as_labels_fail_clearly_and_leave_nothing(
    gce, playbook, key_dir, base_image, tags, message
):
    run = playbook([builder_task(name="bake-1", base_image_id=base_image, key_dir=key_dir, tags=tags)])
    assert run.rc != 0
    assert message in run.task("builder")["result"]["msg"]
    assert "compute.instances.insert" not in gce.emu.calls
    assert live_builders(gce) == [] and builder_rules(gce) == []
    assert not os.path.exists(key_dir) or not os.listdir(key_dir)
