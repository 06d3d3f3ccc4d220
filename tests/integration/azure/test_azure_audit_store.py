"""The audit trail's Blob Storage destination (plugins/module_utils/_azure/audit_store.py) against the Blob Storage
emulator (tests/emulators/blob.py), through azure-storage-blob on the collection's AzureConnection.

What the store wrote is read back twice: through the store's own listing and, independently of it, with
azure-storage-blob's own clients (the blob's properties, metadata and content).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from azure.core.exceptions import HttpResponseError
from azure_data_support import azure_hosts_server_fixture, data_planes_fixture  # noqa: F401  # pylint: disable=unused-import
from harness import run_playbook

from ansible_collections.phoenix.immutable.plugins.module_utils import audit
from ansible_collections.phoenix.immutable.plugins.module_utils._azure.audit_store import BlobAuditStore
from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import InvalidInput, PhoenixError

CONTAINER = "phoenix-audit-trail"
URL = "https://phoenixaudit.blob.core.windows.net/" + CONTAINER
UPLOAD = "BlockBlob_Upload"
GET_CONTAINER = "Container_GetProperties"
DAY = 86400
FIRST_TIME = "2026-12-02T14:05:09.123Z"


def run_lines(run, count=3):
    """Lines shaped like the callback's (one JSON record each, chained by ``prev``/``hash``)."""
    lines, previous = [], "0" * 64
    for seq in range(1, count + 1):
        digest = ("%s-%d" % (run, seq)).encode().hex()[:64].ljust(64, "0")
        lines.append(json.dumps({"run": run, "seq": seq, "prev": previous, "hash": digest}, sort_keys=True))
        previous = digest
    return lines


def head_of(lines):
    return json.loads(lines[-1])["hash"]


def encoded(lines):
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def store_for(data_planes, arm):
    connection = arm.connection()

    def make(container=URL, **options):
        return BlobAuditStore(connection, container, **options)

    return make


@pytest.fixture
def sdk(data_planes):
    """The container through azure-storage-blob alone: how the tests look at what the store did."""
    return data_planes.blob_service().get_container_client(CONTAINER)


# ----- records written and read back


def test_a_run_is_one_blob_with_its_lines_its_head_and_its_checksum(data_planes, store_for, sdk):
    data_planes.blob.create_container(CONTAINER, versioning=True)
    lines = run_lines("run1")
    store = store_for(prefix="web/")

    with data_planes.blob.counting() as calls:
        stored = store.put_run("run1", lines, head=head_of(lines), first_time=FIRST_TIME)

    key = "web/2026/12/02/20261202T140509123Z-run1.jsonl"
    assert stored["key"] == key
    assert stored["protection"] == {
        "versioning": None,
        "object_lock": False,
        "version_level_immutability": False,
        "container_policy": False,
        "legal_hold": False,
        "retention_seconds": None,
        "retention_locked": None,
    }
    assert stored["retain_until"] is None and stored["version_id"]
    assert calls[GET_CONTAINER] == 1 and calls[UPLOAD] == 1

    blob = sdk.get_blob_client(key)
    assert blob.download_blob().readall().decode().splitlines() == lines
    described = blob.get_blob_properties()
    assert described.content_settings.content_type == "application/x-ndjson"
    assert described.version_id == stored["version_id"]
    assert bytes(described.content_settings.content_md5) == hashlib.md5(encoded(lines)).digest()
    assert described.metadata == {
        "phoenix_audit_run": "run1",
        "phoenix_audit_head": head_of(lines),
        "phoenix_audit_lines": "3",
    }
    assert store.url == URL and store_for("phoenixaudit/" + CONTAINER).url == URL


def test_the_runs_put_are_listed_with_their_heads(data_planes, store_for):
    data_planes.blob.create_container(CONTAINER)
    store = store_for(prefix="web/")
    first, second = run_lines("run1"), run_lines("run2", count=5)
    store.put_run("run1", first, head=head_of(first), first_time="2026-12-01T23:59:59.999Z")
    store.put_run("run2", second, head=head_of(second), first_time=FIRST_TIME)
    store_for(prefix="other/").put_run("run3", first, head=head_of(first), first_time=FIRST_TIME)

    runs = store.runs()
    assert [(run["run"], run["head"], run["lines"]) for run in runs] == [
        ("run1", head_of(first), 3),
        ("run2", head_of(second), 5),
    ]
    assert [run["key"] for run in runs] == [
        "web/2026/12/01/20261201T235959999Z-run1.jsonl",
        "web/2026/12/02/20261202T140509123Z-run2.jsonl",
    ]
    assert runs[1]["size"] == len(encoded(second)) and runs[1]["time_created"].endswith("Z")
    assert [run["run"] for run in store.runs(prefix="")] == ["run3", "run1", "run2"]


