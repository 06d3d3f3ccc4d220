# Private to this collection.
"""Blue/green and canary rollouts of instance groups: a state machine whose state lives in the cloud.

A *service* is served by a *frontend*. The group serving it now is *blue*; a rollout builds *green*, a new
group launching the service's *base* with only the image changed, waits until green is healthy, moves
traffic to it step by step with a health gate at each step, keeps blue at full size for
``keep_blue_seconds`` and then retires blue. How traffic moves is the traffic backend's capability: by
weights between a backend of green's own and blue's (WEIGHTED), or, where a backend pool has no weights
(MEMBERSHIP), by attaching green to blue's pool with a share of its instances at each canary step.

Crash safety: the rollout's record (RolloutRecord) lives with green, in the adapter's RolloutStore. Each
transition a resume needs is written there (with the time, the owner and a renewed lease) *before* its
action: the lock, green launched, each traffic step, a keep-blue wait, and ``done`` as blue is retired (with
what is left to retire still named, cleared in one go at the end). Every action is idempotent (find before
create), so the phases in between need no record of their own: a run killed at any point is resumed by the
next run on any controller, which does them again. Creating green with its first record (and attached to
its backend) is the lock: a name encodes the slot (``<service>-a`` / ``<service>-b``), so a second
concurrent rollout fails to create it and then finds the first one's live lease.

Progress: ``report`` (a hook like ``clock`` and ``sleep``) gets one short line per phase or step, the service
first, and at most one line per 30 s of a long wait.

Capacity: blue is never scaled down before green is healthy and serving everything; on failure traffic
goes back to blue (restored to its recorded size) before any part of green is deleted.
"""

from __future__ import annotations

import time
import uuid

from .backends import MEMBERSHIP
from .errors import InvalidInput, PhoenixError
from .health import HealthCheck, http_probe
from .rollout_model import (
    BLUE,
    DONE,
    GREEN,
    KEEP_BLUE,
    LOCKED,
    ORDER,
    PAUSED,
    RETIRE_BLUE,
    ROLLING_BACK,
    SHIFT,
    TEMPLATE,
    Context,
    RolloutBusy,
    RolloutRecord,
)
from .rollout_phases import RolloutPhases, from_epoch
from .timeutil import format_utc, utcnow
from .waiter import Waiter


