"""The trust gate fails closed, through image_verify and image_sign against the moto server.

An empty or keyless policy is the one error of _core/policy.py; a keyid in ``revoked`` refuses the images
that key signed; an entry ``revoked`` cannot recognise fails the task; image_sign says which tags it wrote.
Each result is checked against the image's tags read back through boto3.
"""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from test_audit_log import audit_env
from test_signing import (
    PASSPHRASE,
    keyid,
    make_image,
    pem_signing,
    public_pem,
    sign_task,
    signature_tags,
    verify_task,
    write_policy,
)

from ansible_collections.phoenix.immutable.plugins.module_utils._core.policy import NO_TRUSTED_KEY


@pytest.fixture
def keys(tmp_path):
    """test_signing's passphrase-protected ECDSA P-256 build key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    private = tmp_path / "build.pem"
    encryption = serialization.BestAvailableEncryption(PASSPHRASE.encode())
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption))
    (tmp_path / "build.pub").write_bytes(public_pem(key))
    return {"build": {"key": key, "path": str(private), "public": str(tmp_path / "build.pub")}}


def test_image_verify_refuses_an_empty_or_keyless_policy_with_the_one_message(aws, playbook):
    image_id = make_image(aws, "web-1")
    run = playbook(
        [
            verify_task("empty mapping", image_id, {}),
            verify_task("empty string", image_id, ""),
            verify_task("keyless", image_id, {"threshold": 1}),
            verify_task("keys as a mapping", image_id, {"keys": {"build": "build.pub"}}),
        ]
    )
    for name in ("empty mapping", "empty string", "keyless", "keys as a mapping"):
        result = run.task(name)["result"]
        assert result["failed"] is True and NO_TRUSTED_KEY in result["msg"], name
        assert "policy policy" not in result["msg"]


def test_a_revoked_keyid_refuses_the_images_that_key_signed(aws, playbook, keys, tmp_path):
    image_id = make_image(aws, "web-1")
    build_keyid = keyid(keys["build"]["key"].public_key())
    trusted = {"keys": [{"name": "build", "public_key": keys["build"]["public"]}]}
    run = playbook(
        [
            sign_task("sign", image_id, register="signed", **pem_signing(keys)),
            verify_task("trusted", image_id, write_policy(tmp_path, trusted, "trusted.yml")),
            verify_task(
                "key revoked", image_id, write_policy(tmp_path, {**trusted, "revoked": [build_keyid]}, "r.yml")
            ),
        ]
    )
    assert run.task("trusted")["result"]["verified"] is True, run.explain()
    revoked = run.task("key revoked")["result"]
    assert revoked["failed"] is True and revoked["reason"] == "revoked"
    assert revoked["signatures"][0]["keyid"] == build_keyid and "revoked by the policy" in revoked["msg"]
    # The signature is still on the image: the policy, not the cloud, revoked it.
    assert signature_tags(aws, image_id)


@pytest.mark.parametrize("entry", ["build", "3c1b5e0f9a7d4c2b", "alias/golden-approver"])
def test_an_unrecognised_revoked_entry_fails_the_task(aws, playbook, keys, tmp_path, entry):
    image_id = make_image(aws, "web-1")
    policy = {"keys": [{"name": "build", "public_key": keys["build"]["public"]}], "revoked": [entry]}
    aws.emu.reset_calls()
    run = playbook([verify_task("verify", image_id, write_policy(tmp_path, policy))])
    result = run.task("verify")["result"]
    assert result["failed"] is True and "revoked entry %r" % entry in result["msg"]
    assert not aws.emu.calls  # refused before any image is read


def test_image_sign_reports_the_tags_it_wrote_as_actions(aws, playbook, keys, tmp_path):
    image_id = make_image(aws, "web-1")
    log = tmp_path / "audit" / "audit.jsonl"
    run = playbook(
        [
            sign_task("sign", image_id, **pem_signing(keys)),
            sign_task("again", image_id, **pem_signing(keys)),
        ],
        env=audit_env(log),
    )
    assert run.rc == 0, run.explain()
    [action] = run.task("sign")["result"]["actions"]
    written = sorted(signature_tags(aws, image_id))
    assert action["action"] == "sign_image" and action["image_id"] == image_id
    assert action["tags_set"] == written and action["keyid"] == keyid(keys["build"]["key"].public_key())
    assert run.task("again")["result"]["actions"] == []
    [line] = [json.loads(text) for text in log.read_text(encoding="utf-8").splitlines()]  # only "sign" changed
    assert line["task"] == "sign" and line["actions"] == ["sign_image"]
    assert {"kind": "image", "id": image_id} in [{k: r.get(k) for k in ("kind", "id")} for r in line["resources"]]
