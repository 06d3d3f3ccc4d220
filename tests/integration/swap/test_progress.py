"""A canary's progress lines reach the user while the swap runs: on ansible-playbook's output and, through
ansible-runner (the engine of AWX), as job events in the same words.

The proof that a line is shown *while* the module works, not when it returns: after the first health check at
10 %, the probe the swap's health gate calls does not answer until the test has seen the line of that step.
A plugin that showed the lines only at the end would hold the probe until its wait ran out.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from pathlib import Path

import ansible_runner
import yaml
from harness import collections_root
from test_blue_green import green_weight

SHIFT = re.compile(r"^(\S+): shift (\d+)% → (\S+), (\d+)/(\d+) healthy")
# Generous: the module is only held while the line travels from its file to the test.
HOLD_SECONDS = 120


class HeldProbe:
    """Answers the swap's probe; from the second check at 10 % on, holds it until the 10 % line was seen."""

    def __init__(self, aws, service):
        self.aws, self.service = aws, service
        self.checks_at_10 = 0
        self.seen_at_10 = threading.Event()
        self.held_in_vain = 0
        self.weight_when_seen = None

    def answer(self):
        if green_weight(self.aws, self.service) == 10:
            self.checks_at_10 += 1
            if self.checks_at_10 > 1 and not self.seen_at_10.wait(HOLD_SECONDS):
                self.held_in_vain += 1
        return 200

    def line(self, text):
        match = SHIFT.match(text.strip())
        if match and match.group(2) == "10" and not self.seen_at_10.is_set():
            self.weight_when_seen = green_weight(self.aws, self.service)
            self.seen_at_10.set()


def canary_args(service, golden, probe):
    return {
        "service": service.service,
        "listener": service.listener_arn,
        "template": service.launch_template_name,
        "image_id": golden.first,
        "strategy": "canary",
        "canary_steps": [10, 100],
        # Long enough for several checks at each step on a loaded machine: the probe is held from the second.
        "step_seconds": 10,
        "keep_blue_seconds": 0,
        "lease_seconds": 60,
        "health": {"interval": 0.5, "probe_url": probe.url},
    }


def assert_progress(lines, held, service):
    shifts = [SHIFT.match(line) for line in lines if SHIFT.match(line)]
    assert [(m.group(1), m.group(2)) for m in shifts] == [(service.service, "10"), (service.service, "100")], lines
    assert held.seen_at_10.is_set() and held.held_in_vain == 0, "the 10% line came only after the module's wait"
    assert held.weight_when_seen == 10, "the 10% line was shown while the swap was at %s%%" % held.weight_when_seen


def test_a_canary_shows_a_line_per_step_on_ansible_playbooks_output_while_it_runs(
    playbook, service, golden, probe, aws
):
    held = HeldProbe(aws, service)
    probe.answer = held.answer
    run = playbook(
        [{"name": "swap", "phoenix.immutable.blue_green": canary_args(service, golden, probe)}], on_line=held.line
    )
    assert run.rc == 0, run.explain()
    output = run.stdout.splitlines()
    result_at = next(index for index, line in enumerate(output) if line.startswith("changed: [localhost]"))
    shown = [line for line in output[:result_at] if line.startswith(service.service + ": ")]
    assert_progress(shown, held, service)
    # The same lines, in the same order, are in the task's result.
    assert run.task("swap")["result"]["progress"] == shown


def test_a_canary_shows_the_same_lines_as_ansible_runner_job_events_while_it_runs(
    aws, service, golden, probe, tmp_path
):
    held = HeldProbe(aws, service)
    probe.answer = held.answer
    data_dir = tmp_path / "job"
    (data_dir / "project").mkdir(parents=True)
    (data_dir / "inventory").mkdir()
    (data_dir / "inventory" / "hosts").write_text(
        'localhost ansible_connection=local ansible_python_interpreter="%s"\n' % sys.executable
    )
    defaults = {"group/phoenix.immutable.aws": {"region": aws.seed.region, "endpoint_url": aws.emu.endpoint_url}}
    play = {
        "name": "canary",
        "hosts": "localhost",
        "gather_facts": False,
        "module_defaults": defaults,
        "tasks": [{"name": "swap", "phoenix.immutable.blue_green": canary_args(service, golden, probe)}],
    }
    (data_dir / "project" / "canary.yml").write_text(yaml.safe_dump([play]))
    envvars = {
        **aws.env,
        "ANSIBLE_COLLECTIONS_PATH": str(collections_root()),
        "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
        "ANSIBLE_NOCOLOR": "1",
        # ansible-runner starts ansible-playbook by name.
        "PATH": "%s%s%s" % (Path(sys.executable).parent, os.pathsep, os.environ.get("PATH", "")),
    }
    events = []

    def on_event(event):
        events.append(event)
        if event["event"] == "verbose":
            held.line(event.get("stdout", ""))
        return True

    runner = ansible_runner.run(
        private_data_dir=str(data_dir),
        playbook="canary.yml",
        envvars=envvars,
        event_handler=on_event,
        quiet=True,
        timeout=600,
    )
    assert runner.status == "successful", [event.get("stdout") for event in events]
    done_at = next(index for index, event in enumerate(events) if event["event"] == "runner_on_ok")
    shown = [
        event["stdout"].strip()
        for event in events[:done_at]
        if event["event"] == "verbose" and event.get("stdout", "").startswith(service.service + ": ")
    ]
    assert_progress(shown, held, service)
    assert events[done_at]["event_data"]["res"]["progress"] == shown
