# Private to this collection.
"""The image workflow, the same on every cloud: create, tag, copy, deprecate and delete golden images.

It decides; the backend translates. Nothing here knows which cloud it is talking to.
"""

from __future__ import annotations

import datetime
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from . import tags as tagging
from .builders import GONE, STOPPED
from .errors import InvalidInput, PhoenixError
from .model import AVAILABLE, FAILED, newest_first
from .pace import Pace, no_report
from .signing import existing_image, signers_of
from .timeutil import format_utc, parse_utc, utcnow

# AWS refuses deprecation dates more than ten years ahead; the other clouds accept at least as much.
MAX_DEPRECATION_AHEAD = datetime.timedelta(days=3650)
MAX_PARALLEL_COPIES = 8


@dataclass
class ImageRequest:
    name: str
    instance_id: str | None = None
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    purge_tags: bool = False
    copy_to_regions: list[str] = field(default_factory=list)
    no_reboot: bool = False
    # Stop the builder and wait until it is stopped before imaging it: nothing runs between the last
    # provisioning step and the snapshot, and the snapshot is consistent without a reboot.
    stop_instance: bool = False
    # How the image was made ({name: text}), written on creation as the collection's own metadata
    # (``provenance_tags``) and read back by name (``provenance_of``).
    provenance: dict[str, str] = field(default_factory=dict)
    # The image family a new image joins (a family is given when an image is made, never changed after).
    family: str | None = None


@dataclass
class Outcome:
    changed: bool = False
    image: dict | None = None
    copies: list[dict] = field(default_factory=list)
    actions: list[dict] = field(default_factory=list)
    users: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # One per image signed (or found signed) by this task: the image first, then each copy as it arrived.
    signatures: list[dict] = field(default_factory=list)
    # Copies that failed: region, id (None when the copy was never started) and the error.
    failed_copies: list[dict] = field(default_factory=list)
    before: dict | None = None
    after: dict | None = None

    def plan(self, action, **details):
        self.actions.append(dict(action=action, **details))
        self.changed = True


def label(image):
    return "image %s (%s) in %s" % (image.id, image.name, image.region)


def summary(image):
    """What diff mode shows of an image: the parts a user changes."""
    if image is None:
        return None
    return {
        "id": image.id,
        "name": image.name,
        "region": image.region,
        "tags": dict(image.tags),
        "family": image.family,
        "deprecation_time": image.deprecation_time,
    }


# Names the collection stores under itself: a provenance entry may not take one of them.
RESERVED_NAMES = frozenset(
    (
        tagging.MANAGED,
        tagging.SOURCE_IMAGE,
        tagging.SOURCE_INSTANCE,
        tagging.COPIED_FROM,
        tagging.FAMILY,
        tagging.BUILDER,
        tagging.EXPIRES_AT,
        tagging.BUILDER_ACCESS_RULE,
        tagging.BUILDER_SSH_KEY,
        tagging.SIGNATURE,
        tagging.SERVICE,
        tagging.PROMOTION,
    )
)


def provenance_tags(codec, provenance, resource):
    """The tags that store ``provenance`` ({name: text}) through ``codec``, refused before any call when illegal.

    A text that fits in one value is stored as it is under ``key(name)`` (on AWS ``phoenix:<name>``, as the
    bake always wrote it); a longer one is stored whole as the codec's chunks ``key(name, n)``, never cut.
    """
    tags = {}
    for name, text in sorted(provenance.items()):
        if not name or name in RESERVED_NAMES:
            raise InvalidInput(
                "provenance name %r of %s is %s" % (name, resource, "empty" if not name else "the collection's own"),
                resource=resource,
                hint="Nothing was changed; reserved names: %s." % ", ".join(sorted(RESERVED_NAMES)),
            )
        if codec.fits(text):
            tags[codec.key(name)] = text
        else:
            tags.update(codec.chunks(name, (), text.encode("utf-8"), resource))
    return tags


def provenance_of(codec, tags):
    """{name: text} of the collection's own single-valued metadata in ``tags``: what ``provenance_tags`` and the
    workflow wrote (source image and instance, copied from, managed). Unreadable chunks are left out."""
    plain, chunked = {}, {}
    for key, value in tags.items():
        parts = codec.parts(key)
        if not parts or parts[0] in (tagging.SIGNATURE, tagging.PROMOTION):
            continue
        if len(parts) == 1:
            plain[parts[0]] = value
        elif len(parts) == 2 and parts[1].isascii() and parts[1].isdigit():
            chunked.setdefault(parts[0], {})[int(parts[1])] = value
    for name, chunks in chunked.items():
        if name in plain or sorted(chunks) != list(range(len(chunks))):
            continue
        try:
            plain[name] = codec.decode_value([chunks[number] for number in sorted(chunks)]).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            continue
    return plain


