"""phoenix.immutable.image and image_info through ansible-playbook against the moto server.

Each test asserts on what the module returned AND on the emulator's state read back through boto3.
"""

import pytest
from botocore.exceptions import ClientError


def image_task(title="golden", register=None, **options):
    task = {"name": title, "phoenix.immutable.image": options}
    if register:
        task["register"] = register
    return task


def own_images(aws, name, region=None):
    ec2 = aws.client("ec2", region or aws.seed.region)
    return ec2.describe_images(Owners=["self"], Filters=[{"Name": "name", "Values": [name]}])["Images"]


def tags_of(ami):
    return {tag["Key"]: tag["Value"] for tag in ami.get("Tags", [])}


def bake(aws, playbook, name="web-1", **options):
    options.setdefault("instance_id", aws.seed.builder_instance_id)
    run = playbook([image_task(title=name, name=name, **options)])
    assert run.rc == 0, run.explain()
    return run.task(name)["result"]


def test_create_snapshots_the_builder_tagged_with_provenance(aws, playbook):
    result = bake(aws, playbook, tags={"service": "web", "release": 42})
    assert result["changed"] is True
    assert result["actions"][0]["action"] == "create_image"
    image = result["image"]
    assert image["state"] == "available" and image["name"] == "web-1"
    assert image["source_image"] == aws.seed.base_image_id

    [ami] = own_images(aws, "web-1")
    assert ami["ImageId"] == image["id"] and ami["State"] == "available"
    assert tags_of(ami) == {
        "service": "web",
        "release": "42",
        "phoenix:managed": "true",
        "phoenix:source-image": aws.seed.base_image_id,
        "phoenix:source-instance": aws.seed.builder_instance_id,
    }


def test_create_again_changes_nothing_and_only_reads(aws, playbook):
    first = bake(aws, playbook, tags={"service": "web"})
    again = bake(aws, playbook, tags={"service": "web"})
    assert again["changed"] is False
    assert again["actions"] == []
    assert again["image"]["id"] == first["image"]["id"]
    assert set(again["api_calls"]) == {"ec2:DescribeImages"}
    assert len(own_images(aws, "web-1")) == 1


def test_changed_tags_are_applied_on_the_next_run(aws, playbook):
    bake(aws, playbook, tags={"service": "web", "channel": "dev"})
    result = bake(aws, playbook, tags={"channel": "staging"}, purge_tags=True)
    assert result["changed"] is True
    [ami] = own_images(aws, "web-1")
    tags = tags_of(ami)
    assert tags["channel"] == "staging" and "service" not in tags
    assert tags["phoenix:managed"] == "true"


def test_check_mode_returns_the_plan_and_creates_nothing(aws, playbook):
    run = playbook(
        [
            image_task(
                title="plan", name="web-1", instance_id=aws.seed.builder_instance_id, copy_to_regions=["us-west-2"]
            )
        ],
        check=True,
    )
    assert run.rc == 0, run.explain()
    result = run.task("plan")["result"]
    assert result["changed"] is True
    assert [(a["action"], a["region"]) for a in result["actions"]] == [
        ("create_image", aws.seed.region),
        ("copy_image", "us-west-2"),
    ]
    assert own_images(aws, "web-1") == []
    assert own_images(aws, "web-1", region="us-west-2") == []


def test_diff_mode_shows_before_and_after(aws, playbook):
    bake(aws, playbook, tags={"channel": "dev"})
    run = playbook([image_task(title="retag", name="web-1", tags={"channel": "prod"})], diff=True)
    result = run.task("retag")["result"]
    assert result["diff"]["before"]["tags"]["channel"] == "dev"
    assert result["diff"]["after"]["tags"]["channel"] == "prod"


