# Private to this collection.
"""Scan attestations signed, stored with the image, read back and verified. No I/O but the backends'.

An attestation is an in-toto statement about the image (``attestations.py``: the subject is the image's
descriptor, as for its signature) signed as a DSSE envelope with the same keys as signatures, stored in
the image's tags under a name of its own per predicate kind, compressed and chunked like signatures:

    codec.key(ATTESTATION, <kind>, <first 16 hex digits of the keyid>, <chunk number>)
    (on AWS: phoenix:att:vuln:3c1b5e0f9a7d4c2b:0)

so it never collides with signatures (``sig``) or promotions (``promo``). One envelope per kind and key:
attesting again with the same key replaces it, with another key adds one.

The tag budget: one attestation may use at most ``1/SHARE`` of the tags a resource can carry (AWS: 10
of 50) and never more than are free. A predicate whose envelope does not fit is *summarised*: the signed
statement keeps the predicate's shape with fewer details, and says so in ``summary``:

    vuln:       scanner.result.findings keeps the findings rated at or above ``floor`` (unknown ones always),
                each reduced to id, aliases, package, installed_version, fixed_version, severity; counts
                stay those of the whole scan; summary = {floor, omitted, predicate: {digest, uri}}
    compliance: passedRules are left out (passed keeps their count); summary = {omitted: [passedRules],
                predicate: {digest, uri}}

``summary.predicate.digest.sha256`` is the sha256 of the full predicate's canonical JSON, which is put in
the cloud's object store under that digest when a store is given (``backends.BlobStore``). The gate
decides on the summary when what it left out cannot change the verdict, and else reads the full predicate
from the store and believes it only if its digest is the signed one; without a store it fails closed.

Where the codec cannot store a statement (``codec.stores_statement`` false: GCP's labels), the tags hold the
envelope's *detached* form, as signatures do there (``_core/signatures.py``): the payload type and the
signatures, and ``kept = {"statement": <sha256 hex of the payload>}``. The statement itself (the DSSE
payload, the whole predicate: no summary is needed) is put in the BlobStore under that digest before the
tags are written, and read back from it when the attestation is read: a store is then required to attest,
and without one the gate refuses the image (``incomplete scan``, naming the store). A statement whose bytes
in the store do not have the digest is refused as altered; one edited along with the digest no longer
verifies with its signature, like any tampered payload.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field

from .._core import dsse, keys
from .._core.canonical import canonical_json, sha256_hex
from .._core.descriptor import descriptor_digest, subject_name
from .._core.errors import InvalidInput, PhoenixError
from .._core.model import AVAILABLE
from .._core.signatures import keyid_digits, keys_of, pack_envelope, read_chunked, stored_form
from .._core.signing import existing_image
from .._core.statement import STATEMENT_TYPE, subjects_of
from .._core.tags import ATTESTATION
from .attestations import COMPLIANCE_PREDICATE, SBOM_PREDICATE, VULN_PREDICATE
from .severity import CRITICAL, HIGH, LOW, MEDIUM, RANK, UNKNOWN

SBOM, VULN, COMPLIANCE = "sbom", "vuln", "compliance"
KINDS = {SBOM: SBOM_PREDICATE, VULN: VULN_PREDICATE, COMPLIANCE: COMPLIANCE_PREDICATE}
SHARE = 5
# The summaries tried, in order, when the full vulnerability predicate does not fit.
FLOORS = (LOW, MEDIUM, HIGH, CRITICAL)
FINDING_FIELDS = ("id", "aliases", "package", "installed_version", "fixed_version", "severity")
STATEMENT_MEDIA_TYPE = "application/vnd.in-toto+json"
SHA256_HEX = re.compile(r"[0-9a-f]{64}\Z")


def tag_budget(codec):
    """The most tags one attestation may use."""
    return max(1, codec.limits.max_tags // SHARE)


def predicate_digest(predicate):
    """sha256 (hex) of a predicate's canonical JSON: what a summary names and the store is addressed by."""
    return sha256_hex(canonical_json(predicate))


