# Private to this collection.
"""The HealthBackend of Azure: no alarms are read, so a rollout that names alarms is refused before any change.

Azure Monitor alerts (the alert instances of ``Microsoft.AlertsManagement``, ``Fired`` or ``Resolved``) are not in
this collection's scope yet: neither read nor written, and no SDK for them is required. A swap naming alarms is
refused up front (``check_alarm_names``) rather than launching green only to roll back; should the gate be reached
all the same, no alarm is found and it fails closed (``health.MISSING_ALARM``). A rollout on Azure is gated on the
load balancer's probes (the rules' health, through the traffic backend), the scale set's instances and the probe.
"""

from __future__ import annotations

from .._core.backends import HealthBackend
from .._core.errors import InvalidInput


class AzureHealthBackend(HealthBackend):
    cloud = "azure"

    def __init__(self, connection):
        self.connection = connection

    def check_alarm_names(self, names):
        if names:
            raise InvalidInput(
                "health alarms (%s) are not read on azure: Azure Monitor alerts are not supported yet"
                % ", ".join(names),
                resource=", ".join(names),
                hint="Nothing was changed. Leave health.alarms out with cloud: azure; the load balancer's health "
                "probes gate the rollout.",
            )

    def alarm_states(self, names):
        return {}

    def api_calls(self):
        return self.connection.api_calls()
