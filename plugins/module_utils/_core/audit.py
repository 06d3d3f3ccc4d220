# Private to this collection.
"""The audit trail: a JSON Lines file in which every line carries the hash of the line before it.

Plain Python (standard library only, no Ansible), so that the callback plugin on the controller, the
``audit_verify`` module and ``python -m`` without Ansible all read and write the same format.

Line format (version 1): one JSON object per line, serialised canonically (keys sorted, no spaces,
ASCII only), with these fields and any others the writer adds:

- ``v``: format version (1);
- ``seq``: 1 for the first line, then one more on each line;
- ``prev``: the ``hash`` of the line before (``GENESIS``, 64 zeros, on the first line);
- ``hash``: SHA-256, hex, of the canonical serialisation of the line's object without ``hash``.

Editing a line changes its hash (caught on that line); deleting or reordering lines breaks ``prev`` or
``seq`` on the next line. Cutting lines off the end leaves a valid, shorter chain: keep the last
``hash`` (the head) somewhere else and pass it as ``expected_head`` to catch that too.

This file imports nothing outside the standard library, and no sibling module, so it also runs as a
script: ``python audit.py verify FILE`` (see ``main``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX; the controller always is
    fcntl = None

FORMAT_VERSION = 1
GENESIS = "0" * 64
# How much of the file's end to read when looking for its last line (grown as needed).
TAIL_CHUNK = 65536


class AuditError(Exception):
    """The audit file cannot be read or written (not a broken chain: that is a VerifyResult)."""


def run_object_key(prefix, run, first_time):
    """Where an object store keeps one run's lines: ``PREFIX/YYYY/MM/DD/<first time, compact>-<run>.jsonl``."""
    day = first_time[:10].replace("-", "/")
    stamp = first_time.replace(":", "").replace("-", "").replace(".", "")
    return "%s%s/%s-%s.jsonl" % (prefix, day, stamp, run)


def canonical(record):
    """The one serialisation of a record: sorted keys, no whitespace, ASCII only."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def record_hash(record):
    """SHA-256 (hex) of the canonical form of ``record`` without its ``hash`` field."""
    body = dict((key, value) for key, value in record.items() if key != "hash")
    return hashlib.sha256(canonical(body).encode("ascii")).hexdigest()


def seal(fields, prev, seq):
    """The line for ``fields`` chained after a line whose hash is ``prev`` and number is ``seq - 1``."""
    record = dict(fields)
    for reserved in ("v", "seq", "prev", "hash"):
        record.pop(reserved, None)
    record.update(v=FORMAT_VERSION, seq=seq, prev=prev)
    record["hash"] = record_hash(record)
    return canonical(record)


def _last_line(handle):
    """The last non-empty line of an open binary file (as bytes), or None when it has none."""
    handle.seek(0, os.SEEK_END)
    size = handle.tell()
    chunk = TAIL_CHUNK
    while True:
        start = max(0, size - chunk)
        handle.seek(start)
        data = handle.read(size - start)
        lines = [line for line in data.split(b"\n") if line.strip()]
        # A complete last line is found when the data holds a newline before it, or starts the file.
        if lines and (start == 0 or data.rstrip(b"\n").rfind(b"\n") >= 0):
            return lines[-1]
        if start == 0:
            return None
        chunk *= 4


def _chain_position(last):
    """(prev, seq) for the line after ``last`` (bytes), tolerating a damaged last line."""
    if last is None:
        return GENESIS, 1
    try:
        record = json.loads(last.decode("utf-8"))
        return str(record["hash"]), int(record["seq"]) + 1
    except (ValueError, KeyError, TypeError, AttributeError):
        # Never lose an event because the file was damaged: chain to the damaged line's bytes. verify
        # reports the damage at that line.
        return hashlib.sha256(last).hexdigest(), None


def append(path, records):
    """Append ``records`` (dicts of fields) to the chain in ``path``, creating it (mode 0600) if needed.

    The file is locked (POSIX ``flock``) from reading its last line to writing the new ones, so runs
    that share a file stay one chain. Returns the lines written.
    """
    records = list(records)
    if not records:
        return []
    directory = os.path.dirname(os.path.abspath(path))
    try:
        if not os.path.isdir(directory):
            os.makedirs(directory, mode=0o700)
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    except OSError as error:
        raise AuditError("cannot open the audit log %s: %s" % (path, error)) from None
    with os.fdopen(descriptor, "r+b") as handle:
        if fcntl is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            prev, seq = _chain_position(_last_line(handle))
            if seq is None:
                seq = _count_lines(handle) + 1
            lines = []
            for fields in records:
                line = seal(fields, prev, seq)
                lines.append(line)
                prev, seq = json.loads(line)["hash"], seq + 1
            handle.seek(0, os.SEEK_END)
            if handle.tell() > 0:
                handle.seek(-1, os.SEEK_END)
                if handle.read(1) != b"\n":
                    handle.write(b"\n")
            handle.write(("\n".join(lines) + "\n").encode("ascii"))
            handle.flush()
            os.fsync(handle.fileno())
        finally:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return lines


def _count_lines(handle):
    handle.seek(0)
    return sum(1 for line in handle if line.strip())


class VerifyResult:
    """What ``verify`` found: ``valid``, ``count`` (lines read), ``head`` (last good hash), and for a
    broken chain ``line`` (1-based line number in the file), ``reason`` and ``problem`` (a short code)."""

    def __init__(self, valid, count, head, line=None, problem=None, reason=None):
        self.valid = valid
        self.count = count
        self.head = head
        self.line = line
        self.problem = problem
        self.reason = reason

    def to_dict(self):
        return dict(
            valid=self.valid, count=self.count, head=self.head, line=self.line, problem=self.problem, reason=self.reason
        )

    def __repr__(self):
        return "VerifyResult(%r)" % (self.to_dict(),)


def iter_lines(path):
    """(line number, text) for every line of ``path``, empty lines included (they break the chain)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise AuditError("cannot read the audit log %s: %s" % (path, error)) from None
    if not data:
        return []
    text_lines = data.split(b"\n")
    if text_lines[-1] == b"":
        text_lines.pop()
    return list(enumerate(text_lines, start=1))


