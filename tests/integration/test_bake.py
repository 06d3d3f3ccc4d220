"""The phoenix.immutable.bake role and playbooks/bake.yml through ansible-playbook against the moto server.

moto's instances run nothing, so the builder is reached with the local connection and its filesystem is a
scratch directory (bake_builder_root): the emulator limitation the role documents. Launch, tags, image,
signature and teardown are the real API path.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from harness import run_playbook

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = REPO_ROOT / "tests" / "fixtures"
BUILDER_TAG = "phoenix:builder"


@pytest.fixture
def bake_dir(tmp_path):
    """A signing key, a trust policy for it, a scratch builder root with per-instance state, task files."""
    private = ed25519.Ed25519PrivateKey.generate()
    key = tmp_path / "build.pem"
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    public = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    (tmp_path / "policy.yml").write_text(
        yaml.safe_dump(
            {
                "keys": [{"name": "build", "public_key": public}],
                "threshold": 1,
                "required_claims": {"tests": "passed"},
            }
        )
    )
    root = tmp_path / "builder-root"
    # A package database (the fixture root's dpkg status and os-release), for the SBOM the bake records.
    shutil.copytree(FIXTURES / "rootfs" / "debian-12", root)
    for stale in (
        "etc/ssh/ssh_host_ed25519_key",
        "etc/ssh/ssh_host_rsa_key.pub",
        "var/lib/cloud/instances/i-1/x",
        "root/.bash_history",
        "tmp/build.log",
        "etc/ssh/sshd_config",
        "srv/.keep",
    ):
        (root / stale).parent.mkdir(parents=True, exist_ok=True)
        (root / stale).write_text("stale\n")
    (root / "etc/machine-id").write_text("0123456789abcdef\n")
    write_tasks(
        tmp_path / "provision.yml",
        [
            {
                "name": "Install the web page",
                "ansible.builtin.copy": {
                    "dest": "{{ bake_builder_root }}/srv/index.html",
                    "content": "hello\n",
                    "mode": "0644",
                },
            }
        ],
    )
    write_tasks(
        tmp_path / "tests-pass.yml",
        [
            {
                "name": "Read the web page",
                "ansible.builtin.stat": {"path": "{{ bake_builder_root }}/srv/index.html"},
                "register": "page",
            },
            {"name": "The web page is there", "ansible.builtin.assert": {"that": ["page.stat.exists"]}},
        ],
    )
    write_tasks(
        tmp_path / "tests-fail.yml",
        [
            {
                "name": "A test that fails",
                "ansible.builtin.assert": {"that": ["false"], "fail_msg": "smoke test failed"},
            },
        ],
    )
    (tmp_path / "release").unlink(missing_ok=True)
    write_tasks(
        tmp_path / "provision-slow.yml",
        [
            {
                "name": "Provision slowly (until the test says so)",
                "ansible.builtin.wait_for": {"path": str(tmp_path / "release"), "timeout": 120},
            }
        ],
    )
    write_tasks(
        tmp_path / "provision-broken.yml",
        [{"name": "Break", "ansible.builtin.command": {"cmd": "false"}, "changed_when": False}],
    )
    return tmp_path


def write_tasks(path, tasks):
    path.write_text(yaml.safe_dump(tasks, sort_keys=False))


def bake_vars(aws, bake_dir, **overrides):
    values = {
        "bake_name": "web-golden-1",
        "bake_base_image_id": aws.seed.base_image_id,
        "bake_builder_connection": "local",
        "bake_builder_root": str(bake_dir / "builder-root"),
        "bake_key_dir": str(bake_dir / "keys"),
        "bake_tasks": str(bake_dir / "provision.yml"),
        "bake_test_tasks": str(bake_dir / "tests-pass.yml"),
        "bake_sign_key": str(bake_dir / "build.pem"),
        "bake_tags": {"service": "web"},
        "bake_git_revision": "3f2c1a9",
        "bake_roles": [],
        "bake_connect_timeout": 30,
        "bake_output_dir": str(bake_dir / "out"),
        # The SBOM and its fetch cost 2 tasks a bake: recorded in the first test here only (and in
        # swap/test_bake_scan_deploy.py, with the scans).
        "bake_scan": False,
    }
    values.update(overrides)
    return values


def bake_task(aws, bake_dir, **overrides):
    return {
        "name": "bake",
        "ansible.builtin.include_role": {"name": "phoenix.immutable.bake"},
        "vars": bake_vars(aws, bake_dir, **overrides),
    }


def own_images(aws, region=None):
    return aws.client("ec2", region).describe_images(Owners=["self"])["Images"]


def golden_images(aws, region=None):
    return [image for image in own_images(aws, region) if image["ImageId"] != aws.seed.base_image_id]


def leftovers(aws):
    ec2 = aws.client("ec2")
    live = ["pending", "running", "stopping", "stopped"]
    instances = [
        instance["InstanceId"]
        for reservation in ec2.describe_instances(
            Filters=[{"Name": "tag-key", "Values": [BUILDER_TAG]}, {"Name": "instance-state-name", "Values": live}]
        )["Reservations"]
        for instance in reservation["Instances"]
    ]
    groups = ec2.describe_security_groups(Filters=[{"Name": "tag-key", "Values": [BUILDER_TAG]}])["SecurityGroups"]
    keys = ec2.describe_key_pairs(Filters=[{"Name": "tag-key", "Values": [BUILDER_TAG]}])["KeyPairs"]
    return {
        "instances": instances,
        "security_groups": [g["GroupId"] for g in groups],
        "key_pairs": [k["KeyName"] for k in keys],
    }


NOTHING_LEFT = {"instances": [], "security_groups": [], "key_pairs": []}


def tags_of(resource):
    return {tag["Key"]: tag["Value"] for tag in resource.get("Tags", [])}


def test_a_bake_publishes_a_tagged_signed_image_that_verifies_and_leaves_no_builder(aws, playbook, bake_dir):
    run = playbook(
        [
            bake_task(aws, bake_dir, bake_copy_to_regions=["us-west-2"], bake_scan=True),
            {
                "name": "verify",
                "phoenix.immutable.image_verify": {
                    "image_id": ["{{ bake_image.id }}"],
                    "policy": str(bake_dir / "policy.yml"),
                },
            },
            {
                "name": "verify copy",
                "phoenix.immutable.image_verify": {
                    "region": "us-west-2",
                    "image_id": ["{{ bake_image.copies[0].id }}"],
                    "policy": str(bake_dir / "policy.yml"),
                },
            },
            {"name": "result", "ansible.builtin.debug": {"var": "bake_image"}},
        ],
        timeout=300,
    )
    assert run.rc == 0, run.explain()
    bake_image = run.task("result")["result"]["bake_image"]
    assert run.task("verify")["result"]["verified"] is True
    assert run.task("verify copy")["result"]["verified"] is True

    [image] = golden_images(aws)
    assert image["ImageId"] == bake_image["id"] and image["State"] == "available"
    tags = tags_of(image)
    assert tags["service"] == "web"
    assert tags["phoenix:bake-id"] == "web-golden-1"
    assert tags["phoenix:base-image"] == aws.seed.base_image_id
    assert tags["phoenix:git-revision"] == "3f2c1a9"
    assert tags["phoenix:tests"] == "passed"
    assert any(key.startswith("phoenix:sig") for key in tags)
    [copy] = golden_images(aws, "us-west-2")
    assert copy["ImageId"] == bake_image["copies"][0]["id"]
    # Without a feed the SBOM is still recorded and attested, on the image and on its copy.
    assert bake_image["scan"]["sbom"]["components"] == 9 and "vulnerabilities" not in bake_image["scan"]
    assert (bake_dir / "out" / "sbom.cdx.json").is_file()
    assert any(key.startswith("phoenix:att:sbom:") for key in tags)
    assert any(key.startswith("phoenix:att:sbom:") for key in tags_of(copy))
    assert not any(key.startswith("phoenix:att:vuln:") for key in tags)

    root = bake_dir / "builder-root"
    assert (root / "srv/index.html").read_text() == "hello\n"
    assert not (root / "etc/ssh/ssh_host_ed25519_key").exists()
    assert not (root / "etc/ssh/ssh_host_rsa_key.pub").exists()
    assert not (root / "var/lib/cloud/instances").exists()
    assert not (root / "root/.bash_history").exists() and not (root / "tmp/build.log").exists()
    assert (root / "etc/ssh/sshd_config").exists()
    assert (root / "etc/machine-id").read_text() == ""
    assert leftovers(aws) == NOTHING_LEFT
    assert not list((bake_dir / "keys").glob("*.pem"))


@pytest.mark.parametrize(
    "overrides, failed_step",
    [
        ({"bake_test_tasks": "tests-fail.yml"}, "smoke test failed"),
        ({"bake_tasks": "provision-broken.yml"}, "Break"),
    ],
)
def test_a_failing_test_or_provisioning_publishes_nothing_and_leaves_nothing(
    aws, playbook, bake_dir, overrides, failed_step
):
    overrides = {key: str(bake_dir / value) for key, value in overrides.items()}
    run = playbook([bake_task(aws, bake_dir, **overrides)], timeout=300)
    assert run.rc != 0
    assert "bake web-golden-1 failed" in run.stdout + run.stderr
    assert failed_step in run.stdout + run.stderr
    assert golden_images(aws) == []
    assert leftovers(aws) == NOTHING_LEFT


def test_a_failure_after_imaging_deletes_the_unsigned_image(aws, playbook, bake_dir):
    aws.emu.inject_fault("ec2:CreateTags", times=1, code="UnauthorizedOperation", status=403)
    # The first CreateTags of a bake is the signature's: the image exists by then, unsigned.
    run = playbook([bake_task(aws, bake_dir)], timeout=300)
    assert run.rc != 0
    assert golden_images(aws) == []
    assert leftovers(aws) == NOTHING_LEFT


def test_bad_inputs_are_refused_before_anything_is_launched(aws, playbook, bake_dir):
    run = playbook([bake_task(aws, bake_dir, bake_sign_key="", bake_builder_root="/")])
    assert run.rc != 0
    assert "every golden image is signed" in run.stdout + run.stderr
    assert leftovers(aws) == NOTHING_LEFT and golden_images(aws) == []


def test_a_bake_killed_midway_leaves_a_builder_with_a_ttl_that_the_reaper_removes(aws, bake_dir):
    overrides = dict(bake_tasks=str(bake_dir / "provision-slow.yml"), bake_ttl=2, bake_region=aws.seed.region)
    processes = []
    runs = []
    bake = threading.Thread(
        target=lambda: runs.append(
            run_playbook(
                REPO_ROOT / "playbooks" / "bake.yml",
                env=aws.env,
                extra_vars=bake_vars(aws, bake_dir, **overrides),
                timeout=180,
                on_start=processes.append,
            )
        ),
        daemon=True,
    )
    bake.start()
    try:
        deadline = time.monotonic() + 120
        while not leftovers(aws)["instances"]:
            assert bake.is_alive(), "the bake ended early:\n" + (runs[0].explain() if runs else "")
            assert time.monotonic() < deadline, "no builder appeared"
            time.sleep(0.2)
        os.killpg(processes[0].pid, signal.SIGKILL)
        bake.join(timeout=60)
    finally:
        (bake_dir / "release").write_text("")  # frees the orphaned wait_for worker
    assert runs and runs[0].rc == -signal.SIGKILL
    left = leftovers(aws)
    assert len(left["instances"]) == 1 and left["security_groups"] and left["key_pairs"]
    [instance] = [
        i
        for r in aws.client("ec2").describe_instances(InstanceIds=left["instances"])["Reservations"]
        for i in r["Instances"]
    ]
    assert "phoenix:expires-at" in tags_of(instance)

    reap = [{"name": "reap", "phoenix.immutable.builder": {"state": "reaped", "key_dir": str(bake_dir / "keys")}}]
    defaults = {"group/phoenix.immutable.aws": {"region": aws.seed.region, "endpoint_url": aws.emu.endpoint_url}}
    deadline = time.monotonic() + 60
    while True:
        run = run_playbook(reap, env=aws.env, module_defaults=defaults)
        assert run.rc == 0, run.explain()
        if run.task("reap")["result"]["reaped"]:
            break
        assert time.monotonic() < deadline, "the builder never expired"
        time.sleep(0.5)
    assert leftovers(aws) == NOTHING_LEFT
    assert golden_images(aws) == []


def test_a_second_bake_of_the_same_name_changes_nothing_and_an_unsigned_leftover_is_rebaked(aws, playbook, bake_dir):
    first = playbook([bake_task(aws, bake_dir)], timeout=300)
    assert first.rc == 0, first.explain()
    [image] = golden_images(aws)
    again = playbook([bake_task(aws, bake_dir)], timeout=300)
    assert again.rc == 0, again.explain()
    assert again.stats["localhost"]["changed"] == 0
    assert [i["ImageId"] for i in golden_images(aws)] == [image["ImageId"]]
    assert leftovers(aws) == NOTHING_LEFT

    # What a bake killed between imaging and signing leaves: the image, without its signature.
    ec2 = aws.client("ec2")
    ec2.delete_tags(
        Resources=[image["ImageId"]], Tags=[{"Key": key} for key in tags_of(image) if key.startswith("phoenix:sig:")]
    )
    rebaked = playbook([bake_task(aws, bake_dir)], timeout=300)
    assert rebaked.rc == 0, rebaked.explain()
    [new] = golden_images(aws)
    assert new["ImageId"] != image["ImageId"]
    assert any(key.startswith("phoenix:sig:") for key in tags_of(new))


def test_a_name_taken_by_another_image_is_refused(aws, playbook, bake_dir):
    aws.client("ec2").create_image(InstanceId=aws.seed.builder_instance_id, Name="web-golden-1")
    run = playbook([bake_task(aws, bake_dir)])
    assert run.rc != 0
    assert "was not made by this bake" in run.stdout + run.stderr
    assert leftovers(aws) == NOTHING_LEFT


IMAGE_STEP = (
    "phoenix.immutable.bake : "
    "Stop the builder, image it, copy the image to the other regions, and attest and sign each image as it arrives"
)
LAUNCH_STEP = "phoenix.immutable.bake : Launch the builder"


def test_a_bake_reports_its_progress_and_signs_each_copy_as_it_arrives(aws, playbook, bake_dir):
    regions = ["us-west-2", "eu-west-1"]
    run = playbook([bake_task(aws, bake_dir, bake_copy_to_regions=regions)], timeout=300)
    assert run.rc == 0, run.explain()
    launch = run.task(LAUNCH_STEP)["result"]
    builder_id = launch["builder"]["id"]
    assert launch["progress"][0] == "builder web-golden-1: launched %s from %s" % (builder_id, aws.seed.base_image_id)
    assert launch["progress"][-1].startswith("builder web-golden-1: %s reachable after" % builder_id)

    image = run.task(IMAGE_STEP)["result"]
    lines = image["progress"]
    image_id = image["image"]["id"]
    assert lines[0] == "web-golden-1: stopping builder %s before imaging it" % builder_id
    assert lines[1] == "web-golden-1: imaging %s into %s" % (builder_id, image_id)
    arrived = [line for line in lines if ": copy to " in line]
    assert len(arrived) == 2 and all(", signed (" in line for line in arrived)
    assert {line.split(" ")[3] for line in arrived} == set(regions)
    assert sorted(line[-5:] for line in arrived) == ["(1/2)", "(2/2)"]
    for region in regions:
        [copy] = golden_images(aws, region)
        assert any(key.startswith("phoenix:sig:") for key in tags_of(copy))
    # One signing step: the image module's; image_sign is not called by the bake.
    assert not [record for record in run.tasks if record["action"] == "phoenix.immutable.image_sign"]


def test_a_failed_copy_fails_the_bake_and_leaves_no_image_in_any_region(aws, playbook, bake_dir):
    # The first CopyImage fails for good (whichever region asks first); the other copy is made and signed,
    # then deleted with the image by the bake's clean-up, since a bake that fails publishes nothing.
    aws.emu.inject_fault("ec2:CopyImage", times=1, code="UnauthorizedOperation", status=403)
    regions = ["us-west-2", "eu-west-1"]
    run = playbook([bake_task(aws, bake_dir, bake_copy_to_regions=regions)], timeout=300)
    assert run.rc != 0
    assert "1 of 2 copies" in run.stdout + run.stderr
    image = run.task(IMAGE_STEP)["result"]
    assert len(image["copies"]) == 1 and len(image["failed_copies"]) == 1
    assert golden_images(aws) == []
    for region in regions:
        assert golden_images(aws, region) == []
    assert leftovers(aws) == NOTHING_LEFT
