# Private to this collection.
"""What a rollout is asked to do, its phases and its record read back from tags: the state machine's data."""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import InvalidInput, PhoenixError
from .health import HealthSpec

ALL_AT_ONCE = "all_at_once"
CANARY = "canary"
ROLLBACK = "rollback"
PAUSE = "pause"
GREEN, BLUE = "green", "blue"

# Phases, in order. The tag holds the phase being worked on; each is safe to enter again.
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

MAX_REASON = 250


class RolloutBusy(PhoenixError):
    """Another run holds the service's rollout."""


class RolloutFailed(PhoenixError):
    """Green failed its health gate; the rollout was rolled back or paused (see ``details['rollout']``)."""


@dataclass
class RolloutSpec:
    service: str
    listener: str
    template: str
    image_id: str = None
    subnets: list = None
    size: int = None
    strategy: str = ALL_AT_ONCE
    steps: list = field(default_factory=lambda: [10, 50, 100])
    step_seconds: float = 0
    health: HealthSpec = field(default_factory=HealthSpec)
    timeout: float = 900
    on_failure: str = ROLLBACK
    keep_blue_seconds: float = 0
    supersede: bool = True
    lease_seconds: float = 60

    def weights(self):
        return [100] if self.strategy == ALL_AT_ONCE else list(self.steps)


def validate(spec, deploying=True):
    """Refuse bad input before any call: every message names the option and what to do."""
    service = spec.service or ""
    if not (0 < len(service) <= 30) or not all(ch.isalnum() or ch == "-" for ch in service) or service[0] == "-":
        raise InvalidInput(
            "service %r must be 1 to 30 letters, digits or hyphens, not starting with a hyphen" % service,
            resource=service,
            hint="Group and target names are <service>-a / <service>-b and load balancers allow 32 characters.",
        )
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


@dataclass
class Context:
    """What a rollout needs to know, read back from green's tags when resuming."""

    rollout_id: str
    green: str
    blue: str
    image_id: str
    from_image: str
    size: int
    blue_size: int
    blue_target: str = None
    blue_version: str = None
    template_id: str = None
    version: str = None
    target: str = None
    weight: int = 0
    serving_since: float = None
    lease_until: float = 0
    extra_done_tags: dict = field(default_factory=dict)
