"""Cloud KMS v1 for the GCE emulator: asymmetric signing keys (EC_SIGN_P256_SHA256) served on the same server.

Served under ``/cloudkms/v1/`` (what ``kms_endpoint_url`` names; Google's is https://cloudkms.googleapis.com/v1/),
with Google's resource names ``projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/V``:

- ``GET  .../cryptoKeyVersions/V``                 cryptoKeyVersions.get (``state``, ``algorithm`` ...)
- ``GET  .../cryptoKeyVersions/V/publicKey``       cryptoKeyVersions.getPublicKey (``pem``, ``pemCrc32c`` ...)
- ``POST .../cryptoKeyVersions/V:asymmetricSign``  cryptoKeyVersions.asymmetricSign (``digest``, ``digestCrc32c``)

A version that is not ENABLED is refused with 400 FAILED_PRECONDITION (``... is not enabled, current state is:
DISABLED.``), as Google does for both calls; an unknown one is 404 NOT_FOUND; ``deny()`` makes a version
answer 403 PERMISSION_DENIED (the caller lacks the role). Errors have the shape of Google's gRPC-transcoded
APIs: ``{"error": {"code", "message", "status"}}``, without the ``errors[]`` list of the older JSON APIs.
Int64 fields (the CRC32C checksums) are JSON strings, bytes fields base64, as in Google's JSON mapping.

Keys are made by the test (``create_key``), never through the API: key rings and keys are not served.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

from emulators.gce_api import ApiError, Request, now_rfc3339

if TYPE_CHECKING:
    from emulators.gce import GceEmulator

KMS_PREFIX = "/cloudkms/v1/"
EC_P256 = "EC_SIGN_P256_SHA256"
METHOD = "cloudkms.projects.locations.keyRings.cryptoKeys.cryptoKeyVersions."
_VERSION_PATH = (
    r"projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/keyRings/(?P<ring>[^/]+)"
    r"/cryptoKeys/(?P<key>[^/]+)/cryptoKeyVersions/(?P<version>[^/:]+)"
)
_KEY_NAME = re.compile(r"^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$")
STATES = ("ENABLED", "DISABLED", "DESTROYED", "DESTROY_SCHEDULED", "PENDING_GENERATION")


def crc32c(data: bytes) -> int:
    """CRC32C (Castagnoli), bit by bit: the emulator's own, independent of the collection's table-driven one."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _bit in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


class KmsError(ApiError):
    """An error answer of a gRPC-transcoded API (Cloud KMS): code, message and status, no ``errors[]``."""

    def __init__(self, code: int, status: str, message: str) -> None:
        super().__init__(code, status, message)
        self.status = status

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "status": self.status}}


@dataclass
class KeyVersion:
    name: str
    algorithm: str
    private_key: Any = field(repr=False)
    state: str = "ENABLED"
    denied: bool = False
    create_time: str = field(default_factory=now_rfc3339)

    def pem(self) -> str:
        public = self.private_key.public_key()
        return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode(
            "ascii"
        )

    def resource(self) -> dict[str, Any]:
        resource = {
            "name": self.name,
            "state": self.state,
            "protectionLevel": "SOFTWARE",
            "algorithm": self.algorithm,
            "createTime": self.create_time,
            "generateTime": self.create_time,
        }
        if self.state == "DESTROYED":
            resource["destroyEventTime"] = now_rfc3339()
        return resource


