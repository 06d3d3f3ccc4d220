"""The audit hash chain: canonical lines, append, verify; and what a record keeps of a task result."""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.phoenix.immutable.plugins.module_utils._core import audit
from ansible_collections.phoenix.immutable.plugins.module_utils._core.audit_records import (
    REDACTED,
    actions_of,
    change_record,
    redact,
    resources_of,
)


def write_chain(path, count=5):
    audit.append(path, [{"task": "t%d" % number, "host": "h"} for number in range(1, count + 1)])
    return path.read_bytes().decode().splitlines()


def rewrite(path, lines):
    path.write_text("".join(line + "\n" for line in lines))


# ----- format


def test_a_line_is_canonical_and_hashes_its_content_without_the_hash():
    line = audit.seal({"b": 1, "a": "é"}, audit.GENESIS, 1)
    record = json.loads(line)
    assert line == audit.canonical(record)
    assert " " not in line and line.isascii()
    assert list(record) == sorted(record)
    assert record["v"] == 1 and record["seq"] == 1 and record["prev"] == audit.GENESIS
    assert record["hash"] == audit.record_hash(record)


def test_seal_ignores_chain_fields_passed_in():
    record = json.loads(audit.seal({"seq": 99, "prev": "x", "hash": "y", "v": 7, "a": 1}, audit.GENESIS, 3))
    assert (record["seq"], record["prev"], record["v"]) == (3, audit.GENESIS, 1)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@given(st.dictionaries(st.text(max_size=10), json_values, max_size=6))
def test_any_record_seals_into_a_line_that_verifies(fields):
    line = audit.seal(fields, audit.GENESIS, 1)
    result = audit.verify_lines([(1, line.encode("ascii"))])
    assert result.valid, result.reason


# ----- append


def test_append_chains_each_line_to_the_one_before(tmp_path):
    path = tmp_path / "logs" / "audit.jsonl"
    lines = write_chain(path, 3)
    records = [json.loads(line) for line in lines]
    assert [record["seq"] for record in records] == [1, 2, 3]
    assert records[0]["prev"] == audit.GENESIS
    assert records[1]["prev"] == records[0]["hash"] and records[2]["prev"] == records[1]["hash"]
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700


def test_a_later_append_continues_the_chain(tmp_path):
    path = tmp_path / "audit.jsonl"
    write_chain(path, 2)
    audit.append(path, [{"task": "later"}])
    result = audit.verify(path)
    assert result.valid and result.count == 3
    assert json.loads(path.read_text().splitlines()[-1])["seq"] == 3


def test_append_after_a_last_line_without_newline_starts_a_new_line(tmp_path):
    path = tmp_path / "audit.jsonl"
    write_chain(path, 2)
    path.write_text(path.read_text().rstrip("\n"))
    audit.append(path, [{"task": "later"}])
    assert audit.verify(path).valid


def test_append_after_a_damaged_last_line_still_records_and_verify_names_the_damage(tmp_path):
    path = tmp_path / "audit.jsonl"
    lines = write_chain(path, 2)
    rewrite(path, [*lines, "not json"])
    audit.append(path, [{"task": "after damage"}])
    assert len(path.read_text().splitlines()) == 4
    result = audit.verify(path)
    assert not result.valid and result.line == 3 and result.problem == "unreadable"


def test_append_finds_the_last_line_of_a_file_larger_than_one_read(tmp_path, monkeypatch):
    monkeypatch.setattr(audit, "TAIL_CHUNK", 16)
    path = tmp_path / "audit.jsonl"
    write_chain(path, 4)
    audit.append(path, [{"task": "x" * 100}])
    assert audit.verify(path).count == 5


def _append_many(path, writer, count):
    for number in range(count):
        audit.append(path, [{"writer": writer, "n": number}])


def test_concurrent_writers_keep_one_chain(tmp_path):
    path = tmp_path / "audit.jsonl"
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_append_many, args=(path, writer, 25)) for writer in range(4)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=60)
        assert writer.exitcode == 0
    result = audit.verify(path)
    assert result.valid, result.reason
    assert result.count == 100


def test_append_of_nothing_writes_nothing(tmp_path):
    path = tmp_path / "audit.jsonl"
    assert audit.append(path, []) == []
    assert not path.exists()


def test_append_to_an_unwritable_place_is_an_audit_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(audit.AuditError, match="cannot open the audit log"):
        audit.append(blocker / "audit.jsonl", [{"a": 1}])


# ----- verify: each kind of tampering is caught at the right line


