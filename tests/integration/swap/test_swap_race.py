"""The rollout lock as a race: two rollouts of one service started from the same start line, many times.

Both run in this process (the collection's `swap()`, through boto3, against the moto server), released
together by a `threading.Barrier`, so they read the fleet and try to create the same slot's group at the
same moment. moto's CreateAutoScalingGroup is made atomic and refusing like AWS's by
`emulators.autoscaling_atomic` (on plain moto both creates pass and both rollouts go on). The one whose
create wins is held (a `PhaseGate` on its first phase after the lock) until the other has answered, so a
round always has both in flight at once. Every round: exactly one wins, the other fails naming the
winner's rollout, and a watcher polling the emulator never sees the listener forward to a target group
that is gone or to a group below the service's size.
"""

from __future__ import annotations

import queue
import threading
import time

import pytest
from emulators.fleet import PhaseGate, read_fleet

from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import PhoenixError
from ansible_collections.phoenix.immutable.plugins.module_utils.swap import swap

ROUNDS = 10
DEADLINE = 60


class ServingWatch:
    """Polls the listener; a consistent reading (the listener unchanged around it) that forwards to a target
    group that does not exist, or to groups with fewer than `size` instances in service, is a violation."""

    def __init__(self, aws, service):
        self.aws, self.service = aws, service
        self.violations = []
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _actions(self, elb):
        [listener] = elb.describe_listeners(ListenerArns=[self.service.listener_arn])["Listeners"]
        weights = {}
        for action in listener["DefaultActions"]:
            forward = (action.get("ForwardConfig") or {}).get("TargetGroups") or [
                {"TargetGroupArn": action.get("TargetGroupArn"), "Weight": 100}
            ]
            for item in forward:
                weights[item["TargetGroupArn"]] = item.get("Weight", 1)
        return weights

    def _run(self):
        elb, autoscaling = self.aws.client("elbv2"), self.aws.client("autoscaling")
        while not self._stop.is_set():
            before = self._actions(elb)
            existing = {tg["TargetGroupArn"] for tg in elb.describe_target_groups()["TargetGroups"]}
            groups = autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]
            if self._actions(elb) == before:
                self.samples += 1
                for arn, weight in before.items():
                    if weight <= 0:
                        continue
                    if arn not in existing:
                        self.violations.append("the listener forwards to a deleted target group %s" % arn)
                        continue
                    in_service = sum(
                        1
                        for group in groups
                        if arn in group.get("TargetGroupARNs", [])
                        for instance in group.get("Instances", [])
                        if instance["LifecycleState"] == "InService"
                    )
                    if in_service < self.service.size:
                        self.violations.append("%s takes traffic with %d in service" % (arn, in_service))
            self._stop.wait(0.02)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join(10)


def race(contenders):
    """Run each params dict through swap() in a thread of its own, released together; [(result, error)]."""
    start = threading.Barrier(len(contenders))
    finished = queue.Queue()
    outcomes = [None] * len(contenders)

    def run(index, params):
        try:
            start.wait(DEADLINE)
            outcomes[index] = (swap(params), None)
        except PhoenixError as error:
            outcomes[index] = (None, error)
        finally:
            finished.put(index)

    threads = [threading.Thread(target=run, args=item, daemon=True) for item in enumerate(contenders)]
    with PhaseGate("launch", timeout=DEADLINE):
        for thread in threads:
            thread.start()
        finished.get(timeout=DEADLINE)  # the loser answers while the winner is held after taking the lock
    for thread in threads:
        thread.join(DEADLINE)
        assert not thread.is_alive(), "a rollout did not end"
    return outcomes


@pytest.fixture
def contender(aws, service, monkeypatch):
    for name, value in aws.env.items():
        monkeypatch.setenv(name, value)

    def params(state="deployed", image_id=None):
        return {
            "cloud": "aws",
            "region": aws.seed.region,
            "endpoint_url": aws.emu.endpoint_url,
            "state": state,
            "service": service.service,
            "image_id": image_id,
            "listener_arn": service.listener_arn,
            "launch_template": service.launch_template_name,
            "step_seconds": 0,
            "keep_blue_seconds": 0,
            "lease_seconds": 30,
            "timeout": DEADLINE,
            "health": {"interval": 0.2},
        }

    return params


def test_two_rollouts_from_the_same_start_line_exactly_one_wins_every_time(aws, service, golden, contender):
    images = [service.image_id, golden.first, golden.second]
    current, previous = service.image_id, None
    started = time.monotonic()
    with ServingWatch(aws, service) as watch:
        for round_number in range(ROUNDS):
            fresh = [image for image in images if image not in (current, previous)] or [
                image for image in images if image != current
            ]
            if round_number % 2 == 0:  # two swaps, to the two images not serving
                others = [image for image in images if image != current]
                contenders = [contender(image_id=others[0]), contender(image_id=others[1])]
            else:  # a swap against a rollback (which deploys the previous image again)
                contenders = [contender(image_id=fresh[0]), contender(state="rolled_back")]
            outcomes = race(contenders)
            winners = [result for result, error in outcomes if error is None]
            losers = [error for result, error in outcomes if error is not None]
            summary = [error or (result["rollout"]["id"], result["rollout"]["to_image"]) for result, error in outcomes]
            assert len(winners) == 1 and len(losers) == 1, "round %d: %s" % (round_number, summary)
            [winner], [loser] = winners, losers
            assert winner["changed"] is True and winner["rollout"]["state"] == "deployed", winner["rollout"]
            assert loser.code == "RolloutInProgress", "round %d: %s" % (round_number, loser)
            assert winner["rollout"]["id"] in loser.message, loser.message

            state = read_fleet(aws, service)
            [(name, weight)] = state.serving().items()
            assert weight == 100 and set(state.groups) == {name}, state.groups
            assert set(state.target_groups) == {name}, state.target_groups
            assert state.groups[name]["images"] == {winner["rollout"]["to_image"]}
            assert state.groups[name]["size"] == service.size
            previous, current = current, winner["rollout"]["to_image"]
    assert watch.samples > 0 and watch.violations == [], watch.violations[:5]
    assert time.monotonic() - started < 4 * DEADLINE
