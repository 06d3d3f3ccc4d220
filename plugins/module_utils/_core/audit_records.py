# Private to this collection.
"""What an audit record holds: built from a task's outcome as plain data, never from its arguments.

The callback plugin hands over the task's result (already censored by Ansible for ``no_log``) and
what it knows of the run; this file decides what goes in the record. It keeps identifiers only (ids,
names, regions, the names of the actions taken) and never the task's arguments or ``invocation``, so an
option marked ``no_log`` has no way in. Known secret values (from the environment) are masked in
whatever is kept, as a second line of defence.
"""

from __future__ import annotations

REDACTED = "********"
# Secrets shorter than this are not masked: masking "a" or "1" would garble every record.
MIN_SECRET_LENGTH = 4
MAX_RESOURCES = 50
MAX_MESSAGE = 300
# Result keys that never name a resource the task touched.
NOT_RESOURCES = frozenset(
    (
        "actions",
        "api_calls",
        "base_image",  # what a builder was launched from, not what it changed
        "censored",
        "changed",
        "deprecations",
        "diff",
        "error",
        "exception",
        "failed",
        "invocation",
        "kept",  # what retention left alone, each with its reason
        # fleet_drift: what it scanned and judged; what it changed is under TOUCHED_ID_LISTS
        "instances",
        "drifted",
        "not_replaced",
        "unmanaged",
        "batches",
        "module_stderr",
        "module_stdout",
        "msg",
        "rc",
        "skipped",
        "stderr",
        "stderr_lines",
        "stdout",
        "stdout_lines",
        "users",  # what uses an image (the image module's refusal), not what the task changed
        "warnings",
    )
)
RESOURCE_DETAILS = ("name", "region", "cloud", "state")
# Result keys holding a plain list of the ids a task changed, and the kind of resource they name.
TOUCHED_ID_LISTS = {"replaced": "instance", "terminated_unmanaged": "instance"}


def redact(value, secrets):
    """``value`` with every occurrence of each secret in its strings replaced by ``REDACTED``."""
    secrets = sorted(
        (s for s in secrets or () if isinstance(s, str) and len(s) >= MIN_SECRET_LENGTH), key=len, reverse=True
    )
    if not secrets:
        return value

    def clean(item):
        if isinstance(item, str):
            for secret in secrets:
                if secret in item:
                    item = item.replace(secret, REDACTED)
            return item
        if isinstance(item, dict):
            return dict((clean(key), clean(val)) for key, val in item.items())
        if isinstance(item, (list, tuple)):
            return [clean(val) for val in item]
        return item

    return clean(value)


def _scalar(value):
    return isinstance(value, str) and value != "" or isinstance(value, int) and not isinstance(value, bool)


def _described(kind, item):
    resource = {"kind": kind, "id": str(item["id"])}
    for detail in RESOURCE_DETAILS:
        if _scalar(item.get(detail)):
            resource[detail] = str(item[detail])
    return resource


def resources_of(result):
    """The resources a result names: ``{kind, id[, name, region, cloud, state]}``, in a stable order.

    ``image: {id: ...}`` gives kind ``image``; ``copies: [{id: ...}]`` kind ``copies``; ``rollout_id: X``
    kind ``rollout``; ``instance_ids: [...]`` kind ``instance``; loop results are searched item by item.
    """
    found = []
    seen = set()

    def add(resource):
        key = (resource["kind"], resource["id"], resource.get("region"))
        if key not in seen and len(found) < MAX_RESOURCES:
            seen.add(key)
            found.append(resource)

    def walk(data):
        if not isinstance(data, dict):
            return
        for key in sorted(data):
            value = data[key]
            if key.startswith("_") or key in NOT_RESOURCES:
                continue
            if key == "results" and isinstance(value, list):
                for item in value:
                    walk(item)
            elif isinstance(value, dict) and _scalar(value.get("id")):
                add(_described(key, value))
            elif isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
                for item in value:
                    if _scalar(item.get("id")):
                        add(_described(key, item))
            elif key.endswith("_id") and _scalar(value):
                add({"kind": key[:-3], "id": str(value)})
            elif key in TOUCHED_ID_LISTS and isinstance(value, list):
                for item in value:
                    if _scalar(item):
                        add({"kind": TOUCHED_ID_LISTS[key], "id": str(item)})
            elif key.endswith("_ids") and isinstance(value, list):
                for item in value:
                    if _scalar(item):
                        add({"kind": key[:-4], "id": str(item)})

    walk(result)
    return found


def actions_of(result):
    """The names of the actions a result lists (``actions: [{action: create_image, ...}]``), in order."""
    names = []
    items = [result] + [item for item in result.get("results") or [] if isinstance(item, dict)]
    for item in items:
        for action in item.get("actions") or []:
            name = action.get("action") if isinstance(action, dict) else action
            if isinstance(name, str) and name not in names:
                names.append(name)
    return names


def change_record(
    time, run, actor, playbook, play, host, task, module, status, result, no_log=False, check_mode=False, secrets=()
):
    """The fields of one audit line for a task outcome (``seal`` adds the chain fields).

    ``status`` is ``changed`` or ``failed``. With ``no_log`` the record says only who ran which task of
    which module where and when, and that its output was hidden.
    """
    record = dict(
        time=time,
        run=run,
        actor=actor,
        playbook=playbook,
        play=play,
        host=host,
        task=task,
        module=module,
        status=status,
    )
    if check_mode:
        record["check_mode"] = True
    if no_log or (isinstance(result, dict) and (result.get("_ansible_no_log") or "censored" in result)):
        record["no_log"] = True
        return redact(record, secrets)
    result = result if isinstance(result, dict) else {}
    record["actions"] = actions_of(result)
    record["resources"] = resources_of(result)
    if status == "failed":
        message = result.get("msg")
        if isinstance(message, str) and message:
            record["msg"] = message[:MAX_MESSAGE]
        error = result.get("error")
        if isinstance(error, dict) and _scalar(error.get("code")):
            record["error_code"] = str(error["code"])
    return redact(record, secrets)
