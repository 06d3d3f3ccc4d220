"""phoenix.immutable.blue_green through ansible-playbook against the moto server.

Each test asserts on the module's result AND on the cloud read back through boto3: which target groups the
listener forwards to, which groups exist with which image, which template versions remain.
"""

from __future__ import annotations


def result_of(run, title="swap"):
    return run.task(title)["result"]


def only_group_serving(state, image_id):
    """The one group of the service left, serving everything with `image_id`; returns its name."""
    [(name, weight)] = state.serving().items()
    assert weight == 100
    assert set(state.groups) == {name}, state.groups
    assert state.groups[name]["images"] == {image_id}
    assert set(state.target_groups) == {name}
    return name


def test_all_at_once_swap_serves_the_new_image_and_deletes_blue(aws, playbook, service, golden, swap_task, fleet):
    run = playbook([swap_task(golden.first)])
    assert run.rc == 0, run.explain()
    result = result_of(run)
    assert result["changed"] is True
    rollout = result["rollout"]
    assert rollout["state"] == "deployed"
    assert rollout["from_image"] == service.image_id and rollout["to_image"] == golden.first
    phases = [phase["phase"] for phase in rollout["phases"]]
    assert phases == [
        "locked",
        "template",
        "target",
        "launch",
        "wait_healthy",
        "shift",
        "keep_blue",
        "retire_blue",
        "done",
    ]
    assert [phase.get("weight") for phase in rollout["phases"] if phase["phase"] == "shift"] == [100]
    health = rollout["phases"][4]["evidence"]
    assert health["instances"] == {"in_service": 2, "healthy": 2, "wanted": 2}
    assert health["targets"]["healthy"] == 2
    assert rollout["api_calls"] == result["api_calls"]
    assert result["api_calls"]["elasticloadbalancing:ModifyListener"] == 1

    state = fleet()
    name = only_group_serving(state, golden.first)
    assert name == "web-a"
    assert state.groups[name]["size"] == 2
    tags = state.groups[name]["tags"]
    assert tags["phoenix:role"] == "blue" and tags["phoenix:phase"] == "done"
    assert tags["phoenix:image"] == golden.first and tags["phoenix:previous-image"] == service.image_id
    assert "phoenix:lease-until" not in tags
    # The base version stays; the new one launches the new image with the base's type and user data.
    by_number = {str(v["VersionNumber"]): v for v in state.versions}
    assert set(by_number) == {"1", tags["phoenix:template-version"]}
    data = by_number[tags["phoenix:template-version"]]["LaunchTemplateData"]
    assert data["ImageId"] == golden.first and data["InstanceType"] == "t3.micro" and data["UserData"]


def test_second_run_with_the_same_image_changes_nothing(playbook, golden, swap_task, fleet):
    assert playbook([swap_task(golden.first)]).rc == 0
    before = fleet()
    run = playbook([swap_task(golden.first, title="again")])
    assert run.rc == 0, run.explain()
    result = result_of(run, "again")
    assert result["changed"] is False
    assert result["rollout"]["state"] == "serving"
    writes = [call for call in result["api_calls"] if not call.split(":")[1].startswith("Describe")]
    assert writes == []
    assert fleet() == before


def green_weight(aws, service):
    """The weight the listener gives to target groups other than the seeded blue one."""
    [listener] = aws.client("elbv2").describe_listeners(ListenerArns=[service.listener_arn])["Listeners"]
    total = 0
    for action in listener["DefaultActions"]:
        for item in action.get("ForwardConfig", {}).get("TargetGroups", []):
            if item["TargetGroupArn"] != service.target_group_arn:
                total += item.get("Weight", 0)
    return total


def test_canary_moves_traffic_in_steps_with_health_evidence(aws, playbook, service, golden, swap_task, fleet, probe):
    seen = []

    def answer():
        seen.append(green_weight(aws, service))
        return 200

    probe.answer = answer
    run = playbook(
        [swap_task(golden.first, strategy="canary", canary_steps=[10, 50, 100], health={"probe_url": probe.url})]
    )
    assert run.rc == 0, run.explain()
    rollout = result_of(run)["rollout"]
    shifts = [phase for phase in rollout["phases"] if phase["phase"] == "shift"]
    assert [phase["weight"] for phase in shifts] == [10, 50, 100]
    assert all(phase["evidence"]["probe"]["ok"] for phase in shifts)
    # The probe saw every weight on the way: 0 while green warmed up, then each canary step.
    assert {0, 10, 50, 100} <= set(seen)
    assert result_of(run)["api_calls"]["elasticloadbalancing:ModifyListener"] == 3
    only_group_serving(fleet(), golden.first)


