# Private to this collection.
"""Compute Engine images behind the cloud-neutral ImageBackend interface.

GCE images are global: one image serves every region of its project, so ``region`` is always ``global``,
there is nothing to copy, and ``copy_from`` refuses. An image id is ``projects/P/global/images/NAME``
(``identifiers.py``); ``get`` also takes ``projects/P/global/images/family/F`` (the family's newest
image) and a bare name (in the connection's project).

Labels are written by ``_gcp/codec.py``; values the core stores that hold an id path are split into one
label per segment and joined back on read (``transformations.py``), so the core reads what it wrote.

Operations: a mutation answers an Operation. Label changes, deletes and deprecations are waited for at
once (short, and the core reads the result next). An image insert or an instance stop runs for minutes;
its Operation is kept, and each read of that image or instance while it is pending reads the Operation
once more, so the core's own waiter does the waiting and a failed operation ends it at once.
"""

from __future__ import annotations

import re

from .._core import tags as tagging
from .._core.backends import ImageBackend
from .._core.errors import InvalidInput, PhoenixError
from .._core.model import FAILED, PENDING, Image, ImageUser
from .._core.timeutil import format_utc
from . import compute, fleet_api
from .codec import GCP_CODEC, GCP_LABEL_LIMITS
from .errors import AlreadyExists, GcpApiError, NotFound
from .identifiers import image_id as image_path
from .identifiers import parse_instance_id
from .operations import operation_error, wait_for
from .transformations import (
    BUILDER_STATES,
    GLOBAL,
    api_path,
    image_from_gce,
    label_keys,
    labels_for,
    segment_keys,
)

IMAGE_NAME = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?\Z")
IMAGE_REFERENCE = re.compile(
    r"^projects/(?P<project>[a-z0-9.:-]+)/global/images/(?:family/(?P<family>[^/]+)|(?P<name>[^/]+))$"
)
SOURCE_INSTANCE_TAG = GCP_CODEC.key(tagging.SOURCE_INSTANCE)
IN_USE_REASON = "resourceInUseByAnotherResource"
GLOB_CHARACTERS = frozenset("*?")


