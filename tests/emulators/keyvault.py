"""Key Vault's keys data plane, as azure-keyvault-keys (`KeyClient`, `CryptographyClient`) calls it.

Served by `emulators.azure_hosts.AzureHosts` under the vaults' real names, ``https://<vault>.vault.azure.net``
(`vault_url()`), with the ARM emulator's Entra ID issuing the tokens:

- ``POST /keys/NAME/create``          CreateKey (``kty`` EC with ``crv`` P-256/P-384/P-521, or RSA)
- ``GET  /keys/NAME[/VERSION]``       GetKey: the key bundle, its public part as a JWK (EC ``x``/``y`` base64url)
- ``POST /keys/NAME/VERSION/sign``    Sign (``alg`` ES256/ES384/ES512, ``value`` the base64url digest): the raw
  signature ``r || s`` (64 bytes for P-256), base64url, as Key Vault answers it (not DER)

**The challenge.** A request without a bearer token is answered 401 with ``WWW-Authenticate: Bearer
authorization="<authority>/<tenant>", resource="https://vault.azure.net"`` (what the SDK's challenge policy
sends first, without a body); the SDK then asks the emulator's Entra ID for a token of scope
``https://vault.azure.net/.default`` and sends the request again. A token for another audience (ARM's), an
unknown or an expired one is answered 401 with the challenge again; the SDK then fails with
``ClientAuthenticationError``. The resource check the SDK makes (the vault's host must end in
``.vault.azure.net``) holds because the vault is reached by its real name, through the proxy.

Errors are Key Vault's ``{"error": {"code", "message"[, "innererror"]}}``: KeyNotFound (404), BadParameter (400,
an api-version missing, a digest of the wrong length, an algorithm the key cannot use), Forbidden (403: a
disabled key signs nothing; `deny()` takes the caller's permission away, innererror ForbiddenByRbac),
Unauthorized (401). Calls are counted by Key Vault's REST operation id (``CreateKey``, ``GetKey``, ``Sign``;
a challenge answered as ``Challenge``) and `inject_fault` answers the next authenticated calls with 429
(``Retry-After``) or 5xx, as the ARM emulator does. Keys are also made by the test (`create_key`).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa, utils

from emulators.ledger import CallLedger, Fault

if TYPE_CHECKING:
    from emulators.arm import ArmEmulator

VAULT_SUFFIX = ".vault.azure.net"
VAULT_RESOURCE = "https://vault.azure.net"
VAULT_AUDIENCES = (VAULT_RESOURCE, VAULT_RESOURCE + "/")
DEFAULT_VAULT = "phoenix-keys"
CURVES = {"P-256": (ec.SECP256R1, 32, "ES256", hashes.SHA256), "P-384": (ec.SECP384R1, 48, "ES384", hashes.SHA384)}
CURVES["P-521"] = (ec.SECP521R1, 66, "ES512", hashes.SHA512)
_ROUTES = (
    ("POST", re.compile(r"^/keys/(?P<name>[^/]+)/create/?$"), "CreateKey"),
    ("GET", re.compile(r"^/keys/(?P<name>[^/]+)(?:/(?P<version>[^/]*))?/?$"), "GetKey"),
    ("POST", re.compile(r"^/keys/(?P<name>[^/]+)/(?P<version>[^/]+)/sign/?$"), "Sign"),
)
_NAME = re.compile(r"^[0-9a-zA-Z-]{1,127}$")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def from_b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class VaultError(Exception):
    """An error answer in Key Vault's shape."""

    def __init__(self, status: int, code: str, message: str, *, inner: str | None = None, headers=None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.inner = status, code, message, inner
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.inner:
            error["innererror"] = {"code": self.inner}
        return {"error": error}


@dataclass
class VaultKey:
    vault: str
    name: str
    version: str
    private_key: Any = field(repr=False)
    enabled: bool = True
    denied: bool = False
    tags: dict[str, str] = field(default_factory=dict)
    created: int = field(default_factory=lambda: int(time.time()))

    @property
    def kid(self) -> str:
        return "https://%s%s/keys/%s/%s" % (self.vault, VAULT_SUFFIX, self.name, self.version)

    def jwk(self) -> dict[str, Any]:
        public = self.private_key.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            numbers = public.public_numbers()
            size = (numbers.n.bit_length() + 7) // 8
            return {
                "kid": self.kid,
                "kty": "RSA",
                "key_ops": ["sign", "verify"],
                "n": b64url(numbers.n.to_bytes(size, "big")),
                "e": b64url(numbers.e.to_bytes(3, "big")),
            }
        crv = next(name for name, spec in CURVES.items() if isinstance(public.curve, spec[0]))
        width = CURVES[crv][1]
        numbers = public.public_numbers()
        return {
            "kid": self.kid,
            "kty": "EC",
            "key_ops": ["sign", "verify"],
            "crv": crv,
            "x": b64url(numbers.x.to_bytes(width, "big")),
            "y": b64url(numbers.y.to_bytes(width, "big")),
        }

    def bundle(self) -> dict[str, Any]:
        return {
            "key": self.jwk(),
            "attributes": {
                "enabled": self.enabled,
                "created": self.created,
                "updated": self.created,
                "recoveryLevel": "Recoverable+Purgeable",
                "recoverableDays": 90,
                "exportable": False,
            },
            "tags": dict(self.tags),
        }


class KeyVaultEmulator:
    """The keys of the vaults the test made; ``arm`` is the emulator whose Entra ID grants the tokens."""

    def __init__(self, arm: ArmEmulator, *, seed: int = 0) -> None:
        self.arm = arm
        self.lock = threading.RLock()
        self._seed = seed
        self.vaults: set[str] = set()
        self.keys: dict[tuple[str, str], list[VaultKey]] = {}
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.vaults = {DEFAULT_VAULT}
            self.keys = {}
            self._tampered = 0
            self.ledger = CallLedger(self.lock, self._seed, rated=lambda operation: operation != "Challenge")

    # test-side state ------------------------------------------------------------------------------

    def create_vault(self, name: str) -> str:
        with self.lock:
            self.vaults.add(name.lower())
        return self.vault_url(name)

    def vault_url(self, name: str = DEFAULT_VAULT) -> str:
        return "https://%s%s" % (name.lower(), VAULT_SUFFIX)

    def create_key(
        self, name: str = "image-signer", *, vault: str = DEFAULT_VAULT, curve: str = "P-256", private_key: Any = None
    ) -> str:
        """A new version of key ``name`` (EC ``curve`` unless ``private_key`` says otherwise); its key id URL."""
        if private_key is None:
            private_key = ec.generate_private_key(CURVES[curve][0]())
        with self.lock:
            self.vaults.add(vault.lower())
            version = VaultKey(vault.lower(), name, uuid.uuid4().hex, private_key)
            self.keys.setdefault((vault.lower(), name.lower()), []).append(version)
        return version.kid

    def key(self, key_id: str) -> VaultKey:
        parts = urllib.parse.urlsplit(key_id)
        vault = parts.hostname.removesuffix(VAULT_SUFFIX) if parts.hostname else ""
        found = self._find(vault, *parts.path.strip("/").split("/")[1:3])
        if found is None:
            raise KeyError(key_id)
        return found

    def public_key(self, key_id: str) -> Any:
        return self.key(key_id).private_key.public_key()

    def set_enabled(self, key_id: str, enabled: bool) -> None:
        with self.lock:
            self.key(key_id).enabled = enabled

    def deny(self, key_id: str) -> None:
        """The caller has no role on this key: every call on it is 403 Forbidden (ForbiddenByRbac)."""
        with self.lock:
            self.key(key_id).denied = True

    def tamper_signatures(self, times: int = 1) -> None:
        """The next ``times`` signatures arrive with one bit flipped (damaged on the way)."""
        with self.lock:
            self._tampered += times

    # calls and faults ------------------------------------------------------------------------------

    @property
    def calls(self) -> Counter[str]:
        return self.ledger.calls

    def counting(self) -> AbstractContextManager[Counter[str]]:
        return self.ledger.counting()

    def inject_fault(self, operation: str, *, status: int = 429, times: int = 1, retry_after: int | None = 1) -> None:
        self.ledger.inject(operation, Fault(times, status, False, retry_after))

    # serving ---------------------------------------------------------------------------------------

    def owns(self, host: str) -> bool:
        with self.lock:
            return host.endswith(VAULT_SUFFIX) and host.removesuffix(VAULT_SUFFIX) in self.vaults

    def handle(
        self, method: str, host: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        vault = host.removesuffix(VAULT_SUFFIX)
        parts = urllib.parse.urlsplit(target)
        path = urllib.parse.unquote(parts.path)
        query = dict(urllib.parse.parse_qsl(parts.query))
        lowered = {name.lower(): value for name, value in headers.items()}
        operation, match = next(
            ((op, found) for verb, pattern, op in _ROUTES if verb == method and (found := pattern.match(path))),
            ("", None),
        )
        try:
            self._authenticate(lowered)
        except VaultError as error:
            with self.lock:
                self.ledger.count("Challenge")
            return self._render(error.status, error.body(), error.headers)
        with self.lock:
            self.ledger.count(operation or "Unknown")
            fault = self.ledger.take(operation) if operation else None
        if fault is not None:
            return self._fault(fault, operation)
        try:
            if match is None:
                raise VaultError(404, "NotFound", "The requested URL %s %s was not found." % (method, path))
            if "api-version" not in query:
                raise VaultError(400, "BadParameter", "The request URI contains an invalid or missing api-version.")
            request = json.loads(body) if body else {}
            with self.lock:
                answer = getattr(self, "_" + operation.lower())(vault, match.groupdict(), request)
            return self._render(200, answer)
        except VaultError as error:
            return self._render(error.status, error.body(), error.headers)
        except ValueError:
            return self._render(400, VaultError(400, "BadParameter", "The request body is not valid JSON.").body())

    def _render(self, status: int, body: Any, headers: dict[str, str] | None = None):
        answer = {
            "Content-Type": "application/json; charset=utf-8",
            "x-ms-request-id": str(uuid.uuid4()),
            "x-ms-keyvault-service-version": "1.9.0.0",
            "x-ms-keyvault-region": self.arm.location,
            **(headers or {}),
        }
        return status, answer, json.dumps(body).encode()

    def _challenge(self) -> dict[str, str]:
        return {
            "WWW-Authenticate": 'Bearer authorization="%s/%s", resource="%s"'
            % (self.arm.authority_url, self.arm.tenant_id, VAULT_RESOURCE)
        }

    def _authenticate(self, headers: dict[str, str]) -> None:
        value = headers.get("authorization", "")
        if not value.lower().startswith("bearer "):
            raise VaultError(
                401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.", headers=self._challenge()
            )
        grant = self.arm.tokens.get(value[len("bearer ") :].strip())
        problem = None
        if grant is None:
            problem = "Request is not authenticated: the token is unknown."
        elif grant[0] != self.arm.tenant_id:
            problem = "The token is of another tenant, %s." % grant[0]
        elif grant[2] < time.time():
            problem = "The token is expired."
        elif grant[1] not in VAULT_AUDIENCES:
            problem = "Invalid audience. Expected %s, found: %s." % (VAULT_RESOURCE, grant[1])
        if problem is not None:
            raise VaultError(401, "Unauthorized", problem, headers=self._challenge())

    def _fault(self, fault: Fault, operation: str):
        headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
        if fault.status == 429:
            error = VaultError(429, "Throttled", "Request was not processed because too many requests were received.")
        else:
            error = VaultError(fault.status, "ServiceUnavailable", "Injected by the test emulator (%s)." % operation)
        return self._render(error.status, error.body(), headers)

    # the calls -------------------------------------------------------------------------------------

    def _find(self, vault: str, name: str, version: str | None = None) -> VaultKey | None:
        versions = self.keys.get((vault.lower(), name.lower())) or []
        if not version:
            return versions[-1] if versions else None
        return next((key for key in versions if key.version == version.lower()), None)

    def _existing(self, vault: str, groups: dict[str, Any], action: str) -> VaultKey:
        key = self._find(vault, groups["name"], groups.get("version"))
        if key is None:
            raise VaultError(
                404,
                "KeyNotFound",
                "A key with (name/id) %s%s was not found in this key vault. If you recently deleted this key you may "
                "be able to recover it using the correct recovery command. For help resolving this issue, please see "
                "https://go.microsoft.com/fwlink/?linkid=2125182"
                % (groups["name"], "/" + groups["version"] if groups.get("version") else ""),
            )
        if key.denied:
            raise VaultError(
                403,
                "Forbidden",
                "Caller is not authorized to perform action on resource.\r\nAction: "
                "'Microsoft.KeyVault/vaults/keys/%s'\r\nResource: '%s'\r\nAssignment: (not found)\r\nVault: %s;"
                "location=%s\r\n" % (action, key.kid, vault, self.arm.location),
                inner="ForbiddenByRbac",
            )
        return key

    def _createkey(self, vault: str, groups: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
        if not _NAME.match(groups["name"]):
            raise VaultError(400, "BadParameter", "The key name %s is not valid." % groups["name"])
        kty = request.get("kty")
        if kty in ("EC", "EC-HSM"):
            curve = request.get("crv") or "P-256"
            if curve not in CURVES:
                raise VaultError(400, "BadParameter", "The curve %s is not supported." % curve)
            private_key = ec.generate_private_key(CURVES[curve][0]())
        elif kty in ("RSA", "RSA-HSM"):
            private_key = rsa.generate_private_key(65537, int(request.get("key_size") or 2048))
        else:
            raise VaultError(400, "BadParameter", "Property 'kty' has an invalid value %r." % (kty,))
        key = VaultKey(vault, groups["name"], uuid.uuid4().hex, private_key, tags=dict(request.get("tags") or {}))
        key.enabled = (request.get("attributes") or {}).get("enabled", True)
        self.keys.setdefault((vault, groups["name"].lower()), []).append(key)
        return key.bundle()

    def _getkey(self, vault: str, groups: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
        return self._existing(vault, groups, "read").bundle()

    def _sign(self, vault: str, groups: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
        key = self._existing(vault, groups, "sign/action")
        if not key.enabled:
            raise VaultError(403, "Forbidden", 'Operation "sign" is not allowed on a disabled key.')
        algorithm = request.get("alg")
        try:
            digest = from_b64url(request.get("value") or "")
        except (binascii.Error, ValueError):
            raise VaultError(400, "BadParameter", "Property 'value' is not base64url.") from None
        public = key.private_key.public_key()
        spec = next((spec for spec in CURVES.values() if spec[2] == algorithm), None)
        if isinstance(public, rsa.RSAPublicKey) or spec is None or not isinstance(public.curve, spec[0]):
            raise VaultError(400, "BadParameter", "Key and signing algorithm %s are incompatible." % algorithm)
        if len(digest) != spec[3].digest_size:
            raise VaultError(
                400, "BadParameter", "Invalid length of digest: %d bytes for %s." % (len(digest), algorithm)
            )
        r, s = utils.decode_dss_signature(key.private_key.sign(digest, ec.ECDSA(utils.Prehashed(spec[3]()))))
        raw = r.to_bytes(spec[1], "big") + s.to_bytes(spec[1], "big")
        if self._tampered:
            self._tampered -= 1
            raw = raw[:5] + bytes([raw[5] ^ 0x01]) + raw[6:]
        return {"kid": key.kid, "value": b64url(raw)}
