# Private to this collection.
"""Instance groups and traffic backends as the rollout sees them, whatever the cloud calls them."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Instance:
    id: str
    in_service: bool
    healthy: bool


@dataclass
class Group:
    """An Auto Scaling group, a managed instance group or a scale set: a set of identical instances.

    ``launch`` is the adapter's opaque reference to what it launches; ``backends`` the traffic backends its
    instances are attached to; ``record`` the rollout record the collection keeps on it (None on a group
    the collection did not make); ``tags`` its raw tags or labels as the cloud returns them; ``subnets``
    where it launches. ``deleting`` is true while the cloud is still removing it.
    """

    name: str
    size: int
    min_size: int
    max_size: int
    launch: str = None
    backends: list = field(default_factory=list)
    instances: list = field(default_factory=list)
    record: object = None
    tags: dict = field(default_factory=dict)
    subnets: list = field(default_factory=list)
    deleting: bool = False

    def live_instances(self):
        return [instance for instance in self.instances if instance.in_service]


@dataclass(frozen=True)
class Backend:
    """A traffic backend a frontend sends to: ``id`` is what the frontend names, ``name`` is unique.

    ``settings`` is the adapter's own (what a backend made next to it copies).
    """

    id: str
    name: str
    settings: dict = field(default_factory=dict)
