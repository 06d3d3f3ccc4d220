"""A served service in the ARM emulator, made as a user makes it: through the real Azure SDK clients.

What the Azure tests, the contract suite (tests/unit/contract) and the Azure benchmarks share, so each seeds
the same thing the same way:

- `ArmClients(emu)`: azure-identity's credential and azure-mgmt-compute / azure-mgmt-network clients on the
  emulator (SDK retries off, no poll pauses), resource groups made over plain HTTPS (no installed SDK client
  serves them) and a managed image planted as an image version's source. tests/integration/azure/conftest.py's
  `ArmContext` offers the same methods; the functions below take either.
- `gallery_images`, `scale_set`, `load_balancer`, `network_client`, `lb_path`: the pieces
  (tests/integration/azure/scaleset_support.py and traffic_support.py re-export them).
- `seed_service(arm, resource_group, size)`: a Standard load balancer ``web-lb`` whose rule sends to pool
  ``web-pool``, a base scale set ``web-base`` (capacity 0, the model) and a blue scale set of ``size``
  instances in that pool, booting the first of three gallery image versions.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import requests
from azure.identity import ClientSecretCredential
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.compute.models import (
    ApiEntityReference,
    Gallery,
    GalleryArtifactVersionFullSource,
    GalleryImage,
    GalleryImageIdentifier,
    GalleryImageVersion,
    GalleryImageVersionStorageProfile,
    ImageReference,
    Sku,
    SubResource,
    UpgradePolicy,
    VirtualMachineScaleSet,
    VirtualMachineScaleSetIPConfiguration,
    VirtualMachineScaleSetNetworkConfiguration,
    VirtualMachineScaleSetNetworkProfile,
    VirtualMachineScaleSetOSProfile,
    VirtualMachineScaleSetStorageProfile,
    VirtualMachineScaleSetVMProfile,
)
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.network.models import (
    BackendAddressPool,
    FrontendIPConfiguration,
    LoadBalancer,
    LoadBalancerSku,
    LoadBalancingRule,
    Probe,
)
from azure.mgmt.network.models import SubResource as NetworkSubResource

GALLERY = "phoenix_gallery"
IMAGE = "web"
# What the resource groups are made with (ARM's resource groups API).
RESOURCE_GROUPS_API = "2024-03-01"


class ArmClients:
    """The real SDK clients on ``emu``, for seeding (their calls are counted like any other)."""

    def __init__(self, emu: Any) -> None:
        self.emu = emu

    def credential(self, **options: Any) -> ClientSecretCredential:
        settings: dict[str, Any] = {
            "tenant_id": self.emu.tenant_id,
            "client_id": self.emu.client_id,
            "client_secret": self.emu.client_secret,
            "authority": self.emu.authority_url,
            "disable_instance_discovery": True,
            "connection_verify": self.emu.ca_bundle,
            "retry_total": 0,
        }
        settings.update(options)
        return ClientSecretCredential(**settings)

    def _settings(self) -> dict[str, Any]:
        return {
            "base_url": self.emu.endpoint_url,
            "credential_scopes": [self.emu.credential_scope],
            "connection_verify": self.emu.ca_bundle,
            "retry_total": 0,
            "polling_interval": 0,
        }

    def compute(self) -> ComputeManagementClient:
        return ComputeManagementClient(self.credential(), self.emu.subscription_id, **self._settings())

    def network(self) -> NetworkManagementClient:
        return NetworkManagementClient(self.credential(), self.emu.subscription_id, **self._settings())

    def group_path(self, name: str) -> str:
        return "/subscriptions/%s/resourceGroups/%s" % (self.emu.subscription_id, name)

    def group(self, name: str) -> dict[str, Any]:
        token = self.credential().get_token(self.emu.credential_scope).token
        answer = requests.put(
            self.emu.endpoint_url + self.group_path(name),
            params={"api-version": RESOURCE_GROUPS_API},
            headers={"Authorization": "Bearer " + token},
            json={"location": self.emu.location},
            verify=self.emu.ca_bundle,
            timeout=60,
        )
        answer.raise_for_status()
        return answer.json()

    def source_image(self, group: str, name: str = "builder-image") -> str:
        """A generalized managed image planted in ``group``: what an image version is made from."""
        resource_id = self.group_path(group) + "/providers/Microsoft.Compute/images/" + name
        self.emu.put_resource(resource_id, "Microsoft.Compute/images", properties={"hyperVGeneration": "V2"})
        return resource_id


def gallery_images(arm: Any, group: str, versions: tuple[str, ...] = ("1.0.0",), image: str = IMAGE) -> list[str]:
    """Image versions of the definition ``image`` in the gallery of ``group`` (both made, or made again, here),
    made through the SDK; their ids."""
    compute, location = arm.compute(), arm.emu.location
    source = arm.source_image(group)
    poller = compute.galleries.begin_create_or_update(group, GALLERY, Gallery(location=location))
    arm.emu.settle()
    poller.result()  # the poller's thread is done: no poll of it arrives later
    definition = GalleryImage(
        location=location,
        os_type="Linux",
        os_state="Generalized",
        identifier=GalleryImageIdentifier(publisher="phoenix", offer=image, sku="debian-12"),
    )
    poller = compute.gallery_images.begin_create_or_update(group, GALLERY, image, definition)
    arm.emu.settle()
    poller.result()
    made = []
    for version in versions:
        body = GalleryImageVersion(
            location=location,
            storage_profile=GalleryImageVersionStorageProfile(source=GalleryArtifactVersionFullSource(id=source)),
        )
        poller = compute.gallery_image_versions.begin_create_or_update(group, GALLERY, image, version, body)
        arm.emu.settle()
        poller.result()
        made.append(compute.gallery_image_versions.get(group, GALLERY, image, version).id)
    return made


def scale_set(
    location: str,
    image_id: str,
    *,
    capacity: int = 0,
    pools: tuple[str, ...] = (),
    subnet: str | None = None,
    prefix: str = "web",
    upgrade: str = "Manual",
    tags: dict[str, str] | None = None,
) -> VirtualMachineScaleSet:
    """A Uniform scale set of ``capacity`` instances booting ``image_id`` on one NIC in the backend ``pools``."""
    configuration = VirtualMachineScaleSetIPConfiguration(
        name="ipconfig",
        subnet=ApiEntityReference(id=subnet) if subnet else None,
        load_balancer_backend_address_pools=[SubResource(id=pool) for pool in pools],
    )
    return VirtualMachineScaleSet(
        location=location,
        tags=dict(tags or {}),
        sku=Sku(name="Standard_B2s", tier="Standard", capacity=capacity),
        upgrade_policy=UpgradePolicy(mode=upgrade),
        overprovision=False,
        virtual_machine_profile=VirtualMachineScaleSetVMProfile(
            storage_profile=VirtualMachineScaleSetStorageProfile(image_reference=ImageReference(id=image_id)),
            os_profile=VirtualMachineScaleSetOSProfile(
                computer_name_prefix=prefix, admin_username="phoenix", admin_password="Never-Returned-1"
            ),
            network_profile=VirtualMachineScaleSetNetworkProfile(
                network_interface_configurations=[
                    VirtualMachineScaleSetNetworkConfiguration(
                        name="nic", primary=True, ip_configurations=[configuration]
                    )
                ]
            ),
        ),
    )


def network_client(arm: Any, **options: Any) -> NetworkManagementClient:
    """azure-mgmt-network's client on the emulator, as the `arm` fixture builds the compute one."""
    settings: dict[str, Any] = {
        "base_url": arm.emu.endpoint_url,
        "credential_scopes": [arm.emu.credential_scope],
        "connection_verify": arm.emu.ca_bundle,
        "retry_total": 0,
        "polling_interval": 0,
    }
    settings.update(options)
    return NetworkManagementClient(arm.credential(), arm.emu.subscription_id, **settings)


