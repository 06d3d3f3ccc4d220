"""What the scale set tests share: a gallery image version to boot from and a scale set body naming a backend pool."""

from __future__ import annotations

from typing import Any

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

GALLERY = "phoenix_gallery"
IMAGE = "web"


def pool_id(arm: Any, group: str, balancer: str = "web-lb", pool: str = "web-a") -> str:
    return "%s/providers/Microsoft.Network/loadBalancers/%s/backendAddressPools/%s" % (
        arm.group_path(group),
        balancer,
        pool,
    )


def subnet_id(arm: Any, group: str) -> str:
    return arm.group_path(group) + "/providers/Microsoft.Network/virtualNetworks/web-vnet/subnets/web"


def gallery_images(arm: Any, group: str, versions: tuple[str, ...] = ("1.0.0",)) -> list[str]:
    """Image versions of one definition in a new gallery of ``group``, made through the SDK; their ids."""
    compute, location = arm.compute(), arm.emu.location
    source = arm.source_image(group)
    poller = compute.galleries.begin_create_or_update(group, GALLERY, Gallery(location=location))
    arm.emu.settle()
    poller.result()  # the poller's thread is done: no poll of it arrives later
    definition = GalleryImage(
        location=location,
        os_type="Linux",
        os_state="Generalized",
        identifier=GalleryImageIdentifier(publisher="phoenix", offer="web", sku="debian-12"),
    )
    poller = compute.gallery_images.begin_create_or_update(group, GALLERY, IMAGE, definition)
    arm.emu.settle()
    poller.result()
    made = []
    for version in versions:
        body = GalleryImageVersion(
            location=location,
            storage_profile=GalleryImageVersionStorageProfile(source=GalleryArtifactVersionFullSource(id=source)),
        )
        poller = compute.gallery_image_versions.begin_create_or_update(group, GALLERY, IMAGE, version, body)
        arm.emu.settle()
        poller.result()
        made.append(compute.gallery_image_versions.get(group, GALLERY, IMAGE, version).id)
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
