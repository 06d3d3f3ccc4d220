# Private to this collection.
"""Temporary build instances: launched from a base image, provisioned, imaged, always torn down.

Everything a builder owns (the instance, and the firewall rule set and key pair made for it) carries the
builder's name and an expiry time in its tags, written before or with the resource itself. So whatever a
crashed bake left behind can be found and reaped later by anyone, from the cloud alone: no local state.
"""

from __future__ import annotations

import datetime
from dataclasses import asdict, dataclass, field

from . import tags as tagging
from .errors import InvalidInput, PhoenixError
from .model import newest_first
from .timeutil import format_utc, parse_utc, utcnow

# Normalised builder states; each adapter maps its cloud's instance states onto these.
STARTING = "starting"
RUNNING = "running"
STOPPING = "stopping"
STOPPED = "stopped"
GONE = "gone"
BUILDER_FAILED = "failed"

MIN_TTL_SECONDS = 1
MAX_TTL_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class Builder:
    cloud: str
    id: str
    name: str
    region: str
    state: str
    image_id: str
    instance_type: str = ""
    subnet_id: str = ""
    private_address: str | None = None
    public_address: str | None = None
    security_group_id: str | None = None
    key_name: str | None = None
    expires_at: str | None = None
    launched: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    state_reason: str | None = None

    @property
    def owned_security_group(self):
        """The security group made for this builder, deleted with it (None when a given one was used)."""
        return self.tags.get(tagging.tag_key(self.cloud, tagging.BUILDER_SECURITY_GROUP))

    @property
    def owned_key(self):
        return self.tags.get(tagging.tag_key(self.cloud, tagging.BUILDER_KEY))

    def to_dict(self):
        return asdict(self)


@dataclass(frozen=True)
class Leftover:
    """A security group or key pair made for a builder, found on its own (its builder is gone or never was)."""

    kind: str  # "security_group" or "key_pair"
    id: str
    builder: str
    expires_at: str | None

    def to_dict(self):
        return asdict(self)


@dataclass
class BuilderRequest:
    name: str
    base_image_id: str | None = None
    base_image_name: str | None = None
    base_image_owners: list[str] = field(default_factory=list)
    instance_type: str = "t3.micro"
    subnet_id: str | None = None
    security_group_ids: list[str] = field(default_factory=list)
    ssh_cidrs: list[str] = field(default_factory=list)
    key_name: str | None = None
    key_dir: str | None = None
    public_address: bool = False
    ttl_seconds: int = 4 * 3600
    tags: dict[str, str] = field(default_factory=dict)
    user: str = "ec2-user"


@dataclass
class BuilderOutcome:
    changed: bool = False
    builder: dict | None = None
    connection: dict | None = None
    base_image: dict | None = None
    actions: list[dict] = field(default_factory=list)
    reaped: list[dict] = field(default_factory=list)

    def plan(self, action, **details):
        self.actions.append(dict(action=action, **details))
        self.changed = True


