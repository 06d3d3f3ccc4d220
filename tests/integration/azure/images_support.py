"""What the Azure image tests share: a builder VM made through azure-mgmt-compute, the backend on the emulator,
and the core's waiter without pauses.
"""

from __future__ import annotations

from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.mgmt.compute.models import (
    GalleryArtifactVersionFullSource,
    GalleryImage,
    GalleryImageIdentifier,
    GalleryImageVersion,
    GalleryImageVersionStorageProfile,
    HardwareProfile,
    ImageReference,
    NetworkInterfaceReference,
    NetworkProfile,
    OSProfile,
    StorageProfile,
    VirtualMachine,
)
from scaleset_support import scale_set

from ansible_collections.phoenix.immutable.plugins.module_utils._azure.image_transformations import NAME_TAG
from ansible_collections.phoenix.immutable.plugins.module_utils._azure.images import AzureImageBackend
from ansible_collections.phoenix.immutable.plugins.module_utils._core.waiter import Waiter

# Where the conftest's `azure` fixture puts the collection's resources.
RESOURCE_GROUP = "rg-phoenix"
GALLERY = "phoenix_gallery"
MARKETPLACE = ImageReference(publisher="Debian", offer="debian-12", sku="12-gen2", version="latest")


def fast_waiter(timeout: float = 60) -> Waiter:
    return Waiter(timeout=timeout, delay=0.01, max_delay=0.05)


def make_vm(azure: Any, name: str, image_id: str | None = None, group: str = RESOURCE_GROUP) -> str:
    """A VM made from ``image_id`` (a marketplace image by default), running; its id."""
    compute = azure.compute()
    body = VirtualMachine(
        location=azure.emu.location,
        hardware_profile=HardwareProfile(vm_size="Standard_B2s"),
        storage_profile=StorageProfile(image_reference=ImageReference(id=image_id) if image_id else MARKETPLACE),
        os_profile=OSProfile(computer_name=name, admin_username="phoenix"),
        network_profile=NetworkProfile(
            network_interfaces=[
                NetworkInterfaceReference(id=azure.network_interface(group, name + "-nic"), primary=True)
            ]
        ),
    )
    return compute.virtual_machines.begin_create_or_update(group, name, body).result().id


def deallocate(azure: Any, name: str, generalize: bool = False, group: str = RESOURCE_GROUP) -> None:
    compute = azure.compute()
    compute.virtual_machines.begin_deallocate(group, name).result()
    if generalize:
        compute.virtual_machines.generalize(group, name)


def backend(azure: Any, region: str | None = None, **options: Any) -> AzureImageBackend:
    return AzureImageBackend(azure.connection(**options), region)


def plant_version(
    azure: Any,
    definition: str,
    version: str,
    name: str,
    tags: dict[str, str] | None = None,
    regions: list[str] | None = None,
) -> str:
    """An image version named ``name`` (the collection's name tag) made of a planted managed image; its id.

    The definition is made when missing; ``regions`` are its target regions (its location alone by default).
    """
    compute, location = azure.compute(), azure.emu.location
    try:
        compute.gallery_images.get(RESOURCE_GROUP, GALLERY, definition)
    except ResourceNotFoundError:
        body = GalleryImage(
            location=location,
            os_type="Linux",
            os_state="Generalized",
            identifier=GalleryImageIdentifier(publisher="phoenix-immutable", offer=definition, sku=definition),
        )
        compute.gallery_images.begin_create_or_update(RESOURCE_GROUP, GALLERY, definition, body).result()
    targets = [{"name": region, "regionalReplicaCount": 1} for region in regions or [location]]
    body = GalleryImageVersion(
        location=location,
        tags={**(tags or {}), NAME_TAG: name},
        publishing_profile={"targetRegions": targets},
        storage_profile=GalleryImageVersionStorageProfile(
            source=GalleryArtifactVersionFullSource(id=azure.source_image(RESOURCE_GROUP, "source-" + name))
        ),
    )
    made = compute.gallery_image_versions.begin_create_or_update(RESOURCE_GROUP, GALLERY, definition, version, body)
    return made.result().id


def make_scale_set(azure: Any, name: str, image_id: str, capacity: int = 0, group: str = RESOURCE_GROUP) -> str:
    """A scale set of ``capacity`` launching ``image_id`` (a version's or a definition's id), made or changed (its
    instances keep their image: Manual upgrades) through the SDK; its id."""
    body = scale_set(azure.emu.location, image_id, prefix=name, capacity=capacity)
    return azure.compute().virtual_machine_scale_sets.begin_create_or_update(group, name, body).result().id
