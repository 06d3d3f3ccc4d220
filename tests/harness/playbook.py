"""Run a real `ansible-playbook` and get its task results back as data.

    run = run_playbook([{"name": "say", "ansible.builtin.debug": {"msg": "hi"}}])
    assert run.rc == 0, run.explain()
    assert run.task("say")["result"]["msg"] == "hi"

ansible-playbook is the one next to `sys.executable` (the venv's), run against an inventory of only
`localhost` (local connection, this Python), with phoenix.immutable importable through a symlink tree
(`<tmp>/ansible_collections/phoenix/immutable` -> the repository root) that is made once per process and
is the only collections path. Nothing of the user's configuration reaches it: no ansible.cfg of theirs,
no ANSIBLE_*, AWS_*, BOTO*, GOOGLE_*, CLOUDSDK_*, AZURE_* or ARM_* variables from the calling
environment (pass what a run needs in `env`), no ~/.ansible. The callback plugin
`callback_plugins/phoenix_results.py` writes each task result to a JSON Lines file the run reads back.
"""

from __future__ import annotations

import atexit
import dataclasses
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

import yaml

HARNESS_DIR = Path(__file__).resolve().parent
REPO_ROOT = HARNESS_DIR.parents[1]
CALLBACK_DIR = HARNESS_DIR / "callback_plugins"
CALLBACK_NAME = "phoenix_results"
RESULTS_ENV = "PHOENIX_RESULTS_FILE"
NAMESPACE, NAME = "phoenix", "immutable"
# Variables of the calling environment that never reach ansible-playbook: user configuration of Ansible,
# and credentials or settings of the real clouds.
SCRUBBED_PREFIXES = ("ANSIBLE_", "AWS_", "BOTO", "GOOGLE_", "CLOUDSDK_", "GCE_", "GCP_", "AZURE_", "ARM_")
GENERATED_PLAY_NAME = "harness"
TAIL_LINES = 60


class NoSuchTask(KeyError):
    """`PlaybookRun.task()` found no task, or several, of that name."""

    def __str__(self) -> str:
        return str(self.args[0])  # KeyError would show the message's repr, escaped newlines and all


class PlaybookTimeout(AssertionError):
    """ansible-playbook outlived its timeout and was killed; `run` holds what it printed until then."""

    def __init__(self, run: PlaybookRun, timeout: float) -> None:
        self.run = run
        super().__init__("ansible-playbook was killed after %ss\n%s" % (timeout, run.explain()))


@dataclasses.dataclass
class PlaybookRun:
    """One ansible-playbook run: exit code, output, and every task result as data.

    `tasks` holds one dict per task and host, in order: `play`, `task` (name), `action`, `host`,
    `status` (ok, changed, failed, skipped, unreachable), `ignore_errors` and `result` (what `register`
    would hold). `stats` maps each host to its recap (ok, changed, failures, unreachable, skipped, ...).
    """

    rc: int
    stdout: str
    stderr: str
    tasks: list[dict[str, Any]]
    stats: dict[str, dict[str, int]]
    command: list[str]
    playbook: str
    playbook_text: str | None = None
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        return self.rc == 0

    def task_names(self) -> list[str]:
        return list(dict.fromkeys(record["task"] for record in self.tasks))

    def tasks_named(self, name: str) -> list[dict[str, Any]]:
        return [record for record in self.tasks if record["task"] == name]

    def task(self, name: str, host: str | None = None) -> dict[str, Any]:
        """The record of the one task called `name` (on `host`, when several hosts ran it)."""
        found = [record for record in self.tasks_named(name) if host is None or record["host"] == host]
        if len(found) == 1:
            return found[0]
        if not found:
            raise NoSuchTask(
                "no task %r in this run (rc=%s); tasks that reported a result: %s\n%s"
                % (name, self.rc, self.task_names() or "none", self._tail(self.stdout, 25))
            )
        hosts = [record["host"] for record in found]
        raise NoSuchTask("%d results for task %r (hosts %s); name it uniquely" % (len(found), name, hosts))

    def failed_tasks(self, include_ignored: bool = True) -> list[dict[str, Any]]:
        """Records with status failed or unreachable; those under ignore_errors too unless told not to."""
        return [
            record
            for record in self.tasks
            if record["status"] in ("failed", "unreachable") and (include_ignored or not record["ignore_errors"])
        ]

    @staticmethod
    def _tail(text: str, lines: int) -> str:
        kept = text.rstrip("\n").splitlines()[-lines:]
        return "\n".join("    " + line for line in kept) or "    (nothing)"

    def explain(self, lines: int = TAIL_LINES) -> str:
        """A readable account of the run for an assertion message: failures, output tails, the playbook."""
        parts = [
            "ansible-playbook exited %s after %.1fs: %s" % (self.rc, self.duration, " ".join(self.command)),
            "tasks: %s" % (", ".join("%s=%s" % (r["task"], r["status"]) for r in self.tasks) or "none reported"),
        ]
        for record in self.failed_tasks():
            result = record["result"]
            parts.append(
                "FAILED%s: %s [%s] on %s: %s"
                % (
                    " (ignored)" if record["ignore_errors"] else "",
                    record["task"],
                    record["action"],
                    record["host"],
                    result.get("msg") or result.get("exception") or json.dumps(result, sort_keys=True)[:2000],
                )
            )
        parts.append("stdout (last %d lines):\n%s" % (lines, self._tail(self.stdout, lines)))
        if self.stderr.strip():
            parts.append("stderr (last %d lines):\n%s" % (lines, self._tail(self.stderr, lines)))
        if self.playbook_text is not None:
            parts.append("generated playbook:\n%s" % self._tail(self.playbook_text, 200))
        return "\n".join(parts)

    def __repr__(self) -> str:
        failed = [record["task"] for record in self.failed_tasks()]
        return "PlaybookRun(rc=%s, tasks=%d, failed=%r, %.1fs, playbook=%s)" % (
            self.rc,
            len(self.tasks),
            failed,
            self.duration,
            self.playbook,
        )