def statement_of(image, kind, predicate):
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": subject_name(image), "digest": {"sha256": descriptor_digest(image)}}],
        "predicateType": KINDS[kind],
        "predicate": predicate,
    }


# -- summaries -----------------------------------------------------------------------------------------


def _rank(finding):
    level = finding.get("severity")
    return RANK[CRITICAL] if level == UNKNOWN else RANK.get(level, RANK[CRITICAL])


def summaries(kind, predicate, url=None):
    """The summarised forms of ``predicate``, largest first (none for an SBOM predicate: it is small)."""
    reference = {"digest": {"sha256": predicate_digest(predicate)}}
    if url:
        reference["uri"] = url
    found = []
    if kind == VULN:
        findings = predicate.get("scanner", {}).get("result", {}).get("findings") or []
        for floor in FLOORS:
            kept = [
                {name: finding.get(name) for name in FINDING_FIELDS if name in finding}
                for finding in findings
                if _rank(finding) >= RANK[floor]
            ]
            summary = copy.deepcopy(predicate)
            result = summary["scanner"]["result"]
            result["findings"] = kept
            result["summary"] = {"floor": floor, "omitted": len(findings) - len(kept), "predicate": reference}
            found.append(summary)
    elif kind == COMPLIANCE:
        summary = dict(predicate, passedRules=[])
        summary["summary"] = {"omitted": ["passedRules"], "predicate": reference}
        found.append(summary)
    return found


def summary_of(kind, predicate):
    """The ``summary`` of a summarised predicate, or None for a full one."""
    holder = (predicate.get("scanner") or {}).get("result") if kind == VULN else predicate
    summary = holder.get("summary") if isinstance(holder, dict) else None
    return summary if isinstance(summary, dict) else None


# -- signing and storing -------------------------------------------------------------------------------


@dataclass
class AttestOutcome:
    kind: str
    image_id: str
    region: str
    keyid: str
    changed: bool = False
    statement: dict = None
    statement_digest: str = None
    form: str = "full"  # or "summary"
    floor: str = None
    predicate_digest: str = None
    blobs: list = field(default_factory=list)  # [{digest, url, what}] put (or to put) in the object store
    envelope: dict = None
    tags_set: list = field(default_factory=list)
    tags_removed: list = field(default_factory=list)
    actions: list = field(default_factory=list)

    def to_dict(self):
        return {
            "kind": self.kind,
            "predicate_type": KINDS[self.kind],
            "changed": self.changed,
            "keyid": self.keyid,
            "statement": self.statement,
            "statement_digest": self.statement_digest,
            "form": self.form,
            "floor": self.floor,
            "predicate_digest": self.predicate_digest,
            "blobs": self.blobs,
            "tags_set": self.tags_set,
            "tags_removed": self.tags_removed,
        }


def _stored(codec, envelope):
    """What the tags hold of ``envelope``: itself, or its detached form naming the statement by digest."""
    if codec.stores_statement:
        return envelope
    return stored_form(codec, envelope, {"statement": sha256_hex(dsse.parse(envelope).payload)})


def _envelope_tags(codec, kind, keyid, envelope, resource):
    return codec.chunks(ATTESTATION, (kind, keyid_digits(keyid)), pack_envelope(_stored(codec, envelope)), resource)


def _tags_needed(codec, envelope):
    # Counted, not chunked: chunks() refuses more than a resource's tags, and a predicate that large must
    # fall back to its summary instead of failing the attestation.
    return len(codec.encode_value(pack_envelope(_stored(codec, envelope))))


def _placeholder(signer, payload):
    return dsse.envelope(payload, [(signer.keyid, b"\0" * keys.MAX_SIGNATURE_LENGTH.get(signer.algorithm, 128))])


