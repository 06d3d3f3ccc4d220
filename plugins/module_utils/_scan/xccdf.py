# Private to this collection.
"""An OpenSCAP evaluation's results (``oscap xccdf eval --results …`` or ``--results-arf``), summarised
as the compliance predicate wants it: the profile, the rule ids that passed and those that failed.

The XCCDF ``TestResult`` is found by local names, so XCCDF 1.1 and 1.2 results and ARF reports that wrap
one all read the same. Each ``rule-result``'s ``result`` counts as

- passed: ``pass``, ``fixed``;
- failed: ``fail``, and also ``error`` and ``unknown`` (a check that could not decide is not a pass);
- neither: ``notapplicable``, ``notchecked``, ``notselected``, ``informational``.

The results file is the user's own scanner's output, read with the standard library's parser.
"""

from __future__ import annotations

from xml.etree import ElementTree

from .._core.errors import PhoenixError

PASSED = ("pass", "fixed")
FAILED = ("fail", "error", "unknown")
NEITHER = ("notapplicable", "notchecked", "notselected", "informational")
MAX_RESULTS_BYTES = 256 * 1024 * 1024


def _local(tag):
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _error(source, message):
    return PhoenixError(
        "cannot read the XCCDF results %s: %s" % (source, message),
        resource=str(source),
        code="InvalidComplianceResults",
        hint="Give the file oscap xccdf eval wrote with --results or --results-arf.",
    )


def parse_results(data, source="XCCDF results", profile=None):
    """``{"profile", "passed_rules", "failed_rules", "finished", "scanner"}`` of the last TestResult (of
    ``profile`` when given) in ``data`` (the results' XML bytes or text)."""
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as error:
        raise _error(source, "not XML (%s)" % error) from None
    results = [element for element in root.iter() if _local(element.tag) == "TestResult"]
    chosen = None
    for result in results:
        named = next((child.get("idref") for child in result if _local(child.tag) == "profile"), None)
        if profile is None or named == profile:
            chosen = (result, named)
    if chosen is None:
        raise _error(source, "no TestResult" + (" of profile %s" % profile if profile else ""))
    result, named = chosen
    passed, failed = [], []
    for rule in result:
        if _local(rule.tag) != "rule-result":
            continue
        outcome = next((child.text or "" for child in rule if _local(child.tag) == "result"), "").strip()
        identifier = rule.get("idref")
        if not identifier or outcome not in PASSED + FAILED + NEITHER:
            raise _error(source, "a rule-result without idref or with result %r" % outcome)
        if outcome in PASSED:
            passed.append(identifier)
        elif outcome in FAILED:
            failed.append(identifier)
    system = result.get("test-system") or ""
    version = system.rsplit(":", 1)[-1] if system.count(":") >= 4 else ""
    return {
        "profile": named or "",
        "passed_rules": sorted(set(passed)),
        "failed_rules": sorted(set(failed)),
        "finished": result.get("end-time") or "",
        "scanner": {"uri": "pkg:generic/openscap", "version": version},
    }


def read_results(path, profile=None):
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_RESULTS_BYTES + 1)
    except OSError as error:
        raise _error(path, error.strerror or str(error)) from None
    if len(data) > MAX_RESULTS_BYTES:
        raise _error(path, "larger than %d bytes" % MAX_RESULTS_BYTES)
    return parse_results(data, source=path, profile=profile)
