# Private to this collection.
"""Version ordering of the distributions' package managers: Debian's (dpkg) and RPM's.

Both are written from the published descriptions of the algorithms, not from either tool's code:

- Debian Policy §5.6.12 (``[epoch:]upstream_version[-debian_revision]``): epochs compare as numbers;
  upstream version and revision each compare as alternating runs of non-digits and digits. Non-digit
  runs compare character by character where ``~`` sorts before everything (even the end of the run),
  then the end of the run, then letters (in ASCII order), then every other character (in ASCII order);
  digit runs compare as numbers (an empty run is 0). A missing revision compares like ``0``.
- RPM's ``rpmvercmp`` as rpm's documentation describes it (``[epoch:]version[-release]``): each of
  version and release is cut into runs of letters or digits, everything else separating them; ``~``
  sorts before everything (``1.0~rc1 < 1.0``), ``^`` after the base but before anything else that
  follows (``1.0 < 1.0^git1 < 1.0.1``); a digit run is newer than a letter run; digit runs compare as
  numbers, letter runs as strings; the version with runs left over is newer. A release is compared only
  when both sides have one (so a bound without release matches every release), as rpm does.

``compare(a, b)`` returns -1, 0 or 1. Malformed versions raise InvalidVersion (a PhoenixError): a
matcher must never guess an order for what it cannot read.
"""

from __future__ import annotations

import re

from .._core.errors import PhoenixError

DPKG = "dpkg"
RPM = "rpm"

_DPKG_ALLOWED = re.compile(r"^[A-Za-z0-9.+~:-]+$")
_DIGITS = re.compile(r"[0-9]+")
_LETTERS = re.compile(r"[A-Za-z]+")
_RPM_RUN = re.compile(r"[0-9]+|[A-Za-z]+")


class InvalidVersion(PhoenixError):
    def __init__(self, scheme, version, why):
        super().__init__(
            "%r is not a valid %s version: %s" % (version, scheme, why),
            resource=str(version),
            code="InvalidVersion",
            hint="Check the version in the SBOM or the advisory.",
        )


def _sign(value):
    return (value > 0) - (value < 0)


# -- Debian ----------------------------------------------------------------------------------------------


def parse_dpkg(version):
    """``(epoch, upstream, revision)`` of a Debian version; the revision is ``""`` when there is none."""
    text = str(version).strip() if version is not None else ""
    if not text:
        raise InvalidVersion(DPKG, version, "it is empty")
    if not _DPKG_ALLOWED.match(text):
        raise InvalidVersion(DPKG, version, "only letters, digits and . + ~ - : may appear")
    epoch = 0
    if ":" in text:
        epoch_text, text = text.split(":", 1)
        if not epoch_text.isdigit():
            raise InvalidVersion(DPKG, version, "the epoch before ':' must be a number")
        epoch = int(epoch_text)
    upstream, revision = text, ""
    if "-" in text:
        upstream, revision = text.rsplit("-", 1)
        if not revision:
            raise InvalidVersion(DPKG, version, "the revision after the last '-' is empty")
    if not upstream:
        raise InvalidVersion(DPKG, version, "the upstream version is empty")
    if ":" in upstream or ":" in revision:
        raise InvalidVersion(DPKG, version, "':' may appear only once, after the epoch")
    return epoch, upstream, revision


def _dpkg_weight(char):
    """Where a character of a non-digit run sorts; None (the end of the run) weighs 0."""
    if char is None:
        return 0
    if char == "~":
        return -1
    if char.isalpha():
        return ord(char)
    return ord(char) + 256


def _dpkg_runs(text):
    """Alternating (non-digit run, digit run) pairs covering ``text``; either may be empty."""
    pairs, position = [], 0
    while position < len(text):
        digits = _DIGITS.search(text, position)
        start = digits.start() if digits else len(text)
        end = digits.end() if digits else len(text)
        pairs.append((text[position:start], text[start:end]))
        position = end
    return pairs


