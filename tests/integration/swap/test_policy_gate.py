"""The trust gate fails closed on moto: an empty verify/policy is an error before anything is read or
created; only leaving verify out skips the gate, and blue_green says so (verified: false). The deploy
playbook refuses to run without a policy. fleet_drift's warnings come through module.warn.

Everything is asserted on the task results AND on the fleet read back through boto3 (conftest's `fleet`).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from emulators.drift import adopt, backdate_instance, group_health

from ansible_collections.phoenix.immutable.plugins.module_utils._core.policy import NO_TRUSTED_KEY

PLAYBOOKS = Path(__file__).resolve().parents[3] / "playbooks"
EMPTY = pytest.mark.parametrize("empty", [{}, ""], ids=["empty-mapping", "empty-string"])


def result_of(run, title="swap"):
    return run.task(title)["result"]


def role_task(run, name):
    [found] = [record for record in run.tasks if record["task"].split(" : ")[-1] == name]
    return found


@EMPTY
def test_an_empty_verify_refuses_an_unsigned_image_and_creates_nothing(aws, playbook, golden, swap_task, fleet, empty):
    aws.emu.reset_calls()
    run = playbook([swap_task(golden.first, verify=empty)])
    assert run.rc != 0
    result = result_of(run)
    assert NO_TRUSTED_KEY in result["msg"] and result["error"]["code"] == "InvalidInput"
    assert not aws.emu.calls  # refused before the first cloud call
    state = fleet()
    assert set(state.groups) == {"web-blue"} and state.serving() == {"web-blue": 100}
    assert len(state.versions) == 1


def test_a_keyless_verify_is_the_same_error(playbook, golden, swap_task, fleet):
    run = playbook([swap_task(golden.first, verify={"threshold": 1, "required_claims": {"tests": "passed"}})])
    assert run.rc != 0 and NO_TRUSTED_KEY in result_of(run)["msg"]
    assert set(fleet().groups) == {"web-blue"}


def test_verify_left_out_deploys_and_says_it_was_not_verified(playbook, golden, swap_task, fleet, trust):
    run = playbook([swap_task(golden.first)])
    assert run.rc == 0, run.explain()
    result = result_of(run)
    assert result["verified"] is False and "verification" not in result
    assert fleet().serving() == {"web-a": 100}
    signed = playbook([swap_task(golden.second, verify=trust)])
    assert signed.rc == 0, signed.explain()
    result = result_of(signed)
    assert result["verified"] is True and result["verification"][0]["image_id"] == golden.second
    assert fleet().serving() == {"web-b": 100}


@EMPTY
def test_fleet_drift_refuses_an_empty_policy_before_any_call(aws, playbook, service, empty):
    aws.emu.reset_calls()
    run = playbook([{"name": "drift", "phoenix.immutable.fleet_drift": {"service": service.service, "policy": empty}}])
    assert run.rc != 0
    assert NO_TRUSTED_KEY in run.task("drift")["result"]["msg"]
    assert not aws.emu.calls


@pytest.mark.parametrize(
    "policy",
    [None, {}, ""],
    ids=["left-out", "empty-mapping", "empty-string"],
)
def test_the_deploy_playbook_refuses_to_run_without_a_policy(playbook, service, golden, fleet, policy):
    extra = {
        "deploy_service": service.service,
        "deploy_listener_arn": service.listener_arn,
        "deploy_launch_template": service.launch_template_name,
        "deploy_image_id": golden.first,
        "deploy_step_seconds": 0,
        "deploy_keep_blue_seconds": 0,
    }
    if policy is not None:
        extra["deploy_policy"] = policy
    run = playbook(PLAYBOOKS / "deploy.yml", extra_vars=extra)
    assert run.rc != 0
    if policy is None:
        assert "deploy_policy" in run.stdout + run.stderr
    else:
        failed = [record for record in run.tasks if record["status"] == "failed"]
        assert failed and NO_TRUSTED_KEY in failed[0]["result"]["msg"]
    assert not [record for record in run.tasks if record["task"].endswith("blue/green or canary")]
    state = fleet()
    assert set(state.groups) == {"web-blue"} and state.serving() == {"web-blue": 100}


def test_fleet_drift_warns_through_module_warn_not_exit_json(aws, playbook, service, golden, swap_task, probe):
    adopt(aws, service)  # web-blue as a finished blue_green leaves it: one of our groups
    probe.answer = lambda: 503
    paused = playbook([swap_task(golden.first, on_failure="pause", timeout=3, health={"probe_url": probe.url})])
    assert paused.rc != 0 and result_of(paused)["error"]["code"] == "RolloutPaused", paused.explain()
    old = group_health(aws, "web-blue")[2][0]
    backdate_instance(aws, old, days=10)
    task = {"service": service.service, "max_age_days": 7, "remediate": "replace", "health_interval": 0.2}
    run = playbook([{"name": "drift", "phoenix.immutable.fleet_drift": task}])
    assert run.rc == 0, run.explain()
    result = run.task("drift")["result"]
    output = run.stdout + run.stderr
    assert "service web has a rollout in progress" in output  # shown as a warning by ansible-playbook
    assert "Passing `warnings`" not in output and "DEPRECATION" not in output, output
    assert old in result["not_replaced"] and result["replaced"] == []
