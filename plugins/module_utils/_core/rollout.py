# Private to this collection.
"""Blue/green and canary rollouts of instance groups: a state machine whose state lives in the cloud.

A *service* is served by a *frontend*. The group serving it now is *blue*; a rollout builds *green*, a new
group launching the service's *base* with only the image changed, waits until green is healthy, moves
traffic to it step by step with a health gate at each step, keeps blue at full size for
``keep_blue_seconds`` and then retires blue. How traffic moves is the traffic backend's capability: by
weights between a backend of green's own and blue's (WEIGHTED), or, where a backend pool has no weights
(MEMBERSHIP), by attaching green to blue's pool with a share of its instances at each canary step.

Crash safety: the rollout's record (RolloutRecord) lives with green, in the adapter's RolloutStore. Each
phase is written there (with the time, the owner and a lease) *before* its action, and each action is
idempotent (find before create), so a run killed at any point is resumed by the next run on any
controller. Creating green with its first record is the lock: a name encodes the slot
(``<service>-a`` / ``<service>-b``), so a second concurrent rollout fails to create it and then finds the
first one's live lease.

Capacity: blue is never scaled down before green is healthy and serving everything; on failure traffic
goes back to blue (restored to its recorded size) before any part of green is deleted.
"""

from __future__ import annotations

import contextlib
import datetime
import math
import time
import uuid

from . import tags as tagging
from .backends import MEMBERSHIP
from .errors import InvalidInput, PhoenixError
from .health import HealthCheck, http_probe
from .rollout_model import (
    BLUE,
    DONE,
    GREEN,
    KEEP_BLUE,
    LAUNCH,
    LOCKED,
    MAX_REASON,
    ORDER,
    PAUSE,
    PAUSED,
    RETIRE_BLUE,
    ROLLING_BACK,
    SHIFT,
    TARGET,
    TEMPLATE,
    WAIT_HEALTHY,
    Context,
    RolloutBusy,
    RolloutFailed,
    RolloutRecord,
)
from .timeutil import format_utc, utcnow
from .waiter import Waiter, WaitTimeout

# What a finished rollout leaves in the record of the group that now serves: the rest was the rollout's.
ROLLOUT_ONLY_FIELDS = (
    "owner",
    "lease_until",
    "weight",
    "serving_since",
    "paused_in",
    "reason",
    "blue_group",
    "blue_size",
    "blue_backend",
    "blue_launch",
)
LEASE_FIELDS = ("phase", "phase_at", "owner", "lease_until")


