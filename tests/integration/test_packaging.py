"""The collection builds into a clean tarball that installs and documents itself.

The build runs on a copy of the collection's files (what git would commit) into which the clutter of a
developer's work tree is planted first: a virtual environment, build output, caches, benchmark results,
ansible-test output and an old tarball. galaxy.yml's build_ignore must keep all of it out.
The tools are the ones next to the running Python; nothing reaches the network.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml
from stage_collection import collection_files

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
GALAXY = yaml.safe_load((ROOT / "galaxy.yml").read_text())
MODULES = sorted(path.stem for path in (ROOT / "plugins" / "modules").glob("*.py") if path.name != "__init__.py")

# Work-tree clutter planted into the copy, none of which may reach the tarball.
CLUTTER = {
    ".venv/bin/python": "",
    ".venv/lib/python3.11/site-packages/boto3/__init__.py": "",
    ".build/ansible_collections/phoenix/immutable/galaxy.yml": "",
    ".build/dist/phoenix-immutable-0.0.1.tar.gz": "",
    ".pytest_cache/v/cache/nodeids": "[]",
    ".ruff_cache/CACHEDIR.TAG": "",
    ".hypothesis/examples/x": "",
    ".ansible/collections/x": "",
    ".git/HEAD": "ref: refs/heads/main\n",
    "plugins/module_utils/__pycache__/argspec.cpython-311.pyc": "",
    "tests/unit/__pycache__/test_x.cpython-311-pytest-9.2.0.pyc": "",
    "benchmarks/results/run-1.json": "{}",
    "tests/output/junit/x.xml": "",
    "phoenix-immutable-0.0.9.tar.gz": "",
}
CLUTTER_PREFIXES = (".venv/", ".build/", ".pytest_cache/", ".ruff_cache/", ".hypothesis/", ".ansible/", ".git/")


def isolated_env(tmp: Path, **extra: str) -> dict[str, str]:
    """The environment without the user's Ansible settings: an empty config and a private home."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
    config = tmp / "ansible.cfg"
    config.write_text("")
    env.update(ANSIBLE_CONFIG=str(config), ANSIBLE_HOME=str(tmp / "ansible-home"), ANSIBLE_NOCOLOR="1", **extra)
    return env


def run(tmp: Path, *command: str, **extra_env: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(BIN / command[0]), *command[1:]],
        cwd=tmp,
        env=isolated_env(tmp, **extra_env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(tarball, member names, work dir) of a build from a cluttered copy of the collection."""
    work = tmp_path_factory.mktemp("packaging")
    source = work / "src"
    for name in collection_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    for name, text in CLUTTER.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(text)
    out = work / "dist"
    run(work, "ansible-galaxy", "collection", "build", "--output-path", str(out), str(source))
    [tarball] = out.glob("*.tar.gz")
    with tarfile.open(tarball) as archive:
        names = archive.getnames()
    return tarball, names, work


def test_the_tarball_is_named_after_the_collection_and_has_its_content(built):
    tarball, names, _work = built
    assert tarball.name == f"{GALAXY['namespace']}-{GALAXY['name']}-{GALAXY['version']}.tar.gz"
    for name in ("MANIFEST.json", "FILES.json", "README.md", "meta/runtime.yml", "requirements.txt"):
        assert name in names
    for module in MODULES:
        assert f"plugins/modules/{module}.py" in names


def test_the_tarball_leaves_out_environments_caches_and_build_output(built):
    _tarball, names, _work = built
    leaked = [
        name
        for name in names
        if name.startswith(CLUTTER_PREFIXES)
        or "__pycache__" in name.split("/")
        or name.endswith((".pyc", ".tar.gz"))
        or name.startswith(("benchmarks/results", "tests/output"))
    ]
    assert leaked == []


def test_the_tarball_installs_into_an_empty_path_and_documents_every_module(built):
    tarball, _names, work = built
    collections = work / "collections"
    run(work, "ansible-galaxy", "collection", "install", str(tarball), "-p", str(collections))
    installed = collections / "ansible_collections" / "phoenix" / "immutable"
    manifest = json.loads((installed / "MANIFEST.json").read_text())
    assert manifest["collection_info"]["version"] == GALAXY["version"]

    env = {"ANSIBLE_COLLECTIONS_PATH": str(collections), "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false"}
    fqcns = [f"phoenix.immutable.{module}" for module in MODULES]
    docs = json.loads(run(work, "ansible-doc", "--json", *fqcns, **env).stdout)
    assert sorted(docs) == fqcns
    for fqcn in fqcns:
        doc = docs[fqcn]["doc"]
        assert doc["collection"] == "phoenix.immutable"
        # Options from the collection's doc fragments are merged in (the modules that only read files talk to no
        # cloud).
        if fqcn.rsplit(".", 1)[1] not in ("audit_verify", "vuln_scan", "image_sbom", "compliance_scan"):
            assert "cloud" in doc["options"]
        assert docs[fqcn]["examples"] and docs[fqcn]["return"]

    text = run(work, "ansible-doc", "phoenix.immutable.image", **env).stdout
    assert "phoenix.immutable.image" in text and "instance_id" in text
