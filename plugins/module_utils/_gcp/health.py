# Private to this collection.
"""The HealthBackend of GCP: no alarms are read, so a rollout that names alarms is refused before any change.

Cloud Monitoring alerting policies are not in this collection's scope on GCP (they are neither read nor
written). A swap naming alarms is refused up front (``check_alarm_names``) rather than launching green only
to roll back; should the gate be reached all the same, no alarm is found and it fails closed
(``health.MISSING_ALARM``). A rollout on GCP is gated on the load balancer's health
(``backendServices.getHealth``), the group and the probe.
"""

from __future__ import annotations

from .._core.backends import HealthBackend
from .._core.errors import InvalidInput


class GcpHealthBackend(HealthBackend):
    cloud = "gcp"

    def __init__(self, connection):
        self.connection = connection

    def check_alarm_names(self, names):
        if names:
            raise InvalidInput(
                "health alarms (%s) are not read on gcp: Cloud Monitoring alerting policies are not supported yet"
                % ", ".join(names),
                resource=", ".join(names),
                hint="Nothing was changed. Leave health.alarms out with cloud: gcp; the load balancer's health "
                "checks gate the rollout.",
            )

    def alarm_states(self, names):
        return {}

    def api_calls(self):
        return self.connection.api_calls()