def _dpkg_part(left, right):
    left_runs, right_runs = _dpkg_runs(left), _dpkg_runs(right)
    for index in range(max(len(left_runs), len(right_runs))):
        left_letters, left_digits = left_runs[index] if index < len(left_runs) else ("", "")
        right_letters, right_digits = right_runs[index] if index < len(right_runs) else ("", "")
        for position in range(max(len(left_letters), len(right_letters))):
            left_char = left_letters[position] if position < len(left_letters) else None
            right_char = right_letters[position] if position < len(right_letters) else None
            order = _sign(_dpkg_weight(left_char) - _dpkg_weight(right_char))
            if order:
                return order
        order = _sign(int(left_digits or 0) - int(right_digits or 0))
        if order:
            return order
    return 0


def compare_dpkg(left, right):
    left_epoch, left_upstream, left_revision = parse_dpkg(left)
    right_epoch, right_upstream, right_revision = parse_dpkg(right)
    return (
        _sign(left_epoch - right_epoch)
        or _dpkg_part(left_upstream, right_upstream)
        or _dpkg_part(left_revision or "0", right_revision or "0")
    )


# -- RPM -------------------------------------------------------------------------------------------------


def parse_rpm(version):
    """``(epoch, version, release)`` of an RPM EVR; the release is None when there is none."""
    text = str(version).strip() if version is not None else ""
    if not text:
        raise InvalidVersion(RPM, version, "it is empty")
    epoch = 0
    if ":" in text:
        epoch_text, text = text.split(":", 1)
        if epoch_text:
            if not epoch_text.isdigit():
                raise InvalidVersion(RPM, version, "the epoch before ':' must be a number")
            epoch = int(epoch_text)
    release = None
    if "-" in text:
        text, release = text.rsplit("-", 1)
    if not text:
        raise InvalidVersion(RPM, version, "the version is empty")
    return epoch, text, release


def _rpm_segment_order(left, right):
    """rpmvercmp on one of version or release, as -1, 0 or 1."""
    if left == right:
        return 0
    one, two = 0, 0
    while one < len(left) or two < len(right):
        while one < len(left) and not (left[one].isascii() and left[one].isalnum()) and left[one] not in "~^":
            one += 1
        while two < len(right) and not (right[two].isascii() and right[two].isalnum()) and right[two] not in "~^":
            two += 1
        left_char = left[one] if one < len(left) else ""
        right_char = right[two] if two < len(right) else ""
        if "~" in (left_char, right_char):
            if left_char != "~":
                return 1
            if right_char != "~":
                return -1
            one, two = one + 1, two + 1
            continue
        if "^" in (left_char, right_char):
            if not left_char:
                return -1
            if not right_char:
                return 1
            if left_char != "^":
                return 1
            if right_char != "^":
                return -1
            one, two = one + 1, two + 1
            continue
        if not (left_char and right_char):
            break
        left_run = _RPM_RUN.match(left, one).group(0)
        numeric = left_run.isdigit()
        right_match = (_DIGITS if numeric else _LETTERS).match(right, two)
        if right_match is None:
            # The other side has a run of the other kind here: a digit run is the newer.
            return 1 if numeric else -1
        right_run = right_match.group(0)
        order = (
            _sign(int(left_run) - int(right_run)) if numeric else _sign((left_run > right_run) - (left_run < right_run))
        )
        if order:
            return order
        one, two = one + len(left_run), two + len(right_run)
    left_rest, right_rest = one < len(left), two < len(right)
    if not left_rest and not right_rest:
        return 0
    return -1 if not left_rest else 1


def compare_rpm(left, right):
    left_epoch, left_version, left_release = parse_rpm(left)
    right_epoch, right_version, right_release = parse_rpm(right)
    order = _sign(left_epoch - right_epoch) or _rpm_segment_order(left_version, right_version)
    if order or left_release is None or right_release is None:
        return order
    return _rpm_segment_order(left_release, right_release)


COMPARATORS = {DPKG: compare_dpkg, RPM: compare_rpm}


def compare(scheme, left, right):
    """-1, 0 or 1 as ``left`` sorts before, with or after ``right`` under ``scheme`` (DPKG or RPM)."""
    try:
        comparator = COMPARATORS[scheme]
    except KeyError:
        raise PhoenixError(
            "no version ordering is known for %r; known: %s" % (scheme, ", ".join(sorted(COMPARATORS))),
            code="UnknownVersionScheme",
        ) from None
    return comparator(left, right)
