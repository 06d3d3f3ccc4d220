# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller side of the collection's modules: each module has an action plugin of its name built on
``ModuleActionBase``, which runs the module and shows each progress line it reports (``Progress.report``)
as it comes, on the controller's output and so in AWX's job output.

A task on the controller (``connection: local``, the usual way for a cloud module), without ``become`` or
``async``, whose Python interpreter is the controller's own, runs the module inside Ansible's worker
process (``worker_module.run_in_worker``): the same code, without the cost of a module process. Any other
task ships the module as Ansible does; set ``ansible_python_interpreter`` to another path to force that.

On the controller the module appends its lines to a temporary file named in its environment and this
plugin shows each line as it arrives. On any other connection, and for an ``async`` task, the lines are
shown when the module returns.
"""

from __future__ import annotations

import os
import tempfile
import threading

from ansible import constants as C
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible.utils.vars import merge_hash

from ansible_collections.phoenix.immutable.plugins.module_utils._core.progress import PROGRESS_FILE_ENV
from ansible_collections.phoenix.immutable.plugins.plugin_utils.worker_module import run_in_worker, same_python

display = Display()

# How often the file is looked at: a line is shown at most this long after the module wrote it.
FOLLOW_INTERVAL_SECONDS = 0.25
# INTERPRETER_PYTHON values that ask Ansible to discover the interpreter.
DISCOVERY_MODES = ("", "auto", "auto_legacy", "auto_silent", "auto_legacy_silent")


class FileFollower:
    """Shows each whole line appended to ``path`` until ``stop()``, which shows what is left."""

    def __init__(self, path, show):
        self.path = path
        self.show = show
        self.shown = 0
        self._offset = 0
        self._partial = b""
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="phoenix-progress", daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stopping.set()
        self._thread.join()
        self._read()

    def _follow(self):
        while not self._stopping.wait(FOLLOW_INTERVAL_SECONDS):
            self._read()

    def _read(self):
        try:
            with open(self.path, "rb") as stream:
                stream.seek(self._offset)
                data = stream.read()
        except OSError:
            return
        self._offset += len(data)
        *lines, self._partial = (self._partial + data).split(b"\n")
        for line in lines:
            self.show(line.decode("utf-8", "replace"))
            self.shown += 1


class ModuleActionBase(ActionBase):
    _supports_check_mode = True
    _supports_async = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        wrap_async = self._task.async_val and not self._connection.has_native_async
        if wrap_async or getattr(self._connection, "transport", None) != "local":
            result = merge_hash(result, self._execute_module(task_vars=task_vars, wrap_async=wrap_async))
            if not wrap_async:
                self._show(result.get("progress") or [])
                self._remove_tmp_path(self._connection._shell.tmpdir)
            return result

        descriptor, path = tempfile.mkstemp(prefix="phoenix-progress-", suffix=".log")
        os.close(descriptor)
        environment = self._task.environment
        environments = list(environment) if isinstance(environment, list) else [environment] if environment else []
        self._task.environment = environments + [{PROGRESS_FILE_ENV: path}]
        follower = FileFollower(path, self._show_line).start()
        try:
            if self._runs_in_worker(task_vars):
                result = merge_hash(result, self._run_in_worker())
            else:
                result = merge_hash(result, self._execute_module(task_vars=task_vars))
        finally:
            follower.stop()
            self._task.environment = environment
            os.unlink(path)
        # A module that could not write the file (another user after become) still returned its lines.
        self._show((result.get("progress") or [])[follower.shown :])
        self._remove_tmp_path(self._connection._shell.tmpdir)
        return result

    def _runs_in_worker(self, task_vars):
        """Whether the module can run in this worker: no other user, and the Python the module process would
        run is this one (a module process would see what this process sees)."""
        if self._play_context.become:
            return False
        variables = task_vars.get("ansible_delegated_vars", {}).get(self._task.delegate_to, task_vars)
        interpreter = self._templar.template(C.config.get_config_value("INTERPRETER_PYTHON", variables=variables) or "")
        if interpreter in DISCOVERY_MODES:
            interpreter = variables.get("ansible_facts", {}).get("discovered_interpreter_python")
        return same_python(interpreter)

    def _run_in_worker(self):
        environment = {}
        self._compute_environment_string(environment)
        module = type(self).__module__.replace(".plugins.action.", ".plugins.modules.")
        return run_in_worker(
            module,
            self._task.resolved_action or self._task.action,
            self._task.args,
            check_mode=bool(self._task.check_mode),
            diff=bool(self._task.diff),
            environment=environment,
        )

    def _show(self, lines):
        for line in lines:
            self._show_line(line)

    def _show_line(self, line):
        display.display(line)
