# Private to this collection.
"""The trust policy, and the verdict on an image's stored signatures under it. No I/O but reading key files.

A policy (YAML or JSON; see docs/signing.md):

    keys:                        # trusted keys; at least one
      - name: build
        public_key: keys/build.pub          # a PEM path (relative to the policy file) or inline PEM
      - name: security
        kms_key: alias/security-approver    # a cloud KMS key; its public key is fetched to verify
        region: us-east-1                   # optional, the KMS key's region
    threshold: 1                 # distinct trusted keys whose valid signatures are required
    required_claims: {tests: passed}        # claims every counted signature must carry
    max_age_days: 90             # refuse images created longer ago
    allowed_owners: ["123456789012"]        # accounts the image must belong to
    revoked: [<image id>, <descriptor sha256>, <keyid>]   # images, image descriptors, signing keys
    vulnerabilities: {max_severity: high, allow: [{id, reason, expires}], max_scan_age_days: 7}
    compliance: {profile: <XCCDF profile id>, max_failed: 0, required_rules: [<rule id>]}

The two scan sections are parsed (and refused when empty or malformed) by ``_scan/gate.py``, which also
holds their verdicts on an image's scan attestations.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import re
from dataclasses import dataclass, field

from .._scan import gate
from .._scan.attest import scan_refusals
from . import dsse, keys
from .canonical import number, sha256_hex
from .descriptor import descriptor_digest
from .errors import InvalidInput
from .signatures import stored_signatures
from .statement import STATEMENT_TYPE, claims_of, subjects_of
from .timeutil import parse_utc, utcnow

# The reasons a verification fails, most telling first: when no signature counts, the verdict names the
# reason of the signature that came closest.
IMAGE_NOT_FOUND = "image not found"
OWNER_NOT_ALLOWED = "owner not allowed"
REVOKED = "revoked"
EXPIRED = "expired"
NO_SIGNATURE = "no signature"
DESCRIPTOR_MISMATCH = "descriptor mismatch"
BAD_SIGNATURE = "bad signature"
FAILED_CLAIM = "failed claim"
MISSING_CLAIM = "missing claim"
UNKNOWN_KEY = "unknown key"
BELOW_THRESHOLD = "below threshold"
SIGNATURE_PRIORITY = (REVOKED, DESCRIPTOR_MISMATCH, BAD_SIGNATURE, FAILED_CLAIM, MISSING_CLAIM, UNKNOWN_KEY)

POLICY_FIELDS = (
    "version",
    "keys",
    "threshold",
    "required_claims",
    "max_age_days",
    "allowed_owners",
    "revoked",
    "promoters",
    "vulnerabilities",
    "compliance",
)
KEY_FIELDS = ("name", "public_key", "kms_key", "region")
MAX_AGE_DAYS_LIMIT = 36500

# The one refusal of an empty or keyless policy (``{}``, ``""``, no ``keys``, ``keys: []``, ``keys`` as a
# mapping), wherever a policy is read: a policy that trusts no key must never mean "verify nothing".
NO_TRUSTED_KEY = (
    "it trusts no key; keys must be a list of one or more mappings, each with public_key (a PEM path or inline "
    "PEM) or kms_key (a key of the cloud's key service), e.g. keys: [{name: build, public_key: build.pub}]"
)
NO_TRUSTED_KEY_HINT = (
    "An empty policy does not switch verification off; give the keys to trust. Only leaving the option out "
    "(blue_green's verify, fleet_drift's policy) skips verification, and says so in the result."
)

# How messages name a policy given as a mapping in a task, rather than as a file.
INLINE = "(inline mapping)"

# What ``revoked`` may hold, told apart by shape: an image id of a cloud the collection knows (the patterns
# the provider map gives ``parse_policy``), or a sha256 (64 hex digits, optionally ``sha256:``) naming an
# image's descriptor digest or a signing key's keyid (sha256 of its DER public key). Anything else is
# refused, never ignored.
SHA256_PATTERN = re.compile(r"^(?:sha256:)?([0-9a-f]{64})$")


@dataclass
class TrustedKey:
    name: str
    public_key: object = None  # a cryptography public key, once known
    kms_key: str = None
    region: str = None
    enabled: bool = True
    detail: str = ""

    @property
    def keyid(self):
        return keys.keyid_of(self.public_key) if self.public_key is not None else None

    def to_dict(self):
        return {"name": self.name, "keyid": self.keyid, "kms_key": self.kms_key, "enabled": self.enabled}


@dataclass
class TrustPolicy:
    keys: list
    threshold: int = 1
    required_claims: dict = field(default_factory=dict)
    max_age_days: float = None
    allowed_owners: list = field(default_factory=list)
    revoked: list = field(default_factory=list)
    source: str = INLINE  # the policy file's path, or INLINE for a mapping
    # Keys allowed to promote an image to a channel (image_channel, the golden_image lookup); see _core/channels.py.
    promoters: list = field(default_factory=list)
    # The scan gates (_scan/gate.py): VulnerabilityRules and ComplianceRules, None where the policy has none.
    vulnerabilities: object = None
    compliance: object = None

    @property
    def revoked_images(self):
        return {entry for entry in self.revoked if not SHA256_PATTERN.match(entry)}

    @property
    def revoked_hashes(self):
        """Descriptor digests and keyids the policy revokes (both sha256 hex, told apart only by what matches)."""
        return {entry for entry in self.revoked if SHA256_PATTERN.match(entry)}

    def revokes_key(self, keyid):
        return bool(keyid) and keyid.lower() in self.revoked_hashes

    @property
    def cloud_keys(self):
        return [key for key in self.keys if key.kms_key]

    def resolve(self, key_source):
        """Fetch the public keys of cloud KMS keys (once) through ``key_source.describe_public_key``."""
        for key in self.cloud_keys:
            if key.public_key is None:
                if key_source is None:
                    raise InvalidInput(
                        "%s trusts the KMS key %s but no cloud key service is available" % (self.source, key.kms_key),
                        resource=key.kms_key,
                    )
                info = key_source.describe_public_key(key.kms_key, key.region)
                key.public_key = keys.load_public_key(info["public_key_der"], resource="KMS key %s" % key.kms_key)
                key.enabled = info.get("enabled", True)
                key.detail = info.get("state", "")
        return self

    def to_dict(self):
        return {
            "keys": [key.to_dict() for key in self.keys],
            "threshold": self.threshold,
            "required_claims": self.required_claims,
            "max_age_days": self.max_age_days,
            "allowed_owners": self.allowed_owners,
            "revoked": self.revoked,
            "promoters": [key.to_dict() for key in self.promoters],
            "vulnerabilities": self.vulnerabilities.to_dict() if self.vulnerabilities else None,
            "compliance": self.compliance.to_dict() if self.compliance else None,
        }


def _bad(source, message, hint=None):
    return InvalidInput(
        "invalid trust policy %s: %s" % (source or INLINE, message),
        resource=source or INLINE,
        hint=hint or "Fix the policy; see docs/signing.md for its format.",
    )


def no_trusted_key(source=INLINE):
    """The one error for an empty or keyless policy (see NO_TRUSTED_KEY)."""
    return _bad(source, NO_TRUSTED_KEY, hint=NO_TRUSTED_KEY_HINT)


def parse_policy(document, base_dir=None, source=INLINE, *, image_id_patterns):
    """A TrustPolicy from its parsed YAML/JSON; refuses anything unknown or contradictory (fail closed).

    ``source`` names the policy in messages: its file's path, or INLINE for a mapping given in a task.
    ``image_id_patterns`` ({cloud: compiled pattern}) tell the image ids that ``revoked`` may name.
    """
    source = source or INLINE
    if document in (None, "", {}):
        raise no_trusted_key(source)
    if not isinstance(document, dict):
        raise _bad(source, "a policy is a mapping with keys, threshold, required_claims, …")
    unknown = sorted(set(document) - set(POLICY_FIELDS))
    if unknown:
        raise _bad(source, "unknown field(s) %s; known: %s" % (", ".join(map(str, unknown)), ", ".join(POLICY_FIELDS)))
    version = document.get("version", 1)
    if version != 1:
        raise _bad(source, "version %r is not supported; this collection reads version 1" % (version,))
    entries = document.get("keys")
    if not isinstance(entries, list) or not entries:
        raise no_trusted_key(source)
    trusted, seen = [], set()
    for index, entry in enumerate(entries):
        key = _parse_key(entry, index, base_dir, source)
        if key.keyid is not None:
            if key.keyid in seen:
                continue  # the same key twice counts once toward the threshold
            seen.add(key.keyid)
        trusted.append(key)
    threshold = document.get("threshold", 1)
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
        raise _bad(source, "threshold must be a whole number of keys, at least 1; got %r" % (threshold,))
    if threshold > len(trusted):
        raise _bad(source, "threshold %d cannot be met by %d distinct trusted key(s)" % (threshold, len(trusted)))
    claims = document.get("required_claims") or {}
    if not isinstance(claims, dict):
        raise _bad(source, "required_claims must be a mapping of claim name to required value(s)")
    for name, wanted in claims.items():
        for value in wanted if isinstance(wanted, list) else [wanted]:
            if isinstance(value, (dict, list)):
                raise _bad(source, "required claim %s must be a value or a list of values" % name)
    max_age = document.get("max_age_days")
    if max_age is not None and (
        isinstance(max_age, bool)
        or not isinstance(max_age, (int, float))
        or not math.isfinite(max_age)
        or not 0 < max_age <= MAX_AGE_DAYS_LIMIT
    ):
        raise _bad(
            source, "max_age_days must be a number of days above 0, at most %d; got %r" % (MAX_AGE_DAYS_LIMIT, max_age)
        )
    owners = _strings(document.get("allowed_owners"), "allowed_owners", source)
    revoked = _revoked(document.get("revoked"), source, image_id_patterns)
    return TrustPolicy(
        keys=trusted,
        threshold=threshold,
        required_claims={str(name): wanted for name, wanted in claims.items()},
        max_age_days=max_age,
        allowed_owners=owners,
        revoked=revoked,
        promoters=_promoters(document.get("promoters"), base_dir, source),
        source=source,
        # Present means gated: an empty or malformed section is refused, never read as no gate.
        vulnerabilities=gate.parse_vulnerabilities(document["vulnerabilities"], source)
        if "vulnerabilities" in document
        else None,
        compliance=gate.parse_compliance(document["compliance"], source) if "compliance" in document else None,
    )


def _promoters(value, base_dir, source):
    """The keys allowed to promote images to channels: entries like those of ``keys``."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise _bad(source, "promoters must list keys like those under keys (public_key or kms_key)")
    return [_parse_key(entry, index, base_dir, source) for index, entry in enumerate(value)]


