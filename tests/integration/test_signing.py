"""phoenix.immutable.image_sign and image_verify through ansible-playbook against the moto server.

Each test asserts on what the modules returned AND on the image's tags read back through boto3. The
exported bundle is checked by a DSSE verifier written here from the specification, not by the
collection's code.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

SIG_PREFIX = "phoenix:sig:"
PASSPHRASE = "correct horse battery staple"
CLAIMS = {"tests": "passed", "scan": "passed", "git_revision": "4f2a9c1", "role_versions": {"bake": "1.4.0"}}


def make_image(aws, name):
    ec2 = aws.client("ec2")
    image_id = ec2.create_image(InstanceId=aws.seed.builder_instance_id, Name=name)["ImageId"]
    ec2.create_tags(Resources=[image_id], Tags=[{"Key": "service", "Value": "web"}])
    return image_id


def tags_of(aws, image_id):
    [ami] = aws.client("ec2").describe_images(ImageIds=[image_id])["Images"]
    return {tag["Key"]: tag["Value"] for tag in ami.get("Tags", [])}


def signature_tags(aws, image_id):
    return {key: value for key, value in tags_of(aws, image_id).items() if key.startswith(SIG_PREFIX)}


def public_pem(key):
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def keyid(public_key):
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


@pytest.fixture
def keys(tmp_path):
    """An ECDSA P-256 build key (passphrase-protected) and an Ed25519 approver key, as PEM files."""
    found = {}
    for name, key, encryption in (
        ("build", ec.generate_private_key(ec.SECP256R1()), serialization.BestAvailableEncryption(PASSPHRASE.encode())),
        ("approver", ed25519.Ed25519PrivateKey.generate(), serialization.NoEncryption()),
    ):
        private = tmp_path / ("%s.pem" % name)
        private.write_bytes(
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
        )
        (tmp_path / ("%s.pub" % name)).write_bytes(public_pem(key))
        found[name] = {"key": key, "path": str(private), "public": str(tmp_path / ("%s.pub" % name))}
    return found


@pytest.fixture
def kms_key(aws):
    kms = aws.client("kms")
    metadata = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY", Description="golden images")[
        "KeyMetadata"
    ]
    kms.create_alias(AliasName="alias/golden-approver", TargetKeyId=metadata["KeyId"])
    der = kms.get_public_key(KeyId=metadata["KeyId"])["PublicKey"]
    return {"id": metadata["KeyId"], "alias": "alias/golden-approver", "public": serialization.load_der_public_key(der)}


def write_policy(tmp_path, document, name="policy.yml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return str(path)


def sign_task(title, image_id, register=None, **options):
    task = {"name": title, "phoenix.immutable.image_sign": {"image_id": image_id, **options}}
    if register:
        task["register"] = register
    return task


def verify_task(title, image_id, policy, **options):
    return {
        "name": title,
        "phoenix.immutable.image_verify": {"image_id": image_id, "policy": policy, **options},
        "ignore_errors": True,
    }


def pem_signing(keys, name="build"):
    options = {"key": keys[name]["path"]}
    if name == "build":
        options["key_passphrase"] = PASSPHRASE
    return options


def test_sign_with_a_pem_key_is_idempotent_and_verifies(aws, playbook, keys, tmp_path):
    image_id = make_image(aws, "web-1")
    policy = write_policy(
        tmp_path,
        {"keys": [{"name": "build", "public_key": "build.pub"}], "required_claims": {"tests": "passed"}},
    )
    options = dict(pem_signing(keys), claims=CLAIMS)
    run = playbook(
        [
            sign_task("sign", image_id, **options),
            sign_task("again", image_id, **options),
            verify_task("verify", image_id, policy),
        ]
    )
    assert run.rc == 0, run.explain()
    signed, again, verified = (run.task(name)["result"] for name in ("sign", "again", "verify"))

    assert signed["changed"] is True
    assert signed["keyid"] == keyid(keys["build"]["key"].public_key())
    assert signed["statement"]["subject"][0]["name"] == "aws:%s:%s" % (aws.seed.region, image_id)
    assert signed["statement"]["predicate"]["buildDefinition"]["internalParameters"]["claims"] == CLAIMS
    assert signed["api_calls"]["ec2:CreateTags"] == 1

    stored = signature_tags(aws, image_id)
    assert sorted(stored) == sorted(signed["tags_set"])
    assert all(key.startswith(SIG_PREFIX + signed["keyid"][:16] + ":") for key in stored)
    assert len(stored) >= 2 and all(len(value) <= 256 for value in stored.values())
    assert tags_of(aws, image_id)["service"] == "web"

    assert again["changed"] is False
    assert again["envelope"] == signed["envelope"]
    assert set(again["api_calls"]) == {"ec2:DescribeImages"}
    assert signature_tags(aws, image_id) == stored

    assert verified["verified"] is True and verified["reason"] is None
    assert verified["statement"] == signed["statement"]
    assert verified["signatures"][0]["key"] == "build" and verified["signatures"][0]["valid"] is True
    assert set(verified["api_calls"]) == {"ec2:DescribeImages"}


def test_sign_with_a_kms_key_created_in_the_emulator(aws, playbook, kms_key, tmp_path):
    image_id = make_image(aws, "web-1")
    exported = tmp_path / "kms.pub"
    exported.write_bytes(
        kms_key["public"].public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    online = {"keys": [{"name": "approver", "kms_key": kms_key["alias"]}]}
    offline = write_policy(tmp_path, {"keys": [{"name": "approver", "public_key": str(exported)}]})
    run = playbook(
        [
            sign_task("sign", image_id, kms_key=kms_key["alias"], claims={"tests": "passed"}),
            verify_task("online", image_id, online),
            verify_task("offline", image_id, offline),
        ]
    )
    assert run.rc == 0, run.explain()
    signed = run.task("sign")["result"]
    assert signed["changed"] is True
    assert signed["keyid"] == keyid(kms_key["public"])
    assert signed["api_calls"]["kms:Sign"] == 1
    assert run.task("online")["result"]["verified"] is True
    assert run.task("online")["result"]["api_calls"]["kms:GetPublicKey"] == 1
    offline_result = run.task("offline")["result"]
    assert offline_result["verified"] is True
    assert not any(call.startswith("kms:") for call in offline_result["api_calls"])
    assert signature_tags(aws, image_id)


def test_a_disabled_kms_key_is_refused_for_signing_and_revoked_for_verifying(aws, playbook, kms_key):
    image_id = make_image(aws, "web-1")
    first = playbook([sign_task("sign", image_id, kms_key=kms_key["id"])])
    assert first.rc == 0, first.explain()
    aws.client("kms").disable_key(KeyId=kms_key["id"])
    before = signature_tags(aws, image_id)
    run = playbook(
        [
            {**sign_task("sign", image_id, kms_key=kms_key["id"], claims={"other": "claims"}), "ignore_errors": True},
            verify_task("verify", image_id, {"keys": [{"kms_key": kms_key["id"]}]}),
        ]
    )
    sign = run.task("sign")["result"]
    assert sign["failed"] is True and "cannot sign images: it is Disabled" in sign["msg"]
    verify = run.task("verify")["result"]
    assert verify["failed"] is True and verify["reason"] == "revoked"
    assert signature_tags(aws, image_id) == before


def test_signature_tags_copied_onto_another_image_fail_verification(aws, playbook, keys, tmp_path):
    signed_id = make_image(aws, "web-1")
    other_id = make_image(aws, "web-1-imposter")
    policy = write_policy(tmp_path, {"keys": [keys["build"]["public"]]})
    first = playbook([sign_task("sign", signed_id, **pem_signing(keys))])
    assert first.rc == 0, first.explain()
    copied = [{"Key": key, "Value": value} for key, value in signature_tags(aws, signed_id).items()]
    aws.client("ec2").create_tags(Resources=[other_id], Tags=copied)

    run = playbook(
        [
            verify_task("genuine", signed_id, policy),
            verify_task("imposter", other_id, policy),
            verify_task("report", [signed_id, other_id], policy, fail_on_unverified=False),
        ]
    )
    assert run.task("genuine")["result"]["verified"] is True
    imposter = run.task("imposter")["result"]
    assert imposter["failed"] is True
    assert imposter["verified"] is False and imposter["reason"] == "descriptor mismatch"
    assert imposter["error"]["code"] == "ImageNotVerified"
    assert "image %s in %s is not verified: descriptor mismatch" % (other_id, aws.seed.region) in imposter["msg"]
    assert "aws:%s:%s" % (aws.seed.region, signed_id) in imposter["msg"]
    report = run.task("report")["result"]
    assert report.get("failed") is not True and report["verified"] is False
    assert [result["verified"] for result in report["results"]] == [True, False]


def test_threshold_two_fails_with_one_signature_and_passes_with_two(aws, playbook, keys, kms_key, tmp_path):
    image_id = make_image(aws, "web-1")
    policy = write_policy(
        tmp_path,
        {
            "keys": [
                {"name": "build", "public_key": keys["build"]["public"]},
                {"name": "security", "kms_key": kms_key["alias"]},
            ],
            "threshold": 2,
            "required_claims": {"tests": "passed"},
        },
    )
    run = playbook(
        [
            sign_task("build signs", image_id, claims={"tests": "passed"}, **pem_signing(keys)),
            verify_task("one signature", image_id, policy),
            sign_task("security signs", image_id, kms_key=kms_key["alias"], claims={"tests": "passed", "ok": "yes"}),
            verify_task("two signatures", image_id, policy),
        ]
    )
    one = run.task("one signature")["result"]
    assert one["failed"] is True and one["reason"] == "below threshold"
    two = run.task("two signatures")["result"]
    assert two.get("failed") is not True and two["verified"] is True
    assert sorted(result["key"] for result in two["signatures"]) == ["build", "security"]
    prefixes = {key.split(":")[2] for key in signature_tags(aws, image_id)}
    assert prefixes == {keyid(keys["build"]["key"].public_key())[:16], keyid(kms_key["public"])[:16]}


def test_revoked_unsigned_and_untrusted_images_are_refused_with_their_reason(aws, playbook, keys, tmp_path):
    image_id = make_image(aws, "web-1")
    unsigned_id = make_image(aws, "web-2")
    first = playbook([sign_task("sign", image_id, **pem_signing(keys, "approver"))])
    assert first.rc == 0, first.explain()
    trusted = {"keys": [keys["approver"]["public"]]}
    run = playbook(
        [
            verify_task("revoked", image_id, {**trusted, "revoked": [image_id]}),
            verify_task("unsigned", unsigned_id, trusted),
            verify_task("untrusted", image_id, {"keys": [keys["build"]["public"]]}),
            verify_task("claims", image_id, {**trusted, "required_claims": {"scan": "passed"}}),
        ]
    )
    reasons = {name: run.task(name)["result"]["reason"] for name in ("revoked", "unsigned", "untrusted", "claims")}
    assert reasons == {
        "revoked": "revoked",
        "unsigned": "no signature",
        "untrusted": "unknown key",
        "claims": "missing claim scan",
    }
    assert all(run.task(name)["result"]["failed"] is True for name in reasons)


def test_the_bundle_verifies_with_an_independent_dsse_implementation(aws, playbook, keys, tmp_path):
    image_id = make_image(aws, "web-1")
    bundle = tmp_path / "web-1.dsse.json"
    run = playbook(
        [
            sign_task("sign", image_id, bundle_path=str(bundle), claims=CLAIMS, **pem_signing(keys)),
            sign_task("again", image_id, bundle_path=str(bundle), claims=CLAIMS, **pem_signing(keys)),
        ]
    )
    assert run.rc == 0, run.explain()
    assert run.task("again")["result"]["changed"] is False
    envelope = json.loads(bundle.read_text())

    # DSSE v1 from the specification: PAE = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body.
    payload_type = envelope["payloadType"]
    assert payload_type == "application/vnd.in-toto+json"
    body = base64.b64decode(envelope["payload"])
    type_bytes = payload_type.encode()
    pae = b"DSSEv1 " + str(len(type_bytes)).encode() + b" " + type_bytes + b" " + str(len(body)).encode() + b" " + body
    with open(keys["build"]["public"], "rb") as handle:
        public_key = serialization.load_pem_public_key(handle.read())
    [signature] = envelope["signatures"]
    assert signature["keyid"] == keyid(public_key)
    public_key.verify(base64.b64decode(signature["sig"]), pae, ec.ECDSA(hashes.SHA256()))

    # The in-toto statement's subject is the image, its digest that of the documented descriptor,
    # rebuilt here from what EC2 says about the image.
    statement = json.loads(body)
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == "https://slsa.dev/provenance/v1"
    [ami] = aws.client("ec2").describe_images(ImageIds=[image_id])["Images"]
    descriptor = {
        "_type": "phoenix.immutable/image-descriptor/v1",
        "cloud": "aws",
        "owner": ami["OwnerId"],
        "region": aws.seed.region,
        "id": image_id,
        "name": ami["Name"],
        "created": ami["CreationDate"][:19] + "Z",
        "architecture": ami["Architecture"],
        "disks": sorted(
            (
                {
                    "device": mapping["DeviceName"],
                    "snapshot_id": mapping["Ebs"]["SnapshotId"],
                    "size_gb": mapping["Ebs"]["VolumeSize"],
                }
                for mapping in ami["BlockDeviceMappings"]
                if "Ebs" in mapping
            ),
            key=lambda disk: disk["device"],
        ),
    }
    canonical = json.dumps(descriptor, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert statement["subject"] == [
        {"name": "aws:%s:%s" % (aws.seed.region, image_id), "digest": {"sha256": hashlib.sha256(canonical).hexdigest()}}
    ]
    # The bundle is the envelope stored in the tags.
    assert envelope == run.task("sign")["result"]["envelope"]


def test_check_mode_signs_nothing_and_an_overfull_image_is_refused(aws, playbook, keys):
    image_id = make_image(aws, "web-1")
    check = playbook([sign_task("plan", image_id, **pem_signing(keys))], check=True)
    assert check.rc == 0, check.explain()
    plan = check.task("plan")["result"]
    assert plan["changed"] is True and plan["tags_set"] and "envelope" not in plan
    assert "ec2:CreateTags" not in plan["api_calls"]
    assert signature_tags(aws, image_id) == {}

    crowded = [{"Key": "note-%02d" % number, "Value": "x"} for number in range(47)]
    aws.client("ec2").create_tags(Resources=[image_id], Tags=crowded)
    run = playbook([{**sign_task("sign", image_id, **pem_signing(keys)), "ignore_errors": True}])
    result = run.task("sign")["result"]
    assert result["failed"] is True
    assert "cannot store the signature on image %s" % image_id in result["msg"]
    assert "at most 50 are allowed" in result["msg"]
    assert signature_tags(aws, image_id) == {}


def test_bad_input_fails_before_anything_is_written(aws, playbook, keys, tmp_path):
    image_id = make_image(aws, "web-1")
    run = playbook(
        [
            {
                **sign_task("wrong passphrase", image_id, key=keys["build"]["path"], key_passphrase="nope"),
                "ignore_errors": True,
            },
            verify_task("bad policy", image_id, {"keys": [keys["build"]["public"]], "threshold": 3}),
        ]
    )
    wrong = run.task("wrong passphrase")["result"]
    assert wrong["failed"] is True and "passphrase is wrong" in wrong["msg"] and "nope" not in json.dumps(wrong)
    bad = run.task("bad policy")["result"]
    assert bad["failed"] is True and "threshold 3 cannot be met by 1" in bad["msg"]
    assert signature_tags(aws, image_id) == {}


def test_verify_image_is_callable_from_other_modules_code(aws, keys, tmp_path):
    """The contract the blue/green swap uses: trust.verify_image over the AWS image backend."""
    from ansible_collections.phoenix.immutable.plugins.module_utils import trust
    from ansible_collections.phoenix.immutable.plugins.module_utils.providers import image_backend

    image_id = make_image(aws, "web-1")
    params = {"cloud": "aws", "region": aws.seed.region, "endpoint_url": aws.emu.endpoint_url}
    params.update(access_key=aws.env["AWS_ACCESS_KEY_ID"], secret_key=aws.env["AWS_SECRET_ACCESS_KEY"])
    backend = image_backend(params)
    policy = trust.load_policy({"keys": [keys["approver"]["public"]]})
    assert trust.verify_image(backend, image_id, policy).reason == "no signature"
    trust.sign_image(backend, image_id, trust.local_signer(keys["approver"]["path"]), claims={"tests": "passed"})
    verdict = trust.verify_image(backend, image_id, policy)
    assert verdict.verified is True and verdict.to_dict()["image_id"] == image_id


def test_the_demo_tasks_sign_the_golden_image_and_refuse_a_tampered_one(aws, playbook, tmp_path):
    """tests/integration/signing_demo_tasks.yml, the tasks the demo runs, in a play like the demo's."""
    golden_id = make_image(aws, "web-golden-1")
    tasks = Path(__file__).with_name("signing_demo_tasks.yml")
    run = playbook(
        [
            {
                "name": "the golden image, as the demo's bake registers it",
                "phoenix.immutable.image_info": {"image_ids": [golden_id]},
                "register": "demo_info",
            },
            {
                "name": "as demo_golden",
                "ansible.builtin.set_fact": {"demo_golden": {"image": "{{ demo_info.images[0] }}"}},
            },
            {
                "name": "signing demo",
                "ansible.builtin.include_tasks": str(tasks),
                "vars": {"demo_builder_instance_id": aws.seed.builder_instance_id},
            },
        ]
    )
    assert run.rc == 0, run.explain()
    assert run.task("Sign the golden image (DSSE envelope of an in-toto statement, stored in the image's tags)")[
        "result"
    ]["changed"]
    refused = run.task("Verify the imposter (refused - it is not the image that was signed)")["result"]
    assert refused["reason"] == "descriptor mismatch"
    imposter_id = refused["results"][0]["image_id"]
    assert imposter_id != golden_id
    assert signature_tags(aws, imposter_id) == signature_tags(aws, golden_id) != {}


