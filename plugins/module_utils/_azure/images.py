# Private to this collection.
"""Azure Compute Gallery image versions behind the cloud-neutral ImageBackend interface.

The mapping:

- An image is an image *version* in the connection's gallery (provider option ``gallery``, in its resource
  group); its id is the version's resource id. Its *family* is the image *definition* it is a version of:
  the ``family`` given, else the image's name without its version suffix (``web`` for ``web-2026-12-03-1``,
  as ``_core/channels.py`` reads families from names). The gallery and the definition are made on the
  first image when missing (Linux, Generalized, publisher ``phoenix-immutable``, offer and SKU the family).
- A version is named ``x.y.z`` by Azure, so the collection's name of the image is kept in a tag
  (``image_transformations.NAME_TAG``) and the version is named after its bake time in UTC:
  ``YEAR.MMDD.SECONDS`` (seconds of the day), e.g. ``2026.1203.41533``: unique per second, and ordered as
  the bakes were, as Azure orders versions (``latest`` is the highest). A name taken in the same second
  moves to the next second.
- Regions: a version is one resource in its gallery's location, replicated to the regions of its
  ``publishingProfile.targetRegions`` (``REPLICAS_PER_REGION`` replicas each). A backend of region R sees
  the versions replicated (or being replicated) to R, each in the state of its replica there. An image's
  ``region`` is the version's own location wherever it is read: it is one resource with one set of tags,
  so its descriptor and signature are the same in every region. ``copy_from`` adds this backend's region
  to the version's target regions (nothing is copied into a new resource, so the tags are the version's
  own and are not rewritten); ``enabled_regions`` are the subscription's locations.
- Deprecation is ``publishingProfile.endOfLifeDate`` (Azure records it, and does not enforce it) with
  ``excludeFromLatest``, at once: the definition no longer resolves to the version, as a GCP family no
  longer resolves to a deprecated image.
- Deleting an image deletes the version, and so every replica of it; what uses it (``users``) is every
  VM and scale set of the subscription made from the version, or from its definition while the version
  is the definition's latest.

Mutations of a version (a region added, tags, deprecation, deletion) are serialised by the backends of
one connection: the core copies to several regions in parallel, and each addition is a read-modify-write
of the target regions that must start from the last one.
"""

from __future__ import annotations

import contextlib
import datetime
import re
import threading

from .._core import tags as tagging
from .._core.backends import ImageBackend
from .._core.builders import GONE
from .._core.errors import InvalidInput, PhoenixError
from .._core.model import PENDING, ImageUser
from .._core.timeutil import utcnow
from . import gallery_api as api
from .codec import AZURE_CODEC
from .errors import NotFound, PreconditionFailed
from .image_transformations import (
    DESCRIPTION_TAG,
    HIDDEN_TAGS,
    NAME_TAG,
    family_of_name,
    image_from_version,
    image_name,
    image_reference_text,
    is_generalized,
    location_name,
    matches,
    placeholder,
    power_state,
    target_regions,
    version_key,
    version_name,
)

try:
    from azure.core.exceptions import AzureError
    from azure.mgmt.compute import models
except ImportError:  # the provider reports the missing SDK before a backend is made
    AzureError = Exception
    models = None

IMAGE_REFERENCE = re.compile(
    r"^/subscriptions/(?P<subscription>[^/]+)/resourceGroups/(?P<group>[^/]+)/providers/Microsoft\.Compute"
    r"/galleries/(?P<gallery>[^/]+)/images/(?P<definition>[^/]+)(?:/versions/(?P<version>[^/]+))?/?\Z",
    re.IGNORECASE,
)
VM_REFERENCE = re.compile(
    r"^/subscriptions/(?P<subscription>[^/]+)/resourceGroups/(?P<group>[^/]+)/providers/Microsoft\.Compute"
    r"/virtualMachines/(?P<name>[^/]+)/?\Z",
    re.IGNORECASE,
)
VM_SCALE_SET_GROUP = re.compile(r"^/subscriptions/[^/]+/resourceGroups/(?P<group>[^/]+)/", re.IGNORECASE)
# An image definition's name, as Compute allows it.
DEFINITION_NAME = re.compile(r"[A-Za-z0-9](?:[-A-Za-z0-9._]{0,78}[A-Za-z0-9])?\Z")
FORBIDDEN_KEY_CHARACTERS = frozenset("<>%&\\?/")
PUBLISHER = "phoenix-immutable"
REPLICAS_PER_REGION = 1
# How many following seconds a version name is tried in when the bake's own second is taken.
VERSION_ATTEMPTS = 5