def _revoked(value, source, image_id_patterns):
    """The ``revoked`` entries, lower-cased (a sha256 without its ``sha256:``); an unrecognised one is an error."""
    found = []
    for entry in _strings(value, "revoked", source):
        text = entry.strip().lower()
        digest = SHA256_PATTERN.match(text)
        if digest:
            found.append(digest.group(1))
        elif any(pattern.match(text) for pattern in image_id_patterns.values()):
            found.append(text)
        else:
            shapes = ", ".join("%s: %s" % (cloud, shape.pattern) for cloud, shape in sorted(image_id_patterns.items()))
            raise _bad(
                source,
                "revoked entry %r is neither an image id (%s) nor a sha256 of 64 hex digits (an image's "
                "descriptor digest or a signing key's keyid)" % (entry, shapes or "no cloud's image ids are known"),
                hint="A revocation that matches nothing would revoke nothing: fix or remove the entry. Keyids and "
                "descriptor digests are in image_verify's results (signatures[].keyid, descriptor_digest).",
            )
    return found


def _strings(value, what, source):
    if value is None:
        return []
    if not isinstance(value, list):
        raise _bad(source, "%s must be a list" % what)
    for item in value:
        if not isinstance(item, str):
            raise _bad(
                source,
                "%s entry %r is not a string" % (what, item),
                hint="Quote it: an account id such as 012345678901 read as a number loses its leading zero.",
            )
    return list(value)