# ---------------------------------------------------------------------------------------------------
# Per-process scaffolding: the collection symlink tree, inventory, configuration, temp dirs


@dataclasses.dataclass(frozen=True)
class _Scaffold:
    root: Path
    collections_path: Path
    inventory: Path
    config: Path
    home: Path
    local_temp: Path
    remote_temp: Path
    runs: Path


@functools.cache
def _scaffold() -> _Scaffold:
    root = Path(tempfile.mkdtemp(prefix="phoenix-harness-"))
    collections_path = root / "collections"
    link = collections_path / "ansible_collections" / NAMESPACE / NAME
    link.parent.mkdir(parents=True)
    link.symlink_to(REPO_ROOT, target_is_directory=True)
    inventory = root / "inventory.ini"
    inventory.write_text(
        'localhost ansible_connection=local ansible_python_interpreter="%s"\n' % sys.executable, encoding="utf-8"
    )
    config = root / "ansible.cfg"
    config.write_text(
        "# Written by tests/harness: ansible-playbook reads this file and no other configuration file.\n[defaults]\n",
        encoding="utf-8",
    )
    scaffold = _Scaffold(
        root=root,
        collections_path=collections_path,
        inventory=inventory,
        config=config,
        home=root / "ansible-home",
        local_temp=root / "local-tmp",
        remote_temp=root / "remote-tmp",
        runs=root / "runs",
    )
    for directory in (scaffold.home, scaffold.local_temp, scaffold.remote_temp, scaffold.runs):
        directory.mkdir()
    owner = os.getpid()

    def remove() -> None:
        if os.getpid() == owner:  # not from a forked child
            link.unlink(missing_ok=True)  # the link first: never walk into the repository
            shutil.rmtree(root, ignore_errors=True)

    atexit.register(remove)
    return scaffold


def collections_root() -> Path:
    """The directory holding `ansible_collections/phoenix/immutable` (a symlink to the repository root).

    Put it on sys.path to import `ansible_collections.phoenix.immutable...` in plain pytest; it is also
    ANSIBLE_COLLECTIONS_PATH for the playbook runs.
    """
    return _scaffold().collections_path


def ansible_playbook() -> Path:
    executable = Path(sys.executable).parent / "ansible-playbook"
    if not executable.exists():
        raise FileNotFoundError(
            "no ansible-playbook next to %s; install ansible-core into this environment (make venv)" % sys.executable
        )
    return executable


def playbook_environment(env: Mapping[str, str | None] | None, results_file: Path) -> dict[str, str]:
    """The environment of a run: the caller's, scrubbed, plus the harness's settings, plus `env`.

    A value of None in `env` removes that variable.
    """
    scaffold = _scaffold()
    environment = {key: value for key, value in os.environ.items() if not key.startswith(SCRUBBED_PREFIXES)}
    environment.update(
        {
            "ANSIBLE_CONFIG": str(scaffold.config),
            "ANSIBLE_HOME": str(scaffold.home),
            "ANSIBLE_LOCAL_TEMP": str(scaffold.local_temp),
            "ANSIBLE_REMOTE_TEMP": str(scaffold.remote_temp),
            "ANSIBLE_COLLECTIONS_PATH": str(scaffold.collections_path),
            "ANSIBLE_CALLBACK_PLUGINS": str(CALLBACK_DIR),
            "ANSIBLE_CALLBACKS_ENABLED": CALLBACK_NAME,
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_HOST_KEY_CHECKING": "False",
            "ANSIBLE_RETRY_FILES_ENABLED": "False",
            "ANSIBLE_LOCALHOST_WARNING": "False",
            "PYTHONUNBUFFERED": "1",
            RESULTS_ENV: str(results_file),
        }
    )
    for key, value in (env or {}).items():
        if value is None:
            environment.pop(key, None)
        else:
            environment[key] = str(value)
    return environment