class Rollout:
    def __init__(self, spec, groups, traffic, alarms, store, check_mode=False, verify=None, owner=None, **hooks):
        self.spec = spec
        self.groups = groups
        self.traffic = traffic
        self.store = store
        self.membership = traffic.split == MEMBERSHIP
        self.check_mode = check_mode
        self.verify = verify or (lambda image_id: None)
        self.owner = owner or uuid.uuid4().hex[:16]
        self.clock = hooks.get("clock", time.time)
        self.sleep = hooks.get("sleep", time.sleep)
        self.health = HealthCheck(spec.health, groups, traffic, alarms, probe=hooks.get("probe", http_probe))
        self.changed = False
        self.record = {
            "id": None,
            "service": spec.service,
            "from_image": None,
            "to_image": spec.image_id,
            "group": None,
            "previous_group": None,
            "strategy": spec.strategy,
            "phases": [],
            "plan": [],
            "state": None,
            "resumed_from": None,
            "superseded": None,
        }

    # -- what is there -----------------------------------------------------------------------------

    def _observe(self):
        groups = [group for group in self.groups.groups() if not group.deleting]
        mine = [group for group in groups if group.record is not None and group.record.service == self.spec.service]
        greens = [group for group in mine if group.record.role == GREEN]
        if len(greens) > 1:
            raise PhoenixError(
                "service %s has %d rollouts in progress (%s); expected at most one"
                % (self.spec.service, len(greens), ", ".join(group.name for group in greens)),
                resource=self.spec.service,
                hint="Run state=rolled_back, or delete the stray group by hand.",
            )
        shares = self.traffic.shares(self.spec.frontend)
        by_backend = {}
        # A pool shared by blue and green (MEMBERSHIP) is served by blue until the rollout has finished.
        for group in sorted(groups, key=lambda group: group.record is not None and group.record.role == GREEN):
            for backend in group.backends:
                by_backend.setdefault(backend, group)
        self._check_owner(groups, shares)
        serving = None
        for backend, share in sorted(shares.items(), key=lambda item: (-item[1], item[0])):
            if share > 0 and backend in by_backend:
                serving = by_backend[backend]
                break
        return greens[0] if greens else None, serving, shares

    def _check_owner(self, groups, shares):
        """Refuse a frontend that serves another service: nothing of that service is ever touched."""
        foreign = {}
        for group in groups:
            owner = group.record.service if group.record is not None else None
            if owner and owner != self.spec.service and any(shares.get(b, 0) > 0 for b in group.backends):
                foreign.setdefault(owner, []).append(group.name)
        if foreign:
            owners = sorted(foreign)
            raise PhoenixError(
                "%s serves service %s (group %s, marked %s), not service %s; nothing was changed"
                % (
                    self.spec.frontend,
                    " and ".join(owners),
                    ", ".join(sorted(name for owner in owners for name in foreign[owner])),
                    ", ".join(self.store.shown("service", owner) for owner in owners),
                    self.spec.service,
                ),
                resource=self.spec.frontend,
                code="ServiceMismatch",
                hint="Give the frontend of service %s, or service=%s to deploy that service."
                % (self.spec.service, owners[0]),
            )

    def image_of(self, group):
        if group.record is not None and group.record.image:
            return group.record.image
        return self.groups.image_of(group)

    def _check_lease(self, green):
        record = green.record
        until = record.lease_until or 0
        now = self.clock()
        if record.owner and record.owner != self.owner and until > now:
            left = int(until - now + 0.999)
            raise RolloutBusy(
                "service %s: rollout %s (image %s, group %s, phase %s) is in progress in another run; its lease "
                "runs until %s, %d s from now"
                % (
                    self.spec.service,
                    record.rollout,
                    record.image,
                    green.name,
                    record.phase,
                    format_utc(_from_epoch(until)),
                    left,
                ),
                resource=green.name,
                code="RolloutInProgress",
                hint="If that run is alive, wait for it to finish: it renews its lease while it works. If it died, "
                "its lease ends within %d s; then run again to resume it with the same image_id, or take it over "
                "with state=rolled_back to undo it." % left,
            )

    # -- recording ---------------------------------------------------------------------------------

    def _write(self, ctx, *fields):
        self.store.write(ctx.green, ctx.record, list(fields))

    def _enter(self, ctx, phase, **extra):
        """Record the phase in the cloud first, then in this run's report."""
        now = self.clock()
        record = ctx.record
        record.phase, record.phase_at, record.owner = phase, int(now), self.owner
        record.lease_until = int(now + self.spec.lease_seconds)
        for name, value in extra.items():
            setattr(record, name, value)
        self._write(ctx, *(LEASE_FIELDS + tuple(extra)))
        self.changed = True
        entry = {"phase": phase, "started": format_utc(_from_epoch(now))}
        entry.update({key: value for key, value in extra.items() if key in ("weight", "reason")})
        self.record["phases"].append(entry)
        return entry

    def _finish(self, entry, **evidence):
        entry["finished"] = format_utc(_from_epoch(self.clock()))
        entry.update(evidence)

    def _release(self, ctx):
        """Give the lease up as this run stops: the next run may resume at once. Best effort."""
        ctx.record.lease_until = 0
        with contextlib.suppress(PhoenixError):
            self._write(ctx, "lease_until")

    def _heartbeat(self, ctx):
        """Renew the lease once a third of it has passed: a live run keeps it, a dead one loses it soon."""
        now = self.clock()
        if (ctx.record.lease_until or 0) - now <= self.spec.lease_seconds * 2.0 / 3.0:
            ctx.record.owner, ctx.record.lease_until = self.owner, int(now + self.spec.lease_seconds)
            self._write(ctx, "owner", "lease_until")

    def _pause(self, seconds):
        """Sleep between checks, never longer than a third of the lease, so a heartbeat is never late."""
        self.sleep(max(0.05, min(seconds, self.spec.lease_seconds / 3.0)))

    def _waiter(self, ctx, timeout, end=None):
        """The collection's waiter on this rollout's clock, renewing the lease between polls (none past ``end``)."""

        def sleep(seconds):
            self._heartbeat(ctx)
            self._pause(seconds if end is None else min(seconds, end - self.clock()))

        interval = self.spec.health.interval
        return Waiter(timeout=timeout, delay=interval, max_delay=interval, sleep=sleep, clock=self.clock)

    # -- public ------------------------------------------------------------------------------------

    def deployed(self):
        """Converge on "spec.image_id serves all traffic of the service"."""
        self.verify(self.spec.image_id)
        green, serving, shares = self._observe()
        if green is not None:
            self._check_lease(green)
            record = green.record
            if record.phase == ROLLING_BACK or record.image != self.spec.image_id:
                if record.phase != ROLLING_BACK and not self.spec.supersede:
                    raise RolloutBusy(
                        "service %s: rollout %s of image %s is half done (phase %s, group %s); supersede is false"
                        % (self.spec.service, record.rollout, record.image, record.phase, green.name),
                        resource=green.name,
                        code="RolloutInProgress",
                        hint="Run it to the end with image_id=%s, roll it back with state=rolled_back, or set "
                        "supersede=true." % record.image,
                    )
                if self.check_mode:
                    self.record["plan"].append({"phase": ROLLING_BACK, "group": green.name, "image": record.image})
                else:
                    self.record["superseded"] = {"id": record.rollout, "image": record.image}
                    self._roll_back(Context(green.name, record), "superseded by image %s" % self.spec.image_id)
                    green, serving, shares = self._observe()
            else:
                return self._resume(Context(green.name, record))
        return self._start(serving, shares)

    def rolled_back(self):
        """Return traffic to the previous group and delete the candidate; after a finished swap, redeploy."""
        green, serving, shares = self._observe()
        if green is not None:
            self._check_lease(green)
            ctx = Context(green.name, green.record)
            record = ctx.record
            self.record.update(id=record.rollout, to_image=record.image, from_image=record.from_image)
            self.record.update(group=ctx.green, previous_group=record.blue_group)
            if self.check_mode:
                self.record["plan"] = [{"phase": ROLLING_BACK, "group": ctx.green, "back_to": record.blue_group}]
                self.record["state"] = "planned"
                return self._result(True, record.image, record.from_image)
            self._roll_back(ctx, "state=rolled_back requested")
            return self._result(True, record.image, record.from_image)
        if serving is None:
            raise self._nothing_serves(shares)
        record = serving.record or RolloutRecord()
        current = self.image_of(serving)
        if not record.previous_image or record.rolled_back_from or record.previous_image == current:
            self.record.update(state="rolled_back", from_image=current, to_image=current, group=serving.name)
            return self._result(False, current, current)
        self.spec.image_id = record.previous_image
        self.record["to_image"] = record.previous_image
        self.verify(record.previous_image)
        return self._start(serving, shares, rolled_back_from=current)

    # -- starting and resuming ---------------------------------------------------------------------

    def _nothing_serves(self, shares):
        return InvalidInput(
            "%s sends traffic to no instance group (backends: %s)"
            % (self.spec.frontend, ", ".join(sorted(shares)) or "none"),
            resource=self.spec.frontend,
            hint="Create the first group of service %s behind it; blue_green replaces it." % self.spec.service,
        )

    def _start(self, blue, shares, rolled_back_from=None):
        if blue is None:
            raise self._nothing_serves(shares)
        current = self.image_of(blue)
        blue_backends = [backend for backend in blue.backends if shares.get(backend, 0) > 0]
        only_blue = bool(blue_backends) and all(shares[b] == 0 for b in shares if b not in blue.backends)
        self.record.update(from_image=current, previous_group=blue.name)
        if current == self.spec.image_id and only_blue:
            self.record.update(state="serving", group=blue.name, previous_group=None)
            return self._result(False, current, current)
        base = self.groups.resolve_base(self.spec.base)
        size = self.spec.size or blue.size
        self._check_steps(size, blue.size)
        green = "%s-%s" % (self.spec.service, "b" if blue.name.endswith("-a") else "a")
        rollout_id = "%s-%s" % (format_utc(utcnow()).replace(":", "").replace("-", ""), uuid.uuid4().hex[:8])
        now = self.clock()
        record = RolloutRecord(
            service=self.spec.service,
            role=GREEN,
            image=self.spec.image_id,
            rollout=rollout_id,
            phase=LOCKED,
            phase_at=int(now),
            owner=self.owner,
            lease_until=int(now + self.spec.lease_seconds),
            from_image=current,
            blue_group=blue.name,
            blue_size=blue.size,
            blue_backend=blue_backends[0],
            blue_launch=blue.record.launch if blue.record is not None else None,
            size=size,
            base=base,
            rolled_back_from=rolled_back_from,
        )
        ctx = Context(green, record)
        self.record.update(id=rollout_id, group=green)
        if self.check_mode:
            self.record["plan"].extend(self._plan(ctx, LOCKED))
            self.record["state"] = "planned"
            return self._result(True, current, self.spec.image_id)
        subnets = self.spec.subnets or blue.subnets
        try:
            created = self.store.create(green, base, subnets, record)
        except PhoenixError:
            # The cloud may have applied the create and lost its answer: the group is then ours.
            if not self._is_mine(self._get_quietly(green), rollout_id):
                raise
            created = True
        taken = None if created else self.groups.get(green)
        if not created and not self._is_mine(taken, rollout_id):
            raise self._slot_taken(green, taken)
        self.changed = True
        self.record["phases"].append({"phase": LOCKED, "started": format_utc(_from_epoch(now)), "group": green})
        return self._run(ctx, TEMPLATE)

    def _slot_taken(self, green, taken):
        taken_record = taken.record if taken is not None and taken.record is not None else RolloutRecord()
        if taken is not None and taken_record.role == GREEN:
            self._check_lease(taken)
        if taken is not None and (taken.deleting or taken_record.service != self.spec.service):
            return RolloutBusy(
                "service %s: the slot's group name %s is taken by a group %s"
                % (self.spec.service, green, "still being deleted" if taken.deleting else "not of this service"),
                resource=green,
                code="SlotTaken",
                hint="Run again once it is deleted, or rename that group: %s-a and %s-b are the service's slots."
                % (self.spec.service, self.spec.service),
            )
        return RolloutBusy(
            "service %s: group %s exists already, another rollout took the slot%s"
            % (
                self.spec.service,
                green,
                " (rollout %s, image %s, phase %s)" % (taken_record.rollout, taken_record.image, taken_record.phase)
                if taken_record.rollout
                else "",
            ),
            resource=green,
            code="RolloutInProgress",
            hint="Run again: the rollout in progress is resumed or reported.",
        )

    def _check_steps(self, size, blue_size):
        """On a pool without weights a canary step is a share of instances: refuse steps that cannot differ."""
        if not self.membership:
            return
        counts = [(weight, self._members(size, weight)) for weight in self.spec.weights()]
        for (weight, count), (next_weight, next_count) in zip(counts, counts[1:]):
            if count >= next_count:
                raise InvalidInput(
                    "canary_steps %s and %s both mean %d of the %d instances of the new group next to the %d of "
                    "the serving one: this cloud's load balancer splits traffic by instances, not by weights"
                    % (weight, next_weight, count, size, blue_size),
                    resource=self.spec.service,
                    hint="Use fewer steps, or a larger size; nothing was changed.",
                )

    @staticmethod
    def _members(size, weight):
        """How many of green's instances serve at ``weight`` on a pool without weights."""
        return size if weight >= 100 else max(1, min(size, int(math.ceil(size * weight / 100.0))))

    def _is_mine(self, group, rollout_id):
        """The group this run created: its rollout id and owner are this run's (a retried create meets it)."""
        return (
            group is not None
            and not group.deleting
            and group.record is not None
            and group.record.rollout == rollout_id
            and group.record.owner == self.owner
        )

    def _get_quietly(self, name):
        try:
            return self.groups.get(name)
        except PhoenixError:
            return None

    def _resume(self, ctx):
        record = ctx.record
        phase = record.phase
        if phase == PAUSED:
            phase = record.paused_in or SHIFT
        self.record.update(
            id=record.rollout,
            from_image=record.from_image,
            group=ctx.green,
            previous_group=record.blue_group,
            resumed_from=phase,
        )
        if self.check_mode:
            self.record["plan"].extend(self._plan(ctx, phase))
            self.record["state"] = "planned"
            return self._result(True, record.from_image, record.image)
        return self._run(ctx, phase if phase in ORDER else TEMPLATE)

    def _plan(self, ctx, start):
        plan = []
        for phase in ORDER[ORDER.index(start) :]:
            if phase == SHIFT:
                weight = ctx.record.weight or 0
                plan.extend({"phase": SHIFT, "weight": w} for w in self.spec.weights() if w >= weight)
            elif phase == KEEP_BLUE:
                plan.append(
                    {"phase": KEEP_BLUE, "seconds": self.spec.keep_blue_seconds, "group": ctx.record.blue_group}
                )
            elif phase == LOCKED:
                plan.append({"phase": LOCKED, "group": ctx.green, "size": self._size(ctx)})
            else:
                plan.append({"phase": phase})
        return plan

    def _size(self, ctx):
        return ctx.record.size or ctx.record.blue_size or 1

    def _wanted(self, ctx):
        """Green's size now: all of it, or on a pool without weights its share at the current step."""
        if not self.membership:
            return self._size(ctx)
        return self._members(self._size(ctx), ctx.record.weight or self.spec.weights()[0])

    # -- the phases --------------------------------------------------------------------------------

    def _run(self, ctx, start):
        try:
            for phase in ORDER[ORDER.index(start) :]:
                getattr(self, "_do_" + phase)(ctx)
        except _GateFailed as failure:
            self._on_failure(ctx, failure)
        except PhoenixError:
            self._release(ctx)
            raise
        self.record["state"] = "deployed"
        return self._result(True, ctx.record.from_image, ctx.record.image)

    def _do_locked(self, ctx):
        """Nothing to do: resuming at ``locked`` means the group exists with its first record."""

    def _do_template(self, ctx):
        entry = self._enter(ctx, TEMPLATE)
        record = ctx.record
        launch = self.groups.prepare_launch(record.base, record.image, record.rollout)
        record.launch = launch
        self._finish(entry, launch=launch, image=record.image)

    def _backend(self, ctx):
        if ctx.backend is None:
            if self.membership:
                ctx.backend = ctx.record.blue_backend
            else:
                found = self.traffic.find_backend(ctx.green)
                ctx.backend = found.id if found is not None else None
        return ctx.backend

    def _do_target(self, ctx):
        entry = self._enter(ctx, TARGET, launch=ctx.record.launch)
        record = ctx.record
        if self.membership:
            ctx.backend = record.blue_backend
        else:
            backend = self.traffic.find_backend(ctx.green)
            if backend is None:
                model = self.traffic.backend(record.blue_backend)
                if model is None:
                    raise PhoenixError(
                        "the backend %s of group %s is gone" % (record.blue_backend, record.blue_group),
                        resource=record.blue_group,
                    )
                backend = self.traffic.create_backend_like(ctx.green, model, {tagging.SERVICE: self.spec.service})
            ctx.backend = backend.id
        self._finish(entry, target=ctx.backend)

    def _do_launch(self, ctx):
        entry = self._enter(ctx, LAUNCH)
        size = self._wanted(ctx)
        # Behind weights green's own backend gets no traffic yet; a pool without weights sends traffic to every
        # member, so there green joins blue's pool only at the first step.
        if not self.membership:
            group = self.groups.get(ctx.green)
            if group is not None and self._backend(ctx) not in group.backends:
                self.traffic.attach(ctx.green, ctx.backend)
        self.groups.launch(ctx.green, ctx.record.launch, size)
        self._finish(entry, size=size)

    def _do_wait_healthy(self, ctx):
        entry = self._enter(ctx, WAIT_HEALTHY)
        backend = None if self.membership else self._backend(ctx)
        needed = self.spec.health.healthy_for_seconds
        size = self._wanted(ctx)
        state = {"since": None, "checks": 0, "evidence": {}, "problems": []}

        def fetch():
            problems, state["evidence"] = self.health.check(ctx.green, backend, size)
            state["checks"] += 1
            state["problems"] = problems
            now = self.clock()
            state["since"] = None if problems else (state["since"] if state["since"] is not None else now)
            return problems

        def ready(problems):
            return state["since"] is not None and self.clock() - state["since"] >= needed

        try:
            self._waiter(ctx, self.spec.timeout).until(fetch, ready, "group %s to be healthy" % ctx.green)
        except WaitTimeout:
            problems = state["problems"]
            self._finish(entry, checks=state["checks"], evidence=state["evidence"])
            raise _GateFailed(
                WAIT_HEALTHY,
                "group %s not healthy within %ss: %s"
                % (ctx.green, self.spec.timeout, "; ".join(problems) or "not healthy long enough"),
                state["evidence"],
            ) from None
        self._finish(entry, checks=state["checks"], evidence=state["evidence"])

    def _do_shift(self, ctx):
        self._backend(ctx)
        for weight in self.spec.weights():
            if weight < (ctx.record.weight or 0):
                continue
            entry = self._enter(ctx, SHIFT, weight=weight)
            self._set_split(ctx, weight)
            evidence = self._gate(ctx, self.spec.step_seconds, SHIFT)
            self._finish(entry, evidence=evidence)

    def _do_keep_blue(self, ctx):
        record = ctx.record
        if record.serving_since is None:
            record.serving_since = self.clock()
        entry = self._enter(ctx, KEEP_BLUE, serving_since=int(record.serving_since))
        remaining = record.serving_since + self.spec.keep_blue_seconds - self.clock()
        evidence = self._gate(ctx, max(0, remaining), KEEP_BLUE)
        self._finish(entry, evidence=evidence)

    def _do_retire_blue(self, ctx):
        entry = self._enter(ctx, RETIRE_BLUE)
        record = ctx.record
        self._backend(ctx)
        retired = {"group": record.blue_group}
        if self.membership or self.traffic.shares(self.spec.frontend).get(record.blue_backend, 0) > 0:
            self._set_split(ctx, 100)
        blue = self.groups.get(record.blue_group)
        if blue is not None and not blue.deleting:
            self.groups.resize(record.blue_group, 0)
            self.groups.delete(record.blue_group)
        # The slot's name is free for the next rollout only once the cloud has finished deleting.
        self._wait_gone(ctx, record.blue_group)
        if record.blue_backend and record.blue_backend != ctx.backend:
            self.traffic.delete_backend(record.blue_backend)
            retired["target"] = record.blue_backend
        if record.blue_launch:
            self.groups.discard_launch(record.blue_launch)
            retired["launch"] = record.blue_launch
        self._finish(entry, retired=retired)

    def _do_done(self, ctx):
        record = ctx.record
        record.role, record.phase, record.phase_at = BLUE, DONE, int(self.clock())
        record.previous_image = record.from_image
        done = ("role", "phase", "phase_at", "previous_image")
        if record.rolled_back_from:
            self._write(ctx, *(done + ("rolled_back_from",)))
            stale = ROLLOUT_ONLY_FIELDS
        else:
            self._write(ctx, *done)
            stale = ROLLOUT_ONLY_FIELDS + ("rolled_back_from",)
        for name in stale:
            setattr(record, name, None)
        self.store.clear(ctx.green, list(stale))
        self.changed = True
        self.record["phases"].append({"phase": DONE, "started": format_utc(_from_epoch(self.clock()))})

    # -- traffic, gates and failure ----------------------------------------------------------------

    def _set_split(self, ctx, weight):
        ctx.record.weight = weight
        if self.membership:
            self._set_members(ctx, weight)
            return
        if weight >= 100:
            shares = {ctx.backend: 100}
        elif weight <= 0:
            shares = {ctx.record.blue_backend: 100}
        else:
            shares = {ctx.record.blue_backend: 100 - weight, ctx.backend: weight}
        if self.traffic.shares(self.spec.frontend) != shares:
            self.traffic.set_shares(self.spec.frontend, shares)

    def _set_members(self, ctx, weight):
        """A pool without weights: green's share of instances at ``weight``; blue leaves the pool at 100."""
        record, backend = ctx.record, ctx.record.blue_backend
        green = self.groups.get(ctx.green)
        wanted = self._wanted(ctx)
        if green is not None and green.size != wanted:
            self.groups.resize(ctx.green, wanted)
            self._wait_until(
                ctx,
                lambda: not self.health.check(ctx.green, None, wanted, with_probe=False)[0],
                "group %s to be healthy at size %d" % (ctx.green, wanted),
            )
        if green is not None and backend not in green.backends:
            self.traffic.attach(ctx.green, backend)
        if weight >= 100:
            blue = self.groups.get(record.blue_group)
            if blue is not None and backend in blue.backends:
                self.traffic.detach(record.blue_group, backend)

    def _gate(self, ctx, seconds, phase):
        """Health checked at once and then every ``interval`` for ``seconds``; any problem fails the step."""
        end = self.clock() + seconds
        state = {"checks": 0, "evidence": {}}
        size = self._wanted(ctx)

        def fetch():
            problems, state["evidence"] = self.health.check(ctx.green, self._backend(ctx), size)
            state["checks"] += 1
            return problems

        def failed(problems):
            if problems:
                raise _GateFailed(phase, "; ".join(problems), state["evidence"], weight=ctx.record.weight or 0)

        self._waiter(ctx, seconds + self.spec.timeout, end=end).until(
            fetch, lambda problems: self.clock() >= end, "%s of group %s" % (phase, ctx.green), failed=failed
        )
        state["evidence"]["checks"] = state["checks"]
        return state["evidence"]

    def _wait_until(self, ctx, done, what):
        try:
            self._waiter(ctx, self.spec.timeout).until(done, bool, what)
        except WaitTimeout as timeout:
            timeout.resource = ctx.green
            timeout.hint = "Run again: the rollout resumes where it stopped."
            raise

    def _wait_gone(self, ctx, name):
        self._wait_until(ctx, lambda: self.groups.get(name) is None, "group %s to be deleted" % name)

    def _on_failure(self, ctx, failure):
        record = ctx.record
        where = failure.phase + (" at weight %d" % failure.weight if failure.phase == SHIFT else "")
        reason = "%s: %s" % (where, failure.reason)
        if self.record["phases"]:
            self.record["phases"][-1].setdefault("evidence", failure.evidence)
            self.record["phases"][-1]["failure"] = failure.reason
        if self.spec.on_failure == PAUSE:
            self._enter(ctx, PAUSED, paused_in=failure.phase, reason=reason[:MAX_REASON])
            self._release(ctx)
            self.record["state"] = "paused"
            raise RolloutFailed(
                "rollout %s of %s paused in %s; traffic stays where it is"
                % (record.rollout, self.spec.service, reason),
                resource=ctx.green,
                code="RolloutPaused",
                hint="Fix and run again to resume, or run state=rolled_back.",
                details=self._result(True, record.from_image, record.image),
            )
        self._roll_back(ctx, reason)
        raise RolloutFailed(
            "rollout %s of image %s to %s failed in %s; rolled back: traffic is on %s again and %s is deleted"
            % (record.rollout, record.image, self.spec.service, reason, record.blue_group, ctx.green),
            resource=ctx.green,
            code="RolledBack",
            hint="Look at rollout.phases for the health evidence.",
            details=self._result(True, record.from_image, record.from_image),
        )

    def _roll_back(self, ctx, reason):
        """Traffic back to blue at its recorded size, then green deleted, the group (the record) last."""
        entry = self._enter(ctx, ROLLING_BACK, reason=reason[:MAX_REASON])
        record = ctx.record
        blue = self.groups.get(record.blue_group) if record.blue_group else None
        if blue is None:
            raise PhoenixError(
                "cannot roll back rollout %s: the previous group %s is gone" % (record.rollout, record.blue_group),
                resource=ctx.green,
                hint="Deploy the previous image %s with state=deployed." % record.from_image,
            )
        if blue.backends and not record.blue_backend:
            record.blue_backend = blue.backends[0]
        blue_size = record.blue_size or 0
        if blue.size < blue_size:
            # Blue was being retired: back to its size, and healthy, before it takes traffic again.
            self.groups.resize(record.blue_group, blue_size)
            entry["restored_size"] = blue_size
            self._wait_until(
                ctx,
                lambda: not self.health.check(record.blue_group, record.blue_backend, blue_size, with_probe=False)[0],
                "group %s to be healthy at size %d again" % (record.blue_group, blue_size),
            )
        if self.membership:
            if record.blue_backend not in blue.backends:
                self.traffic.attach(record.blue_group, record.blue_backend)
            self.traffic.detach(ctx.green, record.blue_backend)
            backend = None
        else:
            backend = self.traffic.find_backend(ctx.green)
            self.traffic.set_shares(self.spec.frontend, {record.blue_backend: 100})
        self.groups.resize(ctx.green, 0)
        if backend is not None:
            self.traffic.delete_backend(backend.id)
        base = record.base or self.groups.resolve_base(self.spec.base)
        for launch in self.groups.prepared_launches(base, record.rollout):
            self.groups.discard_launch(launch)
        self.groups.delete(ctx.green)
        self._wait_gone(ctx, ctx.green)
        self._finish(entry, back_to=record.blue_group)
        self.record["state"] = "rolled_back"
        self.changed = True

    def _result(self, changed, before_image, after_image):
        record = dict(self.record)
        result = {
            "changed": bool(changed and (self.changed or self.check_mode)),
            "rollout": record,
            "diff": {
                "before": {"image": before_image, "group": record.get("previous_group") or record.get("group")},
                "after": {"image": after_image, "group": record.get("group")},
            },
        }
        return result


class _GateFailed(Exception):
    def __init__(self, phase, reason, evidence, weight=0):
        super().__init__(reason)
        self.phase = phase
        self.reason = reason
        self.evidence = evidence
        self.weight = weight


def _from_epoch(seconds):
    return datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc)
