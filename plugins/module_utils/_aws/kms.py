# Private to this collection.
"""AWS KMS asymmetric keys behind the cloud-neutral SigningKeyBackend: the private key never leaves KMS."""

from __future__ import annotations

import hashlib

from .._core.backends import SigningKeyBackend
from .._core.errors import InvalidInput
from .._core.keys import ECDSA_P256, keyid_of, load_public_key
from .kms_api import KmsApi

KEY_SPEC = "ECC_NIST_P256"
SIGNING_ALGORITHM = "ECDSA_SHA_256"
# KMS signs a RAW message of at most 4096 bytes; a longer one is sent as its SHA-256 digest.
MAX_RAW_MESSAGE = 4096


def region_of(key_id, default):
    """The region in a key or alias ARN (arn:aws:kms:REGION:ACCOUNT:key/…), else ``default``."""
    parts = str(key_id).split(":")
    if len(parts) >= 6 and parts[0] == "arn" and parts[2] == "kms" and parts[3]:
        return parts[3]
    return default


class KmsSigner:
    """Signs through KMS Sign with ECDSA_SHA_256; the keyid is that of the key's exported public key."""

    algorithm = ECDSA_P256

    def __init__(self, api, key_id, metadata, public_key):
        self.api = api
        self.key_id = key_id
        self.arn = metadata.get("Arn", key_id)
        self.public_key = public_key
        self.keyid = keyid_of(public_key)
        self.name = "KMS key %s" % key_id

    def sign(self, data):
        if len(data) <= MAX_RAW_MESSAGE:
            return self.api.sign(self.key_id, data, "RAW", SIGNING_ALGORITHM)
        return self.api.sign(self.key_id, hashlib.sha256(data).digest(), "DIGEST", SIGNING_ALGORITHM)


class AwsKmsKeys(SigningKeyBackend):
    cloud = "aws"

    def __init__(self, connection, region=None):
        self.connection = connection
        self.region = region or connection.region

    def _api(self, key_id, region=None):
        return KmsApi(self.connection, region or region_of(key_id, self.region))

    def signer(self, key_id):
        api = self._api(key_id)
        metadata = api.describe_key(key_id)
        # KMS itself refuses to sign with a disabled key; the check here also names the state clearly
        # (and holds where an emulator does not refuse).
        problems = []
        if metadata.get("KeyState") != "Enabled" or not metadata.get("Enabled", True):
            problems.append("it is %s" % metadata.get("KeyState", "not enabled"))
        if metadata.get("KeyUsage") != "SIGN_VERIFY":
            problems.append("its usage is %s, not SIGN_VERIFY" % metadata.get("KeyUsage"))
        spec = metadata.get("KeySpec") or metadata.get("CustomerMasterKeySpec")
        if spec != KEY_SPEC:
            problems.append("its spec is %s, not %s" % (spec, KEY_SPEC))
        if problems:
            raise InvalidInput(
                "KMS key %s in %s cannot sign images: %s" % (key_id, api.region, "; ".join(problems)),
                resource=key_id,
                hint="Use an enabled asymmetric KMS key with KeySpec ECC_NIST_P256 and KeyUsage SIGN_VERIFY.",
            )
        public_key = load_public_key(api.get_public_key(key_id)["PublicKey"], resource="KMS key %s" % key_id)
        return KmsSigner(api, key_id, metadata, public_key)

    def describe_public_key(self, key_id, region=None):
        api = self._api(key_id, region)
        metadata = api.describe_key(key_id)
        response = api.get_public_key(key_id)
        state = metadata.get("KeyState", "")
        return {
            "public_key_der": response["PublicKey"],
            "enabled": state == "Enabled" and metadata.get("Enabled", True),
            "state": state,
            "arn": metadata.get("Arn"),
        }

    def api_calls(self):
        return self.connection.api_calls()