def test_a_long_listing_is_read_page_by_page(data_planes, store_for, monkeypatch):
    from ansible_collections.phoenix.immutable.plugins.module_utils._azure import audit_store

    monkeypatch.setattr(audit_store, "LIST_PAGE_SIZE", 2)
    data_planes.blob.create_container(CONTAINER)
    store = store_for(prefix="web/")
    for index in range(5):
        lines = run_lines("run%d" % index)
        store.put_run("run%d" % index, lines, head=head_of(lines), first_time="2026-12-0%dT10:00:00.000Z" % (index + 1))
    with data_planes.blob.counting() as calls:
        assert [run["run"] for run in store.runs()] == ["run%d" % index for index in range(5)]
    assert calls["Container_ListBlobFlatSegment"] == 3


def test_the_store_is_found_through_the_azure_provider_on_its_connection(data_planes, arm):
    store = audit.audit_store(arm.params(), URL, prefix="web/", lock_mode="GOVERNANCE", retention_days=1)
    assert isinstance(store, BlobAuditStore)
    assert (store.container, store.prefix, store.lock_mode, store.retention_days) == (
        CONTAINER,
        "web/",
        "GOVERNANCE",
        1,
    )

    data_planes.blob.create_container(CONTAINER, immutable_storage_with_versioning=True)
    lines = run_lines("run1")
    stored = store.put_run("run1", lines, head=head_of(lines), first_time=FIRST_TIME)
    assert data_planes.blob.content_of(CONTAINER, stored["key"]).decode().splitlines() == lines
    assert store.connection.api_calls()["PUT blob %s" % CONTAINER] == 1


# ----- never overwritten


def test_a_blob_of_another_writer_under_the_runs_name_is_left_alone(data_planes, store_for):
    data_planes.blob.create_container(CONTAINER)
    store = store_for()
    key = store.key_for("run1", FIRST_TIME)
    data_planes.blob.overwrite(CONTAINER, key, b"someone else's lines\n")
    lines = run_lines("run1")

    with pytest.raises(PhoenixError, match="exists already and holds other lines") as refused:
        store.put_run("run1", lines, head=head_of(lines), first_time=FIRST_TIME)

    assert refused.value.code == "AuditObjectExists" and refused.value.resource == "%s/%s" % (URL, key)
    assert "local audit log" in refused.value.hint
    assert data_planes.blob.content_of(CONTAINER, key) == b"someone else's lines\n"


def test_putting_the_same_run_again_keeps_the_first_blob(data_planes, store_for):
    data_planes.blob.create_container(CONTAINER, versioning=True)
    store = store_for()
    lines = run_lines("run1")
    first = store.put_run("run1", lines, head=head_of(lines), first_time=FIRST_TIME)
    again = store.put_run("run1", lines, head=head_of(lines), first_time=FIRST_TIME)

    assert again["version_id"] == first["version_id"]
    assert len(data_planes.blob.container(CONTAINER).versions) == 1


def test_an_upload_without_the_store_cannot_replace_a_record_either(data_planes, store_for, sdk):
    data_planes.blob.create_container(CONTAINER)
    lines = run_lines("run1")
    key = store_for().put_run("run1", lines, head=head_of(lines), first_time=FIRST_TIME)["key"]

    with pytest.raises(HttpResponseError) as refused:
        sdk.upload_blob(key, b"rewritten\n", overwrite=False)
    assert refused.value.status_code == 409 and refused.value.error_code == "BlobAlreadyExists"
    assert data_planes.blob.content_of(CONTAINER, key).decode().splitlines() == lines


# ----- immutability


def test_a_locked_policy_on_each_blob_refuses_its_deletion_until_it_has_passed(data_planes, store_for, sdk):
    data_planes.blob.create_container(CONTAINER, immutable_storage_with_versioning=True)
    lines = run_lines("run1")
    now = datetime.now(UTC)
    stored = store_for(lock_mode="COMPLIANCE", retention_days=30).put_run(
        "run1", lines, head=head_of(lines), first_time=FIRST_TIME, now=now
    )
    key, version = stored["key"], stored["version_id"]
    assert stored["protection"]["object_lock"] and stored["protection"]["version_level_immutability"]
    assert stored["protection"]["versioning"] == "Enabled"
    until = datetime.fromisoformat(stored["retain_until"].replace("Z", "+00:00"))
    assert until == (now + timedelta(days=30)).replace(microsecond=0)

    policy = sdk.get_blob_client(key).get_blob_properties().immutability_policy
    assert policy.expiry_time == until and policy.policy_mode == "locked"
    [listed] = store_for().runs()
    assert listed["retain_until"] == stored["retain_until"] and listed["version_id"] == version
    with pytest.raises(HttpResponseError) as refused:
        sdk.get_blob_client(key).delete_blob(version_id=version)
    assert refused.value.error_code == "BlobImmutableDueToPolicy"
    assert data_planes.blob.content_of(CONTAINER, key).decode().splitlines() == lines

    data_planes.blob.advance_clock(30 * DAY + 1)
    sdk.get_blob_client(key).delete_blob(version_id=version)
    assert data_planes.blob.content_of(CONTAINER, key) is None


