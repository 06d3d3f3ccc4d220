# Private to this collection.
"""The rollout's record as tags on its Auto Scaling group, behind the cloud-neutral RolloutStore.

Creating the group with its tags (and attached to its target group) in one call is the lock: Auto Scaling
refuses a second group of the same name (AlreadyExists).
"""

from __future__ import annotations

from .._core.backends import RolloutStore
from .._core.errors import PhoenixError
from .._core.tags import validate_tags
from .codec import AWS_TAG_LIMITS
from .fleet_api import FleetApi
from .fleet_transformations import group_from_asg, record_tag_keys, tags_from_record


class AwsRolloutStore(RolloutStore):
    cloud = "aws"

    def __init__(self, connection, region=None):
        self.connection = connection
        self.region = region or connection.region
        self.api = FleetApi(connection, self.region)

    def _tags(self, group, record, fields):
        tags = tags_from_record(record, fields)
        validate_tags(tags, AWS_TAG_LIMITS, resource="the rollout record of group %s" % group)
        return tags

    def create(self, group, base, subnets, record, backends=()):
        tags = self._tags(group, record, None)
        try:
            self.api.create_group(group, base, "$Default", subnets, tags, target_groups=backends)
        except PhoenixError as error:
            if error.code == "AlreadyExists":
                return False
            raise
        return True

    def read(self, group):
        found = self.api.describe_groups([group])
        return group_from_asg(found[0]).record if found else None

    def write(self, group, record, fields):
        self.api.create_or_update_group_tags(group, self._tags(group, record, fields))

    def clear(self, group, fields):
        if fields:
            self.api.delete_group_tags(group, record_tag_keys(fields))

    def shown(self, field, value):
        return "%s=%s" % (record_tag_keys([field])[0], value)

    def api_calls(self):
        return self.connection.api_calls()
