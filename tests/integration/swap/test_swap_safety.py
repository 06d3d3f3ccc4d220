"""The swap's safety properties through ansible-playbook on moto: one rollout at a time, the trust gate
before anything is created, and convergence after a SIGKILL at every phase boundary with blue's capacity
never below its original size while blue takes traffic (watched by polling the emulator)."""

from __future__ import annotations

import sys
import threading
import time

import pytest
from emulators.fleet import PhaseGate, read_fleet
from harness.processes import ansible_runs_of_this_process, in_thread, kill_tree
from harness.rollouts import RECORD_POINT_IDS, RECORD_POINTS

DEADLINE = 60


def test_a_second_concurrent_swap_is_refused_naming_the_one_in_progress(playbook, golden, swap_task, fleet):
    with PhaseGate("launch") as gate:
        first = in_thread(lambda: playbook([swap_task(golden.first, title="first")]), 2 * DEADLINE)
        assert gate.reached.wait(DEADLINE), "the first swap never reached launch"
        second = playbook([swap_task(golden.second, title="second")])
        state_while_held = fleet()
        gate.release()
        first_run = first()
    assert second.rc != 0
    refused = second.task("second")["result"]
    assert refused["error"]["code"] == "RolloutInProgress"
    rollout_id = state_while_held.groups["web-a"]["tags"]["phoenix:rollout"]
    assert rollout_id in refused["msg"] and golden.first in refused["msg"] and "web-a" in refused["msg"]
    assert not [call for call in refused["api_calls"] if not call.split(":")[1].startswith("Describe")]

    assert first_run.rc == 0, first_run.explain()
    state = fleet()
    assert state.serving() == {"web-a": 100}
    assert set(state.groups) == {"web-a"} and state.groups["web-a"]["images"] == {golden.first}


def test_an_unsigned_image_is_refused_before_anything_is_created(aws, playbook, golden, swap_task, fleet, trust):
    before = fleet()
    run = playbook([swap_task(golden.first, verify=trust)])
    assert run.rc != 0
    result = run.task("swap")["result"]
    assert result["error"]["code"] == "UntrustedImage" and golden.first in result["msg"]
    assert result["verification"]["verified"] is False
    # Refused before the fleet was even read.
    assert set(result["api_calls"]) == {"ec2:DescribeImages"}
    assert fleet() == before

    signed = playbook([swap_task(golden.second, title="signed", verify=trust)])
    assert signed.rc == 0, signed.explain()
    result = signed.task("signed")["result"]
    assert result["verification"][0]["verified"] is True
    assert fleet().serving() == {"web-a": 100}


class CapacityWatch:
    """Polls the emulator: the lowest in-service count and size of blue while the listener gives it traffic."""

    def __init__(self, aws, service):
        self.aws, self.service = aws, service
        self.lowest = None
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        autoscaling = self.aws.client("autoscaling")
        elb = self.aws.client("elbv2")
        while not self._stop.is_set():
            [listener] = elb.describe_listeners(ListenerArns=[self.service.listener_arn])["Listeners"]
            weight = 0
            for action in listener["DefaultActions"]:
                forward = action.get("ForwardConfig", {}).get("TargetGroups") or [
                    {"TargetGroupArn": action.get("TargetGroupArn"), "Weight": 100}
                ]
                weight += sum(
                    i.get("Weight", 0) for i in forward if i["TargetGroupArn"] == self.service.target_group_arn
                )
            groups = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[self.service.group_name])
            if weight > 0 and groups["AutoScalingGroups"]:
                [group] = groups["AutoScalingGroups"]
                in_service = sum(1 for i in group["Instances"] if i["LifecycleState"] == "InService")
                value = min(in_service, group["DesiredCapacity"])
                self.lowest = value if self.lowest is None else min(self.lowest, value)
                self.samples += 1
            self._stop.wait(0.05)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join(10)


def wait_for_lease_end(aws, group_name):
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        groups = aws.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[group_name])
        tags = {t["Key"]: t["Value"] for g in groups["AutoScalingGroups"] for t in g.get("Tags", [])}
        if float(tags.get("phoenix:lease-until") or 0) < time.time():
            return
        time.sleep(0.1)
    raise AssertionError("the lease of %s never ended" % group_name)


