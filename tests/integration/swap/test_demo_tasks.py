"""The swap tasks the demo pastes (demo_tasks.yml) work on the emulator, with the context the demo gives them:
a scratch folder holding the build key and the demo's trust policy, a signed first golden image, an imposter
carrying copied signature tags, and the service seeded as tools/demo.py seeds it."""

from __future__ import annotations

from pathlib import Path

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

TASKS = Path(__file__).with_name("demo_tasks.yml")
POLICY = {
    "keys": [{"name": "build", "public_key": "build.pub"}],
    "threshold": 1,
    "required_claims": {"tests": "passed", "scan": "passed"},
    "max_age_days": 90,
}


def workspace(path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    (path / "build.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    (path / "build.pub").write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    (path / "trust.yml").write_text(yaml.safe_dump(POLICY), encoding="utf-8")


def test_demo_swap_tasks(aws, playbook, service, fleet, tmp_path):
    workspace(tmp_path)
    builder = aws.seed.builder_instance_id
    context = [
        {
            "name": "bake",
            "phoenix.immutable.image": {"name": "web-golden-1", "instance_id": builder},
            "register": "baked",
        },
        {
            "name": "sign",
            "phoenix.immutable.image_sign": {
                "image_id": "{{ baked.image.id }}",
                "key": str(tmp_path / "build.pem"),
                "claims": {"tests": "passed", "scan": "passed"},
            },
        },
        {"name": "keep", "ansible.builtin.set_fact": {"demo_golden": {"id": "{{ baked.image.id }}"}}},
        {
            "name": "imposter",
            "phoenix.immutable.image": {"name": "imposter", "instance_id": builder},
            "register": "demo_imposter",
        },
    ]
    run = playbook(
        [*context, *yaml.safe_load(TASKS.read_text(encoding="utf-8"))],
        extra_vars={
            "demo_builder_instance_id": builder,
            "demo_listener_arn": service.listener_arn,
            "demo_launch_template": service.launch_template_name,
            "demo_policy": str(tmp_path / "trust.yml"),
            "demo_workspace": {"path": str(tmp_path)},
        },
    )
    assert run.rc == 0, run.explain()
    golden = run.task("bake")["result"]["image"]["id"]
    refused = run.task("Try to swap to the imposter (refused by the trust policy before anything is created)")
    assert refused["result"]["error"]["code"] == "UntrustedImage"
    state = fleet()
    [(name, weight)] = state.serving().items()
    assert weight == 100 and set(state.groups) == {name} and state.groups[name]["images"] == {golden}
