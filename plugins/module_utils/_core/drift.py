# Private to this collection.
"""Drift: which running instances deviate from what their service should run, and replacing them in batches.

An instance is ``compliant`` or drifted for one or more reasons:

- ``wrong_image``: it does not run the image its group launches now (the image in the group's rollout
  record, or the image of what the group launches); for an instance outside our groups, the service's
  current image;
- ``unsigned_image`` / ``untrusted_image`` / ``revoked_image``: its image fails the trust policy (no
  signature at all / any other failure / revoked by the policy or signed by a revoked key);
- ``vulnerable_image`` / ``noncompliant_image``: its image's signed scan attestation has a finding above the
  policy's ``vulnerabilities`` / its signed compliance result fails the policy's ``compliance`` (the gate's
  reasons ``vulnerable`` / ``noncompliant`` and ``required rule``); an image whose scans cannot vouch for
  it (no scan, stale, incomplete, malformed, invalid attestation, wrong profile) is ``untrusted_image``;
- ``deprecated_image``: its image's deprecation time has passed;
- ``over_age``: it was launched more than ``max_age_days`` ago;
- ``unmanaged``: it is in the scan's scope (the service's network, the tag filter) but no group of ours
  launched it.

Replacing terminates drifted instances of our groups, a batch per group of at most ``max_unavailable``
instances at a time, without lowering the group's desired size, so the group launches replacements from
what it launches now; the next batch starts once the group is back to its size, healthy in service and at
its load balancer backends. An instance whose only drift is its group's own image (deprecated, untrusted)
is not replaced: a replacement would run the same image; the service needs a new deploy. Instances
outside our groups are only terminated with ``terminate_unmanaged``. No SDK, no Ansible.

Progress: the scan reports one line when it has classified the fleet, and one per batch once the batch is
healthy; a wait that lasts reports what it waits for at most once per ``WAIT_REPORT_SECONDS``.
"""

from __future__ import annotations

import datetime
import math
import time
from dataclasses import dataclass, field

from .errors import InvalidInput
from .health import HealthCheck, HealthSpec
from .policy import NO_SIGNATURE, REVOKED
from .rollout_model import GREEN
from .timeutil import format_utc, parse_utc, utcnow

COMPLIANT = "compliant"
WRONG_IMAGE = "wrong_image"
UNSIGNED_IMAGE = "unsigned_image"
UNTRUSTED_IMAGE = "untrusted_image"
REVOKED_IMAGE = "revoked_image"
VULNERABLE_IMAGE = "vulnerable_image"
NONCOMPLIANT_IMAGE = "noncompliant_image"
DEPRECATED_IMAGE = "deprecated_image"
OVER_AGE = "over_age"
UNMANAGED = "unmanaged"
REASONS = (
    WRONG_IMAGE,
    UNSIGNED_IMAGE,
    UNTRUSTED_IMAGE,
    REVOKED_IMAGE,
    VULNERABLE_IMAGE,
    NONCOMPLIANT_IMAGE,
    DEPRECATED_IMAGE,
    OVER_AGE,
    UNMANAGED,
)
# Reasons a replacement from the group's current template cures. The image-level ones (its trust, its scans,
# its deprecation) are not: a replacement would run the same image; the cure is a new image (bake, verify, swap).
INSTANCE_REASONS = (WRONG_IMAGE, OVER_AGE)

REPORT = "report"
REPLACE = "replace"
REMEDIATIONS = (REPORT, REPLACE)
UNMANAGED_BATCH = "(unmanaged)"
MAX_AGE_DAYS_LIMIT = 36500
# How each reason reads in a progress line.
REASON_WORDS = {
    WRONG_IMAGE: "wrong image",
    UNSIGNED_IMAGE: "unsigned",
    UNTRUSTED_IMAGE: "untrusted",
    REVOKED_IMAGE: "revoked",
    VULNERABLE_IMAGE: "vulnerable",
    NONCOMPLIANT_IMAGE: "noncompliant",
    DEPRECATED_IMAGE: "deprecated",
    OVER_AGE: "too old",
    UNMANAGED: "unmanaged",
}
# A wait for replacements says what it waits for at most this often.
WAIT_REPORT_SECONDS = 30.0


