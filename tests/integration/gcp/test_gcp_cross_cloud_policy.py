"""One trust policy for every cloud: the same policy file, the same key, verifies an image signed on AWS (moto)
and one signed on GCP (the GCE emulator) in one playbook, and refuses an unsigned image and one signed
without the required claim on each."""

from __future__ import annotations

import yaml
from harness import run_playbook

CLAIMS = {"tests": "passed", "git_revision": "4f2a9c1"}


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


def aws_image(aws, name):
    return aws.client("ec2").create_image(InstanceId=aws.seed.builder_instance_id, Name=name)["ImageId"]


def test_one_policy_file_verifies_a_signed_image_on_aws_and_on_gcp_and_refuses_the_others(
    aws, gcp, signing_key, tmp_path
):
    policy = tmp_path / "policy.yml"
    policy.write_text(
        yaml.safe_dump(
            {"keys": [{"name": "build", "public_key": signing_key["public"]}], "required_claims": {"tests": "passed"}}
        )
    )
    key = signing_key["path"]
    on_aws = {name: aws_image(aws, "web-%s" % name) for name in ("golden", "unsigned", "untested")}
    on_gcp = {
        name: gcp.image_id(gcp.emu.put_image("web-%s" % name)["name"]) for name in ("golden", "unsigned", "untested")
    }
    tasks = []
    for cloud, images in (("aws", on_aws), ("gcp", on_gcp)):
        tasks += [
            sign("%s sign golden" % cloud, cloud, images["golden"], key, CLAIMS),
            sign("%s sign untested" % cloud, cloud, images["untested"], key, {"tests": "failed"}),
        ]
        tasks += [verify("%s %s" % (cloud, name), cloud, images[name], str(policy)) for name in images]
    env = {**aws.env, **gcp.emu.env(), "GCP_SERVICE_ACCOUNT_FILE": str(gcp.key_file)}

    run = run_playbook(tasks, env=env)

    assert run.rc == 0, run.explain()
    reasons = {
        cloud: [run.task("%s %s" % (cloud, name))["result"]["reason"] for name in on_aws] for cloud in ("aws", "gcp")
    }
    assert reasons["aws"] == reasons["gcp"], reasons  # the same verdicts, for the same reasons, on both clouds
    for cloud, images in (("aws", on_aws), ("gcp", on_gcp)):
        golden = run.task("%s golden" % cloud)["result"]
        assert golden["verified"] is True and golden.get("failed") is not True, golden
        [verdict] = golden["results"]
        assert verdict["image_id"] == images["golden"] and verdict["valid_keys"] == [signing_key["keyid"]], verdict
        for refused, reason in (("unsigned", "no signature"), ("untested", "claim")):
            result = run.task("%s %s" % (cloud, refused))["result"]
            assert result["failed"] is True and result["verified"] is False, result
            assert result["error"]["code"] == "ImageNotVerified", result
            assert reason in (result["reason"] + result["msg"]).lower(), result
