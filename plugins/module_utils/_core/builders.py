# Private to this collection.
"""Temporary build instances: launched from a base image, provisioned, imaged, always torn down.

Everything a builder owns (the instance, and the access rule and SSH key made for it) carries the builder's
name and an expiry time in its tags or labels, written before or with the resource itself. So whatever a
crashed bake left behind can be found and reaped later by anyone, from the cloud alone: no local state.
"""

from __future__ import annotations

import datetime
from dataclasses import asdict, dataclass, field, replace

from . import tags as tagging
from .errors import InvalidInput, PhoenixError
from .model import newest_first
from .pace import Pace, no_report
from .timeutil import format_utc, parse_utc, utcnow

# Normalised builder states; each adapter maps its cloud's instance states onto these.
STARTING = "starting"
RUNNING = "running"
STOPPING = "stopping"
STOPPED = "stopped"
GONE = "gone"
BUILDER_FAILED = "failed"

# What is made for a builder, besides the instance; each cloud names them in BuilderBackend.kinds.
ACCESS_RULE = "access_rule"
SSH_KEY = "ssh_key"
# A part of a builder its cloud keeps apart from the instance and deletes only when asked (a network interface,
# a public address, a disk, where instances do not own them), reported by leftovers once the instance is gone.
PART = "part"

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
    machine_type: str = ""
    subnet: str = ""
    private_address: str | None = None
    public_address: str | None = None
    access_rule_id: str | None = None
    ssh_key: str | None = None
    # What was made for this builder and goes with it (None when the user gave their own).
    owned_access_rule: str | None = None
    owned_ssh_key: str | None = None
    expires_at: str | None = None
    launched: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    state_reason: str | None = None

    def to_dict(self):
        return asdict(self)


