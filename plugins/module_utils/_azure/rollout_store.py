# Private to this collection.
"""The rollout's record as tags on its scale set, behind the cloud-neutral RolloutStore.

- ``create`` is one PUT of the scale set (capacity 0, the base's model, attached to ``backends``: the pools its
  ip configuration names) with its first record in its tags and ``If-None-Match: *``: ARM answers 412
  PreconditionFailed when a scale set of that name exists, and ``create`` answers False. A create whose answer
  was lost (applied, then a retry met 412 or an error) is recognised by its own record in the tags (same
  rollout and owner), so the core sees the group as this run's.
- a record field is the tag ``phoenix:rollout:<field>`` (``scale_set_transformations.RECORD``); a value longer
  than a tag's 256 characters is stored as the codec's chunks ``phoenix:rollout:<field>:<n>``.
- ``write`` and ``clear`` PATCH the tags whole (ARM replaces a resource's tags as a whole), computed from the
  scale set as this task last saw it and conditional on its etag (``scale_sets.modify_scale_set``: a stale copy
  is read again); the rollout's lease makes its holder the only writer. The record goes with the scale set when
  it is deleted.

The subnets a core passes to ``create`` are not used: a scale set's network is its model's.
"""

from __future__ import annotations

from .._core.backends import RolloutStore
from .._core.errors import PhoenixError
from .._core.tags import validate_tags
from . import scale_sets
from .codec import AZURE_CODEC
from .errors import NotFound, PreconditionFailed
from .identifiers import parse_resource_id
from .scale_set_transformations import (
    RECORD,
    new_group_body,
    record_of,
    record_tags,
    users_tags,
    without_fields,
)


class AzureRolloutStore(RolloutStore):
    cloud = "azure"

    def __init__(self, connection, traffic=None):
        """``traffic``: unused (a scale set joins its pools in its create); the other clouds' signature."""
        self.connection = connection
        self.resource_group = connection.resource_group
        self.traffic = traffic

    def _scale_set(self, group):
        try:
            return scale_sets.get_scale_set(self.connection, self.resource_group, group)
        except NotFound:
            return None

    @staticmethod
    def _checked(tags, group):
        validate_tags(tags, AZURE_CODEC.limits, resource="the rollout record of scale set %s" % group)
        return tags

    def _is_this_create(self, group, record):
        found = self._scale_set(group)
        mine = record_of((found or {}).get("tags"))
        return mine is not None and mine.rollout == record.rollout and mine.owner == record.owner

    def create(self, group, base, subnets, record, backends=()):
        where = parse_resource_id(base)  # GroupBackend.resolve_base's id
        try:
            model = scale_sets.get_scale_set(self.connection, where["resource_group"], where["name"])
        except NotFound:
            raise PhoenixError(
                "cannot create scale set %s: its base %s is gone" % (group, base),
                resource=base,
                code="ResourceNotFound",
                cloud="azure",
                hint="Give the scale set the service's groups copy as base.",
            ) from None
        tags = dict(users_tags(model.get("tags")))
        tags.update(record_tags(record, None, "scale set %s" % group))
        body = new_group_body(model, self._checked(tags, group), list(backends or ()))
        try:
            scale_sets.create_scale_set(self.connection, self.resource_group, group, body)
        except PreconditionFailed:
            # Ours only if an earlier attempt of this very create was applied and its answer lost.
            return self._is_this_create(group, record)
        except PhoenixError:
            if not self._is_this_create(group, record):
                raise
        return True

    def read(self, group):
        scale_set = self._scale_set(group)
        return record_of(scale_set.get("tags")) if scale_set is not None else None

    def _retag(self, group, change):
        def patch(scale_set):
            current = dict(scale_set.get("tags") or {})
            wanted = self._checked(change(current), group)
            return {"tags": wanted} if wanted != current else None

        try:
            scale_sets.modify_scale_set(self.connection, self.resource_group, group, patch)
        except NotFound:
            raise PhoenixError(
                "cannot write the rollout record of scale set %s in resource group %s: it does not exist"
                % (group, self.resource_group),
                resource=group,
                code="ResourceNotFound",
                cloud="azure",
                hint="Run again: the rollout is resumed from what the cloud holds.",
            ) from None

    def write(self, group, record, fields):
        fields = list(fields)
        written = record_tags(record, fields, "scale set %s" % group)
        self._retag(group, lambda tags: {**without_fields(tags, fields), **written})

    def clear(self, group, fields):
        if fields:
            self._retag(group, lambda tags: without_fields(tags, list(fields)))

    def shown(self, field, value):
        return "tag %s=%s" % (AZURE_CODEC.key(RECORD, field), value)

    def api_calls(self):
        return self.connection.api_calls()
