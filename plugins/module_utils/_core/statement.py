# Private to this collection.
"""The in-toto Statement v1 about an image, with a SLSA provenance v1 predicate.

    {"_type": "https://in-toto.io/Statement/v1",
     "subject": [{"name": "aws:us-east-1:ami-…", "digest": {"sha256": "<descriptor digest>"}}],
     "predicateType": "https://slsa.dev/provenance/v1",
     "predicate": {"buildDefinition": {"buildType": …, "externalParameters": {image name, region},
                                       "internalParameters": {"claims": {…the caller's claims…}},
                                       "resolvedDependencies": [base image, git revision]},
                   "runDetails": {"builder": {"id": …}, "metadata": {"finishedOn": image created}}}}

The statement is a pure function of the image and the claims (no clock), so signing the same image with
the same claims twice yields the same statement: that is what makes signing idempotent. A policy's
``required_claims`` are read from ``predicate.buildDefinition.internalParameters.claims``.
"""

from __future__ import annotations

from .canonical import canonical_json
from .descriptor import descriptor_digest, subject_name
from .errors import InvalidInput

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
BUILD_TYPE = "urn:phoenix-immutable:build-type:golden-image:v1"
DEFAULT_BUILDER = "urn:phoenix-immutable:builder:ansible"

# Claims with a place of their own in SLSA provenance, besides being kept in ``claims``.
CLAIM_BUILDER = "builder"
CLAIM_BASE_IMAGE = "base_image"
CLAIM_GIT_REVISION = "git_revision"
CLAIM_GIT_REPOSITORY = "git_repository"


def build_statement(image, claims=None):
    claims = dict(claims or {})
    for key in claims:
        if not isinstance(key, str) or not key:
            raise InvalidInput("claim names must be non-empty strings; got %r" % (key,), resource=image.id)
    canonical_json(claims)  # refuse what cannot be signed (NaN, objects) before anything else
    dependencies = []
    base_image = claims.get(CLAIM_BASE_IMAGE) or image.source_image
    if base_image:
        uri = str(base_image)
        if ":" not in uri:
            uri = "%s:%s:%s" % (image.cloud, image.region, uri)
        dependencies.append({"name": "base_image", "uri": uri})
    if claims.get(CLAIM_GIT_REVISION):
        dependency = {"name": "source", "digest": {"gitCommit": str(claims[CLAIM_GIT_REVISION])}}
        if claims.get(CLAIM_GIT_REPOSITORY):
            dependency["uri"] = str(claims[CLAIM_GIT_REPOSITORY])
        dependencies.append(dependency)
    build_definition = {
        "buildType": BUILD_TYPE,
        "externalParameters": {"image": {"name": image.name, "region": image.region}},
        "internalParameters": {"claims": claims},
    }
    if dependencies:
        build_definition["resolvedDependencies"] = dependencies
    run_details = {"builder": {"id": str(claims.get(CLAIM_BUILDER) or DEFAULT_BUILDER)}}
    if image.created:
        run_details["metadata"] = {"finishedOn": image.created}
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": subject_name(image), "digest": {"sha256": descriptor_digest(image)}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {"buildDefinition": build_definition, "runDetails": run_details},
    }


def statement_payload(statement):
    """The bytes that are signed: the statement's canonical JSON."""
    return canonical_json(statement)


def claims_of(statement):
    try:
        claims = statement["predicate"]["buildDefinition"]["internalParameters"]["claims"]
    except (KeyError, TypeError):
        return {}
    return claims if isinstance(claims, dict) else {}


def subjects_of(statement):
    """``(name, sha256)`` of every subject of a statement, skipping malformed entries."""
    found = []
    for subject in statement.get("subject") or []:
        if isinstance(subject, dict) and isinstance(subject.get("digest"), dict):
            found.append((subject.get("name"), subject["digest"].get("sha256")))
    return found
