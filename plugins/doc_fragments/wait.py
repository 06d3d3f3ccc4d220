# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Pairs with WAIT in plugins/module_utils/argspec.py.
    DOCUMENTATION = r"""
options:
  wait:
    description:
      - Wait until the cloud reports the change done (for example an image V(available)).
      - A wait fails at once when the resource reaches a failed state, with the cloud's reason.
    type: bool
    default: true
  wait_timeout:
    description:
      - How many seconds to wait at most. A run that times out can be repeated; it picks up where it stopped.
      - Each wait of the task has this bound, a cloud's long-running operations too (on GCP, every Compute
        operation the task starts).
    type: int
    default: 900
"""
