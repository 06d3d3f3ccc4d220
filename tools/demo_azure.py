"""The Azure part of `make demo`: the ARM emulator, Key Vault and Blob Storage behind it, their seed, and the run of
playbooks/demo_azure.yml.

tools/demo.py calls `run_azure_part` after the GCP part. It starts the ARM emulator of tests/emulators/arm.py on
https://127.0.0.1 (with Entra ID; a test CA the clients trust, verification on), and Key Vault and Blob Storage
under their real host names behind the local CONNECT proxy of tests/emulators/azure_hosts.py (HTTPS_PROXY, with
NO_PROXY keeping ARM on 127.0.0.1 direct). Then it seeds, through the real Azure SDK clients, what a user has
before the collection runs: a resource group and its Compute Gallery with a base image version, a virtual network,
a VM running from the base image, a web service (a base scale set as the model, a blue scale set of 2 in the
backend pool of a Standard load balancer's rule), a release key in Key Vault and a Blob container for the audit
trail. The playbook gets the connection through the environment, as AWX's Azure credential gives it.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from azure.storage.blob import ContainerClient
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from emulators.arm import ArmEmulator
from emulators.azure_hosts import AzureHosts
from emulators.blob import BlobEmulator
from emulators.keyvault import KeyVaultEmulator
from harness import PlaybookRun, PlaybookTimeout, run_playbook

from ansible_collections.phoenix.immutable.plugins.module_utils._azure.connection import AzureConnection
from ansible_collections.phoenix.immutable.plugins.module_utils._core.retry import RetryPolicy

RESOURCE_GROUP = "rg-web"
GALLERY = "phoenix_gallery"
BASE_DEFINITION = "debian-base"
BASE_VERSION = "1.0.0"
NETWORK = "web-vnet"
SUBNET = "web"
BALANCER = "web-lb"
POOL = "web-pool"
BASE_SCALE_SET = "web-base"
BLUE_SCALE_SET = "web-a"
BUILDER_VM = "hand-built-web"
AUDIT_CONTAINER = "phoenix-demo-audit"
RELEASE_KEY = "release-approver"
ADMIN = "azureuser"
# What the seed sends when no SDK client serves the call (resource groups are ARM's Microsoft.Resources).
RESOURCE_GROUPS_API = "2024-03-01"


@dataclasses.dataclass(frozen=True)
class AzureService:
    """What `seed_azure` planted."""

    subscription: str
    resource_group: str
    location: str
    gallery: str
    base_image_id: str
    vm_id: str
    load_balancer: str
    pool_id: str
    base_scale_set: str
    blue_scale_set: str
    release_key: str
    audit_container: str


@dataclasses.dataclass(frozen=True)
class AzurePart:
    run: PlaybookRun
    calls: dict[str, int]
    service: AzureService
    tables: dict[str, list[str]]


def connect(emu: ArmEmulator) -> AzureConnection:
    """The collection's own connection (azure-identity, azure-mgmt-*) to the emulator, for seeding and reading."""
    return AzureConnection.from_params(
        {
            "subscription_id": emu.subscription_id,
            "tenant": emu.tenant_id,
            "client_id": emu.client_id,
            "secret": emu.client_secret,
            "resource_group": RESOURCE_GROUP,
            "location": emu.location,
            "resource_manager_url": emu.endpoint_url,
            "authority_host": emu.authority_url,
            "ca_bundle": emu.ca_bundle,
            "gallery": GALLERY,
            "polling_interval": 0,
        },
        environ={},
        retry_policy=RetryPolicy(max_attempts=6, base_delay=0.05, max_delay=0.5, deadline=60),
    )


def ssh_public_key() -> str:
    """A login key for the scale sets' model: ARM never returns a password, so a model with one cannot be copied."""
    public = ed25519.Ed25519PrivateKey.generate().public_key()
    return public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


