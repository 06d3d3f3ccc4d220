# Private to this collection.
"""What a rollout is asked to do, its phases and its record read back from tags: the state machine's data."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .errors import InvalidInput, PhoenixError
from .health import HealthSpec

ALL_AT_ONCE = "all_at_once"
CANARY = "canary"
ROLLBACK = "rollback"
PAUSE = "pause"
GREEN, BLUE = "green", "blue"

# Phases, in order; each is safe to enter again. Only the transitions a resume needs are written to the record
# (RECORDED): the lock (the group created with its record), green launched, each traffic step, a keep-blue
# wait, and ``done`` (written as blue is retired, with what is left to retire still named in it).
LOCKED = "locked"
TEMPLATE = "template"
TARGET = "target"
LAUNCH = "launch"
WAIT_HEALTHY = "wait_healthy"
SHIFT = "shift"
KEEP_BLUE = "keep_blue"
RETIRE_BLUE = "retire_blue"
DONE = "done"
PAUSED = "paused"
ROLLING_BACK = "rolling_back"
ORDER = (LOCKED, TEMPLATE, TARGET, LAUNCH, WAIT_HEALTHY, SHIFT, KEEP_BLUE, RETIRE_BLUE, DONE)
RECORDED = (LOCKED, LAUNCH, SHIFT, KEEP_BLUE, DONE, PAUSED, ROLLING_BACK)

MAX_REASON = 250


class RolloutBusy(PhoenixError):
    """Another run holds the service's rollout."""


class RolloutFailed(PhoenixError):
    """Green failed its health gate; the rollout was rolled back or paused (see ``details['rollout']``)."""


# Every default of a rollout, defined once: the module's argument spec and the docs read them from here.
DEFAULTS = {
    "strategy": ALL_AT_ONCE,
    "canary_steps": [10, 50, 100],
    "step_seconds": 60,
    "wait_timeout": 900,
    "on_failure": ROLLBACK,
    "keep_blue_seconds": 300,
    "supersede": True,
    "lease_seconds": 60,
}


@dataclass
class RolloutSpec:
    """What a rollout is asked to do. ``frontend`` is what serves the service (an ALB listener, a URL map, a
    load balancer); ``base`` what its groups launch from, which a new group copies with only the image changed.
    """

    service: str
    frontend: str
    base: str
    image_id: str = None
    subnets: list = None
    size: int = None
    strategy: str = DEFAULTS["strategy"]
    steps: list = field(default_factory=lambda: list(DEFAULTS["canary_steps"]))
    step_seconds: float = DEFAULTS["step_seconds"]
    health: HealthSpec = field(default_factory=HealthSpec)
    timeout: float = DEFAULTS["wait_timeout"]
    on_failure: str = DEFAULTS["on_failure"]
    keep_blue_seconds: float = DEFAULTS["keep_blue_seconds"]
    supersede: bool = DEFAULTS["supersede"]
    lease_seconds: float = DEFAULTS["lease_seconds"]

    def weights(self):
        return [100] if self.strategy == ALL_AT_ONCE else list(self.steps)


def validate(spec, deploying=True):
    """Refuse bad input before any call: every message names the option and what to do."""
    service = spec.service or ""
    if not service:
        raise InvalidInput("service must not be empty", resource=service)
    if deploying and not spec.image_id:
        raise InvalidInput("image_id is required with state=deployed", resource=service)
    if spec.size is not None and spec.size < 1:
        raise InvalidInput("size must be at least 1 (got %s)" % spec.size, resource=service)
    if spec.strategy == CANARY:
        steps = list(spec.steps or [])
        if not steps or steps[-1] != 100 or any(not 0 < w <= 100 for w in steps) or steps != sorted(set(steps)):
            raise InvalidInput(
                "canary_steps %s must be increasing weights between 1 and 100 ending with 100" % steps,
                resource=service,
                hint="For example [10, 50, 100].",
            )
    for name in ("step_seconds", "timeout", "keep_blue_seconds", "lease_seconds"):
        if getattr(spec, name) < 0:
            raise InvalidInput("%s must not be negative" % name, resource=service)
    if spec.lease_seconds < 1:
        raise InvalidInput("lease_seconds must be at least 1", resource=service)


def _number(text, kind):
    return kind(float(text)) if text not in (None, "") else None


@dataclass
class RolloutRecord:
    """What the collection keeps on a group it made: the rollout's state while it runs, then what the group
    serves. One object, written and read by the adapter's RolloutStore as a whole or field by field.

    ``launch`` and ``blue_launch`` are the adapter's opaque launch references (GroupBackend.prepare_launch),
    ``blue_backend`` the traffic backend blue was serving through.
    """

    service: str = None
    role: str = None
    rollout: str = None
    image: str = None
    phase: str = None
    phase_at: int = None
    owner: str = None
    lease_until: float = None
    from_image: str = None
    blue_group: str = None
    blue_size: int = None
    blue_backend: str = None
    blue_launch: str = None
    base: str = None
    launch: str = None
    size: int = None
    weight: int = None
    serving_since: float = None
    paused_in: str = None
    reason: str = None
    previous_image: str = None
    rolled_back_from: str = None

    NUMBERS = {
        "phase_at": int,
        "lease_until": float,
        "blue_size": int,
        "size": int,
        "weight": int,
        "serving_since": float,
    }

    def to_record(self, fields=None):
        """{field: text} of the fields set (or of ``fields``, None for a field not set): what a store writes."""
        names = fields if fields is not None else [name for name in FIELDS if getattr(self, name) is not None]
        return {name: _text(getattr(self, name)) for name in names}

    @classmethod
    def from_record(cls, values):
        """The record from {field: text}; unknown fields are ignored, malformed numbers are an error."""
        known = {}
        for name in FIELDS:
            text = values.get(name)
            if text in (None, ""):
                continue
            kind = cls.NUMBERS.get(name)
            try:
                known[name] = _number(text, kind) if kind else text
            except ValueError:
                raise PhoenixError(
                    "the rollout record's %s is %r, not a number" % (name, text),
                    code="MalformedRecord",
                    hint="The record was edited by hand; run state=rolled_back or fix the value.",
                ) from None
        return cls(**known)


FIELDS = tuple(item.name for item in dataclasses.fields(RolloutRecord))


def _text(value):
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass
class Context:
    """A rollout as this run works on it: green's name, its record, the backend green serves through, and the
    backends green's group is attached to (None: not known, attach to be sure)."""

    green: str
    record: RolloutRecord
    backend: str = None
    attached: list = None
