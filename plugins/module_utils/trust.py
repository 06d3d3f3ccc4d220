# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Public face of image signing and the trust policy, for modules and plugins. No Ansible import.

Usage:

policy = load_policy("policy.yml")                      # or a dict; InvalidInput when malformed
verdict = verify_image(image_backend(params), "ami-…", policy)
if not verdict.verified: fail(verdict.message)           # verdict.reason: "descriptor mismatch", …

signer = local_signer("keys/build.pem", passphrase)       # or kms_signer(params, "alias/golden")
outcome = sign_image(image_backend(params), "ami-…", signer, claims={"tests": "passed"})
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import TYPE_CHECKING

from ._core.errors import InvalidInput, PhoenixError

if TYPE_CHECKING:  # for readers and checkers only; at run time ``__getattr__`` imports them when first read
    from ._core import dsse
    from ._core.descriptor import descriptor_digest, image_descriptor, subject_name
    from ._core.keys import keyid_of, load_public_key, public_key_pem
    from ._core.policy import TrustPolicy, Verification
    from ._core.signing import SignOutcome
    from ._core.statement import build_statement

# The trust code (the policy, signing, DSSE, keys and through them ``cryptography``) is imported when a
# function here first needs it: a task that merely asks ``policy_given`` loads none of it. The names
# re-exported below are imported the same way, when first read (``__getattr__``).

__all__ = [
    "InvalidInput",
    "PhoenixError",
    "SignOutcome",
    "TrustPolicy",
    "Verification",
    "build_statement",
    "bundle_text",
    "descriptor_digest",
    "dsse",
    "image_descriptor",
    "keyid_of",
    "kms_signer",
    "load_policy",
    "load_public_key",
    "local_signer",
    "policy_given",
    "public_key_pem",
    "resolved_policy",
    "sign_image",
    "subject_name",
    "verify_image",
    "verify_images",
    "write_bundle",
]


def __getattr__(name):
    if name in ("TrustPolicy", "Verification"):
        from ._core import policy

        return getattr(policy, name)
    if name in ("keyid_of", "load_public_key", "public_key_pem"):
        from ._core import keys

        return getattr(keys, name)
    if name in ("descriptor_digest", "image_descriptor", "subject_name"):
        from ._core import descriptor

        return getattr(descriptor, name)
    if name == "dsse":
        from ._core import dsse

        return dsse
    if name == "SignOutcome":
        from ._core.signing import SignOutcome

        return SignOutcome
    if name == "build_statement":
        from ._core.statement import build_statement

        return build_statement
    raise AttributeError("module %r has no attribute %r" % (__name__, name))


def load_policy(source, base_dir=None):
    """A TrustPolicy from a YAML/JSON file path or a dict; raises InvalidInput with a clear message when bad.

    None, ``""`` and ``{}`` (and a policy without keys) are refused with the one message of
    ``_core.policy.no_trusted_key``: a caller for which the policy is optional checks ``policy_given`` first.

    Relative public key paths are read from the policy file's folder, or from ``base_dir`` for a dict.
    """
    from ._core.policy import TrustPolicy, load_policy_file, no_trusted_key, parse_policy
    from .providers import image_id_patterns

    if isinstance(source, TrustPolicy):
        return source
    if source is None or source == "" or source == {}:
        raise no_trusted_key()  # an empty policy is an error, never "verify nothing" (fail closed)
    if isinstance(source, dict):
        return parse_policy(source, base_dir=base_dir, image_id_patterns=image_id_patterns())
    if isinstance(source, (str, os.PathLike)) and str(source):
        path = os.path.expanduser(str(source))
        if base_dir and not os.path.isabs(path):
            path = os.path.join(base_dir, path)
        return load_policy_file(path, image_id_patterns=image_id_patterns())
    raise InvalidInput(
        "policy must be the path of a trust policy file or a mapping; got %s" % type(source).__name__,
        resource="policy",
        hint="See docs/signing.md for the trust policy format.",
    )


def policy_given(value):
    """Whether an optional policy option was given at all. Only None (left out) is "not given": an empty
    string or mapping was given, and ``load_policy`` refuses it."""
    return value is not None