def test_a_failing_probe_at_ten_percent_rolls_back_to_blue(aws, playbook, service, golden, swap_task, fleet, probe):
    # Green is broken: the probe fails as soon as any traffic reaches it.
    probe.answer = lambda: 500 if green_weight(aws, service) > 0 else 200
    run = playbook(
        [swap_task(golden.first, strategy="canary", health={"probe_url": probe.url}, step_seconds=1)],
    )
    assert run.rc != 0
    record = run.task("swap")
    assert record["status"] == "failed"
    result = record["result"]
    assert "rolled back" in result["msg"] and "shift at weight 10" in result["msg"]
    assert result["error"]["code"] == "RolledBack"
    rollout = result["rollout"]
    assert rollout["state"] == "rolled_back"
    failed = [phase for phase in rollout["phases"] if phase.get("failure")]
    assert failed[0]["phase"] == "shift" and failed[0]["weight"] == 10
    assert failed[0]["evidence"]["probe"] == {"url": probe.url, "ok": False, "detail": "HTTP 500"}
    assert rollout["phases"][-1]["phase"] == "rolling_back"
    assert result["api_calls"]

    state = fleet()
    assert state.serving() == {"web-blue": 100}
    assert set(state.groups) == {"web-blue"} and state.groups["web-blue"]["size"] == 2
    assert state.groups["web-blue"]["in_service"] == 2
    assert set(state.target_groups) == {"web-blue"}
    assert [v["VersionNumber"] for v in state.versions] == [1]


def test_rolled_back_after_a_finished_swap_restores_the_previous_image(playbook, service, golden, swap_task, fleet):
    assert playbook([swap_task(golden.first)]).rc == 0
    assert only_group_serving(fleet(), golden.first) == "web-a"
    run = playbook([swap_task(title="back", state="rolled_back")], diff=True)
    assert run.rc == 0, run.explain()
    result = result_of(run, "back")
    assert result["changed"] is True
    assert result["rollout"]["to_image"] == service.image_id
    assert result["diff"]["before"]["image"] == golden.first and result["diff"]["after"]["image"] == service.image_id
    state = fleet()
    name = only_group_serving(state, service.image_id)
    assert name == "web-b"
    assert state.groups[name]["tags"]["phoenix:rolled-back-from"] == golden.first
    again = playbook([swap_task(title="back again", state="rolled_back")])
    assert again.rc == 0, again.explain()
    assert result_of(again, "back again")["changed"] is False
    assert fleet().serving() == {"web-b": 100}


def test_rolled_back_during_a_paused_canary_restores_blue(aws, playbook, service, golden, swap_task, fleet, probe):
    probe.answer = lambda: 503 if green_weight(aws, service) >= 50 else 200
    paused = playbook([swap_task(golden.first, strategy="canary", on_failure="pause", health={"probe_url": probe.url})])
    assert paused.rc != 0
    result = result_of(paused)
    assert result["error"]["code"] == "RolloutPaused" and result["rollout"]["state"] == "paused"
    state = fleet()
    assert state.serving() == {"web-blue": 50, "web-a": 50}
    assert state.groups["web-a"]["tags"]["phoenix:phase"] == "paused"
    assert state.groups["web-blue"]["size"] == 2

    run = playbook([swap_task(title="back", state="rolled_back")])
    assert run.rc == 0, run.explain()
    assert result_of(run, "back")["rollout"]["state"] == "rolled_back"
    state = fleet()
    assert state.serving() == {"web-blue": 100}
    assert set(state.groups) == {"web-blue"} and state.groups["web-blue"]["size"] == 2
    assert set(state.target_groups) == {"web-blue"}
    assert [v["VersionNumber"] for v in state.versions] == [1]


def test_an_alarm_in_alarm_state_fails_the_gate_before_any_traffic_moves(aws, playbook, golden, swap_task, fleet):
    cloudwatch = aws.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="web-5xx",
        MetricName="HTTPCode_Target_5XX_Count",
        Namespace="AWS/ApplicationELB",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=10,
        ComparisonOperator="GreaterThanThreshold",
    )
    cloudwatch.set_alarm_state(AlarmName="web-5xx", StateValue="ALARM", StateReason="the test says so")
    run = playbook([swap_task(golden.first, timeout=1, health={"alarms": ["web-5xx"]})])
    assert run.rc != 0
    result = result_of(run)
    assert "web-5xx" in result["msg"] and "wait_healthy" in result["msg"]
    assert fleet().serving() == {"web-blue": 100}
    assert set(fleet().groups) == {"web-blue"}


def test_check_mode_returns_the_plan_and_changes_nothing(aws, playbook, service, golden, swap_task, fleet):
    before = fleet()
    run = playbook([swap_task(golden.first, strategy="canary")], check=True, diff=True)
    assert run.rc == 0, run.explain()
    result = result_of(run)
    assert result["changed"] is True
    rollout = result["rollout"]
    assert rollout["state"] == "planned"
    assert [(step["phase"], step.get("weight")) for step in rollout["plan"]] == [
        ("locked", None),
        ("template", None),
        ("target", None),
        ("launch", None),
        ("wait_healthy", None),
        ("shift", 10),
        ("shift", 50),
        ("shift", 100),
        ("keep_blue", None),
        ("retire_blue", None),
        ("done", None),
    ]
    assert result["diff"] == {
        "before": {"image": service.image_id, "group": "web-blue"},
        "after": {"image": golden.first, "group": "web-a"},
    }
    assert fleet() == before
    assert all(call.split(":")[1].startswith("Describe") for call in result["api_calls"])


def test_bad_input_fails_before_anything_is_created(playbook, golden, swap_task, fleet):
    before = fleet()
    run = playbook(
        [
            {**swap_task(golden.first, title="steps", strategy="canary", canary_steps=[50, 10]), "ignore_errors": True},
            {**swap_task(golden.first, title="template", launch_template="nope"), "ignore_errors": True},
        ]
    )
    assert "canary_steps" in result_of(run, "steps")["msg"]
    assert "launch template 'nope' does not exist" in result_of(run, "template")["msg"]
    assert fleet() == before