def scale_set_body(location: str, image_id: str, subnet_id: str, key: str, capacity: int, pools: list[str]):
    """A Uniform scale set of ``capacity`` booting ``image_id``, its one NIC in ``subnet_id`` and ``pools``."""
    ip_configuration = {
        "name": "ipconfig",
        "properties": {
            "primary": True,
            "subnet": {"id": subnet_id},
            "loadBalancerBackendAddressPools": [{"id": pool} for pool in pools],
        },
    }
    return {
        "location": location,
        "tags": {"app": "web"},
        "sku": {"name": "Standard_B2s", "tier": "Standard", "capacity": capacity},
        "properties": {
            "upgradePolicy": {"mode": "Manual"},
            "overprovision": False,
            "virtualMachineProfile": {
                "storageProfile": {"imageReference": {"id": image_id}},
                "osProfile": {
                    "computerNamePrefix": "web",
                    "adminUsername": ADMIN,
                    "linuxConfiguration": {
                        "disablePasswordAuthentication": True,
                        "ssh": {"publicKeys": [{"path": "/home/%s/.ssh/authorized_keys" % ADMIN, "keyData": key}]},
                    },
                },
                "networkProfile": {
                    "networkInterfaceConfigurations": [
                        {"name": "nic", "properties": {"primary": True, "ipConfigurations": [ip_configuration]}}
                    ]
                },
            },
        },
    }


def load_balancer_body(location: str, balancer_id: str, subnet_id: str) -> dict[str, Any]:
    """A Standard load balancer: one frontend, pool POOL, an HTTP probe and a rule sending port 80 to the pool."""
    return {
        "location": location,
        "sku": {"name": "Standard", "tier": "Regional"},
        "properties": {
            "frontendIPConfigurations": [{"name": "front", "properties": {"subnet": {"id": subnet_id}}}],
            "backendAddressPools": [{"name": POOL}],
            "probes": [{"name": "healthz", "properties": {"protocol": "Http", "port": 8080, "requestPath": "/"}}],
            "loadBalancingRules": [
                {
                    "name": "http",
                    "properties": {
                        "frontendIPConfiguration": {"id": balancer_id + "/frontendIPConfigurations/front"},
                        "backendAddressPool": {"id": balancer_id + "/backendAddressPools/" + POOL},
                        "probe": {"id": balancer_id + "/probes/healthz"},
                        "protocol": "Tcp",
                        "frontendPort": 80,
                        "backendPort": 8080,
                    },
                }
            ],
        },
    }


def seed_azure(emu: ArmEmulator, vault: KeyVaultEmulator, blob: BlobEmulator, connection: AzureConnection):
    location, compute, network = emu.location, connection.compute(), connection.network()
    group_path = "/subscriptions/%s/resourceGroups/%s" % (emu.subscription_id, RESOURCE_GROUP)
    token = connection.credential.get_token(emu.credential_scope).token
    made = requests.put(
        emu.endpoint_url + group_path,
        params={"api-version": RESOURCE_GROUPS_API},
        json={"location": location},
        headers={"Authorization": "Bearer " + token},
        verify=emu.ca_bundle,
        timeout=60,
    )
    made.raise_for_status()
    compute.galleries.begin_create_or_update(RESOURCE_GROUP, GALLERY, {"location": location}).result()
    definition = {
        "location": location,
        "properties": {
            "osType": "Linux",
            "osState": "Generalized",
            "hyperVGeneration": "V2",
            "identifier": {"publisher": "Debian", "offer": "debian-12", "sku": "12-gen2-patched"},
        },
    }
    compute.gallery_images.begin_create_or_update(RESOURCE_GROUP, GALLERY, BASE_DEFINITION, definition).result()
    # The user's patched Debian, a generalized managed image (planted: the emulator serves no images API) put into
    # the gallery as the version the bake starts from.
    source = emu.put_resource(
        group_path + "/providers/Microsoft.Compute/images/debian-12-patched",
        "Microsoft.Compute/images",
        properties={"hyperVGeneration": "V2"},
    )
    version = {
        "location": location,
        "tags": {"phoenix:image-name": "debian-12-patched"},
        "properties": {"storageProfile": {"source": {"id": source["id"]}}},
    }
    base_image = compute.gallery_image_versions.begin_create_or_update(
        RESOURCE_GROUP, GALLERY, BASE_DEFINITION, BASE_VERSION, version
    ).result()

    vnet = {
        "location": location,
        "properties": {
            "addressSpace": {"addressPrefixes": ["10.8.0.0/16"]},
            "subnets": [{"name": SUBNET, "properties": {"addressPrefix": "10.8.0.0/24"}}],
        },
    }
    network.virtual_networks.begin_create_or_update(RESOURCE_GROUP, NETWORK, vnet).result()
    subnet_id = network.subnets.get(RESOURCE_GROUP, NETWORK, SUBNET).id
    key = ssh_public_key()

    # A VM of the base image, imaged by hand later in the play (the imposter).
    nic = network.network_interfaces.begin_create_or_update(
        RESOURCE_GROUP,
        BUILDER_VM + "-nic",
        {
            "location": location,
            "properties": {"ipConfigurations": [{"name": "ipconfig", "properties": {"subnet": {"id": subnet_id}}}]},
        },
    ).result()
    vm = compute.virtual_machines.begin_create_or_update(
        RESOURCE_GROUP,
        BUILDER_VM,
        {
            "location": location,
            "properties": {
                "hardwareProfile": {"vmSize": "Standard_B2s"},
                "storageProfile": {"imageReference": {"id": base_image.id}},
                "osProfile": {
                    "computerName": BUILDER_VM,
                    "adminUsername": ADMIN,
                    "linuxConfiguration": {
                        "disablePasswordAuthentication": True,
                        "ssh": {"publicKeys": [{"path": "/home/%s/.ssh/authorized_keys" % ADMIN, "keyData": key}]},
                    },
                },
                "networkProfile": {"networkInterfaces": [{"id": nic.id, "properties": {"primary": True}}]},
            },
        },
    ).result()

    balancer_id = group_path + "/providers/Microsoft.Network/loadBalancers/" + BALANCER
    network.load_balancers.begin_create_or_update(
        RESOURCE_GROUP, BALANCER, load_balancer_body(location, balancer_id, subnet_id)
    ).result()
    pool_id = balancer_id + "/backendAddressPools/" + POOL
    for name, capacity, pools in ((BASE_SCALE_SET, 0, []), (BLUE_SCALE_SET, 2, [pool_id])):
        body = scale_set_body(location, base_image.id, subnet_id, key, capacity, pools)
        compute.virtual_machine_scale_sets.begin_create_or_update(RESOURCE_GROUP, name, body).result()

    release_key = vault.create_key(RELEASE_KEY)
    blob.create_container(AUDIT_CONTAINER, immutable_storage_with_versioning=True)
    return AzureService(
        subscription=emu.subscription_id,
        resource_group=RESOURCE_GROUP,
        location=location,
        gallery=GALLERY,
        base_image_id=base_image.id,
        vm_id=vm.id,
        load_balancer=BALANCER,
        pool_id=pool_id,
        base_scale_set=BASE_SCALE_SET,
        blue_scale_set=BLUE_SCALE_SET,
        release_key=release_key,
        audit_container="%s/%s" % (blob.account_url(), AUDIT_CONTAINER),
    )