def attest(backend, image_id, kind, predicate, signer, store=None, blobs=(), check_mode=False, image=None):
    """Sign ``predicate`` (of ``kind``) about the image and store it in its tags; idempotent.

    ``store`` (a BlobStore or None) receives the full predicate when only a summary fits in the tags, and
    ``blobs`` ([(digest, bytes, what)], e.g. the SBOM itself) in any case.
    """
    if kind not in KINDS:
        raise InvalidInput("attestation kind %r is not one of %s" % (kind, ", ".join(KINDS)), resource=str(kind))
    if image is None or image.id != image_id:
        image = existing_image(backend, image_id)
    if image.state != AVAILABLE:
        raise InvalidInput(
            "image %s in %s is %s; only an available image can be attested" % (image.id, image.region, image.state),
            resource=image.id,
        )
    codec = backend.codec
    resource = "image %s in %s" % (image.id, image.region)
    detached = not codec.stores_statement
    if detached and store is None:
        raise InvalidInput(
            "attesting %s needs an attestation store: the %s image's metadata holds only the attestation's "
            "signature and the digest of its statement, and the statement goes in the store"
            % (resource, backend.cloud),
            resource=resource,
            hint="Nothing was changed. Give store: {container: <bucket or container>}; give the same store to "
            "image_verify, blue_green, image_channel and the golden_image lookup.",
        )
    digest = predicate_digest(predicate)
    outcome = AttestOutcome(kind, image.id, image.region, signer.keyid, predicate_digest=digest)
    old = set(keys_of(codec, image.tags, ATTESTATION, (kind, keyid_digits(signer.keyid))))
    free = codec.limits.max_tags - len(set(image.tags) - old)
    budget = min(tag_budget(codec), free)
    url = store.url_of(digest) if store is not None else None
    chosen = None
    # Detached, the whole statement is in the store: no summary is needed, only the signature must fit.
    for candidate in [predicate] if detached else [predicate, *summaries(kind, predicate, url)]:
        payload = canonical_json(statement_of(image, kind, candidate))
        if _tags_needed(codec, _placeholder(signer, payload)) <= budget:
            chosen = candidate
            break
    if chosen is None:
        raise InvalidInput(
            "cannot store the %s attestation on %s: %s needs more than the %d tag(s) it may use"
            % (kind, resource, "its signature" if detached else "even its summary", budget),
            resource=resource,
            hint="Nothing was changed. Remove tags the image does not need"
            + ("." if detached else ", or raise the severity floor of the scan."),
        )
    summary = summary_of(kind, chosen) if chosen is not predicate else None
    outcome.form = "summary" if summary is not None else "full"
    outcome.floor = summary.get("floor") if summary else None
    wanted_blobs = list(blobs)
    if summary is not None and store is not None:
        wanted_blobs.append((digest, canonical_json(predicate), "%s predicate" % kind))
    statement = statement_of(image, kind, chosen)
    payload = canonical_json(statement)
    outcome.statement = statement
    outcome.statement_digest = sha256_hex(payload)
    if detached:
        wanted_blobs.append((outcome.statement_digest, payload, "%s statement" % kind))
    outcome.blobs = [
        {"digest": blob_digest, "url": store.url_of(blob_digest) if store else None, "what": what}
        for blob_digest, _data, what in wanted_blobs
    ]
    existing = _existing(codec, image, kind, signer, payload, store)
    if existing is not None:
        outcome.envelope = existing
        return outcome
    if check_mode:
        envelope = _placeholder(signer, payload)
    else:
        pae = dsse.pae(dsse.PAYLOAD_TYPE, payload)
        signature = signer.sign(pae)
        if not keys.verify(signer.public_key, pae, signature):
            raise PhoenixError(
                "the attestation signature made by %s does not verify with its own public key" % signer.name,
                resource=signer.name,
                code="SignatureSelfCheckFailed",
                hint="Nothing was stored.",
            )
        envelope = dsse.envelope(payload, [(signer.keyid, signature)])
    wanted = _envelope_tags(codec, kind, signer.keyid, envelope, resource)
    to_set = {key: value for key, value in wanted.items() if image.tags.get(key) != value}
    to_remove = sorted(old - set(wanted))
    if not check_mode:
        if wanted_blobs and store is None:
            raise InvalidInput("blobs to store but no store given", resource=resource)
        for blob_digest, data, what in wanted_blobs:
            # Before the tags, so a stored summary or a detached statement never names a missing object.
            media_type = STATEMENT_MEDIA_TYPE if what.endswith(" statement") else "application/json"
            store.put_blob(blob_digest, data, media_type)
        backend.set_tags(image, to_set, to_remove)
        outcome.envelope = envelope
    outcome.changed = True
    outcome.tags_set = sorted(wanted)
    outcome.tags_removed = to_remove
    outcome.actions.append(
        {
            "action": "attest_image",
            "kind": kind,
            "image_id": image.id,
            "region": image.region,
            "keyid": signer.keyid,
            "form": outcome.form,
            "tags_set": outcome.tags_set,
            "tags_removed": list(to_remove),
            "blobs": [blob["digest"] for blob in outcome.blobs],
        }
    )
    return outcome