class _Shared:
    """What the backends of one connection share across regions (``in_region``)."""

    def __init__(self):
        self.lock = threading.RLock()
        self.updates = {}  # version id (lower) -> the poller of an update started by copy_from
        self.definitions = {}  # definition id (lower) -> GalleryImage
        self.deallocations = {}  # VM id (lower) -> the poller of its deallocation
        self.locations = None
        self.gallery_location = None


class AzureImageBackend(ImageBackend):
    cloud = "azure"
    tag_limits = AZURE_CODEC.limits
    codec = AZURE_CODEC

    def __init__(self, connection, region=None, shared=None):
        super().__init__(location_name(region or connection.location))
        self.connection = connection
        self.subscription_id = connection.subscription_id
        self.resource_group = connection.resource_group
        self.gallery = connection.gallery
        self._shared = shared or _Shared()

    def check_tags(self, tags, resource):
        # The image's name and description take tags of their own.
        reserved = {key: "" for key in HIDDEN_TAGS if key not in tags}
        tagging.validate_tags(dict(tags, **reserved), self.codec.limits, resource)
        refused = sorted(key for key in tags if FORBIDDEN_KEY_CHARACTERS & set(key))
        if refused:
            raise InvalidInput(
                "invalid tags for %s: Azure refuses the characters < > %% & \\ ? / in tag names (%s)"
                % (resource, ", ".join(refused)),
                resource=resource,
                hint="Nothing was changed; rename the tags.",
            )

    # -- regions ---------------------------------------------------------------------------------

    def in_region(self, region):
        return AzureImageBackend(self.connection, region, shared=self._shared)

    def enabled_regions(self):
        if self._shared.locations is None:
            self._shared.locations = [location_name(name) for name in api.list_locations(self.connection)]
        return list(self._shared.locations)

    def copy_from(self, image, tags):
        """Replicate the version to this region too: one more target region (``tags`` are the version's own)."""
        group, gallery, definition, version = self._version_of(image.id)
        with self._shared.lock:
            self._wait_for_update(image.id)
            current = api.get_version(self.connection, group, gallery, definition, version)
            if self.region not in target_regions(current):
                regions = list(current.publishing_profile.target_regions or [])
                regions.append(models.TargetRegion(name=self.region, regional_replica_count=REPLICAS_PER_REGION))
                update = models.GalleryImageVersionUpdate(
                    publishing_profile=models.GalleryImageVersionPublishingProfile(target_regions=regions)
                )
                poller = api.begin_update_version(self.connection, group, gallery, definition, version, update)
                self._shared.updates[image.id.lower()] = poller
        found = self.get(image.id)
        if found is not None:
            return found
        return placeholder(image.id, image.name, image.region, PENDING, self.subscription_id, definition)

    def _wait_for_update(self, image_id):
        """Let the update copy_from started on the version end first (its outcome is read from the version)."""
        poller = self._shared.updates.pop(image_id.lower(), None)
        if poller is None or poller.done():
            return
        # A failed replication shows in the version's replication status, where it is read.
        with contextlib.suppress(AzureError):
            poller.result(timeout=self.connection.operation_timeout)

    # -- reading ---------------------------------------------------------------------------------

    def get(self, image_id):
        group, gallery, definition, version = self._reference(image_id)
        if version is None:
            return self._latest(group, gallery, definition)
        try:
            found = api.get_version(self.connection, group, gallery, definition, version)
        except NotFound:
            return None
        if self.region not in target_regions(found):
            return None  # not replicated here
        return image_from_version(
            found, self._definition(group, gallery, definition), self.subscription_id, self.region
        )

    def _latest(self, group, gallery, definition):
        """What a definition id resolves to: its highest succeeded version not excluded from latest, here."""
        try:
            versions = api.list_versions(self.connection, group, gallery, definition)
        except NotFound:
            return None
        candidates = [
            version
            for version in versions
            if (version.provisioning_state or "").lower() == "succeeded"
            and not (version.publishing_profile and version.publishing_profile.exclude_from_latest)
            and self.region in target_regions(version)
        ]
        if not candidates:
            return None
        newest = max(candidates, key=lambda version: version_key(version.name))
        return self.get(newest.id)

    def _reference(self, image_ref):
        """(resource group, gallery, definition, version or None) of a version id or a definition id."""
        match = IMAGE_REFERENCE.match(image_ref or "")
        if match is None:
            raise InvalidInput(
                "%r is not an Azure image id" % (image_ref,),
                resource=str(image_ref),
                hint="Name an image by its gallery image version id, /subscriptions/S/resourceGroups/RG/providers/"
                "Microsoft.Compute/galleries/G/images/DEFINITION/versions/X.Y.Z, or a definition's latest "
                "version by the id without /versions/X.Y.Z.",
            )
        if match.group("subscription").lower() != self.subscription_id.lower():
            raise InvalidInput(
                "%s is in subscription %s, not in %s" % (image_ref, match.group("subscription"), self.subscription_id),
                resource=image_ref,
                hint="Set subscription_id to the image's subscription.",
            )
        return match.group("group"), match.group("gallery"), match.group("definition"), match.group("version")

    def _version_of(self, image_id):
        group, gallery, definition, version = self._reference(image_id)
        if version is None:
            raise InvalidInput("%s names an image definition, not an image version" % image_id, resource=image_id)
        return group, gallery, definition, version

    def _definition(self, group, gallery, definition):
        key = "%s/%s/%s" % (group.lower(), gallery.lower(), definition.lower())
        if key not in self._shared.definitions:
            self._shared.definitions[key] = api.get_definition(self.connection, group, gallery, definition)
        return self._shared.definitions[key]

    def _versions(self):
        """(version, definition) of every version in the gallery (those of a definition deleted meanwhile left out)."""
        try:
            definitions = api.list_definitions(self.connection, self.resource_group, self.gallery)
        except NotFound:
            return []
        found = []
        for definition in definitions:
            key = "%s/%s/%s" % (self.resource_group.lower(), self.gallery.lower(), definition.name.lower())
            self._shared.definitions[key] = definition
            try:
                versions = api.list_versions(self.connection, self.resource_group, self.gallery, definition.name)
            except NotFound:
                continue
            found.extend((version, definition) for version in versions)
        return found

    def find_by_name(self, name):
        if not name:
            return []
        images = []
        for version, definition in self._versions():
            if image_name(version, definition.name) == name and self.region in target_regions(version):
                image = self.get(version.id)  # the replication state in this region
                if image is not None:
                    images.append(image)
        return images

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
                    "Azure images not found in %s: %s" % (self.region, ", ".join(missing)),
                    resource=", ".join(missing),
                    code="ResourceNotFound",
                    cloud="azure",
                    hint="Check the ids (gallery image version ids) and that the version is replicated to %s."
                    % self.region,
                )
        else:
            self._check_owners(owners)
            images = [
                image_from_version(version, definition, self.subscription_id, self.region)
                for version, definition in self._versions()
                if self.region in target_regions(version)
            ]
        return [image for image in images if matches(image, name_pattern, tags)]

    def _check_owners(self, owners):
        others = [owner for owner in owners or [] if owner not in ("self", self.subscription_id)]
        if others:
            raise InvalidInput(
                "Azure images are searched in the gallery %s of subscription %s only, not of %s"
                % (self.gallery, self.subscription_id, ", ".join(others)),
                resource=", ".join(others),
                hint="Leave owners out with cloud: azure, or name another gallery with the provider option gallery.",
            )

    # -- the builder -----------------------------------------------------------------------------

    def source_of(self, instance_id):
        group, name = self._vm(instance_id)
        try:
            vm = api.get_vm(self.connection, group, name)
        except NotFound:
            raise _builder_not_found(instance_id) from None
        return image_reference_text(vm.storage_profile.image_reference if vm.storage_profile else None)

    def source_instance(self, instance_id):
        group, name = self._vm(instance_id)
        poller = self._shared.deallocations.get(_vm_key(group, name))
        if poller is not None and poller.done() and poller.status().lower() in ("failed", "canceled"):
            raise PhoenixError(
                "deallocating builder VM %s failed (%s)" % (instance_id, poller.status()),
                resource=instance_id,
                code="StopFailed",
                cloud="azure",
                hint="Deallocate it by hand (az vm deallocate) and run again.",
            )
        try:
            vm = api.get_vm(self.connection, group, name)
        except NotFound:
            return GONE, None
        reference = image_reference_text(vm.storage_profile.image_reference if vm.storage_profile else None)
        return power_state(vm), reference

    def stop_source(self, instance_id):
        """Start deallocating the builder (stopped, its OS disk kept); ``create`` generalizes it."""
        group, name = self._vm(instance_id)
        self._shared.deallocations[_vm_key(group, name)] = api.begin_deallocate_vm(self.connection, group, name)
        return "stopping"

    def _vm(self, instance_id):
        """(resource group, name) of a VM id, or of a bare name in the connection's resource group."""
        text = instance_id or ""
        match = VM_REFERENCE.match(text)
        if match is not None:
            return match.group("group"), match.group("name")
        if text and "/" not in text:
            return self.resource_group, text
        raise InvalidInput(
            "%r is not an Azure virtual machine id" % (instance_id,),
            resource=str(instance_id),
            hint="Nothing was changed. Give instance_id as /subscriptions/S/resourceGroups/RG/providers/"
            "Microsoft.Compute/virtualMachines/NAME, or a VM's name in resource group %s." % self.resource_group,
        )

    def check_family(self, family, resource):
        if not isinstance(family, str) or not DEFINITION_NAME.match(family):
            raise InvalidInput(
                "%r is not an Azure image definition name (the image family)" % (family,),
                resource=resource,
                hint="Nothing was changed; a definition name is 1 to 80 letters, digits, -, _ and ., starting "
                "and ending with a letter or digit.",
            )

    def create(self, name, instance_id, description, tags, no_reboot, family=None):
        """An image version of the generalized builder VM, in definition ``family`` (made when missing).

        Azure images a VM into a Generalized definition only once the VM is generalized, which needs it
        stopped or deallocated: a deallocated builder is generalized here (it never starts again, as it
        never does once imaged); a running one is refused, ``no_reboot`` or not.
        """
        for what, text in (("name", name), ("description", description or "")):
            if len(text) > self.codec.limits.max_value_length or (what == "name" and not text):
                raise InvalidInput(
                    "the image's %s %r does not fit in one Azure tag value (1 to %d characters)"
                    % (what, text[:40], self.codec.limits.max_value_length),
                    resource=str(name),
                    hint="Nothing was changed; the %s of an Azure image is kept in a tag of its version." % what,
                )
        family = family or family_of_name(name)
        self.check_family(family, "image %r" % name)
        group, vm_name = self._vm(instance_id)
        try:
            vm = api.get_vm(self.connection, group, vm_name)
        except NotFound:
            raise _builder_not_found(instance_id) from None
        if not is_generalized(vm):
            state = power_state(vm)
            if state != "stopped":
                raise PhoenixError(
                    "cannot image builder VM %s: it is %s, and Azure images only a generalized VM, which must be "
                    "stopped first" % (instance_id, state),
                    resource=instance_id,
                    code="OperationNotAllowed",
                    cloud="azure",
                    hint="Nothing was changed. Set stop_instance: true to deallocate the builder first "
                    "(no_reboot does not apply on Azure).",
                )
            api.generalize_vm(self.connection, group, vm_name)
        location = self._ensure_definition(family, vm)
        version_tags = dict(tags)
        version_tags[NAME_TAG] = name
        if description:
            version_tags[DESCRIPTION_TAG] = description
        regions = [location] + ([self.region] if self.region != location else [])
        body = models.GalleryImageVersion(
            location=location,
            tags=version_tags,
            publishing_profile=models.GalleryImageVersionPublishingProfile(
                target_regions=[
                    models.TargetRegion(name=region, regional_replica_count=REPLICAS_PER_REGION) for region in regions
                ],
            ),
            storage_profile=models.GalleryImageVersionStorageProfile(
                source=models.GalleryArtifactVersionFullSource(virtual_machine_id=vm.id)
            ),
        )
        when = utcnow()
        for attempt in range(VERSION_ATTEMPTS):
            version = version_name(when + datetime.timedelta(seconds=attempt))
            image_id = self.connection.resource_id(
                "Microsoft.Compute/galleries/images/versions", self.gallery, family, version
            )
            try:
                api.begin_create_version(self.connection, self.resource_group, self.gallery, family, version, body)
            except PreconditionFailed:
                made = self._made_after_all(family, version, name, vm.id)
                if made is not None:
                    return made  # ours: a create whose answer was lost, applied and retried
                continue  # another image took this second
            found = self.get(image_id)
            return found or placeholder(image_id, name, location, PENDING, self.subscription_id, family)
        raise PhoenixError(
            "cannot make an image version of %s in %s/%s: versions of %d seconds from %s are taken"
            % (name, self.gallery, family, VERSION_ATTEMPTS, version_name(when)),
            resource=name,
            code="Conflict",
            cloud="azure",
            hint="Run again: the version is named after the time of the bake.",
        )

    def _made_after_all(self, family, version, name, vm_id):
        try:
            found = api.get_version(self.connection, self.resource_group, self.gallery, family, version)
        except NotFound:
            return None
        source = found.storage_profile.source if found.storage_profile else None
        made_by_us = (found.tags or {}).get(NAME_TAG) == name and (
            source is not None and (source.virtual_machine_id or "").lower() == vm_id.lower()
        )
        if not made_by_us:
            return None
        return self.get(found.id)

    def _ensure_definition(self, family, vm):
        """The location of the definition ``family`` (made, and the gallery, when missing)."""
        try:
            return location_name(self._definition(self.resource_group, self.gallery, family).location)
        except NotFound:
            pass
        location = self._ensure_gallery()
        view = vm.instance_view
        os_disk = vm.storage_profile.os_disk if vm.storage_profile else None
        body = models.GalleryImage(
            location=location,
            os_type=(os_disk.os_type if os_disk and os_disk.os_type else "Linux"),
            os_state="Generalized",
            hyper_v_generation=(view.hyper_v_generation if view and view.hyper_v_generation else "V1"),
            identifier=models.GalleryImageIdentifier(publisher=PUBLISHER, offer=family, sku=family),
            tags={AZURE_CODEC.key(tagging.MANAGED): "true"},
        )
        made = api.create_definition(self.connection, self.resource_group, self.gallery, family, body)
        key = "%s/%s/%s" % (self.resource_group.lower(), self.gallery.lower(), family.lower())
        self._shared.definitions[key] = made
        return location_name(made.location)

    def _ensure_gallery(self):
        if self._shared.gallery_location is None:
            try:
                gallery = api.get_gallery(self.connection, self.resource_group, self.gallery)
            except NotFound:
                gallery = api.create_gallery(
                    self.connection,
                    self.resource_group,
                    self.gallery,
                    models.Gallery(
                        location=location_name(self.connection.location),
                        description="Golden images of phoenix.immutable",
                        tags={AZURE_CODEC.key(tagging.MANAGED): "true"},
                    ),
                )
            self._shared.gallery_location = location_name(gallery.location)
        return self._shared.gallery_location

    # -- changes ---------------------------------------------------------------------------------

    def set_tags(self, image, to_set, to_remove):
        """Tags are replaced as a whole by a PATCH: the change is applied to the tags read just before."""
        group, gallery, definition, version = self._version_of(image.id)
        with self._shared.lock:
            self._wait_for_update(image.id)
            current = api.get_version(self.connection, group, gallery, definition, version)
            tags = {key: value for key, value in (current.tags or {}).items() if key not in set(to_remove)}
            tags.update(to_set)
            for key in HIDDEN_TAGS:  # never removed: the core does not see them
                if key in (current.tags or {}):
                    tags[key] = current.tags[key]
            if len(tags) > self.codec.limits.max_tags:
                raise InvalidInput(
                    "image %s would carry %d tags, at most %d are allowed"
                    % (image.id, len(tags), self.codec.limits.max_tags),
                    resource=image.id,
                    hint="Nothing was changed. Remove tags the image does not need, or fewer keys' signatures.",
                )
            update = models.GalleryImageVersionUpdate(tags=tags)
            api.update_version(self.connection, group, gallery, definition, version, update)

    def users(self, image):
        """Every VM, scale set and scale set instance of the subscription made from the version.

        A reference to the definition is to its latest version: a VM or an instance that records the version
        it booted (``exactVersion``) is a user of that one, anything else (a scale set's model, whose next
        instances boot the latest) of the definition's latest version now.
        """
        target = image.id.lower()
        definition_id, version = target.rsplit("/versions/", 1)
        latest = []  # computed once, when a user names the definition

        def launches(reference):
            reference_id = ((reference.id if reference is not None else None) or "").lower()
            if reference_id == target:
                return True
            if reference_id != definition_id:
                return False
            if reference.exact_version:
                return reference.exact_version.lower() == version
            if not latest:
                head = self._latest(*self._reference(definition_id)[:3])
                latest.append(head.id.lower() if head is not None else None)
            return latest[0] == target

        users = []
        for vm in api.list_all_vms(self.connection):
            storage = vm.storage_profile
            if storage is not None and launches(storage.image_reference):
                users.append(ImageUser("virtual machine", vm.id, (vm.provisioning_state or "").lower()))
        for scale_set in api.list_all_scale_sets(self.connection):
            profile = scale_set.virtual_machine_profile
            storage = profile.storage_profile if profile is not None else None
            if storage is not None and launches(storage.image_reference):
                users.append(ImageUser("scale set", scale_set.id, scale_set.name))
            # Instances keep the image they booted until upgraded to a model that names another.
            group = VM_SCALE_SET_GROUP.match(scale_set.id).group("group")
            for instance in api.list_scale_set_instances(self.connection, group, scale_set.name):
                storage = instance.storage_profile
                if storage is not None and launches(storage.image_reference):
                    users.append(ImageUser("scale set instance", instance.id, scale_set.name))
        return users

    def delete(self, image):
        """Delete the version, every replica of it (the definition stays, with its other versions)."""
        group, gallery, definition, version = self._version_of(image.id)
        with self._shared.lock:
            self._wait_for_update(image.id)
            try:
                api.delete_version(self.connection, group, gallery, definition, version)
            except NotFound:
                return  # deleted already: by a retry whose first answer was lost, or by another run meanwhile

    def set_deprecation(self, image, deprecate_at):
        """``endOfLifeDate`` = the time and ``excludeFromLatest`` at once; None removes both."""
        group, gallery, definition, version = self._version_of(image.id)
        if deprecate_at is None:
            # A JSON body: the model leaves out what is None, and only null removes the date.
            update = {"properties": {"publishingProfile": {"endOfLifeDate": None, "excludeFromLatest": False}}}
        else:
            update = models.GalleryImageVersionUpdate(
                publishing_profile=models.GalleryImageVersionPublishingProfile(
                    end_of_life_date=deprecate_at, exclude_from_latest=True
                )
            )
        with self._shared.lock:
            self._wait_for_update(image.id)
            api.update_version(self.connection, group, gallery, definition, version, update)

    def api_calls(self):
        return self.connection.api_calls()


def _vm_key(group, name):
    return "%s/%s" % (group.lower(), name.lower())


def _builder_not_found(instance_id):
    return PhoenixError(
        "builder VM %s not found" % instance_id,
        resource=instance_id,
        code="ResourceNotFound",
        cloud="azure",
        hint="Give instance_id as the id of a VM that exists (/subscriptions/S/resourceGroups/RG/providers/"
        "Microsoft.Compute/virtualMachines/NAME).",
    )
