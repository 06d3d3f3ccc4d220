# Private to this collection.
"""Compute Engine instances behind the cloud-neutral InstanceBackend a drift scan reads and replaces through.

An instance's id is ``projects/P/zones/Z/instances/NAME`` (``identifiers.py``). What the scan needs of it:

- its image: an Instance names none, its boot disk's ``sourceImage`` does. The project's disks are read once
  per scan (``disks.aggregatedList``, 500 a call), not one ``disks.get`` per instance; a disk made after that
  read (an instance launched during the scan) is read alone;
- its group: the managed instance group that made it names itself in the instance's ``created-by`` metadata
  item (``projects/P/zones/Z/instanceGroupManagers/NAME``, or ``regions/R/...`` for a regional MIG);
- where it runs: the scan's ``subnets`` are matched against each network interface's subnetwork (or network,
  for an instance of a legacy or auto-mode network without one), as paths or as bare names. Compute cannot
  filter on a repeated field, so this is checked on each instance as its page arrives; status and labels are
  filtered by Compute.

A replacement goes through the group (``recreateInstances``): the MIG deletes the instance and makes it again
under the same name from its current template, so the group never shrinks. Instances no group of ours made
are deleted with ``instances.delete``.
"""

from __future__ import annotations

import re

from .._core.backends import InstanceBackend
from .._core.drift import Observed
from .._core.timeutil import format_utc, parse_utc
from . import compute
from .codec import GCP_CODEC, labels_of, tags_of
from .drift_api import images_named, instance_pages
from .errors import GcpApiError, NotFound
from .fleet_api import recreate_instances
from .identifiers import instance_id, parse_instance_id
from .operations import wait_for
from .pagination import PAGE_SIZE
from .transformations import BUILDER_STATES, GLOBAL, api_path, image_from_gce

CREATED_BY = "created-by"
MANAGER_PATH = re.compile(
    r"^projects/[^/]+/(?P<scope>zones/[^/]+|regions/[^/]+)/instanceGroupManagers/(?P<name>[^/]+)$"
)
IMAGE_PATH = re.compile(r"^projects/(?P<project>[^/]+)/global/images/(?P<name>[^/]+)$")