def _parse_key(entry, index, base_dir, source):
    if isinstance(entry, str):
        entry = {"public_key": entry}
    if not isinstance(entry, dict):
        raise _bad(source, "keys[%d] must be a mapping with public_key or kms_key" % index)
    unknown = sorted(set(entry) - set(KEY_FIELDS))
    if unknown:
        raise _bad(
            source, "keys[%d] has unknown field(s) %s; known: %s" % (index, ", ".join(unknown), ", ".join(KEY_FIELDS))
        )
    if bool(entry.get("public_key")) == bool(entry.get("kms_key")):
        raise _bad(source, "keys[%d] needs exactly one of public_key (PEM or path) and kms_key" % index)
    if entry.get("kms_key"):
        return TrustedKey(
            name=str(entry.get("name") or entry["kms_key"]), kms_key=str(entry["kms_key"]), region=entry.get("region")
        )
    text = str(entry["public_key"])
    if text.lstrip().startswith("-----BEGIN"):
        public_key = keys.load_public_key(text, resource="%s keys[%d]" % (source, index))
        name = entry.get("name") or "keys[%d]" % index
    else:
        path = os.path.expanduser(text)
        if base_dir and not os.path.isabs(path):
            path = os.path.join(base_dir, path)
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except (OSError, ValueError) as error:  # ValueError: a path with a NUL byte
            raise _bad(
                source,
                "keys[%d]: cannot read public key %s: %s" % (index, path, getattr(error, "strerror", None) or error),
            ) from None
        public_key = keys.load_public_key(data, resource="public key %s" % path)
        name = entry.get("name") or text
    return TrustedKey(name=str(name), public_key=public_key)


