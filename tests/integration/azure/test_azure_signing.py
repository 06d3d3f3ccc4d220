"""Key Vault signing (plugins/module_utils/_azure/kms.py) against the Key Vault emulator (tests/emulators/keyvault.py),
through azure-keyvault-keys on the collection's AzureConnection.

The image-level round trip (image_sign, then image_verify with a trust policy naming a Key Vault key) needs the
Azure image backend; here the key backend is driven through the core's own pieces: a DSSE envelope signed by
the backend's signer, and a trust policy whose ``kms_key`` is resolved through the backend's
``describe_public_key``.
"""

from __future__ import annotations

import pytest
from azure_data_support import azure_hosts_server_fixture, data_planes_fixture  # noqa: F401  # pylint: disable=unused-import
from cryptography.hazmat.primitives.asymmetric import ec

from ansible_collections.phoenix.immutable.plugins.module_utils import providers
from ansible_collections.phoenix.immutable.plugins.module_utils._azure.kms import AzureKeyVaultKeys
from ansible_collections.phoenix.immutable.plugins.module_utils._core import dsse, keys
from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import InvalidInput, PhoenixError
from ansible_collections.phoenix.immutable.plugins.module_utils._core.policy import parse_policy

PAYLOAD = b'{"_type": "https://in-toto.io/Statement/v1", "subject": []}'
SIGNED = dsse.pae(dsse.PAYLOAD_TYPE, PAYLOAD)
SIGN = "POST keyvault keys/sign"
GET_KEY = "GET keyvault keys"


@pytest.fixture
def vault(data_planes, arm):
    return AzureKeyVaultKeys(arm.connection())


def test_a_signature_made_in_key_vault_verifies_with_the_public_key_it_shows(data_planes, vault):
    key_id = data_planes.vault.create_key("image-signer")
    signer = vault.signer(key_id)
    signature = signer.sign(SIGNED)

    described = vault.describe_public_key(key_id)
    public_key = keys.load_public_key(described["public_key_der"])
    assert keys.verify(public_key, SIGNED, signature)  # DER, as the core verifies every cloud's signatures
    assert signature[0] == 0x30 and keys.verify(data_planes.vault.public_key(key_id), SIGNED, signature)
    assert signer.algorithm == keys.ECDSA_P256 and signer.name == "Key Vault key %s" % key_id
    assert signer.keyid == keys.keyid_of(data_planes.vault.public_key(key_id)) == keys.keyid_of(public_key)
    assert described["enabled"] and described["state"] == "Enabled" and described["arn"] == key_id
    assert keys.load_public_key(described["public_key_pem"].encode()).public_numbers() == public_key.public_numbers()
    assert data_planes.vault.calls["Sign"] == 1 and data_planes.vault.calls["GetKey"] == 2
    # The first request of the test went without a token and was answered with Key Vault's challenge.
    assert data_planes.vault.calls["Challenge"] == 1
    assert vault.api_calls()[SIGN] == 1 and vault.api_calls()[GET_KEY] == 3


def test_another_keys_signature_and_a_tampered_payload_are_refused(data_planes, vault):
    key_id = data_planes.vault.create_key("image-signer")
    other = data_planes.vault.create_key("someone-else")
    signature = vault.signer(key_id).sign(SIGNED)
    other_public = keys.load_public_key(vault.describe_public_key(other)["public_key_der"])
    own_public = vault.signer(key_id).public_key

    assert not keys.verify(other_public, SIGNED, signature)
    assert not keys.verify(own_public, SIGNED + b" ", signature)


