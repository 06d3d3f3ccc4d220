"""One trust policy for three clouds: the same policy file and key verify an image signed on AWS (moto), one
signed on GCP (the GCE emulator) and one signed on Azure (the ARM emulator) in one playbook, and refuse on each
an unsigned image, one signed without the required claim, and one the policy revokes by its id."""

from __future__ import annotations

import pytest
import yaml
from emulators.gce import GceEmulator
from harness import run_playbook
from images_support import plant_version

CLAIMS = {"tests": "passed", "git_revision": "4f2a9c1"}
NAMES = ("golden", "unsigned", "untested", "revoked")
REASONS = {"unsigned": "no signature", "untested": "claim", "revoked": "revoked"}


@pytest.fixture
def gce(tmp_path, monkeypatch):
    with GceEmulator() as emu:
        for name, value in emu.env().items():
            if name.lower() == "no_proxy":
                monkeypatch.setenv(name, value)
        seed = emu.seed()
        key_file = emu.service_account_key().write(tmp_path / "gcp-key.json")
        yield emu, seed, key_file


def sign(title, cloud, image_id, key, claims):
    return {
        "name": title,
        "phoenix.immutable.image_sign": {"cloud": cloud, "image_id": image_id, "key": key, "claims": claims},
    }


def verify(title, cloud, image_id, policy):
    return {
        "name": title,
        "phoenix.immutable.image_verify": {"cloud": cloud, "image_id": image_id, "policy": policy},
        "ignore_errors": True,
    }


def test_one_policy_file_verifies_the_signed_image_of_each_cloud_and_refuses_the_others(
    aws, gce, azure, signing_key, tmp_path
):
    gce_emu, gce_seed, gce_key = gce
    images = {
        "aws": {
            name: aws.client("ec2").create_image(InstanceId=aws.seed.builder_instance_id, Name="web-" + name)["ImageId"]
            for name in NAMES
        },
        "gcp": {
            name: "projects/%s/global/images/%s" % (gce_seed.project, gce_emu.put_image("web-" + name)["name"])
            for name in NAMES
        },
        "azure": {
            name: plant_version(azure, "web", "1.0.%d" % number, "web-" + name) for number, name in enumerate(NAMES)
        },
    }
    policy = tmp_path / "policy.yml"
    policy.write_text(
        yaml.safe_dump(
            {
                "keys": [{"name": "build", "public_key": signing_key["public"]}],
                "required_claims": {"tests": "passed"},
                # One list for every cloud: each entry is told apart by its cloud's id shape.
                "revoked": [images[cloud]["revoked"] for cloud in images],
            }
        )
    )
    tasks = []
    for cloud, ids in images.items():
        tasks += [
            sign("%s sign golden" % cloud, cloud, ids["golden"], signing_key["path"], CLAIMS),
            sign("%s sign untested" % cloud, cloud, ids["untested"], signing_key["path"], {"tests": "failed"}),
            sign("%s sign revoked" % cloud, cloud, ids["revoked"], signing_key["path"], CLAIMS),
        ]
        tasks += [verify("%s %s" % (cloud, name), cloud, ids[name], str(policy)) for name in NAMES]
    env = {**aws.env, **gce_emu.env(), "GCP_SERVICE_ACCOUNT_FILE": str(gce_key), **azure.env()}

    run = run_playbook(tasks, env=env)

    assert run.rc == 0, run.explain()
    verdicts = {cloud: [run.task("%s %s" % (cloud, name))["result"]["reason"] for name in NAMES] for cloud in images}
    assert verdicts["aws"] == verdicts["gcp"] == verdicts["azure"], verdicts  # same verdicts, same reasons
    for cloud, ids in images.items():
        golden = run.task("%s golden" % cloud)["result"]
        assert golden["verified"] is True and golden.get("failed") is not True, golden
        [verdict] = golden["results"]
        assert verdict["image_id"] == ids["golden"] and verdict["valid_keys"] == [signing_key["keyid"]], verdict
        for refused, reason in REASONS.items():
            result = run.task("%s %s" % (cloud, refused))["result"]
            assert result["failed"] is True and result["verified"] is False, result
            assert result["error"]["code"] == "ImageNotVerified", result
            assert reason in (result["reason"] + result["msg"]).lower(), (cloud, refused, result)
