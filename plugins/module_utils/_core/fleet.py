# Private to this collection.
"""Instance groups and traffic targets as the rollout sees them, whatever the cloud calls them."""

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

    ``template`` is the (template id, version) it launches from; ``targets`` the traffic targets (target
    groups, backend services) its instances are registered with; ``tags`` every tag it carries;
    ``subnets`` where it launches. ``deleting`` is true while the cloud is still removing it.
    """

    name: str
    size: int
    min_size: int
    max_size: int
    template: tuple = (None, None)
    targets: list = field(default_factory=list)
    instances: list = field(default_factory=list)
    tags: dict = field(default_factory=dict)
    subnets: list = field(default_factory=list)
    deleting: bool = False

    def live_instances(self):
        return [instance for instance in self.instances if instance.in_service]


@dataclass(frozen=True)
class TemplateVersion:
    template_id: str
    version: str
    image_id: str
    description: str = ""
    default: bool = False


@dataclass(frozen=True)
class Target:
    """A traffic target (an ALB target group): ``id`` is what the listener names, ``name`` is unique."""

    id: str
    name: str
    settings: dict = field(default_factory=dict)
