"""Test-side fix of moto: CreateAutoScalingGroup fails on an existing name, atomically, as AWS does.

moto 5.2.5's CreateAutoScalingGroup silently replaces a group of the same name (its backend assigns
`autoscaling_groups[name] = group`). AWS refuses it: error code `AlreadyExists` (the model's
`AlreadyExistsFault`), HTTP 400, "AutoScalingGroup by this name already exists - A group with the name
<name> already exists". The swap's lock is that refusal (two rollouts of a service race to create the
same slot's group and exactly one wins), so a test of the lock on plain moto proves nothing.

`install_atomic_create()` wraps moto's backend method: under one lock for the whole process (moto's
server answers each request in a thread of its own), it checks for the name and creates the group, so
two creates of one name never both pass the check. Imported (and so installed) by `emulators.aws`, the
way that module installs its image-deprecation extension. If a later moto refuses existing names
itself, its refusal comes first and this check never fires.
"""

from __future__ import annotations

import threading
from typing import Any

from moto.autoscaling.exceptions import AutoscalingClientError
from moto.autoscaling.models import AutoScalingBackend

_LOCK = threading.Lock()


class AlreadyExistsError(AutoscalingClientError):
    code = "AlreadyExists"

    def __init__(self, name: str) -> None:
        super().__init__(
            "AutoScalingGroup by this name already exists - A group with the name %s already exists" % name
        )


def install_atomic_create() -> None:
    original = AutoScalingBackend.create_auto_scaling_group
    if getattr(original, "_phoenix_atomic", False):
        return

    def create_auto_scaling_group(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            if name in self.autoscaling_groups:
                raise AlreadyExistsError(name)
            return original(self, name, *args, **kwargs)

    create_auto_scaling_group._phoenix_atomic = True  # type: ignore[attr-defined]
    AutoScalingBackend.create_auto_scaling_group = create_auto_scaling_group


install_atomic_create()