@dataclass(frozen=True)
class Observed:
    """An instance as the scan reads it: ``launched`` is an ISO 8601 UTC time, ``group`` its group or None."""

    id: str
    image_id: str
    launched: str
    state: str = "running"
    group: str = None
    subnet: str = None
    tags: dict = field(default_factory=dict)


@dataclass
class DriftRequest:
    service: str = None
    tags: dict = field(default_factory=dict)
    max_age_days: float = None
    remediate: str = REPORT
    max_unavailable: object = "25%"
    terminate_unmanaged: bool = False
    trust: bool = False  # whether a trust policy judges the images
    health_interval: float = 5.0


def parse_max_unavailable(value):
    """('count', n) or ('percent', p) from ``3``, ``"3"`` or ``"25%"``; InvalidInput otherwise."""
    text = str(value).strip() if value is not None else ""
    try:
        if text.endswith("%"):
            percent = float(text[:-1])
            if 0 < percent <= 100:
                return "percent", percent
        else:
            count = int(text)
            if count >= 1:
                return "count", count
    except ValueError:
        pass
    raise InvalidInput(
        "max_unavailable must be a whole number of instances (at least 1) or a percentage like 25%%; got %r" % (value,),
        resource="max_unavailable",
        hint="It is how many instances of a group may be out of service at once while drifted ones are replaced.",
    )


def batch_size(max_unavailable, group_size):
    """How many instances of a group of ``group_size`` may be replaced at once (at least 1)."""
    kind, amount = parse_max_unavailable(max_unavailable)
    if kind == "count":
        return amount
    return max(1, int(math.floor(group_size * amount / 100.0)))


def validate(request):
    if request.remediate not in REMEDIATIONS:
        raise InvalidInput(
            "remediate must be one of %s; got %r" % (", ".join(REMEDIATIONS), request.remediate), resource="remediate"
        )
    parse_max_unavailable(request.max_unavailable)
    if request.max_age_days is not None and not 0 < request.max_age_days <= MAX_AGE_DAYS_LIMIT:
        raise InvalidInput(
            "max_age_days must be more than 0 and at most %d; got %r" % (MAX_AGE_DAYS_LIMIT, request.max_age_days),
            resource="max_age_days",
        )
    if request.service is not None and not request.service:
        raise InvalidInput("service must not be empty; leave it out to scan every service", resource="service")


# The scan gate's refusal reasons (_scan/gate.py) that say the image is bad, each with its drift reason. Every other
# refusal (no scan, stale scan, incomplete scan, malformed scan, invalid attestation, no compliance result, wrong
# profile) says its scans cannot vouch for it: untrusted_image (fail closed: still drift, with the gate's words).
SCAN_REASONS = {
    "vulnerable": VULNERABLE_IMAGE,
    "noncompliant": NONCOMPLIANT_IMAGE,
    "required rule": NONCOMPLIANT_IMAGE,
}


def trust_reasons(verdict):
    """[(drift reason, detail)] of a trust verdict (a policy.Verification); [] when it passed or there is none.

    A verdict refused by the scan gates gives one entry per drift reason its refusals map to (an image can be
    both vulnerable and noncompliant), in REASONS order, each detail joining the messages behind it.
    """
    if verdict is None or verdict.verified:
        return []
    if verdict.reason == NO_SIGNATURE:
        return [(UNSIGNED_IMAGE, verdict.message or verdict.reason)]
    if verdict.reason == REVOKED:
        return [(REVOKED_IMAGE, verdict.message or verdict.reason)]
    refusals = [refusal for refusal in (getattr(verdict, "refusals", None) or []) if isinstance(refusal, dict)]
    if not refusals:
        return [(UNTRUSTED_IMAGE, verdict.message or verdict.reason)]
    found = {}
    for refusal in refusals:
        reason = SCAN_REASONS.get(refusal.get("reason"), UNTRUSTED_IMAGE)
        found.setdefault(reason, []).append(str(refusal.get("message") or refusal.get("reason")))
    return [(reason, "; ".join(found[reason])) for reason in REASONS if reason in found]


def trust_reason(verdict):
    """The first drift reason of a trust verdict, or None when it passed (see trust_reasons)."""
    found = trust_reasons(verdict)
    return found[0][0] if found else None


def is_deprecated(image, now):
    if image is None or not image.deprecation_time:
        return False
    return parse_utc(image.deprecation_time, "deprecation time") <= now