def test_governance_sets_an_unlocked_policy(data_planes, store_for, sdk):
    data_planes.blob.create_container(CONTAINER, immutable_storage_with_versioning=True)
    lines = run_lines("run1")
    stored = store_for(lock_mode="GOVERNANCE", retention_days=7).put_run(
        "run1", lines, head=head_of(lines), first_time=FIRST_TIME
    )
    assert sdk.get_blob_client(stored["key"]).get_blob_properties().immutability_policy.policy_mode == "unlocked"


def test_a_container_retention_policy_is_reported_and_keeps_the_blob(data_planes, store_for, sdk):
    data_planes.blob.create_container(CONTAINER, retention_days=30, locked=True)
    lines = run_lines("run1")
    stored = store_for(lock_mode="COMPLIANCE").put_run("run1", lines, head=head_of(lines), first_time=FIRST_TIME)
    assert stored["protection"]["object_lock"] and stored["protection"]["container_policy"]
    assert stored["retain_until"] is None  # the container's policy keeps it; its period is ARM's to show
    with pytest.raises(HttpResponseError) as refused:
        sdk.delete_blob(stored["key"])
    assert refused.value.error_code == "BlobImmutableDueToPolicy"


@pytest.mark.parametrize(
    "container_options, code, words",
    [
        ({}, "ImmutabilityMissing", "has no version-level immutability"),
        ({"versioning": True}, "ImmutabilityMissing", "has no version-level immutability"),
        ({"retention_days": 30, "locked": True}, "RetentionNotVerifiable", "cannot be checked"),
    ],
    ids=["plain", "versioning-only", "container-policy"],
)
def test_a_retention_the_container_cannot_give_is_refused_before_writing(
    data_planes, store_for, container_options, code, words
):
    data_planes.blob.create_container(CONTAINER, **container_options)
    lines = run_lines("run1")
    with data_planes.blob.counting() as calls, pytest.raises(PhoenixError, match=words) as refused:
        store_for(retention_days=30).put_run("run1", lines, head=head_of(lines), first_time=FIRST_TIME)
    assert refused.value.code == code and refused.value.resource == URL
    assert "--enable-vlw" in refused.value.hint
    assert calls[UPLOAD] == 0 and not data_planes.blob.container(CONTAINER).versions


@pytest.mark.parametrize(
    "options, words",
    [({"lock_mode": "FOREVER"}, "lock mode 'FOREVER'"), ({"retention_days": 0}, "at least 1")],
)
def test_a_malformed_request_is_refused_before_any_call(data_planes, store_for, options, words):
    lines = run_lines("run1")
    with data_planes.blob.counting() as calls, pytest.raises(InvalidInput, match=words):
        store_for(**options).put_run("run1", lines, head=head_of(lines), first_time=FIRST_TIME)
    assert not calls


@pytest.mark.parametrize("name", ["phoenix_audit", "https://phoenixaudit.blob.core.windows.net/", "Upper/Case"])
def test_a_name_that_is_not_a_container_is_refused(data_planes, store_for, name):
    with pytest.raises(InvalidInput, match="is not a blob container"):
        store_for(name)


# ----- a missing container


def test_a_missing_container_is_a_clear_error_and_nothing_is_sent_after_it(data_planes, store_for):
    lines = run_lines("run1")
    missing = "https://phoenixaudit.blob.core.windows.net/no-such-container"
    with data_planes.blob.counting() as calls, pytest.raises(PhoenixError, match="does not exist") as refused:
        store_for(missing).put_run("run1", lines, head=head_of(lines), first_time=FIRST_TIME)
    assert refused.value.resource == missing and refused.value.code == "ContainerNotFound"
    assert refused.value.cloud == "azure" and "az storage container create" in refused.value.hint
    assert calls[GET_CONTAINER] == 1 and calls[UPLOAD] == 0


# ----- retried uploads