def test_copy_to_a_second_region_is_tagged_and_idempotent(aws, playbook):
    result = bake(aws, playbook, tags={"service": "web"}, copy_to_regions=["us-west-2"])
    [copy] = result["copies"]
    assert copy["region"] == "us-west-2" and copy["state"] == "available"

    [ami] = own_images(aws, "web-1", region="us-west-2")
    assert ami["ImageId"] == copy["id"]
    tags = tags_of(ami)
    assert tags["service"] == "web"
    assert tags["phoenix:copied-from"] == "%s/%s" % (aws.seed.region, result["image"]["id"])

    again = bake(aws, playbook, tags={"service": "web"}, copy_to_regions=["us-west-2"])
    assert again["changed"] is False
    assert len(own_images(aws, "web-1", region="us-west-2")) == 1


def test_image_info_finds_newest_first_by_name_and_tags(aws, playbook):
    bake(aws, playbook, name="web-1", tags={"service": "web"})
    bake(aws, playbook, name="web-2", tags={"service": "web"})
    bake(aws, playbook, name="api-1", tags={"service": "api"})
    run = playbook(
        [
            {"name": "by name", "phoenix.immutable.image_info": {"name": "web-*"}},
            {"name": "by tag", "phoenix.immutable.image_info": {"tags": {"service": "api"}}},
            {"name": "base", "phoenix.immutable.image_info": {"image_ids": [aws.seed.base_image_id]}},
        ]
    )
    assert run.rc == 0, run.explain()
    by_name = run.task("by name")["result"]["images"]
    assert [image["created"] for image in by_name] == sorted((image["created"] for image in by_name), reverse=True)
    assert {image["name"] for image in by_name} == {"web-1", "web-2"}
    assert [image["name"] for image in run.task("by tag")["result"]["images"]] == ["api-1"]
    assert run.task("base")["result"]["images"][0]["name"] == aws.seed.base_image_name


def test_deletion_is_refused_while_in_use_naming_every_user(aws, playbook):
    image_id = bake(aws, playbook)["image"]["id"]
    ec2 = aws.client("ec2")
    template = ec2.create_launch_template(
        LaunchTemplateName="web",
        LaunchTemplateData={"ImageId": image_id, "InstanceType": "t3.micro"},
    )["LaunchTemplate"]
    aws.client("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName="web-blue",
        MinSize=1,
        MaxSize=1,
        DesiredCapacity=1,
        LaunchTemplate={"LaunchTemplateId": template["LaunchTemplateId"], "Version": "$Latest"},
        VPCZoneIdentifier=aws.seed.subnet_ids[0],
    )
    run = playbook([image_task(title="delete", state="absent", image_id=image_id)])
    assert run.rc != 0
    result = run.task("delete")["result"]
    assert result["failed"] is True and result["error"]["code"] == "ImageInUse"
    message = result["msg"]
    assert "refusing to delete image %s (web-1)" % image_id in message
    assert "launch template %s (web version 1)" % template["LaunchTemplateId"] in message
    assert "Auto Scaling group web-blue" in message
    assert "instance i-" in message  # the group's own instance
    assert "force: true" in message
    assert len(own_images(aws, "web-1")) == 1


def test_deletion_of_a_base_image_names_the_builder_running_from_it(aws, playbook):
    run = playbook([image_task(title="delete", state="absent", image_id=aws.seed.base_image_id)])
    result = run.task("delete")["result"]
    assert result["failed"] is True
    assert "instance %s (running)" % aws.seed.builder_instance_id in result["msg"]
    assert result["users"] == [{"kind": "instance", "id": aws.seed.builder_instance_id, "detail": "running"}]


def test_forced_deletion_removes_the_image_and_its_snapshots(aws, playbook):
    image = bake(aws, playbook)["image"]
    snapshots = [disk["snapshot_id"] for disk in image["disks"]]
    assert snapshots
    aws.client("ec2").create_launch_template(
        LaunchTemplateName="web", LaunchTemplateData={"ImageId": image["id"], "InstanceType": "t3.micro"}
    )
    run = playbook([image_task(title="delete", state="absent", image_id=image["id"], force=True)])
    assert run.rc == 0, run.explain()
    result = run.task("delete")["result"]
    assert result["changed"] is True and result["users"][0]["kind"] == "launch template"
    assert own_images(aws, "web-1") == []
    ec2 = aws.client("ec2")
    for snapshot_id in snapshots:
        with pytest.raises(ClientError, match="InvalidSnapshot.NotFound"):
            ec2.describe_snapshots(SnapshotIds=[snapshot_id])

    again = playbook([image_task(title="delete", state="absent", image_id=image["id"])])
    assert again.task("delete")["result"]["changed"] is False


