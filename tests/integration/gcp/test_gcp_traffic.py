"""GcpTrafficBackend and GcpHealthBackend through a real GcpConnection on the GCE emulator: a URL map's weighted
backend services, backend services made like another, groups attached by their instance group, getHealth."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ansible_collections.phoenix.immutable.plugins.module_utils import providers
from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import InvalidInput, PhoenixError
from ansible_collections.phoenix.immutable.plugins.module_utils._core.health import HealthCheck, HealthSpec
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.health import GcpHealthBackend
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.identifiers import instance_id
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.operations import wait_for
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.traffic import GcpTrafficBackend

SERVICE_LABELS = {"service": "web"}


class Setup:
    """What a user made before the collection runs (its own connection: its calls are not the backend's)."""

    def __init__(self, gce: Any) -> None:
        self.gce = gce
        self.connection = gce.connection()
        self.project = gce.seed.project
        self.zone = "zones/%s" % gce.seed.zone

    def done(self, method: str, path: str, operation: str, body: Any = None) -> dict[str, Any]:
        answer = self.connection.request(method, self.connection.project_url(path), operation, body=body, mutation=True)
        return wait_for(self.connection, answer, self.gce.waiter())

    def get(self, path: str, operation: str) -> dict[str, Any]:
        return self.connection.request("GET", self.connection.project_url(path), operation)

    def group(self, name: str, size: int = 2) -> str:
        """A zonal MIG of ``size`` settled members; the path of its instance group."""
        template = "global/instanceTemplates/%s-tpl" % name
        self.done(
            "POST",
            "global/instanceTemplates",
            "compute.instanceTemplates.insert",
            {
                "name": "%s-tpl" % name,
                "properties": {
                    "machineType": "e2-small",
                    "disks": [
                        {
                            "boot": True,
                            "autoDelete": True,
                            "initializeParams": {"sourceImage": self.gce.seed.base_image},
                        }
                    ],
                    "networkInterfaces": [{"network": "global/networks/default"}],
                },
            },
        )
        self.done(
            "POST",
            self.zone + "/instanceGroupManagers",
            "compute.instanceGroupManagers.insert",
            {
                "name": name,
                "instanceTemplate": template,
                "targetSize": size,
                "baseInstanceName": name,
                "namedPorts": [{"name": "http", "port": 8080}],
            },
        )
        self.gce.emu.fleet.settle_members()
        return "projects/%s/%s/instanceGroups/%s" % (self.project, self.zone, name)

    def health_check(self) -> str:
        self.done(
            "POST",
            "global/healthChecks",
            "compute.healthChecks.insert",
            {"name": "web-hc", "type": "HTTP", "httpHealthCheck": {"port": 8080, "requestPath": "/healthz"}},
        )
        return "projects/%s/global/healthChecks/web-hc" % self.project

    def backend_service(self, name: str, groups: tuple[str, ...] = (), health_check: str | None = None) -> str:
        """A backend service of these instance groups; its selfLink (a backend's id)."""
        body: dict[str, Any] = {
            "name": name,
            "protocol": "HTTP",
            "portName": "http",
            "timeoutSec": 45,
            "sessionAffinity": "CLIENT_IP",
            "backends": [{"group": group, "balancingMode": "RATE", "maxRatePerInstance": 100} for group in groups],
        }
        if health_check:
            body["healthChecks"] = [health_check]
        self.done("POST", "global/backendServices", "compute.backendServices.insert", body)
        return self.get("global/backendServices/" + name, "compute.backendServices.get")["selfLink"]

    def url_map(self, default_service: str) -> None:
        self.done(
            "POST", "global/urlMaps", "compute.urlMaps.insert", {"name": "web-lb", "defaultService": default_service}
        )

    def patch_url_map(self, change: dict[str, Any]) -> None:
        """Another writer's change of the URL map, with the fingerprint it reads now."""
        current = self.get("global/urlMaps/web-lb", "compute.urlMaps.get")
        self.done(
            "PATCH", "global/urlMaps/web-lb", "compute.urlMaps.patch", dict(change, fingerprint=current["fingerprint"])
        )


@pytest.fixture
def setup(gce):
    return Setup(gce)


@pytest.fixture
def traffic(gce):
    return GcpTrafficBackend(gce.connection(), waiter=gce.waiter())


@pytest.fixture
def blue(setup):
    """web-blue (a MIG of 2) behind backend service web-blue, which the URL map web-lb sends everything to."""
    group = setup.group("web-blue")
    service = setup.backend_service("web-blue", (group,), setup.health_check())
    setup.url_map(service)
    return service


def calls(traffic: GcpTrafficBackend, name: str) -> int:
    return traffic.api_calls().get(name, 0)


def test_shares_are_read_from_the_url_map_and_set_as_its_weights(gce, setup, traffic, blue):
    green = setup.backend_service("web-green")

    before = traffic.shares("web-lb")
    traffic.set_shares("web-lb", {blue: 90, green: 10})
    canary = gce.emu.fleet.url_map_weights("web-lb")
    read = traffic.shares("projects/%s/global/urlMaps/web-lb" % setup.project)
    traffic.set_shares("web-lb", {blue: 90, green: 10})
    updates = calls(traffic, "compute.urlMaps.update")
    traffic.set_shares("web-lb", {blue: 0, green: 100})

    assert before == {blue: 100}
    assert canary == {"web-blue": 90, "web-green": 10}
    assert read == {blue: 90, green: 10}
    # The same split again is no change; a backend at 0 leaves the map (so that it may be deleted).
    assert updates == 1
    assert gce.emu.fleet.url_map_weights("web-lb") == {"web-green": 100}
    assert calls(traffic, "compute.urlMaps.update") == 2


def test_backend_ids_are_the_selflinks_the_url_map_names_and_paths_or_names_are_taken_too(gce, setup, traffic, blue):
    green = setup.backend_service("web-green")
    green_path = "projects/%s/global/backendServices/web-green" % setup.project

    traffic.set_shares("web-lb", {"web-blue": 60, green_path: 40})
    shares = traffic.shares("web-lb")

    # The core matches the split's keys with the ids of backends and of the groups' backends: one form for all.
    assert shares == {traffic.backend(blue).id: 60, traffic.find_backend("web-green").id: 40}
    assert set(shares) == {blue, green} and traffic.backend(green_path).id == green
    assert gce.emu.fleet.url_map_weights("web-lb") == {"web-blue": 60, "web-green": 40}


def test_weights_google_would_refuse_are_refused_before_any_call(traffic, blue):
    with pytest.raises(InvalidInput, match="weight above 0"):
        traffic.set_shares("web-lb", {blue: 0})
    with pytest.raises(InvalidInput, match="from 0 to 1000"):
        traffic.set_shares("web-lb", {blue: 1001})
    with pytest.raises(InvalidInput, match="not the name or path of a URL map"):
        traffic.shares("projects/p/global/backendServices/web-blue")
    assert traffic.api_calls() == {}


def test_a_stale_fingerprint_is_read_again_and_the_split_redone_on_the_other_writers_map(gce, setup, traffic, blue):
    green = setup.backend_service("web-green")
    traffic.shares("web-lb")
    # Between this task's read and its change, someone changes another part of the map.
    setup.patch_url_map({"description": "owned by the platform team"})

    traffic.set_shares("web-lb", {blue: 75, green: 25})

    assert gce.emu.fleet.url_map_weights("web-lb") == {"web-blue": 75, "web-green": 25}
    assert setup.get("global/urlMaps/web-lb", "compute.urlMaps.get")["description"] == "owned by the platform team"
    # The first update was refused (412), the map read again, the change sent again with its fingerprint.
    assert calls(traffic, "compute.urlMaps.update") == 2
    assert calls(traffic, "compute.urlMaps.get") == 2


def test_a_split_another_writer_changed_is_refused_not_overwritten(gce, setup, traffic, blue):
    green = setup.backend_service("web-green")
    other = setup.backend_service("web-other")
    traffic.shares("web-lb")
    setup.patch_url_map(
        {
            "defaultService": None,
            "defaultRouteAction": {
                "weightedBackendServices": [
                    {"backendService": blue, "weight": 50},
                    {"backendService": other, "weight": 50},
                ]
            },
        }
    )

    with pytest.raises(PhoenixError) as refused:
        traffic.set_shares("web-lb", {blue: 90, green: 10})

    assert refused.value.code == "ConcurrentChange"
    assert "nothing was overwritten" in refused.value.message and "web-other 50" in refused.value.message
    assert gce.emu.fleet.url_map_weights("web-lb") == {"web-blue": 50, "web-other": 50}
    assert calls(traffic, "compute.urlMaps.update") == 1


def test_a_backend_made_like_another_copies_its_settings_and_is_found_again(setup, traffic, blue):
    model = traffic.backend(blue)
    made = traffic.create_backend_like("web-green", model, SERVICE_LABELS)
    again = traffic.create_backend_like("web-green", model, SERVICE_LABELS)
    service = setup.get("global/backendServices/web-green", "compute.backendServices.get")

    assert made.id == again.id == service["selfLink"]
    assert made.id.endswith("/projects/%s/global/backendServices/web-green" % setup.project)
    assert traffic.find_backend("web-green") == made and traffic.backend(made.id) == made
    for key in ("protocol", "portName", "timeoutSec", "healthChecks", "sessionAffinity"):
        assert service[key] == model.settings[key], key
    assert service["healthChecks"][0].endswith("/global/healthChecks/web-hc") and service["timeoutSec"] == 45
    assert service["backends"] == []
    assert json.loads(service["description"]) == {"phoenix_-service": "web"}
    assert traffic.find_backend("web-nothing") is None and traffic.find_backend("Not A Name") is None


def test_a_backend_of_that_name_made_by_someone_else_is_refused(setup, traffic, blue):
    setup.backend_service("web-green")
    with pytest.raises(PhoenixError, match="was not made for this service") as refused:
        traffic.create_backend_like("web-green", traffic.backend(blue), SERVICE_LABELS)
    assert refused.value.code == "alreadyExists"


def test_a_lost_answer_on_insert_gives_the_backend_service_it_made(gce, setup, traffic, blue):
    model = traffic.backend(blue)
    # Applied, then the answer lost: the retry carries the same requestId and is answered with the first operation.
    gce.emu.inject_fault("compute.backendServices.insert", status=503, after_apply=True)
    made = traffic.create_backend_like("web-green", model, SERVICE_LABELS)
    assert made.name == "web-green" and calls(traffic, "compute.backendServices.insert") == 2

    # Every answer lost until the retry policy gives up: the task fails; the next one finds what was made.
    gce.emu.inject_fault("compute.backendServices.insert", status=503, after_apply=True, times=6)
    with pytest.raises(PhoenixError):
        traffic.create_backend_like("web-canary", model, SERVICE_LABELS)
    found = traffic.create_backend_like("web-canary", model, SERVICE_LABELS)

    assert found.name == "web-canary" and found.settings["portName"] == "http"
    names = [
        service["name"]
        for service in setup.get("global/backendServices", "compute.backendServices.list").get("items", [])
    ]
    assert sorted(names) == ["web-blue", "web-canary", "web-green"]


def test_attach_and_detach_are_idempotent(setup, traffic, blue):
    group = setup.group("web-green", size=1)
    green = setup.backend_service("web-green", (setup.group("web-other", size=1),))

    traffic.attach("web-green", green)
    traffic.attach("web-green", green)
    attached = setup.get("global/backendServices/web-green", "compute.backendServices.get")["backends"]
    traffic.detach("web-green", green)
    traffic.detach("web-green", green)
    detached = setup.get("global/backendServices/web-green", "compute.backendServices.get")["backends"]

    assert [entry["group"].split("/compute/v1/", 1)[1] for entry in attached] == [
        "projects/%s/zones/%s/instanceGroups/web-other" % (setup.project, setup.gce.seed.zone),
        group,
    ]
    # The new entry is balanced as the service's entries are.
    assert attached[1]["balancingMode"] == "RATE" and attached[1]["maxRatePerInstance"] == 100
    assert [entry["group"].rsplit("/", 1)[1] for entry in detached] == ["web-other"]
    assert calls(traffic, "compute.backendServices.patch") == 2
    # The MIG is read once, to find its instance group; detach needs no read of it.
    assert calls(traffic, "compute.instanceGroupManagers.get") == 1
    traffic.detach("web-gone", green)
    traffic.detach("web-green", "web-nothing")
    with pytest.raises(PhoenixError, match="no managed instance group web-gone"):
        traffic.attach("web-gone", green)


def test_a_change_of_the_backend_service_by_another_writer_is_read_and_kept(gce, setup, traffic, blue):
    setup.group("web-green", size=1)
    green = setup.backend_service("web-green")

    def other_writer() -> None:
        service = gce.emu.fleet.backend_services.find(setup.project, "global", "web-green")
        service.update(description="tuned by hand", fingerprint="changed-by-another-writer")

    gce.emu.before_call("compute.backendServices.patch", other_writer)
    traffic.attach("web-green", green)
    service = setup.get("global/backendServices/web-green", "compute.backendServices.get")

    assert [entry["group"].rsplit("/", 1)[1] for entry in service["backends"]] == ["web-green"]
    assert service["description"] == "tuned by hand"
    assert calls(traffic, "compute.backendServices.patch") == 2


def test_backend_health_names_instances_by_id_and_follows_the_health_checks(gce, setup, traffic, blue):
    members = sorted(gce.emu.fleet.members_of("zones/%s/instanceGroupManagers/web-blue" % gce.seed.zone).items())
    ids = [instance_id(setup.project, member["zone"].rsplit("/", 1)[-1], name) for name, member in members]

    healthy = traffic.backend_health(blue)
    gce.emu.fleet.set_instance_health(ids[0], "UNHEALTHY")
    marked = traffic.backend_health(blue)

    assert healthy == {ids[0]: "healthy", ids[1]: "healthy"}
    assert marked == {ids[0]: "unhealthy", ids[1]: "healthy"}
    assert traffic.backend_health("web-nothing") == {}


def test_a_backend_service_the_url_map_uses_is_not_deleted(setup, traffic, blue):
    green = setup.backend_service("web-green")

    with pytest.raises(PhoenixError, match="still in use") as refused:
        traffic.delete_backend(blue)
    traffic.delete_backend(green)
    traffic.delete_backend(green)

    assert refused.value.code == "resourceInUseByAnotherResource" and "urlMaps/web-lb" in refused.value.message
    assert traffic.backend(blue) is not None and traffic.backend(green) is None


def test_throttling_and_server_errors_are_retried(gce, setup, traffic, blue):
    setup.group("web-green", size=1)
    green = setup.backend_service("web-green")
    gce.emu.inject_fault("compute.urlMaps.get", status=429, times=2)
    gce.emu.inject_fault("compute.urlMaps.update", status=503)
    gce.emu.inject_fault("compute.backendServices.patch", status=429)
    gce.emu.inject_fault("compute.backendServices.getHealth", status=503)

    assert traffic.shares("web-lb") == {blue: 100}
    traffic.set_shares("web-lb", {blue: 50, green: 50})
    traffic.attach("web-green", green)
    health = traffic.backend_health(green)

    assert gce.emu.fleet.url_map_weights("web-lb") == {"web-blue": 50, "web-green": 50}
    assert list(health.values()) == ["healthy"]
    assert gce.emu.pending_faults == {}
    assert calls(traffic, "compute.urlMaps.get") == 3 and calls(traffic, "compute.urlMaps.update") == 2
    assert calls(traffic, "compute.backendServices.patch") == 2


def test_the_gcp_provider_gives_traffic_and_health_and_a_named_alarm_fails_the_gate_closed(gce):
    params = {
        "cloud": "gcp",
        "project": gce.seed.project,
        "auth_kind": "serviceaccount",
        "service_account_file": str(gce.key_file),
        "endpoint_url": gce.emu.compute_url,
        "zone": gce.seed.zone,
    }
    gcp = providers.provider(params)
    alarms = gcp.health()
    check = HealthCheck(HealthSpec(alarms=["web-5xx-rate"]), None, gcp.traffic(), alarms)

    problems, evidence = check.check("web-green", None, 0, with_probe=False, fleet=([], {}))

    assert isinstance(gcp.traffic(), GcpTrafficBackend) and isinstance(alarms, GcpHealthBackend)
    assert problems == ["alarm web-5xx-rate is MISSING"] and evidence["alarms"] == {"web-5xx-rate": "MISSING"}
    assert alarms.api_calls() == {}


def test_a_swap_naming_alarms_on_gcp_is_refused_before_any_call(gce):
    params = {
        "cloud": "gcp",
        "project": gce.seed.project,
        "auth_kind": "serviceaccount",
        "service_account_file": str(gce.key_file),
        "endpoint_url": gce.emu.compute_url,
        "zone": gce.seed.zone,
    }
    alarms = providers.provider(params).health()
    alarms.check_alarm_names([])  # none named: nothing to refuse
    with pytest.raises(InvalidInput, match="web-5xx-rate.*not read on gcp") as refused:
        alarms.check_alarm_names(["web-5xx-rate"])
    assert "Nothing was changed" in refused.value.hint and alarms.api_calls() == {}