def test_an_upload_refused_with_503_is_retried_and_written_once(data_planes, store_for, sdk):
    data_planes.blob.create_container(CONTAINER, versioning=True)
    data_planes.blob.inject_fault(UPLOAD, status=503, times=2, retry_after=0)
    lines = run_lines("run1")
    with data_planes.blob.counting() as calls:
        stored = store_for().put_run("run1", lines, head=head_of(lines), first_time=FIRST_TIME)
    assert calls[UPLOAD] == 3
    [only] = list(sdk.list_blobs(include=["versions"]))
    assert only.version_id == stored["version_id"]


def test_an_upload_whose_answer_was_lost_is_retried_without_a_second_record(data_planes, store_for, sdk):
    # Versioning would keep a second version if the retry had replaced the first one.
    data_planes.blob.create_container(CONTAINER, versioning=True)
    data_planes.blob.inject_fault(UPLOAD, status=503, after_apply=True, retry_after=0)
    lines = run_lines("run1")
    with data_planes.blob.counting() as calls:
        stored = store_for().put_run("run1", lines, head=head_of(lines), first_time=FIRST_TIME)

    assert calls[UPLOAD] == 2 and calls["Blob_GetProperties"] == 1
    [only] = list(sdk.list_blobs(include=["versions"]))
    assert only.version_id == stored["version_id"] and only.is_current_version
    assert sdk.download_blob(stored["key"]).readall().decode().splitlines() == lines


# ----- the audit_log callback, end to end


def callback_env(arm, data_planes, log, **extra):
    """The callback enabled as a user enables it, pointed at the emulator's Blob Storage by Azure's variables."""
    return {
        **arm.env(),
        **data_planes.hosts.env(),
        "ANSIBLE_CALLBACKS_ENABLED": "phoenix_results,phoenix.immutable.audit_log",
        "PHOENIX_AUDIT_LOG": str(log),
        "PHOENIX_AUDIT_ALL_CHANGES": "true",
        "PHOENIX_AUDIT_CLOUD": "azure",
        "PHOENIX_AUDIT_S3_BUCKET": URL,
        **extra,
    }


CHANGES = [
    {"name": "first change", "ansible.builtin.command": "true", "changed_when": True},
    {"name": "second change", "ansible.builtin.command": "true", "changed_when": True},
]


def test_the_audit_callback_puts_each_run_into_an_immutable_container(data_planes, arm, sdk, tmp_path):
    data_planes.blob.create_container(CONTAINER, immutable_storage_with_versioning=True)
    log = tmp_path / "audit" / "audit.jsonl"
    env = callback_env(arm, data_planes, log, PHOENIX_AUDIT_S3_PREFIX="web/", PHOENIX_AUDIT_S3_RETENTION_DAYS="30")

    run = run_playbook(CHANGES, env=env)

    assert run.rc == 0, run.explain()
    lines = log.read_text().splitlines()
    assert len(lines) == 2
    [stored] = list(sdk.list_blobs(name_starts_with="web/", include=["metadata", "immutabilitypolicy"]))
    assert stored.name.endswith("-%s.jsonl" % json.loads(lines[0])["run"])
    assert sdk.download_blob(stored.name).readall().decode().splitlines() == lines
    assert stored.metadata["phoenix_audit_head"] == json.loads(lines[-1])["hash"]
    assert stored.immutability_policy.policy_mode == "locked"  # COMPLIANCE, the callback's default
    assert "2 lines put into %s/%s (version %s)" % (URL, stored.name, stored.version_id) in run.stdout
    assert "neither versioning" not in run.stdout + run.stderr
    assert data_planes.blob.calls[UPLOAD] == 1


def test_the_audit_callback_warns_when_the_container_cannot_keep_the_run_and_keeps_the_local_log(
    data_planes, arm, tmp_path
):
    data_planes.blob.create_container(CONTAINER, versioning=True)
    log = tmp_path / "audit.jsonl"
    run = run_playbook(CHANGES, env=callback_env(arm, data_planes, log, PHOENIX_AUDIT_S3_RETENTION_DAYS="30"))

    assert run.rc == 0, run.explain()
    output = " ".join((run.stdout + run.stderr).split())
    assert "were NOT put into %s" % URL in output and "ImmutabilityMissing" in output
    assert len(log.read_text().splitlines()) == 2
    assert data_planes.blob.calls[UPLOAD] == 0


def test_the_audit_callback_warns_of_a_container_with_no_immutability(data_planes, arm, tmp_path):
    data_planes.blob.create_container(CONTAINER)
    run = run_playbook(CHANGES, env=callback_env(arm, data_planes, tmp_path / "audit.jsonl"))
    assert run.rc == 0, run.explain()
    output = " ".join((run.stdout + run.stderr).split())
    assert "%s has neither versioning nor an immutability policy" % URL in output
    assert len(data_planes.blob.container(CONTAINER).versions) == 1