def test_kms_signer_keeps_the_key_in_kms_and_refuses_keys_that_cannot_sign(aws, kms_key):
    from ansible_collections.phoenix.immutable.plugins.module_utils import trust
    from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import InvalidInput
    from ansible_collections.phoenix.immutable.plugins.module_utils.providers import image_backend

    image_id = make_image(aws, "web-1")
    params = {"region": aws.seed.region, "endpoint_url": aws.emu.endpoint_url}
    params.update(access_key=aws.env["AWS_ACCESS_KEY_ID"], secret_key=aws.env["AWS_SECRET_ACCESS_KEY"])
    arn = aws.client("kms").describe_key(KeyId=kms_key["id"])["KeyMetadata"]["Arn"]
    signer = trust.kms_signer(params, arn)
    assert signer.keyid == keyid(kms_key["public"])
    with aws.emu.counting() as calls:
        outcome = trust.sign_image(image_backend(params), image_id, signer, claims={"tests": "passed"})
    assert calls["kms:Sign"] == 1
    payload = base64.b64decode(outcome.envelope["payload"])
    pae = b"DSSEv1 28 application/vnd.in-toto+json " + str(len(payload)).encode() + b" " + payload
    kms_key["public"].verify(base64.b64decode(outcome.envelope["signatures"][0]["sig"]), pae, ec.ECDSA(hashes.SHA256()))

    kms = aws.client("kms")
    symmetric = kms.create_key()["KeyMetadata"]["KeyId"]
    rsa_key = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    with pytest.raises(InvalidInput, match="cannot sign images: .*its spec is SYMMETRIC_DEFAULT, not ECC_NIST_P256"):
        trust.kms_signer(params, symmetric)
    with pytest.raises(InvalidInput, match="its spec is RSA_2048, not ECC_NIST_P256"):
        trust.kms_signer(params, rsa_key)


