"""The GCP part of `make demo`: the GCE emulator, its seed, and the run of playbooks/demo_gcp.yml.

tools/demo.py calls `run_gcp_part` after the AWS part. It starts the GCE emulator of tests/emulators/gce.py on
127.0.0.1 (Compute, Cloud KMS and Cloud Storage on one server), makes a service-account key the emulator
knows, and seeds what a user has before the collection runs: a patched base image, an instance running
from it, and a web service (a base instance template, a blue managed instance group of 2 members, its
backend service and a URL map sending to it), plus a Cloud Storage bucket for the audit trail. The
playbook gets the connection through the environment, as an AWX GCE credential would give it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from emulators.gce import GceEmulator
from harness import PlaybookRun, PlaybookTimeout, run_playbook

from ansible_collections.phoenix.immutable.plugins.module_utils._core.retry import RetryPolicy
from ansible_collections.phoenix.immutable.plugins.module_utils._core.waiter import Waiter
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp import compute, fleet_api
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.codec import tags_of
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.connection import GcpConnection
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.operations import wait_for

AUDIT_BUCKET = "phoenix-demo-audit"
SERVICE = "web"
BASE_TEMPLATE = "web-base"
BLUE_GROUP = "web-blue"
URL_MAP = "web-map"
BUILDER_INSTANCE = "hand-built-web"


@dataclasses.dataclass(frozen=True)
class GcpService:
    """What `seed_gcp` planted beyond the emulator's own seed."""

    project: str
    zone: str
    base_image_id: str
    base_image_name: str
    instance_id: str
    url_map: str
    base_template: str
    blue_group: str


@dataclasses.dataclass(frozen=True)
class GcpPart:
    run: PlaybookRun
    calls: dict[str, int]
    service: GcpService
    tables: dict[str, list[str]]


def connect(emu: GceEmulator, key_file: Path, zone: str) -> GcpConnection:
    """The collection's own connection (google-auth's AuthorizedSession) to the emulator, for seeding and reading."""
    return GcpConnection.from_params(
        {
            "project": emu.project,
            "auth_kind": "serviceaccount",
            "service_account_file": str(key_file),
            "endpoint_url": emu.compute_url,
            "storage_endpoint_url": emu.storage_url,
            "zone": zone,
        },
        environ={},
        retry_policy=RetryPolicy(max_attempts=6, base_delay=0.05, max_delay=0.5, deadline=60),
    )


def seed_gcp(emu: GceEmulator, connection: GcpConnection) -> GcpService:
    seed = emu.seed()
    project, zone = seed.project, seed.zone
    waiter = Waiter(timeout=120, delay=0.01, max_delay=0.1)

    def make(path: str, operation: str, body: dict[str, Any]) -> None:
        wait_for(connection, connection.request("POST", connection.project_url(path), operation, body=body), waiter)

    disk = {"boot": True, "autoDelete": True, "initializeParams": {"sourceImage": seed.base_image}}
    # An instance of the base image, imaged by hand later in the play (the imposter).
    compute.insert_instance(
        connection,
        project,
        zone,
        {"name": BUILDER_INSTANCE, "machineType": "zones/%s/machineTypes/e2-small" % zone, "disks": [disk]},
    )
    emu.settle()
    properties = {
        "machineType": "e2-small",
        "labels": {"app": SERVICE},
        "disks": [disk],
        "networkInterfaces": [{"network": "global/networks/default"}],
    }
    fleet_api.insert_template(connection, project, "global", {"name": BASE_TEMPLATE, "properties": properties}, waiter)
    group = {
        "name": BLUE_GROUP,
        "instanceTemplate": "global/instanceTemplates/%s" % BASE_TEMPLATE,
        "targetSize": 2,
        "baseInstanceName": BLUE_GROUP,
    }
    fleet_api.insert_group_manager(connection, project, fleet_api.zonal_scope(zone), group, waiter)
    emu.fleet.settle_members()
    backend_service = "global/backendServices/%s" % BLUE_GROUP
    make("global/healthChecks", "compute.healthChecks.insert", {"name": "web-http", "type": "HTTP"})
    make(
        "global/backendServices",
        "compute.backendServices.insert",
        {
            "name": BLUE_GROUP,
            "healthChecks": ["global/healthChecks/web-http"],
            "backends": [{"group": "zones/%s/instanceGroups/%s" % (zone, BLUE_GROUP)}],
        },
    )
    make("global/urlMaps", "compute.urlMaps.insert", {"name": URL_MAP, "defaultService": backend_service})
    emu.storage.create_bucket(AUDIT_BUCKET, versioning=True)
    return GcpService(
        project=project,
        zone=zone,
        base_image_id="projects/%s/global/images/%s" % (project, seed.base_image_name),
        base_image_name=seed.base_image_name,
        instance_id="projects/%s/zones/%s/instances/%s" % (project, zone, BUILDER_INSTANCE),
        url_map=URL_MAP,
        base_template=BASE_TEMPLATE,
        blue_group=BLUE_GROUP,
    )


