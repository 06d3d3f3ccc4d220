"""Test-harness callback: every task result, and the play recap, as JSON Lines for tests/harness."""

from __future__ import annotations

DOCUMENTATION = """
name: phoenix_results
type: notification
short_description: Write every task result to a JSON Lines file for the phoenix.immutable test harness
description:
  - Appends one JSON object a line to the file named by the environment variable E(PHOENIX_RESULTS_FILE).
  - A task line holds the play name, task name, action, host, status (ok, changed, failed, skipped or
    unreachable), whether errors were ignored, and the result as a registered variable would hold it.
  - A last line holds the recap statistics by host.
  - Does nothing when the variable is not set. Independent of the stdout callback.
requirements:
  - enabled with ANSIBLE_CALLBACKS_ENABLED=phoenix_results and ANSIBLE_CALLBACK_PLUGINS (tests/harness does both)
"""

import json
import os
from collections.abc import Mapping

from ansible.plugins.callback import CallbackBase

RESULTS_ENV = "PHOENIX_RESULTS_FILE"
PLAIN = (bool, int, float, type(None))


def plain(value):
    """The value as plain JSON types: ansible's tagged/unsafe strings become str, anything odd its str()."""
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, PLAIN):
        return value
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(item) for item in value]
    return str(value)


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "phoenix_results"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._path = os.environ.get(RESULTS_ENV)
        self._play = None

    def _write(self, record):
        if not self._path:
            return
        with open(self._path, "a", encoding="utf-8") as stream:
            stream.write(json.dumps(plain(record), sort_keys=True) + "\n")

    def _record(self, result, status, ignore_errors=False):
        data = dict(getattr(result, "result", None) or result._result)
        # Callbacks get results without the keys their event already says (failed, skipped); put them
        # back so that a test reads what `register` would hold.
        data = {key: value for key, value in data.items() if not key.startswith("_ansible_")}
        data["failed"] = status == "failed"
        data.setdefault("changed", False)
        if status == "skipped":
            data["skipped"] = True
        task = getattr(result, "task", None) or result._task
        host = getattr(result, "host", None) or result._host
        self._write(
            {
                "event": "task",
                "play": self._play,
                "task": task.get_name(),
                "action": task.action,
                "host": host.get_name(),
                "status": status,
                "ignore_errors": bool(ignore_errors),
                "result": data,
            }
        )

    def v2_playbook_on_play_start(self, play):
        self._play = play.get_name()

    def v2_runner_on_ok(self, result):
        changed = (getattr(result, "result", None) or result._result).get("changed", False)
        self._record(result, "changed" if changed else "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "failed", ignore_errors)

    def v2_runner_on_skipped(self, result):
        self._record(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._record(result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        self._write({"event": "stats", "stats": {host: stats.summarize(host) for host in sorted(stats.processed)}})
