# Private to this collection.
"""The trust policy's scan gates: its ``vulnerabilities`` and ``compliance`` sections, and their verdicts.

    vulnerabilities:
      max_severity: high         # the worst severity allowed: a finding rated above it refuses the image.
                                 # critical, high, medium, low, or none (no finding at all)
      allow:                     # findings accepted anyway, by advisory id or alias, until they expire
        - {id: CVE-2026-10001, reason: "not reachable: no TLS server in the image", expires: 2026-12-31}
      max_scan_age_days: 7       # the scan must have finished at most this long ago
    compliance:
      profile: xccdf_org.ssgproject.content_profile_standard   # the XCCDF profile the scan must have used
      max_failed: 0              # failed rules tolerated
      required_rules: [xccdf_org.ssgproject.content_rule_sshd_disable_root_login]   # must have passed

Fail closed: a section that is present but empty or malformed is refused when the policy is read, never
read as "no gate"; ``max_severity`` and ``profile`` are required. A finding of unknown severity counts
as critical (an unrated advisory is not known to be harmless). An allow entry needs id, reason and
expires; after its expiry (a bare date lasts to the end of that day, UTC) it allows nothing, and the
refusal says it expired. The checks return Refusals, each naming the finding or rule it is about.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass

from .._core.errors import InvalidInput
from .._core.timeutil import format_utc, parse_utc, utcnow
from .attestations import findings_of
from .severity import CRITICAL, HIGH, LOW, MEDIUM, RANK, UNKNOWN

NONE = "none"
MAX_SEVERITIES = (CRITICAL, HIGH, MEDIUM, LOW, NONE)
_ALLOWED_RANK = {CRITICAL: 4, HIGH: 3, MEDIUM: 2, LOW: 1, NONE: 0}
VULNERABILITY_FIELDS = ("max_severity", "allow", "max_scan_age_days")
ALLOW_FIELDS = ("id", "reason", "expires")
COMPLIANCE_FIELDS = ("profile", "max_failed", "required_rules")
MAX_AGE_DAYS_LIMIT = 36500

# Why a gate refuses.
NO_SCAN = "no scan"
MALFORMED_SCAN = "malformed scan"
STALE_SCAN = "stale scan"
VULNERABLE = "vulnerable"
NO_COMPLIANCE = "no compliance result"
WRONG_PROFILE = "wrong profile"
NONCOMPLIANT = "noncompliant"
REQUIRED_RULE = "required rule"


@dataclass(frozen=True)
class AllowEntry:
    id: str
    reason: str
    expires: datetime.datetime  # the first moment it no longer allows

    def to_dict(self):
        return {"id": self.id, "reason": self.reason, "expires": format_utc(self.expires)}


@dataclass(frozen=True)
class VulnerabilityRules:
    max_severity: str
    allow: tuple = ()
    max_scan_age_days: float = None

    def to_dict(self):
        return {
            "max_severity": self.max_severity,
            "allow": [entry.to_dict() for entry in self.allow],
            "max_scan_age_days": self.max_scan_age_days,
        }


@dataclass(frozen=True)
class ComplianceRules:
    profile: str
    max_failed: int = 0
    required_rules: tuple = ()

    def to_dict(self):
        return {"profile": self.profile, "max_failed": self.max_failed, "required_rules": list(self.required_rules)}


@dataclass(frozen=True)
class Refusal:
    reason: str
    subject: str  # the finding's id, the rule's id, or the attestation refused
    message: str

    def to_dict(self):
        return {"reason": self.reason, "subject": self.subject, "message": self.message}


def _bad(source, message, hint=None):
    return InvalidInput(
        "invalid trust policy %s: %s" % (source, message),
        resource=source,
        hint=hint or "Fix the policy; an empty or malformed section does not switch its gate off.",
    )


def _unknown_fields(value, known, what, source):
    unknown = sorted(str(key) for key in set(value) - set(known))
    if unknown:
        raise _bad(source, "%s has unknown field(s) %s; known: %s" % (what, ", ".join(unknown), ", ".join(known)))


def _days(value, what, source):
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not 0 < value <= MAX_AGE_DAYS_LIMIT
    ):
        raise _bad(
            source, "%s must be a number of days above 0, at most %d; got %r" % (what, MAX_AGE_DAYS_LIMIT, value)
        )
    return value


def _expiry(value, what, source):
    """The first moment an entry no longer applies: a bare date lasts to the end of its day (UTC)."""
    if isinstance(value, datetime.datetime):
        return parse_utc(value)
    if isinstance(value, datetime.date):
        day = datetime.datetime(value.year, value.month, value.day, tzinfo=datetime.timezone.utc)
        return day + datetime.timedelta(days=1)
    if not isinstance(value, str) or not value.strip():
        raise _bad(source, "%s must be a date (2026-12-31) or a time (2026-12-31T12:00:00Z); got %r" % (what, value))
    text = value.strip()
    try:
        if len(text) == 10:
            return _expiry(datetime.date.fromisoformat(text), what, source)
        return parse_utc(text, what)
    except (ValueError, InvalidInput):
        raise _bad(source, "%s is not an ISO 8601 date or time: %r" % (what, value)) from None


def parse_vulnerabilities(value, source="(inline mapping)"):
    """VulnerabilityRules of a policy's ``vulnerabilities`` section; InvalidInput when empty or malformed."""
    if not isinstance(value, dict) or not value:
        raise _bad(
            source,
            "vulnerabilities must be a mapping with at least max_severity (one of %s); got %r"
            % (", ".join(MAX_SEVERITIES), value),
        )
    _unknown_fields(value, VULNERABILITY_FIELDS, "vulnerabilities", source)
    worst = value.get("max_severity")
    if not isinstance(worst, str) or worst.strip().lower() not in MAX_SEVERITIES:
        raise _bad(
            source, "vulnerabilities.max_severity must be one of %s; got %r" % (", ".join(MAX_SEVERITIES), worst)
        )
    entries = value.get("allow", [])
    if not isinstance(entries, list):
        raise _bad(source, "vulnerabilities.allow must be a list of {id, reason, expires}")
    allow = []
    for index, entry in enumerate(entries):
        what = "vulnerabilities.allow[%d]" % index
        if not isinstance(entry, dict):
            raise _bad(source, "%s must be a mapping with id, reason and expires" % what)
        _unknown_fields(entry, ALLOW_FIELDS, what, source)
        for name in ALLOW_FIELDS:
            if entry.get(name) in (None, ""):
                raise _bad(
                    source,
                    "%s has no %s; an allow entry needs id, reason and expires" % (what, name),
                    hint="An exception without a reason or an end is not accepted: give both.",
                )
        if not isinstance(entry["id"], str) or not isinstance(entry["reason"], str):
            raise _bad(source, "%s: id and reason must be strings" % what)
        allow.append(
            AllowEntry(
                entry["id"].strip(), entry["reason"].strip(), _expiry(entry["expires"], what + ".expires", source)
            )
        )
    return VulnerabilityRules(
        max_severity=worst.strip().lower(),
        allow=tuple(allow),
        max_scan_age_days=_days(value.get("max_scan_age_days"), "vulnerabilities.max_scan_age_days", source),
    )