class CloudKms:
    """The key versions the test made, and the three calls that use them."""

    def __init__(self, emu: GceEmulator) -> None:
        self.emu = emu
        self.versions: dict[str, KeyVersion] = {}
        self._tampered = 0

    def reset(self) -> None:
        self.versions.clear()
        self._tampered = 0

    def routes(self) -> list[tuple[str, str, str, Any]]:
        one = KMS_PREFIX + _VERSION_PATH
        return [
            ("GET", one, METHOD + "get", self._get),
            ("GET", one + "/publicKey", METHOD + "getPublicKey", self._get_public_key),
            ("POST", one + ":asymmetricSign", METHOD + "asymmetricSign", self._asymmetric_sign),
        ]

    # test-side state ------------------------------------------------------------------------------

    def create_key(
        self,
        key: str = "image-signer",
        *,
        key_ring: str = "phoenix",
        location: str = "global",
        project: str | None = None,
        algorithm: str = EC_P256,
        private_key: Any = None,
    ) -> str:
        """A new CryptoKey's first version (EC P-256 unless ``private_key`` says otherwise); its resource name."""
        project = project or self.emu.project
        key_name = "projects/%s/locations/%s/keyRings/%s/cryptoKeys/%s" % (project, location, key_ring, key)
        with self.emu.lock:
            self.emu.projects.add(project)
            if any(name.startswith(key_name + "/") for name in self.versions):
                raise ValueError("key %s exists already" % key_name)
        return self.add_version(key_name, algorithm=algorithm, private_key=private_key)

    def add_version(self, key_name: str, *, algorithm: str = EC_P256, private_key: Any = None) -> str:
        """A new version of ``key_name`` (numbered after the key's last one), ENABLED; its resource name."""
        if not _KEY_NAME.match(key_name):
            raise ValueError("not a CryptoKey name: %s" % key_name)
        with self.emu.lock:
            numbers = [int(name.rsplit("/", 1)[1]) for name in self.versions if name.startswith(key_name + "/")]
            name = "%s/cryptoKeyVersions/%d" % (key_name, max(numbers, default=0) + 1)
            self.versions[name] = KeyVersion(name, algorithm, private_key or ec.generate_private_key(ec.SECP256R1()))
        return name

    def set_state(self, name: str, state: str) -> None:
        """Put a version in ``state`` (DISABLED, DESTROYED ...) as the console or gcloud would."""
        if state not in STATES:
            raise ValueError("unknown key version state %s" % state)
        with self.emu.lock:
            self.versions[name].state = state

    def disable(self, name: str) -> None:
        self.set_state(name, "DISABLED")

    def destroy(self, name: str) -> None:
        self.set_state(name, "DESTROYED")

    def deny(self, name: str) -> None:
        """The caller lacks the role on this version: every call on it is 403 PERMISSION_DENIED."""
        with self.emu.lock:
            self.versions[name].denied = True

    def public_key(self, name: str) -> Any:
        return self.versions[name].private_key.public_key()

    def tamper_signatures(self, times: int = 1) -> None:
        """The next ``times`` signatures arrive damaged (one bit flipped after the checksum was computed)."""
        with self.emu.lock:
            self._tampered += times

    # the calls -------------------------------------------------------------------------------------

    def _version(self, request: Request, permission: str, usable: bool) -> KeyVersion:
        name = request.path[len(KMS_PREFIX) :].split(":", 1)[0].removesuffix("/publicKey")
        version = self.versions.get(name)
        if version is None:
            raise KmsError(404, "NOT_FOUND", "CryptoKeyVersion %s not found." % name)
        if version.denied:
            raise KmsError(
                403,
                "PERMISSION_DENIED",
                "Permission '%s' denied on resource '%s' (or it may not exist)." % (permission, name),
            )
        if usable and version.state != "ENABLED":
            raise KmsError(
                400, "FAILED_PRECONDITION", "%s is not enabled, current state is: %s." % (name, version.state)
            )
        return version

    def _get(self, request: Request) -> dict[str, Any]:
        return self._version(request, "cloudkms.cryptoKeyVersions.get", usable=False).resource()

    def _get_public_key(self, request: Request) -> dict[str, Any]:
        version = self._version(request, "cloudkms.cryptoKeyVersions.viewPublicKey", usable=True)
        pem = version.pem()
        return {
            "pem": pem,
            "algorithm": version.algorithm,
            "pemCrc32c": str(crc32c(pem.encode("ascii"))),
            "name": version.name,
            "protectionLevel": "SOFTWARE",
        }

    def _asymmetric_sign(self, request: Request) -> dict[str, Any]:
        version = self._version(request, "cloudkms.cryptoKeyVersions.useToSign", usable=True)
        body = request.body if isinstance(request.body, dict) else {}
        if version.algorithm != EC_P256:
            raise KmsError(
                400, "INVALID_ARGUMENT", "The emulator signs with %s keys only, not %s." % (EC_P256, version.algorithm)
            )
        if "data" in body:
            raise KmsError(
                400,
                "INVALID_ARGUMENT",
                "AsymmetricSignRequest.data is not supported for algorithm %s; send digest." % version.algorithm,
            )
        digest_field = body.get("digest")
        if not isinstance(digest_field, dict) or set(digest_field) != {"sha256"}:
            raise KmsError(
                400,
                "INVALID_ARGUMENT",
                "The request digest must be a sha256 digest for algorithm %s." % version.algorithm,
            )
        try:
            digest = base64.b64decode(digest_field["sha256"], validate=True)
        except (binascii.Error, TypeError, ValueError):
            raise KmsError(400, "INVALID_ARGUMENT", "Invalid value at 'digest.sha256': not base64.") from None
        if len(digest) != 32:
            raise KmsError(400, "INVALID_ARGUMENT", "The digest must be 32 bytes long for a SHA-256 digest.")
        verified = "digestCrc32c" in body
        if verified and str(body["digestCrc32c"]) != str(crc32c(digest)):
            raise KmsError(
                400, "INVALID_ARGUMENT", "The checksum in field digest_crc32c did not match the data in field digest."
            )
        signature = version.private_key.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
        checksum = crc32c(signature)
        if self._tampered:
            self._tampered -= 1
            signature = bytes([signature[0], signature[1], signature[2] ^ 0x01]) + signature[3:]
        return {
            "signature": base64.b64encode(signature).decode("ascii"),
            "signatureCrc32c": str(checksum),
            "verifiedDigestCrc32c": verified,
            "verifiedDataCrc32c": False,
            "name": version.name,
            "protectionLevel": "SOFTWARE",
        }