def _existing(codec, image, kind, signer, payload, store=None):
    """The stored envelope of this kind and key if it signs exactly ``payload`` and verifies, else None."""
    for stored in stored_attestations(codec, image, store, kind=kind):
        if stored.group != (kind, keyid_digits(signer.keyid)) or stored.envelope is None:
            continue
        parsed = dsse.parse(stored.envelope)
        if parsed.payload != payload:
            continue
        if any(keys.verify(signer.public_key, parsed.pae(), signature) for _keyid, signature in parsed.signatures):
            return stored.envelope
    return None


# -- reading and verifying -----------------------------------------------------------------------------


def stored_attestations(codec, image, store=None, unavailable=None, kind=None):
    """Every attestation envelope in the image's tags (StoredSignature, ``group`` = (kind, keyid digits)),
    or only those of ``kind``.

    A detached envelope gets its statement from ``store``; where it cannot because there is no store or
    no such object, ``unavailable[group]`` says why (the envelope is then unreadable, its ``error`` says so).
    """
    unavailable = {} if unavailable is None else unavailable
    tags = image.tags
    if kind is not None:  # read (and fetch from the store) only what is asked for
        tags = {key: tags[key] for key in keys_of(codec, tags, ATTESTATION, (kind,))}
    return read_chunked(
        codec,
        ATTESTATION,
        2,
        tags,
        "attestation tags of",
        lambda group: _statement_from_store(store, group, unavailable),
    )


def _statement_from_store(store, group, unavailable):
    """How a detached attestation's payload is rebuilt: its statement, read from ``store`` by its digest."""

    def rebuild(kept):
        digest = str(kept.get("statement") or "")
        if not SHA256_HEX.match(digest):
            raise InvalidInput("they name no statement digest (%r)" % digest[:80])
        if store is None:
            unavailable[group] = (
                "its statement (sha256 %s) is kept in the attestation store, and no store was given" % digest
            )
            raise InvalidInput(unavailable[group])
        data = store.get_blob(digest)
        if data is None:
            unavailable[group] = "its statement is not in the attestation store (%s)" % store.url_of(digest)
            raise InvalidInput(unavailable[group])
        if sha256_hex(data) != digest:
            raise InvalidInput(
                "the statement in the attestation store (%s) does not have its digest: it was altered"
                % store.url_of(digest)
            )
        return data

    return rebuild


