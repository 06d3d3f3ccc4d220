"""The collection's metadata agrees with its content.

- meta/runtime.yml action groups list exactly the modules of each cloud, where a module's clouds are
  the choices of its `cloud` option (from its DOCUMENTATION or the collection doc fragments it extends);
- every module documents itself (DOCUMENTATION, EXAMPLES, RETURN);
- every role default is documented in the role's meta/argument_specs.yml;
- galaxy.yml has no dependencies; changelog fragments use known sections; requirements agree.

Pure Python: modules are read with `ast`, never imported.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
COLLECTION = "phoenix.immutable"
CLOUDS = ("aws", "gcp", "azure")
DOC_VARIABLES = ("DOCUMENTATION", "EXAMPLES", "RETURN")


def module_files(root: Path = ROOT) -> list[Path]:
    return sorted(path for path in (root / "plugins" / "modules").glob("*.py") if path.name != "__init__.py")


def string_constants(path: Path, owner: str | None = None) -> dict[str, str]:
    """Module-level (or class `owner`-level) assignments of string literals, by name."""
    tree = ast.parse(path.read_text(), filename=str(path))
    body = tree.body
    if owner is not None:
        [cls] = [node for node in body if isinstance(node, ast.ClassDef) and node.name == owner]
        body = cls.body
    found = {}
    for node in body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found[target.id] = node.value.value
    return found


def fragment_options(name: str, root: Path = ROOT) -> dict:
    """Options of a doc fragment of this collection: `phoenix.immutable.NAME[.VARIABLE]`."""
    parts = name[len(COLLECTION) + 1 :].split(".")
    path = root / "plugins" / "doc_fragments" / f"{parts[0]}.py"
    variable = parts[1].upper() if len(parts) > 1 else "DOCUMENTATION"
    doc = yaml.safe_load(string_constants(path, owner="ModuleDocFragment")[variable]) or {}
    return doc.get("options") or {}


def module_doc(path: Path) -> dict:
    return yaml.safe_load(string_constants(path)["DOCUMENTATION"])


def module_options(path: Path) -> dict:
    """The module's options with those of the collection's doc fragments it extends (its own win)."""
    doc = module_doc(path)
    options = {}
    fragments = doc.get("extends_documentation_fragment") or []
    for fragment in [fragments] if isinstance(fragments, str) else fragments:
        if fragment.startswith(COLLECTION + "."):
            options.update(fragment_options(fragment, path.parents[2]))
    options.update(doc.get("options") or {})
    return options


def clouds_of(path: Path) -> set[str]:
    cloud = module_options(path).get("cloud")
    return set(cloud.get("choices") or []) if cloud else set()


def runtime_groups(root: Path = ROOT) -> dict[str, dict]:
    """Each action group as {'actions': set of short module names, 'extends': set of group names}."""
    runtime = yaml.safe_load((root / "meta" / "runtime.yml").read_text())
    groups = {}
    for group, entries in (runtime.get("action_groups") or {}).items():
        actions, extends = set(), set()
        for entry in entries or []:
            if isinstance(entry, dict):
                extends.update(entry["metadata"].get("extend_group") or [])
            else:
                actions.add(entry.removeprefix(COLLECTION + "."))
        groups[group] = {"actions": actions, "extends": {name.removeprefix(COLLECTION + ".") for name in extends}}
    return groups


def expand(groups: dict[str, dict], name: str) -> set[str]:
    group = groups[name]
    return group["actions"].union(*(expand(groups, other) for other in group["extends"]))


MODULES = module_files()


def test_module_discovery_finds_the_modules_and_their_clouds():
    names = {path.stem for path in MODULES}
    assert {"image", "image_info"} <= names
    assert all(clouds_of(path) for path in MODULES if path.stem in ("image", "image_info"))


@pytest.mark.parametrize("cloud", CLOUDS)
def test_each_cloud_group_lists_exactly_the_modules_of_that_cloud(cloud):
    groups = runtime_groups()
    expected = {path.stem for path in MODULES if cloud in clouds_of(path)}
    assert groups[cloud]["actions"] == expected, f"meta/runtime.yml action_groups.{cloud}"
    assert not groups[cloud]["extends"]


def test_the_groups_are_the_clouds_and_all_and_all_covers_every_module():
    groups = runtime_groups()
    assert set(groups) == {*CLOUDS, "all"}
    assert expand(groups, "all") == {path.stem for path in MODULES}


def test_every_cloud_a_module_offers_has_a_group():
    offered = set().union(*(clouds_of(path) for path in MODULES))
    assert offered <= set(CLOUDS)


@pytest.mark.parametrize("path", MODULES, ids=lambda path: path.stem)
def test_module_documents_itself(path):
    constants = string_constants(path)
    for variable in DOC_VARIABLES:
        assert constants.get(variable, "").strip(), f"{path.name} lacks {variable}"
        yaml.safe_load(constants[variable])
    doc = module_doc(path)
    assert doc["module"] == path.stem
    assert doc.get("short_description") and doc.get("version_added")


def test_clouds_come_from_the_fragment_unless_the_module_overrides_them(tmp_path):
    (tmp_path / "plugins" / "doc_fragments").mkdir(parents=True)
    (tmp_path / "plugins" / "modules").mkdir()
    (tmp_path / "plugins" / "doc_fragments" / "cloud.py").write_text(
        'class ModuleDocFragment:\n    DOCUMENTATION = r"""\noptions:\n  cloud:\n    choices: [aws, gcp]\n"""\n'
    )
    doc = "module: {name}\nextends_documentation_fragment: [phoenix.immutable.cloud, ansible.builtin.action_common]\n"
    inherit = tmp_path / "plugins" / "modules" / "inherit.py"
    inherit.write_text(f'DOCUMENTATION = r"""\n{doc.format(name="inherit")}"""\n')
    override = tmp_path / "plugins" / "modules" / "override.py"
    override.write_text(
        f'DOCUMENTATION = r"""\n{doc.format(name="override")}options:\n  cloud:\n    choices: [azure]\n"""\n'
    )
    assert clouds_of(inherit) == {"aws", "gcp"}
    assert clouds_of(override) == {"azure"}


# Roles: every default is documented in meta/argument_specs.yml.


def role_dirs(root: Path = ROOT) -> list[Path]:
    roles = root / "roles"
    return sorted(path for path in roles.iterdir() if path.is_dir()) if roles.is_dir() else []


def undocumented_defaults(role: Path) -> set[str]:
    """Keys of defaults/main.yml that no entry point of meta/argument_specs.yml documents."""
    defaults_file = role / "defaults" / "main.yml"
    defaults = yaml.safe_load(defaults_file.read_text()) if defaults_file.exists() else None
    if not defaults:
        return set()
    spec_file = role / "meta" / "argument_specs.yml"
    specs = (yaml.safe_load(spec_file.read_text()) or {}).get("argument_specs", {}) if spec_file.exists() else {}
    documented = set().union(*((entry or {}).get("options", {}).keys() for entry in specs.values()))
    return set(defaults) - documented


def test_undocumented_defaults_are_found(tmp_path):
    good, bad = tmp_path / "roles" / "bake", tmp_path / "roles" / "deploy"
    for role, spec in ((good, {"bake_region": {}, "bake_wait": {}}), (bad, {"deploy_region": {}})):
        (role / "defaults").mkdir(parents=True)
        (role / "meta").mkdir()
        prefix = role.name
        defaults = {f"{prefix}_region": "us-east-1", f"{prefix}_wait": True}
        (role / "defaults" / "main.yml").write_text(yaml.safe_dump(defaults))
        (role / "meta" / "argument_specs.yml").write_text(
            yaml.safe_dump({"argument_specs": {"main": {"options": spec}}})
        )
    no_spec = tmp_path / "roles" / "audit"
    (no_spec / "defaults").mkdir(parents=True)
    (no_spec / "defaults" / "main.yml").write_text("audit_trail: /var/log/phoenix\n")

    assert role_dirs(tmp_path) == [no_spec, good, bad]
    assert [undocumented_defaults(role) for role in role_dirs(tmp_path)] == [{"audit_trail"}, set(), {"deploy_wait"}]


def test_role_defaults_are_in_their_argument_specs():
    # One check over every role (none yet is fine), naming each role with undocumented defaults.
    missing = {role.name: sorted(keys) for role in role_dirs() if (keys := undocumented_defaults(role))}
    assert missing == {}, "defaults missing from meta/argument_specs.yml"


# galaxy.yml, changelog fragments, requirements.


def test_galaxy_metadata():
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text())
    assert (galaxy["namespace"], galaxy["name"]) == tuple(COLLECTION.split("."))
    assert galaxy["dependencies"] == {}
    assert galaxy["license"] == ["GPL-3.0-or-later"]
    assert (ROOT / galaxy["readme"]).is_file()


def changelog_sections() -> set[str]:
    config = yaml.safe_load((ROOT / "changelogs" / "config.yaml").read_text())
    return {name for name, _title in config["sections"]} | {
        config["prelude_section_name"],
        config["trivial_section_name"],
    }


def fragment_problems(fragment: Path) -> list[str]:
    try:
        content = yaml.safe_load(fragment.read_text())
    except yaml.YAMLError as error:
        return [f"not YAML: {error}"]
    if not isinstance(content, dict) or not content:
        return ["not a mapping of sections to entries"]
    problems = [f"unknown section {section!r}" for section in sorted(set(content) - changelog_sections())]
    for section, entries in content.items():
        if section == "release_summary":
            if not (isinstance(entries, str) and entries.strip()):
                problems.append("release_summary is not a non-empty string")
        elif not (isinstance(entries, list) and entries and all(isinstance(e, str) and e.strip() for e in entries)):
            problems.append(f"{section} is not a non-empty list of strings")
    return problems


def test_changelog_config_names_the_usual_sections():
    assert {"release_summary", "minor_changes", "bugfixes", "trivial"} <= changelog_sections()


def test_fragment_problems_are_found(tmp_path):
    cases = {
        "good.yml": "minor_changes:\n  - image - a change.\n",
        "unknown.yml": "new_stuff:\n  - x\n",
        "scalar.yml": "bugfixes: fixed it\n",
        "broken.yml": "bugfixes: [\n",
    }
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
    problems = {name: fragment_problems(tmp_path / name) for name in cases}
    assert problems["good.yml"] == []
    assert problems["unknown.yml"] == ["unknown section 'new_stuff'"]
    assert problems["scalar.yml"] == ["bugfixes is not a non-empty list of strings"]
    assert problems["broken.yml"][0].startswith("not YAML")


def test_changelog_fragments_are_valid():
    # Every fragment (there are none right after a release), each named with what is wrong.
    fragments = sorted((ROOT / "changelogs" / "fragments").glob("*.y*ml"))
    problems = {path.name: found for path in fragments if (found := fragment_problems(path))}
    assert problems == {}


def requirements(path: Path) -> dict[str, Requirement]:
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            requirement = Requirement(line)
            found[requirement.name.lower()] = requirement
    return found


def test_every_runtime_requirement_is_pinned_for_development_within_its_floor():
    runtime, dev = requirements(ROOT / "requirements.txt"), requirements(ROOT / "requirements-dev.txt")
    assert runtime
    for name, requirement in runtime.items():
        assert name in dev, f"{name} from requirements.txt is not pinned in requirements-dev.txt"
        [pin] = dev[name].specifier
        assert pin.operator == "==", f"{name} is not pinned exactly in requirements-dev.txt"
        assert requirement.specifier.contains(pin.version), f"{name}=={pin.version} is below requirements.txt"
    assert all(len(spec.specifier) == 1 and next(iter(spec.specifier)).operator == "==" for spec in dev.values())


def test_execution_environment_files_exist():
    ee = yaml.safe_load((ROOT / "meta" / "execution-environment.yml").read_text())
    assert ee["version"] == 1
    for key in ("python", "system"):
        assert (ROOT / ee["dependencies"][key]).is_file()
