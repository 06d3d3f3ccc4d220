"""AWX readiness: the collection's playbooks run by ansible-runner (the engine AWX runs jobs with) from an
AWX-shaped private data directory against the moto server; the signing-key credential types; the
execution environment definition that ansible-builder accepts.

The private data directory is laid out the way AWX hands it to ansible-runner: `project/` (here the
example project of extensions/awx/project), `inventory/hosts`, `env/envvars` with the variables AWX's
built-in AWS credential injects (plus the emulator's endpoint), `env/extravars` with the job's extra
variables and AWX's own (`awx_user_name`, `awx_job_id`, ...).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jinja2
import pytest
import yaml
from emulators.fleet import seed_service
from harness import collections_root
from harness.playbook import SCRUBBED_PREFIXES

ROOT = Path(__file__).resolve().parents[2]
AWX = ROOT / "extensions" / "awx"
BIN = Path(sys.executable).parent
SECOND_REGION = "us-west-2"
JOB_ID = "4711"
# AWX's built-in AWS credential injects these three (the token only when the credential has one).
AWX_AWS_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN")
# Field types and injector kinds AWX accepts in a custom credential type.
AWX_FIELD_TYPES = {"string", "boolean"}
AWX_INJECTOR_KINDS = {"env", "file", "extra_vars"}


def clean_environment(**extra: str) -> dict[str, str]:
    """This process's environment without Ansible or cloud settings, the venv's tools first on PATH."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(SCRUBBED_PREFIXES)}
    env["PATH"] = "%s%s%s" % (BIN, os.pathsep, env.get("PATH", ""))
    env.update(extra)
    return env


