# Private to this collection.
"""The HealthBackend of GCP: no alarms are read, so every alarm a rollout names counts as missing.

Cloud Monitoring alerting policies are not in this collection's scope on GCP (they are neither read nor
written), so no named alarm can be found: each is left out of ``alarm_states`` and the core's gate fails on it
(``health.MISSING_ALARM``), failing closed, as it does for a CloudWatch alarm that does not exist. A rollout on
GCP is gated on the load balancer's health (``backendServices.getHealth``), the group and the probe.
"""

from __future__ import annotations

from .._core.backends import HealthBackend


class GcpHealthBackend(HealthBackend):
    cloud = "gcp"

    def __init__(self, connection):
        self.connection = connection

    def alarm_states(self, names):
        return {}

    def api_calls(self):
        return self.connection.api_calls()