@dataclass
class Attestation:
    """One stored attestation of a kind: valid (its statement and signer) or why not."""

    kind: str
    key_prefix: str
    valid: bool = False
    key: str = None
    keyid: str = None
    problem: str = None
    statement: dict = None
    unavailable: bool = False  # its statement is kept in a store that was not given, or lacks it

    @property
    def predicate(self):
        return self.statement["predicate"] if self.statement else None

    def to_dict(self):
        return {
            "kind": self.kind,
            "keyid": self.keyid or self.key_prefix,
            "key": self.key,
            "valid": self.valid,
            "problem": self.problem,
            "form": "summary" if self.valid and summary_of(self.kind, self.predicate) else "full",
        }


def verified_attestations(policy, image, codec, kind, store=None):
    """[Attestation] of ``kind`` on ``image``, each checked against the policy's trusted ``keys``."""
    live_digest = descriptor_digest(image)
    found, unavailable = [], {}
    for stored in stored_attestations(codec, image, store, unavailable, kind):
        if stored.group[0] != kind:
            continue
        label = "the %s attestation signed as %s…" % (kind, stored.key_prefix)
        if stored.group in unavailable:
            problem = "%s: %s" % (label, unavailable[stored.group])
            found.append(Attestation(kind, stored.key_prefix, problem=problem, unavailable=True))
            continue
        if stored.error:
            found.append(Attestation(kind, stored.key_prefix, problem=stored.error))
            continue
        parsed = dsse.parse(stored.envelope)
        found.append(_verified(policy, kind, stored.key_prefix, parsed, live_digest, label))
    return found


def _verified(policy, kind, prefix, parsed, live_digest, label):
    closest = None
    for signed_keyid, signature in parsed.signatures:
        trusted = next(
            (
                key
                for key in policy.keys
                if key.public_key is not None and keys.verify(key.public_key, parsed.pae(), signature)
            ),
            None,
        )
        if trusted is None:
            hinted = any(key.keyid == signed_keyid.lower() for key in policy.keys)
            closest = closest or Attestation(
                kind,
                prefix,
                keyid=signed_keyid,
                problem="%s does not verify (it was altered)" % label
                if hinted
                else "%s is not signed by a key the policy trusts" % label,
            )
            continue
        if policy.revokes_key(trusted.keyid) or not trusted.enabled:
            closest = Attestation(
                kind,
                prefix,
                key=trusted.name,
                keyid=trusted.keyid,
                problem="%s: key %s is revoked" % (label, trusted.name),
            )
            continue
        problem, statement = _statement_problem(parsed, kind, live_digest)
        if problem:
            closest = Attestation(
                kind, prefix, key=trusted.name, keyid=trusted.keyid, problem="%s: %s" % (label, problem)
            )
            continue
        return Attestation(kind, prefix, True, trusted.name, trusted.keyid, statement=statement)
    return closest