class Rollout(RolloutPhases):
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
        self.report = hooks.get("report") or (lambda line: None)
        self.health = HealthCheck(spec.health, groups, traffic, alarms, probe=hooks.get("probe", http_probe))
        self.changed = False
        self._started = {}
        self._seen = {}
        self._proven_at_full = False  # this run's health gate at 100% passed
        self._shares = None  # the frontend's shares as this run read them, then as it set them
        self._deleting = set()  # names of groups the cloud is still deleting
        self._fleet_read = None  # ((group, backend, size), (problems, evidence)) of this run's last passing read
        self._last_health = None
        self._began = self.clock()
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
        listed = self.groups.groups()
        self._deleting = {group.name for group in listed if group.deleting}
        groups = [group for group in listed if not group.deleting]
        self._seen = {group.name: group for group in groups}
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
        self._shares = dict(shares)
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
                    format_utc(from_epoch(until)),
                    left,
                ),
                resource=green.name,
                code="RolloutInProgress",
                hint="If that run is alive, wait for it to finish: it renews its lease while it works. If it died, "
                "its lease ends within %d s; then run again to resume it with the same image_id, or take it over "
                "with state=rolled_back to undo it." % left,
            )

    # -- public ------------------------------------------------------------------------------------

    def deployed(self):
        """Converge on "spec.image_id serves all traffic of the service"."""
        self.verify(self.spec.image_id)
        green, serving, shares = self._observe()
        if green is None and self._retiring(serving):
            self._check_lease(serving)
            if serving.record.image == self.spec.image_id:
                return self._resume(self._context(serving), RETIRE_BLUE)
            if self.check_mode:
                self.record["plan"].extend({"phase": phase, "group": serving.name} for phase in (RETIRE_BLUE, DONE))
            else:
                self._phases(self._context(serving), RETIRE_BLUE)
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
                    self._roll_back(self._context(green), "superseded by image %s" % self.spec.image_id)
                    green, serving, shares = self._observe()
            else:
                return self._resume(self._context(green))
        return self._start(serving, shares)

    def rolled_back(self):
        """Return traffic to the previous group and delete the candidate; after a finished swap, redeploy."""
        green, serving, shares = self._observe()
        if green is None and self._retiring(serving):
            # A finished swap whose run died retiring blue: the retirement is finished first.
            self._check_lease(serving)
            if not self.check_mode:
                self._phases(self._context(serving), RETIRE_BLUE)
                green, serving, shares = self._observe()
        if green is not None:
            self._check_lease(green)
            ctx = self._context(green)
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

    def status(self):
        """The service's rollout as the cloud holds it now, read only: what a second terminal or a dashboard shows."""
        green, serving, shares = self._observe()
        groups = self._seen
        view = {"service": self.spec.service, "frontend": self.spec.frontend}
        view["shares"] = {
            backend: {"weight": share, "groups": sorted(g.name for g in groups.values() if backend in g.backends)}
            for backend, share in sorted(shares.items())
        }
        if green is None:
            view.update(state="serving" if serving is not None else "not_serving", rollout=None, phase=None)
            view["serving"] = self._group_view(serving) if serving is not None else None
            if serving is not None:
                view["serving"]["image"] = self.image_of(serving)
            if self._retiring(serving):
                # Done, but the run died retiring blue: the next run finishes it.
                view.update(state="retiring", rollout=serving.record.rollout, phase=RETIRE_BLUE)
                view["blue"] = (
                    self._group_view(groups[serving.record.blue_group]) if serving.record.blue_group in groups else None
                )
            return view
        record = green.record
        now = self.clock()
        until = record.lease_until or 0
        state = {PAUSED: "paused", ROLLING_BACK: "rolling_back"}.get(record.phase, "in_progress")
        view.update(
            state=state,
            rollout=record.rollout,
            phase=record.paused_in if record.phase == PAUSED else record.phase,
            phase_at=format_utc(from_epoch(record.phase_at)) if record.phase_at else None,
            weight=record.weight or 0,
            image=record.image,
            from_image=record.from_image,
            reason=record.reason,
            green=self._group_view(green),
            blue=self._group_view(groups.get(record.blue_group)) if record.blue_group in groups else None,
            lease={
                "owner": record.owner,
                "until": format_utc(from_epoch(until)) if until else None,
                "seconds_left": max(0, int(until - now + 0.999)) if until else 0,
                "held": bool(record.owner) and until > now,
            },
        )
        ctx = self._context(green)
        backend = None if self.membership and not record.weight else self._backend(ctx)
        problems, evidence = self.health.check(green.name, backend, self._wanted(ctx), with_probe=False)
        view["health"] = {"problems": problems, "evidence": evidence}
        return view

    @staticmethod
    def _group_view(group):
        live = group.live_instances()
        return {
            "name": group.name,
            "size": group.size,
            "in_service": len(live),
            "healthy": sum(1 for instance in live if instance.healthy),
            "image": group.record.image if group.record is not None else None,
        }

    # -- starting and resuming ---------------------------------------------------------------------

    def _retiring(self, serving):
        """Whether the serving group is this service's, done, with blue still to retire (a run died retiring)."""
        record = serving.record if serving is not None else None
        return (
            record is not None
            and record.service == self.spec.service
            and record.role == BLUE
            and record.phase == DONE
            and bool(record.blue_group)
        )

    def _context(self, group):
        """The rollout of ``group`` (green, or a finished one retiring blue), with the backends it is attached to."""
        record = group.record
        ctx = Context(group.name, record, attached=list(group.backends))
        if not self.membership:
            own = [backend for backend in group.backends if backend != record.blue_backend]
            ctx.backend = own[0] if own else None
        return ctx

    def _wait_for_slot(self, name):
        """A group of the slot's name still being deleted (blue of the last rollout): wait until it is gone."""
        if name not in self._deleting:
            return
        interval = self.spec.health.interval
        waiter = Waiter(
            timeout=self.spec.timeout, delay=interval, max_delay=interval, sleep=self.sleep, clock=self.clock
        )
        self._say("waiting for %s to be deleted" % name)
        waiter.until(lambda: self.groups.get(name, with_members=False) is None, bool, "group %s to be deleted" % name)

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
        if green in self._seen:
            # The slot's name is taken by a group this run has seen: refused before anything is made.
            raise self._slot_taken(green, self._seen[green])
        self._wait_for_slot(green)
        subnets = self.spec.subnets or blue.subnets
        # Green's own backend first, so that the lock creates green attached to it in the same call. Made before
        # the lock, it is found by its name by whichever run (or retry) makes it again.
        if not self.membership:
            ctx.backend = self._new_backend(ctx).id
        ctx.attached = [ctx.backend] if ctx.backend else []
        try:
            created = self.store.create(green, base, subnets, record, ctx.attached)
        except PhoenixError:
            # The cloud may have applied the create and lost its answer: the group is then ours.
            if not self._is_mine(self._get_quietly(green), rollout_id):
                raise
            created = True
        taken = None if created else self.groups.get(green, with_members=False)
        if not created and not self._is_mine(taken, rollout_id):
            raise self._slot_taken(green, taken)
        self.changed = True
        self.record["phases"].append({"phase": LOCKED, "started": format_utc(from_epoch(now)), "group": green})
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
            return self.groups.get(name, with_members=False)
        except PhoenixError:
            return None

    def _resume(self, ctx, phase=None):
        record = ctx.record
        phase = phase or record.phase
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