def short_image(image_id: str) -> str:
    """``definition/version`` of a gallery image version id."""
    parts = image_id.split("/")
    return "%s/%s" % (parts[-3], parts[-1]) if len(parts) > 3 and parts[-2].lower() == "versions" else image_id


def images_table(connection: AzureConnection) -> list[str]:
    """Every version of every definition in the gallery, with its collection name, tags and end of life."""
    compute, rows = connection.compute(), []
    versions = [
        (definition.name, version)
        for definition in compute.gallery_images.list_by_gallery(RESOURCE_GROUP, GALLERY)
        for version in compute.gallery_image_versions.list_by_gallery_image(RESOURCE_GROUP, GALLERY, definition.name)
    ]
    for definition, version in sorted(versions, key=lambda item: (item[1].publishing_profile.published_date, item[0])):
        tags = version.tags or {}
        end = version.publishing_profile.end_of_life_date
        rows.append(
            "  %-28s %-18s %-30s %-10s %2d tags%s"
            % (
                definition,
                version.name,
                tags.get("phoenix:image-name", ""),
                str(version.provisioning_state or "-").rsplit(".", 1)[-1].title(),
                len(tags),
                ", end of life %s" % end.date() if end else "",
            )
        )
    return rows or ["  (no image versions in gallery %s)" % GALLERY]


def groups_table(connection: AzureConnection, service: AzureService) -> list[str]:
    """Each scale set with its capacity and image, and the members of the load balancer rule's pool by scale set."""
    compute, network, rows = connection.compute(), connection.network(), []
    for scale_set in sorted(compute.virtual_machine_scale_sets.list(RESOURCE_GROUP), key=lambda item: item.name):
        image = scale_set.virtual_machine_profile.storage_profile.image_reference.id
        rows.append(
            "  scale set %-18s %d instances of %s" % (scale_set.name, scale_set.sku.capacity, short_image(image))
        )
    pool = network.load_balancer_backend_address_pools.get(RESOURCE_GROUP, service.load_balancer, POOL)
    members = Counter(
        configuration.id.split("/virtualMachineScaleSets/", 1)[1].split("/", 1)[0]
        for configuration in pool.backend_ip_configurations or []
        if "/virtualMachineScaleSets/" in configuration.id
    )
    split = ", ".join("%s %d" % (name, count) for name, count in sorted(members.items())) or "empty"
    rows.append("  load balancer %-14s rule http -> pool %s: %s" % (service.load_balancer, POOL, split))
    return rows


