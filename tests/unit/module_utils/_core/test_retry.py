import pytest

from ansible_collections.phoenix.immutable.plugins.module_utils._core.retry import RetryPolicy


class Transient(Exception):
    pass


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def flaky(failures, error=Transient):
    calls = []

    def operation():
        calls.append(1)
        if len(calls) <= failures:
            raise error("try again")
        return "done"

    return operation, calls


def policy(clock, **kwargs):
    kwargs.setdefault("jitter", lambda: 1.0)
    return RetryPolicy(sleep=clock.sleep, clock=clock, **kwargs)


def test_transient_failures_are_retried_until_success():
    clock = FakeClock()
    operation, calls = flaky(3)
    assert policy(clock).run(operation, lambda e: isinstance(e, Transient)) == "done"
    assert len(calls) == 4
    assert clock.sleeps == [0.5, 1.0, 2.0]


def test_a_permanent_error_is_raised_at_once():
    clock = FakeClock()
    operation, calls = flaky(5, error=ValueError)
    with pytest.raises(ValueError):
        policy(clock).run(operation, lambda e: isinstance(e, Transient))
    assert len(calls) == 1
    assert clock.sleeps == []


def test_attempts_are_bounded_and_the_last_error_surfaces():
    clock = FakeClock()
    operation, calls = flaky(100)
    with pytest.raises(Transient):
        policy(clock, max_attempts=4).run(operation, lambda e: True)
    assert len(calls) == 4


def test_the_deadline_stops_retrying_before_a_sleep_would_pass_it():
    clock = FakeClock()
    operation, calls = flaky(100)
    with pytest.raises(Transient):
        policy(clock, max_attempts=50, base_delay=1.0, max_delay=8.0, deadline=20.0).run(operation, lambda e: True)
    assert clock.now <= 20.0
    assert sum(clock.sleeps) == clock.now


@pytest.mark.parametrize("jitter", [0.0, 0.37, 0.999])
def test_delays_are_jittered_below_an_exponential_cap(jitter):
    retry = RetryPolicy(max_attempts=8, base_delay=0.5, max_delay=4.0, jitter=lambda: jitter)
    caps = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0]
    assert list(retry.delays()) == pytest.approx([jitter * cap for cap in caps])


def test_at_least_one_attempt():
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
