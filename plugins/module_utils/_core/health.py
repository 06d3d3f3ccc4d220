# Private to this collection.
"""Health evidence for a rollout: the group's instances, the load balancer's view, an HTTP probe, alarms.

Cloud-neutral: the backends supply what the cloud reports; this module decides what counts as healthy and
keeps the evidence a user reads afterwards. The HTTP probe uses only the standard library.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass, field

HEALTHY_TARGET = "healthy"
# How an alarm the user named but the cloud does not have is shown: it fails the gate (fail closed).
MISSING_ALARM = "MISSING"


@dataclass(frozen=True)
class AlarmState:
    """One alarm as the cloud reports it: ``firing`` decides, ``shown`` is the cloud's own word for the user."""

    name: str
    firing: bool
    shown: str


@dataclass
class HealthSpec:
    """What "healthy" means for the new group.

    ``target_health``: every instance of the group registered and ``healthy`` at the load balancer;
    ``probe_url``: answers 2xx (for ``healthy_for_seconds`` in a row before any traffic moves);
    ``alarms``: none of these alarms firing (one the cloud does not have counts as firing);
    ``interval``: seconds between checks.
    """

    target_health: bool = True
    probe_url: str = None
    probe_timeout: float = 5.0
    healthy_for_seconds: float = 0
    alarms: list = field(default_factory=list)
    interval: float = 5.0


def http_probe(url, timeout):
    """(ok, detail): ok when the URL answers 2xx. Redirects are followed; proxies are not used."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(urllib.request.Request(url, method="GET"), timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    except (urllib.error.URLError, OSError, ValueError) as error:
        return False, "no answer: %s" % getattr(error, "reason", error)
    return 200 <= status < 300, "HTTP %d" % status


class HealthCheck:
    """One look at the group's health: ``check(group, backend_id, size)`` returns (problems, evidence)."""

    def __init__(self, spec, groups, traffic, alarms_backend, probe=http_probe):
        self.spec = spec
        self.groups = groups
        self.traffic = traffic
        self.alarms_backend = alarms_backend
        self.probe = probe

    def check(self, group_name, backend_id, size, with_probe=True, fleet=None):
        """``fleet``: the (problems, evidence) of a ``fleet()`` read to use instead of reading the group and the
        load balancer again; alarms and the probe are always asked afresh."""
        problems, evidence = fleet if fleet is not None else self.fleet(group_name, backend_id, size)
        problems, evidence = list(problems), dict(evidence)
        self._signals(problems, evidence, with_probe)
        return problems, evidence

    def fleet(self, group_name, backend_id, size):
        """(problems, evidence) of the group's instances and, with ``target_health``, the load balancer's view."""
        problems, evidence = [], {}
        group = self.groups.get(group_name)
        live = group.live_instances() if group else []
        healthy_ids = sorted(instance.id for instance in live if instance.healthy)
        evidence["instances"] = {"in_service": len(live), "healthy": len(healthy_ids), "wanted": size}
        if len(healthy_ids) < size:
            problems.append("%d of %d instances in service and healthy in %s" % (len(healthy_ids), size, group_name))
        if self.spec.target_health and backend_id:
            states = self.traffic.backend_health(backend_id)
            # Only the group's current instances count: a load balancer may still list terminated ones.
            mine = {instance_id: states.get(instance_id, "unregistered") for instance_id in healthy_ids}
            good = sorted(instance_id for instance_id, state in mine.items() if state == HEALTHY_TARGET)
            evidence["targets"] = {"healthy": len(good), "states": mine}
            if len(good) < size:
                bad = ", ".join("%s %s" % item for item in sorted(mine.items()) if item[1] != HEALTHY_TARGET)
                problems.append(
                    "%d of %d targets healthy at the load balancer%s" % (len(good), size, " (%s)" % bad if bad else "")
                )
        return problems, evidence

    def _signals(self, problems, evidence, with_probe):
        if self.spec.alarms:
            found = self.alarms_backend.alarm_states(self.spec.alarms)
            states = {name: found[name].shown if name in found else MISSING_ALARM for name in self.spec.alarms}
            evidence["alarms"] = states
            firing = sorted(name for name in self.spec.alarms if name not in found or found[name].firing)
            if firing:
                problems.append(
                    "alarm%s %s"
                    % ("s" if len(firing) > 1 else "", "; ".join("%s is %s" % (name, states[name]) for name in firing))
                )
        if with_probe and self.spec.probe_url:
            ok, detail = self.probe(self.spec.probe_url, self.spec.probe_timeout)
            evidence["probe"] = {"url": self.spec.probe_url, "ok": ok, "detail": detail}
            if not ok:
                problems.append("probe %s answered %s" % (self.spec.probe_url, detail))
