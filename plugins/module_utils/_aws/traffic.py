# Private to this collection.
"""An ALB listener's weighted forward between target groups, behind the cloud-neutral TrafficBackend.

The frontend is the listener (its ARN), a backend a target group (its ARN); a group is attached by
registering the Auto Scaling group with the target group.
"""

from __future__ import annotations

from .._core.backends import WEIGHTED, TrafficBackend
from .._core.errors import PhoenixError
from .codec import AWS_CODEC
from .fleet_api import FleetApi
from .fleet_transformations import backend_from_aws, forward_action, forward_weights

MISSING_TARGET_CODES = ("TargetGroupNotFound",)


class AwsTrafficBackend(TrafficBackend):
    cloud = "aws"
    split = WEIGHTED
    codec = AWS_CODEC

    def __init__(self, connection, region=None):
        self.connection = connection
        self.region = region or connection.region
        self.api = FleetApi(connection, self.region)
        self._read = {}

    def shares(self, frontend):
        actions = self.api.describe_listener(frontend).get("DefaultActions")
        self._read[frontend] = actions
        return forward_weights(actions)

    def set_shares(self, frontend, shares):
        # The new action keeps the listener's stickiness setting: taken from this task's read of it (the core
        # reads the shares before it changes them) or from this task's own last change, read now only if neither.
        previous = self._read.get(frontend)
        if previous is None:
            previous = self.api.describe_listener(frontend).get("DefaultActions")
        actions = forward_action(shares, previous)
        self._read.pop(frontend, None)  # unknown if the call fails: it may or may not have been applied
        self.api.modify_listener_actions(frontend, actions)
        self._read[frontend] = actions

    def _one(self, **kwargs):
        try:
            found = self.api.describe_target_groups(**kwargs)
        except PhoenixError as error:
            if error.code in MISSING_TARGET_CODES:
                return None
            raise
        return backend_from_aws(found[0]) if found else None

    def backend(self, backend_id):
        return self._one(arns=[backend_id])

    def find_backend(self, name):
        return self._one(names=[name])

    def create_backend_like(self, name, model, labels):
        settings = dict(model.settings)
        settings["Name"] = name
        settings["Tags"] = [{"Key": self.codec.key(key), "Value": value} for key, value in sorted(labels.items())]
        return backend_from_aws(self.api.create_target_group(**settings))

    def delete_backend(self, backend_id):
        try:
            self.api.delete_target_group(backend_id)
        except PhoenixError as error:
            if error.code not in MISSING_TARGET_CODES:
                raise

    def attach(self, group, backend_id):
        self.api.attach_target_groups(group, [backend_id])

    def detach(self, group, backend_id):
        self.api.detach_target_groups(group, [backend_id])

    def backend_health(self, backend_id):
        return {
            item["Target"]["Id"]: item.get("TargetHealth", {}).get("State", "unknown")
            for item in self.api.describe_target_health(backend_id)
        }

    def api_calls(self):
        return self.connection.api_calls()
