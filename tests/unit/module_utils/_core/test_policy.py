"""The trust policy fails closed: an empty or keyless policy is one error everywhere, and revocation
covers image ids, descriptor digests and signing keys, refusing any entry it cannot recognise.

Keys are real (Ed25519 made with `cryptography`); only the cloud is in memory (test_image_signing's
MemoryImages). The same gates through real modules on moto are in tests/integration/test_fail_closed_policy.py.
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from test_image_signing import NOW, MemoryImages, pem_public, sign

from ansible_collections.phoenix.immutable.plugins.module_utils import trust
from ansible_collections.phoenix.immutable.plugins.module_utils._core import policy as policy_module
from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import InvalidInput
from ansible_collections.phoenix.immutable.plugins.module_utils._core.keys import keyid_of

IMAGE = "ami-0000000000000001"


@pytest.fixture
def images():
    backend = MemoryImages()
    backend.add()
    return backend


def document_for(*private_keys, **fields):
    document = {"keys": [{"name": "key%d" % i, "public_key": pem_public(key)} for i, key in enumerate(private_keys)]}
    document.update(fields)
    return document


def verdict(images, document):
    return trust.verify_image(images, IMAGE, trust.load_policy(document), now=NOW)


# -- an empty or keyless policy ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "document",
    [None, "", {}, {"keys": []}, {"threshold": 1}, {"keys": None}, {"keys": {"build": "build.pub"}}],
    ids=["none", "empty-string", "empty-mapping", "empty-keys", "no-keys", "null-keys", "keys-mapping"],
)
def test_an_empty_or_keyless_policy_is_one_error(document):
    with pytest.raises(InvalidInput) as refused:
        trust.load_policy(document)
    assert policy_module.NO_TRUSTED_KEY in refused.value.message
    assert refused.value.hint == policy_module.NO_TRUSTED_KEY_HINT


def test_the_keys_message_says_what_shape_is_expected():
    message = policy_module.NO_TRUSTED_KEY
    assert "keys must be a list of one or more mappings" in message and "public_key" in message and "kms_key" in message


def test_an_empty_policy_file_is_the_same_error(tmp_path):
    path = tmp_path / "empty.yml"
    path.write_text("", encoding="utf-8")
    with pytest.raises(InvalidInput) as refused:
        trust.load_policy(str(path))
    assert policy_module.NO_TRUSTED_KEY in refused.value.message and str(path) in refused.value.message


def test_messages_name_an_inline_policy_without_repeating_words():
    with pytest.raises(InvalidInput) as refused:
        trust.load_policy({"keys": [{"kms_key": "alias/a"}], "treshold": 1})
    assert "policy policy" not in refused.value.message
    assert refused.value.message.startswith("invalid trust policy (inline mapping): unknown field(s) treshold")


def test_policy_given_is_false_only_when_left_out():
    assert trust.policy_given(None) is False
    assert all(trust.policy_given(value) for value in ("", {}, "trust.yml", {"keys": []}))


# -- revocation --------------------------------------------------------------------------------------------


def test_a_revoked_keyid_revokes_images_signed_by_that_key(images):
    key = ed25519.Ed25519PrivateKey.generate()
    sign(images, key)
    keyid = keyid_of(key.public_key())
    assert verdict(images, document_for(key)).verified is True
    for entry in (keyid, keyid.upper(), "sha256:" + keyid):
        refused = verdict(images, document_for(key, revoked=[entry]))
        assert refused.verified is False and refused.reason == "revoked", entry
        assert "revoked by the policy" in refused.message and keyid in refused.message
        assert refused.signatures[0]["reason"] == "revoked"


def test_a_revoked_key_no_longer_counts_toward_the_threshold(images):
    build, approver = ed25519.Ed25519PrivateKey.generate(), ed25519.Ed25519PrivateKey.generate()
    sign(images, build)
    sign(images, approver)
    both = document_for(build, approver, threshold=2)
    assert verdict(images, both).verified is True
    revoked = verdict(images, dict(both, revoked=[keyid_of(build.public_key())]))
    assert revoked.verified is False and revoked.reason == "below threshold"
    # With a threshold of one, the other key's signature still carries the image.
    one = verdict(images, document_for(build, approver, revoked=[keyid_of(build.public_key())]))
    assert one.verified is True and one.valid_keys == [keyid_of(approver.public_key())]


def test_a_revoked_key_removed_from_keys_is_still_reported_as_revoked(images):
    old, new = ed25519.Ed25519PrivateKey.generate(), ed25519.Ed25519PrivateKey.generate()
    sign(images, old)
    refused = verdict(images, document_for(new, revoked=[keyid_of(old.public_key())]))
    assert refused.reason == "revoked"


def test_revocation_by_image_id_and_by_digest_still_holds(images):
    key = ed25519.Ed25519PrivateKey.generate()
    outcome = sign(images, key)
    assert verdict(images, document_for(key, revoked=[IMAGE.upper()])).reason == "revoked"
    by_digest = verdict(images, document_for(key, revoked=[outcome.descriptor_digest]))
    assert by_digest.reason == "revoked" and outcome.descriptor_digest in by_digest.message


@pytest.mark.parametrize(
    "entry",
    [
        "key0",
        "3c1b5e0f9a7d4c2b",
        "sha256:xyz",
        "i-0123456789abcdef0",
        " ",
        "alias/build",
        "a" * 63,
        "sha512:" + "a" * 64,
    ],
)
def test_an_unrecognised_revoked_entry_is_an_error_not_ignored(entry):
    key = ed25519.Ed25519PrivateKey.generate()
    with pytest.raises(InvalidInput, match="revoked entry") as refused:
        trust.load_policy(document_for(key, revoked=[entry]))
    assert "neither an image id" in refused.value.message
