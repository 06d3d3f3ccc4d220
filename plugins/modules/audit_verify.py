#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: audit_verify
short_description: Verify the hash chain of an audit log written by the audit_log callback
version_added: 0.1.0
description:
  - Reads the audit log that the P(phoenix.immutable.audit_log#callback) callback writes and checks that
    every line is intact and follows the line before it.
  - Reports the first broken line and why (edited, reformatted, deleted, inserted or moved, wrong number,
    unreadable), and fails unless O(fail_on_broken=false).
  - Lines cut off the end leave a valid shorter chain; pass the last hash you kept elsewhere as
    O(expected_head) to catch that too. RV(head) is the value to keep.
  - The same check runs without Ansible
    (C(python -m ansible_collections.phoenix.immutable.plugins.module_utils.audit verify FILE)).
  - "The log lives on the controller, so run this module there (C(delegate_to: localhost) or a play on V(localhost))."
author:
  - Phoenix maintainers (@phoenix-immutable)
options:
  path:
    description:
      - The audit log file.
    type: path
    required: true
  expected_head:
    description:
      - The hash the last line must have, as recorded after an earlier verification (RV(head)).
    type: str
  fail_on_broken:
    description:
      - Fail the task when the chain is broken. With V(false), return the finding with RV(valid=false).
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: Only reads; runs the same in check mode.
  diff_mode:
    support: none
    description: Nothing changes, so there is nothing to show.
"""

EXAMPLES = r"""
- name: Verify the audit log of this controller
  phoenix.immutable.audit_verify:
    path: ~/.ansible/phoenix.immutable/audit.jsonl
  delegate_to: localhost
  register: audit

- name: Verify it again later, also catching lines cut off the end
  phoenix.immutable.audit_verify:
    path: ~/.ansible/phoenix.immutable/audit.jsonl
    expected_head: "{{ audit.head }}"
  delegate_to: localhost
"""

RETURN = r"""
valid:
  description: Whether the whole chain is intact (and ends at O(expected_head) when given).
  returned: always
  type: bool
  sample: true
count:
  description: How many lines were verified before the first broken one (all of them when valid).
  returned: always
  type: int
  sample: 12
head:
  description: The hash of the last intact line; keep it to pass as O(expected_head) later. Null for an empty log.
  returned: always
  type: str
  sample: 9f2c4a0d0e5b3c1a7e6f5d4c3b2a19080706050403020100ffeeddccbbaa9988
broken_line:
  description: The line number (from 1) of the first broken line, when the chain is broken.
  returned: when the chain is broken
  type: int
  sample: 7
problem:
  description:
    - Why the chain is broken, as a code. V(edited) (content or form changed), V(chain) (a line before it
      was deleted, inserted or moved), V(sequence), V(unreadable), V(version) or V(truncated).
  returned: when the chain is broken
  type: str
  sample: chain
reason:
  description: Why the chain is broken, in words.
  returned: when the chain is broken
  type: str
api_calls:
  description: Cloud API calls this task made (none).
  returned: always
  type: dict
  sample: {}
"""

from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import PhoenixError
from ansible_collections.phoenix.immutable.plugins.module_utils.audit import AuditError, verify
from ansible_collections.phoenix.immutable.plugins.module_utils.modules import PhoenixModule

ARGUMENT_SPEC = dict(
    path=dict(type="path", required=True),
    expected_head=dict(type="str"),
    fail_on_broken=dict(type="bool", default=True),
)


def check(module):
    params = module.params
    try:
        found = verify(params["path"], expected_head=params["expected_head"])
    except AuditError as error:
        raise PhoenixError(
            str(error), resource=params["path"], code="AuditLogUnreadable", hint="Check the path and its permissions."
        ) from None
    result = dict(changed=False, valid=found.valid, count=found.count, head=found.head, api_calls={})
    if not found.valid:
        result.update(broken_line=found.line, problem=found.problem, reason=found.reason)
        if params["fail_on_broken"]:
            raise PhoenixError(
                "the audit log %s is broken: %s" % (params["path"], found.reason),
                resource=params["path"],
                code="AuditChainBroken",
                hint="Compare it with a copy you trust from before line %s." % found.line,
                details=result,
            )
    return result


def main():
    module = PhoenixModule(ARGUMENT_SPEC, supports_check_mode=True)
    module.run(check)


if __name__ == "__main__":
    main()