def test_a_trust_policy_names_a_key_vault_key_and_trusts_only_its_signatures(data_planes, vault):
    key_id = data_planes.vault.create_key("image-approver")
    other = data_planes.vault.create_key("someone-else")
    policy = parse_policy(
        {"keys": [{"name": "approver", "kms_key": key_id}]}, image_id_patterns=providers.image_id_patterns()
    ).resolve(vault)

    [trusted] = policy.keys
    assert trusted.kms_key == key_id and trusted.enabled
    assert trusted.keyid == vault.signer(key_id).keyid != vault.signer(other).keyid
    envelope = dsse.envelope(PAYLOAD, [(vault.signer(key_id).keyid, vault.signer(key_id).sign(SIGNED))])
    [(keyid, signature)] = [(entry["keyid"], dsse.b64decode(entry["sig"], "sig")) for entry in envelope["signatures"]]
    assert keyid == trusted.keyid and keys.verify(trusted.public_key, SIGNED, signature)
    assert not keys.verify(trusted.public_key, SIGNED, vault.signer(other).sign(SIGNED))


def test_a_disabled_key_neither_signs_nor_is_trusted(data_planes, vault):
    key_id = data_planes.vault.create_key("image-signer")
    signer = vault.signer(key_id)
    data_planes.vault.set_enabled(key_id, False)

    with pytest.raises(PhoenixError, match="it is disabled") as refused:
        signer.sign(SIGNED)
    assert refused.value.resource == key_id and "enabled" in refused.value.hint
    with pytest.raises(PhoenixError, match="cannot sign: it is Disabled"):
        vault.signer(key_id)
    described = vault.describe_public_key(key_id)
    assert described["enabled"] is False and described["state"] == "Disabled"
    policy = parse_policy({"keys": [{"kms_key": key_id}]}, image_id_patterns=providers.image_id_patterns())
    assert policy.resolve(vault).keys[0].enabled is False  # the core fails such a key closed


def test_a_key_the_caller_may_not_use_is_a_clear_refusal(data_planes, vault):
    key_id = data_planes.vault.create_key("image-signer")
    data_planes.vault.deny(key_id)
    with pytest.raises(PhoenixError, match="may not use Key Vault key") as refused:
        vault.signer(key_id)
    assert refused.value.code == "Forbidden" and "Key Vault Crypto User" in refused.value.hint


def test_a_missing_key_version_is_a_clear_refusal(data_planes, vault):
    key_id = data_planes.vault.create_key("image-signer")
    missing = key_id[:-32] + "0" * 32
    with pytest.raises(PhoenixError, match="does not exist") as refused:
        vault.describe_public_key(missing)
    assert refused.value.code == "KeyNotFound" and refused.value.resource == missing


@pytest.mark.parametrize(
    "key_id",
    [
        "https://phoenix-keys.vault.azure.net/keys/image-signer",
        "https://phoenix-keys.vault.azure.net/secrets/image-signer/" + "0" * 32,
        "http://phoenix-keys.vault.azure.net/keys/image-signer/" + "0" * 32,
        "image-signer",
    ],
    ids=["no-version", "a-secret", "plain-http", "a-name"],
)
def test_a_key_id_that_is_not_a_key_version_is_refused_before_any_call(data_planes, vault, key_id):
    with pytest.raises(InvalidInput, match="not a versioned Key Vault key identifier"):
        vault.signer(key_id)
    assert not data_planes.vault.calls and GET_KEY not in vault.api_calls()


def test_a_key_of_another_curve_or_type_is_refused(data_planes, vault):
    p384 = data_planes.vault.create_key("p384", curve="P-384")
    with pytest.raises(InvalidInput, match="EC P-384; images are signed with EC P-256 keys only"):
        vault.signer(p384)
    rsa_key = data_planes.key_client().create_rsa_key("rsa-signer").id
    with pytest.raises(InvalidInput, match="is RSA"):
        vault.describe_public_key(rsa_key)


@pytest.mark.parametrize("status", [429, 503])
def test_throttling_and_unavailability_are_retried(data_planes, vault, status):
    key_id = data_planes.vault.create_key("image-signer")
    signer = vault.signer(key_id)
    data_planes.vault.inject_fault("Sign", status=status, times=2, retry_after=0)
    signature = signer.sign(SIGNED)
    assert keys.verify(signer.public_key, SIGNED, signature)
    assert data_planes.vault.calls["Sign"] == 3 and vault.api_calls()[SIGN] == 3


