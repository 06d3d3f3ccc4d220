# Private to this collection.
"""Severity of an advisory: the CVSS v3 base score computed from its vector, or the rating a database gives.

The base score follows the CVSS v3.1 specification (section 7.1, with the Roundup of appendix A; v3.0
vectors use v3.0's plain round-up to one decimal). The score maps to the qualitative rating of the
specification's table 14, with 0.0 counted as low. Where no v3 vector is given (a v2 or v4 vector
alone, or none), a rating word of the database is used (``database_specific.severity``, an ``Ubuntu``
severity entry, Trivy's or Grype's severity), normalised to CRITICAL, HIGH, MEDIUM, LOW or UNKNOWN.
"""

from __future__ import annotations

import math

CRITICAL = "critical"
HIGH = "high"
MEDIUM = "medium"
LOW = "low"
UNKNOWN = "unknown"
# Most severe first; the gate compares ranks.
LEVELS = (CRITICAL, HIGH, MEDIUM, LOW, UNKNOWN)
RANK = {LOW: 1, MEDIUM: 2, HIGH: 3, CRITICAL: 4}

# Words databases use, lower-cased, for the five levels.
_WORDS = {
    "critical": CRITICAL,
    "urgent": CRITICAL,
    "high": HIGH,
    "important": HIGH,
    "moderate": MEDIUM,
    "medium": MEDIUM,
    "low": LOW,
    "negligible": LOW,
    "unimportant": LOW,
    "minor": LOW,
    "none": LOW,
}

_WEIGHTS = {
    "AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
    "AC": {"L": 0.77, "H": 0.44},
    "UI": {"N": 0.85, "R": 0.62},
    "C": {"H": 0.56, "L": 0.22, "N": 0.0},
    "I": {"H": 0.56, "L": 0.22, "N": 0.0},
    "A": {"H": 0.56, "L": 0.22, "N": 0.0},
}
_PRIVILEGES = {"U": {"N": 0.85, "L": 0.62, "H": 0.27}, "C": {"N": 0.85, "L": 0.68, "H": 0.5}}
_BASE_METRICS = ("AV", "AC", "PR", "UI", "S", "C", "I", "A")


def _roundup_31(value):
    whole = int(round(value * 100000))
    if whole % 10000 == 0:
        return whole / 100000.0
    return (math.floor(whole / 10000) + 1) / 10.0


def _roundup_30(value):
    return math.ceil(value * 10) / 10.0


def cvss3_base_score(vector):
    """The base score of a ``CVSS:3.x/AV:…/AC:…/PR:…/UI:…/S:…/C:…/I:…/A:…`` vector; None if it is not one."""
    parts = str(vector or "").strip().split("/")
    if not parts or parts[0] not in ("CVSS:3.0", "CVSS:3.1"):
        return None
    metrics = {}
    for part in parts[1:]:
        if ":" not in part:
            return None
        key, value = part.split(":", 1)
        if key in metrics:
            return None
        metrics[key] = value
    if any(key not in metrics for key in _BASE_METRICS):
        return None
    scope = metrics["S"]
    try:
        if scope not in _PRIVILEGES:
            return None
        weights = {key: _WEIGHTS[key][metrics[key]] for key in _WEIGHTS}
        privileges = _PRIVILEGES[scope][metrics["PR"]]
    except KeyError:
        return None
    roundup = _roundup_31 if parts[0] == "CVSS:3.1" else _roundup_30
    impact_sub = 1 - (1 - weights["C"]) * (1 - weights["I"]) * (1 - weights["A"])
    unchanged = scope == "U"
    impact = 6.42 * impact_sub if unchanged else 7.52 * (impact_sub - 0.029) - 3.25 * (impact_sub - 0.02) ** 15
    exploitability = 8.22 * weights["AV"] * weights["AC"] * privileges * weights["UI"]
    if impact <= 0:
        return 0.0
    if scope == "U":
        return roundup(min(impact + exploitability, 10))
    return roundup(min(1.08 * (impact + exploitability), 10))


def rating_of_score(score):
    if score is None:
        return UNKNOWN
    if score >= 9.0:
        return CRITICAL
    if score >= 7.0:
        return HIGH
    if score >= 4.0:
        return MEDIUM
    return LOW


def normalise(word):
    """One of LEVELS for a database's rating word (``MODERATE``, ``Important``, ``negligible`` …)."""
    return _WORDS.get(str(word or "").strip().lower(), UNKNOWN)


def osv_severity(record, affected=None):
    """``(level, score)`` of an OSV record (and the affected entry matched): the highest CVSS v3 score
    among its ``severity`` entries, else a rating word from ``database_specific`` or ``ecosystem_specific``."""
    scores = []
    entries = list(record.get("severity") or [])
    if isinstance(affected, dict):
        entries.extend(affected.get("severity") or [])
    for entry in entries:
        if isinstance(entry, dict) and entry.get("type") == "CVSS_V3":
            score = cvss3_base_score(entry.get("score"))
            if score is not None:
                scores.append(score)
    if scores:
        return rating_of_score(max(scores)), max(scores)
    words = [entry.get("score") for entry in entries if isinstance(entry, dict) and entry.get("type") == "Ubuntu"]
    for holder in (affected or {}, record):
        for key in ("database_specific", "ecosystem_specific"):
            specific = holder.get(key) if isinstance(holder, dict) else None
            if isinstance(specific, dict) and isinstance(specific.get("severity"), str):
                words.append(specific["severity"])
    levels = [normalise(word) for word in words]
    known = [level for level in levels if level != UNKNOWN]
    if known:
        return max(known, key=RANK.get), None
    return UNKNOWN, None


# Worst first; a finding of unknown severity counts as critical at the gate, so it ranks right after critical.
WORST_FIRST = (CRITICAL, UNKNOWN, HIGH, MEDIUM, LOW)


def worst_level(counts):
    """The worst level with a finding in ``counts`` (count_by_level's), or None."""
    return next((level for level in WORST_FIRST if counts.get(level)), None)


def count_by_level(findings):
    counts = dict.fromkeys(LEVELS, 0)
    for finding in findings:
        counts[finding["severity"]] = counts.get(finding["severity"], 0) + 1
    return counts