def classify(instance, wanted_image, managed, image, verdict, max_age_days, now):
    """[(reason, detail)] for one instance; empty when it is compliant.

    ``wanted_image`` is what it should run (None when unknown), ``managed`` whether a group of ours launched
    it, ``image`` the model of the image it runs (None when the cloud no longer has it), ``verdict`` the trust
    verdict on that image (None without a policy).
    """
    found = []
    if wanted_image and instance.image_id != wanted_image:
        found.append((WRONG_IMAGE, "runs %s, its service runs %s" % (instance.image_id, wanted_image)))
    found.extend(trust_reasons(verdict))
    if is_deprecated(image, now):
        found.append((DEPRECATED_IMAGE, "image %s was deprecated at %s" % (image.id, image.deprecation_time)))
    if max_age_days is not None and instance.launched:
        launched = parse_utc(instance.launched, "launch time")
        if now - launched > datetime.timedelta(days=max_age_days):
            found.append((OVER_AGE, "launched %s, more than %s days ago" % (instance.launched, max_age_days)))
    if not managed:
        found.append(
            (UNMANAGED, "in group %s, not one of ours" % instance.group if instance.group else "in no instance group")
        )
    return found


def replaceable(reasons):
    """Whether a replacement from the group's current template cures the drift."""
    return any(reason in INSTANCE_REASONS for reason in reasons)


def plan_batches(drifted, sizes, max_unavailable):
    """Batches [{group, instances, max_unavailable}]: per group, chunks of at most its batch size, in order."""
    batches = []
    for group in sorted(drifted):
        ids = sorted(drifted[group])
        size = batch_size(max_unavailable, sizes.get(group, len(ids)))
        for start in range(0, len(ids), size):
            batches.append({"group": group, "instances": ids[start : start + size], "max_unavailable": size})
    return batches


def _count(number, word):
    return f"{number:,} {word}{'' if number == 1 else 's'}"


def scan_line(total, groups, counts, drifted):
    """``drift: 1,000 instances in 12 groups, 37 drifted (unsigned 20, too old 17)``."""
    reasons = ", ".join(f"{REASON_WORDS[r]} {counts[r]:,}" for r in REASONS if counts.get(r))
    return "drift: %s in %s, %s drifted%s" % (
        _count(total, "instance"),
        _count(groups, "group"),
        f"{drifted:,}",
        " (%s)" % reasons if reasons else "",
    )


def batch_what(instances, images, wanted):
    """``3 instances: ami-old → ami-new`` (the images the batch's instances run, and what replaces them)."""
    old = ", ".join(sorted({images.get(instance_id) or "?" for instance_id in instances}))
    return "%s: %s → %s" % (_count(len(instances), "instance"), old, wanted or "?")


def empty_counts():
    counts = {COMPLIANT: 0}
    counts.update((reason, 0) for reason in REASONS)
    return counts