def test_a_signature_damaged_on_the_way_is_discarded_and_asked_again(data_planes, vault):
    key_id = data_planes.vault.create_key("image-signer")
    signer = vault.signer(key_id)
    data_planes.vault.tamper_signatures(times=1)
    signature = signer.sign(SIGNED)
    assert keys.verify(signer.public_key, SIGNED, signature)
    assert data_planes.vault.calls["Sign"] == 2


def test_the_key_service_is_found_through_the_azure_provider(data_planes, arm):
    key_id = data_planes.vault.create_key("image-signer", private_key=ec.generate_private_key(ec.SECP256R1()))
    provider = providers.provider(arm.params())
    backend = provider.signing_keys()
    assert isinstance(backend, AzureKeyVaultKeys) and backend.cloud == "azure"
    assert keys.verify(backend.signer(key_id).public_key, SIGNED, backend.signer(key_id).sign(SIGNED))


# ----- image_sign and image_verify with a Key Vault key (needs the Azure image backend, _azure/images.py)


def gallery_image_version(azure, name="web", version="1.0.0"):
    """An image version in the connection's gallery, made through azure-mgmt-compute; its id."""
    from azure.mgmt.compute.models import (
        GalleryArtifactVersionFullSource,
        GalleryImage,
        GalleryImageIdentifier,
        GalleryImageVersion,
        GalleryImageVersionStorageProfile,
    )

    compute, group, gallery = azure.compute(), azure.params()["resource_group"], azure.params()["gallery"]
    definition = GalleryImage(
        location=azure.emu.location,
        os_type="Linux",
        os_state="Generalized",
        hyper_v_generation="V2",
        identifier=GalleryImageIdentifier(publisher="phoenix", offer=name, sku="debian-12"),
    )
    compute.gallery_images.begin_create_or_update(group, gallery, name, definition).result()
    body = GalleryImageVersion(
        location=azure.emu.location,
        storage_profile=GalleryImageVersionStorageProfile(
            source=GalleryArtifactVersionFullSource(id=azure.source_image(group))
        ),
    )
    return compute.gallery_image_versions.begin_create_or_update(group, gallery, name, version, body).result().id


def test_image_sign_with_a_key_vault_key_verifies_with_image_verify_and_another_key_is_refused(
    data_planes, azure, tmp_path
):
    pytest.importorskip("ansible_collections.phoenix.immutable.plugins.module_utils._azure.images")
    from harness import run_playbook

    key_id = data_planes.vault.create_key("image-approver")
    other = data_planes.vault.create_key("someone-else")
    image_id = gallery_image_version(azure)
    tasks = [
        {"name": "sign", "phoenix.immutable.image_sign": {"image_id": image_id, "kms_key": key_id}},
        {"name": "again", "phoenix.immutable.image_sign": {"image_id": image_id, "kms_key": key_id}},
    ]
    for title, trusted in (("verify", key_id), ("other", other)):
        policy = {"keys": [{"name": "approver", "kms_key": trusted}]}
        tasks.append(
            {
                "name": title,
                "phoenix.immutable.image_verify": {"image_id": image_id, "policy": policy},
                "ignore_errors": True,
            }
        )

    run = run_playbook(
        tasks,
        env={**azure.env(), **data_planes.hosts.env()},
        module_defaults={"group/phoenix.immutable.azure": {"cloud": "azure"}},
    )

    assert run.rc == 0, run.explain()
    signed = run.task("sign")["result"]
    assert signed["changed"] is True and signed["api_calls"][SIGN] == 1, signed
    assert run.task("again")["result"]["changed"] is False
    assert run.task("verify")["result"]["verified"] is True
    refused = run.task("other")["result"]
    assert refused["verified"] is False and refused["failed"] is True, refused
    assert data_planes.vault.calls["Sign"] == 1
