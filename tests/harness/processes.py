"""Running a playbook in a thread and killing it as a crash would: what the kill-and-resume tests share.

- `in_thread(function, timeout)`: start `function` in a daemon thread; the returned `join()` gives its value
  (or raises its error) and fails when it has not ended within `timeout` seconds.
- `descendants(pid)`: every process `pid` started, transitively, read from /proc.
- `kill_tree(pid)`: SIGKILL a process and everything it started, each by its id. Ansible's workers call
  setsid(), so killing the process group alone would leave the module running.
- `ansible_runs_of_this_process()` and `kill_ansible_runs()`: the ansible-playbook runs this test process
  started (through the harness), and killing each of them that way.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any


def in_thread(function: Callable[[], Any], timeout: float) -> Callable[[], Any]:
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = function()
        except BaseException as error:  # noqa: BLE001 - handed to the test thread
            box["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()

    def join() -> Any:
        thread.join(timeout)
        assert not thread.is_alive(), "the playbook run did not end"
        if "error" in box:
            raise box["error"]
        return box["value"]

    return join


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def kill_tree(pid: int) -> None:
    for victim in [pid, *descendants(pid)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim, signal.SIGKILL)


def ansible_runs_of_this_process() -> list[int]:
    found = []
    for pid in descendants(os.getpid()):
        try:
            command = Path("/proc/%d/cmdline" % pid).read_bytes().split(b"\0")
        except OSError:
            continue
        if any(part.endswith(b"ansible-playbook") for part in command[:2]):
            found.append(pid)
    return found


def kill_ansible_runs() -> None:
    runs = ansible_runs_of_this_process()
    assert runs, "no ansible-playbook to kill"
    for run in runs:
        kill_tree(run)
