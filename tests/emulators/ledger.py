"""What the wire-format emulators (GCE, ARM) share: the calls they answered, counted by operation, and the
faults a test planted for the next calls, planted one by one or as a seeded share.

An emulator holds one `CallLedger` under its own lock and keeps its public face (``calls``, ``counting()``,
``inject_fault(...)``, ``fault_rate(...)``) by handing over to it; how a fault is answered (the cloud's own
error body) stays the emulator's.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass
class Fault:
    """Answer the next ``remaining`` calls with ``status``; ``after_apply``: apply the call first (a lost answer)."""

    remaining: int
    status: int
    after_apply: bool = False
    # Seconds for a Retry-After header, where the cloud sends one (None: no header).
    retry_after: int | None = None


class CallLedger:
    def __init__(self, lock: threading.RLock | threading.Lock, seed: int, rated: Callable[[str], bool]):
        """``rated(operation)``: whether a call of ``operation`` takes part in a fault rate that names no calls."""
        self.lock = lock
        self._rated = rated
        self._counts: Counter[str] = Counter()
        self._faults: dict[str, Fault] = {}
        self._rate: tuple[float, tuple[int, ...], frozenset[str] | None, int | None] | None = None
        self._random = random.Random(seed)

    # counting -------------------------------------------------------------------------------------

    def count(self, operation: str) -> None:
        """One call of ``operation`` answered (the caller holds the lock)."""
        self._counts[operation] += 1

    @property
    def calls(self) -> Counter[str]:
        with self.lock:
            return Counter(self._counts)

    def reset_calls(self) -> None:
        with self.lock:
            self._counts.clear()

    @contextmanager
    def counting(self) -> Iterator[Counter[str]]:
        before = self.calls
        made: Counter[str] = Counter()
        try:
            yield made
        finally:
            made.update(self.calls - before)

    # faults ---------------------------------------------------------------------------------------

    def inject(self, operation: str, fault: Fault) -> None:
        if fault.remaining < 1 or fault.status < 400:
            raise ValueError("inject_fault needs times >= 1 and an error status")
        with self.lock:
            self._faults[operation] = fault

    def set_rate(
        self,
        share: float,
        seed: int | None,
        statuses: tuple[int, ...],
        operations: set[str] | None,
        retry_after: int | None = None,
    ) -> None:
        with self.lock:
            if seed is not None:
                self._random = random.Random(seed)
            self._rate = (share, tuple(statuses), frozenset(operations) if operations else None, retry_after)
            if share <= 0:
                self._rate = None

    def clear_faults(self) -> None:
        with self.lock:
            self._faults.clear()
            self._rate = None

    @property
    def pending(self) -> dict[str, int]:
        with self.lock:
            return {operation: fault.remaining for operation, fault in self._faults.items() if fault.remaining}

    def take(self, operation: str) -> Fault | None:
        """The fault this call of ``operation`` is answered with, if any (the caller holds the lock)."""
        fault = self._faults.get(operation)
        if fault is not None and fault.remaining > 0:
            fault.remaining -= 1
            return fault
        if self._rate is not None:
            share, statuses, operations, retry_after = self._rate
            eligible = operation in operations if operations is not None else self._rated(operation)
            if eligible and self._random.random() < share:
                return Fault(1, self._random.choice(statuses), False, retry_after)
        return None
