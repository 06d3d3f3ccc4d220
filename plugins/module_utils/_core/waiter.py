# Private to this collection.
"""The collection's one waiter: a predicate polled against a clock, failing fast on a terminal state."""

from __future__ import annotations

import time

from .errors import PhoenixError


class WaitTimeout(PhoenixError):
    pass


class Waiter:
    """Polls ``fetch()`` until ``ready(value)``; ``failed(value)`` returning a reason ends the wait at once.

    A disabled waiter (``wait: false``, or check mode, where nothing was started to wait for) fetches
    once and returns what it sees.
    """

    def __init__(self, timeout=900, enabled=True, delay=2.0, max_delay=15.0, sleep=time.sleep, clock=time.monotonic):
        self.timeout = timeout
        self.enabled = enabled
        self.delay = delay
        self.max_delay = max_delay
        self._sleep = sleep
        self._clock = clock

    def until(self, fetch, ready, what, failed=None, current=None):
        """``current``, when given, is a value just read: it is judged before anything is fetched."""
        value = fetch() if current is None else current
        if not self.enabled:
            return value
        deadline = self._clock() + self.timeout
        delay = self.delay
        while True:
            reason = failed(value) if failed else None
            if reason:
                raise PhoenixError("%s failed: %s" % (what, reason), resource=what, code="TerminalState")
            if ready(value):
                return value
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise WaitTimeout(
                    "timed out after %ss waiting for %s" % (self.timeout, what),
                    resource=what,
                    code="WaitTimeout",
                    hint="Raise wait_timeout, or run again later: the next run picks up where this one stopped.",
                )
            self._sleep(min(delay, remaining))
            delay = min(delay * 1.5, self.max_delay)
            value = fetch()