def private_data_dir(tmp_path: Path, aws, audit_log: Path) -> Path:
    pdd = tmp_path / "awx_job"
    shutil.copytree(AWX / "project", pdd / "project")
    (pdd / "inventory").mkdir()
    (pdd / "inventory" / "hosts").write_text(
        'localhost ansible_connection=local ansible_python_interpreter="%s"\n' % sys.executable
    )
    emulator = aws.env
    envvars = {
        # What the AWX AWS credential injects.
        "AWS_ACCESS_KEY_ID": emulator["AWS_ACCESS_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": emulator["AWS_SECRET_ACCESS_KEY"],
        "AWS_SECURITY_TOKEN": "awx-session-token",
        # Only for the emulator: where it is, and no real AWS configuration.
        **{
            key: value
            for key, value in emulator.items()
            if key not in AWX_AWS_VARIABLES and key != "AWS_DEFAULT_REGION"
        },
        # What AWX sets for every job: its id, and the collections it installed for the project.
        "JOB_ID": JOB_ID,
        "ANSIBLE_COLLECTIONS_PATH": str(collections_root()),
        "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
        "ANSIBLE_NOCOLOR": "1",
        # The audit log: the project's ansible.cfg enables the callback; this puts the log in this test.
        "PHOENIX_AUDIT_LOG": str(audit_log),
    }
    service = seed_service(aws.emu.client, aws.seed.base_image_id, aws.seed.subnet_ids, aws.seed.vpc_id)
    extravars = {
        "demo_listener_arn": service.listener_arn,
        "demo_launch_template": service.launch_template_name,
        "demo_region": aws.seed.region,
        "demo_second_region": SECOND_REGION,
        "demo_builder_instance_id": aws.seed.builder_instance_id,
        "demo_base_image_id": aws.seed.base_image_id,
        "demo_base_image_name": aws.seed.base_image_name,
        "awx_job_id": int(JOB_ID),
        "awx_user_name": "alice",
        "awx_job_template_name": "Golden images",
        "tower_job_id": int(JOB_ID),
        "tower_user_name": "alice",
    }
    (pdd / "env").mkdir()
    (pdd / "env" / "envvars").write_text(yaml.safe_dump(envvars))
    (pdd / "env" / "extravars").write_text(yaml.safe_dump(extravars))
    (pdd / "env" / "settings").write_text(yaml.safe_dump({"job_timeout": 600, "suppress_ansible_output": False}))
    return pdd


def job_events(pdd: Path, ident: str) -> list[dict]:
    events = [json.loads(path.read_text()) for path in (pdd / "artifacts" / ident / "job_events").glob("*.json")]
    return sorted(events, key=lambda event: event["counter"])


def ok_results(events: list[dict], task: str) -> list[dict]:
    return [
        event["event_data"]["res"]
        for event in events
        if event["event"] == "runner_on_ok" and event["event_data"].get("task") == task
    ]


def test_ansible_runner_runs_the_collection_playbooks_with_awx_credentials(aws, tmp_path):
    audit_log = tmp_path / "audit" / "audit.jsonl"
    pdd = private_data_dir(tmp_path, aws, audit_log)
    ident = "job-%s" % JOB_ID
    completed = subprocess.run(
        [str(BIN / "ansible-runner"), "run", str(pdd), "-p", "golden_images.yml", "--ident", ident],
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    artifacts = pdd / "artifacts" / ident
    detail = "%s\n%s\n%s" % (completed.stdout[-6000:], completed.stderr[-3000:], artifacts)
    assert completed.returncode == 0, detail
    assert (artifacts / "status").read_text() == "successful", detail
    assert (artifacts / "rc").read_text() == "0"

    # The cloud: the golden image and its copy exist, made with the credentials AWX injected.
    name = "web-golden-1"
    ec2 = aws.client("ec2")
    [image] = ec2.describe_images(Owners=["self"], Filters=[{"Name": "name", "Values": [name]}])["Images"]
    [copy] = aws.client("ec2", SECOND_REGION).describe_images(Owners=["self"])["Images"]
    assert copy["Name"] == name
    # The golden image, the imposter the demo makes to show that copied signatures are refused, the next release.
    assert aws.calls.get("ec2:CreateImage") == 3

    # The job events AWX would store: the bake's result, and the audit verification at the end.
    events = job_events(pdd, ident)
    bake = ok_results(
        events,
        "Stop the builder, image it, copy the image to the other regions, and attest and sign each image as it arrives",
    )[0]
    assert bake["changed"] is True and bake["image"]["id"] == image["ImageId"]
    [verified] = ok_results(events, "Verify the hash chain of the audit log")
    assert verified["valid"] is True and verified["count"] >= 2

    # The audit trail names the AWX user and job, and holds no credential.
    records = [json.loads(line) for line in audit_log.read_text().splitlines()]
    assert verified["count"] == len(records) and verified["head"] == records[-1]["hash"]
    assert {record["actor"]["user"] for record in records} == {"alice"}
    assert {record["actor"]["job_id"] for record in records} == {JOB_ID}
    assert records[0]["actor"]["job_template"] == "Golden images"
    assert image["ImageId"] in {resource["id"] for record in records for resource in record["resources"]}
    text = audit_log.read_text()
    assert aws.env["AWS_SECRET_ACCESS_KEY"] not in text and "awx-session-token" not in text


# ----- custom credential types for signing keys


def credential_type(name: str) -> dict:
    return yaml.safe_load((AWX / "credential_types" / name).read_text())


def render_injectors(definition: dict, inputs: dict, workdir: Path) -> tuple[dict, dict]:
    """Render a credential type's injectors the way AWX does: files first, then env with their paths."""
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined)
    context = {field["id"]: inputs.get(field["id"], "") for field in definition["inputs"]["fields"]}
    injectors = definition.get("injectors") or {}
    filenames = {}
    for key, template in (injectors.get("file") or {}).items():
        name = key.split(".", 1)[1] if "." in key else "template"
        path = workdir / ("awx-credential-%s" % name)
        path.write_text(environment.from_string(template).render(**context))
        path.chmod(0o600)
        filenames[name] = str(path)
    tower = {"filename": filenames if len(filenames) != 1 or "template" not in filenames else filenames["template"]}
    env = {
        key: environment.from_string(value).render(tower=tower, **context) for key, value in injectors["env"].items()
    }
    return env, filenames


@pytest.mark.parametrize("name", ["phoenix_signing_key_pem.yml", "phoenix_signing_key_kms.yml"])
def test_credential_types_are_well_formed_for_awx(name):
    definition = credential_type(name)
    assert definition["kind"] == "cloud" and definition["name"].startswith("Phoenix signing key")
    fields = {field["id"]: field for field in definition["inputs"]["fields"]}
    assert all(field["type"] in AWX_FIELD_TYPES and field.get("label") for field in fields.values())
    assert set(definition["inputs"].get("required", [])) <= set(fields)
    assert set(definition["injectors"]) <= AWX_INJECTOR_KINDS
    for env_name in definition["injectors"]["env"]:
        assert env_name.startswith("PHOENIX_")
    for field in fields.values():
        if "passphrase" in field["id"] or field["id"] == "signing_key":
            assert field.get("secret") is True, field["id"]


def test_the_pem_credential_injects_a_private_key_file_and_its_passphrase(tmp_path):
    pem = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n"
    env, files = render_injectors(
        credential_type("phoenix_signing_key_pem.yml"),
        {"signing_key": pem, "signing_key_passphrase": "s3cret"},
        tmp_path,
    )
    assert set(env) == {"PHOENIX_SIGNING_KEY", "PHOENIX_SIGNING_KEY_PASSPHRASE"}
    assert env["PHOENIX_SIGNING_KEY"] == files["signing_key"]
    assert Path(env["PHOENIX_SIGNING_KEY"]).read_text() == pem
    assert env["PHOENIX_SIGNING_KEY_PASSPHRASE"] == "s3cret"


def test_the_kms_credential_injects_the_key_id_only():
    env, files = render_injectors(
        credential_type("phoenix_signing_key_kms.yml"), {"kms_key": "alias/golden"}, Path(".")
    )
    assert env == {"PHOENIX_KMS_KEY": "alias/golden"} and files == {}


# ----- execution environment


def test_ansible_builder_accepts_the_execution_environment(tmp_path):
    context = tmp_path / "context"
    completed = subprocess.run(
        [
            str(BIN / "ansible-builder"),
            "create",
            "--file",
            str(AWX / "execution-environment.yml"),
            "--context",
            str(context),
            "--output-filename",
            "Containerfile",
        ],
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    containerfile = (context / "Containerfile").read_text()
    assert "ansible-galaxy" in containerfile and "python3.11" in containerfile
    requirements = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    assert {collection["name"] for collection in requirements["collections"]} == {"phoenix.immutable"}


def test_ansible_builder_finds_the_collection_dependencies_through_meta(tmp_path):
    completed = subprocess.run(
        [str(BIN / "ansible-builder"), "introspect", str(collections_root())],
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    found = yaml.safe_load(completed.stdout.split("---", 1)[1])
    wanted = [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    wanted = [line for line in wanted if line and not line.startswith("#")]
    assert [entry.split("  #")[0] for entry in found["python"]] == wanted
    # The three clouds' SDKs, in the one execution environment.
    names = {entry.split(">")[0].split("=")[0].split("<")[0].strip() for entry in wanted}
    assert {"boto3", "google-auth", "azure-identity", "azure-mgmt-compute", "azure-mgmt-network"} <= names, names