def load_policy_file(path, *, image_id_patterns):
    """Parse a policy file (YAML, or JSON where PyYAML is missing); relative key paths are from its folder."""
    try:
        with open(path, "rb") as handle:
            text = handle.read().decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInput("cannot read trust policy %s: %s" % (path, error), resource=path) from None
    try:
        import yaml
    except ImportError:
        yaml = None
    try:
        document = yaml.safe_load(text) if yaml is not None else json.loads(text)
    except ValueError as error:
        raise _bad(path, "not valid JSON: %s" % error) from None
    except Exception as error:  # yaml.YAMLError and its subclasses
        raise _bad(path, "not valid YAML: %s" % error) from None
    return parse_policy(
        document, base_dir=os.path.dirname(os.path.abspath(path)), source=path, image_id_patterns=image_id_patterns
    )


# -- the verdict ---------------------------------------------------------------------------------------


@dataclass
class Verification:
    verified: bool
    reason: str = None
    image_id: str = None
    region: str = None
    message: str = ""
    descriptor_digest: str = None
    statement: dict = None
    signatures: list = field(default_factory=list)
    threshold: int = 1
    valid_keys: list = field(default_factory=list)
    # The scan gates' verdict (_scan/attest.py), when the policy has vulnerabilities or compliance.
    attestations: list = field(default_factory=list)
    refusals: list = field(default_factory=list)

    def to_dict(self):
        return {
            "verified": self.verified,
            "reason": self.reason,
            "message": self.message,
            "image_id": self.image_id,
            "region": self.region,
            "descriptor_digest": self.descriptor_digest,
            "statement": self.statement,
            "signatures": self.signatures,
            "threshold": self.threshold,
            "valid_keys": self.valid_keys,
            "attestations": self.attestations,
            "refusals": self.refusals,
        }


