"""What a swap costs in API calls and what it tells the user, through ansible-playbook against moto.

The call counts are the goals of issue 13 (calls, not time: nothing here is timed): an all-at-once swap with a
trust policy takes at most 18 calls, a canary at most 18 + 3 per step, and the rollout's record is still
written at every transition a resume needs (test_swap_safety kills a run at each of them).
"""

from __future__ import annotations

import re

from test_blue_green import green_weight, only_group_serving

SHIFT = re.compile(r"^(\S+): shift (\d+)% → (\S+), (\d+)/(\d+) healthy(.*)$")


def record_writes(result):
    calls = result["api_calls"]
    return calls.get("autoscaling:CreateOrUpdateTags", 0), calls.get("autoscaling:DeleteTags", 0)


def test_an_all_at_once_swap_with_verify_takes_at_most_18_calls(playbook, golden, swap_task, trust, fleet):
    run = playbook([swap_task(golden.second, verify=trust)])
    assert run.rc == 0, run.explain()
    result = run.task("swap")["result"]
    assert result["verified"] is True
    calls = result["api_calls"]
    assert sum(calls.values()) <= 18, calls
    # The trust gate's read comes first and once; the lock is the create, carrying the target group.
    assert calls["ec2:DescribeImages"] == 1 and "autoscaling:AttachLoadBalancerTargetGroups" not in calls
    assert calls["elasticloadbalancing:DescribeListeners"] == 1 and calls["autoscaling:CreateAutoScalingGroup"] == 1
    # Records: launch, shift 100, done; one clear.
    assert record_writes(result) == (3, 1)
    only_group_serving(fleet(), golden.second)


def test_a_canary_takes_at_most_18_plus_3_per_step_and_reports_each_step(playbook, service, golden, swap_task, fleet):
    steps = [10, 50, 100]
    run = playbook([swap_task(golden.first, strategy="canary", canary_steps=steps)])
    assert run.rc == 0, run.explain()
    result = run.task("swap")["result"]
    calls = result["api_calls"]
    assert sum(calls.values()) <= 18 + 3 * len(steps), calls
    assert calls["elasticloadbalancing:ModifyListener"] == len(steps)
    # Records: launch, one per step, done (no keep-blue wait); one clear.
    assert record_writes(result) == (1 + len(steps) + 1, 1)

    lines = result["progress"]
    assert all(line.startswith("web: ") for line in lines), lines
    assert lines[0] == "web: launch web-a, 2 instances of %s" % golden.first
    assert re.match(r"^web: web-a healthy, 2/2 in \d+ s$", lines[1]), lines
    shifts = [SHIFT.match(line) for line in lines if SHIFT.match(line)]
    assert [(m.group(1), int(m.group(2)), m.group(3), m.group(4), m.group(5)) for m in shifts] == [
        ("web", weight, "web-a", "2", "2") for weight in steps
    ]
    assert [m.group(6) for m in shifts] == [", next step in 0 s", ", next step in 0 s", ""]
    assert lines[-2] == "web: retire web-blue"
    assert re.match(r"^web: done, web-a serves %s in \d+ s$" % golden.first, lines[-1]), lines
    only_group_serving(fleet(), golden.first)


def test_a_roll_back_reports_why_and_where_traffic_went(aws, playbook, service, golden, swap_task, probe):
    probe.answer = lambda: 500 if green_weight(aws, service) > 0 else 200
    run = playbook([swap_task(golden.first, strategy="canary", health={"probe_url": probe.url})])
    assert run.rc != 0
    lines = run.task("swap")["result"]["progress"]
    assert re.match(
        r"^web: roll back \(shift at weight 10: probe \S+ answered HTTP 500\), traffic back to web-blue$", lines[-1]
    ), lines