def test_the_image_module_signs_the_image_and_its_copy_with_a_kms_key_arn_as_image_sign_does(
    aws, playbook, kms_key, tmp_path
):
    # A key ARN signs in its own region, so the copy in us-west-2 is signed by the same us-east-1 key.
    arn = aws.client("kms").describe_key(KeyId=kms_key["id"])["KeyMetadata"]["Arn"]
    exported = tmp_path / "kms.pub"
    exported.write_bytes(
        kms_key["public"].public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    policy = write_policy(tmp_path, {"keys": [{"name": "approver", "public_key": str(exported)}]})
    task = {
        "name": "golden",
        "phoenix.immutable.image": {
            "name": "web-1",
            "instance_id": aws.seed.builder_instance_id,
            "copy_to_regions": ["us-west-2"],
            "sign": {"kms_key": arn, "claims": {"tests": "passed"}},
        },
    }
    run = playbook([task])
    assert run.rc == 0, run.explain()
    result = run.task("golden")["result"]
    [copy] = result["copies"]
    assert [s["keyid"] for s in result["signatures"]] == [keyid(kms_key["public"])] * 2
    verify = playbook(
        [
            verify_task("image", result["image"]["id"], policy),
            verify_task("copy", copy["id"], policy, region="us-west-2"),
        ]
    )
    assert verify.rc == 0, verify.explain()
    assert verify.task("image")["result"]["verified"] is True
    assert verify.task("copy")["result"]["verified"] is True

    # Signing again by image_sign with the same key and claims finds the image module's signature: one way.
    again = playbook([sign_task("sign", result["image"]["id"], kms_key=arn, claims={"tests": "passed"})])
    assert again.rc == 0, again.explain()
    assert again.task("sign")["result"]["changed"] is False