@pytest.mark.parametrize(("phase", "weight", "resumed"), RECORD_POINTS, ids=RECORD_POINT_IDS)
def test_a_run_killed_at_a_record_point_converges_on_the_next_run(
    aws, playbook, service, golden, swap_task, phase, weight, resumed
):
    options = dict(strategy="canary", canary_steps=[10, 50, 100], lease_seconds=2)
    if phase == "keep_blue":
        options["keep_blue_seconds"] = 1  # a keep-blue wait is recorded only when there is one
    with CapacityWatch(aws, service) as watch:
        with PhaseGate(phase, weight) as gate:
            killed = in_thread(lambda: playbook([swap_task(golden.first, title="killed", **options)]), 2 * DEADLINE)
            assert gate.reached.wait(DEADLINE), "the run never reached %s %s" % (phase, weight or "")
            runs = ansible_runs_of_this_process()
            assert runs, "no ansible-playbook to kill"
            for pid in runs:
                kill_tree(pid)
            gate.release()
            assert killed().rc != 0
        wait_for_lease_end(aws, "web-a")
        run = playbook([swap_task(golden.first, title="again", **options)])
    assert run.rc == 0, run.explain()
    result = run.task("again")["result"]
    assert result["rollout"]["resumed_from"] == resumed
    assert result["changed"] is True

    state = read_fleet(aws, service)
    assert state.serving() == {"web-a": 100}
    assert set(state.groups) == {"web-a"}, "orphan groups: %s" % state.groups
    assert state.groups["web-a"]["images"] == {golden.first} and state.groups["web-a"]["size"] == 2
    assert set(state.target_groups) == {"web-a"}, "orphan target groups: %s" % state.target_groups
    versions = sorted(v["VersionNumber"] for v in state.versions)
    assert versions == [1, int(state.groups["web-a"]["tags"]["phoenix:template-version"])], versions
    tags = state.groups["web-a"]["tags"]
    assert (tags["phoenix:role"], tags["phoenix:phase"]) == ("blue", "done")
    assert "phoenix:lease-until" not in tags and "phoenix:blue-group" not in tags
    assert watch.samples > 0 and watch.lowest == service.size, (watch.lowest, watch.samples)
    assert sys.platform.startswith("linux")


def test_a_run_killed_while_rolling_back_is_finished_by_rolled_back(aws, playbook, service, golden, swap_task, probe):
    probe.answer = lambda: 500 if read_fleet(aws, service).serving().get("web-a", 0) > 0 else 200
    options = dict(strategy="canary", lease_seconds=2, health={"probe_url": probe.url})
    with CapacityWatch(aws, service) as watch:
        with PhaseGate("rolling_back") as gate:
            killed = in_thread(lambda: playbook([swap_task(golden.first, title="killed", **options)]), 2 * DEADLINE)
            assert gate.reached.wait(DEADLINE), "the run never started rolling back"
            for pid in ansible_runs_of_this_process():
                kill_tree(pid)
            gate.release()
            assert killed().rc != 0
        half = read_fleet(aws, service)
        assert half.groups["web-a"]["tags"]["phoenix:phase"] == "rolling_back"
        wait_for_lease_end(aws, "web-a")
        run = playbook([swap_task(title="back", state="rolled_back", lease_seconds=2)])
    assert run.rc == 0, run.explain()
    assert run.task("back")["result"]["rollout"]["state"] == "rolled_back"
    state = read_fleet(aws, service)
    assert state.serving() == {"web-blue": 100}
    assert set(state.groups) == {"web-blue"} and set(state.target_groups) == {"web-blue"}
    assert [v["VersionNumber"] for v in state.versions] == [1]
    assert watch.lowest == service.size


def test_rollout_info_reads_what_a_run_killed_mid_canary_left(aws, playbook, service, golden, swap_task):
    options = dict(strategy="canary", canary_steps=[10, 50, 100], lease_seconds=120)
    with PhaseGate("shift", "50") as gate:
        killed = in_thread(lambda: playbook([swap_task(golden.first, title="killed", **options)]), 2 * DEADLINE)
        assert gate.reached.wait(DEADLINE), "the run never reached shift 50"
        for pid in ansible_runs_of_this_process():
            kill_tree(pid)
        gate.release()
        assert killed().rc != 0
    info = {"service": service.service, "listener": service.listener_arn}
    run = playbook(
        [
            {"name": "info", "phoenix.immutable.rollout_info": info, "register": "seen"},
            {"name": "info in check mode", "phoenix.immutable.rollout_info": info, "check_mode": True},
        ]
    )
    assert run.rc == 0, run.explain()
    for title in ("info", "info in check mode"):
        result = run.task(title)["result"]
        view = result["rollout"]
        assert result["changed"] is False
        assert (view["state"], view["phase"], view["weight"]) == ("in_progress", "shift", 50), view
        assert view["image"] == golden.first and view["green"]["name"] == "web-a"
        assert view["blue"]["name"] == service.group_name and view["blue"]["size"] == service.size
        assert view["lease"]["held"] is True and 0 < view["lease"]["seconds_left"] <= 120
        assert view["lease"]["owner"] and view["lease"]["until"].endswith("Z")
        # The phase is recorded before its action: the run died before the listener moved from 10 to 50.
        weights = {entry["groups"][0]: entry["weight"] for entry in view["shares"].values()}
        assert weights == {"web-a": 10, service.group_name: 90}, view["shares"]
        assert not [call for call in result["api_calls"] if not call.split(":")[1].startswith("Describe")]
    state = read_fleet(aws, service)
    assert state.groups["web-a"]["tags"]["phoenix:phase"] == "shift"  # reading changed nothing


def test_rollout_info_of_a_service_without_a_rollout_shows_what_serves(playbook, service):
    info = {"service": service.service, "listener": service.listener_arn}
    run = playbook([{"name": "info", "phoenix.immutable.rollout_info": info}])
    assert run.rc == 0, run.explain()
    view = run.task("info")["result"]["rollout"]
    assert view["state"] == "serving" and view["rollout"] is None
    assert view["serving"]["name"] == service.group_name and view["serving"]["image"] == service.image_id
