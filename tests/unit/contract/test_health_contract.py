"""HealthBackend contract: alarms as health.AlarmState; one the cloud does not have is left out.

Run on every adapter (`subject`: aws through moto, the reference cloud).
"""

from __future__ import annotations

from ansible_collections.phoenix.immutable.plugins.module_utils._core.health import AlarmState, HealthCheck, HealthSpec


def test_a_missing_alarm_is_left_out(subject):
    assert subject.health.alarm_states(["web-missing"]) == {}


def test_a_firing_alarm_is_firing_and_a_quiet_one_is_not(subject):
    subject.set_alarm("web-5xx", True)
    subject.set_alarm("web-latency", False)
    states = subject.health.alarm_states(["web-5xx", "web-latency", "web-missing"])
    assert set(states) == {"web-5xx", "web-latency"}
    assert all(isinstance(state, AlarmState) for state in states.values())
    assert (states["web-5xx"].name, states["web-5xx"].firing) == ("web-5xx", True)
    assert (states["web-latency"].name, states["web-latency"].firing) == ("web-latency", False)
    assert states["web-5xx"].shown and states["web-5xx"].shown != states["web-latency"].shown


def test_the_health_gate_fails_closed_on_a_missing_or_firing_alarm(subject):
    """The core's HealthCheck over this adapter's backends: what the rollout gates on."""
    subject.set_alarm("web-5xx", True)
    spec = HealthSpec(target_health=False, alarms=["web-5xx", "web-missing"])
    check = HealthCheck(spec, subject.groups, subject.traffic, subject.health)
    problems, evidence = check.check(subject.blue, subject.blue_backend, subject.blue_size)
    assert evidence["alarms"]["web-missing"] == "MISSING"
    assert any("web-5xx" in problem and "web-missing" in problem for problem in problems)
