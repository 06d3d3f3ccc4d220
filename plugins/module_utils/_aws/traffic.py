# Private to this collection.
"""An ALB listener's weighted forward between target groups, behind the cloud-neutral TrafficBackend."""

from __future__ import annotations

from .._core.backends import TrafficBackend
from .._core.errors import PhoenixError
from .fleet_api import FleetApi
from .fleet_transformations import forward_action, forward_weights, target_from_aws

MISSING_TARGET_CODES = ("TargetGroupNotFound",)


class AwsTrafficBackend(TrafficBackend):
    cloud = "aws"

    def __init__(self, connection, region=None):
        self.connection = connection
        self.region = region or connection.region
        self.api = FleetApi(connection, self.region)

    def weights(self, listener):
        return forward_weights(self.api.describe_listener(listener).get("DefaultActions"))

    def set_weights(self, listener, weights):
        previous = self.api.describe_listener(listener).get("DefaultActions")
        self.api.modify_listener_actions(listener, forward_action(weights, previous))

    def _one(self, **kwargs):
        try:
            found = self.api.describe_target_groups(**kwargs)
        except PhoenixError as error:
            if error.code in MISSING_TARGET_CODES:
                return None
            raise
        return target_from_aws(found[0]) if found else None

    def target(self, target_id):
        return self._one(arns=[target_id])

    def find_target(self, name):
        return self._one(names=[name])

    def create_target_like(self, name, model, tags):
        settings = dict(model.settings)
        settings["Name"] = name
        settings["Tags"] = [{"Key": key, "Value": value} for key, value in sorted(tags.items())]
        return target_from_aws(self.api.create_target_group(**settings))

    def delete_target(self, target_id):
        try:
            self.api.delete_target_group(target_id)
        except PhoenixError as error:
            if error.code not in MISSING_TARGET_CODES:
                raise

    def target_health(self, target_id):
        return {
            item["Target"]["Id"]: item.get("TargetHealth", {}).get("State", "unknown")
            for item in self.api.describe_target_health(target_id)
        }
