"""The pure parts of the Azure image backend: version names, families from names, a version's state by region."""

from __future__ import annotations

import datetime

import pytest
from azure.mgmt.compute.models import GalleryImageVersion

from ansible_collections.phoenix.immutable.plugins.module_utils._azure.image_transformations import (
    family_of_name,
    location_name,
    state_in,
    target_regions,
    version_name,
)
from ansible_collections.phoenix.immutable.plugins.module_utils._core.model import (
    AVAILABLE,
    DEREGISTERED,
    FAILED,
    PENDING,
)

UTC = datetime.UTC


def version(provisioning, regions=("eastus",), replication=None):
    properties = {
        "provisioningState": provisioning,
        "publishingProfile": {"targetRegions": [{"name": region} for region in regions]},
    }
    if replication is not None:
        properties["replicationStatus"] = {
            "summary": [{"region": region, "state": state} for region, state in replication.items()]
        }
    return GalleryImageVersion({"location": "East US", "name": "1.0.0", "properties": properties})


@pytest.mark.parametrize(
    ("when", "name"),
    [
        (datetime.datetime(2026, 12, 3, 0, 0, 0, tzinfo=UTC), "2026.1203.0"),
        (datetime.datetime(2026, 12, 3, 11, 32, 13, tzinfo=UTC), "2026.1203.41533"),
        (datetime.datetime(2027, 1, 1, 23, 59, 59, tzinfo=UTC), "2027.101.86399"),
    ],
)
def test_a_version_is_named_after_its_bake_time(when, name):
    assert version_name(when) == name


def test_version_names_order_as_their_times_do_as_azure_compares_versions():
    start = datetime.datetime(2026, 1, 1, tzinfo=UTC)
    times = [start + datetime.timedelta(seconds=seconds) for seconds in range(0, 400 * 86400, 7777)]
    names = [tuple(int(part) for part in version_name(when).split(".")) for when in times]
    assert names == sorted(names) and len(set(names)) == len(names)
    assert all(part <= 2**31 - 1 for name in names for part in name)


@pytest.mark.parametrize(
    ("name", "family"),
    [("web-2026-12-03-1", "web"), ("web-42", "web"), ("web-api-3", "web-api"), ("golden", "golden")],
)
def test_an_image_without_a_family_goes_to_the_definition_of_its_name_without_the_version(name, family):
    assert family_of_name(name) == family


@pytest.mark.parametrize(
    ("provisioning", "replication", "region", "state"),
    [
        ("Creating", None, "eastus", PENDING),
        ("Succeeded", None, "eastus", AVAILABLE),
        ("Failed", None, "eastus", FAILED),
        ("Deleting", {"eastus": "Completed"}, "eastus", DEREGISTERED),
        # A region being added: the others serve meanwhile, the new one does not yet.
        ("Updating", None, "eastus", AVAILABLE),
        ("Updating", None, "westeurope", PENDING),
        ("Updating", {"eastus": "Completed", "westeurope": "Replicating"}, "westeurope", PENDING),
        ("Failed", {"eastus": "Completed", "westeurope": "Failed"}, "eastus", AVAILABLE),
        ("Failed", {"eastus": "Completed", "westeurope": "Failed"}, "westeurope", FAILED),
    ],
)
def test_a_version_is_in_the_state_of_its_replica_in_the_region_read(provisioning, replication, region, state):
    found = version(provisioning, ("eastus", "westeurope"), replication)
    assert state_in(found, region)[0] == state


def test_regions_are_named_as_arm_names_them():
    assert location_name("West Europe") == "westeurope"
    assert target_regions(version("Succeeded", ("East US", "westeurope"))) == ["eastus", "westeurope"]
    assert target_regions(GalleryImageVersion({"location": "East US"})) == ["eastus"]
