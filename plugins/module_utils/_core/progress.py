# Private to this collection.
"""The lines a long task shows while it works: one per phase or batch, in the task's result and, while it
runs, in the file the collection's action plugin follows on the controller (``PROGRESS_FILE_ENV``)."""

from __future__ import annotations

import os

# The action plugin sets it; a module run without that plugin (ansible-test, a bare AnsiballZ) only keeps
# the lines for its result.
PROGRESS_FILE_ENV = "PHOENIX_PROGRESS_FILE"


class Progress:
    """``report(line)`` keeps ``line`` for the result and appends it to the followed file, if any.

    A file that cannot be written (another user after ``become``, a full disk) never fails the task: the
    lines still reach the result, and the action plugin shows them when the task ends.
    """

    def __init__(self, path=None):
        self.path = path
        self.lines = []

    @classmethod
    def from_environment(cls, environ=None):
        return cls((environ if environ is not None else os.environ).get(PROGRESS_FILE_ENV) or None)

    def report(self, line):
        line = " ".join(str(line).split())
        self.lines.append(line)
        if self.path is None:
            return
        try:
            with open(self.path, "a", encoding="utf-8") as stream:
                stream.write(line + "\n")
        except OSError:
            self.path = None