def test_an_intact_chain_verifies_with_its_count_and_head(tmp_path):
    path = tmp_path / "audit.jsonl"
    lines = write_chain(path)
    result = audit.verify(path)
    assert result.valid and result.count == 5 and result.head == json.loads(lines[-1])["hash"]
    assert audit.verify(path, expected_head=result.head).valid


def test_an_empty_log_is_a_valid_chain_of_nothing(tmp_path):
    path = tmp_path / "audit.jsonl"
    path.write_text("")
    result = audit.verify(path)
    assert result.valid and result.count == 0 and result.head is None


def test_a_missing_log_is_an_audit_error(tmp_path):
    with pytest.raises(audit.AuditError, match="cannot read"):
        audit.verify(tmp_path / "nope.jsonl")


def edit_field(lines, index):
    record = json.loads(lines[index])
    record["host"] = "elsewhere"
    lines[index] = audit.canonical(record)


def edit_and_rehash(lines, index):
    record = json.loads(lines[index])
    record["host"] = "elsewhere"
    record["hash"] = audit.record_hash(record)
    lines[index] = audit.canonical(record)


def reformat(lines, index):
    lines[index] = json.dumps(json.loads(lines[index]), indent=None)  # spaces after separators


def delete(lines, index):
    del lines[index]


def swap(lines, index):
    lines[index], lines[index + 1] = lines[index + 1], lines[index]


def duplicate(lines, index):
    lines.insert(index, lines[index])


def blank(lines, index):
    lines.insert(index, "")


@pytest.mark.parametrize(
    "tamper, index, line, problem",
    [
        (edit_field, 2, 3, "edited"),
        (edit_and_rehash, 2, 4, "chain"),  # line 3 is consistent in itself; line 4 no longer follows it
        (reformat, 1, 2, "edited"),
        (delete, 2, 3, "chain"),  # the old line 4, now line 3, does not follow line 2
        (swap, 1, 2, "chain"),
        (duplicate, 2, 4, "chain"),  # the copy at line 3 follows line 2; the original, now line 4, does not
        (blank, 1, 2, "unreadable"),
    ],
)
def test_tampering_is_caught_at_the_first_broken_line(tmp_path, tamper, index, line, problem):
    path = tmp_path / "audit.jsonl"
    lines = write_chain(path)
    tamper(lines, index)
    rewrite(path, lines)
    result = audit.verify(path)
    assert not result.valid
    assert (result.line, result.problem) == (line, problem), result.reason
    assert "line %d" % line in result.reason
    assert result.count == line - 1


def test_deleting_the_first_line_is_caught_at_line_1(tmp_path):
    path = tmp_path / "audit.jsonl"
    lines = write_chain(path)
    rewrite(path, lines[1:])
    result = audit.verify(path)
    assert (result.valid, result.line, result.problem) == (False, 1, "chain")


def test_a_rebuilt_chain_with_a_wrong_number_is_caught(tmp_path):
    path = tmp_path / "audit.jsonl"
    lines = write_chain(path, 2)
    record = json.loads(lines[1])
    record["seq"] = 5
    record["hash"] = audit.record_hash(record)
    rewrite(path, [lines[0], audit.canonical(record)])
    result = audit.verify(path)
    assert (result.line, result.problem) == (2, "sequence")


def test_cutting_lines_off_the_end_is_caught_only_with_the_expected_head(tmp_path):
    path = tmp_path / "audit.jsonl"
    lines = write_chain(path)
    head = audit.verify(path).head
    rewrite(path, lines[:3])
    assert audit.verify(path).valid
    result = audit.verify(path, expected_head=head)
    assert not result.valid and result.problem == "truncated" and result.line == 4


def test_a_line_of_another_format_version_is_refused(tmp_path):
    path = tmp_path / "audit.jsonl"
    record = {"v": 2, "seq": 1, "prev": audit.GENESIS}
    record["hash"] = audit.record_hash(record)
    rewrite(path, [audit.canonical(record)])
    assert audit.verify(path).problem == "version"


