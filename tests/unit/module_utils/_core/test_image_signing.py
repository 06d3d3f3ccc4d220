"""Signing and verifying images against an in-memory image backend: every verdict from a real case.

Keys are real (Ed25519 and ECDSA P-256 made with `cryptography`); only the cloud is in memory. KMS keys
are exercised against the moto server in tests/integration/test_signing.py.
"""

from __future__ import annotations

import base64
import datetime
import importlib
import json
import zlib
from collections import Counter
from dataclasses import replace

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.phoenix.immutable.plugins.module_utils import argspec, trust
from ansible_collections.phoenix.immutable.plugins.module_utils._aws.codec import AWS_CODEC
from ansible_collections.phoenix.immutable.plugins.module_utils._core import dsse, signatures
from ansible_collections.phoenix.immutable.plugins.module_utils._core import tags as tagging
from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import InvalidInput, PhoenixError
from ansible_collections.phoenix.immutable.plugins.module_utils._core.keys import LocalSigner, keyid_of
from ansible_collections.phoenix.immutable.plugins.module_utils._core.model import Disk, Image
from ansible_collections.phoenix.immutable.plugins.module_utils._core.tags import TagLimits

NOW = datetime.datetime(2026, 11, 25, 12, 0, tzinfo=datetime.UTC)
CLAIMS = {"tests": "passed", "scan": "passed", "git_revision": "0f1e2d3c", "playbook": "bake.yml@1.4.0"}


class MemoryImages:
    """Images of one region in memory, behind the parts of ImageBackend that signing uses."""

    cloud = "aws"
    tag_limits = TagLimits(max_tags=50, max_key_length=128, max_value_length=256, reserved_prefixes=("aws:",))
    codec = AWS_CODEC

    def __init__(self, region="us-east-1"):
        self.region = region
        self.images = {}
        self.calls = Counter()

    def add(self, image_id="ami-0000000000000001", **fields):
        values = dict(
            cloud="aws",
            id=image_id,
            name="web-1",
            region=self.region,
            state="available",
            created="2026-11-24T09:00:00Z",
            owner="123456789012",
            architecture="x86_64",
            source_image="ami-base",
            tags={"service": "web"},
            disks=[Disk("/dev/xvda", "snap-0001", 8)],
        )
        values.update(fields)
        self.images[image_id] = Image(**values)
        return self.images[image_id]

    def get(self, image_id):
        self.calls["get"] += 1
        return self.images.get(image_id)

    def set_tags(self, image, to_set, to_remove):
        self.calls["set_tags"] += 1
        tags = dict(self.images[image.id].tags)
        tags.update(to_set)
        for key in to_remove:
            tags.pop(key, None)
        self.images[image.id] = replace(self.images[image.id], tags=tags)

    def retag(self, image_id, tags):
        self.images[image_id] = replace(self.images[image_id], tags=tags)

    def api_calls(self):
        return dict(self.calls)


def pem_public(key):
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def policy_for(*private_keys, **fields):
    document = {"keys": [{"name": "key%d" % i, "public_key": pem_public(key)} for i, key in enumerate(private_keys)]}
    document.update(fields)
    return trust.load_policy(document)


@pytest.fixture
def images():
    backend = MemoryImages()
    backend.add()
    return backend


@pytest.fixture(params=["ed25519", "ecdsa-p256"])
def private_key(request):
    return (
        ed25519.Ed25519PrivateKey.generate() if request.param == "ed25519" else ec.generate_private_key(ec.SECP256R1())
    )


def sign(images, key, image_id="ami-0000000000000001", claims=None, **options):
    return trust.sign_image(images, image_id, LocalSigner(key), claims=CLAIMS if claims is None else claims, **options)


def verify(images, policy, image_id="ami-0000000000000001"):
    return trust.verify_image(images, image_id, policy, now=NOW)


# -- DSSE -------------------------------------------------------------------------------------------------


def test_pae_matches_the_dsse_spec_test_vector():
    # protocol.md of the DSSE specification: PAE("http://example.com/HelloWorld", "hello world").
    assert dsse.pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )
    assert dsse.pae("", b"") == b"DSSEv1 0  0 "


def test_pae_counts_bytes_not_characters():
    assert dsse.pae("t\u00e9", "\u00e9".encode()) == b"DSSEv1 3 t\xc3\xa9 2 \xc3\xa9"


