# Private to this collection.
"""CloudWatch alarm states behind the cloud-neutral HealthBackend."""

from __future__ import annotations

from .._core.backends import HealthBackend
from .._core.health import AlarmState
from .fleet_api import FleetApi

FIRING = "ALARM"


class AwsHealthBackend(HealthBackend):
    cloud = "aws"

    def __init__(self, connection, region=None):
        self.connection = connection
        self.region = region or connection.region
        self.api = FleetApi(connection, self.region)

    def alarm_states(self, names):
        # INSUFFICIENT_DATA is not firing: a quiet new group has no data yet.
        return {
            alarm["AlarmName"]: AlarmState(
                alarm["AlarmName"], alarm.get("StateValue") == FIRING, alarm.get("StateValue") or "UNKNOWN"
            )
            for alarm in self.api.describe_alarms(names)
        }
