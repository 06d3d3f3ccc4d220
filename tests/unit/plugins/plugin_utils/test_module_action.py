"""The two ends of a task's progress lines without Ansible around them: the module's Progress writes whole
lines, the controller's FileFollower shows each whole line once, in order, however the writes are cut."""

from __future__ import annotations

import threading

from ansible_collections.phoenix.immutable.plugins.module_utils._core.progress import PROGRESS_FILE_ENV, Progress
from ansible_collections.phoenix.immutable.plugins.plugin_utils.module_action import FileFollower


def test_progress_keeps_each_line_and_appends_it_to_the_file_named_in_the_environment(tmp_path):
    path = tmp_path / "progress.log"
    progress = Progress.from_environment({PROGRESS_FILE_ENV: str(path)})
    progress.report("web: shift 10% → web-b,\n 2/2 healthy")
    progress.report("web: done")
    assert progress.lines == ["web: shift 10% → web-b, 2/2 healthy", "web: done"]
    assert path.read_text(encoding="utf-8") == "web: shift 10% → web-b, 2/2 healthy\nweb: done\n"


def test_without_the_environment_variable_the_lines_are_only_kept():
    progress = Progress.from_environment({})
    progress.report("web: done")
    assert progress.path is None and progress.lines == ["web: done"]


def test_a_file_that_cannot_be_written_never_fails_the_task(tmp_path):
    progress = Progress(str(tmp_path / "missing-directory" / "progress.log"))
    progress.report("first")
    progress.report("second")
    assert progress.lines == ["first", "second"] and progress.path is None


def test_the_follower_shows_whole_lines_once_and_in_order_however_the_writes_are_cut(tmp_path):
    path = tmp_path / "progress.log"
    path.write_bytes(b"")
    shown = []
    arrived = threading.Event()

    def show(line):
        shown.append(line)
        arrived.set()

    follower = FileFollower(str(path), show).start()
    with open(path, "ab", buffering=0) as stream:
        stream.write("web: shift 50% → we".encode())
        stream.write(b"b-b\nweb: re")
        assert arrived.wait(60), "the follower showed no line while the module was still writing"
        stream.write(b"tire web-a\npartial")
    follower.stop()
    # A line cut off by the end of the run (no newline) is not shown: the module writes whole lines.
    assert shown == ["web: shift 50% → web-b", "web: retire web-a"]
    assert follower.shown == 2


def test_the_follower_of_a_file_that_is_gone_shows_nothing(tmp_path):
    shown = []
    follower = FileFollower(str(tmp_path / "never-written.log"), shown.append).start()
    follower.stop()
    assert shown == [] and follower.shown == 0