class DriftScan:
    """Scan, classify and (optionally) replace. Backends: GroupBackend, TrafficBackend, InstanceBackend.

    ``verifier(images, missing_ids)`` returns {image id: Verification} (None: no trust policy).
    """

    def __init__(
        self,
        groups,
        traffic,
        instances,
        verifier=None,
        waiter=None,
        check_mode=False,
        now=None,
        report=None,
        clock=time.monotonic,
    ):
        self.groups = groups
        self.traffic = traffic
        self.instances = instances
        self.verifier = verifier
        self.waiter = waiter
        self.check_mode = check_mode
        self.now = now or utcnow()
        self.report = report or (lambda line: None)
        self.clock = clock
        self.warnings = []

    @property
    def _scan_lists_members(self):
        return getattr(self.instances, "lists_group_members", False)

    @staticmethod
    def field(group, name):
        """A field of the group's rollout record (None on a group without one)."""
        return getattr(group.record, name) if group.record is not None else None

    def wanted_image(self, group):
        return self.field(group, "image") or self.groups.image_of(group)

    def _groups_in_play(self, request):
        listed = self.groups.groups(with_members=not self._scan_lists_members)
        tagged = [group for group in listed if not group.deleting and self.field(group, "service")]
        ours = tagged
        self._foreign = {}
        if request.service:
            ours = [group for group in tagged if self.field(group, "service") == request.service]
            # Another service's groups share the network: their instances are that service's, never "unmanaged".
            names = {group.name for group in ours}
            self._foreign = {group.name: group for group in tagged if group.name not in names}
            if not ours:
                raise InvalidInput(
                    "service %r has no instance group of this collection in %s"
                    % (request.service, getattr(self.groups, "region", "this region")),
                    resource=request.service,
                    hint="Deploy it with phoenix.immutable.blue_green first, or scan by tags instead of service.",
                )
        return ours

    def _current_images(self, ours):
        """{service: image its serving group runs}: the group not mid-rollout, else the only one."""
        current = {}
        for group in sorted(ours, key=lambda item: item.name):
            service = self.field(group, "service")
            if self.field(group, "role") != GREEN or service not in current:
                current[service] = self.wanted_image(group)
        return current

    def scan(self, request):
        validate(request)
        ours = self._groups_in_play(request)
        by_name = {group.name: group for group in ours}
        subnets = (
            sorted({subnet for group in ours for subnet in group.subnets})
            if (request.service or not request.tags)
            else []
        )
        # The backend hands instances over as its pages arrive: only those in scope are kept.
        arriving = self.instances.instances(subnets=subnets, tags=request.tags) if (subnets or request.tags) else []
        if self._scan_lists_members:
            listed = [i for i in arriving if i.group not in self._foreign]
            member_of = {i.id: i.group for i in listed if i.group in by_name}
        else:
            member_of = {instance.id: group.name for group in ours for instance in group.instances}
            foreign = {instance.id for group in self._foreign.values() for instance in group.instances}
            listed = [
                i for i in arriving if i.id not in foreign and (i.group not in self._foreign or i.id in member_of)
            ]
        current = self._current_images(ours)
        default_image = current.get(request.service) if request.service else None
        image_ids = sorted({instance.image_id for instance in listed if instance.image_id})
        images = {image.id: image for image in self.instances.images(image_ids)} if image_ids else {}
        verdicts = {}
        if self.verifier is not None and image_ids:
            verdicts = self.verifier(
                [images[i] for i in image_ids if i in images], [i for i in image_ids if i not in images]
            )
        report, counts = [], empty_counts()
        drifted, unmanaged, kept = {}, [], []
        for instance in sorted(listed, key=lambda item: item.id):
            group_name = member_of.get(instance.id)
            group = by_name.get(group_name)
            managed = group is not None
            wanted = self.wanted_image(group) if managed else default_image
            found = classify(
                instance,
                wanted,
                managed,
                images.get(instance.image_id),
                verdicts.get(instance.image_id),
                request.max_age_days,
                self.now,
            )
            reasons = [reason for reason, _detail in found]
            entry = {
                "id": instance.id,
                "image_id": instance.image_id,
                "wanted_image": wanted,
                "group": group_name or instance.group,
                "service": self.field(group, "service") if managed else request.service,
                "launched": instance.launched,
                "state": instance.state,
                "compliant": not found,
                "reasons": reasons,
                "details": [detail for _reason, detail in found],
            }
            report.append(entry)
            if not found:
                counts[COMPLIANT] += 1
                continue
            for reason in reasons:
                counts[reason] += 1
            if not managed:
                unmanaged.append(instance.id)
            elif replaceable(reasons):
                drifted.setdefault(group_name, []).append(instance.id)
            else:
                kept.append(instance.id)
                entry["details"].append("not replaced: a replacement would run the same image; deploy a new one")
        busy = sorted({self.field(g, "service") for g in ours if self.field(g, "role") == GREEN})
        for name in sorted(drifted):
            if self.field(by_name[name], "service") in busy:
                self.warnings.append(
                    "service %s has a rollout in progress: its drifted instances are reported, not replaced"
                    % self.field(by_name[name], "service")
                )
                kept.extend(drifted.pop(name))
        batches = plan_batches(drifted, {name: by_name[name].size for name in drifted}, request.max_unavailable)
        if request.terminate_unmanaged and unmanaged:
            batches.append(
                {"group": UNMANAGED_BATCH, "instances": sorted(unmanaged), "max_unavailable": len(unmanaged)}
            )
        return Scan(report, counts, batches, by_name, images, verdicts, kept, unmanaged)

    def run(self, request, health=None):
        """The scan's result dict; with ``remediate: replace`` outside check mode, the batches are carried out."""
        scan = self.scan(request)
        result = scan.to_dict(request, self.now)
        self.report(scan_line(result["total"], len(scan.groups), scan.counts, len(result["drifted"])))
        replacing = request.remediate == REPLACE and bool(scan.batches)
        result["changed"] = replacing
        result["replaced"] = []
        result["terminated_unmanaged"] = []
        if not replacing or self.check_mode:
            result["warnings"] = list(self.warnings)
            return result
        checker = HealthCheck(health or HealthSpec(interval=request.health_interval), self.groups, self.traffic, None)
        # What each instance runs and should run, as the scan found them (no further read for a line).
        running = {entry["id"]: entry["image_id"] for entry in result["instances"]}
        wanted = {entry["id"]: entry["wanted_image"] for entry in result["instances"]}
        per_group = {}
        for batch in scan.batches:
            per_group[batch["group"]] = per_group.get(batch["group"], 0) + 1
        numbers = {}
        for batch in scan.batches:
            name = batch["group"]
            if name == UNMANAGED_BATCH:
                self.instances.terminate(batch["instances"])
                result["terminated_unmanaged"].extend(batch["instances"])
                self.report("%s: terminated %s" % (name, _count(len(batch["instances"]), "instance")))
                continue
            numbers[name] = numbers.get(name, 0) + 1
            title = "%s: replace batch %d/%d" % (name, numbers[name], per_group[name])
            what = batch_what(batch["instances"], running, wanted.get(batch["instances"][0]))
            started = self.clock()
            for instance_id in batch["instances"]:
                self.instances.replace_in_group(name, instance_id)
            result["replaced"].extend(batch["instances"])
            healthy = self._wait_replaced(checker, scan.groups[name], batch["instances"], title, started)
            self.report(
                "%s (%s), %d/%d healthy in %d s"
                % (title, what, healthy, scan.groups[name].size, round(self.clock() - started))
            )
        result["warnings"] = list(self.warnings)
        return result

    def _wait_replaced(self, checker, group, gone, title, started):
        """Until the group is back to its size, healthy in service and at each of its backends, without ``gone``.

        Returns how many of its instances were last seen healthy; while it waits, says why at most once per
        WAIT_REPORT_SECONDS.
        """
        gone = set(gone)
        seen = {"healthy": 0, "reported": started}

        def fetch():
            problems, healthy = [], []
            for backend in group.backends or [None]:
                found, evidence = checker.check(group.name, backend, group.size, with_probe=False)
                problems.extend(found)
                healthy.append(evidence.get("targets", evidence["instances"])["healthy"])
            seen["healthy"] = min(healthy)
            current = self.groups.get(group.name)
            present = {instance.id for instance in (current.instances if current else [])}
            left = [] if getattr(self.instances, "replaces_under_same_id", False) else sorted(gone & present)
            if left:
                problems.append("%d replaced instance(s) still in %s" % (len(left), group.name))
            now = self.clock()
            if problems and now - seen["reported"] >= WAIT_REPORT_SECONDS:
                seen["reported"] = now
                self.report("%s, waiting %d s: %s" % (title, round(now - started), "; ".join(problems)))
            return problems

        self.waiter.until(fetch, lambda problems: not problems, "replacements in group %s to be healthy" % group.name)
        return seen["healthy"]


@dataclass
class Scan:
    report: list
    counts: dict
    batches: list
    groups: dict
    images: dict
    verdicts: dict
    kept: list
    unmanaged: list

    def to_dict(self, request, now):
        images = {}
        for image_id in sorted({entry["image_id"] for entry in self.report if entry["image_id"]}):
            image = self.images.get(image_id)
            verdict = self.verdicts.get(image_id)
            images[image_id] = {
                "name": image.name if image else None,
                "found": image is not None,
                "deprecation_time": image.deprecation_time if image else None,
                "verified": verdict.verified if verdict is not None else None,
                "trust_reason": verdict.reason if verdict is not None else None,
            }
        return {
            "scanned_at": format_utc(now),
            "service": request.service,
            "remediate": request.remediate,
            "instances": self.report,
            "counts": self.counts,
            "total": len(self.report),
            "drifted": [entry["id"] for entry in self.report if not entry["compliant"]],
            "batches": self.batches,
            "not_replaced": sorted(self.kept),
            "unmanaged": sorted(self.unmanaged),
            "images": images,
        }
