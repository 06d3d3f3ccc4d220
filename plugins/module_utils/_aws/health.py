# Private to this collection.
"""CloudWatch alarm states behind the cloud-neutral HealthBackend."""

from __future__ import annotations

from .._core.backends import HealthBackend
from .fleet_api import FleetApi

MISSING = "MISSING"


class AwsHealthBackend(HealthBackend):
    cloud = "aws"

    def __init__(self, connection, region=None):
        self.connection = connection
        self.region = region or connection.region
        self.api = FleetApi(connection, self.region)

    def alarm_states(self, names):
        states = {name: MISSING for name in names}
        for alarm in self.api.describe_alarms(names):
            states[alarm["AlarmName"]] = alarm.get("StateValue", MISSING)
        return states
