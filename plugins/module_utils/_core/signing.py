# Private to this collection.
"""Signing an image: statement → DSSE envelope → the image's own tags, idempotently.

A signer is any object with ``keyid``, ``public_key``, ``algorithm``, ``name`` and ``sign(data) -> bytes``
(a local PEM key in ``keys.LocalSigner``, a cloud KMS key in its adapter).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import dsse, keys
from .canonical import sha256_hex
from .descriptor import descriptor_digest, image_descriptor
from .errors import InvalidInput, PhoenixError
from .model import AVAILABLE
from .signatures import envelope_tags, stored_signatures, tag_plan
from .statement import build_statement, statement_payload


@dataclass
class SignOutcome:
    changed: bool
    image_id: str
    region: str
    keyid: str
    statement: dict
    statement_digest: str
    descriptor: dict
    descriptor_digest: str
    envelope: dict = None
    tags_set: list = field(default_factory=list)
    tags_removed: list = field(default_factory=list)
    # The signature tags with their values (what the image's tags now hold for this key).
    tags: dict = field(default_factory=dict)
    # What was done (or would be, in check mode): one sign_image naming the signature tags written/removed.
    actions: list = field(default_factory=list)
    before: dict = field(default_factory=dict)
    after: dict = field(default_factory=dict)
    # What ImageSigning's attest step did to the image before signing it ([] without one).
    attestations: list = field(default_factory=list)

    def to_dict(self):
        return {
            "changed": self.changed,
            "image_id": self.image_id,
            "region": self.region,
            "keyid": self.keyid,
            "statement": self.statement,
            "statement_digest": self.statement_digest,
            "descriptor": self.descriptor,
            "descriptor_digest": self.descriptor_digest,
            "envelope": self.envelope,
            "tags_set": self.tags_set,
            "tags_removed": self.tags_removed,
            "actions": self.actions,
        }


def existing_envelope(codec, image, keyid, payload, public_key):
    """The envelope already stored for ``keyid`` if it signs exactly ``payload`` and verifies, else None.

    ECDSA signatures differ at every signing, so sameness is judged on the payload and the key.
    """
    for stored in stored_signatures(codec, image):
        if stored.envelope is None or not keyid.startswith(stored.key_prefix):
            continue
        parsed = dsse.parse(stored.envelope)
        if parsed.payload_type != dsse.PAYLOAD_TYPE or parsed.payload != payload:
            continue
        for signed_keyid, signature in parsed.signatures:
            if signed_keyid == keyid and keys.verify(public_key, parsed.pae(), signature):
                return stored.envelope
    return None


def signers_of(codec, image):
    """The keyids that the signatures stored on ``image`` name (read, not verified: image_verify verifies)."""
    return sorted(
        {
            signed_keyid
            for stored in stored_signatures(codec, image)
            if stored.envelope is not None
            for signed_keyid, _sig in dsse.parse(stored.envelope).signatures
        }
    )


def existing_image(backend, image_id):
    """The image, or the ImageNotFound failure every signing and promotion step gives."""
    image = backend.get(image_id)
    if image is None:
        raise PhoenixError(
            "image %s not found in %s" % (image_id, backend.region),
            resource=image_id,
            code="ImageNotFound",
            cloud=backend.cloud,
            hint="Check image_id and region.",
        )
    return image


def sign_image(backend, image_id, signer, claims=None, check_mode=False, image=None):
    """Sign the image and store the envelope in its tags; a second run with the same inputs changes nothing.

    ``image``, when the caller has just read it (the image workflow, as each image becomes available), is
    signed as it is instead of being read again.
    """
    if image is None or image.id != image_id:
        image = existing_image(backend, image_id)
    if image.state != AVAILABLE:
        raise InvalidInput(
            "image %s in %s is %s; only an available image can be signed" % (image.id, image.region, image.state),
            resource=image.id,
            hint="Wait for the image to become available (the image module waits by default), then sign.",
        )
    statement = build_statement(image, claims)
    payload = statement_payload(statement)
    outcome = SignOutcome(
        changed=False,
        image_id=image.id,
        region=image.region,
        keyid=signer.keyid,
        statement=statement,
        statement_digest=sha256_hex(payload),
        descriptor=image_descriptor(image),
        descriptor_digest=descriptor_digest(image),
    )
    codec = backend.codec
    outcome.before = {"signed_by": signers_of(codec, image)}
    outcome.envelope = existing_envelope(codec, image, signer.keyid, payload, signer.public_key)
    if outcome.envelope is not None:
        outcome.after = outcome.before
        return outcome
    if check_mode:
        # Size the tags with the longest signature the algorithm makes, to refuse now what would not fit.
        placeholder = b"\0" * keys.MAX_SIGNATURE_LENGTH.get(signer.algorithm, 128)
        envelope = dsse.envelope(payload, [(signer.keyid, placeholder)])
    else:
        signature = signer.sign(dsse.pae(dsse.PAYLOAD_TYPE, payload))
        if not keys.verify(signer.public_key, dsse.pae(dsse.PAYLOAD_TYPE, payload), signature):
            raise PhoenixError(
                "the signature made by %s does not verify with its own public key" % signer.name,
                resource=signer.name,
                code="SignatureSelfCheckFailed",
                hint="Nothing was stored. Check that the key is an ECC_NIST_P256 or Ed25519 signing key.",
            )
        envelope = dsse.envelope(payload, [(signer.keyid, signature)])
    resource = "image %s in %s" % (image.id, image.region)
    wanted = envelope_tags(codec, signer.keyid, envelope, resource)
    to_set, to_remove = tag_plan(codec, image.tags, signer.keyid, wanted, resource)
    if not check_mode:
        backend.set_tags(image, to_set, to_remove)
        outcome.envelope = envelope
    outcome.changed = True
    outcome.tags = dict(wanted)
    outcome.tags_set = sorted(wanted)
    outcome.tags_removed = to_remove
    outcome.actions.append(
        {
            "action": "sign_image",
            "image_id": image.id,
            "region": image.region,
            "keyid": signer.keyid,
            "tags_set": outcome.tags_set,
            "tags_removed": list(to_remove),
        }
    )
    outcome.after = {"signed_by": sorted(set(outcome.before["signed_by"]) | {signer.keyid})}
    return outcome


class ImageSigning:
    """One key and one set of claims, to sign images region by region (the image workflow signs each copy
    as it arrives, from a thread of its own).

    ``signer_for(backend)`` makes the signer for an image backend's region: a local key is the same
    everywhere; a cloud KMS key given by alias or id is that region's key. ``prepare(backend)`` makes it
    before the threads start (it may make the region's client); ``sign`` then only uses it.
    """

    def __init__(self, signer_for, claims=None, check_mode=False, attest=None):
        self._signer_for = signer_for
        self.claims = dict(claims or {})
        self.check_mode = check_mode
        # attest(backend, image, signer) -> attest.attest_image's result: run on each image before its signature,
        # so that a signed image is one that carries its attestations (a run killed between the two leaves an
        # unsigned image, which a bake deletes and makes again).
        self._attest = attest
        self._signers = {}

    def prepare(self, backend):
        key = (backend.cloud, backend.region)
        if key not in self._signers:
            self._signers[key] = self._signer_for(backend)
        return self._signers[key]

    def sign(self, backend, image):
        signer = self.prepare(backend)
        attested = self._attest(backend, image, signer) if self._attest is not None else None
        # Read again after attesting: the attestations' tags count against what the signature may use.
        fresh = None if attested and attested["changed"] and not self.check_mode else image
        outcome = sign_image(backend, image.id, signer, claims=self.claims, check_mode=self.check_mode, image=fresh)
        if attested is not None:
            outcome.attestations = attested["attestations"]
            outcome.actions[:0] = attested["actions"]
        return outcome
