"""The two ways a module task runs on the controller give the same task result: inside Ansible's worker
(the controller's own Python: the harness's default) and as a module process of its own (any other
interpreter path; here a script that runs the same Python). ``-vvv`` tells them apart: only a shipped module
logs the module file Ansible packaged."""

from __future__ import annotations

import sys

import pytest

SHIPPED = "Using module file"


@pytest.fixture
def module_process_python(tmp_path):
    """An interpreter path that is not this Python's, so Ansible ships the module and runs it in a process."""
    path = tmp_path / "python"
    path.write_text('#!/bin/sh\nexec "%s" "$@"\n' % sys.executable, encoding="utf-8")
    path.chmod(0o755)
    return str(path)


def both_ways(playbook, tasks, interpreter, **options):
    in_worker = playbook(tasks, verbosity=3, **options)
    in_process = playbook(tasks, verbosity=3, extra_vars={"ansible_python_interpreter": interpreter}, **options)
    assert SHIPPED not in in_worker.stdout, in_worker.explain()
    assert SHIPPED in in_process.stdout, in_process.explain()
    return in_worker, in_process


def comparable(result):
    return {key: value for key, value in result.items() if key not in ("invocation",)}


def test_a_search_and_a_check_mode_plan_return_the_same_result_both_ways(aws, playbook, module_process_python):
    tasks = [
        {"name": "find", "phoenix.immutable.image_info": {"image_ids": [aws.seed.base_image_id], "owners": []}},
        {
            "name": "plan",
            "phoenix.immutable.image": {"name": "web-1", "instance_id": aws.seed.builder_instance_id},
        },
    ]
    in_worker, in_process = both_ways(playbook, tasks, module_process_python, check=True)
    assert in_worker.rc == 0 and in_process.rc == 0, in_worker.explain() + in_process.explain()
    for name in ("find", "plan"):
        assert comparable(in_worker.task(name)["result"]) == comparable(in_process.task(name)["result"])
    assert in_worker.task("find")["result"]["images"][0]["id"] == aws.seed.base_image_id
    assert in_worker.task("plan")["result"]["changed"] is True


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"state": "absent"}, "are missing: name, image_id"),
        ({"state": "present", "name": "x", "image_id": "ami-1"}, "mutually exclusive"),
        ({"name": "x", "colour": "red"}, "Unsupported parameters for (phoenix.immutable.image) module: colour"),
        ({"name": "x", "wait_timeout": "soon"}, "wait_timeout"),
    ],
)
def test_bad_input_fails_with_the_same_message_both_ways(aws, playbook, module_process_python, arguments, message):
    tasks = [{"name": "bad", "phoenix.immutable.image": arguments}]
    in_worker, in_process = both_ways(playbook, tasks, module_process_python)
    assert in_worker.rc != 0 and in_process.rc != 0
    assert in_worker.task("bad")["result"]["msg"] == in_process.task("bad")["result"]["msg"]
    assert message in in_worker.task("bad")["result"]["msg"]


def test_the_task_environment_reaches_the_module_the_same_way_both_ways(aws, playbook, module_process_python):
    """AWX injects credentials as environment variables: a task's ``environment`` reaches the module in the
    worker as it reaches a module process, and its secret is masked in the result the same way."""
    task = {
        "name": "find",
        "phoenix.immutable.image_info": {"image_ids": [aws.seed.base_image_id]},
        "environment": {"AWS_ACCESS_KEY_ID": "AKIDFROMTASK", "AWS_SECRET_ACCESS_KEY": "secret-from-the-task"},
    }
    in_worker, in_process = both_ways(playbook, [task], module_process_python)
    assert in_worker.rc == 0 and in_process.rc == 0, in_worker.explain() + in_process.explain()
    result = in_worker.task("find")["result"]
    assert result == in_process.task("find")["result"]
    assert result["invocation"]["module_args"]["access_key"] == "AKIDFROMTASK"
    assert "secret-from-the-task" not in in_worker.stdout + repr(result)
