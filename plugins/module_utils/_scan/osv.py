# Private to this collection.
"""OSV advisories (https://ossf.github.io/osv-schema/) matched against an SBOM's components.

A feed is a file (one record, a JSON list of records, or a zip export of ``*.json`` records) or a
directory of ``*.json`` files, searched recursively. Each ``affected[]`` entry names a package by
``package.ecosystem`` and ``package.name`` (or ``package.purl``); a component is affected when

- the ecosystem is its distribution's (``Debian:12`` for ``distro=debian-12``, ``Debian`` for any Debian
  release, ``Ubuntu:22.04:LTS``, ``AlmaLinux:9`` for ``almalinux-9.3`` …) or its language ecosystem,
- the name is the component's, or its source package's (Debian's advisories name source packages),
- and its version is in an ``ECOSYSTEM`` range (the ``introduced``/``fixed``/``last_affected`` events
  evaluated in version order, as the OSV schema describes) or listed in ``versions[]``, ordered the way
  the distribution's package manager orders versions (``versions.py``).

A component whose version cannot be ordered against a matching advisory is counted as affected, with a
note: the matcher fails closed. Ranges it has no ordering for (``SEMVER``, ``GIT``, a language
ecosystem's) are reported in ``skipped``, never dropped silently. Withdrawn records are left out.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import zipfile

from .._core.canonical import canonical_json, sha256_hex
from .._core.errors import PhoenixError
from . import versions
from .purl import parse_purl
from .severity import RANK, osv_severity

# OSV ecosystem (before the first ':') -> (os-release IDs it covers, version scheme).
DISTRIBUTIONS = {
    "Debian": (("debian",), versions.DPKG),
    "Ubuntu": (("ubuntu",), versions.DPKG),
    "Red Hat": (("rhel", "redhat"), versions.RPM),
    "AlmaLinux": (("almalinux",), versions.RPM),
    "Rocky Linux": (("rocky",), versions.RPM),
    "openSUSE": (("opensuse", "opensuse-leap", "opensuse-tumbleweed"), versions.RPM),
    "SUSE": (("sles", "sled", "sles_sap"), versions.RPM),
    "Mageia": (("mageia",), versions.RPM),
}
# Package URL types of language packages -> their OSV ecosystem (matched by versions[] only).
LANGUAGES = {
    "pypi": "PyPI",
    "npm": "npm",
    "golang": "Go",
    "cargo": "crates.io",
    "maven": "Maven",
    "gem": "RubyGems",
    "nuget": "NuGet",
    "composer": "Packagist",
}
MAX_FEED_FILE_BYTES = 64 * 1024 * 1024


class Feed:
    """The records of a feed, indexed by package name; ``digest`` identifies its content."""

    def __init__(self, records, source=""):
        self.source = source
        self.records = [record for record in records if not record.get("withdrawn")]
        self.withdrawn = len(records) - len(self.records)
        self.by_name = {}
        for record in self.records:
            for affected in record.get("affected") or []:
                if not isinstance(affected, dict):
                    continue
                for name in _affected_names(affected):
                    self.by_name.setdefault(name, []).append((record, affected))
        summary = sorted((str(record.get("id")), str(record.get("modified", ""))) for record in self.records)
        self.digest = sha256_hex(canonical_json(summary))
        self.modified = max((modified for _id, modified in summary if modified), default="")


def _affected_names(affected):
    package = affected.get("package") or {}
    names = set()
    if package.get("name"):
        names.add(str(package["name"]))
    if package.get("purl"):
        with contextlib.suppress(PhoenixError):  # a malformed purl still leaves the name to match
            names.add(parse_purl(package["purl"]).name)
    return names


def _feed_error(source, message):
    return PhoenixError(
        "cannot read the OSV feed %s: %s" % (source, message),
        resource=str(source),
        code="InvalidAdvisoryFeed",
        hint="Give a directory or file of OSV JSON records (https://ossf.github.io/osv-schema/).",
    )


def _records_of(data, source):
    try:
        document = json.loads(data.decode("utf-8") if isinstance(data, bytes) else data)
    except (UnicodeDecodeError, ValueError) as error:
        raise _feed_error(source, "not JSON (%s)" % error) from None
    items = document if isinstance(document, list) else [document]
    for item in items:
        if not isinstance(item, dict) or not item.get("id"):
            raise _feed_error(source, "an entry is not an OSV record (no id)")
    return items


def load_feed(path):
    """The Feed of an OSV file, zip export or directory at ``path``."""
    path = os.path.expanduser(str(path))
    records = []
    if os.path.isdir(path):
        for folder, subfolders, files in os.walk(path):
            subfolders.sort()
            for name in sorted(files):
                if name.endswith(".json"):
                    records.extend(_read_file(os.path.join(folder, name)))
    elif os.path.isfile(path) and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            for info in sorted(archive.infolist(), key=lambda entry: entry.filename):
                if info.filename.endswith(".json") and info.file_size <= MAX_FEED_FILE_BYTES:
                    records.extend(_records_of(archive.read(info), "%s!%s" % (path, info.filename)))
    elif os.path.isfile(path):
        records.extend(_read_file(path))
    else:
        raise _feed_error(path, "no such file or directory")
    return Feed(records, source=path)


def _read_file(path):
    try:
        with open(path, "rb") as handle:
            return _records_of(handle.read(MAX_FEED_FILE_BYTES + 1), path)
    except OSError as error:
        raise _feed_error(path, error.strerror or str(error)) from None


# -- matching ---------------------------------------------------------------------------------------------


def _split_distro(distro):
    """``("debian", "12")`` of ``debian-12``; ``("opensuse-leap", "15.5")`` of ``opensuse-leap-15.5``."""
    if "-" not in distro:
        return distro.lower(), ""
    family, release = distro.rsplit("-", 1)
    if release[:1].isdigit():
        return family.lower(), release
    return distro.lower(), ""


def _release_of(ecosystem):
    """The release an OSV ecosystem names: ``12`` of ``Debian:12``, ``22.04`` of ``Ubuntu:Pro:22.04:LTS``."""
    for part in ecosystem.split(":")[1:]:
        words = part.split()
        for word in words:
            if word[:1].isdigit():
                return word
    return ""


def _scheme_for(ecosystem, component):
    """The version scheme when ``ecosystem`` is the component's distribution's (None when it is not)."""
    family = ecosystem.split(":", 1)[0]
    if family not in DISTRIBUTIONS:
        return None
    ids, scheme = DISTRIBUTIONS[family]
    distro_id, distro_release = _split_distro(component.distro)
    if distro_id not in ids or component.type != ("deb" if scheme == versions.DPKG else "rpm"):
        return None
    release = _release_of(ecosystem)
    if release and not (distro_release == release or distro_release.startswith(release + ".")):
        return None
    return scheme


def _installed_version(component, affected_name):
    if affected_name == component.source and component.source != component.name and component.source_version:
        return component.source_version
    return component.version


def _ordered_events(events, order):
    def key(event):
        kind, value = next(iter(event.items()))
        return kind, value

    pairs = [key(event) for event in events if isinstance(event, dict) and len(event) == 1]

    def by_version(left, right):
        if left[1] == right[1]:
            return 0
        if left[0] == "introduced" and left[1] == "0":
            return -1
        if right[0] == "introduced" and right[1] == "0":
            return 1
        return order(left[1], right[1])

    return sorted(pairs, key=functools.cmp_to_key(by_version))


def _in_range(version, events, order):
    """``(affected, fixed version or None)`` for one ECOSYSTEM range (OSV's evaluation, in version order)."""
    affected, fixed = False, None
    for kind, value in _ordered_events(events, order):
        if kind == "introduced" and (value == "0" or order(version, value) >= 0):
            affected = True
        elif (kind == "fixed" and order(version, value) >= 0) or (
            kind == "last_affected" and order(version, value) > 0
        ):
            affected = False
    if affected:
        later = [value for kind, value in _ordered_events(events, order) if kind == "fixed"]
        fixed = next((value for value in later if order(version, value) < 0), None)
    return affected, fixed


def _evaluate(affected, version, order):
    """``(affected, fixed, unordered ranges)`` of one affected entry for ``version``."""
    hit, fixes, unordered = False, [], []
    for listed in affected.get("versions") or []:
        if listed == version or (order is not None and order(version, str(listed)) == 0):
            hit = True
    for entry in affected.get("ranges") or []:
        if not isinstance(entry, dict):
            continue
        if entry.get("type") != "ECOSYSTEM" or order is None:
            unordered.append(str(entry.get("type")))
            continue
        inside, fixed = _in_range(version, entry.get("events") or [], order)
        if inside:
            hit = True
            if fixed:
                fixes.append(fixed)
    fixed = min(fixes, key=functools.cmp_to_key(order)) if fixes and order is not None else None
    return hit, fixed, unordered


def _aliases(record):
    return sorted({str(alias) for alias in (record.get("aliases") or []) + (record.get("upstream") or [])})


def match(feed, components):
    """``(findings, skipped)``: the advisories of ``feed`` that affect ``components`` (sbom.Component).

    A finding: id, aliases, package, purl, installed_version, fixed_version (None without a fix),
    severity (severity.LEVELS), score (CVSS v3 base score or None), summary and, where the version could
    not be ordered, a note. ``skipped`` lists (id, package, reason) of advisories that name a component
    but could not be evaluated.
    """
    findings, skipped, seen = {}, [], set()
    for component in components:
        names = {component.name, component.source} - {""}
        for name in sorted(names):
            for record, affected in feed.by_name.get(name, []):
                ecosystem = str((affected.get("package") or {}).get("ecosystem", ""))
                scheme = _scheme_for(ecosystem, component)
                if scheme is None and LANGUAGES.get(component.type) != ecosystem.split(":", 1)[0]:
                    continue
                key = (record["id"], component.purl)
                if key in seen:
                    continue
                version = _installed_version(component, name)
                order = versions.COMPARATORS[scheme] if scheme else None
                note = None
                try:
                    hit, fixed, unordered = _evaluate(affected, version, order)
                except versions.InvalidVersion as error:
                    hit, fixed, unordered, note = True, None, [], "counted as affected: %s" % error.message
                if unordered and not hit:
                    skipped.append(
                        {
                            "id": record["id"],
                            "package": component.name,
                            "reason": "no ordering for range type(s) %s in %s" % (", ".join(unordered), ecosystem),
                        }
                    )
                if not hit:
                    continue
                seen.add(key)
                level, score = osv_severity(record, affected)
                finding = {
                    "id": str(record["id"]),
                    "aliases": _aliases(record),
                    "package": component.name,
                    "purl": component.purl,
                    "installed_version": component.version,
                    "fixed_version": fixed,
                    "severity": level,
                    "score": score,
                    "summary": str(record.get("summary", ""))[:200],
                }
                if note:
                    finding["note"] = note
                findings[key] = finding
    return sort_findings(findings.values()), skipped


def sort_findings(findings):
    """Most severe first, then by id and package."""
    return sorted(findings, key=lambda found: (-RANK.get(found["severity"], 0), found["id"], found["package"]))
