# Private to this collection.
"""The collection's one retry policy: exponential backoff with full jitter, bounded by a deadline.

Adapters decide which of their errors are transient (throttling, 5xx, eventual-consistency NotFound);
this module only decides when to try again and when to give up.
"""

from __future__ import annotations

import random
import time


class RetryPolicy:
    def __init__(
        self,
        max_attempts=10,
        base_delay=0.5,
        max_delay=20.0,
        deadline=120.0,
        sleep=time.sleep,
        clock=time.monotonic,
        jitter=random.random,
    ):
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.deadline = deadline
        self._sleep = sleep
        self._clock = clock
        self._jitter = jitter

    def delays(self):
        """The pause before each retry: full jitter keeps many clients from retrying in lockstep."""
        for attempt in range(self.max_attempts - 1):
            yield self._jitter() * min(self.max_delay, self.base_delay * (2**attempt))

    def run(self, operation, is_transient):
        """Call ``operation()`` until it succeeds, its error is not transient, or time or attempts run out.

        The last error is re-raised unchanged, so callers see the cloud's own failure.
        """
        started = self._clock()
        delays = self.delays()
        while True:
            try:
                return operation()
            except Exception as error:  # noqa: BLE001 - the adapter's predicate decides
                if not is_transient(error):
                    raise
                delay = next(delays, None)
                if delay is None or self._clock() - started + delay > self.deadline:
                    raise
                self._sleep(delay)
