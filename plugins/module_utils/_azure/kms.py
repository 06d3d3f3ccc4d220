# Private to this collection.
"""Key Vault keys behind the cloud-neutral SigningKeyBackend: the private key never leaves Key Vault.

A key is named by its versioned key identifier, ``https://<vault>.vault.azure.net/keys/<name>/<version>`` (the
``kid`` Key Vault shows): a version, not a key, because each version has a key pair of its own and a signature
is checked against one public key. Only EC P-256 keys signing ES256 (the collection's ``ecdsa-p256-sha256``):
Key Vault signs the SHA-256 digest sent to it and answers the raw ``r || s`` of JOSE, which is turned into the
DER form the core verifies, and checked against the key's public key before it is handed out.

The clients are azure-keyvault-keys' (`KeyClient`, `CryptographyClient`) on the connection's credential and
transport; Key Vault's 401 challenge tells them the tenant and the resource (``https://vault.azure.net``) to
ask a token for, and they check that resource against the vault's host name.
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
import urllib.parse
from datetime import datetime, timezone

from .._core.backends import SigningKeyBackend
from .._core.errors import InvalidInput, PhoenixError
from .._core.keys import ECDSA_P256, keyid_of, public_key_der, public_key_pem, verify
from .errors import AzureApiError

try:
    from azure.keyvault.keys import KeyClient
    from azure.keyvault.keys.crypto import CryptographyClient, SignatureAlgorithm
    from cryptography.hazmat.primitives.asymmetric import ec, utils
except ImportError:  # reported by the connection (require_azure) or by the first call
    KeyClient = CryptographyClient = SignatureAlgorithm = None

CURVE = "P-256"
KEY_TYPES = ("EC", "EC-HSM")
# Key Vault's key names: 1-127 letters, digits and dashes; versions are 32 hexadecimal digits.
KEY_ID_PATTERN = re.compile(
    r"^https://(?P<vault>[^/?#]+)/keys/(?P<name>[0-9A-Za-z-]{1,127})/(?P<version>[0-9a-fA-F]{32})/?$"
)
SIGNER_ROLE_HINT = (
    "Give the identity in use the role Key Vault Crypto User on the key or vault (Key Vault Reader is enough to "
    "verify), or, in a vault with access policies, the key permissions get and sign."
)


class SignatureMismatch(PhoenixError):
    """A signature that does not verify with the key's public key: damaged on the way, discarded and asked again."""

    def __init__(self, key_id):
        super().__init__(
            "Key Vault answered a signature for %s that does not verify with the key's public key" % key_id,
            resource=key_id,
            code="SignatureMismatch",
            cloud="azure",
            hint="The answer was damaged between Key Vault and this host every time it was asked; check any proxy "
            "in between, and that the key id names the version that signs.",
        )


def check_key_id(key_id):
    """``(vault URL, name, version)`` of a versioned Key Vault key identifier, or InvalidInput."""
    match = KEY_ID_PATTERN.match(key_id) if isinstance(key_id, str) else None
    if match is None:
        raise InvalidInput(
            "%r is not a versioned Key Vault key identifier" % (key_id,),
            resource=str(key_id),
            hint="Name the key version: https://<vault>.vault.azure.net/keys/<name>/<version> (az keyvault key show "
            "--vault-name V --name K --query key.kid).",
        )
    return "https://%s" % match.group("vault"), match.group("name"), match.group("version").lower()


def _text(value):
    """An SDK enum's value (JsonWebKeyType.EC is "EC"), or the text itself."""
    return str(getattr(value, "value", value) or "")


def _b64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)) if isinstance(text, str) else bytes(text)


def public_key_of(jwk, key_id):
    """The EC P-256 public key of a JWK (azure-keyvault-keys' JsonWebKey), or InvalidInput naming what it is."""
    kty, crv = _text(jwk.kty), _text(jwk.crv)
    if kty not in KEY_TYPES or crv != CURVE:
        raise InvalidInput(
            "Key Vault key %s is %s%s; images are signed with EC %s keys only"
            % (key_id, kty or "of no type", " " + crv if crv else "", CURVE),
            resource=key_id,
            hint="Create one with az keyvault key create --vault-name V --name K --kty EC --curve P-256 --ops sign "
            "verify (or --kty EC-HSM in a premium vault).",
        )
    x, y = _b64url(jwk.x), _b64url(jwk.y)
    return ec.EllipticCurvePublicNumbers(
        int.from_bytes(x, "big"), int.from_bytes(y, "big"), ec.SECP256R1()
    ).public_key()


def der_signature(raw, key_id):
    """The DER ECDSA signature of Key Vault's raw ``r || s`` (64 bytes for P-256)."""
    if len(raw) != 64:
        raise SignatureMismatch(key_id)
    return utils.encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))