def test_envelopes_read_either_base64_alphabet():
    envelope = dsse.envelope(b"\xfb\xff payload", [("k", b"\xff\xfe")])
    envelope["signatures"][0]["sig"] = base64.urlsafe_b64encode(b"\xff\xfe").decode().rstrip("=")
    parsed = dsse.parse(envelope)
    assert parsed.payload == b"\xfb\xff payload" and parsed.signatures == [("k", b"\xff\xfe")]
    for broken in ({}, {"payloadType": "x", "payload": "!!", "signatures": [{"sig": "AA"}]}, {"payloadType": "x"}):
        with pytest.raises(dsse.EnvelopeError):
            dsse.parse(broken)


# -- signing ----------------------------------------------------------------------------------------------


def test_sign_then_verify_with_each_key_type(images, private_key):
    outcome = sign(images, private_key)
    assert outcome.changed is True
    assert outcome.keyid == keyid_of(private_key.public_key())
    statement = outcome.statement
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == "https://slsa.dev/provenance/v1"
    assert statement["subject"] == [
        {"name": "aws:us-east-1:ami-0000000000000001", "digest": {"sha256": outcome.descriptor_digest}}
    ]
    definition = statement["predicate"]["buildDefinition"]
    assert definition["internalParameters"]["claims"] == CLAIMS
    assert {"name": "base_image", "uri": "aws:us-east-1:ami-base"} in definition["resolvedDependencies"]
    assert {"name": "source", "digest": {"gitCommit": "0f1e2d3c"}} in definition["resolvedDependencies"]

    tags = images.images["ami-0000000000000001"].tags
    prefix = "phoenix:sig:%s:" % outcome.keyid[:16]
    chunk_keys = sorted(key for key in tags if key.startswith(prefix))
    assert chunk_keys == sorted(outcome.tags_set) and len(chunk_keys) >= 2  # the envelope is over 256 characters
    assert all(len(tags[key]) <= 256 for key in chunk_keys)
    assert tags["service"] == "web"

    verdict = verify(images, policy_for(private_key, required_claims={"tests": "passed"}))
    assert verdict.verified is True, verdict.message
    assert verdict.reason is None
    assert verdict.statement == statement
    assert verdict.valid_keys == [outcome.keyid]
    assert verdict.to_dict()["signatures"][0]["key"] == "key0"


def test_the_stored_envelope_is_the_one_returned_and_verifies_by_the_spec(images, private_key):
    outcome = sign(images, private_key)
    [stored] = signatures.stored_signatures(AWS_CODEC, images.images["ami-0000000000000001"])
    assert stored.envelope == outcome.envelope
    payload = base64.b64decode(outcome.envelope["payload"])
    assert json.loads(payload) == outcome.statement
    signature = base64.b64decode(outcome.envelope["signatures"][0]["sig"])
    message = b"DSSEv1 28 application/vnd.in-toto+json %d %s" % (len(payload), payload)
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        private_key.public_key().verify(signature, message)
    else:
        from cryptography.hazmat.primitives import hashes

        private_key.public_key().verify(signature, message, ec.ECDSA(hashes.SHA256()))


def test_signing_again_with_the_same_key_and_statement_changes_nothing(images, private_key):
    first = sign(images, private_key)
    tags = dict(images.images["ami-0000000000000001"].tags)
    again = sign(images, private_key)
    assert again.changed is False
    assert again.envelope == first.envelope  # the stored one, though ECDSA would sign differently now
    assert images.images["ami-0000000000000001"].tags == tags
    assert images.calls["set_tags"] == 1


def test_other_claims_replace_that_keys_signature_only(images):
    build, approver = ed25519.Ed25519PrivateKey.generate(), ec.generate_private_key(ec.SECP256R1())
    sign(images, build)
    sign(images, approver, claims={**CLAIMS, "approved": True})
    changed = sign(images, build, claims={**CLAIMS, "tests": "failed"})
    assert changed.changed is True
    stored = signatures.stored_signatures(AWS_CODEC, images.images["ami-0000000000000001"])
    assert len(stored) == 2
    verdict = verify(images, policy_for(build, approver, threshold=2, required_claims={"tests": "passed"}))
    assert verdict.reason == "below threshold"
    by_key = {result["key"]: result for result in verdict.signatures}
    assert by_key["key0"]["reason"] == "failed claim tests" and by_key["key1"]["valid"] is True