def parse_compliance(value, source="(inline mapping)"):
    """ComplianceRules of a policy's ``compliance`` section; InvalidInput when empty or malformed."""
    if not isinstance(value, dict) or not value:
        raise _bad(
            source, "compliance must be a mapping with at least profile (an XCCDF profile id); got %r" % (value,)
        )
    _unknown_fields(value, COMPLIANCE_FIELDS, "compliance", source)
    profile = value.get("profile")
    if not isinstance(profile, str) or not profile.strip():
        raise _bad(source, "compliance.profile must name the XCCDF profile; got %r" % (profile,))
    max_failed = value.get("max_failed", 0)
    if isinstance(max_failed, bool) or not isinstance(max_failed, int) or max_failed < 0:
        raise _bad(source, "compliance.max_failed must be a whole number, at least 0; got %r" % (max_failed,))
    rules = value.get("required_rules", [])
    if not isinstance(rules, list) or not all(isinstance(rule, str) and rule.strip() for rule in rules):
        raise _bad(source, "compliance.required_rules must be a list of rule ids; got %r" % (rules,))
    return ComplianceRules(profile.strip(), max_failed, tuple(rule.strip() for rule in rules))


# -- verdicts ---------------------------------------------------------------------------------------------


def _rank(level):
    return RANK[CRITICAL] if level == UNKNOWN else RANK.get(level, RANK[CRITICAL])