def key_state(properties, now=None):
    """``Enabled``, ``Disabled``, ``Expired`` or ``NotYetValid``: whether Key Vault lets the key sign now."""
    now = now or datetime.now(timezone.utc)
    if not properties.enabled:
        return "Disabled"
    if properties.expires_on is not None and properties.expires_on <= now:
        return "Expired"
    if properties.not_before is not None and properties.not_before > now:
        return "NotYetValid"
    return "Enabled"


class AzureKeyVaultSigner:
    """Signs through Key Vault's sign operation (ES256); the keyid is that of the key's public key."""

    algorithm = ECDSA_P256

    def __init__(self, connection, key_id, crypto, public_key):
        self.connection = connection
        self.key_id = key_id
        self.crypto = crypto
        self.public_key = public_key
        self.keyid = keyid_of(public_key)
        self.name = "Key Vault key %s" % key_id

    def sign(self, data):
        digest = hashlib.sha256(data).digest()

        def attempt():
            result = self.connection.call(
                "Sign", self.crypto.sign, SignatureAlgorithm.es256, digest, resource=self.key_id
            )
            signature = der_signature(bytes(result.signature), self.key_id)
            if not verify(self.public_key, data, signature):
                raise SignatureMismatch(self.key_id)
            return signature

        try:
            return self.connection.retry_policy.run(attempt, lambda error: isinstance(error, SignatureMismatch))
        except AzureApiError as error:
            raise _refusal(error, self.key_id) from None


def _refusal(error, key_id):
    """A clear PhoenixError for a key Key Vault will not use (missing, disabled, or not ours to use)."""
    if error.status == 404:
        return PhoenixError(
            "Key Vault key %s does not exist: %s" % (key_id, error),
            resource=key_id,
            code=error.code,
            cloud="azure",
            hint="Check the vault, name and version (az keyvault key list-versions --vault-name V --name K); a "
            "deleted key can be recovered while the vault keeps it (az keyvault key recover).",
        )
    if error.status == 403 and "disabled" in str(error).lower():
        return PhoenixError(
            "Key Vault key %s cannot be used: it is disabled" % key_id,
            resource=key_id,
            code=error.code,
            cloud="azure",
            hint="Only an enabled key version signs: enable it (az keyvault key set-attributes --enabled true), "
            "or name another version.",
            details={"state": "Disabled"},
        )
    if error.status == 403:
        return PhoenixError(
            "the credentials in use may not use Key Vault key %s: %s" % (key_id, error),
            resource=key_id,
            code=error.code,
            cloud="azure",
            hint=SIGNER_ROLE_HINT,
        )
    return error


class AzureKeyVaultKeys(SigningKeyBackend):
    """Key Vault key versions; ``region`` is only a default for callers, the vault is in each key's id."""

    cloud = "azure"

    def __init__(self, connection, region=None):
        self.connection = connection
        self.region = region or connection.region
        self._lock = threading.Lock()
        self._key_clients = {}

    def key_client(self, vault_url):
        with self._lock:
            client = self._key_clients.get(vault_url)
            if client is None:
                client = self.connection.client(KeyClient, vault_url, self.connection.credential, service="keyvault")
                self._key_clients[vault_url] = client
        return client

    def get_key(self, key_id):
        """azure-keyvault-keys' KeyVaultKey of a key version (its public part and attributes)."""
        vault_url, name, version = check_key_id(key_id)
        try:
            return self.connection.call("GetKey", self.key_client(vault_url).get_key, name, version, resource=key_id)
        except AzureApiError as error:
            raise _refusal(error, key_id) from None

    def signer(self, key_id):
        key = self.get_key(key_id)
        public_key = public_key_of(key.key, key_id)
        state = key_state(key.properties)
        operations = [_text(operation) for operation in (key.key_operations or [])]
        if state != "Enabled" or (operations and "sign" not in operations):
            raise PhoenixError(
                "Key Vault key %s cannot sign: %s"
                % (key_id, "it is %s" % state if state != "Enabled" else "its permitted operations lack sign"),
                resource=key_id,
                code="KeyNotUsable",
                cloud="azure",
                hint="Only an enabled, unexpired key version whose operations include sign signs: az keyvault key "
                "set-attributes --enabled true --ops sign verify, or name another version.",
                details={"state": state, "key_ops": operations},
            )
        # Given the key itself, the CryptographyClient asks Key Vault for nothing but the signatures.
        crypto = self.connection.client(CryptographyClient, key, self.connection.credential, service="keyvault")
        return AzureKeyVaultSigner(self.connection, key_id, crypto, public_key)

    def describe_public_key(self, key_id, region=None):
        """The key version's public key, to verify offline; a disabled or expired one is described as such (and
        fails the verification closed)."""
        key = self.get_key(key_id)
        public_key = public_key_of(key.key, key_id)
        state = key_state(key.properties)
        return {
            "public_key_der": public_key_der(public_key),
            "public_key_pem": public_key_pem(public_key),
            "enabled": state == "Enabled",
            "state": state,
            "arn": key_id,
            "vault_url": urllib.parse.urlsplit(key_id)._replace(path="").geturl(),
        }

    def api_calls(self):
        return self.connection.api_calls()
