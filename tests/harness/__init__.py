"""Run real ansible-playbook from tests and tools, and read task results back as data (see playbook.py)."""

from harness.playbook import (
    NoSuchTask,
    PlaybookRun,
    PlaybookTimeout,
    collections_root,
    playbook_environment,
    run_playbook,
)

__all__ = ["NoSuchTask", "PlaybookRun", "PlaybookTimeout", "collections_root", "playbook_environment", "run_playbook"]