def _names(finding):
    return [finding["id"], *(finding.get("aliases") or [])]


def _finished(predicate):
    try:
        return parse_utc(predicate["metadata"]["scanFinishedOn"], "scanFinishedOn")
    except (KeyError, TypeError, InvalidInput):
        return None


def check_vulnerabilities(rules, predicate, now=None):
    """Refusals of a vuln predicate (attestations.vuln_predicate's shape) under ``rules``; [] when it passes."""
    now = now or utcnow()
    if predicate is None:
        return [Refusal(NO_SCAN, "vulnerability scan", "the image has no vulnerability scan attestation")]
    findings = findings_of(predicate)
    finished = _finished(predicate)
    if findings is None or finished is None:
        return [
            Refusal(
                MALFORMED_SCAN,
                "vulnerability scan",
                "the vulnerability scan has no findings list or no scanFinishedOn time",
            )
        ]
    refusals = []
    if rules.max_scan_age_days is not None and now - finished > datetime.timedelta(days=rules.max_scan_age_days):
        refusals.append(
            Refusal(
                STALE_SCAN,
                "vulnerability scan",
                "the vulnerability scan finished %s, more than %s days ago (max_scan_age_days)"
                % (format_utc(finished), rules.max_scan_age_days),
            )
        )
    limit = _ALLOWED_RANK[rules.max_severity]
    for finding in findings:
        if _rank(finding["severity"]) <= limit:
            continue
        names = _names(finding)
        entries = [entry for entry in rules.allow if entry.id in names]
        if any(now < entry.expires for entry in entries):
            continue
        label = finding["id"] + (" (%s)" % ", ".join(finding["aliases"]) if finding.get("aliases") else "")
        message = "%s in %s %s is %s, above max_severity %s" % (
            label,
            finding.get("package", "?"),
            finding.get("installed_version", "?"),
            finding["severity"],
            rules.max_severity,
        )
        if finding.get("fixed_version"):
            message += "; fixed in %s" % finding["fixed_version"]
        if entries:
            message += "; its allow entry expired on %s" % format_utc(max(entry.expires for entry in entries))
        refusals.append(Refusal(VULNERABLE, finding["id"], message))
    return refusals


def check_compliance(rules, predicate):
    """Refusals of a compliance predicate (attestations.compliance_predicate's shape) under ``rules``."""
    if predicate is None:
        return [Refusal(NO_COMPLIANCE, "compliance scan", "the image has no compliance attestation")]
    failed_rules = predicate.get("failedRules")
    passed_rules = predicate.get("passedRules")
    failed = predicate.get("failed")
    if (
        not isinstance(failed_rules, list)
        or not isinstance(passed_rules, list)
        or isinstance(failed, bool)
        or not isinstance(failed, int)
    ):
        return [Refusal(MALFORMED_SCAN, "compliance scan", "the compliance result has no failed/passed rule lists")]
    if predicate.get("profile") != rules.profile:
        return [
            Refusal(
                WRONG_PROFILE,
                str(predicate.get("profile")),
                "the compliance scan used profile %r, the policy requires %r"
                % (predicate.get("profile"), rules.profile),
            )
        ]
    refusals = []
    failed = max(failed, len(failed_rules))
    if failed > rules.max_failed:
        shown = ", ".join(failed_rules[:5]) + (" …" if len(failed_rules) > 5 else "")
        refusals.append(
            Refusal(
                NONCOMPLIANT,
                failed_rules[0] if failed_rules else rules.profile,
                "%d rule(s) of %s failed, max_failed is %d: %s" % (failed, rules.profile, rules.max_failed, shown),
            )
        )
    for rule in rules.required_rules:
        if rule in failed_rules:
            refusals.append(Refusal(REQUIRED_RULE, rule, "required rule %s failed" % rule))
        elif rule not in passed_rules:
            refusals.append(Refusal(REQUIRED_RULE, rule, "required rule %s was not evaluated as passed" % rule))
    return refusals
