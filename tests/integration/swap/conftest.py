"""Fixtures of the blue/green swap tests: a service seeded in moto, golden images, a probe server, readers.

- `service` (defined in tests/conftest.py, the contract tests use it too): an ALB + listener + target group +
  base launch template + blue group of 2 instances (`emulators.fleet.seed_service`), serving the seed's base image.
- `golden`: two more images made from the seed's builder, `golden.first` and `golden.second`.
- `probe`: an HTTP server on 127.0.0.1 whose answers the test controls (`probe.answer = callable`).
- `swap_task(...)`: a blue_green task for the seeded service with fast test settings.
- `trust`: the path of a trust policy trusting an Ed25519 key that signed `golden.second` (not `golden.first`).
- `fleet(...)`: the service's state read back through boto3 (groups, target groups, template versions, weights).
"""

from __future__ import annotations

import dataclasses
import http.server
import threading
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from emulators.fleet import read_fleet

MODULE = "phoenix.immutable.blue_green"


@dataclasses.dataclass(frozen=True)
class Golden:
    first: str
    second: str


@pytest.fixture
def golden(aws) -> Golden:
    ec2 = aws.client("ec2")
    made = [
        ec2.create_image(InstanceId=aws.seed.builder_instance_id, Name="web-golden-%d" % number)["ImageId"]
        for number in (1, 2)
    ]
    return Golden(*made)


@pytest.fixture
def trust(aws, playbook, tmp_path, golden):
    """An Ed25519 key; golden.second signed with it; a policy trusting it."""
    key = ed25519.Ed25519PrivateKey.generate()
    private = tmp_path / "release.pem"
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    public = tmp_path / "release.pub"
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    run = playbook([{"name": "sign", "phoenix.immutable.image_sign": {"image_id": golden.second, "key": str(private)}}])
    assert run.rc == 0, run.explain()
    policy = tmp_path / "policy.yml"
    policy.write_text(yaml.safe_dump({"keys": [{"name": "release", "public_key": str(public)}]}), encoding="utf-8")
    return str(policy)


class ProbeServer:
    """`answer()` returns the HTTP status each GET gets; `hits` counts them."""

    def __init__(self) -> None:
        self.answer = lambda: 200
        self.hits = 0
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                owner.hits += 1
                status = owner.answer()
                body = b"ok\n" if status < 400 else b"failing\n"
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return None

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return "http://127.0.0.1:%d/health" % self.server.server_port

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def probe():
    server = ProbeServer()
    yield server
    server.close()


@pytest.fixture
def swap_task(service):
    def task(image_id=None, title="swap", register=None, **options):
        args = {
            "service": service.service,
            "listener_arn": service.listener_arn,
            "launch_template": service.launch_template_name,
            "step_seconds": 0,
            "keep_blue_seconds": 0,
            "lease_seconds": 30,
        }
        if image_id:
            args["image_id"] = image_id
        health = options.pop("health", {})
        args["health"] = {"interval": 0.2, **health}
        args.update(options)
        entry = {"name": title, MODULE: args}
        if register:
            entry["register"] = register
        return entry

    return task


@pytest.fixture
def fleet(aws, service):
    return lambda: read_fleet(aws, service)