def expiry(now, ttl_seconds):
    if not MIN_TTL_SECONDS <= ttl_seconds <= MAX_TTL_SECONDS:
        raise InvalidInput(
            "ttl %ss is out of range: from %s second to %s days"
            % (ttl_seconds, MIN_TTL_SECONDS, MAX_TTL_SECONDS // 86400),
            resource="ttl",
        )
    return format_utc(now + datetime.timedelta(seconds=ttl_seconds))


def is_expired(expires_at, now):
    """A builder without a readable expiry is never reaped: better left for a person than killed mid-bake."""
    if not expires_at:
        return False
    try:
        return parse_utc(expires_at) <= now
    except PhoenixError:
        return False


class BuilderWorkflow:
    """Decides what to launch, stop or delete; ``backend`` (a BuilderBackend) translates for one cloud."""

    def __init__(self, backend, images, waiter, check_mode=False):
        self.backend = backend
        self.images = images
        self.waiter = waiter
        self.check_mode = check_mode

    def _live(self, name):
        found = [builder for builder in self.backend.find(name) if builder.state != GONE]
        if len(found) > 1:
            raise PhoenixError(
                "%d builders are named %r in %s: %s"
                % (len(found), name, self.backend.region, ", ".join(sorted(b.id for b in found))),
                resource=name,
                code="AmbiguousBuilder",
                cloud=self.backend.cloud,
                hint="Remove them with state: absent and launch again.",
            )
        return found[0] if found else None

    def resolve_base(self, request):
        if request.base_image_id:
            image = self.images.get(request.base_image_id)
            if image is None:
                raise PhoenixError(
                    "base image %s not found in %s" % (request.base_image_id, self.backend.region),
                    resource=request.base_image_id,
                    code="ImageNotFound",
                    cloud=self.backend.cloud,
                    hint="Check the id and the region.",
                )
            return image
        if not request.base_image_name:
            raise InvalidInput(
                "give base_image_id, or base_image_name to pick the newest matching image", resource=request.name
            )
        candidates = [
            image
            for image in newest_first(
                self.images.search(name_pattern=request.base_image_name, owners=request.base_image_owners or None)
            )
            if image.state == "available"
        ]
        if not candidates:
            raise PhoenixError(
                "no available image matches %r (owners %s) in %s"
                % (request.base_image_name, ", ".join(request.base_image_owners) or "self", self.backend.region),
                resource=request.base_image_name,
                code="ImageNotFound",
                cloud=self.backend.cloud,
                hint="Check base_image_name (a glob) and base_image_owners.",
            )
        return candidates[0]

    def _wait_running(self, builder):
        return self.waiter.until(
            fetch=lambda: self.backend.get(builder.id),
            ready=lambda current: current is not None and current.state == RUNNING and self.backend.reachable(current),
            failed=lambda current: (
                (current.state_reason or current.state)
                if current is not None and current.state in (GONE, BUILDER_FAILED)
                else None
            ),
            what="builder %s (%s) in %s" % (builder.id, builder.name, self.backend.region),
            current=builder,
        )

    def _connection(self, builder, request, key_path):
        address = builder.public_address if request.public_address else builder.private_address
        return {
            "host": address or builder.private_address or builder.public_address,
            "user": request.user,
            "key_path": key_path,
            "instance_id": builder.id,
        }

    def present(self, request, now=None):
        now = now or utcnow()
        outcome = BuilderOutcome()
        tagging.validate_tags(request.tags, self.backend.tag_limits, resource="builder %r" % request.name)
        expires_at = expiry(now, request.ttl_seconds)
        current = self._live(request.name)
        if current is not None:
            base = self.images.get(current.image_id)
            outcome.base_image = base.to_dict() if base is not None else {"id": current.image_id}
            if current.state != RUNNING:
                if current.state in (STOPPED, STOPPING):
                    raise PhoenixError(
                        "builder %s (%s) is %s; a stopped builder is never restarted"
                        % (current.id, current.name, current.state),
                        resource=current.id,
                        code="BuilderStopped",
                        cloud=self.backend.cloud,
                        hint="Image it, or remove it with state: absent and launch a new one.",
                    )
                current = self._wait_running(current)
            outcome.builder = current.to_dict()
            outcome.connection = self._connection(current, request, self.backend.key_path(current, request.key_dir))
            return outcome

        base = self.resolve_base(request)
        outcome.base_image = base.to_dict()
        network = self.backend.network_of(request.subnet_id)
        ownership = {
            tagging.tag_key(self.backend.cloud, tagging.MANAGED): "true",
            tagging.tag_key(self.backend.cloud, tagging.BUILDER): request.name,
            tagging.tag_key(self.backend.cloud, tagging.EXPIRES_AT): expires_at,
        }
        tagging.validate_tags(
            dict(request.tags, **ownership), self.backend.tag_limits, resource="builder %r" % request.name
        )
        outcome.plan(
            "launch_builder",
            name=request.name,
            image_id=base.id,
            subnet_id=network["subnet_id"],
            instance_type=request.instance_type,
            expires_at=expires_at,
        )
        if not request.security_group_ids:
            outcome.plan(
                "create_security_group",
                name=request.name,
                vpc_id=network["vpc_id"],
                ssh_cidrs=request.ssh_cidrs or [network["cidr"]],
            )
        if not request.key_name:
            outcome.plan("create_key_pair", name=request.name)
        if self.check_mode:
            return outcome

        made = {}
        try:
            group_ids = list(request.security_group_ids)
            if not group_ids:
                made["security_group"] = self.backend.create_security_group(
                    request.name, network, request.ssh_cidrs or [network["cidr"]], ownership
                )
                group_ids = [made["security_group"]]
            key_name, key_path = request.key_name, None
            if not key_name:
                key_name, key_path = self.backend.create_key_pair(request.name, request.key_dir, ownership)
                made["key_pair"] = key_name
            instance_tags = dict(request.tags, Name="phoenix-builder-%s" % request.name, **ownership)
            if "security_group" in made:
                instance_tags[tagging.tag_key(self.backend.cloud, tagging.BUILDER_SECURITY_GROUP)] = made[
                    "security_group"
                ]
            if "key_pair" in made:
                instance_tags[tagging.tag_key(self.backend.cloud, tagging.BUILDER_KEY)] = key_name
            builder = self.backend.launch(
                name=request.name,
                image_id=base.id,
                instance_type=request.instance_type,
                subnet_id=network["subnet_id"],
                security_group_ids=group_ids,
                key_name=key_name,
                public_address=request.public_address,
                tags=instance_tags,
            )
            made["instance"] = builder
            builder = self._wait_running(builder)
        except Exception:
            # Nothing half-made is left to the TTL when this run can remove it now, not even what the
            # cloud made but never answered for: it carries this run's expiry time.
            self._find_unanswered(request.name, expires_at, made)
            self._undo(made, request.key_dir)
            raise
        outcome.builder = builder.to_dict()
        outcome.connection = self._connection(
            builder, request, key_path or self.backend.key_path(builder, request.key_dir)
        )
        return outcome

    def _find_unanswered(self, name, expires_at, made):
        """Add to ``made`` what this run made without learning of it (a create whose answer was lost)."""
        try:
            if "instance" not in made:
                for builder in self.backend.find(name):
                    if builder.state != GONE and builder.expires_at == expires_at:
                        made["instance"] = builder
            for leftover in self.backend.leftovers(name):
                if leftover.expires_at == expires_at:
                    made.setdefault(leftover.kind, leftover.id)
        except PhoenixError:
            pass  # the TTL tags let the reaper find them

    def _undo(self, made, key_dir):
        builder = made.get("instance")
        try:
            if builder is not None:
                self.backend.terminate(builder)
                self._wait_gone(builder)
            if "security_group" in made:
                self.backend.delete_security_group(made["security_group"])
            if "key_pair" in made:
                self.backend.delete_key_pair(made["key_pair"], key_dir)
        except PhoenixError:
            pass  # the TTL tags written with each resource let the reaper finish the job

    def _wait_gone(self, builder):
        return self.waiter.until(
            fetch=lambda: self.backend.get(builder.id),
            ready=lambda current: current is None or current.state == GONE,
            what="termination of builder %s (%s)" % (builder.id, builder.name),
        )

    def stopped(self, name):
        outcome = BuilderOutcome()
        builder = self._live(name)
        if builder is None:
            raise PhoenixError(
                "no builder named %r in %s" % (name, self.backend.region),
                resource=name,
                code="BuilderNotFound",
                cloud=self.backend.cloud,
                hint="Launch it with state: present.",
            )
        if builder.state != STOPPED:
            outcome.plan("stop_builder", instance_id=builder.id, name=name)
            if not self.check_mode:
                self.backend.stop(builder)
                builder = self.waiter.until(
                    fetch=lambda: self.backend.get(builder.id),
                    ready=lambda current: current is not None and current.state == STOPPED,
                    failed=lambda current: current.state if current is None or current.state == GONE else None,
                    what="builder %s (%s) to stop" % (builder.id, name),
                )
        outcome.builder = builder.to_dict()
        return outcome

    def absent(self, name, key_dir=None):
        outcome = BuilderOutcome()
        for builder in self.backend.find(name):
            self._remove(builder, key_dir, outcome)
        for leftover in self.backend.leftovers(name):
            self._remove_leftover(leftover, key_dir, outcome)
        return outcome

    def _remove(self, builder, key_dir, outcome):
        if builder.state == GONE:
            return
        outcome.plan("terminate_builder", instance_id=builder.id, name=builder.name)
        if not self.check_mode:
            self.backend.terminate(builder)
        outcome.reaped.append(builder.to_dict())

    def _remove_leftover(self, leftover, key_dir, outcome):
        outcome.plan("delete_%s" % leftover.kind, id=leftover.id, name=leftover.builder)
        if self.check_mode:
            return
        if leftover.kind == "security_group":
            # A security group cannot go while an instance still holds it: wait for its builders to end.
            for builder in self.backend.find(leftover.builder):
                if builder.state != GONE:
                    self._wait_gone(builder)
            self.backend.delete_security_group(leftover.id)
        else:
            self.backend.delete_key_pair(leftover.id, key_dir)

    def reap(self, key_dir=None, now=None):
        """Remove every builder, and everything made for one, whose expiry has passed."""
        now = now or utcnow()
        outcome = BuilderOutcome()
        expired_names = set()
        for builder in self.backend.find(None):
            if builder.state != GONE and is_expired(builder.expires_at, now):
                expired_names.add(builder.name)
                self._remove(builder, key_dir, outcome)
        for leftover in self.backend.leftovers(None):
            if leftover.builder in expired_names or is_expired(leftover.expires_at, now):
                self._remove_leftover(leftover, key_dir, outcome)
        return outcome
