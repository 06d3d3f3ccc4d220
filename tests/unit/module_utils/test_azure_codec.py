"""The Azure tag codec and resource ids: keys ARM accepts that parse back to their parts, and ids of any case."""

from __future__ import annotations

import pytest

from ansible_collections.phoenix.immutable.plugins.module_utils._azure.codec import AZURE_CODEC, tag_value
from ansible_collections.phoenix.immutable.plugins.module_utils._azure.identifiers import (
    IMAGE_ID_PATTERN,
    parse_resource_id,
    resource_id,
    same_id,
)
from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import InvalidInput

# Characters ARM refuses in a tag name.
REFUSED_BY_ARM = set("<>%&\\?/")
SUBSCRIPTION = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"


@pytest.mark.parametrize("part", ["prod", "a:b", "50%", "x/y?z", "~tilde~", "<&>", "ünïcode", ""])
def test_keys_hold_no_character_arm_refuses_and_parse_back(part):
    key = AZURE_CODEC.key("promo", part, "0")

    assert not REFUSED_BY_ARM & set(key)
    assert AZURE_CODEC.parts(key) == ("promo", part, "0")


def test_a_key_of_another_owner_is_not_ours():
    assert AZURE_CODEC.parts("environment") is None


def test_chunks_carry_bytes_in_256_character_values_and_read_back():
    data = bytes(range(256)) * 3
    tags = AZURE_CODEC.chunks("sig", ("abc",), data, "image")

    assert all(len(value) <= 256 for value in tags.values())
    groups = AZURE_CODEC.chunk_groups("sig", tags, 1)
    chunks = groups[("abc",)]
    assert AZURE_CODEC.decode_value([chunks[number][1] for number in sorted(chunks)]) == data


def test_more_than_fifty_tags_of_data_is_refused_before_any_call():
    with pytest.raises(InvalidInput, match="at most 50 tags"):
        AZURE_CODEC.chunks("sig", ("abc",), b"x" * 256 * 50, "image")


def test_a_plain_value_longer_than_a_tag_value_is_refused_not_cut():
    assert tag_value("web-2026", "phoenix:name") == "web-2026"
    with pytest.raises(InvalidInput, match="at most 256"):
        tag_value("x" * 257, "phoenix:name")


def test_an_image_version_id_is_matched_in_any_case():
    image = resource_id(SUBSCRIPTION, "rg", "Microsoft.Compute/galleries/images/versions", "g", "web", "1.2.3")

    assert IMAGE_ID_PATTERN.match(image)
    assert IMAGE_ID_PATTERN.match(image.lower().replace("resourcegroups", "RESOURCEGROUPS"))
    assert not IMAGE_ID_PATTERN.match(image.replace("1.2.3", "latest"))
    assert not IMAGE_ID_PATTERN.match("ami-0123456789abcdef0")
    assert same_id(image, image.upper())


def test_a_resource_id_parses_into_its_types_and_names():
    parsed = parse_resource_id(
        "/subscriptions/%s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/web-a/"
        "virtualMachines/3" % SUBSCRIPTION
    )

    assert parsed == {
        "subscription": SUBSCRIPTION,
        "resource_group": "rg",
        "provider": "Microsoft.Compute",
        "types": ["virtualMachineScaleSets", "virtualMachines"],
        "names": ["web-a", "3"],
        "name": "3",
    }


@pytest.mark.parametrize("text", ["", "web", "/subscriptions/s/resourceGroups/rg", "projects/p/global/images/i"])
def test_what_is_not_a_resource_id_is_refused(text):
    with pytest.raises(ValueError, match="not an Azure resource id"):
        parse_resource_id(text)