def test_check_mode_signs_nothing_and_writes_nothing(images, private_key):
    outcome = sign(images, private_key, check_mode=True)
    assert outcome.changed is True and outcome.envelope is None and outcome.tags_set
    assert images.calls["set_tags"] == 0
    assert not signatures.stored_signatures(AWS_CODEC, images.images["ami-0000000000000001"])


def test_an_image_without_room_for_the_signature_is_refused_before_writing(images, private_key):
    images.retag("ami-0000000000000001", {"t%02d" % i: "v" for i in range(48)})
    with pytest.raises(InvalidInput, match=r"at most 50 are allowed"):
        sign(images, private_key)
    with pytest.raises(InvalidInput, match=r"at most 50 are allowed"):
        sign(images, private_key, check_mode=True)
    assert images.calls["set_tags"] == 0


def test_a_pending_or_missing_image_is_refused(images, private_key):
    images.add("ami-0000000000000002", state="pending")
    with pytest.raises(InvalidInput, match="pending; only an available image"):
        sign(images, private_key, image_id="ami-0000000000000002")
    with pytest.raises(PhoenixError, match="not found"):
        sign(images, private_key, image_id="ami-0000000000000404")


def test_claims_that_are_not_json_are_refused(images, private_key):
    with pytest.raises(InvalidInput):
        sign(images, private_key, claims={"ratio": float("nan")})


# -- local keys -------------------------------------------------------------------------------------------


def write_key(tmp_path, key, passphrase=None):
    encryption = (
        serialization.BestAvailableEncryption(passphrase.encode()) if passphrase else serialization.NoEncryption()
    )
    path = tmp_path / "signing.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption))
    return str(path)


def test_pem_keys_with_and_without_passphrase(tmp_path, private_key):
    path = write_key(tmp_path, private_key, "correct horse")
    assert trust.local_signer(path, "correct horse").keyid == keyid_of(private_key.public_key())
    with pytest.raises(InvalidInput, match="passphrase-protected and no passphrase") as missing:
        trust.local_signer(path)
    with pytest.raises(InvalidInput, match="passphrase is wrong") as wrong:
        trust.local_signer(path, "battery staple")
    assert "correct horse" not in str(missing.value) + str(wrong.value)
    plain = write_key(tmp_path, private_key)
    assert trust.local_signer(plain).keyid == keyid_of(private_key.public_key())
    with pytest.raises(InvalidInput, match="not passphrase-protected"):
        trust.local_signer(plain, "unneeded")


def test_other_key_types_and_missing_files_are_refused(tmp_path):
    with pytest.raises(InvalidInput, match="not an Ed25519 or ECDSA P-256 key"):
        trust.local_signer(write_key(tmp_path, rsa.generate_private_key(public_exponent=65537, key_size=2048)))
    with pytest.raises(InvalidInput, match="not an Ed25519 or ECDSA P-256 key"):
        trust.local_signer(write_key(tmp_path, ec.generate_private_key(ec.SECP384R1())))
    with pytest.raises(InvalidInput, match="cannot read the key file"):
        trust.local_signer(str(tmp_path / "absent.pem"))


# -- verdicts from tampered cases -------------------------------------------------------------------------


def test_a_changed_tag_that_is_not_signed_still_verifies(images, private_key):
    sign(images, private_key)
    tags = dict(images.images["ami-0000000000000001"].tags, service="api", channel="prod")
    images.retag("ami-0000000000000001", tags)
    assert verify(images, policy_for(private_key)).verified is True


def test_signature_tags_copied_onto_a_reregistered_image_are_a_descriptor_mismatch(images, private_key):
    sign(images, private_key)
    original = images.images["ami-0000000000000001"]
    # Registered again from the same snapshot, with the same name, and every tag copied over.
    images.add("ami-0000000000000002", created="2026-11-24T10:00:00Z", tags=dict(original.tags))
    verdict = verify(images, policy_for(private_key), image_id="ami-0000000000000002")
    assert verdict.verified is False
    assert verdict.reason == "descriptor mismatch"
    assert "aws:us-east-1:ami-0000000000000001" in verdict.message
    assert verify(images, policy_for(private_key)).verified is True


