"""Local stand-ins for the clouds phoenix.immutable talks to; they listen on 127.0.0.1 only.

- `emulators.aws`: moto's server in a thread, with call counting, fault injection and a seed (a patched
  base image and a builder instance) that every integration test starts from.
- `emulators.gce`: a wire-format Compute Engine v1 emulator with Google's OAuth token endpoint (our own
  server; `gce_api` and `gce_compute` hold its vocabulary and collections), see docs/testing.md.
- `emulators.arm`: an Azure Resource Manager and Entra ID emulator over HTTPS with a generated test CA
  (`arm_identity`, `arm_operations`, `arm_api`, `arm_compute`, `arm_vm`, `tls`), see docs/testing.md.
- `emulators.ledger`: what the GCE and ARM emulators share: calls counted by operation, and planted faults.

`tests/` is on sys.path (tests/conftest.py puts it there), hence the top-level name `emulators`.

Importing this package (cheap: it imports nothing heavy) points moto at a small AMI catalogue,
`aws_amis.json`, through MOTO_AMIS_PATH, which moto reads once, when `moto.ec2` is first imported; so
tests/conftest.py imports it before any test module can import moto. A MOTO_AMIS_PATH already set in
the environment is left alone.
"""

import os
from pathlib import Path

AWS_AMIS_FILE = Path(__file__).with_name("aws_amis.json")

os.environ.setdefault("MOTO_AMIS_PATH", str(AWS_AMIS_FILE))
