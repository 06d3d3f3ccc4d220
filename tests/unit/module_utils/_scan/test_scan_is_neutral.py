"""The scan package is plain, cloud-neutral Python: it imports no cloud SDK, no Ansible and no crypto
library (the trust policy loads it, and signing is the caller's), and each file is private and small."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SCAN = Path(__file__).resolve().parents[4] / "plugins" / "module_utils" / "_scan"
FORBIDDEN = ("boto3", "botocore", "google", "azure", "ansible", "cryptography", "requests")
FILES = sorted(SCAN.glob("*.py"))


def imported(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module or ""


@pytest.mark.parametrize("path", FILES, ids=[path.name for path in FILES])
def test_a_scan_file_imports_only_the_standard_library_and_the_collection(path):
    bad = [name for name in imported(path) if name.split(".")[0] in FORBIDDEN]
    assert not bad, "%s imports %s" % (path.name, ", ".join(bad))
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Private to this collection.\n")
    assert len(text.splitlines()) < 600


def test_the_check_sees_the_files():
    assert {"versions.py", "sbom.py", "osv.py", "gate.py"} <= {path.name for path in FILES}
