# Private to this collection.
"""The rollout's record for managed instance groups, behind the cloud-neutral RolloutStore.

A MIG has no labels, and its ``description`` is set once, at insert. So:

- ``create`` inserts the MIG empty (size 0, launching the base) with the first record in its description: the
  lock and the record in one request, as on AWS. Compute refuses a second MIG of the same name (409
  ``alreadyExists``): that create answers False. A create whose answer was lost is recognised by its own
  record in the description (same rollout and owner), so the core's resume logic sees the group as this run's.
- every later write goes to one item of the project's common instance metadata, ``phoenix-rollout-<zone or
  region>-<group>``, holding the whole record with the MIG's path and id. It is written with the metadata
  fingerprint: a 412 (another writer changed the project's metadata meanwhile) is read again and only this
  item merged again, never written over the others. An item whose id is not the live MIG's (left by a group of
  the same name deleted before its item was cleared) is ignored and replaced.
- the item is removed when the group is deleted (GcpGroupBackend.delete), after the MIG is gone.

Project metadata is readable by every instance of the project: a record holds image ids, times, owners and
reasons, nothing secret. The subnets a core passes to ``create`` are not used: a MIG's network is its template's.
"""

from __future__ import annotations

import contextlib

from .._core.backends import RolloutStore
from .._core.errors import InvalidInput, PhoenixError
from . import fleet_api
from .errors import AlreadyExists, NotFound, PreconditionFailed
from .fleet_transformations import (
    RECORD_ITEM_PREFIX,
    check_record,
    description_of,
    metadata_fingerprint,
    metadata_items,
    record_item_key,
    record_item_value,
    record_of,
    record_values,
    scope_of,
    values_from_description,
)

# How often a metadata change is read and redone when another writer changed the project's metadata meanwhile.
METADATA_ATTEMPTS = 8


def group_scope(connection, scope=None):
    """Where the service's MIGs live: ``scope`` if given, else the connection's zone (zonal MIGs) when ``zone``
    is set, else its region (regional MIGs)."""
    if scope:
        return scope
    if connection.zone:
        return fleet_api.zonal_scope(connection.zone)
    if connection.region:
        return fleet_api.regional_scope(connection.region)
    raise InvalidInput(
        "managed instance groups need a zone or a region",
        hint="Set zone (zonal groups, in that zone) or region (regional groups, spread over its zones).",
    )


def change_record_item(connection, project, key, change, waiter=None, attempts=METADATA_ATTEMPTS):
    """Rewrite one item of the project's metadata: ``change(items)`` is the item's new value (None removes it,
    ``items`` as read now); the other items are written back as read. Returns the value written."""
    for attempt in range(attempts):
        project_resource = fleet_api.get_project(connection, project)
        items = metadata_items(project_resource)
        value = change(items)
        current = next((item.get("value") for item in items if item.get("key") == key), None)
        if value == current:
            return value
        kept = [item for item in items if item.get("key") != key]
        if value is not None:
            kept.append({"key": key, "value": value})
        try:
            fleet_api.set_common_instance_metadata(
                connection, project, kept, metadata_fingerprint(project_resource), waiter
            )
        except PreconditionFailed:
            if attempt == attempts - 1:
                raise
            continue
        return value
    return None


class GcpRolloutStore(RolloutStore):
    cloud = "gcp"

    def __init__(self, connection, scope=None, traffic=None, waiter=None):
        """``traffic``: a callable returning the TrafficBackend that attaches a new group to its backends."""
        self.connection = connection
        self.project = connection.project
        self._scope = scope
        self.traffic = traffic
        self.waiter = waiter

    @property
    def scope(self):
        """Asked when a group is: a task that reads no group (an image prune without zone or region) needs none."""
        return group_scope(self.connection, self._scope)

    def _manager(self, group):
        try:
            return fleet_api.get_group_manager(self.connection, self.project, self.scope, group)
        except NotFound:
            return None

    @staticmethod
    def _is_this_create(manager, record):
        values = values_from_description((manager or {}).get("description")) or {}
        return values.get("rollout") == record.rollout and values.get("owner") == record.owner

    def create(self, group, base, subnets, record, backends=()):
        description = description_of(record, group)
        if backends and self.traffic is None:
            raise PhoenixError(
                "cannot attach group %s to %s: no traffic backend was given to the rollout store"
                % (group, ", ".join(backends)),
                resource=group,
                cloud="gcp",
            )
        body = {
            "name": group,
            "description": description,
            "instanceTemplate": self.connection.url(base),
            "targetSize": 0,
            "baseInstanceName": group,
        }
        try:
            fleet_api.insert_group_manager(self.connection, self.project, self.scope, body, self.waiter)
        except AlreadyExists:
            # Ours only if an earlier attempt of this very create was applied and its answer lost.
            if not self._is_this_create(self._manager(group), record):
                return False
        except PhoenixError:
            if not self._is_this_create(self._manager(group), record):
                raise
        self._attach(group, backends)
        return True

    def _attach(self, group, backends):
        """The new group joins its backends, or is deleted again: it is made attached, or not at all."""
        if not backends:
            return
        traffic = self.traffic()
        try:
            for backend in backends:
                traffic.attach(group, backend)
        except PhoenixError:
            # The attach's own error is the one to report.
            with contextlib.suppress(PhoenixError):
                fleet_api.delete_group_manager(self.connection, self.project, self.scope, group, self.waiter)
            raise

    def read(self, group):
        manager = self._manager(group)
        if manager is None:
            return None
        return record_of(manager, metadata_items(fleet_api.get_project(self.connection, self.project)))

    def _change(self, group, values):
        manager = self._manager(group)
        if manager is None:
            raise PhoenixError(
                "cannot write the rollout record of group %s in %s: the group does not exist" % (group, self.scope),
                resource=group,
                code="notFound",
                cloud="gcp",
                hint="Run again: the rollout is resumed from what the cloud holds.",
            )

        def change(items):
            merged = dict(record_values(manager, items) or {})
            for name, value in values.items():
                if value is None:
                    merged.pop(name, None)
                else:
                    merged[name] = value
            return record_item_value(manager, merged)

        key = record_item_key(scope_of(manager), manager["name"])
        change_record_item(self.connection, self.project, key, change, self.waiter)

    def write(self, group, record, fields):
        values = record.to_record(list(fields))
        check_record(values, group)
        self._change(group, values)

    def clear(self, group, fields):
        if fields:
            self._change(group, dict.fromkeys(fields))

    def shown(self, field, value):
        return '"%s": "%s" in the project metadata item %s<zone or region>-<group>' % (field, value, RECORD_ITEM_PREFIX)

    def api_calls(self):
        return self.connection.api_calls()
