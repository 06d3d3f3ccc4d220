"""phoenix.immutable.image_channel through ansible-playbook against the moto server.

Each test asserts on the module's result AND on the image's promotion tags read back through boto3; the
stored envelope is checked with `cryptography` directly, from the DSSE specification.
"""

from __future__ import annotations

import base64
import json
import zlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from emulators.lifecycle import Keys, make_images, promotion_tags, tags_of, write_policy


@pytest.fixture
def keys(tmp_path):
    return Keys(tmp_path)


@pytest.fixture
def policy(tmp_path, keys):
    return write_policy(tmp_path, keys, trusted=["build"], promoters=["release"])


@pytest.fixture
def images(aws):
    return make_images(aws, ["web-1", "web-2"], [10, 5])


def sign(image_id, keys, title="sign"):
    return {"name": title, "phoenix.immutable.image_sign": {"image_id": image_id, "key": keys.private("build")}}


def channel(image_id, title="promote", **options):
    return {"name": title, "phoenix.immutable.image_channel": {"image_id": image_id, **options}}


def envelope_of(tags):
    text = "".join(tags[key] for key in sorted(tags, key=lambda key: int(key.rsplit(":", 1)[1])))
    return json.loads(zlib.decompress(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))))


def test_promote_a_signed_image_and_again_changes_nothing(aws, playbook, keys, policy, images):
    promote = channel(images["web-1"], channel="prod", policy=policy, key=keys.private("release"))
    run = playbook([sign(images["web-1"], keys), promote, {**promote, "name": "again"}])
    assert run.rc == 0, run.explain()
    result = run.task("promote")["result"]
    assert result["changed"] is True and result["promoted"] is True
    assert result["channels"] == ["prod"] and result["promoter"] == "release"
    assert result["verification"]["verified"] is True
    again = run.task("again")["result"]
    assert again["changed"] is False and again["promoted"] is True
    assert set(again["api_calls"]) == {"ec2:DescribeImages"}

    stored = promotion_tags(aws, images["web-1"], "prod")
    assert stored and all(len(value) <= 256 for value in stored.values())
    envelope = envelope_of(stored)
    payload = base64.b64decode(envelope["payload"])
    statement = json.loads(payload)
    assert statement["predicateType"] == "urn:phoenix-immutable:promotion:v1"
    assert statement["predicate"] == {"channel": "prod", "family": "web"}
    assert statement["subject"][0]["name"] == "aws:us-east-1:%s" % images["web-1"]
    public = serialization.load_pem_public_key(Path(keys.public("release")).read_bytes())
    pae = b"DSSEv1 %d %s %d %s" % (
        len(envelope["payloadType"]),
        envelope["payloadType"].encode(),
        len(payload),
        payload,
    )
    public.verify(base64.b64decode(envelope["signatures"][0]["sig"]), pae)  # raises when invalid
    # The build signature is untouched and other images carry nothing.
    assert any(key.startswith("phoenix:sig:") for key in tags_of(aws, images["web-1"]))
    assert promotion_tags(aws, images["web-2"]) == {}


def test_check_mode_plans_and_writes_nothing(aws, playbook, keys, policy, images):
    run = playbook([sign(images["web-1"], keys)])
    assert run.rc == 0, run.explain()
    plan = playbook([channel(images["web-1"], channel="prod", policy=policy, key=keys.private("release"))], check=True)
    assert plan.rc == 0, plan.explain()
    result = plan.task("promote")["result"]
    assert result["changed"] is True and result["actions"][0]["action"] == "promote"
    assert promotion_tags(aws, images["web-1"]) == {}


def test_an_unsigned_image_is_not_promoted(aws, playbook, keys, policy, images):
    run = playbook([channel(images["web-2"], channel="prod", policy=policy, key=keys.private("release"))])
    assert run.rc != 0
    failure = run.task("promote")["result"]
    assert "refusing to promote %s to prod" % images["web-2"] in failure["msg"]
    assert "no signature" in failure["msg"]
    assert promotion_tags(aws, images["web-2"]) == {}
    assert "ec2:CreateTags" not in aws.calls


def test_only_a_promoter_key_may_promote(aws, playbook, keys, policy, images):
    run = playbook(
        [
            sign(images["web-1"], keys),
            channel(images["web-1"], channel="prod", policy=policy, key=keys.private("build")),
        ]
    )
    assert run.rc != 0
    failure = run.task("promote")["result"]
    assert "is not one of the promoters" in failure["msg"]
    assert promotion_tags(aws, images["web-1"]) == {}


def test_a_policy_without_promoters_is_refused_clearly(aws, playbook, tmp_path, keys, images):
    bare = write_policy(tmp_path, keys, trusted=["build"], promoters=[], name="bare.yml")
    run = playbook([channel(images["web-1"], channel="prod", policy=bare, key=keys.private("build"))])
    assert run.rc != 0
    assert "names no promoters" in run.task("promote")["result"]["msg"]


def test_withdraw_removes_only_that_channel(aws, playbook, keys, policy, images):
    promote = dict(policy=policy, key=keys.private("release"))
    run = playbook(
        [
            sign(images["web-1"], keys),
            channel(images["web-1"], title="staging", channel="staging", **promote),
            channel(images["web-1"], title="prod", channel="prod", **promote),
            channel(images["web-1"], title="withdraw", channel="prod", state="absent"),
            channel(images["web-1"], title="withdraw again", channel="prod", state="absent"),
        ]
    )
    assert run.rc == 0, run.explain()
    withdrawn = run.task("withdraw")["result"]
    assert withdrawn["changed"] is True and withdrawn["channels"] == ["staging"]
    assert run.task("withdraw again")["result"]["changed"] is False
    assert promotion_tags(aws, images["web-1"], "prod") == {}
    assert promotion_tags(aws, images["web-1"], "staging")


def test_a_bad_channel_name_fails_before_any_call(aws, playbook, keys, policy, images):
    run = playbook([channel(images["web-1"], channel="Prod!", policy=policy, key=keys.private("release"))])
    assert run.rc != 0
    assert "channel 'Prod!' must be" in run.task("promote")["result"]["msg"]
    assert "ec2:CreateTags" not in aws.calls


def test_a_kms_promoter_promotes_and_its_promotion_verifies(aws, playbook, tmp_path, keys, images):
    kms = aws.client("kms")
    key_id = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/release-promoter", TargetKeyId=key_id)
    document = {
        "keys": [{"name": "build", "public_key": keys.public("build")}],
        "promoters": [{"name": "release-kms", "kms_key": "alias/release-promoter"}],
    }
    policy = tmp_path / "kms-policy.yml"
    policy.write_text(json.dumps(document), encoding="utf-8")
    run = playbook(
        [
            sign(images["web-1"], keys),
            channel(images["web-1"], channel="prod", policy=str(policy), kms_key="alias/release-promoter"),
            {
                "name": "read",
                "ansible.builtin.debug": {
                    "msg": "{{ lookup('phoenix.immutable.golden_image', 'web', channel='prod', policy='%s') }}" % policy
                },
            },
        ]
    )
    assert run.rc == 0, run.explain()
    result = run.task("promote")["result"]
    assert result["changed"] is True and result["promoter"] == "release-kms"
    assert result["api_calls"]["kms:Sign"] == 1
    assert run.task("read")["result"]["msg"] == images["web-1"]
    assert promotion_tags(aws, images["web-1"], "prod")