def images_table(connection: GcpConnection, project: str) -> list[str]:
    rows = []
    for image in sorted(compute.list_images(connection, project), key=lambda image: image["creationTimestamp"]):
        labels = tags_of(image.get("labels") or {})
        deprecated = (image.get("deprecated") or {}).get("state")
        rows.append(
            "  %-12s %-36s %-8s %2d labels%s"
            % (project, image["name"], image["status"], len(labels), ", %s" % deprecated.lower() if deprecated else "")
        )
    return rows or ["  %-12s (no images)" % project]


def groups_table(connection: GcpConnection, service: GcpService) -> list[str]:
    """Each MIG of the zone with its size and image, and the URL map's split over backend services."""
    rows = []
    scope = fleet_api.zonal_scope(service.zone)
    for group in fleet_api.list_group_managers(connection, service.project, scope):
        template_name = group["instanceTemplate"].rsplit("/", 1)[1]
        template = fleet_api.get_template(connection, service.project, "global", template_name)
        image = template["properties"]["disks"][0]["initializeParams"]["sourceImage"].rsplit("/", 1)[1]
        rows.append("  group %-22s %d instances of %s" % (group["name"], group["targetSize"], image))
    url_map = connection.request(
        "GET", connection.project_url("global/urlMaps/%s" % service.url_map), "compute.urlMaps.get"
    )
    weighted = (url_map.get("defaultRouteAction") or {}).get("weightedBackendServices")
    split = (
        ", ".join("%s %s%%" % (entry["backendService"].rsplit("/", 1)[1], entry["weight"]) for entry in weighted)
        if weighted
        else "%s 100%%" % url_map["defaultService"].rsplit("/", 1)[1]
    )
    rows.append("  URL map %-20s %s" % (service.url_map, split))
    return rows


def audit_objects(connection: GcpConnection) -> list[str]:
    found = connection.request(
        "GET",
        "%sstorage/v1/b/%s/o" % (connection.storage_endpoint_url, AUDIT_BUCKET),
        "storage.objects.list",
    )
    return [
        "  gs://%s/%s  %s bytes, head %s"
        % (AUDIT_BUCKET, item["name"], item["size"], (item.get("metadata") or {}).get("phoenix-audit-head", "-")[:16])
        for item in found.get("items") or []
    ] or ["  (nothing in gs://%s)" % AUDIT_BUCKET]


def run_gcp_part(
    playbook: Path,
    workdir: Path,
    audit_env: dict[str, str],
    section: Callable[[str], None],
    timeout: int,
) -> GcpPart:
    """Start the GCE emulator, seed it, run the GCP playbook, read the cloud back; the emulator stopped after."""
    with GceEmulator() as emu:
        emu.operation_polls = 1
        key_file = emu.service_account_key().write(workdir / "gcp-key.json")
        connection = connect(emu, key_file, emu.zones[0])
        service = seed_gcp(emu, connection)
        section("GCP emulator at %s (project %s)" % (emu.base_url, service.project))
        print("  base image       %s" % service.base_image_id)
        print("  instance         %s, running from the base image" % service.instance_id)
        print("  web service      URL map %s -> backend service %s," % (service.url_map, service.blue_group))
        print("                   blue group %s: 2 instances of template %s" % (service.blue_group, BASE_TEMPLATE))
        print("  audit bucket     gs://%s (versioned)" % AUDIT_BUCKET)
        emu.reset_calls()

        section("ansible-playbook %s" % playbook.name)
        env = {
            **emu.env(),
            "GCP_AUTH_KIND": "serviceaccount",
            "GCP_SERVICE_ACCOUNT_FILE": str(key_file),
            "GCP_KMS_ENDPOINT_URL": emu.kms_url,
            "GCP_STORAGE_ENDPOINT_URL": emu.storage_url,
            **audit_env,
            # The same local trail as the AWS part; this run's lines also go to the bucket.
            "PHOENIX_AUDIT_CLOUD": "gcp",
            "PHOENIX_AUDIT_S3_BUCKET": AUDIT_BUCKET,
            "PHOENIX_AUDIT_S3_PREFIX": "demo/",
        }
        try:
            run = run_playbook(
                playbook,
                env=env,
                extra_vars={
                    "demo_project": service.project,
                    "demo_zone": service.zone,
                    "demo_base_image_id": service.base_image_id,
                    "demo_instance_id": service.instance_id,
                    "demo_url_map": service.url_map,
                    "demo_base_template": service.base_template,
                },
                stream=True,
                timeout=timeout,
            )
        except PlaybookTimeout as timed_out:
            print("\nerror: the GCP demo playbook did not finish within %ss" % timeout)
            run = timed_out.run
        calls = dict(emu.calls)
        emu.settle()
        tables = {
            "images": images_table(connection, service.project),
            "groups": groups_table(connection, service),
            "audit": audit_objects(connection),
        }
        return GcpPart(run=run, calls=calls, service=service, tables=tables)
