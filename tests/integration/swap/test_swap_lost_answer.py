"""A swap whose mutating calls are applied by the cloud but answered with an error (a lost answer).

Each call of an all-at-once swap is, in turn, let through to moto and then answered with HTTP 500 (or a
dropped connection): the SDK sees a failure, the cloud did the work. The retry must recognise what the
lost attempt made (its own group, its own template version, its own target group) instead of failing or
making a second one, so the run converges in one go and leaves no orphan and no lock behind.
"""

from __future__ import annotations

import pytest
from emulators.fleet import read_fleet

SWAP_CALLS = [
    "autoscaling:CreateAutoScalingGroup",
    "ec2:CreateLaunchTemplateVersion",
    "elasticloadbalancing:CreateTargetGroup",
    "autoscaling:CreateOrUpdateTags",
    "autoscaling:UpdateAutoScalingGroup",
    "elasticloadbalancing:ModifyListener",
    "autoscaling:DeleteAutoScalingGroup",
    "elasticloadbalancing:DeleteTargetGroup",
    "autoscaling:DeleteTags",
]


def assert_converged_without_leftovers(aws, service, image_id):
    state = read_fleet(aws, service)
    assert state.serving() == {"web-a": 100}
    assert set(state.groups) == {"web-a"}, "orphan groups: %s" % sorted(state.groups)
    assert set(state.target_groups) == {"web-a"}, "orphan target groups: %s" % sorted(state.target_groups)
    group = state.groups["web-a"]
    assert group["images"] == {image_id} and group["size"] == service.size
    versions = sorted(v["VersionNumber"] for v in state.versions)
    assert versions == [1, int(group["tags"]["phoenix:template-version"])], "orphan versions: %s" % versions
    # No lock left behind: the next rollout may start at once.
    assert "phoenix:lease-until" not in group["tags"] and "phoenix:owner" not in group["tags"]
    assert group["tags"]["phoenix:phase"] == "done"


@pytest.mark.parametrize("call", SWAP_CALLS)
def test_a_lost_answer_to_each_mutating_call_is_retried_safely(aws, playbook, service, golden, swap_task, call):
    aws.emu.inject_fault(call, after_apply=True)
    run = playbook([swap_task(golden.first)])
    assert run.rc == 0, run.explain()
    result = run.task("swap")["result"]
    assert result["rollout"]["state"] == "deployed"
    # The lost answer happened: the call was sent again (or its effect found) after the error.
    assert aws.calls[call] >= 1
    assert_converged_without_leftovers(aws, service, golden.first)


@pytest.mark.parametrize("call", ["autoscaling:CreateAutoScalingGroup", "ec2:CreateLaunchTemplateVersion"])
def test_a_dropped_connection_after_a_create_was_applied_is_retried_safely(
    aws, playbook, service, golden, swap_task, call
):
    aws.emu.inject_fault(call, after_apply=True, reset=True)
    run = playbook([swap_task(golden.first)])
    assert run.rc == 0, run.explain()
    assert_converged_without_leftovers(aws, service, golden.first)


def test_the_retry_of_a_lost_group_create_meets_its_own_lock_and_goes_on(aws, playbook, service, golden, swap_task):
    aws.emu.inject_fault("autoscaling:CreateAutoScalingGroup", after_apply=True)
    run = playbook([swap_task(golden.first)])
    assert run.rc == 0, run.explain()
    result = run.task("swap")["result"]
    # The retry met the group this run had created (AlreadyExists) and recognised it by its rollout id.
    assert aws.calls["autoscaling:CreateAutoScalingGroup"] >= 2
    assert [phase["phase"] for phase in result["rollout"]["phases"]][:2] == ["locked", "template"]
    assert_converged_without_leftovers(aws, service, golden.first)
    # And the service is free: the next rollout starts at once.
    again = playbook([swap_task(golden.second, title="next")])
    assert again.rc == 0, again.explain()
    assert read_fleet(aws, service).serving() == {"web-b": 100}


def test_a_lost_template_version_answer_makes_no_second_version(aws, playbook, service, golden, swap_task):
    aws.emu.inject_fault("ec2:CreateLaunchTemplateVersion", after_apply=True)
    run = playbook([swap_task(golden.first)])
    assert run.rc == 0, run.explain()
    state = read_fleet(aws, service)
    [kept] = [v for v in state.versions if v["VersionNumber"] != 1]
    assert kept["LaunchTemplateData"]["ImageId"] == golden.first
    assert state.groups["web-a"]["tags"]["phoenix:template-version"] == str(kept["VersionNumber"])
