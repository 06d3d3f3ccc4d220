# Private to this collection.
"""Signing keys: Ed25519 and ECDSA P-256 through ``cryptography``; no primitive is written here.

A key is named by its keyid: the sha256, hex, of the DER SubjectPublicKeyInfo of its public key, the
same for a local PEM key and for a cloud KMS key whose public key was exported.
ECDSA signatures are DER-encoded (as KMS returns them), over SHA-256; Ed25519 signatures are the raw
64 bytes.
"""

from __future__ import annotations

import functools
import hashlib
import types

from .errors import InvalidInput, MissingDependency

ED25519 = "ed25519"
ECDSA_P256 = "ecdsa-p256-sha256"
# The longest signature of each algorithm, to size the tags of a signature before it exists.
MAX_SIGNATURE_LENGTH = {ED25519: 64, ECDSA_P256: 72}


def require_cryptography():
    """The parts of ``cryptography`` used here, imported on first use (a task that neither signs nor
    verifies never loads the library); MissingDependency when it is not installed."""
    try:
        return _cryptography()
    except ImportError as import_error:
        error = MissingDependency("cryptography", "any", cause=import_error)
        error.message = "the cryptography library is required to sign and verify images"
        raise error from None


@functools.cache
def _cryptography():
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    return types.SimpleNamespace(
        InvalidSignature=InvalidSignature,
        UnsupportedAlgorithm=UnsupportedAlgorithm,
        hashes=hashes,
        serialization=serialization,
        ec=ec,
        ed25519=ed25519,
    )


def algorithm_of(key):
    """``ed25519`` or ``ecdsa-p256-sha256`` for a public or private key; None for anything else."""
    crypto = require_cryptography()
    ec, ed25519 = crypto.ec, crypto.ed25519
    if isinstance(key, (ed25519.Ed25519PublicKey, ed25519.Ed25519PrivateKey)):
        return ED25519
    if isinstance(key, (ec.EllipticCurvePublicKey, ec.EllipticCurvePrivateKey)) and isinstance(key.curve, ec.SECP256R1):
        return ECDSA_P256
    return None


def _unsupported(what, resource):
    return InvalidInput(
        "%s is not an Ed25519 or ECDSA P-256 key" % what,
        resource=resource,
        hint="Use an Ed25519 or ECDSA P-256 (prime256v1) key, or a KMS key of spec ECC_NIST_P256.",
    )


def load_private_key(data, passphrase=None, resource="the private key"):
    """A private key from PEM bytes, optionally passphrase-protected. Messages never hold the passphrase."""
    crypto = require_cryptography()
    if isinstance(data, str):
        data = data.encode("utf-8")
    password = passphrase.encode("utf-8") if isinstance(passphrase, str) else passphrase
    try:
        key = crypto.serialization.load_pem_private_key(data, password=password or None)
    except TypeError as error:
        if "encrypted" in str(error) and "not encrypted" not in str(error):
            raise InvalidInput(
                "%s is passphrase-protected and no passphrase was given" % resource,
                resource=resource,
                hint="Give key_passphrase.",
            ) from None
        raise InvalidInput(
            "%s is not passphrase-protected but a passphrase was given" % resource,
            resource=resource,
            hint="Drop key_passphrase.",
        ) from None
    except (ValueError, crypto.UnsupportedAlgorithm):
        raise InvalidInput(
            "%s cannot be read: not a PEM private key, or the passphrase is wrong" % resource,
            resource=resource,
            hint="Check the file and key_passphrase.",
        ) from None
    if algorithm_of(key) is None:
        raise _unsupported(resource, resource)
    return key


def load_public_key(data, resource="the public key"):
    """A public key from PEM (``-----BEGIN PUBLIC KEY-----``) or DER SubjectPublicKeyInfo bytes."""
    crypto = require_cryptography()
    if isinstance(data, str):
        data = data.encode("utf-8")
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            key = crypto.serialization.load_pem_public_key(data)
        else:
            key = crypto.serialization.load_der_public_key(data)
    except (ValueError, crypto.UnsupportedAlgorithm):
        raise InvalidInput(
            "%s is not a PEM or DER public key" % resource,
            resource=resource,
            hint="Give the PEM of the public key (-----BEGIN PUBLIC KEY-----), or its path.",
        ) from None
    if algorithm_of(key) is None:
        raise _unsupported(resource, resource)
    return key


def public_key_der(public_key):
    serialization = require_cryptography().serialization
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def public_key_pem(public_key):
    serialization = require_cryptography().serialization
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode(
        "ascii"
    )


def keyid_of(public_key):
    """sha256, hex, of the DER SubjectPublicKeyInfo."""
    return hashlib.sha256(public_key_der(public_key)).hexdigest()


def verify(public_key, data, signature):
    """True when ``signature`` is a valid signature of ``data`` by ``public_key``; never raises for a bad one."""
    crypto = require_cryptography()
    try:
        if algorithm_of(public_key) == ED25519:
            public_key.verify(signature, data)
        else:
            public_key.verify(signature, data, crypto.ec.ECDSA(crypto.hashes.SHA256()))
    except (crypto.InvalidSignature, ValueError, TypeError):
        return False
    return True


class LocalSigner:
    """Signs with a private key held in this process (read from a PEM file)."""

    def __init__(self, private_key, name=None):
        require_cryptography()
        self.private_key = private_key
        self.public_key = private_key.public_key()
        self.algorithm = algorithm_of(private_key)
        self.keyid = keyid_of(self.public_key)
        self.name = name or "local key %s" % self.keyid[:16]

    @classmethod
    def from_pem_file(cls, path, passphrase=None):
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as error:
            raise InvalidInput(
                "cannot read the key file %s: %s" % (path, error.strerror or error), resource=path
            ) from None
        return cls(load_private_key(data, passphrase, resource="key file %s" % path), name=path)

    def sign(self, data):
        if self.algorithm == ED25519:
            return self.private_key.sign(data)
        crypto = require_cryptography()
        return self.private_key.sign(data, crypto.ec.ECDSA(crypto.hashes.SHA256()))
