"""The pure parts of Key Vault signing and the Blob audit store: key ids, r||s to DER, key states, container names."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils

from ansible_collections.phoenix.immutable.plugins.module_utils._azure.audit_store import container_location
from ansible_collections.phoenix.immutable.plugins.module_utils._azure.kms import (
    SignatureMismatch,
    check_key_id,
    der_signature,
    key_state,
)
from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import InvalidInput

VERSION = "0123456789abcdef0123456789ABCDEF"
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def test_a_versioned_key_id_names_its_vault_key_and_version():
    key_id = "https://phoenix-keys.vault.azure.net/keys/image-signer/" + VERSION
    assert check_key_id(key_id) == ("https://phoenix-keys.vault.azure.net", "image-signer", VERSION.lower())
    # Other clouds' vaults and Managed HSM have other host names and the same paths.
    assert check_key_id("https://hsm.managedhsm.azure.net/keys/k/" + VERSION)[0] == "https://hsm.managedhsm.azure.net"


@pytest.mark.parametrize(
    "key_id",
    [
        "https://v.vault.azure.net/keys/k",
        "https://v.vault.azure.net/keys/k/latest",
        "https://v.vault.azure.net/keys/under_score/" + VERSION,
        "https://v.vault.azure.net/certificates/k/" + VERSION,
        None,
    ],
)
def test_anything_else_is_not_a_key_version(key_id):
    with pytest.raises(InvalidInput, match="not a versioned Key Vault key identifier"):
        check_key_id(key_id)


def test_key_vaults_raw_r_and_s_become_the_der_signature_that_verifies():
    private_key = ec.generate_private_key(ec.SECP256R1())
    digest = hashlib.sha256(b"payload").digest()
    r, s = utils.decode_dss_signature(private_key.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256()))))
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    der = der_signature(raw, "kid")
    private_key.public_key().verify(der, digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    with pytest.raises(SignatureMismatch):
        der_signature(raw[:63], "kid")


@pytest.mark.parametrize(
    "attributes, state",
    [
        ({"enabled": True}, "Enabled"),
        ({"enabled": False}, "Disabled"),
        ({"enabled": True, "expires_on": NOW - timedelta(seconds=1)}, "Expired"),
        ({"enabled": True, "not_before": NOW + timedelta(days=1)}, "NotYetValid"),
        ({"enabled": True, "expires_on": NOW + timedelta(days=1), "not_before": NOW}, "Enabled"),
    ],
)
def test_a_key_signs_only_while_enabled_and_within_its_dates(attributes, state):
    properties = SimpleNamespace(**{"expires_on": None, "not_before": None, **attributes})
    assert key_state(properties, now=NOW) == state


@pytest.mark.parametrize(
    "name, expected",
    [
        ("https://acct.blob.core.windows.net/audit", ("https://acct.blob.core.windows.net", "audit")),
        (
            "https://acct.blob.core.chinacloudapi.cn/audit-trail/",
            ("https://acct.blob.core.chinacloudapi.cn", "audit-trail"),
        ),
        ("acct/audit", ("https://acct.blob.core.windows.net", "audit")),
    ],
)
def test_a_container_is_named_by_its_url_or_account_and_name(name, expected):
    assert container_location(name) == expected


@pytest.mark.parametrize("name", ["audit", "acct/Audit", "acct/a", "https://acct.blob.core.windows.net/", "a/b/c"])
def test_anything_else_is_not_a_container(name):
    with pytest.raises(InvalidInput, match="is not a blob container"):
        container_location(name)
