"""`make demo` runs tools/demo.py; this test runs the same script, so a broken demo fails `make test`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_runs_to_its_summary_and_succeeds():
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "tools" / "demo.py")],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "The demo playbook succeeded." in done.stdout
    assert "API calls made by the playbook" in done.stdout
    assert "chain intact" in done.stdout
