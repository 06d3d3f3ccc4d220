# Private to this collection.
"""The fleet re-check: the signed SBOMs of images in use re-matched against today's advisories, never an instance.

For each image:

1. its SBOM attestation must be valid under the trust policy's ``keys``, exactly as the gate checks a scan
   attestation (signed by a trusted, unrevoked key; about THIS image's descriptor): an SBOM nobody trusted
   signed is not believed;
2. the SBOM document is read from the object store by the sha256 in that signed statement, and believed
   only when its bytes have that digest;
3. it is matched against the feed (``scan(document)``, the caller's: the feed is loaded once for all
   images) and the fresh vuln/v1 predicate is signed and stored on the image (``attest.attest``: the same
   tags, the same summary when too large, the full report in the store).

An image that cannot be re-checked (no SBOM attestation, none valid, the document missing from the store
or not matching its digest, the image gone) is reported with its reason, never skipped in silence.

Idempotence: a scan has its times in its predicate, so each re-check is a new statement. With
``max_age_days``, a stored scan signed by the same key whose findings are the same as today's and which
finished at most that many days ago is kept (nothing written): a schedule more frequent than the policy's
``max_scan_age_days`` then only writes when the findings change or the kept scan grows old.
No SDK, no Ansible.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from .._core.canonical import sha256_hex
from .._core.errors import InvalidInput, PhoenixError
from .._core.model import AVAILABLE
from .._core.timeutil import parse_utc, utcnow
from .attest import SBOM, VULN, attest, full_predicate, verified_attestations
from .attestations import findings_of
from .sbom import parse_sbom_json
from .severity import LEVELS, count_by_level, worst_level

# Why an image could not be re-checked.
NO_SBOM = "no sbom"
INVALID_SBOM_ATTESTATION = "invalid sbom attestation"
SBOM_NOT_STORED = "sbom not in store"
SBOM_MISMATCH = "sbom mismatch"
IMAGE_NOT_FOUND = "image not found"
NOT_AVAILABLE = "image not available"
UNSCANNABLE = (NO_SBOM, INVALID_SBOM_ATTESTATION, SBOM_NOT_STORED, SBOM_MISMATCH, IMAGE_NOT_FOUND, NOT_AVAILABLE)

RESCANNED, KEPT, NOT_RESCANNED = "rescanned", "kept", "not rescanned"
MAX_AGE_DAYS_LIMIT = 36500
# The fields that make two findings the same finding (what the gate reads of one).
SAME_FINDING = ("id", "package", "installed_version", "fixed_version", "severity")


class Unscannable(Exception):
    """An image that cannot be re-checked, and why (one of UNSCANNABLE)."""

    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass
class Rescan:
    """One image's re-check: ``status`` is RESCANNED, KEPT or NOT_RESCANNED (then ``reason``/``message``)."""

    image_id: str
    region: str = None
    status: str = NOT_RESCANNED
    changed: bool = False
    reason: str = None
    message: str = None
    sbom_digest: str = None
    sbom_key: str = None
    counts: dict = None
    findings: int = None
    worst: str = None
    previous_counts: dict = None
    findings_changed: bool = None  # None: no earlier scan to compare with
    new_findings: list = field(default_factory=list)
    gone_findings: list = field(default_factory=list)
    attestation: dict = None
    actions: list = field(default_factory=list)

    def to_dict(self):
        return {
            "image_id": self.image_id,
            "region": self.region,
            "status": self.status,
            "changed": self.changed,
            "reason": self.reason,
            "message": self.message,
            "sbom_digest": self.sbom_digest,
            "sbom_key": self.sbom_key,
            "counts": self.counts,
            "findings": self.findings,
            "worst": self.worst,
            "previous_counts": self.previous_counts,
            "findings_changed": self.findings_changed,
            "new_findings": self.new_findings,
            "gone_findings": self.gone_findings,
            "attestation": self.attestation,
        }


def validate_max_age(max_age_days):
    if max_age_days is not None and not 0 < max_age_days <= MAX_AGE_DAYS_LIMIT:
        raise InvalidInput(
            "max_age_days must be more than 0 and at most %d; got %r" % (MAX_AGE_DAYS_LIMIT, max_age_days),
            resource="max_age_days",
            hint="Leave it out to sign a fresh scan on every run.",
        )


def worst_of(findings):
    """The most severe level among ``findings``, or None (``unknown`` right after critical, as the gate counts it)."""
    return worst_level(count_by_level(findings))


def finding_keys(findings):
    return {tuple(str(finding.get(name) or "") for name in SAME_FINDING) for finding in findings or []}


def trusted_sbom(policy, image, codec, store):
    """``(document, digest, attestation)`` of the image's SBOM, or Unscannable.

    The newest valid SBOM attestation (by its predicate's ``timestamp``) names the document's digest.
    """
    found = verified_attestations(policy, image, codec, SBOM, store)
    valid = [attestation for attestation in found if attestation.valid]
    if not valid:
        if not found:
            raise Unscannable(NO_SBOM, "image %s carries no SBOM attestation" % image.id)
        raise Unscannable(
            INVALID_SBOM_ATTESTATION,
            "image %s has no valid SBOM attestation (an SBOM not signed by a trusted key is not believed): %s"
            % (image.id, "; ".join(attestation.problem for attestation in found)),
        )
    chosen = max(valid, key=lambda attestation: str(attestation.predicate.get("timestamp") or ""))
    digest = str(((chosen.predicate.get("sbom") or {}).get("digest") or {}).get("sha256") or "").lower()
    if len(digest) != 64:
        raise Unscannable(SBOM_MISMATCH, "the SBOM attestation of %s names no sha256 digest" % image.id)
    data = store.get_blob(digest)
    if data is None:
        raise Unscannable(
            SBOM_NOT_STORED,
            "the SBOM of %s (sha256 %s, %s) is not in the attestation store" % (image.id, digest, store.url_of(digest)),
        )
    if sha256_hex(data) != digest:
        raise Unscannable(
            SBOM_MISMATCH,
            "the SBOM in the store under sha256 %s does not have that digest: it is not the one signed for %s"
            % (digest, image.id),
        )
    try:
        document = parse_sbom_json(data, what="the stored SBOM %s" % digest)
    except PhoenixError as error:
        raise Unscannable(SBOM_MISMATCH, error.message) from None
    return document, digest, chosen