def _statement_problem(parsed, kind, live_digest):
    if parsed.payload_type != dsse.PAYLOAD_TYPE:
        return "payloadType %r is not an in-toto statement" % parsed.payload_type, None
    try:
        statement = json.loads(parsed.payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return "its payload is not JSON", None
    if not isinstance(statement, dict) or statement.get("_type") != STATEMENT_TYPE:
        return "its payload is not an in-toto Statement v1", None
    if statement.get("predicateType") != KINDS[kind] or not isinstance(statement.get("predicate"), dict):
        return "it is not a %s predicate (%r)" % (kind, statement.get("predicateType")), None
    subjects = subjects_of(statement)
    if live_digest not in [digest for _name, digest in subjects]:
        return (
            "it was made for %s, not this image (descriptor %s): an attestation copied from another image"
            % (", ".join(str(name) for name, _digest in subjects) or "nothing", live_digest),
            None,
        )
    return None, statement


def full_predicate(kind, predicate, store):
    """The full predicate a summary names, read from ``store`` and checked against the signed digest.

    Returns ``(predicate, problem)``: the predicate itself when it is not a summary.
    """
    summary = summary_of(kind, predicate)
    if summary is None:
        return predicate, None
    reference = summary.get("predicate") or {}
    digest = str((reference.get("digest") or {}).get("sha256") or "")
    if store is None:
        where = reference.get("uri") or "no object store"
        return None, "the full report (sha256 %s, %s) is needed and no attestation store was given" % (
            digest[:16],
            where,
        )
    data = store.get_blob(digest)
    if data is None:
        return None, "the full report sha256 %s is not in the attestation store" % digest
    if sha256_hex(data) != digest:
        return None, "the full report in the store does not match the signed digest %s" % digest
    try:
        return json.loads(data.decode("utf-8")), None
    except (UnicodeDecodeError, ValueError):
        return None, "the full report sha256 %s is not JSON" % digest


def summary_decides(kind, predicate, rules):
    """Whether what a summary left out cannot change the verdict under ``rules``."""
    summary = summary_of(kind, predicate)
    if summary is None:
        return True
    if kind == VULN:
        from .gate import _ALLOWED_RANK  # the same ranks the gate compares with

        floor = summary.get("floor")
        return floor in RANK and RANK[floor] - 1 <= _ALLOWED_RANK[rules.max_severity]
    return not rules.required_rules


# -- the gate ------------------------------------------------------------------------------------------

INVALID_ATTESTATION = "invalid attestation"
INCOMPLETE_SCAN = "incomplete scan"


def _newest(attested, kind):
    def finished(attestation):
        return str((attestation.predicate.get("metadata") or {}).get("scanFinishedOn") or "")

    return max(attested, key=finished) if kind == VULN else attested[0]


def _gated(policy, image, codec, kind, rules, store, missing, what):
    """``(predicate or None, [Refusal], [Attestation])`` of the valid attestation of ``kind`` to gate on."""
    from .gate import Refusal

    found = verified_attestations(policy, image, codec, kind, store)
    valid = [attestation for attestation in found if attestation.valid]
    if not valid:
        if not found:
            return None, [Refusal(missing, what, "the image has no %s attestation" % what)], found
        problems = "; ".join(attestation.problem for attestation in found)
        if all(attestation.unavailable for attestation in found):
            message = "the %s attestation cannot be read without its statement from the attestation store: %s" % (
                what,
                problems,
            )
            return None, [Refusal(INCOMPLETE_SCAN, what, message)], found
        return None, [Refusal(INVALID_ATTESTATION, what, "no valid %s attestation: %s" % (what, problems))], found
    predicate = _newest(valid, kind).predicate
    if not summary_decides(kind, predicate, rules):
        predicate, problem = full_predicate(kind, predicate, store)
        if predicate is None:
            return (
                None,
                [Refusal(INCOMPLETE_SCAN, what, "the %s attestation is a summary: %s" % (what, problem))],
                found,
            )
    return predicate, [], found


def scan_refusals(policy, image, codec, now, store=None):
    """``([Refusal], [attestation dicts])`` of the policy's scan gates on ``image``; no refusal = it passes.

    The attestation of each gated kind must be stored on the image, signed by a key of the policy's
    ``keys`` (not revoked), be about this image's descriptor, and pass ``gate.check_*``.
    """
    from . import gate

    refusals, seen = [], []
    if policy.vulnerabilities is not None:
        rules = policy.vulnerabilities
        predicate, problems, found = _gated(
            policy, image, codec, VULN, rules, store, gate.NO_SCAN, "vulnerability scan"
        )
        refusals += problems or gate.check_vulnerabilities(rules, predicate, now)
        seen += found
    if policy.compliance is not None:
        rules = policy.compliance
        predicate, problems, found = _gated(
            policy, image, codec, COMPLIANCE, rules, store, gate.NO_COMPLIANCE, "compliance scan"
        )
        if not problems and summary_of(COMPLIANCE, predicate) is not None:
            predicate = dict(predicate, passedRules=[])  # no required rule reads them (summary_decides)
        refusals += problems or gate.check_compliance(rules, predicate)
        seen += found
    return refusals, [attestation.to_dict() for attestation in seen]
