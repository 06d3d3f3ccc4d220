"""Canonical JSON (RFC 8785 rules) and the image descriptor built on it: one value, one byte string."""

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.phoenix.immutable.plugins.module_utils._core.canonical import canonical_json, digest, number
from ansible_collections.phoenix.immutable.plugins.module_utils._core.descriptor import (
    descriptor_digest,
    image_descriptor,
    subject_name,
)
from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import InvalidInput
from ansible_collections.phoenix.immutable.plugins.module_utils._core.model import Disk, Image


def test_members_are_sorted_and_white_space_is_dropped():
    assert canonical_json({"b": 1, "a": [True, None, False], "c": {"z": "", "y": 0}}) == (
        b'{"a":[true,null,false],"b":1,"c":{"y":0,"z":""}}'
    )


def test_field_order_does_not_change_the_bytes():
    one = {"name": "web", "id": "ami-1", "disks": [{"device": "/dev/xvda", "snapshot_id": "snap-1"}]}
    other = {"disks": [{"snapshot_id": "snap-1", "device": "/dev/xvda"}], "id": "ami-1", "name": "web"}
    assert canonical_json(one) == canonical_json(other)
    assert digest(one) == digest(other)


def test_strings_are_utf8_with_only_the_required_escapes():
    # RFC 8785 section 3.2.2.2's example string.
    value = "\u20ac$\u000f\u000aA'\u0042\u0022\u005c\\\"/"
    assert canonical_json(value) == '"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"'.encode()
    assert canonical_json({"Ωmega": "ünïcødé 😀"}) == '{"Ωmega":"ünïcødé 😀"}'.encode()


def test_keys_sort_by_utf16_code_units():
    # RFC 8785 section 3.2.3: U+1F600 (surrogates D83D DE00) sorts before U+FB33 in UTF-16 order.
    assert canonical_json({"\ufb33": 1, "\U0001f600": 2}) == '{"\U0001f600":2,"\ufb33":1}'.encode()


@pytest.mark.parametrize(
    "value, text",
    [
        (0.0, "0"),
        (-0.0, "0"),
        (1.0, "1"),
        (4.50, "4.5"),
        (2e-3, "0.002"),
        (0.000001, "0.000001"),
        (1e-7, "1e-7"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1e30, "1e+30"),
        (333333333.33333329, "333333333.3333333"),
        (0.000000000000000000000000001, "1e-27"),
        (-1.5e-300, "-1.5e-300"),
        (9007199254740992.0, "9007199254740992"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
    ],
)
def test_numbers_are_written_as_ecmascript_does(value, text):
    assert number(value) == text


def test_integers_stay_exact_and_booleans_are_not_numbers():
    assert canonical_json([12345678901234567890, True, 1]) == b"[12345678901234567890,true,1]"


@pytest.mark.parametrize("bad", [math.nan, math.inf, {1: "a"}, {"a": object()}, "\ud800", b"bytes"])
def test_what_json_cannot_say_is_refused(bad):
    with pytest.raises(InvalidInput):
        canonical_json(bad)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@given(JSON_VALUES)
def test_canonical_json_reads_back_to_the_same_value_and_is_a_fixed_point(value):
    encoded = canonical_json(value)
    decoded = json.loads(encoded.decode("utf-8"))
    assert canonical_json(decoded) == encoded
    assert _same(decoded, value)


def _same(left, right):
    if isinstance(left, dict):
        return isinstance(right, dict) and left.keys() == right.keys() and all(_same(left[k], right[k]) for k in left)
    if isinstance(left, list):
        return isinstance(right, list) and len(left) == len(right) and all(map(_same, left, right))
    if isinstance(right, float):
        return isinstance(left, (int, float)) and not isinstance(left, bool) and float(left) == right
    return left == right and type(left) is type(right)


@given(st.dictionaries(st.text(max_size=6), st.integers(), max_size=8), st.randoms())
def test_insertion_order_never_matters(mapping, rng):
    items = list(mapping.items())
    rng.shuffle(items)
    assert canonical_json(dict(items)) == canonical_json(mapping)


IMAGE = Image(
    cloud="aws",
    id="ami-0123456789abcdef0",
    name="web-1",
    region="us-east-1",
    state="available",
    created="2026-11-24T09:00:00Z",
    owner="123456789012",
    architecture="x86_64",
    description="first",
    tags={"service": "web"},
    disks=[Disk("/dev/sdb", "snap-2", 20), Disk("/dev/xvda", "snap-1", 8)],
)


def test_the_descriptor_holds_the_immutable_identity_only():
    descriptor = image_descriptor(IMAGE)
    assert descriptor == {
        "_type": "phoenix.immutable/image-descriptor/v1",
        "cloud": "aws",
        "owner": "123456789012",
        "region": "us-east-1",
        "id": "ami-0123456789abcdef0",
        "name": "web-1",
        "created": "2026-11-24T09:00:00Z",
        "architecture": "x86_64",
        "disks": [
            {"device": "/dev/sdb", "snapshot_id": "snap-2", "size_gb": 20},
            {"device": "/dev/xvda", "snapshot_id": "snap-1", "size_gb": 8},
        ],
    }
    assert subject_name(IMAGE) == "aws:us-east-1:ami-0123456789abcdef0"


def test_tags_description_and_state_do_not_change_the_digest_but_identity_does():
    from dataclasses import replace

    before = descriptor_digest(IMAGE)
    assert descriptor_digest(replace(IMAGE, tags={"x": "y"}, description="other", state="pending")) == before
    assert descriptor_digest(replace(IMAGE, disks=list(reversed(IMAGE.disks)))) == before
    for change in (
        {"id": "ami-0fedcba9876543210"},
        {"created": "2026-11-24T09:00:01Z"},
        {"owner": "210987654321"},
        {"disks": [Disk("/dev/xvda", "snap-9", 8)]},
        {"region": "eu-west-1"},
    ):
        assert descriptor_digest(replace(IMAGE, **change)) != before, change