def flip_signature(images, image_id="ami-0000000000000001"):
    tags = dict(images.images[image_id].tags)
    [stored] = signatures.stored_signatures(AWS_CODEC, images.images[image_id], tags)
    envelope = json.loads(json.dumps(stored.envelope))
    raw = bytearray(base64.b64decode(envelope["signatures"][0]["sig"]))
    raw[-1] ^= 0x01
    envelope["signatures"][0]["sig"] = base64.b64encode(bytes(raw)).decode()
    keyid = envelope["signatures"][0]["keyid"]
    for key in stored.tag_keys:
        del tags[key]
    tags.update(signatures.envelope_tags(AWS_CODEC, keyid, envelope))
    images.retag(image_id, tags)


def test_flipped_signature_bytes_are_a_bad_signature(images, private_key):
    sign(images, private_key)
    flip_signature(images)
    verdict = verify(images, policy_for(private_key))
    assert (verdict.verified, verdict.reason) == (False, "bad signature")


def test_an_altered_or_missing_chunk_is_a_bad_signature(images, private_key):
    outcome = sign(images, private_key)
    tags = dict(images.images["ami-0000000000000001"].tags)
    first = "phoenix:sig:%s:0" % outcome.keyid[:16]
    images.retag("ami-0000000000000001", dict(tags, **{first: tags[first][:-4] + "AAAA"}))
    assert verify(images, policy_for(private_key)).reason == "bad signature"
    last = sorted(outcome.tags_set, key=lambda key: int(key.rsplit(":", 1)[1]))[-1]
    images.retag("ami-0000000000000001", {key: value for key, value in tags.items() if key != last})
    verdict = verify(images, policy_for(private_key))
    assert verdict.reason == "bad signature" and "incomplete" in verdict.message


def test_a_key_not_in_the_policy_is_an_unknown_key(images, private_key):
    sign(images, private_key)
    verdict = verify(images, policy_for(ed25519.Ed25519PrivateKey.generate()))
    assert (verdict.verified, verdict.reason) == (False, "unknown key")
    assert verdict.signatures[0]["keyid"] == keyid_of(private_key.public_key())


def test_no_signature(images, private_key):
    assert verify(images, policy_for(private_key)).reason == "no signature"


def test_revoked_by_image_id_or_descriptor_digest(images, private_key):
    outcome = sign(images, private_key)
    assert verify(images, policy_for(private_key, revoked=["ami-0000000000000001"])).reason == "revoked"
    by_digest = policy_for(private_key, revoked=["sha256:" + outcome.descriptor_digest])
    assert verify(images, by_digest).reason == "revoked"
    assert verify(images, policy_for(private_key, revoked=["ami-0000000000000009"])).verified is True


def test_expired_counts_from_the_signed_creation_time(images, private_key):
    sign(images, private_key)
    assert verify(images, policy_for(private_key, max_age_days=1)).reason == "expired"
    assert verify(images, policy_for(private_key, max_age_days=2)).verified is True


def test_missing_and_failed_claims(images, private_key):
    sign(images, private_key, claims={"tests": "passed", "scan": "failed", "approved": True})
    assert verify(images, policy_for(private_key, required_claims={"perf": "passed"})).reason == "missing claim perf"
    verdict = verify(images, policy_for(private_key, required_claims={"tests": "passed", "scan": "passed"}))
    assert verdict.reason == "failed claim scan" and "'failed'" in verdict.message
    accepted = policy_for(private_key, required_claims={"scan": ["passed", "failed"], "approved": "true"})
    assert verify(images, accepted).verified is True


def test_threshold_counts_distinct_trusted_keys(images):
    build, approver = ed25519.Ed25519PrivateKey.generate(), ec.generate_private_key(ec.SECP256R1())
    policy = policy_for(build, approver, threshold=2)
    sign(images, build)
    verdict = verify(images, policy)
    assert (verdict.verified, verdict.reason) == (False, "below threshold")
    sign(images, approver)
    verdict = verify(images, policy)
    assert verdict.verified is True and len(verdict.valid_keys) == 2
    # The same key listed twice counts once: the threshold cannot be met.
    with pytest.raises(InvalidInput, match="threshold 2 cannot be met by 1"):
        trust.load_policy({"keys": [pem_public(build), pem_public(build)], "threshold": 2})


def test_owner_must_be_allowed(images, private_key):
    sign(images, private_key)
    assert verify(images, policy_for(private_key, allowed_owners=["210987654321"])).reason == "owner not allowed"
    assert verify(images, policy_for(private_key, allowed_owners=["123456789012"])).verified is True


