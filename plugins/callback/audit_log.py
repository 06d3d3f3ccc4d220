# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: audit_log
type: aggregate
short_description: Append every change to a tamper-evident audit log (hash-chained JSON Lines)
version_added: 0.1.0
description:
  - Appends one JSON line to the audit log for each task of this collection that changed something or
    failed, and with O(all_changes=true) for every changed task of any module.
  - Each line says when (UTC), who (the AWX user and job when run from AWX, else the local user), the
    playbook, play, host, task and module, the actions taken, the resources named in the result (image
    ids, copies, rollouts, groups), and the outcome.
  - Each line carries the hash of the line before it, so the file is a hash chain that
    M(phoenix.immutable.audit_verify) checks (so does
    C(python -m ansible_collections.phoenix.immutable.plugins.module_utils.audit verify FILE), without Ansible);
    an edited, deleted or moved line is found.
  - Never records task arguments or C(invocation), and records nothing of the output of a task with
    C(no_log) but that it ran. Known secret values from the controller's environment are masked in what is kept.
  - Changes reported in check mode are not recorded (nothing was changed).
  - Runs on the controller. Several runs may share one log; appends are serialised with a file lock.
  - Enable it with C(callbacks_enabled = phoenix.immutable.audit_log) in C(ansible.cfg) or
    E(ANSIBLE_CALLBACKS_ENABLED=phoenix.immutable.audit_log).
author:
  - Phoenix maintainers (@phoenix-immutable)
requirements:
  - enable in configuration (C(callbacks_enabled))
