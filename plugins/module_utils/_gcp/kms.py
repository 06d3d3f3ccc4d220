# Private to this collection.
"""Cloud KMS asymmetric signing keys behind the cloud-neutral SigningKeyBackend: the private key never leaves KMS.

A key is named by its CryptoKeyVersion's resource name,
``projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/V``: a version, not a key, because each
version has a key pair of its own and a signature is checked against one public key. Only
EC_SIGN_P256_SHA256 (the collection's ``ecdsa-p256-sha256``): KMS signs the SHA-256 digest sent to it and
answers a DER ECDSA signature, the form the core verifies. Every answer's CRC32C is checked, as Google
asks of its clients; a damaged answer is discarded and the call made again.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

from .._core.backends import SigningKeyBackend
from .._core.errors import InvalidInput, PhoenixError
from .._core.keys import ECDSA_P256, keyid_of, load_public_key, public_key_der
from .crc32c import crc32c
from .errors import GcpApiError

ALGORITHM = "EC_SIGN_P256_SHA256"
METHOD = "cloudkms.projects.locations.keyRings.cryptoKeys.cryptoKeyVersions."
KEY_VERSION_PATTERN = re.compile(
    r"^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+/cryptoKeyVersions/[0-9]+$"
)
SIGNER_ROLE_HINT = (
    "Grant the service account roles/cloudkms.signerVerifier on the key (roles/cloudkms.publicKeyViewer is "
    "enough to verify), and check the name: Cloud KMS answers 403 for a key the caller may not see."
)


class ChecksumMismatch(PhoenixError):
    """An answer whose CRC32C does not match what it carries: damaged on the way, discarded and asked again."""

    def __init__(self, what, key_id):
        super().__init__(
            "Cloud KMS answered a %s for %s that does not match its CRC32C checksum" % (what, key_id),
            resource=key_id,
            code="ChecksumMismatch",
            cloud="gcp",
            hint="The answer was damaged between Cloud KMS and this host every time it was asked; check any "
            "proxy in between and run again.",
        )


# -- one function per call ---------------------------------------------------------------------------


def _url(connection, key_id, suffix=""):
    return connection.kms_endpoint_url + key_id + suffix


def get_crypto_key_version(connection, key_id):
    return connection.request("GET", _url(connection, key_id), METHOD + "get", resource=key_id)


def get_public_key(connection, key_id):
    return connection.request("GET", _url(connection, key_id, "/publicKey"), METHOD + "getPublicKey", resource=key_id)


def asymmetric_sign(connection, key_id, digest):
    body = {"digest": {"sha256": base64.b64encode(digest).decode("ascii")}, "digestCrc32c": str(crc32c(digest))}
    return connection.request(
        "POST", _url(connection, key_id, ":asymmetricSign"), METHOD + "asymmetricSign", resource=key_id, body=body
    )


# -- checked answers -------------------------------------------------------------------------------


def _checked(connection, key_id, call):
    """``call()``'s answer, asked again (through the connection's retry policy) while its checksum is wrong."""
    try:
        return connection.retry_policy.run(call, lambda error: isinstance(error, ChecksumMismatch))
    except GcpApiError as error:
        raise _refusal(connection, key_id, error) from None


def _refusal(connection, key_id, error):
    """A clear PhoenixError for a key version KMS will not use (not enabled, or not ours to use)."""
    if error.status == 403:
        return PhoenixError(
            "the credentials in use may not use Cloud KMS key version %s: %s" % (key_id, error.message),
            resource=key_id,
            code=error.code,
            cloud="gcp",
            hint=SIGNER_ROLE_HINT,
        )
    if error.status == 400 and error.code == "FAILED_PRECONDITION":
        try:
            state = get_crypto_key_version(connection, key_id).get("state", "not enabled")
        except GcpApiError:
            state = "not enabled"
        return PhoenixError(
            "Cloud KMS key version %s cannot be used: it is %s" % (key_id, state),
            resource=key_id,
            code=error.code,
            cloud="gcp",
            hint="Only an ENABLED key version signs and shows its public key: enable it (gcloud kms keys versions "
            "enable), or name another version; a DESTROYED version never comes back.",
            details={"state": state},
        )
    return error


def _decode(value, what, key_id):
    try:
        return base64.b64decode(value or "", validate=True)
    except (binascii.Error, ValueError):
        raise ChecksumMismatch(what, key_id) from None


def _check_name(answer, key_id):
    # Google asks clients to check that the answer names the version asked for.
    if answer.get("name", key_id) != key_id:
        raise PhoenixError(
            "Cloud KMS answered for %s when asked for %s" % (answer.get("name"), key_id),
            resource=key_id,
            code="UnexpectedKeyVersion",
            cloud="gcp",
            hint="Check kms_endpoint_url: something other than Cloud KMS answered.",
        )


def check_key_id(key_id):
    if not isinstance(key_id, str) or not KEY_VERSION_PATTERN.match(key_id):
        raise InvalidInput(
            "%r is not a Cloud KMS key version name" % (key_id,),
            resource=str(key_id),
            hint="Name the version: projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/V "
            "(gcloud kms keys versions list --key K --keyring R --location L).",
        )
    return key_id


def public_key_of(connection, key_id):
    """The version's public key (a cryptography object), its PEM checked against pemCrc32c and its algorithm ours."""
    check_key_id(key_id)

    def call():
        answer = get_public_key(connection, key_id)
        pem = (answer.get("pem") or "").encode("ascii")
        if str(answer.get("pemCrc32c")) != str(crc32c(pem)):
            raise ChecksumMismatch("public key", key_id)
        return answer

    answer = _checked(connection, key_id, call)
    _check_name(answer, key_id)
    if answer.get("algorithm") != ALGORITHM:
        raise InvalidInput(
            "Cloud KMS key version %s is %s; images are signed with %s keys only"
            % (key_id, answer.get("algorithm"), ALGORITHM),
            resource=key_id,
            hint="Create an asymmetric signing key with --purpose asymmetric-signing "
            "--default-algorithm ec-sign-p256-sha256.",
        )
    return load_public_key(answer["pem"], resource="Cloud KMS key version %s" % key_id)