class GcpInstanceBackend(InstanceBackend):
    cloud = "gcp"
    codec = GCP_CODEC
    # recreateInstances makes the member again under its name: its id (project, zone, name) stays.
    replaces_under_same_id = True

    def __init__(self, connection, region=None, instance_page=PAGE_SIZE):
        if not 1 <= instance_page <= PAGE_SIZE:
            raise ValueError("instance_page must be 1 to %d, not %r" % (PAGE_SIZE, instance_page))
        self.connection = connection
        self.project = connection.project
        # Images are global; the trust policy's verdicts name this region (as the image backend's do).
        self.region = GLOBAL
        self.instance_page = instance_page
        # The MIG (scope, name) of each instance the scan saw, for its replacement without a further read.
        self._managers = {}

    # -- the scan --------------------------------------------------------------------------------

    def instances(self, subnets=None, tags=None):
        """Observed instances, each made as its page arrives (a page is dropped once handed on)."""
        labels = labels_of(dict(tags or {}), "the scan's tags")
        wanted = _scope(subnets)
        sources = None
        for page in instance_pages(self.connection, self.project, labels, self.instance_page):
            for zone, instance in page:
                if wanted is not None and not _runs_in(instance, wanted):
                    continue
                if sources is None:
                    sources = self._boot_disk_images()
                yield self._observed(zone, instance, sources)

    def _boot_disk_images(self):
        """{disk path: its sourceImage path} of every disk of the project, in pages of 500."""
        return {
            api_path(disk.get("selfLink")): api_path(disk.get("sourceImage"))
            for _zone, disk in compute.aggregated_disks(self.connection, self.project)
        }

    def _observed(self, zone, instance, sources):
        identifier = instance_id(self.project, zone, instance["name"])
        manager = _manager_of(instance)
        if manager is not None:
            self._managers[identifier] = manager
        return Observed(
            id=identifier,
            image_id=self._image_of(instance, sources),
            launched=format_utc(parse_utc(instance["creationTimestamp"], "creation time"))
            if instance.get("creationTimestamp")
            else None,
            state=BUILDER_STATES.get(instance.get("status", ""), "starting"),
            group=manager[1] if manager else None,
            subnet=_where(instance),
            tags=tags_of(instance.get("labels")),
        )

    def _image_of(self, instance, sources):
        boot = next((disk for disk in instance.get("disks") or [] if disk.get("boot")), None)
        if boot is None or not boot.get("source"):
            return None
        disk_path = api_path(boot["source"])
        if disk_path not in sources:
            # Made after the disks were read: that one disk is read now.
            try:
                sources[disk_path] = api_path(compute.boot_disk_source_image(self.connection, instance))
            except NotFound:
                sources[disk_path] = None
        return sources[disk_path]

    def images(self, image_ids):
        """model.Image of each id Compute still has: per project, many names a call."""
        names = {}
        for image_ref in image_ids:
            match = IMAGE_PATH.match(api_path(image_ref) or "")
            if match:
                names.setdefault(match.group("project"), set()).add(match.group("name"))
        return [
            image_from_gce(image)
            for project in sorted(names)
            for image in images_named(self.connection, project, names[project])
        ]

    # -- changes ---------------------------------------------------------------------------------

    def replace_in_group(self, group, instance_id):
        """``recreateInstances`` on the instance's MIG: the group deletes it and makes it again, size unchanged."""
        manager = self._managers.get(instance_id) or self._read_manager(instance_id)
        if manager is None:
            return  # gone, or no longer in a group: the group has replaced it on its own
        scope, name = manager
        try:
            recreate_instances(self.connection, self.project, scope, name, [instance_id])
        except GcpApiError as error:
            # Refused as "not a member": left the group meanwhile (deleted, scaled in), which is what was asked.
            if error.status == 400 and self._read_manager(instance_id) is None:
                return
            raise

    def _read_manager(self, instance_ref):
        project, zone, name = parse_instance_id(instance_ref)
        try:
            instance = compute.get_instance(self.connection, project, zone, name)
        except NotFound:
            return None
        if instance.get("status") == "STOPPING":
            return None
        return _manager_of(instance)

    def terminate(self, instance_ids):
        """``instances.delete`` of each, all started before any is waited for; one already gone is fine."""
        started = []
        for instance_ref in instance_ids:
            project, zone, name = parse_instance_id(instance_ref)
            try:
                started.append(compute.delete_instance(self.connection, project, zone, name))
            except NotFound:
                continue
        for operation in started:
            wait_for(self.connection, operation)

    def api_calls(self):
        return self.connection.api_calls()


def _manager_of(instance):
    """(scope, name) of the MIG that made the instance (its ``created-by`` metadata), or None."""
    for item in (instance.get("metadata") or {}).get("items") or []:
        if item.get("key") == CREATED_BY:
            match = MANAGER_PATH.match(api_path(item.get("value")) or "")
            return (match.group("scope"), match.group("name")) if match else None
    return None


def _scope(subnets):
    """(paths, names) the scan's subnets name, or None for no subnet scope."""
    if not subnets:
        return None
    paths, names = set(), set()
    for subnet in subnets:
        reference = api_path(subnet) or ""
        (paths if "/" in reference else names).add(reference)
    return paths, names


def _networks(instance):
    """The subnetwork and network paths of each of the instance's interfaces."""
    found = []
    for interface in instance.get("networkInterfaces") or []:
        for key in ("subnetwork", "network"):
            if interface.get(key):
                found.append(api_path(interface[key]))
    return found


def _runs_in(instance, wanted):
    paths, names = wanted
    return any(path in paths or path.rsplit("/", 1)[-1] in names for path in _networks(instance))


def _where(instance):
    """The first interface's subnetwork (else its network): where the instance runs, for the report."""
    networks = _networks(instance)
    return networks[0] if networks else None