def verify_lines(lines, expected_head=None):
    """Check a chain given as (line number, bytes) pairs; see ``verify``."""
    prev, seq, count = GENESIS, 0, 0

    def broken(number, problem, reason):
        return VerifyResult(False, count, prev if count else None, line=number, problem=problem, reason=reason)

    for number, raw in lines:
        try:
            text = raw.decode("ascii")
            record = json.loads(text)
        except (UnicodeDecodeError, ValueError) as error:
            return broken(number, "unreadable", "line %d is not a JSON line of the audit log: %s" % (number, error))
        if not isinstance(record, dict) or not isinstance(record.get("hash"), str):
            return broken(number, "unreadable", "line %d is not a record of the audit log (no hash)" % number)
        if record.get("v") != FORMAT_VERSION:
            return broken(
                number,
                "version",
                "line %d has format version %r, expected %d" % (number, record.get("v"), FORMAT_VERSION),
            )
        try:
            expected_text = canonical(record)
        except ValueError as error:
            return broken(number, "unreadable", "line %d cannot be serialised: %s" % (number, error))
        if record_hash(record) != record["hash"]:
            return broken(number, "edited", "line %d was edited: its content does not match its hash" % number)
        if text != expected_text:
            return broken(number, "edited", "line %d was reformatted: it is not in the canonical form" % number)
        if record.get("prev") != prev:
            return broken(
                number,
                "chain",
                "line %d does not follow the line before it (prev %s, expected %s): a line before it was deleted, "
                "inserted or moved" % (number, str(record.get("prev"))[:12], prev[:12]),
            )
        if record.get("seq") != seq + 1:
            return broken(
                number, "sequence", "line %d has number %r, expected %d" % (number, record.get("seq"), seq + 1)
            )
        prev, seq, count = record["hash"], seq + 1, count + 1
    if expected_head is not None and prev != expected_head:
        return VerifyResult(
            False,
            count,
            prev if count else None,
            line=count + 1,
            problem="truncated",
            reason="the chain ends at %s after %d lines, not at the expected head %s: lines were cut off the end"
            % (prev[:12], count, str(expected_head)[:12]),
        )
    return VerifyResult(True, count, prev if count else None)


def verify(path, expected_head=None):
    """Verify the chain in ``path``; the result names the first broken line.

    ``expected_head``, the ``hash`` of the last line as recorded elsewhere, also catches lines cut off
    the end. A missing file is an AuditError; an empty file is a valid chain of no lines.
    """
    return verify_lines(iter_lines(path), expected_head=expected_head)


def read_records(path):
    """Every line of ``path`` parsed (lines that do not parse are skipped)."""
    records = []
    for _number, raw in iter_lines(path):
        try:
            records.append(json.loads(raw.decode("utf-8")))
        except ValueError:
            continue
    return records


def summary_rows(records):
    """(when, who, what, where) strings for a who/what/when table of change records."""
    rows = []
    for record in records:
        actor = record.get("actor") or {}
        who = actor.get("user") or "?"
        if actor.get("job_id"):
            who = "%s (job %s)" % (who, actor["job_id"])
        what = record.get("module") or "?"
        actions = record.get("actions") or []
        if actions:
            what = "%s: %s" % (what, ", ".join(actions))
        resources = list(
            dict.fromkeys(resource.get("id") for resource in record.get("resources") or [] if resource.get("id"))
        )
        where = "%s %s" % (record.get("host") or "", " ".join(resources)) if resources else record.get("host") or ""
        rows.append((record.get("time") or "", who, what, where.strip()))
    return rows


def _out(line):
    # A command line entry, not a module: it writes to stdout (modules report through exit_json).
    sys.stdout.write(line + "\n")


def main(argv=None):
    """``verify FILE [--head HASH]`` (exit 0 valid, 1 broken, 2 unreadable) and ``show FILE``."""
    parser = argparse.ArgumentParser(
        prog="python -m ansible_collections.phoenix.immutable.plugins.module_utils.audit",
        description="Verify or show a phoenix.immutable audit log (hash-chained JSON Lines).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("verify", help="verify the hash chain; exit 1 at the first broken line")
    check.add_argument("path")
    check.add_argument("--head", help="the hash the last line must have (catches lines cut off the end)")
    check.add_argument("--json", action="store_true", help="print the result as JSON")
    show = commands.add_parser("show", help="print a who/what/when table of the records")
    show.add_argument("path")
    args = parser.parse_args(argv)
    try:
        if args.command == "show":
            for row in summary_rows(read_records(args.path)):
                _out("%-24s  %-20s  %-44s  %s" % row)
            return 0
        result = verify(args.path, expected_head=args.head)
    except AuditError as error:
        sys.stderr.write("error: %s\n" % error)
        return 2
    if args.json:
        _out(json.dumps(result.to_dict(), sort_keys=True))
    elif result.valid:
        _out("OK: %s holds a valid chain of %d lines, head %s" % (args.path, result.count, result.head))
    else:
        _out("BROKEN: %s: %s" % (args.path, result.reason))
    return 0 if result.valid else 1


if __name__ == "__main__":
    raise SystemExit(main())
