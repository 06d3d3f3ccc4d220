# Private to this collection.
"""Blue/green and canary rollouts of instance groups: a state machine whose state lives in the cloud.

A *service* is served by a listener. The group serving it now is *blue*; a rollout builds *green*, a new
group from a new template version whose only change is the image, behind a target of its own, waits until
green is healthy, moves traffic to it step by step with a health gate at each step, keeps blue at full
size for ``keep_blue_seconds`` and then retires blue.

Crash safety: green's tags are the rollout's record. Each phase is written there (with the time, the
owner and a lease) *before* its action, and each action is idempotent (find before create), so a run
killed at any point is resumed by the next run on any controller. Creating green, which carries its
first tags in the same call, is the lock: a name encodes the slot (``<service>-a`` / ``<service>-b``),
so a second concurrent rollout fails to create it and then finds the first one's live lease.

Capacity: blue is never scaled down before green is healthy and serving everything; on failure traffic
goes back to blue (restored to its recorded size) before any part of green is deleted.
"""

from __future__ import annotations

import contextlib
import datetime
import time
import uuid

from . import tags as tagging
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
)
from .timeutil import format_utc, utcnow


class Rollout:
    def __init__(self, spec, groups, traffic, alarms, check_mode=False, verify=None, owner=None, **hooks):
        self.spec = spec
        self.groups = groups
        self.traffic = traffic
        self.cloud = getattr(groups, "cloud", None) or "aws"
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

    # -- tags ------------------------------------------------------------------------------------

    def key(self, name):
        return tagging.tag_key(self.cloud, name)

    def tag(self, group, name, default=None):
        return group.tags.get(self.key(name), default) if group else default

    def _tags(self, **values):
        return {self.key(name.replace("_", "-")): str(value) for name, value in values.items() if value is not None}

    # -- what is there -----------------------------------------------------------------------------

    def _observe(self):
        groups = [group for group in self.groups.groups() if not group.deleting]
        mine = [group for group in groups if self.tag(group, tagging.SERVICE) == self.spec.service]
        greens = [group for group in mine if self.tag(group, tagging.ROLE) == GREEN]
        if len(greens) > 1:
            raise PhoenixError(
                "service %s has %d rollouts in progress (%s); expected at most one"
                % (self.spec.service, len(greens), ", ".join(group.name for group in greens)),
                resource=self.spec.service,
                hint="Run state=rolled_back, or delete the stray group by hand.",
            )
        weights = self.traffic.weights(self.spec.listener)
        by_target = {}
        for group in groups:
            for target in group.targets:
                by_target.setdefault(target, group)
        self._check_owner(groups, weights)
        serving = None
        for target, weight in sorted(weights.items(), key=lambda item: (-item[1], item[0])):
            if weight > 0 and target in by_target:
                serving = by_target[target]
                break
        return greens[0] if greens else None, serving, weights

    def _check_owner(self, groups, weights):
        """Refuse a listener that serves another service: nothing of that service is ever touched."""
        foreign = {}
        for group in groups:
            owner = self.tag(group, tagging.SERVICE)
            if owner and owner != self.spec.service and any(weights.get(t, 0) > 0 for t in group.targets):
                foreign.setdefault(owner, []).append(group.name)
        if foreign:
            owners = sorted(foreign)
            raise PhoenixError(
                "listener %s serves service %s (group %s, tagged %s), not service %s; nothing was changed"
                % (
                    self.spec.listener,
                    " and ".join(owners),
                    ", ".join(sorted(name for owner in owners for name in foreign[owner])),
                    ", ".join("%s=%s" % (self.key(tagging.SERVICE), owner) for owner in owners),
                    self.spec.service,
                ),
                resource=self.spec.listener,
                code="ServiceMismatch",
                hint="Give the listener of service %s, or service=%s to deploy that service."
                % (self.spec.service, owners[0]),
            )

    def image_of(self, group):
        image = self.tag(group, tagging.IMAGE)
        if image:
            return image
        template_id, version = group.template
        return self.groups.template_version(template_id, version).image_id if template_id else None

    def _context_of(self, green):
        def number(name, default=None):
            value = self.tag(green, name)
            return float(value) if value not in (None, "") else default

        return Context(
            rollout_id=self.tag(green, tagging.ROLLOUT),
            green=green.name,
            blue=self.tag(green, tagging.BLUE_GROUP),
            image_id=self.tag(green, tagging.IMAGE),
            from_image=self.tag(green, tagging.FROM_IMAGE),
            size=int(number(tagging.SIZE, 0)) or int(number(tagging.BLUE_SIZE, 1)),
            blue_size=int(number(tagging.BLUE_SIZE, 0)),
            blue_target=self.tag(green, tagging.BLUE_TARGET),
            blue_version=self.tag(green, tagging.BLUE_TEMPLATE_VERSION),
            template_id=self.tag(green, tagging.TEMPLATE_ID),
            version=self.tag(green, tagging.TEMPLATE_VERSION),
            weight=int(number(tagging.WEIGHT, 0)),
            serving_since=number(tagging.SERVING_SINCE),
            lease_until=number(tagging.LEASE_UNTIL, 0),
            extra_done_tags=(
                {self.key(tagging.ROLLED_BACK_FROM): self.tag(green, tagging.ROLLED_BACK_FROM)}
                if self.tag(green, tagging.ROLLED_BACK_FROM)
                else {}
            ),
        )

    def _check_lease(self, green):
        owner = self.tag(green, tagging.OWNER)
        until = float(self.tag(green, tagging.LEASE_UNTIL) or 0)
        now = self.clock()
        if owner and owner != self.owner and until > now:
            left = int(until - now + 0.999)
            raise RolloutBusy(
                "service %s: rollout %s (image %s, group %s, phase %s) is in progress in another run; its lease "
                "runs until %s, %d s from now"
                % (
                    self.spec.service,
                    self.tag(green, tagging.ROLLOUT),
                    self.tag(green, tagging.IMAGE),
                    green.name,
                    self.tag(green, tagging.PHASE),
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

    def _enter(self, ctx, phase, **extra):
        """Record the phase in the cloud first, then in this run's report."""
        now = self.clock()
        ctx.lease_until = now + self.spec.lease_seconds
        tags = self._tags(phase=phase, phase_at=int(now), owner=self.owner, lease_until=int(ctx.lease_until), **extra)
        self.groups.set_tags(ctx.green, tags)
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
        with contextlib.suppress(PhoenixError):
            self.groups.set_tags(ctx.green, self._tags(lease_until=0))

    def _heartbeat(self, ctx):
        """Renew the lease once a third of it has passed: a live run keeps it, a dead one loses it soon."""
        now = self.clock()
        if ctx.lease_until - now <= self.spec.lease_seconds * 2.0 / 3.0:
            ctx.lease_until = now + self.spec.lease_seconds
            self.groups.set_tags(ctx.green, self._tags(owner=self.owner, lease_until=int(ctx.lease_until)))

    def _pause(self, seconds):
        """Sleep between checks, never longer than a third of the lease, so a heartbeat is never late."""
        self.sleep(max(0.05, min(seconds, self.spec.lease_seconds / 3.0)))

    # -- public ------------------------------------------------------------------------------------

    def deployed(self):
        """Converge on "spec.image_id serves all traffic of the service"."""
        self.verify(self.spec.image_id)
        green, serving, weights = self._observe()
        if green is not None:
            self._check_lease(green)
            ctx = self._context_of(green)
            if self.tag(green, tagging.PHASE) == ROLLING_BACK or ctx.image_id != self.spec.image_id:
                if self.tag(green, tagging.PHASE) != ROLLING_BACK and not self.spec.supersede:
                    raise RolloutBusy(
                        "service %s: rollout %s of image %s is half done (phase %s, group %s); supersede is false"
                        % (self.spec.service, ctx.rollout_id, ctx.image_id, self.tag(green, tagging.PHASE), green.name),
                        resource=green.name,
                        code="RolloutInProgress",
                        hint="Run it to the end with image_id=%s, roll it back with state=rolled_back, or set "
                        "supersede=true." % ctx.image_id,
                    )
                if self.check_mode:
                    self.record["plan"].append({"phase": ROLLING_BACK, "group": green.name, "image": ctx.image_id})
                else:
                    self.record["superseded"] = {"id": ctx.rollout_id, "image": ctx.image_id}
                    self._roll_back(ctx, "superseded by image %s" % self.spec.image_id)
                    green, serving, weights = self._observe()
            else:
                return self._resume(green, ctx)
        return self._start(serving, weights)

    def rolled_back(self):
        """Return traffic to the previous group and delete the candidate; after a finished swap, redeploy."""
        green, serving, weights = self._observe()
        if green is not None:
            self._check_lease(green)
            ctx = self._context_of(green)
            self.record.update(id=ctx.rollout_id, to_image=ctx.image_id, from_image=ctx.from_image)
            self.record.update(group=ctx.green, previous_group=ctx.blue)
            if self.check_mode:
                self.record["plan"] = [{"phase": ROLLING_BACK, "group": ctx.green, "back_to": ctx.blue}]
                self.record["state"] = "planned"
                return self._result(True, ctx.image_id, ctx.from_image)
            self._roll_back(ctx, "state=rolled_back requested")
            return self._result(True, ctx.image_id, ctx.from_image)
        if serving is None:
            raise self._nothing_serves(weights)
        previous = self.tag(serving, tagging.PREVIOUS_IMAGE)
        current = self.image_of(serving)
        if not previous or self.tag(serving, tagging.ROLLED_BACK_FROM) or previous == current:
            self.record.update(state="rolled_back", from_image=current, to_image=current, group=serving.name)
            return self._result(False, current, current)
        self.spec.image_id = previous
        self.record["to_image"] = previous
        self.verify(previous)
        return self._start(serving, weights, done_tags={self.key(tagging.ROLLED_BACK_FROM): current})

    # -- starting and resuming ---------------------------------------------------------------------

    def _nothing_serves(self, weights):
        return InvalidInput(
            "listener %s forwards to no instance group (targets: %s)"
            % (self.spec.listener, ", ".join(sorted(weights)) or "none"),
            resource=self.spec.listener,
            hint="Create the first group of service %s behind this listener; blue_green replaces it."
            % self.spec.service,
        )

    def _start(self, blue, weights, done_tags=None):
        if blue is None:
            raise self._nothing_serves(weights)
        current = self.image_of(blue)
        blue_targets = [target for target in blue.targets if weights.get(target, 0) > 0]
        only_blue = bool(blue_targets) and all(weights[target] == 0 for target in weights if target not in blue.targets)
        self.record.update(from_image=current, previous_group=blue.name)
        if current == self.spec.image_id and only_blue:
            self.record.update(state="serving", group=blue.name, previous_group=None)
            return self._result(False, current, current)
        base = self.groups.template_version(self.spec.template)
        size = self.spec.size or blue.size
        green = "%s-%s" % (self.spec.service, "b" if blue.name.endswith("-a") else "a")
        rollout_id = "%s-%s" % (format_utc(utcnow()).replace(":", "").replace("-", ""), uuid.uuid4().hex[:8])
        ctx = Context(
            rollout_id=rollout_id,
            green=green,
            blue=blue.name,
            image_id=self.spec.image_id,
            from_image=current,
            size=size,
            blue_size=blue.size,
            blue_target=blue_targets[0],
            blue_version=self.tag(blue, tagging.TEMPLATE_VERSION),
            template_id=base.template_id,
            extra_done_tags=done_tags or {},
        )
        self.record.update(id=rollout_id, group=green)
        if self.check_mode:
            self.record["plan"].extend(self._plan(ctx, LOCKED))
            self.record["state"] = "planned"
            return self._result(True, current, self.spec.image_id)
        now = self.clock()
        ctx.lease_until = now + self.spec.lease_seconds
        tags = self._tags(
            service=self.spec.service,
            role=GREEN,
            image=self.spec.image_id,
            rollout=rollout_id,
            phase=LOCKED,
            phase_at=int(now),
            owner=self.owner,
            lease_until=int(ctx.lease_until),
            from_image=current,
            blue_group=blue.name,
            blue_size=blue.size,
            blue_target=ctx.blue_target,
            blue_template_version=ctx.blue_version,
            size=size,
            template_id=base.template_id,
        )
        tags.update(ctx.extra_done_tags)
        subnets = self.spec.subnets or blue.subnets
        try:
            created = self.groups.create_empty(green, (base.template_id, base.version), subnets, tags)
        except PhoenixError:
            # The cloud may have applied the create and lost its answer: the group is then ours.
            if not self._is_mine(self._get_quietly(green), rollout_id):
                raise
            created = True
        taken = None if created else self.groups.get(green)
        if not created and not self._is_mine(taken, rollout_id):
            if taken is not None and self.tag(taken, tagging.ROLE) == GREEN:
                self._check_lease(taken)
            if taken is not None and (taken.deleting or self.tag(taken, tagging.SERVICE) != self.spec.service):
                raise RolloutBusy(
                    "service %s: the slot's group name %s is taken by a group %s"
                    % (self.spec.service, green, "still being deleted" if taken.deleting else "not of this service"),
                    resource=green,
                    code="SlotTaken",
                    hint="Run again once it is deleted, or rename that group: %s-a and %s-b are the service's slots."
                    % (self.spec.service, self.spec.service),
                )
            raise RolloutBusy(
                "service %s: group %s exists already, another rollout took the slot%s"
                % (
                    self.spec.service,
                    green,
                    " (rollout %s, image %s, phase %s)"
                    % (self.tag(taken, tagging.ROLLOUT), self.tag(taken, tagging.IMAGE), self.tag(taken, tagging.PHASE))
                    if taken is not None and self.tag(taken, tagging.ROLLOUT)
                    else "",
                ),
                resource=green,
                code="RolloutInProgress",
                hint="Run again: the rollout in progress is resumed or reported.",
            )
        self.changed = True
        self.record["phases"].append({"phase": LOCKED, "started": format_utc(_from_epoch(now)), "group": green})
        return self._run(ctx, TEMPLATE)

    def _is_mine(self, group, rollout_id):
        """The group this run created: its rollout id and owner are this run's (a retried create meets it)."""
        return (
            group is not None
            and not group.deleting
            and self.tag(group, tagging.ROLLOUT) == rollout_id
            and self.tag(group, tagging.OWNER) == self.owner
        )

    def _get_quietly(self, name):
        try:
            return self.groups.get(name)
        except PhoenixError:
            return None

    def _resume(self, green, ctx):
        phase = self.tag(green, tagging.PHASE)
        if phase == PAUSED:
            phase = self.tag(green, tagging.PAUSED_IN) or SHIFT
        self.record.update(
            id=ctx.rollout_id, from_image=ctx.from_image, group=ctx.green, previous_group=ctx.blue, resumed_from=phase
        )
        if self.check_mode:
            self.record["plan"].extend(self._plan(ctx, phase))
            self.record["state"] = "planned"
            return self._result(True, ctx.from_image, ctx.image_id)
        return self._run(ctx, phase if phase in ORDER else TEMPLATE)

    def _plan(self, ctx, start):
        plan = []
        for phase in ORDER[ORDER.index(start) :]:
            if phase == SHIFT:
                plan.extend({"phase": SHIFT, "weight": w} for w in self.spec.weights() if w >= ctx.weight)
            elif phase == KEEP_BLUE:
                plan.append({"phase": KEEP_BLUE, "seconds": self.spec.keep_blue_seconds, "group": ctx.blue})
            elif phase == LOCKED:
                plan.append({"phase": LOCKED, "group": ctx.green, "size": ctx.size})
            else:
                plan.append({"phase": phase})
        return plan

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
        return self._result(True, ctx.from_image, ctx.image_id)

    def _do_locked(self, ctx):
        """Nothing to do: resuming at ``locked`` means the group exists with its first tags."""

    def _do_template(self, ctx):
        entry = self._enter(ctx, TEMPLATE)
        description = self._version_description(ctx)
        found = [v for v in self.groups.template_versions(ctx.template_id) if v.description == description]
        if not found:
            self.groups.create_template_version(ctx.template_id, ctx.image_id, description)
            # Found by its marker: a create applied twice (an answer lost, the call sent again) left two.
            found = [v for v in self.groups.template_versions(ctx.template_id) if v.description == description]
        found.sort(key=lambda v: int(v.version))
        version = found[0]
        for extra in found[1:]:
            self.groups.delete_template_version(ctx.template_id, extra.version)
        ctx.version = str(version.version)
        self._finish(entry, template=ctx.template_id, version=ctx.version, image=version.image_id)

    def _do_target(self, ctx):
        entry = self._enter(ctx, TARGET, template_version=ctx.version)
        target = self.traffic.find_target(ctx.green)
        if target is None:
            model = self.traffic.target(ctx.blue_target)
            if model is None:
                raise PhoenixError("the target %s of group %s is gone" % (ctx.blue_target, ctx.blue), resource=ctx.blue)
            target = self.traffic.create_target_like(ctx.green, model, self._tags(service=self.spec.service))
        ctx.target = target.id
        self._finish(entry, target=target.id)

    def _do_launch(self, ctx):
        entry = self._enter(ctx, LAUNCH)
        ctx.target = ctx.target or self.traffic.find_target(ctx.green).id
        self.groups.launch(ctx.green, (ctx.template_id, ctx.version), ctx.target, ctx.size)
        self._finish(entry, size=ctx.size)

    def _do_wait_healthy(self, ctx):
        entry = self._enter(ctx, WAIT_HEALTHY)
        ctx.target = ctx.target or self.traffic.find_target(ctx.green).id
        deadline = self.clock() + self.spec.timeout
        needed = self.spec.health.healthy_for_seconds
        good_since = None
        checks = 0
        while True:
            problems, evidence = self.health.check(ctx.green, ctx.target, ctx.size)
            checks += 1
            now = self.clock()
            if problems:
                good_since = None
            elif good_since is None:
                good_since = now
            if good_since is not None and now - good_since >= needed:
                self._finish(entry, checks=checks, evidence=evidence)
                return
            if now >= deadline:
                self._finish(entry, checks=checks, evidence=evidence)
                raise _GateFailed(
                    WAIT_HEALTHY,
                    "group %s not healthy within %ss: %s"
                    % (ctx.green, self.spec.timeout, "; ".join(problems) or "not healthy long enough"),
                    evidence,
                )
            self._heartbeat(ctx)
            self._pause(min(self.spec.health.interval, deadline - now))

    def _do_shift(self, ctx):
        ctx.target = ctx.target or self.traffic.find_target(ctx.green).id
        for weight in self.spec.weights():
            if weight < ctx.weight:
                continue
            entry = self._enter(ctx, SHIFT, weight=weight)
            self._set_split(ctx, weight)
            ctx.weight = weight
            evidence = self._gate(ctx, self.spec.step_seconds, SHIFT)
            self._finish(entry, evidence=evidence)

    def _do_keep_blue(self, ctx):
        if ctx.serving_since is None:
            ctx.serving_since = self.clock()
        entry = self._enter(ctx, KEEP_BLUE, serving_since=int(ctx.serving_since))
        remaining = ctx.serving_since + self.spec.keep_blue_seconds - self.clock()
        evidence = self._gate(ctx, max(0, remaining), KEEP_BLUE)
        self._finish(entry, evidence=evidence)

    def _do_retire_blue(self, ctx):
        entry = self._enter(ctx, RETIRE_BLUE)
        retired = {"group": ctx.blue}
        if self.traffic.weights(self.spec.listener).get(ctx.blue_target, 0) > 0:
            self._set_split(ctx, 100)
        blue = self.groups.get(ctx.blue)
        if blue is not None and not blue.deleting:
            self.groups.resize(ctx.blue, 0)
            self.groups.delete(ctx.blue)
        # The slot's name is free for the next rollout only once the cloud has finished deleting.
        self._wait_until(ctx, lambda: self.groups.get(ctx.blue) is None, "group %s to be deleted" % ctx.blue)
        if ctx.blue_target and ctx.blue_target != ctx.target:
            self.traffic.delete_target(ctx.blue_target)
            retired["target"] = ctx.blue_target
        if ctx.blue_version and ctx.template_id:
            base = self.groups.template_version(ctx.template_id)
            if str(base.version) != str(ctx.blue_version):
                self.groups.delete_template_version(ctx.template_id, ctx.blue_version)
                retired["template_version"] = ctx.blue_version
        self._finish(entry, retired=retired)

    def _do_done(self, ctx):
        tags = self._tags(role=BLUE, phase=DONE, phase_at=int(self.clock()), previous_image=ctx.from_image)
        tags.update(ctx.extra_done_tags)
        self.groups.set_tags(ctx.green, tags)
        stale = (
            tagging.OWNER,
            tagging.LEASE_UNTIL,
            tagging.WEIGHT,
            tagging.SERVING_SINCE,
            tagging.PAUSED_IN,
            tagging.REASON,
            tagging.BLUE_GROUP,
            tagging.BLUE_SIZE,
            tagging.BLUE_TARGET,
            tagging.BLUE_TEMPLATE_VERSION,
        )
        if not ctx.extra_done_tags:
            stale = stale + (tagging.ROLLED_BACK_FROM,)
        self.groups.remove_tags(ctx.green, [self.key(name) for name in stale])
        self.changed = True
        self.record["phases"].append({"phase": DONE, "started": format_utc(_from_epoch(self.clock()))})

    # -- traffic, gates and failure ----------------------------------------------------------------

    def _set_split(self, ctx, weight):
        if weight >= 100:
            weights = {ctx.target: 100}
        elif weight <= 0:
            weights = {ctx.blue_target: 100}
        else:
            weights = {ctx.blue_target: 100 - weight, ctx.target: weight}
        if self.traffic.weights(self.spec.listener) != weights:
            self.traffic.set_weights(self.spec.listener, weights)

    def _gate(self, ctx, seconds, phase):
        """Health checked at once and then every ``interval`` for ``seconds``; any problem fails the step."""
        end = self.clock() + seconds
        checks = 0
        while True:
            problems, evidence = self.health.check(ctx.green, ctx.target, ctx.size)
            checks += 1
            if problems:
                raise _GateFailed(phase, "; ".join(problems), evidence, weight=ctx.weight)
            now = self.clock()
            if now >= end:
                evidence["checks"] = checks
                return evidence
            self._heartbeat(ctx)
            self._pause(min(self.spec.health.interval, end - now))

    def _wait_until(self, ctx, done, what):
        deadline = self.clock() + self.spec.timeout
        while not done():
            if self.clock() >= deadline:
                raise PhoenixError(
                    "timed out after %ss waiting for %s" % (self.spec.timeout, what),
                    resource=ctx.green,
                    code="WaitTimeout",
                    hint="Run again: the rollout resumes where it stopped.",
                )
            self._heartbeat(ctx)
            self._pause(self.spec.health.interval)

    def _on_failure(self, ctx, failure):
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
                % (ctx.rollout_id, self.spec.service, reason),
                resource=ctx.green,
                code="RolloutPaused",
                hint="Fix and run again to resume, or run state=rolled_back.",
                details=self._result(True, ctx.from_image, ctx.image_id),
            )
        self._roll_back(ctx, reason)
        raise RolloutFailed(
            "rollout %s of image %s to %s failed in %s; rolled back: traffic is on %s again and %s is deleted"
            % (ctx.rollout_id, ctx.image_id, self.spec.service, reason, ctx.blue, ctx.green),
            resource=ctx.green,
            code="RolledBack",
            hint="Look at rollout.phases for the health evidence.",
            details=self._result(True, ctx.from_image, ctx.from_image),
        )

    def _roll_back(self, ctx, reason):
        """Traffic back to blue at its recorded size, then green deleted, the group (the record) last."""
        entry = self._enter(ctx, ROLLING_BACK, reason=reason[:MAX_REASON])
        blue = self.groups.get(ctx.blue) if ctx.blue else None
        if blue is None:
            raise PhoenixError(
                "cannot roll back rollout %s: the previous group %s is gone" % (ctx.rollout_id, ctx.blue),
                resource=ctx.green,
                hint="Deploy the previous image %s with state=deployed." % ctx.from_image,
            )
        if blue.targets and not ctx.blue_target:
            ctx.blue_target = blue.targets[0]
        if blue.size < ctx.blue_size:
            # Blue was being retired: back to its size, and healthy, before it takes traffic again.
            self.groups.resize(ctx.blue, ctx.blue_size)
            entry["restored_size"] = ctx.blue_size
            self._wait_until(
                ctx,
                lambda: not self.health.check(ctx.blue, ctx.blue_target, ctx.blue_size, with_probe=False)[0],
                "group %s to be healthy at size %d again" % (ctx.blue, ctx.blue_size),
            )
        target = self.traffic.find_target(ctx.green)
        ctx.target = target.id if target else None
        self.traffic.set_weights(self.spec.listener, {ctx.blue_target: 100})
        self.groups.resize(ctx.green, 0)
        if target is not None:
            self.traffic.delete_target(target.id)
        template_id = ctx.template_id or self.groups.template_version(self.spec.template).template_id
        description = self._version_description(ctx)
        for version in self.groups.template_versions(template_id):
            if version.description == description and not version.default:
                self.groups.delete_template_version(template_id, version.version)
        self.groups.delete(ctx.green)
        self._wait_until(ctx, lambda: self.groups.get(ctx.green) is None, "group %s to be deleted" % ctx.green)
        self._finish(entry, back_to=ctx.blue)
        self.record["state"] = "rolled_back"
        self.changed = True

    def _version_description(self, ctx):
        return "phoenix rollout %s of %s: image %s" % (ctx.rollout_id, self.spec.service, ctx.image_id)

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
