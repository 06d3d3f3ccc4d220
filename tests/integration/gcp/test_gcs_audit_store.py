"""The audit trail's Cloud Storage destination (plugins/module_utils/_gcp/audit_store.py) against the GCE
emulator's Cloud Storage (tests/emulators/gcs.py), through google-auth.

What the store wrote is read back twice: through the store's own listing and, independently of it, with
google-auth's AuthorizedSession against the JSON API (the object's metadata and its content).
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from urllib.parse import quote

import pytest
from emulators.gcs import StorageError, crc32c_base64
from harness import run_playbook

from ansible_collections.phoenix.immutable.plugins.module_utils import audit
from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import InvalidInput, PhoenixError
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.audit_store import GcsAuditStore

BUCKET = "phoenix-audit-trail"
INSERT = "storage.objects.insert"
GET_BUCKET = "storage.buckets.get"
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


def parse_time(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
def connection(gce):
    return gce.connection(storage_endpoint_url=gce.emu.storage_url)


@pytest.fixture
def store_for(connection):
    def make(bucket=BUCKET, **options):
        return GcsAuditStore(connection, bucket, **options)

    return make


class JsonApi:
    """The Cloud Storage JSON API through google-auth alone: how the tests look at what the store did."""

    def __init__(self, connection, emu):
        self.session = connection.session
        self.base = emu.storage_url

    def object_url(self, bucket, name):
        return "%sstorage/v1/b/%s/o/%s" % (self.base, bucket, quote(name, safe=""))

    def metadata(self, bucket, name):
        return self.session.get(self.object_url(bucket, name), timeout=60)

    def content(self, bucket, name):
        return self.session.get(self.object_url(bucket, name), params={"alt": "media"}, timeout=60)

    def delete(self, bucket, name, generation=None):
        params = {"generation": generation} if generation else None
        return self.session.delete(self.object_url(bucket, name), params=params, timeout=60)

    def insert(self, bucket, name, data, **params):
        return self.session.post(
            "%supload/storage/v1/b/%s/o" % (self.base, bucket),
            params={"uploadType": "media", "name": name, **params},
            data=data,
            headers={"Content-Type": "text/plain"},
            timeout=60,
        )

    def list(self, bucket, **params):
        return self.session.get("%sstorage/v1/b/%s/o" % (self.base, bucket), params=params, timeout=60)

    def bucket(self, bucket):
        return self.session.get("%sstorage/v1/b/%s" % (self.base, bucket), timeout=60)


@pytest.fixture
def api(gce, connection):
    return JsonApi(connection, gce.emu)


def reason_of(response):
    return response.json()["error"]["errors"][0]["reason"]


# ----- records written and read back


def test_a_run_is_one_object_with_its_lines_its_head_and_its_checksum(gce, store_for, api):
    gce.emu.storage.create_bucket(BUCKET, versioning=True)
    lines = run_lines("run1")
    store = store_for(prefix="web/")

    with gce.emu.counting() as calls:
        stored = store.put_run("run1", lines, head=head_of(lines), first_time=FIRST_TIME)

    key = "web/2026/12/02/20261202T140509123Z-run1.jsonl"
    assert stored["key"] == key
    assert stored["protection"] == {
        "versioning": "Enabled",
        "object_lock": False,
        "retention_seconds": None,
        "retention_locked": False,
    }
    assert stored["retain_until"] is None
    assert calls[GET_BUCKET] == 1 and calls[INSERT] == 1

    content = api.content(BUCKET, key)
    assert content.status_code == 200 and content.text.splitlines() == lines
    assert content.headers["Content-Type"] == "application/x-ndjson"
    described = api.metadata(BUCKET, key).json()
    assert described["generation"] == stored["version_id"]
    assert described["crc32c"] == crc32c_base64(content.content)
    assert described["metadata"] == {
        "phoenix-audit-run": "run1",
        "phoenix-audit-head": head_of(lines),
        "phoenix-audit-lines": "3",
    }


def test_the_runs_put_are_listed_with_their_heads(gce, store_for):
    gce.emu.storage.create_bucket(BUCKET)
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
    assert runs[1]["size"] == len(("\n".join(second) + "\n").encode())
    assert [run["run"] for run in store.runs(prefix="")] == ["run3", "run1", "run2"]


def test_the_store_is_found_through_the_gcp_provider_on_its_connection(gce):
    params = {
        "cloud": "gcp",
        "project": gce.seed.project,
        "auth_kind": "serviceaccount",
        "service_account_file": str(gce.key_file),
        "token_uri": gce.emu.token_uri,
        "endpoint_url": gce.emu.compute_url,
        "storage_endpoint_url": gce.emu.storage_url,
    }
    store = audit.audit_store(params, BUCKET, prefix="web/", lock_mode="GOVERNANCE", retention_days=1)
    assert isinstance(store, GcsAuditStore)
    assert (store.bucket, store.prefix, store.lock_mode, store.retention_days) == (BUCKET, "web/", "GOVERNANCE", 1)

    gce.emu.storage.create_bucket(BUCKET, retention_seconds=DAY)
    lines = run_lines("run1")
    stored = store.put_run("run1", lines, head=head_of(lines), first_time=FIRST_TIME)
    assert gce.emu.storage.content_of(BUCKET, stored["key"]).decode().splitlines() == lines
    assert store.connection.api_calls()[INSERT] == 1


# ----- never overwritten


def test_an_object_of_another_writer_under_the_runs_name_is_left_alone(gce, store_for):
    gce.emu.storage.create_bucket(BUCKET)
    store = store_for()
    key = store.key_for("run1", FIRST_TIME)
    gce.emu.storage.overwrite(BUCKET, key, b"someone else's lines\n")
    lines = run_lines("run1")

    with pytest.raises(PhoenixError, match="exists already and holds other lines") as refused:
        store.put_run("run1", lines, head=head_of(lines), first_time=FIRST_TIME)

    assert refused.value.code == "AuditObjectExists" and refused.value.resource == "gs://%s/%s" % (BUCKET, key)
    assert "local audit log" in refused.value.hint
    assert gce.emu.storage.content_of(BUCKET, key) == b"someone else's lines\n"


def test_putting_the_same_run_again_keeps_the_first_object(gce, store_for):
    gce.emu.storage.create_bucket(BUCKET, versioning=True)
    store = store_for()
    lines = run_lines("run1")
    first = store.put_run("run1", lines, head=head_of(lines), first_time=FIRST_TIME)
    again = store.put_run("run1", lines, head=head_of(lines), first_time=FIRST_TIME)

    assert again["version_id"] == first["version_id"]
    assert len(gce.emu.storage.buckets[BUCKET].generations) == 1


def test_an_insert_without_the_store_cannot_replace_a_record_either(gce, store_for, api):
    gce.emu.storage.create_bucket(BUCKET)
    lines = run_lines("run1")
    key = store_for().put_run("run1", lines, head=head_of(lines), first_time=FIRST_TIME)["key"]

    refused = api.insert(BUCKET, key, b"rewritten\n", ifGenerationMatch="0")
    assert refused.status_code == 412 and reason_of(refused) == "conditionNotMet"
    assert "status" not in refused.json()["error"]  # Cloud Storage's error bodies carry none
    assert gce.emu.storage.content_of(BUCKET, key).decode().splitlines() == lines


# ----- retention


def test_a_locked_retention_policy_refuses_delete_and_overwrite_until_it_has_passed(gce, store_for, api):
    gce.emu.storage.create_bucket(BUCKET, retention_seconds=30 * DAY, retention_locked=True)
    lines = run_lines("run1")
    stored = store_for(lock_mode="COMPLIANCE", retention_days=30).put_run(
        "run1", lines, head=head_of(lines), first_time=FIRST_TIME
    )
    key = stored["key"]
    assert stored["protection"] == {
        "versioning": None,
        "object_lock": True,
        "retention_seconds": 30 * DAY,
        "retention_locked": True,
    }
    created = parse_time(api.metadata(BUCKET, key).json()["timeCreated"])
    assert parse_time(stored["retain_until"]) - created == timedelta(days=30)

    deleted = api.delete(BUCKET, key)
    assert deleted.status_code == 403 and reason_of(deleted) == "retentionPolicyNotMet"
    replaced = api.insert(BUCKET, key, b"rewritten\n")
    assert replaced.status_code == 403 and reason_of(replaced) == "retentionPolicyNotMet"
    with pytest.raises(StorageError, match="subject to bucket's retention policy"):
        gce.emu.storage.overwrite(BUCKET, key, b"rewritten\n")
    assert gce.emu.storage.content_of(BUCKET, key).decode().splitlines() == lines

    gce.emu.storage.advance_clock(30 * DAY + 1)
    assert api.delete(BUCKET, key).status_code == 204
    assert api.metadata(BUCKET, key).status_code == 404


def test_with_versioning_a_retained_record_may_go_noncurrent_but_never_away(gce, store_for, api):
    gce.emu.storage.create_bucket(BUCKET, versioning=True, retention_seconds=7 * DAY)
    lines = run_lines("run1")
    stored = store_for(lock_mode="GOVERNANCE", retention_days=7).put_run(
        "run1", lines, head=head_of(lines), first_time=FIRST_TIME
    )
    key, generation = stored["key"], stored["version_id"]
    assert stored["protection"]["versioning"] == "Enabled" and stored["protection"]["object_lock"]

    assert api.delete(BUCKET, key).status_code == 204  # the live generation becomes noncurrent
    assert api.metadata(BUCKET, key).status_code == 404
    for_good = api.delete(BUCKET, key, generation=generation)
    assert for_good.status_code == 403 and reason_of(for_good) == "retentionPolicyNotMet"
    [kept] = api.list(BUCKET, versions="true").json()["items"]
    assert kept["generation"] == generation and "timeDeleted" in kept


@pytest.mark.parametrize(
    "bucket_options, request_options, code, words",
    [
        ({}, {"retention_days": 30}, "RetentionPolicyMissing", "has no retention policy"),
        ({"versioning": True}, {"retention_days": 1}, "RetentionPolicyMissing", "has no retention policy"),
        ({"retention_seconds": 7 * DAY}, {"retention_days": 30}, "RetentionPolicyTooShort", "less than the 30 days"),
        (
            {"retention_seconds": 30 * DAY},
            {"retention_days": 30, "lock_mode": "COMPLIANCE"},
            "RetentionPolicyNotLocked",
            "is not locked",
        ),
    ],
    ids=["no-policy", "versioning-only", "too-short", "compliance-unlocked"],
)
def test_a_retention_the_bucket_cannot_give_is_refused_before_writing(
    gce, store_for, bucket_options, request_options, code, words
):
    gce.emu.storage.create_bucket(BUCKET, **bucket_options)
    lines = run_lines("run1")
    with gce.emu.counting() as calls, pytest.raises(PhoenixError, match=words) as refused:
        store_for(**request_options).put_run("run1", lines, head=head_of(lines), first_time=FIRST_TIME)
    assert refused.value.code == code and refused.value.resource == "gs://%s" % BUCKET
    assert "gcloud storage buckets update gs://%s" % BUCKET in refused.value.hint
    assert calls[INSERT] == 0 and not gce.emu.storage.buckets[BUCKET].live


def test_an_unlocked_policy_long_enough_gives_governance_retention(gce, store_for):
    gce.emu.storage.create_bucket(BUCKET, retention_seconds=40 * DAY)
    lines = run_lines("run1")
    stored = store_for(lock_mode="GOVERNANCE", retention_days=30).put_run(
        "run1", lines, head=head_of(lines), first_time=FIRST_TIME
    )
    assert stored["protection"]["retention_locked"] is False and stored["retain_until"]


def test_without_a_retention_asked_for_the_lock_mode_alone_asks_nothing(gce, store_for):
    # The callback always passes its lock mode (COMPLIANCE by default); a retention is asked for by days.
    gce.emu.storage.create_bucket(BUCKET, versioning=True)
    lines = run_lines("run1")
    stored = store_for(lock_mode="COMPLIANCE").put_run("run1", lines, head=head_of(lines), first_time=FIRST_TIME)
    assert stored["retain_until"] is None


@pytest.mark.parametrize(
    "options, words",
    [({"lock_mode": "FOREVER"}, "lock mode 'FOREVER'"), ({"retention_days": 0}, "at least 1")],
)
def test_a_malformed_request_is_refused_before_any_call(gce, store_for, options, words):
    lines = run_lines("run1")
    with gce.emu.counting() as calls, pytest.raises(InvalidInput, match=words):
        store_for(**options).put_run("run1", lines, head=head_of(lines), first_time=FIRST_TIME)
    assert not calls


# ----- a missing bucket


def test_a_missing_bucket_is_a_clear_error_and_nothing_is_sent_after_it(gce, store_for):
    lines = run_lines("run1")
    with gce.emu.counting() as calls, pytest.raises(PhoenixError, match="does not exist") as refused:
        store_for("no-such-bucket").put_run("run1", lines, head=head_of(lines), first_time=FIRST_TIME)
    assert refused.value.resource == "gs://no-such-bucket" and refused.value.code == "notFound"
    assert refused.value.cloud == "gcp" and "gcloud storage buckets create gs://no-such-bucket" in refused.value.hint
    assert calls[GET_BUCKET] == 1 and calls[INSERT] == 0


# ----- retried inserts


def test_an_insert_refused_with_503_is_retried_and_written_once(gce, store_for, api):
    gce.emu.storage.create_bucket(BUCKET, versioning=True)
    gce.emu.inject_fault(INSERT, status=503, times=2)
    lines = run_lines("run1")
    with gce.emu.counting() as calls:
        stored = store_for().put_run("run1", lines, head=head_of(lines), first_time=FIRST_TIME)
    assert calls[INSERT] == 3
    [only] = api.list(BUCKET, versions="true").json()["items"]
    assert only["generation"] == stored["version_id"]


def test_an_insert_whose_answer_was_lost_is_retried_without_a_second_record(gce, store_for, api):
    # Versioning would keep a second generation if the retry had replaced the first one.
    gce.emu.storage.create_bucket(BUCKET, versioning=True)
    gce.emu.inject_fault(INSERT, status=503, after_apply=True)
    lines = run_lines("run1")
    with gce.emu.counting() as calls:
        stored = store_for().put_run("run1", lines, head=head_of(lines), first_time=FIRST_TIME)

    assert calls[INSERT] == 2 and calls["storage.objects.get"] == 1
    [only] = api.list(BUCKET, versions="true").json()["items"]
    assert only["generation"] == stored["version_id"] and "timeDeleted" not in only
    assert api.content(BUCKET, stored["key"]).text.splitlines() == lines


# ----- the audit_log callback, end to end


def callback_env(gce, log, **extra):
    """The callback enabled as a user enables it, pointed at the emulator's Cloud Storage by GCP's variables."""
    return {
        **gce.emu.env(),
        "GCP_AUTH_KIND": "serviceaccount",
        "GCP_SERVICE_ACCOUNT_FILE": str(gce.key_file),
        "GCP_STORAGE_ENDPOINT_URL": gce.emu.storage_url,
        "ANSIBLE_CALLBACKS_ENABLED": "phoenix_results,phoenix.immutable.audit_log",
        "PHOENIX_AUDIT_LOG": str(log),
        "PHOENIX_AUDIT_ALL_CHANGES": "true",
        "PHOENIX_AUDIT_CLOUD": "gcp",
        "PHOENIX_AUDIT_S3_BUCKET": BUCKET,
        **extra,
    }


CHANGES = [
    {"name": "first change", "ansible.builtin.command": "true", "changed_when": True},
    {"name": "second change", "ansible.builtin.command": "true", "changed_when": True},
]


def test_the_audit_callback_puts_each_run_into_a_locked_gcs_bucket(gce, api, tmp_path):
    gce.emu.storage.create_bucket(BUCKET, retention_seconds=30 * DAY, retention_locked=True)
    log = tmp_path / "audit" / "audit.jsonl"
    env = callback_env(gce, log, PHOENIX_AUDIT_S3_PREFIX="web/", PHOENIX_AUDIT_S3_RETENTION_DAYS="30")

    run = run_playbook(CHANGES, env=env)

    assert run.rc == 0, run.explain()
    lines = log.read_text().splitlines()
    assert len(lines) == 2
    [stored] = api.list(BUCKET, prefix="web/").json()["items"]
    run_id = json.loads(lines[0])["run"]
    assert stored["name"].endswith("-%s.jsonl" % run_id)
    assert api.content(BUCKET, stored["name"]).text.splitlines() == lines
    assert stored["metadata"]["phoenix-audit-head"] == json.loads(lines[-1])["hash"]
    assert "2 lines put into gs://%s/%s (version %s)" % (BUCKET, stored["name"], stored["generation"]) in run.stdout
    assert "neither versioning" not in run.stdout + run.stderr
    assert gce.emu.calls[INSERT] == 1


def test_the_audit_callback_warns_when_the_bucket_cannot_keep_the_run_and_keeps_the_local_log(gce, tmp_path):
    gce.emu.storage.create_bucket(BUCKET, retention_seconds=30 * DAY)  # not locked: no COMPLIANCE retention
    log = tmp_path / "audit.jsonl"
    env = callback_env(gce, log, PHOENIX_AUDIT_S3_RETENTION_DAYS="30")

    run = run_playbook(CHANGES, env=env)

    assert run.rc == 0, run.explain()
    output = " ".join((run.stdout + run.stderr).split())
    assert "were NOT put into gs://%s" % BUCKET in output and "RetentionPolicyNotLocked" in output
    assert len(log.read_text().splitlines()) == 2
    assert gce.emu.calls[INSERT] == 0 and not gce.emu.storage.buckets[BUCKET].live


def test_the_audit_callback_warns_of_a_gcs_bucket_with_neither_versioning_nor_retention(gce, tmp_path):
    gce.emu.storage.create_bucket(BUCKET)
    run = run_playbook(CHANGES, env=callback_env(gce, tmp_path / "audit.jsonl"))
    assert run.rc == 0, run.explain()
    output = " ".join((run.stdout + run.stderr).split())
    assert "gs://%s has neither versioning nor a retention policy" % BUCKET in output
    assert len(gce.emu.storage.buckets[BUCKET].live) == 1


# ----- the emulator's JSON API itself


def test_the_bucket_resource_shows_versioning_and_the_retention_policy(gce, api):
    gce.emu.storage.create_bucket(BUCKET, versioning=True, retention_seconds=DAY, retention_locked=True)
    gce.emu.storage.create_bucket("plain")
    described = api.bucket(BUCKET).json()
    assert described["kind"] == "storage#bucket" and described["name"] == BUCKET
    assert described["versioning"] == {"enabled": True}
    assert described["retentionPolicy"]["retentionPeriod"] == str(DAY)
    assert described["retentionPolicy"]["isLocked"] is True
    plain = api.bucket("plain").json()
    assert "versioning" not in plain and "retentionPolicy" not in plain
    missing = api.bucket("no-such-bucket")
    assert missing.status_code == 404 and reason_of(missing) == "notFound"


def test_a_multipart_upload_with_a_wrong_checksum_is_refused(gce, connection):
    gce.emu.storage.create_bucket(BUCKET)
    for field, value in (("crc32c", crc32c_base64(b"other")), ("md5Hash", base64.b64encode(b"0" * 16).decode())):
        body = (
            b'--b\r\nContent-Type: application/json\r\n\r\n{"name": "x", "%s": "%s"}\r\n'
            b"--b\r\nContent-Type: text/plain\r\n\r\nlines\r\n--b--\r\n" % (field.encode(), value.encode())
        )
        answer = connection.session.post(
            "%supload/storage/v1/b/%s/o" % (gce.emu.storage_url, BUCKET),
            params={"uploadType": "multipart"},
            data=body,
            headers={"Content-Type": "multipart/related; boundary=b"},
            timeout=60,
        )
        assert answer.status_code == 400 and reason_of(answer) == "invalid"
        assert "doesn't match calculated" in answer.json()["error"]["message"]
    assert not gce.emu.storage.buckets[BUCKET].live


def test_lists_page_with_tokens_bound_to_their_request(gce, api):
    gce.emu.storage.create_bucket(BUCKET)
    for name in ("a/1", "a/2", "a/3", "b/1"):
        gce.emu.storage.overwrite(BUCKET, name, name.encode())
    first = api.list(BUCKET, prefix="a/", maxResults=2).json()
    assert [item["name"] for item in first["items"]] == ["a/1", "a/2"]
    rest = api.list(BUCKET, prefix="a/", maxResults=2, pageToken=first["nextPageToken"]).json()
    assert [item["name"] for item in rest["items"]] == ["a/3"] and "nextPageToken" not in rest
    other = api.list(BUCKET, prefix="a/", versions="true", pageToken=first["nextPageToken"])
    assert other.status_code == 400 and reason_of(other) == "invalid"
    assert "items" not in api.list(BUCKET, prefix="c/").json()