class GcpImageBackend(ImageBackend):
    cloud = "gcp"
    tag_limits = GCP_LABEL_LIMITS
    codec = GCP_CODEC

    def __init__(self, connection, region=None):
        # Whatever region is asked for, images are global (``region`` is accepted for the interface's sake).
        super().__init__(GLOBAL)
        self.connection = connection
        self.project = connection.project
        # Operations this backend started and has not yet seen DONE, by the path of their target.
        self._operations = {}
        self._failures = {}
        self._source_images = {}

    def check_tags(self, tags, resource):
        # As they will be written: id paths split into segments, every value escaped (``transformations.py``).
        labels_for(tags, resource)

    # -- regions: there are none for images ------------------------------------------------------

    def in_region(self, region):
        return GcpImageBackend(self.connection, region)

    def enabled_regions(self):
        return [GLOBAL]

    def copy_from(self, image, tags):
        raise InvalidInput(
            "GCP images are global: %s can be used in every region of project %s, so it is not copied"
            % (image.id, image.owner or self.project),
            resource=image.id,
            hint="Leave copy_to_regions out with cloud: gcp. Where an image is stored (storageLocations) is not "
            "managed by this collection yet.",
        )

    # -- reading ---------------------------------------------------------------------------------

    def get(self, image_id):
        project, name, family = self._reference(image_id)
        if family is not None:
            try:
                return image_from_gce(compute.get_image_from_family(self.connection, project, family))
            except NotFound:
                return None
        path = image_path(project, name)
        failure = self._settle(path)
        try:
            found = compute.get_image(self.connection, project, name)
        except NotFound:
            if failure is not None:
                return _placeholder(project, name, FAILED, failure)
            return None
        return image_from_gce(found, state_reason=failure)

    def _reference(self, image_ref):
        """(project, name, family) of an image id, a family path, a selfLink or a bare name."""
        reference = api_path(image_ref) or ""
        if "/" not in reference and reference:
            return self.project, reference, None
        match = IMAGE_REFERENCE.match(reference)
        if match is None:
            raise InvalidInput(
                "%r is not a GCP image id" % (image_ref,),
                resource=str(image_ref),
                hint="Name an image as projects/P/global/images/NAME, a family as projects/P/global/images/family/F, "
                "or give the image's name alone (in project %s)." % self.project,
            )
        return match.group("project"), match.group("name"), match.group("family")

    def find_by_name(self, name):
        if not name or not IMAGE_NAME.match(name):
            return []  # Compute would refuse the name: no image has it
        image = self.get(name)
        return [image] if image is not None else []

    def search(self, image_ids=None, name_pattern=None, tags=None, owners=None):
        tags = dict(tags or {})
        if image_ids:
            images, missing = [], []
            for wanted in image_ids:
                image = self.get(wanted)
                if image is None:
                    missing.append(wanted)
                else:
                    images.append(image)
            if missing:
                raise PhoenixError(
                    "GCP images not found: %s" % ", ".join(missing),
                    resource=", ".join(missing),
                    code="notFound",
                    cloud="gcp",
                    hint="Check the ids (projects/P/global/images/NAME) and that the credentials may read them.",
                )
        else:
            try:
                labels = labels_for(tags, "the search")
            except InvalidInput:
                return []  # no image can carry a label Compute would refuse
            expression = _filter(name_pattern, labels)
            images = []
            for project in _projects(owners, self.project):
                images.extend(
                    image_from_gce(found) for found in compute.list_images(self.connection, project, expression)
                )
        return [image for image in images if _matches(image, name_pattern, tags)]

    # -- the builder -----------------------------------------------------------------------------

    def source_of(self, instance_id):
        return self.source_instance(instance_id)[1]

    def source_instance(self, instance_id):
        project, zone, name = _instance(instance_id)
        path = "projects/%s/zones/%s/instances/%s" % (project, zone, name)
        failure = self._settle(path)
        if failure is not None:
            raise PhoenixError(
                "stopping builder instance %s failed: %s" % (instance_id, failure),
                resource=instance_id,
                code="StopFailed",
                cloud="gcp",
                hint="Stop it by hand (gcloud compute instances stop) and run again.",
            )
        try:
            instance = compute.get_instance(self.connection, project, zone, name)
        except NotFound:
            raise PhoenixError(
                "builder instance %s not found" % instance_id,
                resource=instance_id,
                code="notFound",
                cloud="gcp",
                hint="Give instance_id as projects/P/zones/Z/instances/NAME of an instance that exists.",
            ) from None
        if path not in self._source_images:
            self._source_images[path] = api_path(compute.boot_disk_source_image(self.connection, instance))
        return BUILDER_STATES.get(instance.get("status", ""), "starting"), self._source_images[path]

    def stop_source(self, instance_id):
        project, zone, name = _instance(instance_id)
        operation = compute.stop_instance(self.connection, project, zone, name)
        self._operations["projects/%s/zones/%s/instances/%s" % (project, zone, name)] = operation
        return "stopping"

    def check_family(self, family, resource):
        if not IMAGE_NAME.match(family):
            raise InvalidInput(
                "%r is not a GCP image family name" % (family,),
                resource=resource,
                hint="Nothing was changed; a family name follows the rules of an image name: 1 to 63 lower-case "
                "letters, digits and -, starting with a letter and not ending with -.",
            )

    def create(self, name, instance_id, description, tags, no_reboot, family=None):
        """images.insert from the builder's boot disk. A running builder is imaged only with ``no_reboot``
        (Compute's forceCreate): GCP never reboots an instance to image it, so stop it first."""
        if not name or not IMAGE_NAME.match(name):
            raise InvalidInput(
                "%r is not a GCP image name" % (name,),
                resource=str(name),
                hint="Nothing was changed; an image name is 1 to 63 lower-case letters, digits and -, starting "
                "with a letter and not ending with -.",
            )
        labels = labels_for(tags, "image %r" % name)
        project, zone, instance_name = _instance(instance_id)
        instance = compute.get_instance(self.connection, project, zone, instance_name)
        boot = next((disk for disk in instance.get("disks") or [] if disk.get("boot")), None)
        if boot is None or not boot.get("source"):
            raise PhoenixError(
                "builder instance %s has no boot disk to image" % instance_id,
                resource=instance_id,
                code="NoBootDisk",
                cloud="gcp",
            )
        body = {"name": name, "sourceDisk": api_path(boot["source"]), "labels": labels}
        if description:
            body["description"] = description
        if family:
            body["family"] = family
        try:
            operation = compute.insert_image(self.connection, self.project, body, force_create=no_reboot)
        except AlreadyExists as error:
            return self._made_after_all(error, name, tags.get(SOURCE_INSTANCE_TAG))
        except GcpApiError as error:
            if error.reason != IN_USE_REASON:
                raise
            raise PhoenixError(
                "cannot image %s: its boot disk is in use by the running instance (%s)" % (instance_id, error.message),
                resource=instance_id,
                code=error.code,
                cloud="gcp",
                hint="Nothing was changed. Set stop_instance: true to stop the builder first (consistent), or "
                "no_reboot: true to image the running disk as it is (Compute's forceCreate).",
            ) from None
        path = image_path(self.project, name)
        self._operations[path] = operation
        return self.get(path) or _placeholder(self.project, name, PENDING)

    def _made_after_all(self, error, name, source_instance):
        """The image of this name made from our builder by an insert whose answer was lost; else a clear refusal."""
        found = self.get(image_path(self.project, name))
        if found is not None and source_instance and found.tags.get(SOURCE_INSTANCE_TAG) == source_instance:
            return found
        raise PhoenixError(
            "cannot make image %r in project %s: the name is taken by an image this run did not make (%s)"
            % (name, self.project, error.message),
            resource=name,
            code=error.code,
            cloud="gcp",
            hint="Choose another name, or delete the other image with state: absent.",
        ) from None

    # -- changes ---------------------------------------------------------------------------------

    def set_tags(self, image, to_set, to_remove):
        project, name = self._owned(image)
        resource = "image %s" % image.id
        labels = labels_for(to_set, resource)
        removed = set(to_remove)
        for key in list(to_remove) + list(to_set):
            # A path value removed or replaced leaves no segment behind.
            removed.update(segment for segment in segment_keys(key) if segment not in labels)
        removed.difference_update(labels)
        final = (label_keys(image.tags) - removed) | set(labels)
        if len(final) > GCP_LABEL_LIMITS.max_tags:
            raise InvalidInput(
                "%s would carry %d labels, at most %d are allowed" % (resource, len(final), GCP_LABEL_LIMITS.max_tags),
                resource=image.id,
                hint="Nothing was changed. Remove labels the image does not need, or fewer keys' signatures.",
            )
        compute.change_image_labels(self.connection, project, name, labels, sorted(removed))

    def users(self, image):
        target = image.id
        users = []
        sources = {}
        for _zone, disk in compute.aggregated_disks(self.connection, self.project):
            sources[api_path(disk.get("selfLink"))] = api_path(disk.get("sourceImage"))
        for _zone, instance in compute.aggregated_instances(self.connection, self.project):
            boot = next((disk for disk in instance.get("disks") or [] if disk.get("boot")), None)
            if boot is None or not boot.get("source"):
                continue
            disk_path = api_path(boot["source"])
            if disk_path not in sources:
                # Made after the disks were listed: read that one disk.
                sources[disk_path] = api_path(compute.boot_disk_source_image(self.connection, instance))
            if sources[disk_path] == target:
                users.append(
                    ImageUser("instance", api_path(instance["selfLink"]), (instance.get("status") or "").lower())
                )
        family_heads = {}
        # Regional templates are listed in each region that has a MIG (there is no aggregated list of them);
        # a MIG is a user of its own when its template, global or regional, launches the image.
        managers = list(fleet_api.aggregated_group_managers(self.connection, self.project))
        regions = sorted({_region_of(scope) for scope, _manager in managers})
        templates = list(fleet_api.list_templates(self.connection, self.project, "global"))
        for region in regions:
            templates.extend(fleet_api.list_templates(self.connection, self.project, fleet_api.regional_scope(region)))
        launching = set()
        for template in templates:
            for disk in (template.get("properties") or {}).get("disks") or []:
                source = api_path((disk.get("initializeParams") or {}).get("sourceImage"))
                if source and self._launches(source, target, family_heads):
                    launching.add(api_path(template["selfLink"]))
                    users.append(ImageUser("instance template", api_path(template["selfLink"]), template["name"]))
                    break
        for _scope, manager in managers:
            if api_path(manager.get("instanceTemplate")) in launching:
                users.append(ImageUser("managed instance group", api_path(manager["selfLink"]), manager["name"]))
        return users

    def _launches(self, source, target, family_heads):
        """Whether a template's sourceImage is the image: by id, by name in our project, or by a family it heads."""
        try:
            project, name, family = self._reference(source)
        except InvalidInput:
            return False
        if family is None:
            return image_path(project, name) == target
        if (project, family) not in family_heads:
            try:
                head = compute.get_image_from_family(self.connection, project, family)
            except NotFound:
                head = None
            family_heads[(project, family)] = image_from_gce(head).id if head is not None else None
        return family_heads[(project, family)] == target

    def delete(self, image):
        project, name = self._owned(image)
        try:
            operation = compute.delete_image(self.connection, project, name)
        except NotFound:
            return  # deleted already: by a retry whose first answer was lost, or by another run meanwhile
        wait_for(self.connection, operation)

    def set_deprecation(self, image, deprecate_at):
        """images.deprecate: DEPRECATED with ``deprecated`` = the time, or ACTIVE (no status) for None.

        GCP does not schedule deprecation: the image is DEPRECATED as soon as this returns (its family no longer
        resolves to it, and using it warns), and the time is recorded for readers only. Nor does the collection
        set ``obsolete`` or ``deleted`` times, or a ``replacement``: deletion stays with image_prune.
        """
        project, name = self._owned(image)
        if deprecate_at is None:
            operation = compute.deprecate_image(self.connection, project, name, "ACTIVE")
        else:
            operation = compute.deprecate_image(
                self.connection, project, name, "DEPRECATED", deprecated=format_utc(deprecate_at)
            )
        wait_for(self.connection, operation)

    def api_calls(self):
        return self.connection.api_calls()

    # -- helpers ---------------------------------------------------------------------------------

    def _owned(self, image):
        project, name, family = self._reference(image.id)
        if family is not None:
            raise InvalidInput("%s names a family, not an image" % image.id, resource=image.id)
        return project, name

    def _settle(self, path):
        """Read once more the operation this backend started on ``path``; the reason it failed, or None."""
        if path in self._failures:
            return self._failures[path]
        operation = self._operations.get(path)
        if operation is None:
            return None
        current = compute.get_operation(self.connection, operation)
        if current.get("status") != "DONE":
            self._operations[path] = current
            return None
        del self._operations[path]
        error = operation_error(current)
        if error is None:
            return None
        self._failures[path] = error.message
        return error.message