def lb_path(arm: Any, group: str, name: str) -> str:
    return arm.group_path(group) + "/providers/Microsoft.Network/loadBalancers/" + name


def frontend_subnet_id(arm: Any, group: str) -> str:
    return arm.group_path(group) + "/providers/Microsoft.Network/virtualNetworks/vnet/subnets/default"


def load_balancer(
    arm: Any, group: str, name: str = "web-lb", pools: tuple[str, ...] = ("web-pool",), rule_pools: Any = None
) -> LoadBalancer:
    """A Standard load balancer: one frontend, ``pools``, an HTTP probe and a rule to ``rule_pools`` (default: the
    first pool, as ``backendAddressPool``; a list: as ``backendAddressPools``)."""
    path = lb_path(arm, group, name)
    rule: dict[str, Any] = {
        "name": "http",
        "frontend_ip_configuration": NetworkSubResource(id=path + "/frontendIPConfigurations/front"),
        "probe": NetworkSubResource(id=path + "/probes/healthz"),
        "protocol": "Tcp",
        "frontend_port": 80,
        "backend_port": 8080,
    }
    if rule_pools is None:
        rule["backend_address_pool"] = NetworkSubResource(id=path + "/backendAddressPools/" + pools[0])
    else:
        rule["backend_address_pools"] = [
            NetworkSubResource(id=path + "/backendAddressPools/" + pool) for pool in rule_pools
        ]
    return LoadBalancer(
        location=arm.emu.location,
        sku=LoadBalancerSku(name="Standard", tier="Regional"),
        frontend_ip_configurations=[
            FrontendIPConfiguration(name="front", subnet={"id": frontend_subnet_id(arm, group)})
        ],
        backend_address_pools=[BackendAddressPool(name=pool) for pool in pools],
        probes=[Probe(name="healthz", protocol="Http", port=8080, request_path="/healthz")],
        load_balancing_rules=[LoadBalancingRule(**rule)],
    )


