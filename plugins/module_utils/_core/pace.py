# Private to this collection.
"""How often a long wait may speak: at most one progress line per interval (the image copies, a builder)."""

from __future__ import annotations

import threading
import time

# During a long wait, at most one line this often.
WAIT_LINE_SECONDS = 30


def no_report(line):
    """The default ``report``: the workflow runs silent."""


class Pace:
    """``maybe(make_line)`` reports ``make_line()`` unless a line was reported less than ``interval`` ago.

    Shared by threads (one per image copy): the lines of a batch of waits come at the pace of one wait.
    """

    def __init__(self, report, interval=WAIT_LINE_SECONDS, clock=time.monotonic):
        self.report = report
        self.interval = interval
        self.clock = clock
        self.started = clock()
        self._last = self.started
        self._lock = threading.Lock()

    def elapsed(self):
        return self.clock() - self.started

    def maybe(self, make_line):
        with self._lock:
            now = self.clock()
            if now - self._last < self.interval:
                return
            self._last = now
        self.report(make_line())
