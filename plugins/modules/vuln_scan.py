#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: vuln_scan
short_description: Match an image's SBOM against OSV advisories, or read a Trivy or Grype report
version_added: 0.1.0
description:
  - Matches the packages of a CycloneDX SBOM (as the bake records it) against OSV advisories kept by the
    user (an export or a mirror, as a JSON file, a zip export or a directory of records), ordering versions the
    way the distribution's package manager does (Debian's dpkg, RPM's rpmvercmp).
  - Or reads a JSON report that Trivy or Grype produced, into the same findings.
  - Returns the findings (id, aliases, package, installed and fixed version, severity), counts by severity
    and the cosign C(vuln/v1) predicate to attest about the image.
  - Severity is the rating of the CVSS v3 base score computed from an advisory's vector, else the rating
    its database gives; V(unknown) when there is neither.
  - It reads files only and talks to no cloud, so it runs on the controller or on any host, and the same in
    check mode. Whether findings refuse an image is the trust policy's C(vulnerabilities) section's say.
author:
  - Phoenix maintainers (@phoenix-immutable)
options:
  sbom:
    description:
      - The CycloneDX JSON SBOM, as a path or as the parsed mapping.
      - Required with O(osv). With O(report), its digest goes into the predicate.
    type: raw
  osv:
    description:
      - OSV advisories to match O(sbom) against; a JSON file (one record or a list), a zip export, or a
        directory searched for C(*.json) records.
    type: path
  report:
    description:
      - A scanner's JSON report to read instead of matching, in O(report_format).
    type: path
  report_format:
    description:
      - The format of O(report).
    type: str
    choices: [trivy, grype]
  dest:
    description:
      - Write the scan's predicate (RV(predicate)) as JSON to this path, on the host that runs the module, and
        leave RV(findings) and RV(predicate) out of the result, so that a large scan is passed on to
        M(phoenix.immutable.image_attest) as a path rather than as task arguments (a 1 MB argument costs
        Ansible about 10 s). Its folder is made if missing.
    type: path
attributes:
  check_mode:
    support: full
    description: Only reads; runs the same in check mode, except that O(dest) is not written.
  diff_mode:
    support: none
    description: Nothing changes, so there is nothing to show.
notes:
  - Advisories whose ranges have no ordering the module knows (V(SEMVER) or V(GIT) ranges, a language
    ecosystem's) are listed in RV(skipped), never dropped silently; a version that cannot be ordered
    against a matching advisory counts as affected.
"""

EXAMPLES = r"""
- name: Scan the image's SBOM against the advisories we mirror
  phoenix.immutable.vuln_scan:
    sbom: "{{ bake_output_dir }}/sbom.cdx.json"
    osv: /srv/osv/debian
  delegate_to: localhost
  register: scan

- name: Show the worst findings
  ansible.builtin.debug:
    msg: "{{ scan.findings | selectattr('severity', 'in', ['critical', 'high']) | map(attribute='id') | list }}"

- name: Read a Grype report instead
  phoenix.immutable.vuln_scan:
    report: reports/grype.json
    report_format: grype
  delegate_to: localhost
"""

RETURN = r"""
findings:
  description: What affects the image, most severe first.
  returned: without O(dest)
  type: list
  elements: dict
  sample:
    - id: DSA-5678-1
      aliases: [CVE-2026-10001]
      package: libssl3
      purl: pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12&upstream=openssl
      installed_version: 3.0.11-1~deb12u2
      fixed_version: 3.0.13-1~deb12u1
      severity: critical
      score: 9.8
      summary: "openssl: ..."
counts:
  description: How many findings of each severity.
  returned: always
  type: dict
  sample: {critical: 1, high: 0, medium: 2, low: 5, unknown: 0}
skipped:
  description: Advisories that name a package of the SBOM but could not be evaluated, with the reason.
  returned: always
  type: list
  elements: dict
sbom_digest:
  description: sha256 of the SBOM's canonical JSON, as the predicate names it; null without an SBOM.
  returned: always
  type: str
components:
  description: The number of packages in the SBOM; null without an SBOM.
  returned: always
  type: int
scanner:
  description: The scanner's URI (the collection's OSV matcher, Trivy or Grype).
  returned: always
  type: str
database:
  description: The advisory database (uri, version; for OSV also records, withdrawn and the latest modified time).
  returned: always
  type: dict
predicate:
  description: The C(https://cosign.sigstore.dev/attestation/vuln/v1) predicate of this scan, to attest.
  returned: without O(dest)
  type: dict
dest:
  description: Where the predicate was written (O(dest)).
  returned: when O(dest) is given
  type: str
worst:
  description:
    - The worst severity found, or V(none); V(unknown) ranks right after V(critical), as the trust policy counts
      it as critical.
  returned: always
  type: str
  sample: critical
api_calls:
  description: Cloud API calls this task made (none).
  returned: always
  type: dict
  sample: {}
"""

from ansible_collections.phoenix.immutable.plugins.module_utils.modules import PhoenixModule
from ansible_collections.phoenix.immutable.plugins.module_utils.scan import (
    REPORT_FORMATS,
    load_sbom,
    scan_report,
    scan_sbom,
    worst_severity,
    write_json,
)

ARGUMENT_SPEC = dict(
    sbom=dict(type="raw"),
    osv=dict(type="path"),
    report=dict(type="path"),
    report_format=dict(type="str", choices=list(REPORT_FORMATS)),
    dest=dict(type="path"),
)


def scan(module):
    params = module.params
    document = load_sbom(params["sbom"]) if params["sbom"] is not None else None
    if params["osv"]:
        result = scan_sbom(document, params["osv"])
    else:
        result = scan_report(params["report"], params["report_format"], document)
    result = dict(result, changed=False, api_calls={}, worst=worst_severity(result["counts"]))
    if params["dest"]:
        result["changed"] = write_json(params["dest"], result.pop("predicate"), module.check_mode)
        result["dest"] = params["dest"]
        del result["findings"]
    return result


def main():
    module = PhoenixModule(
        ARGUMENT_SPEC,
        supports_check_mode=True,
        mutually_exclusive=[("osv", "report")],
        required_one_of=[("osv", "report")],
        required_together=[("report", "report_format")],
        required_by={"osv": ("sbom",)},
    )
    module.run(scan)


if __name__ == "__main__":
    main()