@dataclasses.dataclass
class SeededService:
    """What `seed_service` made: ids as ARM answers them."""

    resource_group: str
    load_balancer: str  # its name, blue_green's ``listener``
    pool: str  # the backend pool's id
    base: str  # the base scale set's name, blue_green's ``template``
    base_id: str
    blue: str  # the serving scale set's name
    blue_id: str
    size: int
    images: list[str]  # gallery image versions 1.0.0 (blue's and the base's), 1.0.1, 1.0.2


def seed_service(
    arm: Any,
    resource_group: str,
    size: int,
    *,
    blue: str = "web-a",
    versions: tuple[str, ...] = ("1.0.0", "1.0.1", "1.0.2"),
) -> SeededService:
    """The service of blue_green's Azure tests in ``resource_group`` (which must exist): a load balancer ``web-lb``
    sending to pool ``web-pool``, base ``web-base`` of capacity 0 and ``blue`` of ``size`` instances in the pool.

    The operations are run to their end here (``settle``): no poll of the seeding is left to count later.
    """
    images = gallery_images(arm, resource_group, versions)
    balancer = network_client(arm).load_balancers.begin_create_or_update(
        resource_group, "web-lb", load_balancer(arm, resource_group, pools=("web-pool",))
    )
    arm.emu.settle()
    balancer.result()
    pool = lb_path(arm, resource_group, "web-lb") + "/backendAddressPools/web-pool"
    compute, location = arm.compute(), arm.emu.location
    made = {}
    for name, body in (
        ("web-base", scale_set(location, images[0])),
        (blue, scale_set(location, images[0], capacity=size, pools=(pool,))),
    ):
        poller = compute.virtual_machine_scale_sets.begin_create_or_update(resource_group, name, body)
        arm.emu.settle()
        made[name] = poller.result().id
    return SeededService(
        resource_group=resource_group,
        load_balancer="web-lb",
        pool=pool,
        base="web-base",
        base_id=made["web-base"],
        blue=blue,
        blue_id=made[blue],
        size=size,
        images=images,
    )