def verify_image(image_backend, image_id, policy, now=None, key_backend=None, store=None):
    """The Verification of one image under ``policy`` (a TrustPolicy, dict or path).

    Never raises because an image fails verification: the verdict says why (``.reason``). Raises
    PhoenixError for a malformed policy or when the cloud cannot be read. ``key_backend`` fetches the
    public keys of KMS keys the policy trusts; by default the image backend's own cloud provides it.
    ``store`` (a BlobStore) holds the full reports of summarised scan attestations.
    """
    from ._core.policy import evaluate

    policy = _resolved(image_backend, policy, key_backend)
    image = image_backend.get(image_id)
    return evaluate(
        policy,
        image,
        image_backend.codec,
        image_id=image_id,
        now=now,
        region=getattr(image_backend, "region", None),
        store=store,
    )


def verify_images(image_backend, images, policy, missing=(), now=None, key_backend=None, store=None):
    """{image id: Verification} of images already read (model.Image), with no further image call.

    ``image_backend`` supplies the codec that reads the images' tags and the cloud's key service (for KMS
    keys the policy trusts, fetched once); ids in ``missing`` (images the cloud no longer has) get the
    "image not found" verdict. ``store`` (a BlobStore) holds the full reports of summarised scan attestations.
    """
    from ._core.policy import evaluate

    policy = _resolved(image_backend, policy, key_backend)
    region = getattr(image_backend, "region", None)
    codec = image_backend.codec
    verdicts = {image.id: evaluate(policy, image, codec, now=now, region=region, store=store) for image in images}
    for image_id in missing:
        verdicts[image_id] = evaluate(policy, None, codec, image_id=image_id, now=now, region=region)
    return verdicts


def resolved_policy(image_backend, policy, key_backend=None):
    """``load_policy(policy)`` with the public keys of its KMS keys fetched (once) from the image backend's cloud."""
    return _resolved(image_backend, policy, key_backend)


def _resolved(image_backend, policy, key_backend):
    policy = load_policy(policy)
    if policy.cloud_keys and any(key.public_key is None for key in policy.cloud_keys):
        if key_backend is None:
            from .providers import signing_key_backend_for

            key_backend = signing_key_backend_for(image_backend)
        policy.resolve(key_backend)
    return policy


def sign_image(image_backend, image_id, signer, claims=None, check_mode=False):
    """Sign the image (descriptor → in-toto statement → DSSE) and store the envelope in its tags.

    Idempotent: the same key and the same statement change nothing. Returns a SignOutcome.
    """
    from ._core.signing import sign_image as sign

    return sign(image_backend, image_id, signer, claims=claims, check_mode=check_mode)


def local_signer(path, passphrase=None):
    """A signer for an Ed25519 or ECDSA P-256 private key in a PEM file."""
    from ._core.keys import LocalSigner

    return LocalSigner.from_pem_file(os.path.expanduser(path), passphrase)


def kms_signer(params, key_id):
    """A signer for a cloud KMS key (on AWS: ECC_NIST_P256 key id, ARN or alias), from connection params."""
    from .providers import signing_key_backend

    return signing_key_backend(params).signer(key_id)


def bundle_text(envelope):
    """The offline bundle: the DSSE envelope as JSON, as any DSSE verifier reads it."""
    return json.dumps(envelope, indent=2, sort_keys=True) + "\n"


def write_bundle(path, envelope, check_mode=False):
    """Write the envelope to ``path`` unless it already holds exactly that; returns whether it changed."""
    text = bundle_text(envelope)
    try:
        with open(path, encoding="utf-8") as handle:
            if handle.read() == text:
                return False
    except FileNotFoundError:
        pass
    except (OSError, UnicodeDecodeError):
        pass  # unreadable or not ours: replace it
    if check_mode:
        return True
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise InvalidInput(
            "cannot write the bundle %s: the folder %s does not exist" % (path, directory),
            resource=path,
            hint="Create the folder first, or choose another bundle_path. The image was signed.",
        )
    handle, temporary = tempfile.mkstemp(prefix=".bundle-", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except OSError as error:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise InvalidInput("cannot write the bundle %s: %s" % (path, error), resource=path) from None
    return True