def described(image, codec):
    """What a reader is given of ``image``: its fields, its provenance by name and who signed it, whatever the
    cloud's tag or label syntax (the codec reads it)."""
    signers = signers_of(codec, image)
    return dict(image.to_dict(), provenance=provenance_of(codec, image.tags), signers=signers, signed=bool(signers))


def _seconds(value):
    return "%d s" % round(value)


class ImageWorkflow:
    """``report(line)`` hears one line per phase (image available, each copy arrived and signed) and, during a
    long wait, at most one line per ``pace.WAIT_LINE_SECONDS``."""

    def __init__(self, backend, waiter, check_mode=False, report=no_report, clock=time.monotonic):
        self.backend = backend
        self.waiter = waiter
        self.check_mode = check_mode
        self.report = report
        self.clock = clock

    # -- reading ---------------------------------------------------------------------------------

    def find(self, image_ids=None, name_pattern=None, tags=None, owners=None):
        return newest_first(
            self.backend.search(image_ids=image_ids, name_pattern=name_pattern, tags=tags, owners=owners)
        )

    def describe(self, image):
        return described(image, self.backend.codec)

    def resolve(self, image_id=None, name=None, backend=None):
        backend = backend or self.backend
        if image_id:
            return backend.get(image_id)
        matches = backend.find_by_name(name)
        if len(matches) > 1:
            raise PhoenixError(
                "%d images are named %r in %s: %s"
                % (len(matches), name, backend.region, ", ".join(sorted(image.id for image in matches))),
                resource=name,
                code="AmbiguousName",
                cloud=backend.cloud,
                hint="Name the one you mean with image_id.",
            )
        return matches[0] if matches else None

    def wait_available(self, image, backend=None, tick=None):
        """Wait until the image is available; ``tick()``, if given, after each look (it paces its own lines)."""
        backend = backend or self.backend

        def fetch():
            current = backend.get(image.id)
            if tick is not None:
                tick()
            return current

        return self.waiter.until(
            fetch=fetch,
            ready=lambda current: current is not None and current.state == AVAILABLE,
            failed=lambda current: (
                (current.state_reason or current.cloud_state or "failed")
                if current is not None and current.state == FAILED
                else None
            ),
            what=label(image),
            current=image,
        )

    # -- state: present --------------------------------------------------------------------------

    def present(self, request, signing=None):
        """Create the image (or converge the existing one's tags), copy it to every region of the request in
        parallel and, with ``signing`` (an ``ImageSigning``), sign each copy as soon as it is available and
        the image itself once every copy is (its signature says the whole image is done).

        A failure names in its details what exists (``image``, ``copies``, ``failed_copies``): a copy that
        succeeded is kept, signed and reported, and a second run finds it by name and copies only what failed.
        """
        outcome = Outcome()
        self.backend.check_tags(request.tags, resource="image %r" % request.name)
        if request.family:
            self.backend.check_family(request.family, resource="image %r" % request.name)
        regions = self.copy_regions(request.copy_to_regions)

        image = self.resolve(name=request.name)
        outcome.before = summary(image)
        if image is None:
            image = self._create(request, outcome)
        else:
            if image.state == FAILED:
                raise PhoenixError(
                    "%s is in a failed state: %s" % (label(image), image.state_reason or image.cloud_state),
                    resource=image.id,
                    code="ImageFailed",
                    cloud=self.backend.cloud,
                    hint="Delete it with state: absent and bake again.",
                )
            if image.state != AVAILABLE:
                image = self.wait_available(image)
            image = self._converge_tags(image, request.tags, request.purge_tags, outcome)
            if request.family and image.family != request.family:
                outcome.warnings.append(
                    "%s exists in image family %s, not %s: an image gets its family when it is made, and keeps it"
                    % (label(image), image.family or "(none)", request.family)
                )

        try:
            if regions:
                outcome.copies = self._copies(image, request, regions, outcome, signing)
            # The image's own signature is written last, once every copy is there and signed: an image
            # signed with this key is a finished one, and a run killed before that leaves it unsigned.
            if image is not None and signing is not None:
                image = self._sign(signing, self.backend, image, outcome, first=True)
                if not self.check_mode:
                    copies = ", as are its %d copies" % len(outcome.copies) if outcome.copies else ""
                    self.report("%s: signed by %s…%s" % (image.id, outcome.signatures[0]["keyid"][:16], copies))
        except PhoenixError as error:
            error.details.setdefault("image", image.to_dict() if image is not None else None)
            error.details.setdefault("signatures", outcome.signatures)
            raise
        outcome.image = image.to_dict() if image is not None else None
        outcome.after = (
            summary(image)
            if image is not None
            else {"name": request.name, "tags": request.tags, "family": request.family}
        )
        return outcome

    def copy_regions(self, regions):
        """The regions of ``regions`` an image is copied to (the backend's own left out); InvalidInput, before
        any change, for a region the account cannot use, or any region where images are not copied (GCP)."""
        wanted = []
        for region in regions:
            if region != self.backend.region and region not in wanted:
                wanted.append(region)
        if not wanted:
            return []
        enabled = set(self.backend.enabled_regions())
        unknown = [region for region in wanted if region not in enabled]
        if unknown:
            raise InvalidInput(
                "copy_to_regions names regions this %s account cannot use: %s"
                % (self.backend.cloud, ", ".join(unknown)),
                resource=", ".join(unknown),
                hint="Enabled regions: %s." % ", ".join(sorted(enabled)),
            )
        return wanted

    def _create(self, request, outcome):
        if not request.instance_id:
            raise InvalidInput(
                "no image named %r exists in %s, and instance_id (the builder to snapshot) was not given"
                % (request.name, self.backend.region),
                resource=request.name,
                hint="Give instance_id to create it.",
            )
        codec = self.backend.codec
        resource = "image %r" % request.name
        # Checked before the builder is stopped: a refusal leaves it as it was.
        provenance = provenance_tags(codec, request.provenance, resource)
        planned = dict(request.tags, **provenance)
        planned[codec.key(tagging.MANAGED)] = "true"
        planned[codec.key(tagging.SOURCE_INSTANCE)] = request.instance_id
        # Counted now with the base image's tag, whose value is read from the builder below.
        self.backend.check_tags(dict(planned, **{codec.key(tagging.SOURCE_IMAGE): ""}), resource)
        stop = request.stop_instance
        source = self._stop(request, outcome) if stop else self.backend.source_of(request.instance_id)
        tags = dict(request.tags)
        tags[codec.key(tagging.MANAGED)] = "true"
        tags[codec.key(tagging.SOURCE_INSTANCE)] = request.instance_id
        if source:
            tags[codec.key(tagging.SOURCE_IMAGE)] = source
        # The base image's id, known once the builder is read, is an id path like the instance's, which
        # every adapter can store (GCP splits one over a label per segment).
        tags.update(provenance)
        self.backend.check_tags(tags, resource)
        outcome.plan(
            "create_image",
            name=request.name,
            region=self.backend.region,
            instance_id=request.instance_id,
            family=request.family,
        )
        if self.check_mode:
            return None
        image = self.backend.create(
            request.name, request.instance_id, request.description, tags, request.no_reboot, family=request.family
        )
        self.report("%s: imaging %s into %s" % (request.name, request.instance_id, image.id))
        pace = Pace(self.report, clock=self.clock)
        try:
            image = self.wait_available(
                image,
                tick=lambda: pace.maybe(
                    lambda: (
                        "%s: waiting for it to be available, %s of %s"
                        % (image.id, _seconds(pace.elapsed()), _seconds(self.waiter.timeout))
                    )
                ),
            )
        except PhoenixError as error:
            error.details.setdefault("image", image.to_dict())
            raise
        self.report("%s: available in %s" % (image.id, _seconds(pace.elapsed())))
        return image

    def _stop(self, request, outcome):
        """Stop the builder and wait until it is; returns the image it was launched from."""
        instance_id = request.instance_id
        outcome.plan("stop_instance", instance_id=instance_id, region=self.backend.region)
        if self.check_mode:
            return self.backend.source_of(instance_id)
        answered = self.backend.stop_source(instance_id)
        self.report("%s: stopping builder %s before imaging it" % (request.name, instance_id))
        pace = Pace(self.report, clock=self.clock)
        _state, source = self.waiter.until(
            fetch=lambda: self._source_state(instance_id, pace),
            ready=lambda current: current[0] == STOPPED,
            failed=lambda current: "it is gone" if current[0] == GONE else None,
            what="builder %s in %s to stop" % (instance_id, self.backend.region),
            current=(answered, None) if answered != STOPPED else None,
        )
        return source

    def _source_state(self, instance_id, pace):
        current = self.backend.source_instance(instance_id)
        pace.maybe(
            lambda: (
                "%s: waiting for it to stop, %s of %s"
                % (instance_id, _seconds(pace.elapsed()), _seconds(self.waiter.timeout))
            )
        )
        return current

    def _sign(self, signing, backend, image, outcome, first=False):
        """Sign ``image``; returns it with the signature in its tags. ``first``: listed before the others."""
        signed = signing.sign(backend, image)
        entry = {
            "image_id": signed.image_id,
            "region": signed.region,
            "keyid": signed.keyid,
            "statement_digest": signed.statement_digest,
            "changed": signed.changed,
        }
        if signed.attestations:
            entry["attestations"] = signed.attestations
        outcome.signatures.insert(0 if first else len(outcome.signatures), entry)
        outcome.actions.extend(signed.actions)
        attested = any(attestation["changed"] for attestation in signed.attestations)
        outcome.changed = outcome.changed or signed.changed or attested
        if attested and not self.check_mode:
            return existing_image(backend, image.id)  # with the attestations' tags and the signature's
        if not signed.changed or self.check_mode:
            return image
        tags = {key: value for key, value in image.tags.items() if key not in signed.tags_removed}
        tags.update(signed.tags)
        return replace(image, tags=tags)

    def _converge_tags(self, image, wanted, purge, outcome, backend=None):
        backend = backend or self.backend
        # The collection's own tags (those its codec made) are never purged.
        keep = {key: value for key, value in image.tags.items() if backend.codec.parts(key) is not None}
        to_set, to_remove = tagging.tag_changes(image.tags, dict(keep, **wanted), purge)
        if not to_set and not to_remove:
            return image
        backend.check_tags(dict(image.tags, **to_set), resource=label(image))
        outcome.plan("set_tags", image_id=image.id, region=image.region, set=to_set, remove=to_remove)
        if self.check_mode:
            merged = {key: value for key, value in image.tags.items() if key not in to_remove}
            merged.update(to_set)
            return replace(image, tags=merged)
        backend.set_tags(image, to_set, to_remove)
        return backend.get(image.id)

    def _copy_tags(self, image, backend):
        """The source's tags, less its signatures (each copy is an image of its own, signed on its own)."""
        codec = backend.codec
        tags = {key: value for key, value in image.tags.items() if (codec.parts(key) or ("",))[0] != tagging.SIGNATURE}
        tags[codec.key(tagging.COPIED_FROM)] = "%s/%s" % (image.region, image.id)
        return tags

    def _copies(self, image, request, regions, outcome, signing=None):
        # Every region's backend (and so its client) is made here, before the threads start.
        backends = {region: self.backend.in_region(region) for region in regions}
        if signing is not None:
            for backend in backends.values():
                signing.prepare(backend)
        source = image.id if image is not None else request.name
        pace = Pace(self.report, clock=self.clock)
        arrived = []

        def waiting():
            return "%s: waiting for copies, %d/%d available, %s of %s" % (
                source,
                len(arrived),
                len(regions),
                _seconds(pace.elapsed()),
                _seconds(self.waiter.timeout),
            )

        def converge(region):
            backend = backends[region]
            local = Outcome()
            copy = None
            try:
                copy = self.resolve(name=request.name, backend=backend)
                if copy is None:
                    local.plan("copy_image", name=request.name, region=region, source=image.id if image else None)
                    if self.check_mode or image is None:
                        return region, None, local, None
                    copy = backend.copy_from(image, self._copy_tags(image, backend))
                    copy = self.wait_available(copy, backend=backend, tick=lambda: pace.maybe(waiting))
                else:
                    if copy.state != AVAILABLE:
                        copy = self.wait_available(copy, backend=backend, tick=lambda: pace.maybe(waiting))
                    copy = self._converge_tags(copy, request.tags, request.purge_tags, local, backend=backend)
                if signing is not None:
                    copy = self._sign(signing, backend, copy, local)
            except Exception as error:  # pylint: disable=broad-exception-caught
                # One copy failing must not lose the others: it is reported with what it left.
                self.report("%s: copy to %s failed: %s" % (source, region, error))
                return region, copy, local, error
            arrived.append(region)
            self.report(
                "%s: copy to %s → %s available in %s%s (%d/%d)"
                % (
                    source,
                    region,
                    copy.id,
                    _seconds(pace.elapsed()),
                    ", signed" if signing is not None else "",
                    len(arrived),
                    len(regions),
                )
            )
            return region, copy, local, None

        with ThreadPoolExecutor(max_workers=min(len(regions), MAX_PARALLEL_COPIES)) as pool:
            results = list(pool.map(converge, regions))
        copies, failures = [], []
        for region, copy, local, error in results:
            outcome.actions.extend(local.actions)
            outcome.signatures.extend(local.signatures)
            outcome.changed = outcome.changed or local.changed
            if error is not None:
                failures.append((region, copy, error))
            elif copy is not None:
                copies.append(copy.to_dict())
        if failures:
            outcome.failed_copies = [
                {"region": region, "id": copy.id if copy is not None else None, "error": str(error)}
                for region, copy, error in failures
            ]
            raise PhoenixError(
                "%d of %d copies of %s failed: %s"
                % (
                    len(failures),
                    len(regions),
                    source,
                    "; ".join("%s: %s" % (region, error) for region, _copy, error in failures),
                ),
                resource=source,
                code=failures[0][2].code if isinstance(failures[0][2], PhoenixError) else "CopyFailed",
                cloud=self.backend.cloud,
                hint="The copies that succeeded are kept (RV copies); run again to copy only what failed.",
                details={"copies": copies, "failed_copies": outcome.failed_copies},
            )
        return copies

    # -- state: absent ---------------------------------------------------------------------------

    def absent(self, image_id=None, name=None, force=False):
        outcome = Outcome()
        image = self.resolve(image_id=image_id, name=name)
        if image is None:
            return outcome
        users = self.backend.users(image)
        outcome.users = [user.to_dict() for user in users]
        if users and not force:
            raise PhoenixError(
                "refusing to delete %s: it is in use by %s"
                % (label(image), ", ".join(user.describe() for user in users)),
                resource=image.id,
                code="ImageInUse",
                cloud=self.backend.cloud,
                hint="Replace or retire what uses it first, or set force: true to delete it anyway.",
                details={"users": outcome.users},
            )
        if users:
            outcome.warnings.append(
                "deleting %s although it is in use by %s (force: true)"
                % (label(image), ", ".join(user.describe() for user in users))
            )
        outcome.before = summary(image)
        outcome.plan("delete_image", image_id=image.id, region=image.region, snapshots=image.snapshot_ids)
        if not self.check_mode:
            self.backend.delete(image)
        outcome.image = image.to_dict()
        return outcome

    # -- state: deprecated -----------------------------------------------------------------------

    def deprecated(self, deprecate_at, image_id=None, name=None, now=None):
        outcome = Outcome()
        at = parse_utc(deprecate_at, what="deprecate_at").replace(second=0, microsecond=0)
        image = self.resolve(image_id=image_id, name=name)
        if image is None:
            raise PhoenixError(
                "cannot deprecate %s in %s: no such image" % (image_id or repr(name), self.backend.region),
                resource=image_id or name,
                code="ImageNotFound",
                cloud=self.backend.cloud,
            )
        outcome.image = image.to_dict()
        current = parse_utc(image.deprecation_time) if image.deprecation_time else None
        if current is not None and current.replace(second=0, microsecond=0) == at:
            return outcome
        now = now or utcnow()
        if at <= now:
            raise InvalidInput(
                "deprecate_at %s is in the past" % format_utc(at),
                resource=image.id,
                hint="Give a future time; an image already past its deprecation time stays as it is.",
            )
        if at - now > MAX_DEPRECATION_AHEAD:
            raise InvalidInput("deprecate_at %s is more than ten years ahead" % format_utc(at), resource=image.id)
        outcome.before = summary(image)
        outcome.plan("deprecate_image", image_id=image.id, region=image.region, deprecate_at=format_utc(at))
        if self.check_mode:
            image = replace(image, deprecation_time=format_utc(at))
        else:
            self.backend.set_deprecation(image, at)
            image = self.backend.get(image.id)
        outcome.image = image.to_dict()
        outcome.after = summary(image)
        return outcome
