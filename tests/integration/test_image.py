"""phoenix.immutable.image and image_info through ansible-playbook against the moto server.

Each test asserts on what the module returned AND on the emulator's state read back through boto3.
"""

import threading
import time

import pytest
import yaml
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from moto.ec2.models import ec2_backends
from moto.ec2.models.amis import AmiBackend


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


def test_a_family_on_aws_is_the_collections_tag_read_back_as_the_images_family(aws, playbook):
    image = bake(aws, playbook, family="web")["image"]
    [ami] = own_images(aws, "web-1")
    assert tags_of(ami)["phoenix:family"] == "web" and image["family"] == "web"

    run = playbook(
        [
            image_task(title="again", name="web-1", family="web"),
            image_task(title="other", name="web-1", family="api"),
            {"name": "info", "phoenix.immutable.image_info": {"name": "web-1"}},
        ]
    )
    assert run.rc == 0, run.explain()
    assert run.task("again")["result"]["changed"] is False
    other = run.task("other")["result"]
    assert other["changed"] is False and "exists in image family web, not api" in " ".join(other["warnings"])
    [found] = run.task("info")["result"]["images"]
    assert found["family"] == "web" and found["provenance"]["family"] == "web"


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


# -- copies in parallel, each signed as it arrives -------------------------------------------------

COPY_REGIONS = ["us-west-2", "eu-west-1", "ap-southeast-2"]


@pytest.fixture
def signing_key(tmp_path):
    private = ed25519.Ed25519PrivateKey.generate()
    path = tmp_path / "build.pem"
    path.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    policy = tmp_path / "policy.yml"
    policy.write_text(
        yaml.safe_dump({"keys": [{"name": "build", "public_key": public.decode()}], "threshold": 1}), encoding="utf-8"
    )
    return {"path": str(path), "policy": str(policy)}


@pytest.fixture
def held_copies(monkeypatch):
    """Copies made in the regions added to the returned set stay `pending` until ``release(region)``: moto
    makes every copy available at once, so a test of "signed as each arrives" holds one back."""
    held = set()
    original = AmiBackend.copy_image

    def copy_image(self, *args, **kwargs):
        ami = original(self, *args, **kwargs)
        if self.region_name in held:
            ami.state = "pending"
        return ami

    monkeypatch.setattr(AmiBackend, "copy_image", copy_image)
    return held


def release(aws, region, name):
    backend = ec2_backends[aws.seed.account_id][region]
    for ami in backend.amis.values():
        if ami.name == name:
            ami.state = "available"


def signed(ami):
    return any(key.startswith("phoenix:sig:") for key in tags_of(ami))


