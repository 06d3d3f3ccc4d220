"""The audit trail through real ansible-playbook runs: the audit_log callback and the audit_verify module.

The callback is enabled the way a user enables it (ANSIBLE_CALLBACKS_ENABLED, next to the harness's own
result callback) with its destination in PHOENIX_AUDIT_LOG; the changes it records are real image
module runs against the moto server, checked against the images read back through boto3.
"""

from __future__ import annotations

import getpass
import json
import os
import subprocess
import sys

import pytest
from harness import collections_root

HARNESS_CALLBACK = "phoenix_results"
AUDIT_CALLBACK = "phoenix.immutable.audit_log"
AUDIT_MODULE = "phoenix.immutable.audit_verify"
# Values that must never reach the audit log.
SECRET_OPTION = "Option-Secret-6f1d3a9b"
NO_LOG_TAG = "no-log-value-2c7e"


def audit_env(path, **extra):
    return {
        "ANSIBLE_CALLBACKS_ENABLED": "%s,%s" % (HARNESS_CALLBACK, AUDIT_CALLBACK),
        "PHOENIX_AUDIT_LOG": str(path),
        **extra,
    }


def records(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def bake(aws, title, name, **options):
    return {
        "name": title,
        "phoenix.immutable.image": {"name": name, "instance_id": aws.seed.builder_instance_id, **options},
        "register": title.replace(" ", "_"),
    }


@pytest.fixture
def log(tmp_path):
    return tmp_path / "audit" / "audit.jsonl"


def test_each_change_of_the_collection_is_one_chained_line(aws, playbook, log):
    run = playbook(
        [
            bake(aws, "bake", "web-1", copy_to_regions=["us-west-2"], tags={"service": "web"}),
            bake(aws, "bake again", "web-1", copy_to_regions=["us-west-2"], tags={"service": "web"}),
            {"name": "look", "phoenix.immutable.image_info": {"name": "web-*"}},
            {"name": "other module", "ansible.builtin.command": "true", "changed_when": True},
            {"name": "retag", "phoenix.immutable.image": {"name": "web-1", "tags": {"channel": "prod"}}},
        ],
        env=audit_env(log),
    )
    assert run.rc == 0, run.explain()
    [image] = aws.client("ec2").describe_images(Owners=["self"], Filters=[{"Name": "name", "Values": ["web-1"]}])[
        "Images"
    ]
    [copy] = aws.client("ec2", "us-west-2").describe_images(Owners=["self"])["Images"]

    bake_record, retag_record = records(log)
    assert [bake_record["task"], retag_record["task"]] == ["bake", "retag"]
    assert bake_record["module"] == "phoenix.immutable.image" and bake_record["status"] == "changed"
    assert bake_record["host"] == "localhost" and bake_record["play"] == "harness"
    assert bake_record["playbook"].endswith("playbook.yml")
    assert bake_record["actor"]["source"] == "local" and bake_record["actor"]["user"] == getpass.getuser()
    assert bake_record["actions"] == ["create_image", "copy_image"]
    assert {
        "kind": "image",
        "id": image["ImageId"],
        "name": "web-1",
        "region": "us-east-1",
        "cloud": "aws",
        "state": "available",
    } in (bake_record["resources"])
    assert copy["ImageId"] in {resource["id"] for resource in bake_record["resources"]}
    assert bake_record["time"].endswith("Z") and bake_record["run"] == retag_record["run"]
    assert (bake_record["seq"], retag_record["seq"]) == (1, 2)
    assert retag_record["prev"] == bake_record["hash"]
    assert retag_record["resources"][0]["id"] == image["ImageId"]


def test_a_failed_task_of_the_collection_is_recorded_with_its_error(aws, playbook, log):
    run = playbook(
        [
            {
                "name": "delete the base",
                "phoenix.immutable.image": {"state": "absent", "image_id": aws.seed.base_image_id},
                "ignore_errors": True,
            }
        ],
        env=audit_env(log),
    )
    assert run.rc == 0, run.explain()
    assert aws.client("ec2").describe_images(ImageIds=[aws.seed.base_image_id])["Images"]
    [failed] = records(log)
    assert failed["status"] == "failed" and failed["error_code"] == "ImageInUse"
    assert aws.seed.base_image_id in failed["msg"]


def test_check_mode_and_unchanged_tasks_leave_no_line(aws, playbook, log):
    run = playbook([bake(aws, "plan", "web-1")], env=audit_env(log), check=True)
    assert run.rc == 0, run.explain()
    assert run.task("plan")["result"]["changed"] is True
    assert not aws.client("ec2").describe_images(Owners=["self"], Filters=[{"Name": "name", "Values": ["web-1"]}])[
        "Images"
    ]
    assert not log.exists()


def test_all_changes_records_changed_tasks_of_any_module(aws, playbook, log):
    run = playbook(
        [{"name": "other module", "ansible.builtin.command": "true", "changed_when": True}],
        env=audit_env(log, PHOENIX_AUDIT_ALL_CHANGES="true"),
    )
    assert run.rc == 0, run.explain()
    [line] = records(log)
    assert line["module"] == "ansible.builtin.command" and line["task"] == "other module"


def test_secrets_and_no_log_values_never_reach_the_log(aws, playbook, log):
    run = playbook(
        [
            # secret_key is an option marked no_log; moto accepts any secret.
            bake(aws, "bake with a secret option", "web-1", secret_key=SECRET_OPTION),
            {**bake(aws, "bake under no_log", "web-2", tags={"note": NO_LOG_TAG}), "no_log": True},
            {
                "name": "builtin under no_log",
                "ansible.builtin.command": "echo %s" % NO_LOG_TAG,
                "changed_when": True,
                "no_log": True,
            },
        ],
        env=audit_env(log, PHOENIX_AUDIT_ALL_CHANGES="true"),
    )
    assert run.rc == 0, run.explain()
    tags = {
        tag["Key"]: tag["Value"]
        for tag in aws.client("ec2").describe_images(Owners=["self"], Filters=[{"Name": "name", "Values": ["web-2"]}])[
            "Images"
        ][0]["Tags"]
    }
    assert tags["note"] == NO_LOG_TAG  # the value really went through the task
    text = log.read_text()
    assert SECRET_OPTION not in text and NO_LOG_TAG not in text
    assert aws.env["AWS_SECRET_ACCESS_KEY"] not in text
    with_secret, hidden, hidden_builtin = records(log)
    assert with_secret["resources"] and "no_log" not in with_secret
    for line in (hidden, hidden_builtin):
        assert line["no_log"] is True and "resources" not in line and "actions" not in line
    assert hidden["module"] == "phoenix.immutable.image" and hidden["task"] == "bake under no_log"


def test_the_actor_is_the_awx_user_and_job_when_run_from_awx(aws, playbook, log):
    run = playbook(
        [bake(aws, "bake", "web-1")],
        env=audit_env(log, JOB_ID="4711"),
        extra_vars={"awx_user_name": "alice", "awx_job_id": 4711, "awx_job_template_name": "Bake web"},
    )
    assert run.rc == 0, run.explain()
    [line] = records(log)
    assert line["actor"]["source"] == "awx"
    assert (line["actor"]["user"], line["actor"]["job_id"], line["actor"]["job_template"]) == (
        "alice",
        "4711",
        "Bake web",
    )


def test_runs_sharing_a_log_extend_one_chain(aws, playbook, log):
    for name in ("web-1", "web-2"):
        assert playbook([bake(aws, "bake", name)], env=audit_env(log)).rc == 0
    first, second = records(log)
    assert second["prev"] == first["hash"] and first["run"] != second["run"]


# ----- audit_verify


def make_log(aws, playbook, log):
    run = playbook(
        [bake(aws, "bake %d" % number, "web-%d" % number) for number in range(1, 5)],
        env=audit_env(log),
    )
    assert run.rc == 0, run.explain()
    return log.read_text().splitlines()


def verify_task(title, path, **options):
    return {
        "name": title,
        AUDIT_MODULE: {"path": str(path), **options},
        "ignore_errors": True,
    }


def edited(lines):
    record = json.loads(lines[1])
    record["host"] = "somewhere-else"
    return [lines[0], json.dumps(record, sort_keys=True, separators=(",", ":")), *lines[2:]]


@pytest.mark.parametrize(
    "tamper, line, problem",
    [
        (edited, 2, "edited"),
        (lambda lines: [lines[0], *lines[2:]], 2, "chain"),  # line 2 deleted
        (lambda lines: [lines[0], lines[2], lines[1], lines[3]], 2, "chain"),  # lines 2 and 3 swapped
    ],
    ids=["edit", "delete", "reorder"],
)
def test_audit_verify_finds_the_first_broken_line(aws, playbook, log, tmp_path, tamper, line, problem):
    lines = make_log(aws, playbook, log)
    broken = tmp_path / "broken.jsonl"
    broken.write_text("\n".join(tamper(lines)) + "\n")
    run = playbook(
        [
            verify_task("intact", log),
            verify_task("broken", broken),
            verify_task("broken, reported", broken, fail_on_broken=False),
        ]
    )
    intact = run.task("intact")
    assert intact["status"] == "ok", run.explain()
    assert intact["result"]["valid"] is True and intact["result"]["count"] == 4 and not intact["result"]["changed"]
    assert intact["result"]["head"] == json.loads(lines[-1])["hash"]

    failed = run.task("broken")
    assert failed["status"] == "failed"
    assert failed["result"]["broken_line"] == line and failed["result"]["problem"] == problem
    assert "line %d" % line in failed["result"]["msg"] and failed["result"]["error"]["code"] == "AuditChainBroken"

    reported = run.task("broken, reported")
    assert reported["status"] == "ok"
    assert reported["result"]["valid"] is False and reported["result"]["broken_line"] == line


def test_audit_verify_catches_a_cut_off_end_with_the_head_and_refuses_a_missing_log(aws, playbook, log, tmp_path):
    lines = make_log(aws, playbook, log)
    head = json.loads(lines[-1])["hash"]
    log.write_text("\n".join(lines[:2]) + "\n")
    run = playbook(
        [
            verify_task("without head", log),
            verify_task("with head", log, expected_head=head),
            verify_task("missing", tmp_path / "missing.jsonl"),
        ],
        check=True,
    )
    assert run.task("without head")["result"]["valid"] is True
    cut = run.task("with head")
    assert cut["status"] == "failed" and cut["result"]["problem"] == "truncated"
    missing = run.task("missing")
    assert missing["status"] == "failed" and missing["result"]["error"]["code"] == "AuditLogUnreadable"


def test_the_python_m_entry_verifies_without_ansible(aws, playbook, log, tmp_path):
    lines = make_log(aws, playbook, log)
    # A Python that cannot import ansible: an isolated interpreter with only the collections path.
    env = {"PYTHONPATH": str(collections_root()), "PATH": os.environ.get("PATH", "")}
    command = [sys.executable, "-S", "-m", "ansible_collections.phoenix.immutable.plugins.module_utils.audit"]
    probe = subprocess.run([sys.executable, "-S", "-c", "import ansible"], env=env, capture_output=True, check=False)
    assert probe.returncode != 0, "ansible must not be importable in this check"

    good = subprocess.run([*command, "verify", str(log)], env=env, capture_output=True, text=True, check=False)
    assert good.returncode == 0, good.stderr
    assert "valid chain of 4 lines" in good.stdout

    shown = subprocess.run([*command, "show", str(log)], env=env, capture_output=True, text=True, check=False)
    assert shown.returncode == 0 and "phoenix.immutable.image: create_image" in shown.stdout

    log.write_text("\n".join([lines[0], *lines[2:]]) + "\n")
    bad = subprocess.run([*command, "verify", str(log)], env=env, capture_output=True, text=True, check=False)
    assert bad.returncode == 1 and "line 2" in bad.stdout


# ----- S3 destination


def s3_bucket(aws, name, versioning=True, object_lock=False):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=object_lock)
    if versioning and not object_lock:  # Object Lock turns versioning on by itself
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return s3