# ----- command line (plain Python, no Ansible)


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-I", audit.__file__, *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_the_script_verifies_without_ansible(tmp_path):
    path = tmp_path / "audit.jsonl"
    lines = write_chain(path)
    good = run_cli("verify", str(path))
    assert good.returncode == 0 and "valid chain of 5 lines" in good.stdout
    delete(lines, 1)
    rewrite(path, lines)
    bad = run_cli("verify", "--json", str(path))
    assert bad.returncode == 1
    assert json.loads(bad.stdout)["line"] == 2
    missing = run_cli("verify", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr


# ----- records


IMAGE_RESULT = {
    "changed": True,
    "image": {"id": "ami-1", "name": "web-1", "region": "us-east-1", "tags": {"a": "b"}, "disks": [{"id": "x"}]},
    "copies": [{"id": "ami-2", "region": "eu-west-1", "name": "web-1"}],
    "actions": [{"action": "create_image", "name": "web-1"}, {"action": "copy_image"}, {"action": "copy_image"}],
    "users": [{"kind": "instance", "id": "i-9"}],
    "api_calls": {"ec2:CreateImage": 1},
    "invocation": {"module_args": {"secret_key": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER", "instance_id": "i-builder"}},
    "rollout_id": "r-1",
    "instance_ids": ["i-2", "i-3"],
}


def test_resources_are_ids_with_name_and_region_never_tags_or_arguments():
    assert resources_of(IMAGE_RESULT) == [
        {"kind": "copies", "id": "ami-2", "name": "web-1", "region": "eu-west-1"},
        {"kind": "image", "id": "ami-1", "name": "web-1", "region": "us-east-1"},
        {"kind": "instance", "id": "i-2"},
        {"kind": "instance", "id": "i-3"},
        {"kind": "rollout", "id": "r-1"},
    ]


def test_resources_of_loop_results_are_gathered_item_by_item():
    result = {"results": [{"image": {"id": "ami-1"}}, {"image": {"id": "ami-2"}}, {"image": {"id": "ami-1"}}]}
    assert [resource["id"] for resource in resources_of(result)] == ["ami-1", "ami-2"]


def test_what_a_task_judged_or_left_alone_is_not_what_it_touched():
    drift = {
        "instances": [{"id": "i-ok", "reasons": []}, {"id": "i-rogue", "reasons": ["wrong_image"]}],
        "drifted": ["i-rogue"],
        "replaced": ["i-rogue"],
        "terminated_unmanaged": [],
        "batches": [{"group": "web-a", "instances": ["i-rogue"]}],
    }
    assert resources_of(drift) == [{"kind": "instance", "id": "i-rogue"}]
    prune = {"pruned": [{"id": "ami-old", "name": "web-1"}], "kept": [{"id": "ami-new", "name": "web-2"}]}
    assert [resource["id"] for resource in resources_of(prune)] == ["ami-old"]
    builder = {"builder": {"id": "i-builder"}, "base_image": {"id": "ami-base"}}
    assert [resource["id"] for resource in resources_of(builder)] == ["i-builder"]


def test_actions_are_named_once_in_order():
    assert actions_of(IMAGE_RESULT) == ["create_image", "copy_image"]


def test_redact_masks_secrets_everywhere_but_not_short_strings():
    data = {"a": "key=SuperSecret1 and SuperSecret1", "b": ["SuperSecret1"], "SuperSecret1": 1, "c": "abc"}
    assert redact(data, ["SuperSecret1", "abc", ""]) == {
        "a": "key=%s and %s" % (REDACTED, REDACTED),
        "b": [REDACTED],
        REDACTED: 1,
        "c": "abc",
    }


def record(**overrides):
    fields = dict(
        time="2026-11-25T01:00:00.000Z",
        run="r",
        actor={"user": "alice"},
        playbook="site.yml",
        play="p",
        host="localhost",
        task="bake",
        module="phoenix.immutable.image",
        status="changed",
        result=IMAGE_RESULT,
    )
    fields.update(overrides)
    return change_record(**fields)


def test_a_change_record_holds_who_what_where_and_nothing_of_the_arguments():
    built = record()
    assert built["actor"] == {"user": "alice"} and built["module"] == "phoenix.immutable.image"
    assert built["actions"] == ["create_image", "copy_image"]
    assert "ami-1" in json.dumps(built["resources"])
    text = json.dumps(built)
    assert "invocation" not in text and "module_args" not in text and "i-builder" not in text and "tags" not in text


def test_a_no_log_record_keeps_only_that_the_task_ran():
    for built in (record(no_log=True), record(result={"censored": "hidden", "changed": True})):
        assert built["no_log"] is True
        assert "resources" not in built and "actions" not in built


def test_a_failed_record_keeps_a_short_message_and_the_error_code():
    result = {"failed": True, "msg": "x" * 1000, "error": {"code": "ImageInUse"}, "users": [{"id": "i-1"}]}
    built = record(status="failed", result=result)
    assert len(built["msg"]) == 300 and built["error_code"] == "ImageInUse" and built["resources"] == []


def test_known_secrets_are_masked_in_the_record():
    built = record(task="bake with hunter22", secrets=["hunter22"])
    assert built["task"] == "bake with %s" % REDACTED