def test_a_missing_image_is_not_verified(images, private_key):
    verdict = verify(images, policy_for(private_key), image_id="ami-0000000000000404")
    assert (verdict.verified, verdict.reason, verdict.image_id) == (False, "image not found", "ami-0000000000000404")


class FakeKeyService:
    """A key service that knows one public key and whether it is enabled."""

    def __init__(self, key, state="Enabled"):
        self.key, self.state = key, state
        self.calls = 0

    def describe_public_key(self, key_id, region=None):
        self.calls += 1
        der = self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return {"public_key_der": der, "enabled": self.state == "Enabled", "state": self.state, "arn": key_id}


def test_cloud_keys_in_the_policy_are_resolved_and_a_disabled_one_is_revoked(images):
    key = ec.generate_private_key(ec.SECP256R1())
    sign(images, key)
    document = {"keys": [{"kms_key": "alias/golden"}]}
    verdict = trust.verify_image(
        images, "ami-0000000000000001", trust.load_policy(document), now=NOW, key_backend=FakeKeyService(key)
    )
    assert verdict.verified is True and verdict.signatures[0]["key"] == "alias/golden"
    disabled = FakeKeyService(key, state="Disabled")
    verdict = trust.verify_image(
        images, "ami-0000000000000001", trust.load_policy(document), now=NOW, key_backend=disabled
    )
    assert verdict.reason == "revoked" and "Disabled" in verdict.message


# -- the policy -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "document, message",
    [
        ({}, "it trusts no key"),
        ({"keys": []}, "it trusts no key"),
        ({"keys": [{"public_key": "PEM"}], "treshold": 1}, "unknown field"),
        ({"keys": [{"kms_key": "alias/a", "public_key": "x"}]}, "exactly one of public_key"),
        ({"keys": [{"kms_key": "alias/a", "colour": "x"}]}, "unknown field"),
        ({"keys": [{"kms_key": "alias/a"}], "threshold": 0}, "at least 1"),
        ({"keys": [{"kms_key": "alias/a"}], "threshold": 2}, "cannot be met"),
        ({"keys": [{"kms_key": "alias/a"}], "allowed_owners": [12345678901]}, "leading zero"),
        ({"keys": [{"kms_key": "alias/a"}], "max_age_days": -1}, "above 0"),
        ({"keys": [{"kms_key": "alias/a"}], "max_age_days": float("nan")}, "above 0"),
        ({"keys": [{"kms_key": "alias/a"}], "max_age_days": 10**9}, "at most 36500"),
        ({"keys": [{"kms_key": "alias/a"}], "required_claims": ["tests"]}, "mapping"),
        ({"keys": [{"kms_key": "alias/a"}], "version": 2}, "version 2"),
        ({"keys": ["/nonexistent/key.pub"]}, "cannot read public key"),
        ({"keys": ["-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"]}, "not a PEM or DER public key"),
        ("a list?", "policy must be the path"),
    ],
)
def test_a_bad_policy_is_refused_with_a_clear_message(document, message):
    with pytest.raises(InvalidInput, match=message):
        trust.load_policy(document if document != "a list?" else ["keys"])


def test_a_policy_file_reads_keys_relative_to_itself(tmp_path, images, private_key):
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "build.pub").write_text(pem_public(private_key))
    policy_file = tmp_path / "policy.yml"
    policy_file.write_text(
        yaml.safe_dump({"keys": [{"name": "build", "public_key": "keys/build.pub"}], "required_claims": CLAIMS})
    )
    policy = trust.load_policy(str(policy_file))
    assert policy.keys[0].keyid == keyid_of(private_key.public_key())
    sign(images, private_key)
    assert verify(images, policy).verified is True
    (tmp_path / "broken.yml").write_text("keys: [unclosed\n")
    with pytest.raises(InvalidInput, match="not valid YAML"):
        trust.load_policy(str(tmp_path / "broken.yml"))
    with pytest.raises(InvalidInput, match="cannot read trust policy"):
        trust.load_policy(str(tmp_path / "absent.yml"))