def test_deletion_by_name_of_an_unused_image(aws, playbook):
    bake(aws, playbook)
    run = playbook([image_task(title="delete", state="absent", name="web-1")])
    assert run.rc == 0, run.explain()
    assert own_images(aws, "web-1") == []


def test_deprecation_is_scheduled_and_idempotent(aws, playbook):
    image_id = bake(aws, playbook)["image"]["id"]
    options = {"state": "deprecated", "image_id": image_id, "deprecate_at": "2030-01-01T12:34:56Z"}
    run = playbook([image_task(title="first", **options), image_task(title="second", **options)])
    assert run.rc == 0, run.explain()
    assert run.task("first")["result"]["changed"] is True
    assert run.task("second")["result"]["changed"] is False
    [ami] = aws.client("ec2").describe_images(ImageIds=[image_id])["Images"]
    assert ami["DeprecationTime"].startswith("2030-01-01T12:34")


@pytest.mark.parametrize(
    "options, message",
    [
        ({"name": "web-1", "tags": {"note": "x" * 257}}, "value of 257 characters, at most 256"),
        ({"name": "web-1", "tags": {"aws:owner": "me"}}, "reserved prefix"),
        ({"name": "web-1", "region": "xx-fake-1"}, "'xx-fake-1' is not an AWS region name"),
        ({"name": "web-1", "copy_to_regions": ["xx-fake-1"]}, "cannot use: xx-fake-1"),
        ({"name": "web-1", "instance_id": "i-0123456789abcdef0"}, "i-0123456789abcdef0"),
    ],
)
def test_invalid_input_fails_clearly_and_creates_nothing(aws, playbook, options, message):
    options.setdefault("instance_id", aws.seed.builder_instance_id)
    run = playbook([image_task(title="bad", **options)])
    assert run.rc != 0
    result = run.task("bad")["result"]
    assert result["failed"] is True
    assert message in result["msg"]
    assert own_images(aws, "web-1") == []
    assert own_images(aws, "web-1", region="us-west-2") == []


@pytest.mark.parametrize(
    "task, message",
    [
        (
            {
                "phoenix.immutable.image": {
                    "state": "deprecated",
                    "image_id": "ami-0123456789abcdef0",
                    "deprecate_at": "2030-01-01",
                }
            },
            "cannot deprecate ami-0123456789abcdef0",
        ),
        ({"phoenix.immutable.image_info": {"image_ids": ["ami-0123456789abcdef0"]}}, "ami-0123456789abcdef0"),
        ({"phoenix.immutable.image": {"state": "absent"}}, "are missing: name, image_id"),
        ({"phoenix.immutable.image": {"state": "present", "name": "x", "image_id": "ami-1"}}, "mutually exclusive"),
    ],
)
def test_unknown_images_and_incomplete_requests_fail_clearly(aws, playbook, task, message):
    run = playbook([dict(name="bad", **task)])
    assert run.rc != 0
    assert message in run.task("bad")["result"]["msg"]


def test_credentials_come_from_the_awx_variables(aws, playbook):
    """AWX's AWS credential injects AWS_ACCESS_KEY/AWS_SECRET_KEY/AWS_SECURITY_TOKEN."""
    env = {
        "AWS_ACCESS_KEY_ID": "",
        "AWS_SECRET_ACCESS_KEY": "",
        "AWS_ACCESS_KEY": "testing",
        "AWS_SECRET_KEY": "testing",
        "AWS_SECURITY_TOKEN": "token",
    }
    run = playbook([{"name": "list", "phoenix.immutable.image_info": {}}], env=env)
    assert run.rc == 0, run.explain()
    assert "token" not in run.stdout
