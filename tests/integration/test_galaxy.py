"""Galaxy readiness: the built tarball passes galaxy-importer, and antsibull-docs lints every plugin's docs.

galaxy-importer is Galaxy's own import pipeline. It runs here offline and without containers, with the
configuration written by `importer_config`:
- checked: the tarball's MANIFEST.json/FILES.json and galaxy.yml metadata (names, version, licence,
  tags, dependencies), the README (rendered to HTML), the changelog's presence, meta/runtime.yml
  (requires_ansible), discovery of every plugin, module, role and playbook, the documentation of
  each through ansible-doc (the docs blob Galaxy shows), role READMEs and metadata, and ansible-lint
  (production profile, --offline, with Galaxy's own skip list);
- skipped: ansible-test sanity in a container (`make sanity` runs it), flake8 (a legacy check Galaxy
  keeps off by default) and anything that reaches the network.

antsibull-docs lint-collection-docs --plugin-docs validates every module's and plugin's documentation
against the docsite schema and checks the references between them (M(), O(), RV(), P()).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml
from harness.playbook import SCRUBBED_PREFIXES
from stage_collection import collection_files

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
GALAXY = yaml.safe_load((ROOT / "galaxy.yml").read_text())
# Content types whose documentation Galaxy renders (doc fragments and module_utils have none).
DOCUMENTED = {"module", "callback", "lookup", "filter", "test", "inventory", "connection", "become", "cache", "vars"}
# ansible-lint violations as galaxy-importer logs them (--format=pep8): "WARNING: path:line:col: rule..."
LINT_VIOLATION = re.compile(r"^WARNING: \S+:\d+(:\d+)?: ")
# ansible-lint cannot resolve `import_playbook: phoenix.immutable.NAME` against the collections path
# galaxy-importer gives it (one ending in ansible_collections/), although ansible-core can: tolerated
# only for playbooks that exist in the tarball.
UNRESOLVED_PLAYBOOK = re.compile(r"^WARNING: ERROR\s+Failed to find phoenix\.immutable\.(\w+) playbook\.$")


def clean_environment(tmp: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(SCRUBBED_PREFIXES)}
    config = tmp / "ansible.cfg"
    config.write_text("")
    env.update(
        PATH="%s%s%s" % (BIN, os.pathsep, env.get("PATH", "")),
        ANSIBLE_CONFIG=str(config),
        ANSIBLE_HOME=str(tmp / "ansible-home"),
        ANSIBLE_LOCAL_TEMP=str(tmp / "ansible-tmp"),
        ANSIBLE_NOCOLOR="1",
        XDG_CACHE_HOME=str(tmp / "cache"),
        **extra,
    )
    return env


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    """A copy of the collection's files at <tmp>/ansible_collections/phoenix/immutable, and its tarball."""
    work = tmp_path_factory.mktemp("galaxy")
    source = work / "ansible_collections" / GALAXY["namespace"] / GALAXY["name"]
    for name in collection_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_bytes((ROOT / name).read_bytes())
    dist = work / "dist"
    built = subprocess.run(
        [str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(dist), str(source)],
        env=clean_environment(work),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    [tarball] = dist.glob("*.tar.gz")
    return work, source, tarball


def importer_config(work: Path) -> Path:
    config = work / "galaxy-importer.cfg"
    (work / "importer-tmp").mkdir(exist_ok=True)
    config.write_text(
        "\n".join(
            [
                "[galaxy-importer]",
                "LOG_LEVEL_MAIN = INFO",
                "RUN_ANSIBLE_TEST = False",
                "RUN_ANSIBLE_DOC = True",
                "RUN_ANSIBLE_LINT = True",
                "OFFLINE_ANSIBLE_LINT = True",
                "RUN_FLAKE8 = False",
                "CHECK_CHANGELOG = True",
                "CHECK_REQUIRED_TAGS = False",
                "LOCAL_IMAGE_DOCKER = False",
                "ANSIBLE_TEST_LOCAL_IMAGE = False",
                "ANSIBLE_LOCAL_TMP = %s" % (work / "ansible-tmp"),
                "TMP_ROOT_DIR = %s" % (work / "importer-tmp"),
                "",
            ]
        )
    )
    return config


def test_galaxy_importer_accepts_the_tarball(collection):
    work, _source, tarball = collection
    completed = subprocess.run(
        [sys.executable, "-m", "galaxy_importer.main", "--print-result", str(tarball)],
        cwd=work,  # it writes importer_result.json into its working directory
        env=clean_environment(work, GALAXY_IMPORTER_CONFIG=str(importer_config(work))),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    assert "Importer processing completed successfully" in output, output

    log, _brace, rest = completed.stdout.partition("\n{")
    result = json.loads("{" + rest)
    with tarfile.open(tarball) as archive:
        playbooks = {Path(name).stem for name in archive.getnames() if re.fullmatch(r"playbooks/[^/]+\.ya?ml", name)}
    problems = []
    for line in (log + "\n" + completed.stderr).splitlines():
        unresolved = UNRESOLVED_PLAYBOOK.match(line)
        if unresolved and unresolved.group(1) in playbooks:
            continue
        if line.startswith("ERROR") or LINT_VIOLATION.match(line) or unresolved:
            problems.append(line)
    assert problems == [], "galaxy-importer reported:\n" + "\n".join(problems)

    metadata = result["metadata"]
    assert (metadata["namespace"], metadata["name"], metadata["version"]) == (
        GALAXY["namespace"],
        GALAXY["name"],
        GALAXY["version"],
    )
    assert result["requires_ansible"]
    assert result["docs_blob"]["collection_readme"]["html"]
    undocumented = [
        "%s %s" % (content["content_type"], content["content_name"])
        for content in result["docs_blob"]["contents"]
        if content["content_type"] in DOCUMENTED and not content["doc_strings"]
    ]
    assert undocumented == [], "ansible-doc gave Galaxy no documentation for these (see the log):\n" + log[-4000:]
    found = {(content["content_type"], content["name"]) for content in result["contents"]}
    assert ("callback", "audit_log") in found and ("module", "audit_verify") in found


def test_antsibull_docs_lint_passes(collection):
    work, source, _tarball = collection
    completed = subprocess.run(
        [
            str(BIN / "antsibull-docs"),
            "lint-collection-docs",
            "--plugin-docs",
            "--validate-collection-refs",
            "all",
            "--disallow-unknown-collection-refs",
            str(source),
        ],
        cwd=source,
        env=clean_environment(work, ANSIBLE_COLLECTIONS_PATH=str(work)),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