def _generated_playbook(tasks: Sequence[Mapping[str, Any]], module_defaults: Mapping[str, Any] | None) -> str:
    play: dict[str, Any] = {
        "name": GENERATED_PLAY_NAME,
        "hosts": "localhost",
        "gather_facts": False,
        "connection": "local",
    }
    if module_defaults:
        play["module_defaults"] = dict(module_defaults)
    play["tasks"] = [dict(task) for task in tasks]
    return yaml.safe_dump([play], sort_keys=False, default_flow_style=False, width=1000)


def _pump(source: TextIO, sink: list[str], tee: TextIO | None, on_line: Callable[[str], None] | None = None) -> None:
    for line in source:
        sink.append(line)
        if tee is not None:
            tee.write(line)
            tee.flush()
        if on_line is not None:
            on_line(line.rstrip("\n"))


def _read_results(path: Path) -> tuple[list[dict[str, Any]], dict[str, dict[str, int]]]:
    tasks: list[dict[str, Any]] = []
    stats: dict[str, dict[str, int]] = {}
    if not path.exists():
        return tasks, stats
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        if record.pop("event") == "stats":
            stats = record["stats"]
        else:
            tasks.append(record)
    return tasks, stats


def _stop(process: subprocess.Popen[str]) -> None:
    """End a run early. SIGTERM first: ansible-playbook passes it on to its workers, which run each task
    in a session (process group) of their own, out of reach of a signal to ours. SIGKILL if that fails."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def run_playbook(
    playbook: str | os.PathLike[str] | Sequence[Mapping[str, Any]],
    *,
    env: Mapping[str, str | None] | None = None,
    extra_vars: Mapping[str, Any] | None = None,
    check: bool = False,
    diff: bool = False,
    timeout: float = 300,
    module_defaults: Mapping[str, Any] | None = None,
    stream: bool = False,
    verbosity: int = 0,
    on_start: Callable[[subprocess.Popen[str]], None] | None = None,
    on_line: Callable[[str], None] | None = None,
) -> PlaybookRun:
    """Run ansible-playbook on a playbook file, or on a list of task dicts (one generated localhost play).

    `module_defaults` applies to the generated play only. `stream=True` also copies ansible's output to
    this process's stdout/stderr as it comes. Raises PlaybookTimeout after `timeout` seconds.
    `on_start(process)` is called once ansible-playbook runs, so that a test running this in a thread can
    kill it mid-way (the process leads a process group of its own: `os.killpg(process.pid, SIGKILL)`).
    `on_line(line)` is called with each line of ansible's standard output as it comes, while it runs.
    """
    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=_scaffold().runs))
    playbook_text = None
    if isinstance(playbook, (str, os.PathLike)):
        if module_defaults:
            raise TypeError("module_defaults applies to a generated playbook (a list of tasks), not to a file")
        path = Path(playbook).resolve()
        if not path.is_file():
            raise FileNotFoundError("no playbook at %s" % path)
    else:
        playbook_text = _generated_playbook(playbook, module_defaults)
        path = run_dir / "playbook.yml"
        path.write_text(playbook_text, encoding="utf-8")

    results_file = run_dir / "results.jsonl"
    command = [str(ansible_playbook()), "-i", str(_scaffold().inventory)]
    if extra_vars:
        vars_file = run_dir / "extra_vars.json"
        vars_file.write_text(json.dumps(dict(extra_vars)), encoding="utf-8")
        command += ["-e", "@%s" % vars_file]
    if check:
        command.append("--check")
    if diff:
        command.append("--diff")
    if verbosity:
        command.append("-" + "v" * verbosity)
    command.append(str(path))

    started = time.monotonic()
    process = subprocess.Popen(
        command,
        cwd=run_dir,
        env=playbook_environment(env, results_file),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,  # a process group of its own, for _stop()
    )
    if on_start is not None:
        on_start(process)
    out: list[str] = []
    err: list[str] = []
    readers = [
        threading.Thread(
            target=_pump, args=(process.stdout, out, sys.stdout if stream else None, on_line), daemon=True
        ),
        threading.Thread(target=_pump, args=(process.stderr, err, sys.stderr if stream else None), daemon=True),
    ]
    for reader in readers:
        reader.start()
    timed_out = False
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        if process.poll() is None:
            _stop(process)
        for reader in readers:
            reader.join(timeout=10)

    tasks, stats = _read_results(results_file)
    run = PlaybookRun(
        rc=process.returncode,
        stdout="".join(out),
        stderr="".join(err),
        tasks=tasks,
        stats=stats,
        command=command,
        playbook=str(path),
        playbook_text=playbook_text,
        duration=time.monotonic() - started,
    )
    if timed_out:
        raise PlaybookTimeout(run, timeout)
    return run
