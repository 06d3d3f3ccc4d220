# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""AnsibleModule wrapped once, so no module repeats error handling: PhoenixError becomes fail_json here."""

from __future__ import annotations

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ._core.errors import MissingDependency, PhoenixError
from ._core.progress import Progress
from ._core.waiter import Waiter


class PhoenixModule:
    # What the module runs in: AnsibleModule in a module process, or, when the collection's action plugin
    # runs the module inside Ansible's worker on the controller, the stand-in it sets here
    # (plugins/plugin_utils/worker_module.py).
    host_class = AnsibleModule

    def __init__(self, argument_spec, **kwargs):
        self.ansible = self.host_class(argument_spec=argument_spec, **kwargs)
        self.params = self.ansible.params
        self.check_mode = self.ansible.check_mode
        self.progress = Progress.from_environment()

    def waiter(self):
        """The waiter for this run: off in check mode, where nothing was started to wait for."""
        return Waiter(
            timeout=self.params.get("wait_timeout", 900), enabled=self.params.get("wait", True) and not self.check_mode
        )

    def run(self, action):
        """Call ``action(self)`` and exit with its result dict, or fail with one clear message."""
        try:
            result = action(self)
        except MissingDependency as error:
            self.ansible.fail_json(
                msg=missing_required_lib(error.library),
                exception="".join(traceback.format_exception_only(type(error.cause), error.cause))
                if error.cause
                else None,
                error=error.to_dict(),
            )
        except PhoenixError as error:
            failure = dict(msg=str(error), error=error.to_dict())
            failure.update(error.details)
            self._add_progress(failure)
            self.ansible.fail_json(**failure)
        self._add_progress(result)
        self.ansible.exit_json(**result)

    def _add_progress(self, result):
        if self.progress.lines:
            result.setdefault("progress", list(self.progress.lines))
