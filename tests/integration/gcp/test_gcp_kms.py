"""Cloud KMS signing (plugins/module_utils/_gcp/kms.py) against the GCE emulator's KMS, through google-auth."""

from __future__ import annotations

import base64
import hashlib

import pytest

from ansible_collections.phoenix.immutable.plugins.module_utils._core import keys
from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import InvalidInput, PhoenixError
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.kms import GcpKmsKeys

SIGN = "cloudkms.projects.locations.keyRings.cryptoKeys.cryptoKeyVersions.asymmetricSign"
PUBLIC_KEY = "cloudkms.projects.locations.keyRings.cryptoKeys.cryptoKeyVersions.getPublicKey"
PAYLOAD = b"DSSEv1 28 application/vnd.in-toto+json 2 {}"


@pytest.fixture
def kms(gce):
    return GcpKmsKeys(gce.connection(kms_endpoint_url=gce.emu.kms_url))


def test_a_signature_made_in_kms_verifies_with_the_public_key_kms_shows(gce, kms):
    version = gce.emu.kms.create_key("image-signer")
    signer = kms.signer(version)
    signature = signer.sign(PAYLOAD)

    described = kms.describe_public_key(version)
    public_key = keys.load_public_key(described["public_key_der"])
    assert keys.verify(public_key, PAYLOAD, signature)
    assert signer.algorithm == keys.ECDSA_P256
    assert signer.keyid == keys.keyid_of(gce.emu.kms.public_key(version)) == keys.keyid_of(public_key)
    assert described["enabled"] and described["arn"] == version
    # The emulator's own public key verifies it too: it was signed with the version's private key.
    assert keys.verify(gce.emu.kms.public_key(version), PAYLOAD, signature)
    assert gce.emu.calls[SIGN] == 1 and gce.emu.calls[PUBLIC_KEY] == 2
    assert kms.api_calls()[SIGN] == 1


def test_another_keys_signature_and_a_tampered_payload_are_refused(gce, kms):
    version = gce.emu.kms.create_key("image-signer")
    other = gce.emu.kms.create_key("someone-else")
    signature = kms.signer(version).sign(PAYLOAD)
    other_public = keys.load_public_key(kms.describe_public_key(other)["public_key_der"])
    own_public = kms.signer(version).public_key

    assert not keys.verify(other_public, PAYLOAD, signature)
    assert not keys.verify(own_public, PAYLOAD + b" ", signature)
    assert keys.verify(own_public, PAYLOAD, signature)


@pytest.mark.parametrize("state", ["DISABLED", "DESTROYED"])
def test_a_version_that_is_not_enabled_neither_signs_nor_verifies(gce, kms, state):
    version = gce.emu.kms.create_key("image-signer")
    signer = kms.signer(version)
    gce.emu.kms.set_state(version, state)

    with pytest.raises(PhoenixError, match="it is %s" % state) as refused:
        signer.sign(PAYLOAD)
    assert refused.value.resource == version and "ENABLED" in refused.value.hint
    with pytest.raises(PhoenixError, match="it is %s" % state):
        kms.signer(version)
    with pytest.raises(PhoenixError, match="it is %s" % state):
        kms.describe_public_key(version)


def test_a_version_the_caller_may_not_use_is_a_clear_refusal(gce, kms):
    version = gce.emu.kms.create_key("image-signer")
    gce.emu.kms.deny(version)
    with pytest.raises(PhoenixError, match="may not use Cloud KMS key version") as refused:
        kms.signer(version)
    assert refused.value.code == "PERMISSION_DENIED" and "roles/cloudkms.signerVerifier" in refused.value.hint


def test_a_name_that_is_not_a_key_version_is_refused_before_any_call(gce, kms):
    with pytest.raises(InvalidInput, match="not a Cloud KMS key version name"):
        kms.signer("projects/p/locations/global/keyRings/r/cryptoKeys/k")
    assert gce.emu.calls[PUBLIC_KEY] == 0


def test_a_key_of_another_algorithm_is_refused(gce, kms):
    version = gce.emu.kms.create_key("rsa-key", algorithm="RSA_SIGN_PSS_2048_SHA256")
    with pytest.raises(InvalidInput, match="RSA_SIGN_PSS_2048_SHA256"):
        kms.signer(version)


@pytest.mark.parametrize("status", [429, 503])
def test_throttling_and_unavailability_are_retried(gce, kms, status):
    version = gce.emu.kms.create_key("image-signer")
    signer = kms.signer(version)
    gce.emu.inject_fault(SIGN, status=status, times=2)
    signature = signer.sign(PAYLOAD)
    assert keys.verify(signer.public_key, PAYLOAD, signature)
    assert gce.emu.calls[SIGN] == 3 and kms.api_calls()[SIGN] == 3


def test_a_signature_damaged_on_the_way_is_discarded_and_asked_again(gce, kms):
    version = gce.emu.kms.create_key("image-signer")
    signer = kms.signer(version)
    gce.emu.kms.tamper_signatures(times=1)
    signature = signer.sign(PAYLOAD)
    assert keys.verify(signer.public_key, PAYLOAD, signature)
    assert gce.emu.calls[SIGN] == 2


def test_the_emulator_refuses_a_digest_whose_checksum_is_wrong(gce):
    version = gce.emu.kms.create_key("image-signer")
    session = gce.connection().session
    digest = hashlib.sha256(PAYLOAD).digest()
    answer = session.post(
        gce.emu.kms_url + version + ":asymmetricSign",
        json={"digest": {"sha256": base64.b64encode(digest).decode()}, "digestCrc32c": "1"},
        timeout=60,
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["status"] == "INVALID_ARGUMENT"
    missing = session.get(gce.emu.kms_url + version[:-1] + "9/publicKey", timeout=60)
    assert missing.status_code == 404 and missing.json()["error"]["status"] == "NOT_FOUND"
