"""phoenix.immutable.image_prune through ansible-playbook against the moto server.

The central test gives every kind of use the module must respect a real counterpart in moto, made
through boto3 (an instance, a stopped instance, a launch template's default version, another's latest
version, an Auto Scaling group on a pinned template version, a channel's current image promoted with
image_channel, the previous image of a service's group), then prunes with keep: 2 and checks that
exactly the unused images went, with their snapshots.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from emulators.lifecycle import (
    Keys,
    image_exists,
    make_images,
    snapshot_exists,
    snapshot_ids,
    write_policy,
)

WEB = ["web-%d" % number for number in range(1, 13)]  # web-12 is the newest


def prune_task(title="prune", **options):
    return {"name": title, "phoenix.immutable.image_prune": options}


@pytest.fixture
def web(aws):
    return make_images(aws, WEB, [100 - number for number in range(1, 13)])


def lt_data(aws, image_id):
    return {"ImageId": image_id, "InstanceType": "t3.micro"}


def launch(aws, image_id):
    [instance] = aws.client("ec2").run_instances(
        ImageId=image_id, InstanceType="t3.micro", MinCount=1, MaxCount=1, SubnetId=aws.seed.subnet_ids[0]
    )["Instances"]
    return instance["InstanceId"]


def make_every_use(aws, playbook, tmp_path, web):
    """Each of web-1 .. web-7 gets one kind of use; returns {image name: expected reason fragment}."""
    ec2 = aws.client("ec2")
    autoscaling = aws.client("autoscaling")
    base = aws.seed.base_image_id
    launch(aws, web["web-1"])  # a running instance
    stopped = launch(aws, web["web-2"])
    ec2.stop_instances(InstanceIds=[stopped])
    # A template whose default version (1) launches web-3, while its latest (2) launches something else.
    ec2.create_launch_template(LaunchTemplateName="web-default", LaunchTemplateData=lt_data(aws, web["web-3"]))
    ec2.create_launch_template_version(LaunchTemplateName="web-default", LaunchTemplateData=lt_data(aws, base))
    # A template whose latest version (2) launches web-4; its default stays 1.
    ec2.create_launch_template(LaunchTemplateName="web-latest", LaunchTemplateData=lt_data(aws, base))
    ec2.create_launch_template_version(LaunchTemplateName="web-latest", LaunchTemplateData=lt_data(aws, web["web-4"]))
    # An Auto Scaling group pinned to version 1 of a template whose default and latest are version 2.
    ec2.create_launch_template(LaunchTemplateName="web-pinned", LaunchTemplateData=lt_data(aws, web["web-5"]))
    ec2.create_launch_template_version(LaunchTemplateName="web-pinned", LaunchTemplateData=lt_data(aws, base))
    ec2.modify_launch_template(LaunchTemplateName="web-pinned", DefaultVersion="2")
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="web-pinned-group",
        LaunchTemplate={"LaunchTemplateName": "web-pinned", "Version": "1"},
        MinSize=0,
        MaxSize=0,
        DesiredCapacity=0,
        VPCZoneIdentifier=aws.seed.subnet_ids[0],
    )
    ec2.create_launch_template(LaunchTemplateName="web-current", LaunchTemplateData=lt_data(aws, web["web-12"]))
    # web-6 is the current image of channel prod: signed, then promoted by image_channel.
    keys = Keys(tmp_path)
    policy = write_policy(tmp_path, keys, trusted=["build"], promoters=["release"])
    run = playbook(
        [
            {"name": "sign", "phoenix.immutable.image_sign": {"image_id": web["web-6"], "key": keys.private("build")}},
            {
                "name": "promote",
                "phoenix.immutable.image_channel": {
                    "image_id": web["web-6"],
                    "channel": "prod",
                    "policy": policy,
                    "key": keys.private("release"),
                },
            },
        ]
    )
    assert run.rc == 0, run.explain()
    # web-7 is the previous image of service web, kept for rollback: its group now runs web-12.
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="web-a",
        LaunchTemplate={"LaunchTemplateName": "web-current", "Version": "$Default"},
        MinSize=0,
        MaxSize=0,
        DesiredCapacity=0,
        VPCZoneIdentifier=aws.seed.subnet_ids[0],
        Tags=[
            {"Key": key, "Value": value, "PropagateAtLaunch": False}
            for key, value in {
                "phoenix:service": "web",
                "phoenix:image": web["web-12"],
                "phoenix:previous-image": web["web-7"],
            }.items()
        ],
    )
    return {
        "web-1": "in use by instance",
        "web-2": "(stopped)",
        "web-3": "in use by launch template",
        "web-4": "in use by launch template",
        "web-5": "in use by Auto Scaling group web-pinned-group",
        "web-6": "current image of channel prod",
        "web-7": "previous image (rollback) of service web (group web-a)",
        "web-11": "one of the newest 2 of its family",
        "web-12": "current image of service web (group web-a)",
    }


def by_name(entries):
    return {entry["name"]: entry for entry in entries}


def test_prune_never_deletes_an_image_in_use_in_any_way(aws, playbook, tmp_path, web):
    expected_kept = make_every_use(aws, playbook, tmp_path, web)
    unused = ["web-8", "web-9", "web-10"]
    snapshots = {name: snapshot_ids(aws, web[name]) for name in WEB}
    assert all(snapshots.values())

    plan = playbook([prune_task(name=["web"], keep=2, action="delete", reap_builders=False)], check=True)
    assert plan.rc == 0, plan.explain()
    planned = plan.task("prune")["result"]
    assert planned["changed"] is True, __import__("json").dumps(planned, indent=1)
    assert sorted(by_name(planned["pruned"])) == sorted(unused)
    kept = by_name(planned["kept"])
    assert sorted(kept) == sorted(expected_kept)
    for name, fragment in expected_kept.items():
        assert any(fragment in reason for reason in kept[name]["reasons"]), (name, kept[name]["reasons"])
    assert planned["families"] == {"web": {"images": 12, "kept": 9, "pruned": 3}}
    assert all(image_exists(aws, web[name]) for name in WEB), "check mode deleted something"

    run = playbook([prune_task(name=["web"], keep=2, action="delete", reap_builders=False)])
    assert run.rc == 0, run.explain()
    result = run.task("prune")["result"]
    assert result["changed"] is True
    assert sorted(by_name(result["pruned"])) == sorted(unused)
    assert result["api_calls"]["ec2:DeregisterImage"] == 3
    for name in WEB:
        assert image_exists(aws, web[name]) is (name not in unused), name
        for snapshot_id in snapshots[name]:
            assert snapshot_exists(aws, snapshot_id) is (name not in unused), (name, snapshot_id)

    again = playbook([prune_task(name=["web"], keep=2, action="delete", reap_builders=False)])
    assert again.rc == 0, again.explain()
    assert again.task("prune")["result"]["changed"] is False
    assert again.task("prune")["result"]["pruned"] == []


def test_deprecate_keeps_the_images_and_schedules_their_deprecation(aws, playbook, web):
    run = playbook([prune_task(name=["web"], keep=10)])
    assert run.rc == 0, run.explain()
    result = run.task("prune")["result"]
    assert sorted(by_name(result["pruned"])) == ["web-1", "web-2"]
    assert all(entry["action"] == "deprecate" for entry in result["pruned"])
    images = aws.client("ec2").describe_images(ImageIds=list(web.values()))["Images"]
    deprecated = sorted(image["Name"] for image in images if image.get("DeprecationTime"))
    assert deprecated == ["web-1", "web-2"]
    assert len(images) == 12

    again = playbook([prune_task(name=["web"], keep=10)])
    assert again.rc == 0, again.explain()
    assert again.task("prune")["result"]["changed"] is False


def test_older_than_days_is_a_floor(aws, playbook, web):
    # web-N is 100 - N days old: with keep 2 and a floor of 95.5 days only web-1 .. web-4 are old enough.
    run = playbook([prune_task(name=["web"], keep=2, older_than_days=95.5, action="delete", reap_builders=False)])
    assert run.rc == 0, run.explain()
    result = run.task("prune")["result"]
    assert sorted(by_name(result["pruned"])) == ["web-1", "web-2", "web-3", "web-4"]
    assert "younger than 95.5 days" in by_name(result["kept"])["web-5"]["reasons"]
    assert not image_exists(aws, web["web-1"]) and image_exists(aws, web["web-5"])


def test_without_names_every_managed_family_is_pruned_apart(aws, playbook):
    managed = {"phoenix:managed": "true"}
    web = make_images(aws, ["web-1", "web-2", "web-3"], [30, 20, 10], tags=managed)
    api = make_images(aws, ["api-1", "api-2"], [30, 20], tags=managed)
    other = make_images(aws, ["hand-made-1"], [40])
    run = playbook([prune_task(keep=1, action="delete", reap_builders=False)])
    assert run.rc == 0, run.explain()
    result = run.task("prune")["result"]
    assert sorted(by_name(result["pruned"])) == ["api-1", "web-1", "web-2"]
    assert result["families"]["web"]["kept"] == 1 and result["families"]["api"]["kept"] == 1
    assert image_exists(aws, web["web-3"]) and image_exists(aws, api["api-2"])
    assert image_exists(aws, other["hand-made-1"]), "an image the collection did not make was touched"


def test_expired_builders_are_reaped_with_the_builder_workflow(aws, playbook):
    ec2 = aws.client("ec2")
    [expired, fresh] = [
        ec2.run_instances(
            ImageId=aws.seed.base_image_id,
            InstanceType="t3.micro",
            MinCount=1,
            MaxCount=1,
            SubnetId=aws.seed.subnet_ids[0],
            TagSpecifications=[
                {
                    "ResourceType": "instance",
                    "Tags": [{"Key": "phoenix:builder", "Value": name}, {"Key": "phoenix:expires-at", "Value": at}],
                }
            ],
        )["Instances"][0]["InstanceId"]
        for name, at in (("old-bake", "2020-01-01T00:00:00Z"), ("new-bake", "2999-01-01T00:00:00Z"))
    ]
    run = playbook([prune_task(name=["web"])])
    assert run.rc == 0, run.explain()
    result = run.task("prune")["result"]
    assert [builder["id"] for builder in result["reaped"]] == [expired]
    states = {
        instance["InstanceId"]: instance["State"]["Name"]
        for reservation in ec2.describe_instances(InstanceIds=[expired, fresh])["Reservations"]
        for instance in reservation["Instances"]
    }
    assert states[expired] in ("shutting-down", "terminated") and states[fresh] == "running"


def test_bad_input_fails_before_anything_changes(aws, playbook, web):
    run = playbook([prune_task(name=["web"], keep=0, action="delete")])
    assert run.rc != 0
    failure = run.task("prune")["result"]
    assert "keep must be a whole number from 1" in failure["msg"]
    assert all(image_exists(aws, image_id) for image_id in web.values())
    assert "ec2:DeregisterImage" not in aws.calls


def test_retention_playbook_plans_then_retires(aws, playbook, web):
    playbooks = Path(__file__).resolve().parents[2] / "playbooks"
    extra = {"retention_families": ["web"], "retention_keep": 8, "retention_action": "delete"}
    planned = playbook(playbooks / "retention.yml", extra_vars={**extra, "retention_check_only": True})
    assert planned.rc == 0, planned.explain()
    assert all(image_exists(aws, image_id) for image_id in web.values())

    run = playbook(playbooks / "retention.yml", extra_vars=extra)
    assert run.rc == 0, run.explain()
    [plan] = [
        record
        for record in run.tasks
        if record["task"].endswith("Plan the retention (what would go, and why each survivor stays)")
    ]
    assert sorted(by_name(plan["result"]["pruned"])) == ["web-1", "web-2", "web-3", "web-4"]
    # The role's default floor keeps images younger than 30 days: every web-N is at least 88 days old.
    assert [image_exists(aws, web[name]) for name in WEB] == [False] * 4 + [True] * 8