def _instance(instance_id):
    try:
        return parse_instance_id(instance_id or "")
    except ValueError as error:
        raise InvalidInput(str(error), resource=str(instance_id), hint="Nothing was changed.") from None


def _projects(owners, own_project):
    projects = []
    for owner in owners or ["self"]:
        project = own_project if owner == "self" else owner
        if project not in projects:
            projects.append(project)
    return projects


def _quoted(value):
    return '"%s"' % value.replace("\\", "\\\\").replace('"', '\\"')


def _filter(name_pattern, labels):
    """A Compute list filter narrowing the listing server-side; exact checks are made on each image after."""
    terms = ["(labels.%s = %s)" % (key, _quoted(value)) for key, value in sorted(labels.items())]
    if name_pattern and not GLOB_CHARACTERS & set(name_pattern):
        terms.insert(0, "(name = %s)" % _quoted(name_pattern))
    return " ".join(terms) or None


def _matches(image, name_pattern, tags):
    if name_pattern and not _glob(name_pattern).match(image.name):
        return False
    return all(image.tags.get(key) == value for key, value in tags.items())


def _glob(pattern):
    """``*`` any characters, ``?`` one, everything else itself (as image_info documents)."""
    return re.compile(
        "".join(".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern) + r"\Z"
    )


def _placeholder(project, name, state, reason=None):
    return Image(
        cloud="gcp",
        id=image_path(project, name),
        name=name,
        region=GLOBAL,
        state=state,
        created="",
        owner=project,
        state_reason=reason,
    )


def _region_of(scope):
    """The region of a MIG's scope: ``regions/R`` or ``zones/R-X``."""
    kind, name = scope.split("/", 1)
    return name if kind == "regions" else name.rsplit("-", 1)[0]
