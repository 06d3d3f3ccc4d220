# Private to this collection.
"""In-toto statements about an image's scans: its SBOM, its vulnerability scan, its compliance scan.

Each is an ``https://in-toto.io/Statement/v1`` whose subject is the image's descriptor, exactly as in the
signature's provenance statement (``_core/statement.py``), so an attestation copied onto another image
names the wrong descriptor and is refused like a copied signature. They are signed like that statement
(``statement_payload`` gives the bytes); signing and storing them is the caller's.

Predicates:

- SBOM_PREDICATE: ``{"sbom": {"digest": {"sha256"}, "format", "mediaType"[, "uri"]}, "producer":
  {"name", "version"}, "componentCount", "timestamp"}``; the SBOM itself lives in an object store,
  addressed by that digest.
- VULN_PREDICATE (cosign's ``vuln/v1``): ``{"invocation": {"parameters", "uri", "event_id",
  "builder.id"}, "scanner": {"uri", "version", "db": {"uri", "version"}, "result": {"findings",
  "counts", "sbom"}}, "metadata": {"scanStartedOn", "scanFinishedOn"}}``.
- COMPLIANCE_PREDICATE: ``{"profile", "scanner": {"uri", "version"}, "passed", "failed",
  "failedRules", "passedRules", "metadata": {"scanFinishedOn"}[, "report": {"digest": {"sha256"}}]}``.
"""

from __future__ import annotations

from .._core.descriptor import descriptor_digest, subject_name
from .._core.errors import InvalidInput
from .._core.statement import STATEMENT_TYPE
from .severity import LEVELS, count_by_level

SBOM_PREDICATE = "urn:phoenix-immutable:predicate:sbom:v1"
VULN_PREDICATE = "https://cosign.sigstore.dev/attestation/vuln/v1"
COMPLIANCE_PREDICATE = "urn:phoenix-immutable:predicate:compliance:v1"
DEFAULT_INVOCATION_URI = "urn:phoenix-immutable:builder:ansible"
# What the SBOM predicate says of the SBOM it digests (sbom.py writes CycloneDX 1.5 JSON).
SBOM_FORMAT = "https://cyclonedx.org/bom/v1.5"
SBOM_MEDIA_TYPE = "application/vnd.cyclonedx+json"


def image_subject(image):
    """The in-toto subject of an image: the one the signature's statement has."""
    return [{"name": subject_name(image), "digest": {"sha256": descriptor_digest(image)}}]


def _statement(image, predicate_type, predicate):
    return {
        "_type": STATEMENT_TYPE,
        "subject": image_subject(image),
        "predicateType": predicate_type,
        "predicate": predicate,
    }


def _hex_digest(value, what):
    text = str(value or "").lower().removeprefix("sha256:")
    if len(text) != 64 or any(char not in "0123456789abcdef" for char in text):
        raise InvalidInput("%s must be a sha256 of 64 hex digits; got %r" % (what, value), resource=what)
    return text


def sbom_predicate(sbom_sha256, producer, component_count, timestamp, uri=None):
    """The SBOM predicate: the SBOM of digest ``sbom_sha256``, written by ``producer``."""
    sbom = {
        "digest": {"sha256": _hex_digest(sbom_sha256, "the SBOM digest")},
        "format": SBOM_FORMAT,
        "mediaType": SBOM_MEDIA_TYPE,
    }
    if uri:
        sbom["uri"] = str(uri)
    return {
        "sbom": sbom,
        "producer": {"name": str(producer.get("name", "")), "version": str(producer.get("version", ""))},
        "componentCount": int(component_count),
        "timestamp": str(timestamp),
    }


def sbom_statement(image, sbom_sha256, producer, component_count, timestamp, uri=None):
    """The statement that ``image`` has the SBOM of digest ``sbom_sha256``, written by ``producer``."""
    return _statement(image, SBOM_PREDICATE, sbom_predicate(sbom_sha256, producer, component_count, timestamp, uri))


def vuln_predicate(
    findings, scanner, started, finished, sbom_sha256=None, parameters=None, invocation_uri=DEFAULT_INVOCATION_URI
):
    """The cosign vuln/v1 predicate of a scan: ``scanner`` is ``{"uri", "version", "db": {"uri", "version"}}``."""
    result = {"findings": list(findings), "counts": count_by_level(findings)}
    if sbom_sha256:
        result["sbom"] = {"digest": {"sha256": _hex_digest(sbom_sha256, "the SBOM digest")}}
    database = scanner.get("db") or {}
    return {
        "invocation": {
            "parameters": list(parameters or []),
            "uri": str(invocation_uri),
            "event_id": "",
            "builder.id": str(invocation_uri),
        },
        "scanner": {
            "uri": str(scanner.get("uri", "")),
            "version": str(scanner.get("version", "")),
            "db": {"uri": str(database.get("uri", "")), "version": str(database.get("version", ""))},
            "result": result,
        },
        "metadata": {"scanStartedOn": str(started), "scanFinishedOn": str(finished)},
    }


def vuln_statement(image, predicate):
    return _statement(image, VULN_PREDICATE, predicate)


def compliance_predicate(profile, passed_rules, failed_rules, finished, scanner=None, report_sha256=None):
    """The compliance predicate of an XCCDF evaluation: rule ids that passed and that failed."""
    if not profile:
        raise InvalidInput("a compliance result needs the XCCDF profile it was evaluated against", "profile")
    passed, failed = sorted(set(map(str, passed_rules))), sorted(set(map(str, failed_rules)))
    predicate = {
        "profile": str(profile),
        "scanner": {"uri": str((scanner or {}).get("uri", "")), "version": str((scanner or {}).get("version", ""))},
        "passed": len(passed),
        "failed": len(failed),
        "failedRules": failed,
        "passedRules": passed,
        "metadata": {"scanFinishedOn": str(finished)},
    }
    if report_sha256:
        predicate["report"] = {"digest": {"sha256": _hex_digest(report_sha256, "the report digest")}}
    return predicate


def compliance_statement(image, predicate):
    return _statement(image, COMPLIANCE_PREDICATE, predicate)


def predicate_of(statement, predicate_type):
    """The predicate of ``statement`` when it is an in-toto v1 statement of ``predicate_type``, else None."""
    if (
        isinstance(statement, dict)
        and statement.get("_type") == STATEMENT_TYPE
        and statement.get("predicateType") == predicate_type
        and isinstance(statement.get("predicate"), dict)
    ):
        return statement["predicate"]
    return None


def findings_of(predicate):
    """The findings of a vuln predicate, or None when it has none in the shape ``vuln_predicate`` writes."""
    try:
        findings = predicate["scanner"]["result"]["findings"]
    except (KeyError, TypeError):
        return None
    if not isinstance(findings, list) or not all(
        isinstance(found, dict) and found.get("id") and found.get("severity") in LEVELS for found in findings
    ):
        return None
    return findings
