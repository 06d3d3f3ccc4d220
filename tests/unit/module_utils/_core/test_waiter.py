import pytest

from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import PhoenixError
from ansible_collections.phoenix.immutable.plugins.module_utils._core.waiter import Waiter, WaitTimeout


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def sequence(*values):
    remaining = list(values)

    def fetch():
        return remaining.pop(0) if len(remaining) > 1 else remaining[0]

    return fetch


def waiter(clock, **kwargs):
    return Waiter(sleep=clock.sleep, clock=clock, **kwargs)


def test_ready_at_once_means_no_sleep():
    clock = FakeClock()
    assert waiter(clock).until(sequence("available"), lambda v: v == "available", "image") == "available"
    assert clock.now == 0


def test_polls_until_ready():
    clock = FakeClock()
    fetch = sequence("pending", "pending", "available")
    assert waiter(clock, delay=2).until(fetch, lambda v: v == "available", "image") == "available"
    assert clock.now == pytest.approx(2 + 3)


def test_a_failed_state_ends_the_wait_at_once_with_the_reason():
    clock = FakeClock()
    fetch = sequence("pending", "failed")
    with pytest.raises(PhoenixError, match="image ami-1 failed: snapshot error") as raised:
        waiter(clock).until(
            fetch,
            lambda v: v == "available",
            "image ami-1",
            failed=lambda v: "snapshot error" if v == "failed" else None,
        )
    assert raised.value.code == "TerminalState"
    assert clock.now == 2


def test_times_out_with_a_hint():
    clock = FakeClock()
    with pytest.raises(WaitTimeout, match="timed out after 30s waiting for image ami-1") as raised:
        waiter(clock, timeout=30).until(sequence("pending"), lambda v: False, "image ami-1")
    assert clock.now == pytest.approx(30)
    assert "wait_timeout" in raised.value.hint


def test_a_disabled_waiter_reads_once():
    calls = []

    def fetch():
        calls.append(1)
        return "pending"

    assert Waiter(enabled=False).until(fetch, lambda v: False, "image") == "pending"
    assert calls == [1]


def test_a_current_value_is_judged_before_fetching():
    def fetch():
        raise AssertionError("must not fetch")

    assert Waiter().until(fetch, lambda v: v == "available", "image", current="available") == "available"
