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
