"""The Key Vault and Blob Storage emulators (tests/emulators/keyvault.py, blob.py) driven by the real SDK clients
(azure-keyvault-keys, azure-storage-blob) through the emulator's proxy (tests/emulators/azure_hosts.py)."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime, timedelta

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
)
from azure.keyvault.keys.crypto import SignatureAlgorithm
from azure.storage.blob import BlobImmutabilityPolicyMode, ImmutabilityPolicy
from azure_data_support import azure_hosts_server_fixture, data_planes_fixture  # noqa: F401  # pylint: disable=unused-import
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils

DIGEST = hashlib.sha256(b"payload").digest()
DAY = 86400


class FixedToken:
    """A credential that answers one token whatever it is asked for: a client sent the wrong audience's token."""

    def __init__(self, token: str) -> None:
        self.token = token

    def get_token(self, *scopes, **options) -> AccessToken:
        return AccessToken(self.token, int(time.time()) + 3600)


def raw_to_der(raw: bytes) -> bytes:
    half = len(raw) // 2
    return utils.encode_dss_signature(int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"))


# ----- Key Vault


def test_a_first_call_is_challenged_then_sent_with_a_token_for_the_vault(data_planes):
    key_id = data_planes.vault.create_key("image-signer")

    key = data_planes.key_client().get_key("image-signer")

    assert key.id == key_id and key.key.kty == "EC" and key.key.crv == "P-256" and key.properties.enabled
    assert len(key.key.x) == len(key.key.y) == 32
    assert data_planes.vault.calls["Challenge"] == 1 and data_planes.vault.calls["GetKey"] == 1
    assert [audience for (_tenant, audience, _expiry) in data_planes.arm.emu.tokens.values()] == [
        "https://vault.azure.net/"
    ]
    assert data_planes.hosts.tunnels == ["phoenix-keys.vault.azure.net:443"]


def test_a_signature_is_raw_r_and_s_of_the_digest_with_the_keys_private_key(data_planes):
    key_id = data_planes.vault.create_key("image-signer")
    result = data_planes.crypto_client(key_id).sign(SignatureAlgorithm.es256, DIGEST)

    assert result.key_id == key_id and len(result.signature) == 64
    data_planes.vault.public_key(key_id).verify(
        raw_to_der(result.signature), DIGEST, ec.ECDSA(utils.Prehashed(hashes.SHA256()))
    )
    assert data_planes.vault.calls["Sign"] == 1


def test_a_key_made_through_the_sdk_signs_and_a_missing_one_is_key_not_found(data_planes):
    client = data_planes.key_client()
    created = client.create_ec_key("made-here", curve="P-256")
    assert created.key.crv == "P-256" and data_planes.vault.calls["CreateKey"] == 1
    signature = data_planes.crypto_client(created).sign(SignatureAlgorithm.es256, DIGEST).signature
    data_planes.vault.public_key(created.id).verify(
        raw_to_der(signature), DIGEST, ec.ECDSA(utils.Prehashed(hashes.SHA256()))
    )
    with pytest.raises(ResourceNotFoundError) as missing:
        client.get_key("no-such-key")
    assert missing.value.error.code == "KeyNotFound"


def test_a_disabled_or_forbidden_key_does_not_sign(data_planes):
    key_id = data_planes.vault.create_key("image-signer")
    data_planes.vault.set_enabled(key_id, False)
    with pytest.raises(HttpResponseError) as disabled:
        data_planes.crypto_client(key_id).sign(SignatureAlgorithm.es256, DIGEST)
    assert disabled.value.status_code == 403 and "disabled key" in disabled.value.message

    other = data_planes.vault.create_key("not-ours")
    data_planes.vault.deny(other)
    with pytest.raises(HttpResponseError) as denied:
        data_planes.key_client().get_key("not-ours")
    assert denied.value.status_code == 403 and denied.value.error.code == "Forbidden"
    assert "keys/read" in denied.value.message


def test_a_digest_of_the_wrong_length_or_algorithm_is_bad_parameter(data_planes):
    key_id = data_planes.vault.create_key("image-signer")
    client = data_planes.crypto_client(key_id)
    with pytest.raises(HttpResponseError) as short:
        client.sign(SignatureAlgorithm.es256, DIGEST[:20])
    assert short.value.status_code == 400 and short.value.error.code == "BadParameter"
    with pytest.raises(HttpResponseError) as other_curve:
        client.sign(SignatureAlgorithm.es384, hashlib.sha384(b"x").digest())
    assert other_curve.value.error.code == "BadParameter"


def test_a_token_for_arm_is_refused_by_the_vault(data_planes):
    data_planes.vault.create_key("image-signer")
    arm_token = data_planes.arm.token()
    with pytest.raises(ClientAuthenticationError, match="Invalid audience"):
        data_planes.key_client(credential=FixedToken(arm_token)).get_key("image-signer")
    assert data_planes.vault.calls["GetKey"] == 0


def test_throttling_is_answered_with_retry_after(data_planes):
    key_id = data_planes.vault.create_key("image-signer")
    client = data_planes.crypto_client(key_id)
    data_planes.vault.inject_fault("Sign", status=429, retry_after=2)
    with pytest.raises(HttpResponseError) as throttled:
        client.sign(SignatureAlgorithm.es256, DIGEST)
    assert throttled.value.status_code == 429 and throttled.value.response.headers["Retry-After"] == "2"
    assert len(client.sign(SignatureAlgorithm.es256, DIGEST).signature) == 64
    assert data_planes.vault.calls["Sign"] == 2


def test_an_unknown_vault_does_not_resolve(data_planes):
    with pytest.raises(ServiceRequestError):
        data_planes.key_client(vault="no-such-vault").get_key("image-signer")
    assert data_planes.hosts.tunnels[-1] == "no-such-vault.vault.azure.net:443"


# ----- Blob Storage


def test_a_blob_is_put_once_read_back_and_listed_page_by_page(data_planes):
    data_planes.blob.create_container("audit", versioning=True)
    container = data_planes.blob_service().get_container_client("audit")
    properties = container.get_container_properties()
    assert properties.has_immutability_policy is False and properties.immutable_storage_with_versioning_enabled is False

    stored = container.get_blob_client("a/1.jsonl").upload_blob(b"line\n", metadata={"run": "r1"}, overwrite=False)
    assert stored["version_id"] and stored["content_md5"] == hashlib.md5(b"line\n").digest()
    with pytest.raises(ResourceExistsError) as refused:
        container.upload_blob("a/1.jsonl", b"other\n", overwrite=False)
    assert refused.value.error_code == "BlobAlreadyExists"
    assert container.download_blob("a/1.jsonl").readall() == b"line\n"
    described = container.get_blob_client("a/1.jsonl").get_blob_properties()
    assert described.metadata == {"run": "r1"} and described.version_id == stored["version_id"]

    for index in range(2, 6):
        container.upload_blob("a/%d.jsonl" % index, b"x")
    container.upload_blob("b/1.jsonl", b"x")
    listed = list(container.list_blobs(name_starts_with="a/", include=["metadata"], results_per_page=2))
    assert [blob.name for blob in listed] == ["a/%d.jsonl" % index for index in range(1, 6)]
    assert listed[0].metadata == {"run": "r1"} and listed[0].size == 5
    assert data_planes.blob.calls["Container_ListBlobFlatSegment"] == 3
    with pytest.raises(ResourceNotFoundError) as missing:
        data_planes.blob_service().get_container_client("missing").get_container_properties()
    assert missing.value.error_code == "ContainerNotFound"


def test_a_blob_with_a_locked_policy_may_be_replaced_by_a_new_version_but_not_deleted(data_planes):
    data_planes.blob.create_container("audit", immutable_storage_with_versioning=True)
    container = data_planes.blob_service().get_container_client("audit")
    assert container.get_container_properties().immutable_storage_with_versioning_enabled is True
    until = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    policy = ImmutabilityPolicy(expiry_time=until, policy_mode=BlobImmutabilityPolicyMode.Locked)
    blob = container.get_blob_client("run.jsonl")
    first = blob.upload_blob(b"line\n", immutability_policy=policy)

    described = blob.get_blob_properties()
    assert described.immutability_policy.expiry_time == until
    assert described.immutability_policy.policy_mode == "locked"
    listed = next(iter(container.list_blobs(include=["immutabilitypolicy"])))
    assert listed.immutability_policy.expiry_time == until
    with pytest.raises(HttpResponseError) as refused:
        blob.delete_blob(version_id=first["version_id"])
    assert refused.value.status_code == 409 and refused.value.error_code == "BlobImmutableDueToPolicy"

    blob.upload_blob(b"other\n", overwrite=True)  # a new current version; the locked one stays
    versions = list(container.list_blobs(include=["versions"]))
    assert len(versions) == 2
    assert data_planes.blob.container("audit").versions[0].data == b"line\n"
    data_planes.blob.advance_clock(DAY + 1)
    blob.delete_blob(version_id=first["version_id"])
    assert len(list(container.list_blobs(include=["versions"]))) == 1


def test_a_container_retention_policy_keeps_every_blob_in_place(data_planes):
    data_planes.blob.create_container("audit", retention_days=7, locked=True)
    container = data_planes.blob_service().get_container_client("audit")
    assert container.get_container_properties().has_immutability_policy is True
    container.upload_blob("run.jsonl", b"line\n")
    for attempt in (
        lambda: container.upload_blob("run.jsonl", b"other\n", overwrite=True),
        lambda: container.delete_blob("run.jsonl"),
    ):
        with pytest.raises(HttpResponseError) as refused:
            attempt()
        assert refused.value.error_code == "BlobImmutableDueToPolicy"
    assert data_planes.blob.content_of("audit", "run.jsonl") == b"line\n"
    data_planes.blob.advance_clock(7 * DAY + 1)
    container.delete_blob("run.jsonl")
    assert data_planes.blob.content_of("audit", "run.jsonl") is None


def test_a_token_for_the_vault_is_refused_by_storage(data_planes):
    data_planes.blob.create_container("audit")
    vault_token = data_planes.arm.token("https://vault.azure.net/.default")
    service = data_planes.blob_service(credential=FixedToken(vault_token))
    with pytest.raises(ClientAuthenticationError) as refused:
        service.get_container_client("audit").get_container_properties()
    assert refused.value.error_code == "InvalidAuthenticationInfo"


def test_a_wrong_md5_and_a_marker_of_another_listing_are_refused(data_planes):
    data_planes.blob.create_container("audit")
    headers = {
        "Authorization": "Bearer " + data_planes.arm.token("https://storage.azure.com/.default"),
        "x-ms-version": "2026-02-06",
    }
    host = "phoenixaudit.blob.core.windows.net"
    status, answer, body = data_planes.blob.handle(
        "PUT", host, "/audit/x", {**headers, "x-ms-blob-type": "BlockBlob", "Content-MD5": "AAAA"}, b"data"
    )
    assert status == 400 and answer["x-ms-error-code"] == "Md5Mismatch" and b"<Code>Md5Mismatch</Code>" in body
    for name in ("a/1", "a/2", "a/3"):
        data_planes.blob.overwrite("audit", name, b"x")
    status, answer, body = data_planes.blob.handle(
        "GET", host, "/audit?restype=container&comp=list&prefix=a/&maxresults=2", headers, b""
    )
    marker = body.decode().split("<NextMarker>")[1].split("<")[0]
    status, answer, body = data_planes.blob.handle(
        "GET", host, "/audit?restype=container&comp=list&prefix=b/&marker=" + marker, headers, b""
    )
    assert status == 400 and answer["x-ms-error-code"] == "OutOfRangeInput"