options:
  path:
    description:
      - The audit log file. Created with mode V(0600) (and its directory with V(0700)) if missing.
    type: path
    default: ~/.ansible/phoenix.immutable/audit.jsonl
    env:
      - name: PHOENIX_AUDIT_LOG
    ini:
      - section: callback_phoenix_audit_log
        key: path
  all_changes:
    description:
      - Also record changed tasks of modules outside this collection.
    type: bool
    default: false
    env:
      - name: PHOENIX_AUDIT_ALL_CHANGES
    ini:
      - section: callback_phoenix_audit_log
        key: all_changes
  cloud:
    description:
      - The cloud of O(s3_bucket), V(aws) for an S3 bucket, V(gcp) for a Cloud Storage bucket or V(azure) for a
        blob container.
      - On V(gcp) the connection comes from the environment variables of the C(phoenix.immutable.gcp) options
        (C(GCP_PROJECT), C(GCP_SERVICE_ACCOUNT_FILE) or AWX's C(GCE_CREDENTIALS_FILE_PATH),
        C(GCP_STORAGE_ENDPOINT_URL) ...); O(s3_region) and O(s3_endpoint_url) are for V(aws) only.
        O(s3_retention_days) is then checked against the bucket's retention policy, which must be locked for
        O(s3_object_lock_mode=COMPLIANCE).
      - On V(azure), O(s3_bucket) is a blob container, C(https://ACCOUNT.blob.core.windows.net/CONTAINER) or
        C(ACCOUNT/CONTAINER), and the connection comes from the environment variables of the
        C(phoenix.immutable.azure) options (C(AZURE_SUBSCRIPTION_ID), C(AZURE_TENANT), C(AZURE_CLIENT_ID),
        C(AZURE_SECRET) ...). O(s3_retention_days) needs a container with version-level immutability; each blob
        then carries its own policy, C(Locked) for O(s3_object_lock_mode=COMPLIANCE), C(Unlocked) for V(GOVERNANCE).
    type: str
    choices: [aws, gcp, azure]
    default: aws
    env:
      - name: PHOENIX_AUDIT_CLOUD
    ini:
      - section: callback_phoenix_audit_log
        key: cloud
  s3_bucket:
    description:
      - Also put the lines of each run, at its end, as one object into this S3 bucket, under
        C(PREFIX/YYYY/MM/DD/TIME-RUN.jsonl) with the chain's head in the object's metadata.
      - The bucket should have versioning enabled, and S3 Object Lock where available; a warning says
        when it has neither. The local file stays the chain; each object is a copy of one run's part of it.
      - Credentials come from boto3's chain (the environment variables an AWX AWS credential injects, or a profile).
      - Needs boto3 on the controller.
    type: str
    env:
      - name: PHOENIX_AUDIT_S3_BUCKET
    ini:
      - section: callback_phoenix_audit_log
        key: s3_bucket
  s3_prefix:
    description:
      - Key prefix of the objects in O(s3_bucket).
    type: str
    default: phoenix-audit/
    env:
      - name: PHOENIX_AUDIT_S3_PREFIX
    ini:
      - section: callback_phoenix_audit_log
        key: s3_prefix
  s3_region:
    description:
      - Region of O(s3_bucket). Defaults to E(AWS_REGION) or E(AWS_DEFAULT_REGION).
      - Of several of these variables set, the last listed here wins.
    type: str
    env:
      - name: AWS_DEFAULT_REGION
      - name: AWS_REGION
      - name: PHOENIX_AUDIT_S3_REGION
    ini:
      - section: callback_phoenix_audit_log
        key: s3_region
  s3_endpoint_url:
    description:
      - URL of an S3-compatible endpoint instead of AWS's.
    type: str
    env:
      - name: AWS_ENDPOINT_URL
      - name: PHOENIX_AUDIT_S3_ENDPOINT_URL
    ini:
      - section: callback_phoenix_audit_log
        key: s3_endpoint_url
  s3_object_lock_mode:
    description:
      - With O(s3_retention_days), the S3 Object Lock mode of each object, in a bucket with Object Lock.
        Without it the bucket's default retention applies.
    type: str
    choices: [GOVERNANCE, COMPLIANCE]
    default: COMPLIANCE
    env:
      - name: PHOENIX_AUDIT_S3_OBJECT_LOCK_MODE
    ini:
      - section: callback_phoenix_audit_log
        key: s3_object_lock_mode
  s3_retention_days:
    description:
      - Keep each object locked for this many days (in a bucket with Object Lock).
    type: int
    env:
      - name: PHOENIX_AUDIT_S3_RETENTION_DAYS
    ini:
      - section: callback_phoenix_audit_log
        key: s3_retention_days
"""

import datetime
import getpass
import json
import os
import socket
import uuid

from ansible.plugins.callback import CallbackBase

try:
    from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import PhoenixError
    from ansible_collections.phoenix.immutable.plugins.module_utils.audit import (
        AuditError,
        append,
        audit_store,
        change_record,
    )
except ImportError:  # pragma: no cover - the collection is always importable where its plugins load
    AuditError = PhoenixError = append = audit_store = change_record = None

COLLECTION_PREFIX = "phoenix.immutable."
# Extra variables AWX (and its older name, Tower) sets on every job.
AWX_USER_VARS = ("awx_user_name", "tower_user_name")
AWX_JOB_VARS = ("awx_job_id", "tower_job_id")
AWX_TEMPLATE_VARS = ("awx_job_template_name", "tower_job_template_name")
# Environment variables whose values are secrets wherever they appear.
SECRET_ENV_MARKERS = ("SECRET", "PASSWORD", "PASSPHRASE", "TOKEN", "PRIVATE_KEY")
# Task argument names that hold secrets in this collection's modules and common ones elsewhere.
SECRET_ARG_MARKERS = ("secret", "password", "passphrase", "token", "private_key")


def _utc_now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _result_data(result):
    """The task's result dict: ``result.result`` from ansible-core 2.19, ``result._result`` before."""
    data = getattr(result, "result", None)
    if data is None:
        data = getattr(result, "_result", None)
    return data if isinstance(data, dict) else {}


def _first(variables, names):
    for name in names:
        value = variables.get(name)
        if value not in (None, ""):
            return str(value)
    return None


def actor_from(extra_vars, environ):
    """Who runs this: the AWX user and job (from AWX's extra variables), or the local user."""
    user = _first(extra_vars, AWX_USER_VARS)
    job = _first(extra_vars, AWX_JOB_VARS)
    if user or job:
        actor = {"source": "awx", "user": user or "?", "job_id": job or environ.get("JOB_ID")}
        template = _first(extra_vars, AWX_TEMPLATE_VARS)
        if template:
            actor["job_template"] = template
    else:
        try:
            local_user = getpass.getuser()
        except (KeyError, OSError):  # no name for this uid (containers)
            local_user = str(os.getuid())
        actor = {"source": "local", "user": local_user}
    actor["controller"] = socket.gethostname()
    return actor


def environment_secrets(environ):
    return [
        value
        for name, value in environ.items()
        if any(marker in name.upper() for marker in SECRET_ENV_MARKERS) and value
    ]


def argument_secrets(args):
    found = []
    for name, value in (args or {}).items():
        if isinstance(value, str) and any(marker in str(name).lower() for marker in SECRET_ARG_MARKERS):
            found.append(value)
    return found


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "phoenix.immutable.audit_log"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.run_id = uuid.uuid4().hex
        self.playbook = None
        self.play = None
        self.actor = None
        self.path = None
        self.all_changes = False
        self.failures = 0
        self.lines = []

    def set_options(self, task_keys=None, var_options=None, direct=None):
        super().set_options(task_keys=task_keys, var_options=var_options, direct=direct)
        self.path = os.path.expanduser(self.get_option("path"))
        self.all_changes = bool(self.get_option("all_changes"))

    def v2_playbook_on_start(self, playbook):
        name = getattr(playbook, "_file_name", None) or ""
        try:
            relative = os.path.relpath(name)
            name = relative if not relative.startswith("..") else name
        except ValueError:
            pass
        self.playbook = name

    def v2_playbook_on_play_start(self, play):
        self.play = play.get_name()
        manager = getattr(play, "get_variable_manager", None)
        extra_vars = dict(manager().extra_vars) if manager is not None and manager() is not None else {}
        self.actor = actor_from(extra_vars, os.environ)

    def v2_runner_on_ok(self, result):
        self._record(result, "changed")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "failed")

    def _record(self, result, status):
        task = result._task
        module = getattr(task, "resolved_action", None) or task.action
        ours = str(module).startswith(COLLECTION_PREFIX)
        data = _result_data(result)
        if status == "changed" and not data.get("changed"):
            return
        if not ours and not (self.all_changes and status == "changed"):
            return
        if getattr(task, "check_mode", False) is True:
            return
        # Anything but a plain false (a template, a string) counts as no_log: hide rather than leak.
        no_log = getattr(task, "no_log", None) not in (None, False)
        secrets = environment_secrets(os.environ) + argument_secrets(getattr(task, "args", None))
        record = change_record(
            time=_utc_now(),
            run=self.run_id,
            actor=self.actor or actor_from({}, os.environ),
            playbook=self.playbook,
            play=self.play,
            host=result._host.get_name(),
            task=task.get_name(),
            module=module,
            status=status,
            result=data,
            no_log=no_log,
            secrets=secrets,
        )
        try:
            self.lines.extend(append(self.path, [record]))
        except AuditError as error:
            self.failures += 1
            self._display.warning("phoenix.immutable.audit_log: this change was NOT recorded: %s" % error)

    def v2_playbook_on_stats(self, stats):
        if self.failures:
            self._display.warning(
                "phoenix.immutable.audit_log: %d changes of this run are missing from %s" % (self.failures, self.path)
            )
        if self.lines and self.get_option("s3_bucket"):
            self._upload()

    def _upload(self):
        bucket = self.get_option("s3_bucket")
        where = bucket
        first, last = json.loads(self.lines[0]), json.loads(self.lines[-1])
        try:
            connection = {
                "cloud": self.get_option("cloud"),
                "region": self.get_option("s3_region"),
                "endpoint_url": self.get_option("s3_endpoint_url"),
            }
            store = audit_store(
                connection,
                bucket,
                prefix=self.get_option("s3_prefix") or "",
                lock_mode=self.get_option("s3_object_lock_mode"),
                retention_days=self.get_option("s3_retention_days"),
            )
            where = store.url
            stored = store.put_run(self.run_id, self.lines, head=last["hash"], first_time=first["time"])
        except PhoenixError as error:
            self._display.warning(
                "phoenix.immutable.audit_log: this run's audit lines were NOT put into %s: %s (they are in %s)"
                % (where, error, self.path)
            )
            return
        protection = stored["protection"]
        if protection["versioning"] != "Enabled" and not protection["object_lock"]:
            self._display.warning(
                "phoenix.immutable.audit_log: %s has neither versioning nor %s: "
                "its audit objects can be overwritten or deleted without a trace. Enable versioning."
                % (where, store.lock_name)
            )
        self._display.display(
            "phoenix.immutable.audit_log: %d lines put into %s/%s (version %s)"
            % (len(self.lines), where, stored["key"], stored["version_id"])
        )
