# Private to this collection.
"""Scanner reports a user produced, read into the same findings as the OSV matcher's.

- Trivy's JSON report (``trivy … --format json``): ``Results[].Vulnerabilities[]`` with
  ``VulnerabilityID``, ``PkgName``, ``InstalledVersion``, ``FixedVersion``, ``Severity``, ``CVSS``,
  ``VendorIDs`` and ``PkgIdentifier.PURL``; the scanner's version in ``Trivy.Version`` when present.
- Grype's JSON report (``grype … -o json``): ``matches[]`` with ``vulnerability`` (``id``, ``severity``,
  ``fix.versions``, ``cvss[]``), ``relatedVulnerabilities[].id`` and ``artifact`` (``name``, ``version``,
  ``purl``); the scanner and its database in ``descriptor``.

Each reader returns ``(findings, scanner)``, the scanner as the vuln predicate's ``scanner`` wants it
(``uri``, ``version``, ``db``: ``uri``, ``version``). As for OSV records, the severity is the CVSS v3 base
score's rating where the report gives a v3 vector (the highest, when several vendors rate it), else the
scanner's own rating word.
"""

from __future__ import annotations

import json

from .._core.errors import PhoenixError
from .osv import sort_findings
from .severity import cvss3_base_score, normalise, rating_of_score

TRIVY = "trivy"
GRYPE = "grype"
FORMATS = (TRIVY, GRYPE)


def _report_error(kind, source, message):
    return PhoenixError(
        "cannot read the %s report %s: %s" % (kind, source, message),
        resource=str(source),
        code="InvalidScanReport",
        hint="Give the JSON report as the scanner wrote it (trivy --format json, grype -o json).",
    )


def _best_score(vectors):
    scores = [score for score in (cvss3_base_score(vector) for vector in vectors) if score is not None]
    return max(scores) if scores else None


def _finding(identifier, aliases, package, purl, installed, fixed, word, score, summary=""):
    level = rating_of_score(score) if score is not None else normalise(word)
    return {
        "id": str(identifier),
        "aliases": sorted({str(alias) for alias in aliases if alias and alias != identifier}),
        "package": str(package or ""),
        "purl": str(purl or ""),
        "installed_version": str(installed or ""),
        "fixed_version": str(fixed) if fixed else None,
        "severity": level,
        "score": score,
        "summary": str(summary or "")[:200],
    }


def read_trivy(document, source="Trivy report"):
    # Trivy writes SchemaVersion always and Results where it found something to scan; neither means
    # this is not a Trivy report, and reading it as "no vulnerabilities" would pass anything.
    if (
        not isinstance(document, dict)
        or not ("SchemaVersion" in document or "Results" in document)
        or not isinstance(document.get("Results") or [], list)
    ):
        raise _report_error(TRIVY, source, "no SchemaVersion or Results list")
    findings, seen = [], set()
    for result in document.get("Results") or []:
        for vulnerability in (result or {}).get("Vulnerabilities") or []:
            if not isinstance(vulnerability, dict) or not vulnerability.get("VulnerabilityID"):
                raise _report_error(TRIVY, source, "a vulnerability without VulnerabilityID")
            purl = (vulnerability.get("PkgIdentifier") or {}).get("PURL", "")
            key = (vulnerability["VulnerabilityID"], purl or vulnerability.get("PkgName"))
            if key in seen:
                continue
            seen.add(key)
            vectors = [entry.get("V3Vector") for entry in (vulnerability.get("CVSS") or {}).values() if entry]
            fixed = vulnerability.get("FixedVersion") or ""
            findings.append(
                _finding(
                    vulnerability["VulnerabilityID"],
                    vulnerability.get("VendorIDs") or [],
                    vulnerability.get("PkgName"),
                    purl,
                    vulnerability.get("InstalledVersion"),
                    fixed.split(",")[0].strip() if fixed else None,
                    vulnerability.get("Severity"),
                    _best_score(vectors),
                    vulnerability.get("Title"),
                )
            )
    trivy = document.get("Trivy") or {}
    scanner = {
        "uri": "pkg:github/aquasecurity/trivy",
        "version": str(trivy.get("Version", "")),
        "db": {"uri": "trivy-db", "version": str((document.get("Metadata") or {}).get("DBUpdatedAt", ""))},
    }
    return sort_findings(findings), scanner


def read_grype(document, source="Grype report"):
    if not isinstance(document, dict) or not isinstance(document.get("matches"), list):
        raise _report_error(GRYPE, source, "no matches list (grype writes one, empty when it finds nothing)")
    findings, seen = [], set()
    for entry in document.get("matches") or []:
        vulnerability = (entry or {}).get("vulnerability") or {}
        artifact = (entry or {}).get("artifact") or {}
        if not vulnerability.get("id"):
            raise _report_error(GRYPE, source, "a match without vulnerability.id")
        key = (vulnerability["id"], artifact.get("purl") or artifact.get("name"))
        if key in seen:
            continue
        seen.add(key)
        related = [item.get("id") for item in entry.get("relatedVulnerabilities") or [] if isinstance(item, dict)]
        vectors = [item.get("vector") for item in vulnerability.get("cvss") or [] if isinstance(item, dict)]
        fixes = (vulnerability.get("fix") or {}).get("versions") or []
        findings.append(
            _finding(
                vulnerability["id"],
                related,
                artifact.get("name"),
                artifact.get("purl"),
                artifact.get("version"),
                fixes[0] if fixes else None,
                vulnerability.get("severity"),
                _best_score(vectors),
                vulnerability.get("description"),
            )
        )
    descriptor = document.get("descriptor") or {}
    database = descriptor.get("db") or {}
    status = database.get("status") if isinstance(database.get("status"), dict) else database
    scanner = {
        "uri": "pkg:github/anchore/grype",
        "version": str(descriptor.get("version", "")),
        "db": {
            "uri": str(status.get("from") or status.get("location") or "grype-db"),
            "version": str(status.get("built") or status.get("schemaVersion") or ""),
        },
    }
    return sort_findings(findings), scanner


READERS = {TRIVY: read_trivy, GRYPE: read_grype}


def read_report(path, report_format):
    """``(findings, scanner)`` of the JSON report at ``path`` in ``report_format`` (trivy or grype)."""
    if report_format not in READERS:
        raise PhoenixError(
            "unknown report format %r; known: %s" % (report_format, ", ".join(FORMATS)), code="InvalidInput"
        )
    try:
        with open(path, "rb") as handle:
            document = json.loads(handle.read().decode("utf-8"))
    except OSError as error:
        raise _report_error(report_format, path, error.strerror or str(error)) from None
    except (UnicodeDecodeError, ValueError) as error:
        raise _report_error(report_format, path, "not JSON (%s)" % error) from None
    return READERS[report_format](document, source=path)
