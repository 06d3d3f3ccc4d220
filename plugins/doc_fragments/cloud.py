# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Pairs with CLOUD in plugins/module_utils/argspec.py.
    DOCUMENTATION = r"""
options:
  cloud:
    description:
      - The cloud the resource lives in.
      - Each cloud takes its own connection options; see the O(region) and credential options of that cloud.
      - Only V(aws) is available in this release; GCP and Azure adapters follow.
    type: str
    default: aws
    choices: [aws]
"""
