# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Public face of image scanning, for modules and plugins. No Ansible import, no cloud.

Usage:

document = image_sbom("/", timestamp)                       # syft's SBOM when installed, else the reader's
result = scan_sbom(document, "advisories/")                  # OSV records: a file, zip export or directory
result = scan_report("trivy.json", "trivy", sbom=document)   # or a report the user's scanner wrote
result["findings"], result["counts"], result["predicate"]    # the predicate: cosign vuln/v1, to attest

The attestations (``_scan/attestations.py``) and the trust policy's scan gates (``_scan/gate.py``) are
the other halves; this file only runs a scan and shapes its result.
"""

from __future__ import annotations

import json
import os

from ._core.errors import PhoenixError
from ._core.timeutil import format_utc, utcnow
from ._scan import osv, reports, sbom
from ._scan.attestations import vuln_predicate
from ._scan.severity import count_by_level

OSV_SCANNER = {"uri": "urn:phoenix-immutable:scanner:osv-matcher", "version": "1"}
REPORT_FORMATS = reports.FORMATS


def image_sbom(root, timestamp=None, subject=None, rpm_query=None, use_syft=True):
    """The CycloneDX SBOM of the root filesystem ``root`` (see _scan/sbom.py)."""
    return sbom.inventory_sbom(root, timestamp or format_utc(utcnow()), subject, rpm_query, use_syft)


def load_sbom(value):
    """An SBOM given as a mapping, or as the path of its JSON file."""
    if isinstance(value, dict):
        if value.get("bomFormat") != "CycloneDX":
            raise PhoenixError(
                "the SBOM given is not a CycloneDX document (no bomFormat CycloneDX)", code="InvalidSbom"
            )
        return value
    path = os.path.expanduser(str(value))
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise PhoenixError(
            "cannot read the SBOM %s: %s" % (path, error.strerror or error), resource=path, code="InvalidSbom"
        ) from None
    return sbom.parse_sbom_json(data, what="the SBOM %s" % path)


def _result(findings, scanner, started, finished, document=None, skipped=(), parameters=()):
    digest = sbom.sbom_digest(document) if document is not None else None
    predicate = vuln_predicate(findings, scanner, started, finished, sbom_sha256=digest, parameters=list(parameters))
    return {
        "findings": findings,
        "counts": count_by_level(findings),
        "skipped": list(skipped),
        "sbom_digest": digest,
        "components": sbom.library_count(document) if document is not None else None,
        "scanner": predicate["scanner"]["uri"],
        "database": dict(predicate["scanner"]["db"]),
        "predicate": predicate,
    }


def scan_sbom(document, feed_path, clock=utcnow):
    """Match the SBOM ``document`` against the OSV feed at ``feed_path``."""
    started = format_utc(clock())
    return _scan_with(osv.load_feed(feed_path), feed_path, document, started, clock)


def feed_scanner(feed_path, clock=utcnow):
    """``scan(document)``: scan_sbom for many SBOMs, with the feed at ``feed_path`` loaded once, now."""
    feed = osv.load_feed(feed_path)
    return lambda document: _scan_with(feed, feed_path, document, format_utc(clock()), clock)


def _scan_with(feed, feed_path, document, started, clock):
    findings, skipped = osv.match(feed, sbom.sbom_components(document))
    scanner = dict(
        OSV_SCANNER, db={"uri": "file://%s" % os.path.abspath(feed.source), "version": "sha256:" + feed.digest}
    )
    result = _result(findings, scanner, started, format_utc(clock()), document, skipped, [{"osv": str(feed_path)}])
    result["database"].update(records=len(feed.records), withdrawn=feed.withdrawn, modified=feed.modified)
    return result


def scan_report(path, report_format, document=None, clock=utcnow):
    """The findings of a Trivy or Grype JSON report at ``path``; ``document`` is the SBOM it is about, if known."""
    started = format_utc(clock())
    findings, scanner = reports.read_report(path, report_format)
    return _result(findings, scanner, started, format_utc(clock()), document, (), [{"report": report_format}])


def dumps(document):
    """The SBOM as stored (its digest is of its canonical form; this is for a file a person reads)."""
    return json.dumps(document, indent=2, sort_keys=True)