def _finished(predicate):
    try:
        return parse_utc(predicate["metadata"]["scanFinishedOn"], "scanFinishedOn")
    except (KeyError, TypeError, InvalidInput):
        return None


def _previous_scan(policy, image, codec, store):
    """``[(attestation, full predicate or None)]`` of the image's valid vuln attestations, newest first."""
    found = [
        attestation for attestation in verified_attestations(policy, image, codec, VULN, store) if attestation.valid
    ]
    found.sort(key=lambda attestation: str((attestation.predicate.get("metadata") or {}).get("scanFinishedOn") or ""))
    return [(attestation, full_predicate(VULN, attestation.predicate, store)[0]) for attestation in reversed(found)]


def rescan_image(policy, backend, image, scan, signer, store, max_age_days=None, now=None, check_mode=False):
    """Re-check one image (a model.Image); returns a Rescan."""
    now = now or utcnow()
    outcome = Rescan(image.id, image.region)
    try:
        if image.state != AVAILABLE:
            raise Unscannable(NOT_AVAILABLE, "image %s in %s is %s" % (image.id, image.region, image.state))
        document, digest, sbom_attestation = trusted_sbom(policy, image, backend.codec, store)
    except Unscannable as problem:
        outcome.reason, outcome.message = problem.reason, problem.message
        return outcome
    outcome.sbom_digest, outcome.sbom_key = digest, sbom_attestation.key
    predicate = scan(document)["predicate"]
    findings = findings_of(predicate) or []
    outcome.counts, outcome.findings, outcome.worst = count_by_level(findings), len(findings), worst_of(findings)
    today = finding_keys(findings)
    previous = _previous_scan(policy, image, backend.codec, store)
    if previous:
        newest, full = previous[0]
        earlier = findings_of(full) if full is not None else None
        outcome.previous_counts = ((newest.predicate.get("scanner") or {}).get("result") or {}).get("counts")
        if earlier is not None:
            before = finding_keys(earlier)
            outcome.findings_changed = before != today
            outcome.new_findings = sorted({key[0] for key in today - before})
            outcome.gone_findings = sorted({key[0] for key in before - today})
        else:
            outcome.findings_changed = True  # the earlier full report cannot be read: sign today's
    mine = next((pair for pair in previous if pair[0].keyid == signer.keyid), None)
    if max_age_days is not None and mine is not None and mine[1] is not None:
        finished = _finished(mine[1])
        same = finding_keys(findings_of(mine[1])) == today
        if same and finished is not None and now - finished <= datetime.timedelta(days=max_age_days):
            outcome.status = KEPT
            outcome.attestation = {
                "kept": True,
                "keyid": mine[0].keyid,
                "scan_finished": mine[1]["metadata"]["scanFinishedOn"],
            }
            return outcome
    attested = attest(backend, image.id, VULN, predicate, signer, store=store, check_mode=check_mode, image=image)
    outcome.status = RESCANNED
    outcome.changed = attested.changed
    outcome.attestation = attested.to_dict()
    outcome.actions = attested.actions
    return outcome


def rescan_images(policy, backend, images, missing, scan, signer, store, max_age_days=None, now=None, check_mode=False):
    """[Rescan] of each image (model.Image) and each id in ``missing`` (images the cloud no longer has)."""
    validate_max_age(max_age_days)
    now = now or utcnow()
    done = [
        rescan_image(policy, backend, image, scan, signer, store, max_age_days, now, check_mode)
        for image in sorted(images, key=lambda item: item.id)
    ]
    for image_id in sorted(missing):
        done.append(
            Rescan(
                image_id, reason=IMAGE_NOT_FOUND, message="image %s is in use but the cloud has it no more" % image_id
            )
        )
    return done


def summary(done):
    """The module's totals of ``done`` ([Rescan])."""
    rescanned = [item for item in done if item.status != NOT_RESCANNED]
    counts = {level: sum((item.counts or {}).get(level, 0) for item in rescanned) for level in LEVELS}
    return {
        "changed": any(item.changed for item in done),
        "images": [item.to_dict() for item in done],
        "rescanned": [item.image_id for item in done if item.status == RESCANNED],
        "kept": [item.image_id for item in done if item.status == KEPT],
        "not_rescanned": [
            {"image_id": item.image_id, "reason": item.reason, "message": item.message}
            for item in done
            if item.status == NOT_RESCANNED
        ],
        "counts": counts,
        "worst": worst_of([{"severity": item.worst} for item in rescanned if item.worst]),
        "findings_changed": sorted(item.image_id for item in done if item.findings_changed),
        "actions": [action for item in done for action in item.actions],
    }