def _claim_text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float):
        return number(value)
    return str(value)


def _check_claims(claims, required):
    for name, wanted in sorted(required.items()):
        if name not in claims:
            return "%s %s" % (MISSING_CLAIM, name), "the statement has no claim %r" % name
        accepted = [_claim_text(value) for value in (wanted if isinstance(wanted, list) else [wanted])]
        if _claim_text(claims[name]) not in accepted:
            return (
                "%s %s" % (FAILED_CLAIM, name),
                "claim %r is %r, the policy requires %s" % (name, claims[name], " or ".join(map(repr, accepted))),
            )
    return None, ""


def _result(keyid, key=None, reason=None, detail="", statement=None, payload=None):
    return {
        "keyid": keyid,
        "key": key.name if key is not None else None,
        "valid": reason is None,
        "reason": reason,
        "detail": detail,
        "statement_digest": sha256_hex(payload) if payload is not None else None,
        "_statement": statement,
    }


def _check_signature(keyid, signature, parsed, trusted_key, live_digest, policy):
    if policy.revokes_key(keyid):
        name = trusted_key.name if trusted_key is not None else "key %s" % keyid[:16]
        return _result(keyid, trusted_key, REVOKED, "%s (keyid %s) is revoked by the policy" % (name, keyid))
    if trusted_key is None:
        return _result(keyid, reason=UNKNOWN_KEY, detail="key %s is not in the trust policy" % keyid)
    if not trusted_key.enabled:
        return _result(
            keyid, trusted_key, REVOKED, "key %s (%s) is %s" % (trusted_key.name, keyid[:16], trusted_key.detail)
        )
    if not keys.verify(trusted_key.public_key, parsed.pae(), signature):
        return _result(keyid, trusted_key, BAD_SIGNATURE, "the signature by %s does not verify" % trusted_key.name)
    if parsed.payload_type != dsse.PAYLOAD_TYPE:
        return _result(
            keyid, trusted_key, DESCRIPTOR_MISMATCH, "payloadType %r is not an in-toto statement" % parsed.payload_type
        )
    try:
        statement = json.loads(parsed.payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        statement = None
    if not isinstance(statement, dict) or statement.get("_type") != STATEMENT_TYPE:
        return _result(keyid, trusted_key, DESCRIPTOR_MISMATCH, "the signed payload is not an in-toto Statement v1")
    digests = [digest for _name, digest in subjects_of(statement)]
    if live_digest not in digests:
        return _result(
            keyid,
            trusted_key,
            DESCRIPTOR_MISMATCH,
            "%s signed %s, not this image (descriptor %s): the image differs from what was signed"
            % (
                trusted_key.name,
                ", ".join(str(name) for name, _digest in subjects_of(statement)) or "nothing",
                live_digest,
            ),
            statement,
            parsed.payload,
        )
    reason, detail = _check_claims(claims_of(statement), policy.required_claims)
    return _result(keyid, trusted_key, reason, detail, statement, parsed.payload)


def evaluate(policy, image, codec, image_id=None, now=None, region=None, store=None):
    """The verdict on ``image`` (a model.Image or None) under ``policy``, whose cloud keys are resolved.

    ``codec`` (the image backend's ``codec.MetadataCodec``) reads the signatures in the image's tags.
    ``now`` is an aware datetime (default the current UTC time); ``image_id`` and ``region`` name the
    image in the verdict when it was not found. When the policy has ``vulnerabilities`` or ``compliance``,
    a signed image must also carry valid scan attestations that pass them; ``store`` (a BlobStore or
    None) is where summarised attestations' full reports are read from.
    """
    now = now or utcnow()
    image_id = image.id if image is not None else image_id
    verdict = Verification(verified=False, image_id=image_id, threshold=policy.threshold, region=region)
    if image is None:
        return _fail(verdict, IMAGE_NOT_FOUND, "no such image")
    verdict.region = image.region
    verdict.descriptor_digest = live_digest = descriptor_digest(image)
    if policy.allowed_owners and image.owner not in policy.allowed_owners:
        return _fail(
            verdict, OWNER_NOT_ALLOWED, "owner %s is not one of %s" % (image.owner, ", ".join(policy.allowed_owners))
        )
    if image.id.lower() in policy.revoked_images or live_digest in policy.revoked_hashes:
        return _fail(
            verdict,
            REVOKED,
            "the policy revokes %s"
            % (image.id if image.id.lower() in policy.revoked_images else "its descriptor %s" % live_digest),
        )
    if policy.max_age_days is not None:
        created = parse_utc(image.created, "image creation time") if image.created else None
        if created is None or now - created > datetime.timedelta(days=policy.max_age_days):
            return _fail(
                verdict,
                EXPIRED,
                "created %s, more than %s days ago (max_age_days)"
                % (image.created or "at an unknown time", policy.max_age_days),
            )
    stored = stored_signatures(codec, image)
    if not stored:
        return _fail(verdict, NO_SIGNATURE, "the image carries no signature tags")
    by_keyid = {key.keyid: key for key in policy.keys if key.keyid}
    results = []
    for entry in stored:
        if entry.error:
            results.append(_result(entry.key_prefix, reason=BAD_SIGNATURE, detail=entry.error))
            continue
        parsed = dsse.parse(entry.envelope)
        for keyid, signature in parsed.signatures:
            keyid = keyid.lower()
            trusted_key = by_keyid.get(keyid)
            if trusted_key is None:
                # DSSE's keyid is an unauthenticated hint: a signature with no or another keyid still
                # counts when a trusted key verifies it.
                trusted_key = next(
                    (
                        key
                        for key in policy.keys
                        if key.public_key is not None and keys.verify(key.public_key, parsed.pae(), signature)
                    ),
                    None,
                )
                keyid = trusted_key.keyid if trusted_key is not None else keyid
            results.append(_check_signature(keyid, signature, parsed, trusted_key, live_digest, policy))
    valid = sorted({result["keyid"] for result in results if result["valid"]})
    chosen = next((result for result in results if result["valid"]), None) or next(
        (result for result in results if result["_statement"] is not None), None
    )
    verdict.statement = chosen["_statement"] if chosen else None
    verdict.signatures = [{k: v for k, v in result.items() if k != "_statement"} for result in results]
    verdict.valid_keys = valid
    if len(valid) >= policy.threshold:
        if policy.vulnerabilities is not None or policy.compliance is not None:
            refusals, verdict.attestations = scan_refusals(policy, image, codec, now, store)
            if refusals:
                verdict.refusals = [refusal.to_dict() for refusal in refusals]
                return _fail(verdict, refusals[0].reason, "; ".join(refusal.message for refusal in refusals))
        verdict.verified = True
        verdict.message = "image %s in %s is signed by %d trusted key(s) of %d required: %s" % (
            image.id,
            image.region,
            len(valid),
            policy.threshold,
            ", ".join(sorted({result["key"] for result in results if result["valid"]})),
        )
        return verdict
    if valid:
        return _fail(
            verdict,
            BELOW_THRESHOLD,
            "%d valid signature(s) from distinct trusted keys, the policy requires %d" % (len(valid), policy.threshold),
        )
    worst = min(results, key=lambda result: _priority(result["reason"]))
    return _fail(verdict, worst["reason"], worst["detail"])


def _priority(reason):
    for rank, prefix in enumerate(SIGNATURE_PRIORITY):
        if reason.startswith(prefix):
            return rank
    return len(SIGNATURE_PRIORITY)


def _fail(verdict, reason, detail):
    verdict.verified = False
    verdict.reason = reason
    where = "%s in %s" % (verdict.image_id, verdict.region) if verdict.region else str(verdict.image_id)
    verdict.message = "image %s is not verified: %s (%s)" % (where, reason, detail)
    return verdict