def audit_blobs(connection: AzureConnection, service: AzureService, proxy_url: str) -> list[str]:
    """The audit container's blobs, read with azure-storage-blob through the proxy."""
    account_url, name = service.audit_container.rsplit("/", 1)
    container = connection.client(
        ContainerClient, account_url, name, credential=connection.credential, proxies={"https": proxy_url}
    )
    found = [
        "  %s/%s  %s bytes, head %s"
        % (
            service.audit_container,
            item.name,
            item.size,
            (item.metadata or {}).get("phoenix_audit_head", "-")[:16],
        )
        for item in container.list_blobs(include=["metadata"])
    ]
    return found or ["  (nothing in %s)" % service.audit_container]


def run_azure_part(
    playbook: Path,
    workdir: Path,
    audit_env: dict[str, str],
    section: Callable[[str], None],
    timeout: int,
) -> AzurePart:
    """Start the ARM emulator and the data planes, seed them, run the Azure playbook, read the cloud back."""
    with ArmEmulator() as emu:
        vault, blob = KeyVaultEmulator(emu), BlobEmulator(emu)
        with AzureHosts(emu.ca_bundle, [vault, blob]) as hosts:
            return _run(emu, vault, blob, hosts, playbook, audit_env, section, timeout)


def _run(emu, vault, blob, hosts, playbook, audit_env, section, timeout) -> AzurePart:
    emu.operation_polls = 1
    emu.poll_retry_after = 0
    connection = connect(emu)
    service = seed_azure(emu, vault, blob, connection)
    section("ARM emulator at %s (subscription %s)" % (emu.endpoint_url, service.subscription))
    print("  resource group   %s in %s, gallery %s" % (service.resource_group, service.location, GALLERY))
    print("  base image       %s" % service.base_image_id)
    print("  VM               %s, running from the base image" % service.vm_id)
    print("  web service      load balancer %s, rule http -> pool %s," % (service.load_balancer, POOL))
    print("                   blue scale set %s: 2 instances; model %s" % (service.blue_scale_set, BASE_SCALE_SET))
    print("  release key      %s (Key Vault, EC P-256)" % service.release_key)
    print("  audit container  %s (versioned; through the proxy %s)" % (service.audit_container, hosts.proxy_url))
    emu.reset_calls()

    section("ansible-playbook %s" % playbook.name)
    env = {
        **emu.env(),
        **hosts.env(),
        "AZURE_RESOURCE_GROUP": service.resource_group,
        "AZURE_LOCATION": service.location,
        "AZURE_RESOURCE_MANAGER_URL": emu.endpoint_url,
        "AZURE_AUTHORITY_HOST": emu.authority_url,
        "AZURE_CA_BUNDLE": emu.ca_bundle,
        "AZURE_GALLERY": GALLERY,
        "AZURE_POLLING_INTERVAL": "0",
        **audit_env,
        # The same local trail as the other parts; this run's lines also go to the Blob container.
        "PHOENIX_AUDIT_CLOUD": "azure",
        "PHOENIX_AUDIT_S3_BUCKET": service.audit_container,
        "PHOENIX_AUDIT_S3_PREFIX": "demo/",
    }
    try:
        run = run_playbook(
            playbook,
            env=env,
            extra_vars={
                "demo_base_image_id": service.base_image_id,
                "demo_vm_id": service.vm_id,
                "demo_load_balancer": service.load_balancer,
                "demo_base_scale_set": service.base_scale_set,
                "demo_release_key": service.release_key,
            },
            stream=True,
            timeout=timeout,
        )
    except PlaybookTimeout as timed_out:
        print("\nerror: the Azure demo playbook did not finish within %ss" % timeout)
        run = timed_out.run
    calls = dict(emu.calls)
    for operation, count in vault.calls.items():
        calls["KeyVault " + operation] = count
    for operation, count in blob.calls.items():
        calls["Blob " + operation] = count
    emu.settle()
    tables = {
        "images": images_table(connection),
        "groups": groups_table(connection, service),
        "audit": audit_blobs(connection, service, hosts.proxy_url),
    }
    return AzurePart(run=run, calls=calls, service=service, tables=tables)
