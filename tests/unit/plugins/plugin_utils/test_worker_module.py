"""The stand-in for AnsibleModule that runs a module inside Ansible's worker: AnsibleModule's validation,
check-mode refusal and no_log masking, a result that went through JSON, and which interpreters count as
this Python."""

from __future__ import annotations

import os
import sys

import pytest

from ansible_collections.phoenix.immutable.plugins.module_utils.modules import PhoenixModule
from ansible_collections.phoenix.immutable.plugins.plugin_utils.worker_module import (
    ModuleReturned,
    WorkerModule,
    run_in_worker,
    same_python,
)

SPEC = dict(
    name=dict(type="str", required=True),
    count=dict(type="int", default=3),
    secret=dict(type="str", no_log=True),
    other=dict(type="str"),
)


def returned(arguments, check_mode=False, **kwargs):
    WorkerModule.invocation = ("phoenix.immutable.example", arguments, check_mode, False)
    with pytest.raises(ModuleReturned) as raised:
        module = WorkerModule(SPEC, **kwargs)
        module.exit_json(changed=True, echo=module.params)
    return raised.value.result


def test_arguments_are_validated_with_their_defaults_and_types():
    result = returned({"name": "web", "count": "5"}, supports_check_mode=True)
    assert result["echo"] == {"name": "web", "count": 5, "secret": None, "other": None}
    assert result["changed"] is True and result["invocation"]["module_args"]["name"] == "web"


@pytest.mark.parametrize(
    ("arguments", "kwargs", "message"),
    [
        ({}, {}, "missing required arguments: name"),
        ({"name": "web", "colour": "red"}, {}, "Unsupported parameters for (phoenix.immutable.example) module: colour"),
        (
            {"name": "web", "secret": "a-long-secret", "other": "o"},
            {"mutually_exclusive": [("secret", "other")]},
            "mutually exclusive",
        ),
    ],
)
def test_bad_arguments_fail_with_ansible_modules_message(arguments, kwargs, message):
    result = returned(arguments, **kwargs)
    assert result["failed"] is True and message in result["msg"]


def test_a_module_without_check_mode_support_is_skipped_in_check_mode():
    result = returned({"name": "web"}, check_mode=True)
    assert result["skipped"] is True and "does not support check mode" in result["msg"]


def test_no_log_values_are_masked_everywhere_in_the_result_and_bools_kept():
    result = returned({"name": "web", "secret": "hunter2hunter2"}, supports_check_mode=True)
    assert "hunter2hunter2" not in repr(result)
    assert result["changed"] is True


def test_the_result_went_through_json():
    WorkerModule.invocation = ("phoenix.immutable.example", {"name": "web"}, False, False)
    module = WorkerModule(SPEC)
    with pytest.raises(ModuleReturned) as raised:
        module.exit_json(pair=("a", 1))
    assert raised.value.result["pair"] == ["a", 1]


def test_run_in_worker_runs_main_with_the_task_environment_and_returns_the_result(monkeypatch, tmp_path):
    monkeypatch.setattr(PhoenixModule, "host_class", PhoenixModule.host_class)
    monkeypatch.setattr(WorkerModule, "invocation", WorkerModule.invocation)
    monkeypatch.setenv("PHOENIX_EXAMPLE", "before")  # undone after the test, whatever the run set
    package = tmp_path / "worker_example_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "example.py").write_text(
        "import os\n"
        "from ansible_collections.phoenix.immutable.plugins.module_utils.modules import PhoenixModule\n"
        "def main():\n"
        "    PhoenixModule(dict(name=dict(type='str')), supports_check_mode=True).run(\n"
        "        lambda module: dict(changed=not module.check_mode, name=module.params['name'],\n"
        "                            environment=os.environ['PHOENIX_EXAMPLE']))\n"
    )
    (package / "broken.py").write_text("def main():\n    raise RuntimeError('boom')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    result = run_in_worker(
        "worker_example_pkg.example",
        "phoenix.immutable.example",
        {"name": "web"},
        check_mode=True,
        diff=False,
        environment={"PHOENIX_EXAMPLE": 7},
    )
    assert result["changed"] is False and result["name"] == "web" and result["environment"] == "7"
    assert PhoenixModule.host_class is WorkerModule
    crashed = run_in_worker(
        "worker_example_pkg.broken", "phoenix.immutable.broken", {}, check_mode=False, diff=False, environment={}
    )
    assert crashed["failed"] is True and crashed["msg"] == "phoenix.immutable.broken failed: RuntimeError: boom"
    assert "RuntimeError" in crashed["exception"]


def test_only_this_very_python_counts_as_the_same_interpreter(tmp_path):
    assert same_python(sys.executable)
    assert not same_python(None) and not same_python("") and not same_python("python3")
    assert not same_python(str(tmp_path / "missing" / "python"))
    elsewhere = tmp_path / "python"
    elsewhere.symlink_to(os.path.realpath(sys.executable))
    assert not same_python(str(elsewhere))  # the same binary from another directory: another environment