def test_each_run_is_put_into_s3_as_one_locked_object(aws, playbook, log):
    s3 = s3_bucket(aws, "audit-trail", object_lock=True)
    env = audit_env(
        log, PHOENIX_AUDIT_S3_BUCKET="audit-trail", PHOENIX_AUDIT_S3_RETENTION_DAYS="30", PHOENIX_AUDIT_S3_PREFIX="web/"
    )
    run = playbook([bake(aws, "bake 1", "web-1"), bake(aws, "bake 2", "web-2")], env=env)
    assert run.rc == 0, run.explain()
    lines = log.read_text().splitlines()
    [listed] = s3.list_object_versions(Bucket="audit-trail", Prefix="web/")["Versions"]
    key = listed["Key"]
    run_id = json.loads(lines[0])["run"]
    assert key.startswith("web/") and key.endswith("-%s.jsonl" % run_id)
    assert "%d lines put into s3://audit-trail/%s" % (len(lines), key) in run.stdout
    stored = s3.get_object(Bucket="audit-trail", Key=key)
    assert stored["Body"].read().decode().splitlines() == lines
    assert stored["Metadata"]["phoenix-audit-head"] == json.loads(lines[-1])["hash"]
    # (moto answers GetObjectRetention with a 500; the object's headers carry the same.)
    head = s3.head_object(Bucket="audit-trail", Key=key)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    locked_days = (head["ObjectLockRetainUntilDate"] - head["LastModified"]).total_seconds() / 86400
    assert 29.9 < locked_days < 30.1


def test_a_bucket_without_versioning_gets_the_object_and_a_warning(aws, playbook, log):
    s3 = s3_bucket(aws, "plain-bucket", versioning=False)
    run = playbook([bake(aws, "bake", "web-1")], env=audit_env(log, PHOENIX_AUDIT_S3_BUCKET="plain-bucket"))
    assert run.rc == 0, run.explain()
    assert "has neither versioning nor Object Lock" in run.stdout + run.stderr
    [stored] = s3.list_objects_v2(Bucket="plain-bucket")["Contents"]
    assert stored["Key"].startswith("phoenix-audit/")


def test_a_missing_bucket_warns_and_keeps_the_local_log(aws, playbook, log):
    run = playbook([bake(aws, "bake", "web-1")], env=audit_env(log, PHOENIX_AUDIT_S3_BUCKET="no-such-bucket"))
    assert run.rc == 0, run.explain()
    assert "were NOT put into s3://no-such-bucket" in run.stdout + run.stderr
    assert len(records(log)) == 1