def sign_digest(connection, key_id, digest):
    """KMS's DER signature of a SHA-256 ``digest``; the digest's and the signature's checksums both checked."""

    def call():
        answer = asymmetric_sign(connection, key_id, digest)
        signature = _decode(answer.get("signature"), "signature", key_id)
        if not answer.get("verifiedDigestCrc32c") or str(answer.get("signatureCrc32c")) != str(crc32c(signature)):
            raise ChecksumMismatch("signature", key_id)
        _check_name(answer, key_id)
        return signature

    return _checked(connection, key_id, call)


# -- the backend -----------------------------------------------------------------------------------


class GcpKmsSigner:
    """Signs through asymmetricSign; the keyid is that of the version's public key (as for a local key)."""

    algorithm = ECDSA_P256

    def __init__(self, connection, key_id, public_key):
        self.connection = connection
        self.key_id = key_id
        self.public_key = public_key
        self.keyid = keyid_of(public_key)
        self.name = "Cloud KMS key version %s" % key_id

    def sign(self, data):
        return sign_digest(self.connection, self.key_id, hashlib.sha256(data).digest())


class GcpKmsKeys(SigningKeyBackend):
    """Cloud KMS key versions; ``region`` is only a default for callers, the location is in each key's name."""

    cloud = "gcp"

    def __init__(self, connection, region=None):
        self.connection = connection
        self.region = region or connection.region

    def signer(self, key_id):
        # getPublicKey refuses a version that is not ENABLED, so one call both checks and fetches the key.
        return GcpKmsSigner(self.connection, key_id, public_key_of(self.connection, key_id))

    def describe_public_key(self, key_id, region=None):
        """The version's public key, to verify offline. A version that is not ENABLED shows no public key on
        Google, so it is refused here (the verification fails closed, naming the state)."""
        public_key = public_key_of(self.connection, key_id)
        return {"public_key_der": public_key_der(public_key), "enabled": True, "state": "ENABLED", "arn": key_id}

    def api_calls(self):
        return self.connection.api_calls()
