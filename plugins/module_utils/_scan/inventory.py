# Private to this collection.
"""What is installed in an image's root filesystem, read from its package database, and which distribution.

- dpkg: ``<root>/var/lib/dpkg/status``, RFC 822-like stanzas; a package counts when the third word of its
  ``Status`` is ``installed`` (``install ok installed``, ``hold ok installed``). ``Source`` names the
  source package, with its version in parentheses when that differs from the binary's.
- rpm: the database (``rpmdb.sqlite`` or Berkeley DB) holds binary headers, so the builder lists it with
  ``rpm -qa --queryformat RPM_QUERY_FORMAT`` (``rpm --root <root>`` for a mounted root) and that text is
  read here: one line per package, tab-separated, ``(none)`` where a header has no value.
- the distribution: ``<root>/etc/os-release``, else ``<root>/usr/lib/os-release`` (os-release(5)).
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field

from .._core.errors import InvalidInput

DEB = "deb"
RPM = "rpm"
DPKG_STATUS = "var/lib/dpkg/status"
OS_RELEASE_FILES = ("etc/os-release", "usr/lib/os-release")

# What the builder runs to list an RPM database: name, epoch, version, release, arch, source RPM, vendor.
RPM_QUERY_FIELDS = ("NAME", "EPOCH", "VERSION", "RELEASE", "ARCH", "SOURCERPM", "VENDOR")
RPM_QUERY_FORMAT = "\\t".join("%%{%s}" % name for name in RPM_QUERY_FIELDS) + "\\n"
RPM_NONE = "(none)"
# Public keys imported into the database show up as packages; they are not software.
RPM_PSEUDO_PACKAGES = ("gpg-pubkey",)

_SOURCE_FIELD = re.compile(r"^(?P<name>[^\s(]+)(?:\s*\((?P<version>[^)]+)\))?$")


@dataclass(frozen=True)
class Package:
    """One installed package. ``version`` is the full version the package manager orders
    (``[epoch:]upstream[-revision]`` for dpkg, ``[epoch:]version-release`` for rpm)."""

    kind: str  # DEB or RPM
    name: str
    version: str
    arch: str = ""
    source: str = ""  # the source package's name, when it differs from ``name``
    source_version: str = ""  # the source package's version, when it differs from ``version``
    epoch: str = ""  # rpm only: the epoch, also in ``version`` as ``epoch:``


@dataclass(frozen=True)
class Distribution:
    id: str = ""  # os-release ID: debian, ubuntu, rhel, rocky, almalinux, fedora, opensuse-leap …
    version_id: str = ""
    pretty_name: str = ""
    id_like: tuple = field(default_factory=tuple)

    @property
    def qualifier(self):
        """The package URL ``distro`` qualifier: ``debian-12``, ``ubuntu-22.04``, ``rocky-9.3``."""
        if not self.id:
            return ""
        return "%s-%s" % (self.id, self.version_id) if self.version_id else self.id


def parse_os_release(text):
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, raw = line.split("=", 1)
        try:
            words = shlex.split(raw)
        except ValueError:
            words = [raw.strip("\"'")]
        values[key.strip()] = " ".join(words)
    return Distribution(
        id=values.get("ID", "").lower(),
        version_id=values.get("VERSION_ID", ""),
        pretty_name=values.get("PRETTY_NAME", ""),
        id_like=tuple(values.get("ID_LIKE", "").split()),
    )


def read_distribution(root="/"):
    for relative in OS_RELEASE_FILES:
        path = os.path.join(root, relative)
        if os.path.isfile(path):
            with open(path, encoding="utf-8", errors="replace") as handle:
                return parse_os_release(handle.read())
    return Distribution()


def _stanzas(text):
    """Each stanza of a dpkg status file as {field: value}; continuation lines are folded in."""
    stanza, last = {}, None
    for line in text.splitlines():
        if not line.strip():
            if stanza:
                yield stanza
            stanza, last = {}, None
        elif line[0] in " \t":
            if last is not None:
                stanza[last] += "\n" + line.strip()
        elif ":" in line:
            key, value = line.split(":", 1)
            last = key.strip()
            stanza[last] = value.strip()
    if stanza:
        yield stanza


def parse_dpkg_status(text, source="dpkg status"):
    """The installed packages of a dpkg status file's text, sorted by name and architecture."""
    found = []
    for stanza in _stanzas(text):
        status = stanza.get("Status", "").split()
        if len(status) != 3 or status[2] != "installed":
            continue
        name, version = stanza.get("Package"), stanza.get("Version")
        if not name or not version:
            raise InvalidInput(
                "%s: an installed package without Package or Version: %r" % (source, sorted(stanza)), resource=source
            )
        source_name, source_version = "", ""
        if stanza.get("Source"):
            match = _SOURCE_FIELD.match(stanza["Source"])
            if match is None:
                raise InvalidInput("%s: %s has a malformed Source %r" % (source, name, stanza["Source"]), source)
            source_name = match.group("name") if match.group("name") != name else ""
            source_version = match.group("version") or ""
            source_version = source_version if source_version != version else ""
        found.append(
            Package(
                DEB,
                name,
                version,
                arch=stanza.get("Architecture", ""),
                source=source_name,
                source_version=source_version,
            )
        )
    return sorted(found, key=lambda package: (package.name, package.arch))


def read_dpkg_status(root="/"):
    """The installed packages under ``root``, or None when it has no dpkg database."""
    path = os.path.join(root, DPKG_STATUS)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8", errors="replace") as handle:
        return parse_dpkg_status(handle.read(), source=path)


def _rpm_source_name(source_rpm):
    """``openssl`` of ``openssl-3.0.7-24.el9.src.rpm``."""
    if not source_rpm or source_rpm == RPM_NONE:
        return ""
    stem = source_rpm[: -len(".src.rpm")] if source_rpm.endswith(".src.rpm") else source_rpm
    parts = stem.rsplit("-", 2)
    return parts[0] if len(parts) == 3 else ""


def parse_rpm_query(text, source="rpm query"):
    """The packages of ``rpm -qa --queryformat RPM_QUERY_FORMAT`` output, sorted by name and architecture."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != len(RPM_QUERY_FIELDS):
            raise InvalidInput(
                "%s line %d has %d tab-separated fields, expected %d (%s)"
                % (source, number, len(fields), len(RPM_QUERY_FIELDS), ", ".join(RPM_QUERY_FIELDS)),
                resource=source,
                hint="List the database with rpm -qa --queryformat '%s'." % RPM_QUERY_FORMAT,
            )
        name, epoch, version, release, arch, source_rpm, _vendor = (
            "" if value == RPM_NONE else value.strip() for value in fields
        )
        if name in RPM_PSEUDO_PACKAGES:
            continue
        if not name or not version:
            raise InvalidInput("%s line %d has no name or version" % (source, number), resource=source)
        full = "%s-%s" % (version, release) if release else version
        if epoch:
            full = "%s:%s" % (epoch, full)
        source_name = _rpm_source_name(source_rpm)
        found.append(
            Package(
                RPM,
                name,
                full,
                arch=arch,
                source=source_name if source_name != name else "",
                epoch=epoch,
            )
        )
    return sorted(found, key=lambda package: (package.name, package.arch))
