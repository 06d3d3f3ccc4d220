"""A drift scan judges the images its instances run with a trust policy: the instance backend must read an image
version as the image backend does, or a signature made over the image backend's descriptor fails the scan as a
descriptor mismatch (found by the Azure part of `make demo`)."""

from __future__ import annotations

from images_support import backend, plant_version

from ansible_collections.phoenix.immutable.plugins.module_utils._azure.instances import AzureInstanceBackend
from ansible_collections.phoenix.immutable.plugins.module_utils._core.descriptor import image_descriptor


def test_the_instance_backend_reads_an_image_version_with_the_image_backends_descriptor(azure):
    image_id = plant_version(azure, "web-golden", "2026.1203.100", "web-golden-1", tags={"service": "web"})

    [scanned] = AzureInstanceBackend(azure.connection()).images([image_id])
    read = backend(azure).get(image_id)

    assert image_descriptor(scanned) == image_descriptor(read)
    assert (scanned.name, scanned.tags, scanned.family) == ("web-golden-1", {"service": "web"}, "web-golden")


def test_several_definitions_of_a_gallery_are_read_with_one_list_and_a_missing_one_is_left_out(azure):
    web = plant_version(azure, "web-golden", "2026.1203.100", "web-golden-1")
    api = plant_version(azure, "api-golden", "2026.1203.100", "api-golden-1")
    gone = api.replace("/images/api-golden/", "/images/gone-golden/")
    instances = AzureInstanceBackend(azure.connection())

    scanned = {image.id: image for image in instances.images([web, api, gone])}

    images = backend(azure)
    assert sorted(scanned) == sorted([web, api])
    assert all(image_descriptor(scanned[i]) == image_descriptor(images.get(i)) for i in (web, api))
    calls = instances.api_calls()
    assert calls.get("GET Microsoft.Compute/galleries/images") == 1, calls  # the gallery's list, no read each
    assert calls.get("GET Microsoft.Compute/galleries/images/versions") == 2, calls
