# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Public face of image scanning, for modules and plugins. No Ansible import, no cloud.

Usage:

document = image_sbom("/", timestamp)                       # syft's SBOM when installed, else the reader's
result = scan_sbom(document, "advisories/")                  # OSV records: a file, zip export or directory
result = scan_report("trivy.json", "trivy", sbom=document)   # or a report the user's scanner wrote
result["findings"], result["counts"], result["predicate"]    # the predicate: cosign vuln/v1, to attest
recorded = record_sbom("/", "/run/phoenix/sbom.cdx.json")   # image_sbom: written once, kept while unchanged
write_json("vuln.json", result["predicate"])                 # a result passed on as a path, not as arguments
checked = compliance_scan("/", profile, datastream=ds)       # oscap run (or results read) into the predicate

The attestations (``_scan/attestations.py``) and the trust policy's scan gates (``_scan/gate.py``) are
the other halves; this file only runs a scan and shapes its result.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile

from ._core.errors import PhoenixError
from ._core.timeutil import format_utc, utcnow
from ._scan import openscap, osv, reports, sbom, xccdf
from ._scan.attestations import compliance_predicate, vuln_predicate
from ._scan.severity import count_by_level, worst_level

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


def worst_severity(counts):
    """The worst level with a finding in ``counts`` (count_by_level's), or ``none``."""
    return worst_level(counts) or "none"


def dumps(document):
    """The SBOM as stored (its digest is of its canonical form; this is for a file a person reads)."""
    return json.dumps(document, indent=2, sort_keys=True)


def _same_content(document):
    """What makes two SBOMs the same inventory: all but their serial number and timestamp."""
    kept = {key: value for key, value in document.items() if key != "serialNumber"}
    kept["metadata"] = {key: value for key, value in (document.get("metadata") or {}).items() if key != "timestamp"}
    return sbom.sbom_digest(kept)


def _read_json(path):
    try:
        with open(path, "rb") as handle:
            return json.loads(handle.read().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None


def write_file(path, data, check_mode=False, mode=0o644):
    """Write ``data`` (bytes) to ``path`` atomically, making its folder; False when it already holds them."""
    path = os.path.expanduser(str(path))
    try:
        with open(path, "rb") as handle:
            if handle.read() == data:
                return False
    except OSError:
        pass
    if check_mode:
        return True
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".phoenix-")
        with os.fdopen(handle, "wb") as output:
            output.write(data)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except OSError as error:
        raise PhoenixError(
            "cannot write %s: %s" % (path, error.strerror or error), resource=path, code="WriteFailed"
        ) from None
    return True


def write_json(path, document, check_mode=False):
    """``document`` as a JSON file at ``path`` (see write_file)."""
    return write_file(path, (json.dumps(document, indent=1, sort_keys=True) + "\n").encode("utf-8"), check_mode)


def record_sbom(root, dest, subject=None, use_syft=True, check_mode=False, clock=utcnow):
    """Write the SBOM of ``root`` to ``dest``, unless ``dest`` already holds an SBOM of the same content
    (then it is kept as it is, timestamp and serial number included). Returns image_sbom's result."""
    document = image_sbom(root, format_utc(clock()), subject=subject, use_syft=use_syft)
    existing = _read_json(os.path.expanduser(str(dest)))
    changed = True
    same = isinstance(existing, dict) and existing.get("bomFormat") == "CycloneDX"
    if same and _same_content(existing) == _same_content(document):
        document, changed = existing, False
    if changed:
        write_file(dest, dumps(document).encode("utf-8") + b"\n", check_mode)
    return {
        "changed": changed,
        "path": str(dest),
        "digest": sbom.sbom_digest(document),
        "components": sbom.library_count(document),
        "producer": sbom.producer_of(document),
        "spec_version": str(document.get("specVersion", "")),
        "timestamp": str((document.get("metadata") or {}).get("timestamp", "")),
    }


def compliance_scan(
    root, profile=None, datastream=None, results=None, results_dest=None, timeout=1800, check_mode=False
):
    """The compliance predicate of an OpenSCAP evaluation of ``profile`` on ``root``.

    With ``datastream``: oscap is run (openscap.py) writing its results to ``results_dest`` (default a
    temporary file, removed after it is read); in check mode it is not run, and ``predicate`` is None.
    Without: the existing results file ``results`` is read. Failed rules are a result, not an error.
    """
    ran = None
    if datastream:
        if not profile:
            raise PhoenixError("running oscap needs the XCCDF profile to evaluate", code="InvalidInput")
        command, extra = openscap.oscap_command(profile, datastream, results_dest or "<temporary>", root)
        if check_mode:
            return {
                "ran": False,
                "command": command,
                "environment": extra,
                "predicate": None,
                "results_file": results_dest,
                "exit_code": None,
            }
        folder = tempfile.mkdtemp(prefix="phoenix-oscap-") if not results_dest else None
        results = results_dest or os.path.join(folder, "results.xml")
        if results_dest:
            os.makedirs(os.path.dirname(os.path.abspath(results_dest)), exist_ok=True)
        try:
            ran = openscap.run_oscap(profile, datastream, results, root, timeout)
            summary, report_digest = _summarise(results, profile)
        finally:
            if folder:
                shutil.rmtree(folder, ignore_errors=True)
    else:
        summary, report_digest = _summarise(results, profile)
    predicate = compliance_predicate(
        summary["profile"] or profile,
        summary["passed_rules"],
        summary["failed_rules"],
        summary["finished"],
        scanner=summary["scanner"],
        report_sha256=report_digest,
    )
    return {
        "ran": ran is not None,
        "exit_code": ran["rc"] if ran else None,
        "command": ran["command"] if ran else None,
        "environment": ran["environment"] if ran else {},
        "results_file": results_dest if datastream else results,
        "report_digest": report_digest,
        "predicate": predicate,
    }


def _summarise(path, profile):
    summary = xccdf.read_results(path, profile=profile)
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return summary, digest.hexdigest()
