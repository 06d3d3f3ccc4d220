"""antsibull-changelog generates the collection's changelog from its fragments and plugin docs.

The release is made on a staged copy (tools/stage_collection.py), so the fragments stay in the work tree.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml
from stage_collection import stage

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def test_a_release_changelog_lists_every_module_plugin_and_fragment(tmp_path):
    collection = stage(tmp_path)
    version = yaml.safe_load((ROOT / "galaxy.yml").read_text())["version"]
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
    env.update(PATH="%s%s%s" % (BIN, os.pathsep, env.get("PATH", "")), ANSIBLE_HOME=str(tmp_path / "ansible-home"))
    done = subprocess.run(
        [str(BIN / "antsibull-changelog"), "release", "--version", version, "--date", "2026-11-25"],
        cwd=collection,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    changelog = (collection / "CHANGELOG.rst").read_text()
    assert "v%s" % version in changelog and "Release Summary" in changelog
    modules = sorted(path.stem for path in (ROOT / "plugins" / "modules").glob("*.py") if path.stem != "__init__")
    for module in modules:
        assert "- phoenix.immutable.%s - " % module in changelog, module
    assert "- phoenix.immutable.golden_image - " in changelog and "- phoenix.immutable.audit_log - " in changelog
    fragments = list((ROOT / "changelogs" / "fragments").glob("*.yml"))
    assert fragments and not list((collection / "changelogs" / "fragments").glob("*.yml"))  # consumed there only
