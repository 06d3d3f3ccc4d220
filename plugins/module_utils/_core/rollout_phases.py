# Private to this collection.
"""The rollout's phases and what they do: the record written before each transition a resume needs, traffic,
gates and rollback, and one progress line per phase or step.

``RolloutPhases`` is the half of ``rollout.Rollout`` that acts; the other half observes the service,
decides where to start or resume, and plans. Every action here is safe to run again, so a phase that writes
no record of its own (template, target, wait_healthy, retire_blue) is simply done again by a resumed run.
"""

from __future__ import annotations

import contextlib
import datetime
import math

from . import tags as tagging
from .backends import MEMBERSHIP
from .errors import PhoenixError
from .rollout_model import (
    BLUE,
    DONE,
    KEEP_BLUE,
    LAUNCH,
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
    RolloutFailed,
)
from .timeutil import format_utc
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
# At most one "waiting" line per this many seconds of a long wait.
WAITING_LINE_SECONDS = 30


class RolloutPhases:
    """Needs, from ``Rollout``: spec, groups, traffic, store, health, membership, owner, clock, sleep, report,
    record, and this run's view: ``_shares`` (the frontend as read, then as set), ``_fleet_read``, ``_last_health``,
    ``_began``."""

    # -- recording and reporting -------------------------------------------------------------------

    def _write(self, ctx, *fields):
        self.store.write(ctx.green, ctx.record, list(fields))

    def _say(self, text):
        """One progress line, the service first."""
        self.report("%s: %s" % (self.spec.service, text))

    def _enter(self, ctx, phase, write=True, **extra):
        """Start a phase: with ``write``, recorded in the cloud first (with the lease renewed), then in this run's
        report. A phase whose resume needs nothing of its own is only reported."""
        now = self.clock()
        record = ctx.record
        for name, value in extra.items():
            setattr(record, name, value)
        if write:
            record.phase, record.phase_at, record.owner = phase, int(now), self.owner
            record.lease_until = int(now + self.spec.lease_seconds)
            self._write(ctx, *(LEASE_FIELDS + tuple(extra)))
            self.changed = True
        entry = {"phase": phase, "started": format_utc(from_epoch(now))}
        entry.update({key: value for key, value in extra.items() if key in ("weight", "reason")})
        self.record["phases"].append(entry)
        self._started[id(entry)] = now
        return entry

    def _finish(self, entry, **evidence):
        """The phase's end and its duration (``seconds``), then what it found."""
        now = self.clock()
        entry["finished"] = format_utc(from_epoch(now))
        started = self._started.pop(id(entry), None)
        if started is not None:
            entry["seconds"] = round(now - started, 3)
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

    def _waiter(self, ctx, timeout, end=None, waiting=None):
        """The collection's waiter on this rollout's clock, renewing the lease between polls (none past ``end``).

        ``waiting`` (group name, seconds the wait may last) reports a line at most every WAITING_LINE_SECONDS."""
        started = self.clock()
        state = {"said": started}

        def sleep(seconds):
            self._fleet_read = None  # a read is evidence only until this run waits
            self._heartbeat(ctx)
            self._pause(seconds if end is None else min(seconds, end - self.clock()))
            now = self.clock()
            going_on = end is None or now < end
            if waiting is not None and going_on and now - state["said"] >= WAITING_LINE_SECONDS:
                state["said"] = now
                self._say(
                    "waiting for %s, %s healthy, %d s of %d s"
                    % (waiting[0], self._healthy_text(), int(now - started), int(waiting[1]))
                )

        interval = self.spec.health.interval
        return Waiter(timeout=timeout, delay=interval, max_delay=interval, sleep=sleep, clock=self.clock)

    @staticmethod
    def _members(size, weight):
        """How many of green's instances serve at ``weight`` on a pool without weights."""
        return size if weight >= 100 else max(1, min(size, int(math.ceil(size * weight / 100.0))))

    def _size(self, ctx):
        return ctx.record.size or ctx.record.blue_size or 1

    def _wanted(self, ctx):
        """Green's size now: all of it, or on a pool without weights its share at the current step."""
        if not self.membership:
            return self._size(ctx)
        return self._members(self._size(ctx), ctx.record.weight or self.spec.weights()[0])

    # -- health ------------------------------------------------------------------------------------

    def _check(self, group, backend, size, with_probe=True):
        """One health check. The group's and the load balancer's view read by this run's previous passing check
        is used again while this run has not waited since (only a traffic move or a record write came between,
        which the load balancer's health checks cannot have seen yet); alarms and the probe are asked afresh."""
        key = (group, backend, size)
        reused = self._fleet_read is not None and self._fleet_read[0] == key
        fleet = self._fleet_read[1] if reused else self.health.fleet(group, backend, size)
        problems, evidence = self.health.check(group, backend, size, with_probe=with_probe, fleet=fleet)
        if reused:
            evidence["read"] = "as the check before"
        self._fleet_read = (key, fleet) if not fleet[0] else None
        self._last_health = evidence
        return problems, evidence

    def _healthy_text(self):
        """``healthy/wanted`` of the last check, for a progress line."""
        evidence = self._last_health or {}
        instances = evidence.get("instances") or {}
        healthy = (evidence.get("targets") or {}).get("healthy", instances.get("healthy", 0))
        return "%d/%d" % (min(healthy, instances.get("healthy", healthy)), instances.get("wanted", 0))

    # -- the phases --------------------------------------------------------------------------------

    def _run(self, ctx, start):
        self._phases(ctx, start)
        self.record["state"] = "deployed"
        return self._result(True, ctx.record.from_image, ctx.record.image)

    def _phases(self, ctx, start):
        try:
            for phase in ORDER[ORDER.index(start) :]:
                getattr(self, "_do_" + phase)(ctx)
        except _GateFailed as failure:
            self._on_failure(ctx, failure)
        except PhoenixError:
            self._release(ctx)
            raise

    def _do_locked(self, ctx):
        """Nothing to do: resuming at ``locked`` means the group exists with its first record."""

    def _do_template(self, ctx):
        entry = self._enter(ctx, TEMPLATE, write=False)
        record = ctx.record
        launch = self.groups.prepare_launch(record.base, record.image, record.rollout)
        record.launch = launch
        self._finish(entry, launch=launch, image=record.image)

    def _backend(self, ctx, create=False):
        """The backend green serves through: blue's pool (MEMBERSHIP) or green's own, found by its name and, with
        ``create``, made next to blue's when there is none."""
        if ctx.backend is None:
            if self.membership:
                ctx.backend = ctx.record.blue_backend
            else:
                found = self.traffic.find_backend(ctx.green)
                if found is None and create:
                    found = self._new_backend(ctx)
                ctx.backend = found.id if found is not None else None
        return ctx.backend

    def _new_backend(self, ctx):
        """Green's own backend, with blue's settings. Making it again after a lost answer finds the first one."""
        record = ctx.record
        model = self.traffic.backend(record.blue_backend)
        if model is None:
            raise PhoenixError(
                "the backend %s of group %s is gone" % (record.blue_backend, record.blue_group),
                resource=record.blue_group,
            )
        return self.traffic.create_backend_like(ctx.green, model, {tagging.SERVICE: self.spec.service})

    def _do_target(self, ctx):
        entry = self._enter(ctx, TARGET, write=False)
        self._finish(entry, target=self._backend(ctx, create=True))

    def _do_launch(self, ctx):
        size = self._wanted(ctx)
        record = ctx.record
        entry = self._enter(ctx, LAUNCH, launch=record.launch)
        # Behind weights green's own backend gets no traffic yet; a pool without weights sends traffic to every
        # member, so there green joins blue's pool only at the first step. A group created attached is not
        # attached again.
        if not self.membership and ctx.backend not in (ctx.attached or ()):
            self.traffic.attach(ctx.green, ctx.backend)
            ctx.attached = list(ctx.attached or ()) + [ctx.backend]
        self.groups.launch(ctx.green, record.launch, size)
        self._fleet_read = None
        self._say("launch %s, %d instance%s of %s" % (ctx.green, size, "" if size == 1 else "s", record.image))
        self._finish(entry, size=size)

    def _do_wait_healthy(self, ctx):
        entry = self._enter(ctx, WAIT_HEALTHY, write=False)
        backend = None if self.membership else self._backend(ctx)
        needed = self.spec.health.healthy_for_seconds
        size = self._wanted(ctx)
        state = {"since": None, "checks": 0, "evidence": {}, "problems": []}
        started = self.clock()

        def fetch():
            problems, state["evidence"] = self._check(ctx.green, backend, size)
            state["checks"] += 1
            state["problems"] = problems
            now = self.clock()
            state["since"] = None if problems else (state["since"] if state["since"] is not None else now)
            return problems

        def ready(problems):
            return state["since"] is not None and self.clock() - state["since"] >= needed

        waiter = self._waiter(ctx, self.spec.timeout, waiting=(ctx.green, self.spec.timeout))
        try:
            waiter.until(fetch, ready, "group %s to be healthy" % ctx.green)
        except WaitTimeout:
            problems = state["problems"]
            self._finish(entry, checks=state["checks"], evidence=state["evidence"])
            raise _GateFailed(
                WAIT_HEALTHY,
                "group %s not healthy within %ss: %s"
                % (ctx.green, self.spec.timeout, "; ".join(problems) or "not healthy long enough"),
                state["evidence"],
            ) from None
        self._say("%s healthy, %s in %d s" % (ctx.green, self._healthy_text(), int(self.clock() - started)))
        self._finish(entry, checks=state["checks"], evidence=state["evidence"])

    def _do_shift(self, ctx):
        self._backend(ctx)
        weights = self.spec.weights()
        for weight in weights:
            if weight < (ctx.record.weight or 0):
                continue
            entry = self._enter(ctx, SHIFT, weight=weight)
            self._set_split(ctx, weight)
            if weight < weights[-1]:
                tail = ", next step in %d s" % self.spec.step_seconds
            elif self.spec.keep_blue_seconds > 0:
                tail = ", keeping %s for %d s" % (ctx.record.blue_group, self.spec.keep_blue_seconds)
            else:
                tail = ""

            def announce(weight=weight, tail=tail):
                self._say("shift %d%% → %s, %s healthy%s" % (weight, ctx.green, self._healthy_text(), tail))

            evidence = self._gate(ctx, self.spec.step_seconds, SHIFT, announce=announce)
            self._proven_at_full = weight >= 100
            if self.membership:
                # No weights: the step's share is green's share of the pool's instances, said as such.
                blue_instances = 0 if weight >= 100 else (ctx.record.blue_size or self._size(ctx))
                evidence = dict(
                    evidence, split=MEMBERSHIP, green_instances=self._wanted(ctx), blue_instances=blue_instances
                )
            self._finish(entry, evidence=evidence)

    def _do_keep_blue(self, ctx):
        record = ctx.record
        if record.serving_since is None:
            record.serving_since = self.clock()
        remaining = record.serving_since + self.spec.keep_blue_seconds - self.clock()
        # Only a wait needs its start recorded (a resume must not start it again); a zero-length one needs none.
        entry = self._enter(ctx, KEEP_BLUE, write=remaining > 0, serving_since=int(record.serving_since))
        if remaining <= 0 and self._proven_at_full:
            # Nothing to wait for, and this run's gate at 100% has just passed: checking again proves nothing.
            self._finish(entry, evidence={"checks": 0, "proven_by": "shift at 100"})
            return
        evidence = self._gate(ctx, max(0, remaining), KEEP_BLUE)
        self._finish(entry, evidence=evidence)

    def _do_retire_blue(self, ctx):
        entry = self._enter(ctx, RETIRE_BLUE, write=False)
        record = ctx.record
        retired = {"group": record.blue_group}
        if self.membership or (self._shares or {}).get(record.blue_backend, 0) > 0:
            self._backend(ctx)
            self._set_split(ctx, 100)
        # Green serves everything: the record says done before blue goes, with what is left to retire still named
        # in it (blue_group, blue_backend, blue_launch), so a run killed now finishes the retirement.
        now = self.clock()
        record.role, record.phase, record.phase_at = BLUE, DONE, int(now)
        record.previous_image = record.from_image
        record.owner, record.lease_until = self.owner, int(now + self.spec.lease_seconds)
        done = LEASE_FIELDS + ("role", "previous_image") + (("rolled_back_from",) if record.rolled_back_from else ())
        self._write(ctx, *done)
        self.changed = True
        self._say("retire %s" % record.blue_group)
        # Deleted with its instances in one call; the slot's name is free again once the cloud has finished,
        # which the next rollout waits for if it needs the name.
        self.groups.delete(record.blue_group)
        # On a pool without weights blue's backend is green's too: it stays.
        if not self.membership and record.blue_backend and record.blue_backend != ctx.backend:
            self.traffic.delete_backend(record.blue_backend)
            retired["target"] = record.blue_backend
        if record.blue_launch:
            self.groups.discard_launch(record.blue_launch)
            retired["launch"] = record.blue_launch
        self._finish(entry, retired=retired)

    def _do_done(self, ctx):
        """What was the rollout's leaves the record of the group that now serves, in one clear."""
        record = ctx.record
        stale = ROLLOUT_ONLY_FIELDS if record.rolled_back_from else ROLLOUT_ONLY_FIELDS + ("rolled_back_from",)
        for name in stale:
            setattr(record, name, None)
        self.store.clear(ctx.green, list(stale))
        self.changed = True
        now = self.clock()
        self.record["phases"].append({"phase": DONE, "started": format_utc(from_epoch(now))})
        self._say("done, %s serves %s in %d s" % (ctx.green, record.image, int(now - self._began)))

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
        # The listener as this run read it once, then as this run set it: no second read before a change.
        if self._shares != shares:
            self.traffic.set_shares(self.spec.frontend, shares)
            self._shares = dict(shares)

    def _set_members(self, ctx, weight):
        """A pool without weights: green's share of instances at ``weight``; blue leaves the pool at 100."""
        record, backend = ctx.record, ctx.record.blue_backend
        # Its size and its being there are what is needed here: not its members (a list of their own on some clouds).
        green = self.groups.get(ctx.green, with_members=False)
        wanted = self._wanted(ctx)
        if green is not None and green.size != wanted:
            self.groups.resize(ctx.green, wanted)
            self._fleet_read = None
            seen = {"problems": [], "evidence": {}}

            def healthy():
                seen["problems"], seen["evidence"] = self._check(ctx.green, None, wanted, with_probe=False)
                return not seen["problems"]

            try:
                self._wait_until(ctx, healthy, "group %s to be healthy at size %d" % (ctx.green, wanted))
            except WaitTimeout:
                # Instances added for this step that never become healthy fail the step, as a gate does.
                raise _GateFailed(
                    SHIFT,
                    "group %s not healthy at size %d within %ss: %s"
                    % (ctx.green, wanted, self.spec.timeout, "; ".join(seen["problems"])),
                    seen["evidence"],
                    weight=weight,
                ) from None
        # Attached and detached at every step, not only when the group's backends say otherwise: a group may name a
        # pool before all its instances are in it (a scale set's model), and a run killed in between resumes here.
        if green is not None:
            self.traffic.attach(ctx.green, backend)
        if weight >= 100:
            blue = self.groups.get(record.blue_group, with_members=False)
            if blue is not None:
                self.traffic.detach(record.blue_group, backend)

    def _gate(self, ctx, seconds, phase, announce=None):
        """Health checked at once and then every ``interval`` for ``seconds``; any problem fails the step.
        ``announce`` is called once, after the first check passed."""
        end = self.clock() + seconds
        state = {"checks": 0, "evidence": {}}
        size = self._wanted(ctx)

        def fetch():
            problems, state["evidence"] = self._check(ctx.green, self._backend(ctx), size)
            state["checks"] += 1
            return problems

        def failed(problems):
            if problems:
                raise _GateFailed(phase, "; ".join(problems), state["evidence"], weight=ctx.record.weight or 0)
            if state["checks"] == 1 and announce is not None:
                announce()

        waiter = self._waiter(ctx, seconds + self.spec.timeout, end=end, waiting=(ctx.green, seconds))
        waiter.until(fetch, lambda problems: self.clock() >= end, "%s of group %s" % (phase, ctx.green), failed=failed)
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
        def gone():
            return self.groups.get(name, with_members=False) is None

        self._wait_until(ctx, gone, "group %s to be deleted" % name)

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
            self._say("paused in %s, traffic stays where it is" % reason)
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
        self._say("roll back (%s), traffic back to %s" % (reason, record.blue_group))
        blue = self.groups.get(record.blue_group, with_members=False) if record.blue_group else None
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
            self.traffic.attach(record.blue_group, record.blue_backend)
            self.traffic.detach(ctx.green, record.blue_backend)
            backend = None
        else:
            backend = self._backend(ctx)
            self.traffic.set_shares(self.spec.frontend, {record.blue_backend: 100})
            self._shares = {record.blue_backend: 100}
        base = record.base or self.groups.resolve_base(self.spec.base)
        launches = self.groups.prepared_launches(base, record.rollout)
        # Emptied and pointed back at the base in one change: a launch still in use may not be deletable.
        self.groups.launch(ctx.green, self.groups.base_launch(base), 0)
        if backend is not None:
            self.traffic.delete_backend(backend)
        for launch in launches:
            self.groups.discard_launch(launch)
        self.groups.delete(ctx.green)
        self._wait_gone(ctx, ctx.green)
        self._finish(entry, back_to=record.blue_group)
        self.record["state"] = "rolled_back"
        self.changed = True


class _GateFailed(Exception):
    def __init__(self, phase, reason, evidence, weight=0):
        super().__init__(reason)
        self.phase = phase
        self.reason = reason
        self.evidence = evidence
        self.weight = weight


def from_epoch(seconds):
    """A UTC datetime of epoch seconds."""
    return datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc)
