# Private to this collection.
"""Retention: keep the newest images of each family and everything still in use; deprecate or delete the rest.

An image survives when any of these holds, each recorded as a reason:

- it is one of the newest ``keep`` of its family (or not available yet);
- it is younger than ``older_than_days``;
- it is the current image of a channel (the newest image of its family promoted there, verified or not:
  retention never guesses which promotion a reader will trust);
- a service's instance group names it as its current, previous (for rollback) or incoming image
  (the ``phoenix:image``, ``phoenix:previous-image`` and ``phoenix:from-image`` tags of blue_green's groups);
- something launches from it: an instance in any state, a launch template's default or latest version, a
  launch configuration, an instance group (the image backend's ``users``).

Deleting goes through the image workflow's ``absent``, which checks the users again right before it
deletes the image and its snapshots. Nothing here knows which cloud it talks to.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from . import tags as tagging
from .channels import current_by_channel, family_images, family_of, validate_family
from .errors import InvalidInput, PhoenixError
from .images import ImageWorkflow
from .model import AVAILABLE, newest_first
from .timeutil import format_utc, parse_utc, utcnow

DEPRECATE = "deprecate"
DELETE = "delete"
ACTIONS = (DEPRECATE, DELETE)
MAX_KEEP = 1000
# Fields of a service's group's rollout record that name an image it may run again (current, rollback
# target, incoming).
SERVICE_IMAGE_FIELDS = (
    ("image", "current image"),
    ("previous_image", "previous image (rollback)"),
    ("from_image", "image being replaced (rollback)"),
)


@dataclass
class PruneRequest:
    families: list = field(default_factory=list)  # empty: every image the collection manages
    keep: int = 3
    action: str = DEPRECATE
    older_than_days: float = None
    reap_builders: bool = True


@dataclass
class PruneOutcome:
    changed: bool = False
    pruned: list = field(default_factory=list)
    kept: list = field(default_factory=list)
    families: dict = field(default_factory=dict)
    reaped: list = field(default_factory=list)
    actions: list = field(default_factory=list)
    warnings: list = field(default_factory=list)

    def to_dict(self):
        return {
            "changed": self.changed,
            "pruned": self.pruned,
            "kept": self.kept,
            "families": self.families,
            "reaped": self.reaped,
            "actions": self.actions,
        }


def validate(request):
    if isinstance(request.keep, bool) or not isinstance(request.keep, int) or not 1 <= request.keep <= MAX_KEEP:
        raise InvalidInput(
            "keep must be a whole number from 1 to %d; got %r" % (MAX_KEEP, request.keep),
            resource="keep",
            hint="keep is how many of the newest images of each family always stay.",
        )
    if request.action not in ACTIONS:
        raise InvalidInput("action must be one of %s; got %r" % (", ".join(ACTIONS), request.action), resource="action")
    if request.older_than_days is not None and not 0 <= request.older_than_days <= 36500:
        raise InvalidInput(
            "older_than_days must be between 0 and 36500; got %r" % (request.older_than_days,),
            resource="older_than_days",
        )
    for family in request.families:
        validate_family(family)


def _entry(image, family, reasons=None, **extra):
    entry = {
        "id": image.id,
        "name": image.name,
        "family": family,
        "region": image.region,
        "created": image.created,
        "deprecation_time": image.deprecation_time,
    }
    if reasons is not None:
        entry["reasons"] = reasons
    entry.update(extra)
    return entry


class RetentionWorkflow:
    """Prune the images of one region. ``groups`` is a GroupBackend (for the services' tags), or None."""

    def __init__(self, images, groups=None, builders=None, check_mode=False, waiter=None, now=None):
        self.images = images
        self.groups = groups
        self.builders = builders  # a BuilderWorkflow, to reap expired builders, or None
        self.check_mode = check_mode
        self.now = now or utcnow()
        self.workflow = ImageWorkflow(images, waiter, check_mode=check_mode)

    # -- what to look at ---------------------------------------------------------------------------------

    def _families(self, request):
        """{family: [images, newest first]} to consider."""
        if request.families:
            return {family: family_images(self.images, family) for family in dict.fromkeys(request.families)}
        managed = self.images.search(tags={self.images.codec.key(tagging.MANAGED): "true"})
        grouped = {}
        for image in newest_first(managed):
            grouped.setdefault(family_of(image), []).append(image)
        return grouped

    def service_references(self):
        """{image id: [why a service keeps it]} from the rollout record of every group that belongs to a service."""
        references = {}
        if self.groups is None:
            return references
        for group in self.groups.groups(with_members=False):
            service = group.record.service if group.record is not None else None
            if not service:
                continue
            for name, what in SERVICE_IMAGE_FIELDS:
                image_id = getattr(group.record, name)
                if image_id:
                    reason = "%s of service %s (group %s)" % (what, service, group.name)
                    references.setdefault(image_id, [])
                    if reason not in references[image_id]:
                        references[image_id].append(reason)
        return references

    # -- the decision --------------------------------------------------------------------------------------

    def prune(self, request):
        validate(request)
        outcome = PruneOutcome()
        families = self._families(request)
        references = self.service_references()
        floor = None
        if request.older_than_days is not None:
            floor = self.now - datetime.timedelta(days=request.older_than_days)
        for family, images in sorted(families.items()):
            self._prune_family(family, images, request, references, floor, outcome)
        if request.reap_builders and self.builders is not None:
            reaped = self.builders.reap()
            outcome.reaped = list(reaped.reaped)
            outcome.actions.extend(reaped.actions)
            outcome.changed = outcome.changed or reaped.changed
        return outcome

    def _prune_family(self, family, images, request, references, floor, outcome):
        channels = current_by_channel(self.images.codec, images)
        summary = {"images": len(images), "kept": 0, "pruned": 0}
        outcome.families[family] = summary
        for index, image in enumerate(newest_first(images)):
            reasons = self._reasons(image, index, request, references, channels, floor)
            if not reasons:
                reasons = self._go(image, family, request, outcome)
            if reasons:
                summary["kept"] += 1
                outcome.kept.append(_entry(image, family, reasons))
            else:
                summary["pruned"] += 1

    def _reasons(self, image, index, request, references, channels, floor):
        reasons = []
        if index < request.keep:
            reasons.append("one of the newest %d of its family" % request.keep)
        if image.state != AVAILABLE:
            reasons.append("not available (%s)" % image.state)
        if floor is not None:
            created = parse_utc(image.created, "image creation time") if image.created else None
            if created is None or created > floor:
                reasons.append("younger than %s days" % _days(request.older_than_days))
        for channel, current in sorted(channels.items()):
            if current.id == image.id:
                reasons.append("current image of channel %s" % channel)
        reasons.extend(references.get(image.id, []))
        return reasons

    def _go(self, image, family, request, outcome):
        """Deprecate or delete an image nothing else keeps; returns reasons when its users keep it instead."""
        if request.action == DELETE:
            try:
                result = self.workflow.absent(image_id=image.id)
            except PhoenixError as error:
                if error.code != "ImageInUse":
                    raise
                return ["in use by %s" % user for user in _described(error.details.get("users", []))]
            if not result.changed:
                return None  # already gone
            outcome.actions.extend(result.actions)
            outcome.changed = True
            outcome.pruned.append(_entry(image, family, action=DELETE, why=_why(request)))
            return None
        users = self.images.users(image)
        if users:
            return ["in use by %s" % user.describe() for user in users]
        # At least a minute ahead once the seconds are dropped: the cloud refuses a time already past.
        at = (self.now + datetime.timedelta(minutes=2)).replace(second=0, microsecond=0)
        current = parse_utc(image.deprecation_time) if image.deprecation_time else None
        if current is not None and current <= at:
            outcome.pruned.append(_entry(image, family, action=DEPRECATE, why=_why(request), already=True))
            return None
        outcome.actions.append(
            {"action": "deprecate_image", "image_id": image.id, "region": image.region, "deprecate_at": format_utc(at)}
        )
        outcome.changed = True
        if not self.check_mode:
            self.images.set_deprecation(image, at)
        outcome.pruned.append(_entry(image, family, action=DEPRECATE, why=_why(request), deprecate_at=format_utc(at)))
        return None


def _days(value):
    return ("%g" % value) if isinstance(value, float) else str(value)


def _why(request):
    why = "older than the newest %d of its family, unused" % request.keep
    if request.older_than_days is not None:
        why += ", older than %s days" % _days(request.older_than_days)
    return why


def _described(users):
    for user in users:
        detail = user.get("detail")
        yield "%s %s%s" % (user.get("kind"), user.get("id"), " (%s)" % detail if detail else "")