@dataclass(frozen=True)
class Leftover:
    """An access rule or SSH key made for a builder, found on its own (its builder is gone or never was)."""

    kind: str  # ACCESS_RULE, SSH_KEY or PART
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
    machine_type: str | None = None  # None: the cloud's default (BuilderBackend.defaults)
    subnet: str | None = None
    access_rule_ids: list[str] = field(default_factory=list)
    ssh_cidrs: list[str] = field(default_factory=list)
    ssh_key: str | None = None
    key_dir: str | None = None
    public_address: bool = False
    ttl_seconds: int = 4 * 3600
    tags: dict[str, str] = field(default_factory=dict)
    user: str | None = None  # None: the cloud's default


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
    """Decides what to launch, stop or delete; ``backend`` (a BuilderBackend) translates for one cloud.

    ``report(line)`` hears one line per phase (launched, running and waiting for SSH, reachable, stopped,
    torn down) and, during a long wait, at most one line per ``pace.WAIT_LINE_SECONDS``.
    """

    def __init__(self, backend, images, waiter, check_mode=False, report=no_report):
        self.backend = backend
        self.images = images
        self.waiter = waiter
        self.check_mode = check_mode
        self.report = report

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
        pace = Pace(self.report)
        said = set()

        def ready(current):
            if current is None or current.state != RUNNING:
                return False
            if self.backend.reachable(current):
                return True
            if "running" not in said:
                said.add("running")
                self.report("builder %s: %s running, waiting for ssh" % (builder.name, builder.id))
            return False

        def fetch():
            current = self.backend.get(builder.id)
            pace.maybe(
                lambda: (
                    "builder %s: %s %s, %d s of %d s"
                    % (
                        builder.name,
                        builder.id,
                        "waiting for ssh" if current is not None and current.state == RUNNING else "starting",
                        pace.elapsed(),
                        self.waiter.timeout,
                    )
                )
            )
            return current

        running = self.waiter.until(
            fetch=fetch,
            ready=ready,
            failed=lambda current: (
                (current.state_reason or current.state)
                if current is not None and current.state in (GONE, BUILDER_FAILED)
                else None
            ),
            what="builder %s (%s) in %s" % (builder.id, builder.name, self.backend.region),
            current=builder,
        )
        self.report("builder %s: %s reachable after %d s" % (builder.name, builder.id, pace.elapsed()))
        return running

    def _connection(self, builder, request, key_path):
        address = builder.public_address if request.public_address else builder.private_address
        return {
            "host": address or builder.private_address or builder.public_address,
            "user": self._or_default("user", request.user, "connection_user"),
            "key_path": key_path,
            "instance_id": builder.id,
        }

    def _or_default(self, option, given, parameter):
        """``given``, else the adapter's default for ``option``; a cloud without one needs it from the user."""
        value = given or self.backend.defaults.get(option)
        if not value:
            raise InvalidInput(
                "give %s: %s has no default for it" % (parameter, self.backend.cloud), resource=parameter
            )
        return value

    def _in_cloud_words(self, values):
        """``values`` and, beside each neutral key, its copy under the cloud's name (``backend.result_aliases``)."""
        aliased = dict(values)
        for alias, neutral in self.backend.result_aliases.items():
            if neutral in values:
                aliased[alias] = values[neutral]
        return aliased

    def _plan(self, outcome, action, **details):
        outcome.plan(action, **self._in_cloud_words(details))

    def _result(self, builder):
        return self._in_cloud_words(builder.to_dict())

    def _key(self, name):
        return self.backend.codec.key(name)

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
            outcome.builder = self._result(current)
            outcome.connection = self._connection(current, request, self.backend.key_path(current, request.key_dir))
            return outcome

        base = self.resolve_base(request)
        outcome.base_image = base.to_dict()
        machine_type = self._or_default("machine_type", request.machine_type, "machine_type")
        user = self._or_default("user", request.user, "connection_user")
        network = self.backend.network(request.subnet)
        ownership = {
            self._key(tagging.MANAGED): "true",
            self._key(tagging.BUILDER): request.name,
            self._key(tagging.EXPIRES_AT): expires_at,
        }
        tagging.validate_tags(
            dict(request.tags, **ownership), self.backend.tag_limits, resource="builder %r" % request.name
        )
        self._plan(
            outcome,
            "launch_builder",
            name=request.name,
            image_id=base.id,
            subnet=network["subnet"],
            machine_type=machine_type,
            expires_at=expires_at,
        )
        ssh_cidrs = request.ssh_cidrs or [network["cidr"]]
        if not request.access_rule_ids:
            self._plan(
                outcome,
                "create_%s" % self.backend.kinds[ACCESS_RULE],
                name=request.name,
                network=network["network"],
                ssh_cidrs=ssh_cidrs,
            )
        if not request.ssh_key:
            self._plan(outcome, "create_%s" % self.backend.kinds[SSH_KEY], name=request.name)
        if self.check_mode:
            return outcome

        made = {}
        try:
            rule_ids = list(request.access_rule_ids)
            if not rule_ids:
                made[ACCESS_RULE] = self.backend.create_access_rule(request.name, network, ssh_cidrs, ownership)
                rule_ids = [made[ACCESS_RULE]]
            ssh_key, key_path = request.ssh_key, None
            if not ssh_key:
                ssh_key, key_path = self.backend.create_ssh_key(request.name, request.key_dir, ownership)
                made[SSH_KEY] = ssh_key
            instance_tags = dict(request.tags, **ownership)
            if ACCESS_RULE in made:
                instance_tags[self._key(tagging.BUILDER_ACCESS_RULE)] = made[ACCESS_RULE]
            if SSH_KEY in made:
                instance_tags[self._key(tagging.BUILDER_SSH_KEY)] = ssh_key
            builder = self.backend.launch(
                name=request.name,
                image_id=base.id,
                machine_type=machine_type,
                subnet=network["subnet"],
                access_rule_ids=rule_ids,
                ssh_key=self.backend.login_key(ssh_key, user),
                public_address=request.public_address,
                tags=instance_tags,
            )
            made["instance"] = builder
            self.report("builder %s: launched %s from %s" % (request.name, builder.id, base.id))
            builder = self._wait_running(builder)
        except Exception:
            # Nothing half-made is left to the TTL when this run can remove it now, not even what the
            # cloud made but never answered for: it carries this run's expiry time.
            self._find_unanswered(request.name, expires_at, made)
            self._undo(made, request.key_dir)
            raise
        outcome.builder = self._result(builder)
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
            if ACCESS_RULE in made:
                self.backend.delete_access_rule(made[ACCESS_RULE])
            if SSH_KEY in made:
                self.backend.delete_ssh_key(made[SSH_KEY], key_dir)
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
            self._plan(outcome, "stop_builder", instance_id=builder.id, name=name)
            if not self.check_mode:
                self.backend.stop(builder)
                builder = self.waiter.until(
                    fetch=lambda: self.backend.get(builder.id),
                    ready=lambda current: current is not None and current.state == STOPPED,
                    failed=lambda current: current.state if current is None or current.state == GONE else None,
                    what="builder %s (%s) to stop" % (builder.id, name),
                )
        outcome.builder = self._result(builder)
        return outcome

    def absent(self, name, key_dir=None):
        outcome = BuilderOutcome()
        ended = {}
        for builder in self.backend.find(name):
            self._remove(builder, key_dir, outcome, ended)
        for leftover in self.backend.leftovers(name):
            self._remove_leftover(leftover, key_dir, outcome, ended)
        if outcome.changed and not self.check_mode:
            self.report(
                "builder %s: torn down (%s)" % (name, ", ".join(action["action"] for action in outcome.actions))
            )
        return outcome

    def _remove(self, builder, key_dir, outcome, ended):
        """Terminate it; ``ended`` (by builder name) gets it as the cloud answered (None: unknown), for
        ``_remove_leftover``."""
        if builder.state == GONE:
            return
        self._plan(outcome, "terminate_builder", instance_id=builder.id, name=builder.name)
        if not self.check_mode:
            answered = self.backend.terminate(builder)
            if answered is None:
                ended[builder.name] = None  # the cloud did not say: its builders are listed again
            elif ended.get(builder.name, []) is not None:
                ended.setdefault(builder.name, []).append(replace(builder, state=answered))
        outcome.reaped.append(self._result(builder))

    def _remove_leftover(self, leftover, key_dir, outcome, ended):
        self._plan(outcome, "delete_%s" % self.backend.kinds[leftover.kind], id=leftover.id, name=leftover.builder)
        if self.check_mode:
            return
        if leftover.kind == SSH_KEY:
            self.backend.delete_ssh_key(leftover.id, key_dir)
            return
        # Some clouds refuse to delete a rule or a part an instance still holds: wait for its builders to end
        # first (those this run terminated, as the cloud answered; others of that name, as the cloud lists them).
        builders = ended.get(leftover.builder)
        if builders is None:
            builders = self.backend.find(leftover.builder)
        for builder in builders:
            if builder.state != GONE:
                self._wait_gone(builder)
        if leftover.kind == ACCESS_RULE:
            self.backend.delete_access_rule(leftover.id)
        else:
            self.backend.delete_part(leftover.id)

    def reap(self, key_dir=None, now=None):
        """Remove every builder, and everything made for one, whose expiry has passed."""
        now = now or utcnow()
        outcome = BuilderOutcome()
        expired_names = set()
        ended = {}
        for builder in self.backend.find(None):
            if builder.state != GONE and is_expired(builder.expires_at, now):
                expired_names.add(builder.name)
                self._remove(builder, key_dir, outcome, ended)
        for leftover in self.backend.leftovers(None):
            if leftover.builder in expired_names or is_expired(leftover.expires_at, now):
                self._remove_leftover(leftover, key_dir, outcome, ended)
        return outcome
