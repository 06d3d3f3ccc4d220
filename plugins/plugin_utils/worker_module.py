# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One of the collection's modules run inside Ansible's worker process on the controller, instead of as a
module process of its own.

A module task on the controller otherwise costs Ansible's packaging of the module (AnsiballZ: finding and
zipping its module_utils), a shell, a new interpreter and its imports, about 0.2 to 0.5 CPU seconds before
the module does anything: most of what a bake with empty provisioning costs. The worker is a process
Ansible forks for this one task, so what the run changes in it (the environment, the host class below)
ends with the task.

The module's code is the same either way: its ``main()`` builds a ``PhoenixModule``, whose host is
``WorkerModule`` here and ``AnsibleModule`` in a module process. ``WorkerModule`` is the part of
AnsibleModule those modules use, with AnsibleModule's own argument validation
(``ModuleArgumentSpecValidator``), check-mode refusal, no_log masking and ``invocation``; its
``exit_json`` and ``fail_json`` end the run by raising ``ModuleReturned`` with the result, which goes
through JSON as a module's result does.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import traceback

from ansible.module_utils.common.arg_spec import ModuleArgumentSpecValidator
from ansible.module_utils.common.parameters import remove_values
from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.errors import UnsupportedError
from ansible.utils.display import Display

from ansible_collections.phoenix.immutable.plugins.module_utils.modules import PhoenixModule

display = Display()


class ModuleReturned(Exception):
    """The end of a module run in the worker: ``result`` is what the module returned."""

    def __init__(self, result):
        super().__init__("module returned")
        self.result = result


class WorkerModule:
    """AnsibleModule's interface as the collection's modules use it, for a run in the worker."""

    # The run this class serves, set by run_in_worker() before the module's main() builds an instance:
    # (module name, the task's arguments, check mode, diff mode).
    invocation = ("", {}, False, False)

    def __init__(
        self,
        argument_spec,
        supports_check_mode=False,
        mutually_exclusive=None,
        required_together=None,
        required_one_of=None,
        required_if=None,
        required_by=None,
    ):
        self.module_name, arguments, self.check_mode, self.diff = WorkerModule.invocation
        self.params = dict(arguments)
        self.no_log_values = set()
        validator = ModuleArgumentSpecValidator(
            argument_spec, mutually_exclusive, required_together, required_one_of, required_if, required_by
        )
        validation = validator.validate(arguments)
        self.params = validation.validated_parameters
        # The values of no_log options, masked in the result as AnsibleModule masks them.
        self.no_log_values.update(validation._no_log_values)  # pylint: disable=protected-access
        if validation.error_messages:
            message = validation.errors.msg
            if isinstance(validation.errors[0], UnsupportedError):
                message = "Unsupported parameters for (%s) module: %s" % (self.module_name, message)
            self.fail_json(msg=message)
        if self.check_mode and not supports_check_mode:
            self.exit_json(skipped=True, msg="remote module (%s) does not support check mode" % self.module_name)

    def warn(self, warning):
        display.warning(warning)

    def exit_json(self, **result):
        result.setdefault("invocation", {"module_args": self.params})
        kept = {key: value for key, value in result.items() if value is None or isinstance(value, bool)}
        result = remove_values(result, self.no_log_values)
        result.update(kept)
        # Through JSON, as a module process's result comes: the same types, nothing shared with the module.
        raise ModuleReturned(json.loads(json.dumps(result)))

    def fail_json(self, msg, **result):
        result.update(failed=True, msg=msg)
        self.exit_json(**result)


def same_python(interpreter):
    """Whether a module process started with ``interpreter`` would run this very Python: the same binary,
    started from the same directory (a virtual environment's bin is what selects its packages)."""
    if not interpreter or not os.path.isabs(interpreter) or not os.path.exists(interpreter):
        return False
    ours = sys.executable
    return os.path.dirname(os.path.abspath(interpreter)) == os.path.dirname(os.path.abspath(ours)) and (
        os.path.realpath(interpreter) == os.path.realpath(ours)
    )


def run_in_worker(module_import_name, module_name, arguments, *, check_mode, diff, environment):
    """Run the module ``module_import_name`` (its Python name) with the task's ``arguments`` and
    ``environment`` in this process, and return its result as a module process's would be returned."""
    os.environ.update({to_text(key): to_text(value) for key, value in environment.items()})
    # Through JSON, as a module process gets them: plain values, never the controller's own objects.
    arguments = json.loads(json.dumps(arguments))
    WorkerModule.invocation = (module_name, arguments, check_mode, diff)
    PhoenixModule.host_class = WorkerModule
    try:
        importlib.import_module(module_import_name).main()
    except ModuleReturned as returned:
        return returned.result
    except Exception as error:  # pylint: disable=broad-exception-caught
        # What a module process's crash reports: the message and, for -vvv, the traceback.
        return dict(
            failed=True,
            msg="%s failed: %s: %s" % (module_name, type(error).__name__, error),
            exception=traceback.format_exc(),
        )
    return dict(failed=True, msg="%s returned no result" % module_name)
