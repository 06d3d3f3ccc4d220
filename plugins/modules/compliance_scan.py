#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: compliance_scan
short_description: Check a root filesystem against an XCCDF profile with OpenSCAP, as a compliance predicate
version_added: 0.1.0
description:
  - Runs C(oscap xccdf eval --profile PROFILE --results RESULTS DATASTREAM) on the host that runs the module
    (the bake role runs it on the builder) and summarises the results as the compliance predicate that
    M(phoenix.immutable.image_attest) signs, made of the profile, the rule ids that passed (C(pass), C(fixed))
    and those that failed (C(fail), C(error), C(unknown)).
  - For a root other than C(/) (a mounted image, the emulator tests' scratch root), C(oscap-chroot ROOT xccdf
    eval ...) when it is on PATH, else C(oscap) with the environment C(oscap-chroot) sets
    (C(OSCAP_PROBE_ROOT), C(OSCAP_EVALUATION_TARGET)); Debian 12's C(openscap-scanner) has no C(oscap-chroot).
  - oscap's exit code 2 (some rules failed) is a result, not a failure; whether failed rules refuse the image
    is the trust policy's C(compliance) section's say, at deploy. Any other non-zero exit, or no C(oscap),
    fails the task.
  - Or, with O(results), reads the results file an earlier oscap run wrote, without running it.
author:
  - Phoenix maintainers (@phoenix-immutable)
options:
  profile:
    description:
      - The XCCDF profile id (for example V(xccdf_org.ssgproject.content_profile_standard); C(oscap info
        DATASTREAM) lists them). Required with O(datastream).
      - With O(results), selects that profile's TestResult (default the last one).
    type: str
  datastream:
    description:
      - The SCAP source datastream to evaluate, on the host that runs the module (for example
        C(/usr/share/xml/scap/ssg/content/ssg-debian11-ds.xml) from C(ssg-debian)).
      - Exactly one of O(datastream) and O(results).
    type: path
  results:
    description: An XCCDF results file (C(--results) or C(--results-arf)) to summarise instead of running oscap.
    type: path
  root:
    description: The root filesystem to evaluate.
    type: path
    default: /
  results_dest:
    description:
      - Where oscap writes its XCCDF results, kept for the record; its sha256 is in the predicate.
      - Default a temporary file, removed once read.
    type: path
  dest:
    description: Write the compliance predicate as JSON to this path too, to pass it on as a file.
    type: path
  timeout:
    description: Seconds oscap may run.
    type: int
    default: 1800
attributes:
  check_mode:
    support: full
    description:
      - With O(datastream), does not run oscap and returns the command it would run (RV(command)) and a null
        RV(predicate). With O(results), reads them as usual.
  diff_mode:
    support: none
    description: Nothing on the scanned system changes.
requirements:
  - OpenSCAP's C(oscap) on the host that runs the module, with O(datastream) (Debian C(openscap-scanner) and
    C(ssg-debian); RHEL C(openscap-scanner) and C(scap-security-guide); see the collection's C(bindep.txt)).
"""

EXAMPLES = r"""
- name: Check the builder against the standard profile
  phoenix.immutable.compliance_scan:
    profile: xccdf_org.ssgproject.content_profile_standard
    datastream: /usr/share/xml/scap/ssg/content/ssg-debian11-ds.xml
    results_dest: /run/phoenix/xccdf-results.xml
    dest: /run/phoenix/compliance.json
  delegate_to: "{{ builder }}"
  become: true
  register: compliance

- name: Summarise results oscap wrote earlier
  phoenix.immutable.compliance_scan:
    results: reports/results-standard.xml
  register: compliance
"""

RETURN = r"""
predicate:
  description:
    - The compliance predicate (profile, scanner, passed, failed, failedRules, passedRules, metadata, report
      digest), as M(phoenix.immutable.image_attest) takes it. Null in check mode with O(datastream).
  returned: always
  type: dict
profile:
  description: The profile evaluated.
  returned: always
  type: str
rules_passed:
  description: How many rules passed.
  returned: when a predicate is returned
  type: int
rules_failed:
  description: How many rules failed (not C(failed), which Ansible reads as the task's failure).
  returned: when a predicate is returned
  type: int
failed_rules:
  description: The ids of the rules that failed.
  returned: when a predicate is returned
  type: list
  elements: str
ran:
  description: Whether oscap was run by this task.
  returned: always
  type: bool
exit_code:
  description: oscap's exit code (0 all passed, 2 some failed); null when it was not run.
  returned: always
  type: int
command:
  description: The oscap command run (or, in check mode, that would be run); null with O(results).
  returned: always
  type: list
  elements: str
environment:
  description: The environment variables set for a root other than C(/) (C(OSCAP_PROBE_ROOT) and so on).
  returned: always
  type: dict
results_file:
  description: The XCCDF results file read (O(results) or O(results_dest)); null when it was temporary.
  returned: always
  type: str
report_digest:
  description: sha256 (hex) of the results file.
  returned: when a predicate is returned
  type: str
dest:
  description: Where the predicate was written (O(dest)).
  returned: when O(dest) is given
  type: str
api_calls:
  description: Cloud API calls this task made (none).
  returned: always
  type: dict
  sample: {}
"""

from ansible_collections.phoenix.immutable.plugins.module_utils.modules import PhoenixModule
from ansible_collections.phoenix.immutable.plugins.module_utils.scan import compliance_scan, write_json

ARGUMENT_SPEC = dict(
    profile=dict(type="str"),
    datastream=dict(type="path"),
    results=dict(type="path"),
    root=dict(type="path", default="/"),
    results_dest=dict(type="path"),
    dest=dict(type="path"),
    timeout=dict(type="int", default=1800),
)


def run(module):
    params = module.params
    outcome = compliance_scan(
        params["root"],
        profile=params["profile"],
        datastream=params["datastream"],
        results=params["results"],
        results_dest=params["results_dest"],
        timeout=params["timeout"],
        check_mode=module.check_mode,
    )
    predicate = outcome["predicate"]
    # oscap only reads the system; what changes is the files it and this task write.
    result = dict(
        outcome, changed=outcome["ran"] and bool(params["results_dest"]), api_calls={}, profile=params["profile"]
    )
    if predicate is not None:
        result.update(
            profile=predicate["profile"],
            rules_passed=predicate["passed"],
            rules_failed=predicate["failed"],
            failed_rules=predicate["failedRules"],
        )
        if params["dest"]:
            result["changed"] = write_json(params["dest"], predicate, module.check_mode) or result["changed"]
            result["dest"] = params["dest"]
    elif params["dest"] or params["results_dest"]:
        result["changed"] = True  # check mode: oscap would run and write them
    return result


def main():
    module = PhoenixModule(
        ARGUMENT_SPEC,
        supports_check_mode=True,
        mutually_exclusive=[("datastream", "results"), ("results", "results_dest")],
        required_one_of=[("datastream", "results")],
        required_by={"datastream": ("profile",)},
    )
    module.run(run)


if __name__ == "__main__":
    main()