def test_the_policy_spec_piece_and_its_doc_fragment_agree():
    fragment = importlib.import_module("ansible_collections.phoenix.immutable.plugins.doc_fragments.policy")
    documented = yaml.safe_load(fragment.ModuleDocFragment.DOCUMENTATION)["options"]
    assert sorted(documented) == sorted(argspec.POLICY) == ["policy"]
    assert documented["policy"]["type"] == argspec.POLICY["policy"]["type"] == "raw"
    assert "default" not in documented["policy"] and "default" not in argspec.POLICY["policy"]


POLICY_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.floats(allow_nan=True) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3),
    max_leaves=12,
)
POLICY_DOCUMENTS = (
    st.fixed_dictionaries(
        {},
        optional={
            "keys": st.lists(
                st.fixed_dictionaries({}, optional={"kms_key": st.text(max_size=8), "name": POLICY_VALUES})
                | POLICY_VALUES,
                max_size=3,
            ),
            "threshold": POLICY_VALUES,
            "required_claims": POLICY_VALUES,
            "max_age_days": POLICY_VALUES,
            "allowed_owners": POLICY_VALUES,
            "revoked": POLICY_VALUES,
            "version": POLICY_VALUES,
        },
    )
    | POLICY_VALUES
)


@settings(max_examples=300, deadline=None)
@given(POLICY_DOCUMENTS)
def test_any_policy_document_is_either_a_policy_or_a_clear_refusal(document):
    try:
        policy = trust.load_policy(document) if isinstance(document, dict) else None
    except InvalidInput as error:
        assert str(error).startswith(("invalid trust policy", "the public key", "policy"))
        return
    if policy is not None:
        assert 1 <= policy.threshold <= len(policy.keys)
        image = MemoryImages().add()
        keys = FakeKeyService(ed25519.Ed25519PrivateKey.generate())
        verdict = trust.verify_image(_OneImage(image), image.id, policy, now=NOW, key_backend=keys)
        assert verdict.reason in ("no signature", "owner not allowed", "expired", "revoked")


class _OneImage:
    codec = AWS_CODEC

    def __init__(self, image):
        self.image = image

    def get(self, image_id):
        return self.image


def test_the_tag_encoding_round_trips_and_refuses_a_bomb():
    envelope = dsse.envelope(b"x" * 3000, [("ab" * 32, b"s" * 72)])
    tags = signatures.envelope_tags(AWS_CODEC, "ab" * 32, envelope)
    assert all(key.startswith("phoenix:sig:abababababababab:") for key in tags)
    junk = dict(tags, unrelated="x", **{"phoenix:sig:junk": "y"})
    [stored] = signatures.read_chunked(AWS_CODEC, tagging.SIGNATURE, 1, junk, "signature tags of key")
    assert stored.envelope == envelope and stored.error is None
    bomb = base64.urlsafe_b64encode(zlib.compress(b"[" * 10_000_000)).decode().rstrip("=")
    with pytest.raises(ValueError, match="more than"):
        signatures.unpack_envelope(AWS_CODEC.decode_value([bomb]))


@pytest.mark.parametrize(
    "key_id, region",
    [
        ("alias/golden", "us-east-1"),
        ("1234abcd-12ab-34cd-56ef-1234567890ab", "us-east-1"),
        ("arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", "eu-west-1"),
        ("arn:aws:kms:ap-south-1:123456789012:alias/golden", "ap-south-1"),
    ],
)
def test_a_kms_key_arn_names_its_region(key_id, region):
    from ansible_collections.phoenix.immutable.plugins.module_utils._aws.kms import region_of

    assert region_of(key_id, "us-east-1") == region


def test_the_keyid_is_only_a_hint_a_trusted_key_that_verifies_counts(images, private_key):
    sign(images, private_key)
    tags = dict(images.images["ami-0000000000000001"].tags)
    [stored] = signatures.stored_signatures(AWS_CODEC, images.images["ami-0000000000000001"], tags)
    envelope = json.loads(json.dumps(stored.envelope))
    envelope["signatures"][0]["keyid"] = ""
    for key in stored.tag_keys:
        del tags[key]
    tags.update(signatures.envelope_tags(AWS_CODEC, "0" * 64, envelope))
    images.retag("ami-0000000000000001", tags)
    verdict = verify(images, policy_for(private_key))
    assert verdict.verified is True and verdict.valid_keys == [keyid_of(private_key.public_key())]
    assert verify(images, policy_for(ed25519.Ed25519PrivateKey.generate())).reason == "unknown key"