def test_copies_run_in_parallel_and_each_is_signed_as_it_arrives_with_its_progress_line(
    aws, playbook, signing_key, held_copies
):
    held_copies.add("eu-west-1")
    task = image_task(
        title="golden",
        name="web-1",
        instance_id=aws.seed.builder_instance_id,
        stop_instance=True,
        copy_to_regions=COPY_REGIONS,
        sign={"key": signing_key["path"], "claims": {"tests": "passed"}},
    )
    runs = []
    worker = threading.Thread(target=lambda: runs.append(playbook([task], timeout=300)), daemon=True)
    worker.start()
    try:
        # While the eu-west-1 copy is held pending, the two others are already available and signed.
        deadline = time.monotonic() + 180
        while True:
            others = [own_images(aws, "web-1", region) for region in ("us-west-2", "ap-southeast-2")]
            held = own_images(aws, "web-1", "eu-west-1")
            if all(found and signed(found[0]) for found in others):
                break
            assert worker.is_alive(), runs[0].explain() if runs else "the task ended early"
            assert time.monotonic() < deadline, "the other copies were not signed while one was pending"
            time.sleep(0.2)
        assert held and held[0]["State"] == "pending" and not signed(held[0])
        # The image itself is signed last, once every copy is.
        assert not signed(own_images(aws, "web-1")[0])
    finally:
        release(aws, "eu-west-1", "web-1")
    worker.join(timeout=240)
    [run] = runs
    assert run.rc == 0, run.explain()
    result = run.task("golden")["result"]

    # The builder was stopped first; the image and every copy are available and signed.
    ec2 = aws.client("ec2")
    [instance] = ec2.describe_instances(InstanceIds=[aws.seed.builder_instance_id])["Reservations"][0]["Instances"]
    assert instance["State"]["Name"] == "stopped"
    assert result["actions"][0] == {
        "action": "stop_instance",
        "instance_id": aws.seed.builder_instance_id,
        "region": aws.seed.region,
    }
    assert sorted(copy["region"] for copy in result["copies"]) == sorted(COPY_REGIONS)
    assert result["signatures"][0]["image_id"] == result["image"]["id"]
    assert {s["image_id"] for s in result["signatures"][1:]} == {copy["id"] for copy in result["copies"]}
    for copy in result["copies"]:
        [ami] = own_images(aws, "web-1", copy["region"])
        assert ami["ImageId"] == copy["id"] and ami["State"] == "available" and signed(ami)
    verify = [
        {
            "name": "verify %s" % region,
            "phoenix.immutable.image_verify": {
                "region": region,
                "image_id": [image_id],
                "policy": signing_key["policy"],
            },
        }
        for region, image_id in [(aws.seed.region, result["image"]["id"])]
        + [(copy["region"], copy["id"]) for copy in result["copies"]]
    ]
    verified = playbook(verify)
    assert verified.rc == 0, verified.explain()
    assert all(verified.task(task["name"])["result"]["verified"] for task in verify)

    # One line per phase; the held copy arrived last, so its line says 3/3.
    image_id = result["image"]["id"]
    lines = result["progress"]
    assert "%s: available in" % image_id in " ".join(lines)
    arrived = [line for line in lines if " available in " in line and ": copy to " in line]
    assert len(arrived) == 3 and all(", signed (" in line for line in arrived)
    assert arrived[-1].startswith("%s: copy to eu-west-1 → ami-" % image_id) and arrived[-1].endswith("(3/3)")
    assert lines[-1].startswith("%s: signed by " % image_id) and lines[-1].endswith(", as are its 3 copies")

    again = playbook([task])
    assert again.rc == 0, again.explain()
    assert again.task("golden")["result"]["changed"] is False


def test_a_failed_copy_keeps_the_others_signed_and_recorded_and_a_rerun_copies_only_what_failed(
    aws, playbook, signing_key
):
    aws.emu.inject_fault("ec2:CopyImage", times=1, code="UnauthorizedOperation", status=403)
    task = image_task(
        title="golden",
        name="web-1",
        instance_id=aws.seed.builder_instance_id,
        copy_to_regions=COPY_REGIONS[:2],
        sign={"key": signing_key["path"]},
    )
    failed = playbook([task])
    assert failed.rc != 0
    result = failed.task("golden")["result"]
    [failure] = result["failed_copies"]
    [kept] = result["copies"]
    assert failure["id"] is None and failure["region"] in COPY_REGIONS[:2]
    assert "1 of 2 copies" in result["msg"] and failure["region"] in result["msg"]
    assert kept["region"] == ({*COPY_REGIONS[:2]} - {failure["region"]}).pop()
    [ami] = own_images(aws, "web-1", kept["region"])
    assert ami["ImageId"] == kept["id"] and signed(ami)
    assert own_images(aws, "web-1", failure["region"]) == []
    # The image itself is signed last, once every copy is: unsigned, it is not taken for a finished one.
    [source] = own_images(aws, "web-1")
    assert not signed(source)
    assert any("copy to %s failed" % failure["region"] in line for line in result["progress"])

    rerun = playbook([task])
    assert rerun.rc == 0, rerun.explain()
    result = rerun.task("golden")["result"]
    assert result["changed"] is True
    assert [a["region"] for a in result["actions"] if a["action"] == "copy_image"] == [failure["region"]]
    by_region = {copy["region"]: copy["id"] for copy in result["copies"]}
    assert by_region[kept["region"]] == kept["id"]
    for region in COPY_REGIONS[:2]:
        [ami] = own_images(aws, "web-1", region)
        assert ami["ImageId"] == by_region[region] and signed(ami)
    assert signed(own_images(aws, "web-1")[0])
