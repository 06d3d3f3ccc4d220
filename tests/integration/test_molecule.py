"""The bake role's molecule scenario (extensions/molecule/bake), run as a user runs it, against moto.

converge bakes a golden image, idempotence runs it again and expects no change, verify checks the
signature against a trust policy and that no builder was left behind.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from harness import collections_root, playbook_environment

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_the_bake_scenario_converges_is_idempotent_and_verifies(aws, tmp_path):
    private = ec.generate_private_key(ec.SECP256R1())
    key = tmp_path / "build.pem"
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    public = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    policy = tmp_path / "policy.yml"
    policy.write_text(
        yaml.safe_dump({"keys": [{"name": "build", "public_key": public}], "required_claims": {"tests": "passed"}})
    )
    root = tmp_path / "root"
    (root / "srv").mkdir(parents=True)
    (root / "etc").mkdir()

    env = playbook_environment(
        {
            **aws.env,
            "ANSIBLE_COLLECTIONS_PATH": str(collections_root()),
            "PHOENIX_MOLECULE_BASE_IMAGE": aws.seed.base_image_id,
            "PHOENIX_MOLECULE_ROOT": str(root),
            "PHOENIX_MOLECULE_KEY": str(key),
            "PHOENIX_MOLECULE_POLICY": str(policy),
            "PATH": "%s%s%s" % (Path(sys.executable).parent, os.pathsep, os.environ.get("PATH", "")),
            "MOLECULE_NO_LOG": "false",
            "HOME": str(tmp_path / "home"),
        },
        tmp_path / "results.jsonl",
    )
    done = subprocess.run(
        [str(Path(sys.executable).with_name("molecule")), "test", "-s", "bake"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    for action in ("converge", "idempotence", "verify"):
        assert "[bake > %s] Executed: Successful" % action in output, output[-6000:]
    images = aws.client("ec2").describe_images(
        Owners=["self"], Filters=[{"Name": "name", "Values": ["molecule-golden"]}]
    )["Images"]
    assert len(images) == 1
