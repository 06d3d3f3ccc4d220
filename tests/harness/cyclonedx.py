"""The CycloneDX 1.5 JSON schema validator the SBOM tests share: the schema the cyclonedx-python-lib wheel
ships, its spdx and jsf neighbours resolved locally (offline). Skips the calling test when the wheel or
jsonschema is missing (both are in requirements-dev.txt)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

SCHEMAS = ("bom-1.5.SNAPSHOT.schema.json", "spdx.SNAPSHOT.schema.json", "jsf-0.82.SNAPSHOT.schema.json")


def cyclonedx_validator():
    """A jsonschema validator of CycloneDX 1.5 whose $refs resolve to the wheel's own schema files."""
    jsonschema = pytest.importorskip("jsonschema")
    referencing = pytest.importorskip("referencing")
    schema_module = pytest.importorskip("cyclonedx.schema._res", reason="cyclonedx-python-lib (requirements-dev)")
    folder = Path(schema_module.__file__).parent
    resources = []
    for name in SCHEMAS:
        document = json.loads((folder / name).read_text(encoding="utf-8"))
        resource = referencing.Resource.from_contents(document, default_specification=referencing.jsonschema.DRAFT7)
        # The bom schema refers to its neighbours by file name, relative to its own $id.
        resources.append(("http://cyclonedx.org/schema/%s" % name, resource))
        resources.append((document["$id"], resource))
    registry = referencing.Registry().with_resources(resources)
    schema = json.loads((folder / SCHEMAS[0]).read_text(encoding="utf-8"))
    return jsonschema.Draft7Validator(schema, registry=registry, format_checker=jsonschema.FormatChecker())


def schema_problems(validator, document):
    """Each schema violation of ``document`` as "path: message", sorted; empty when it validates."""
    return sorted(
        "%s: %s" % ("/".join(map(str, error.absolute_path)), error.message) for error in validator.iter_errors(document)
    )
