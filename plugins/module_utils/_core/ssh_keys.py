# Private to this collection.
"""SSH keys made for a builder where the cloud takes a public key as text (instance metadata, a VM's OS
profile) instead of making the key pair itself: an Ed25519 key made here, its private half a file only this
host has."""

from __future__ import annotations

import os

from .keys import require_cryptography


def new_ssh_key(comment):
    """A new Ed25519 key: (its public half as an ``authorized_keys`` line ending in ``comment``, its private
    half in OpenSSH's PEM format)."""
    crypto = require_cryptography()
    private = crypto.ed25519.Ed25519PrivateKey.generate()
    public = (
        private.public_key()
        .public_bytes(crypto.serialization.Encoding.OpenSSH, crypto.serialization.PublicFormat.OpenSSH)
        .decode("ascii")
    )
    pem = private.private_bytes(
        crypto.serialization.Encoding.PEM,
        crypto.serialization.PrivateFormat.OpenSSH,
        crypto.serialization.NoEncryption(),
    )
    return "%s %s" % (public, comment), pem


def write_private_key(path, pem):
    """Write a private key readable by its owner alone, in a directory only its owner may enter."""
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    # Created with its mode: there is no moment at which another user could open it.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
