"""Canonical JSON (RFC 8785 rules) and the image descriptor built on it: one value, one byte string."""

import json
import math
import struct

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


# RFC 8785 Appendix B: IEEE-754 bit patterns and the text ECMAScript (so RFC 8785) writes for each.
APPENDIX_B_NUMBERS = [
    ("0000000000000000", "0"),  # zero
    ("8000000000000000", "0"),  # minus zero
    ("0000000000000001", "5e-324"),  # smallest positive
    ("8000000000000001", "-5e-324"),  # smallest negative
    ("7fefffffffffffff", "1.7976931348623157e+308"),  # largest positive
    ("ffefffffffffffff", "-1.7976931348623157e+308"),  # largest negative
    ("4340000000000000", "9007199254740992"),  # 2**53
    ("c340000000000000", "-9007199254740992"),  # -2**53
    ("4430000000000000", "295147905179352830000"),  # ~2**68: an integer, still without exponent
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),  # exactly ...206.25: the shortest round trip rounds to even
]
# RFC 8785 Appendix B: values out of range, "not permitted in JSON" (NaN, Infinity); -Infinity with them.
APPENDIX_B_REFUSED = ["7fffffffffffffff", "7ff0000000000000", "fff0000000000000"]


def _double(bits_hex):
    return struct.unpack(">d", bytes.fromhex(bits_hex))[0]


@pytest.mark.parametrize("bits_hex, text", APPENDIX_B_NUMBERS)
def test_rfc8785_appendix_b_numbers(bits_hex, text):
    assert number(_double(bits_hex)) == text
    assert canonical_json([_double(bits_hex)]) == ("[%s]" % text).encode()


@pytest.mark.parametrize("bits_hex", APPENDIX_B_REFUSED)
def test_rfc8785_appendix_b_values_out_of_range_are_refused(bits_hex):
    with pytest.raises(InvalidInput, match="not a JSON number"):
        canonical_json({"n": _double(bits_hex)})


# RFC 8785 section 3.2.2: the sample input, as JSON text, and its canonical form (section 3.2.3), whose
# UTF-8 bytes section 3.2.4 lists in hexadecimal.
SECTION_3_2_2_INPUT = r"""{
  "numbers": [333333333.33333329, 1E30, 4.50,
              2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}"""
SECTION_3_2_2_OUTPUT = (
    r"""{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"""
    r""""string":"€$\u000f\nA'B\"\\\\\"/"}"""
)
SECTION_3_2_4_BYTES = (
    "7b 22 6c 69 74 65 72 61 6c 73 22 3a 5b 6e 75 6c 6c 2c 74 72 75 65 2c 66 61 6c 73 65 5d 2c 22 6e 75 6d"
    " 62 65 72 73 22 3a 5b 33 33 33 33 33 33 33 33 33 2e 33 33 33 33 33 33 33 2c 31 65 2b 33 30 2c 34 2e 35"
    " 2c 30 2e 30 30 32 2c 31 65 2d 32 37 5d 2c 22 73 74 72 69 6e 67 22 3a 22 e2 82 ac 24 5c 75 30 30 30 66"
    " 5c 6e 41 27 42 5c 22 5c 5c 5c 5c 5c 22 2f 22 7d"
)


def test_rfc8785_section_3_2_2_sample_gives_the_published_bytes():
    canonical = canonical_json(json.loads(SECTION_3_2_2_INPUT))
    assert canonical == SECTION_3_2_2_OUTPUT.encode("utf-8")
    assert canonical == bytes.fromhex(SECTION_3_2_4_BYTES)


# RFC 8785 section 3.2.3: the sorting sample, as JSON text, and the order of its values once sorted.
SECTION_3_2_3_INPUT = r"""{
  "\u20ac": "Euro Sign",
  "\r": "Carriage Return",
  "\ufb33": "Hebrew Letter Dalet With Dagesh",
  "1": "One",
  "\ud83d\ude00": "Emoji: Grinning Face",
  "\u0080": "Control",
  "\u00f6": "Latin Small Letter O With Diaeresis"
}"""
SECTION_3_2_3_ORDER = [
    "Carriage Return",
    "One",
    "Control",
    "Latin Small Letter O With Diaeresis",
    "Euro Sign",
    "Emoji: Grinning Face",
    "Hebrew Letter Dalet With Dagesh",
]


def test_rfc8785_section_3_2_3_members_sort_by_utf16_code_units():
    canonical = canonical_json(json.loads(SECTION_3_2_3_INPUT))
    assert canonical == (
        '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",'
        '"\u20ac":"Euro Sign","\U0001f600":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}'
    ).encode("utf-8")
    assert list(json.loads(canonical).values()) == SECTION_3_2_3_ORDER


@pytest.mark.parametrize(
    "text, written",
    [
        ("\b\t\n\f\r", r"\b\t\n\f\r"),
        ('"\\', r"\"\\"),
        ("\x00\x0b\x1a\x1f", r"\u0000\u000b\u001a\u001f"),  # lower-case hexadecimal digits
        ("/", "/"),
        ("\x7f\u2028\ufeff\U0001f600é", "\x7f\u2028\ufeff\U0001f600é"),  # not escaped: written as UTF-8
    ],
)
def test_only_the_mandatory_escapes_are_written(text, written):
    # RFC 8785 section 3.2.2.2: \b \t \n \f \r \" \\ by name, the other code points below U+0020 as \u00xx.
    assert canonical_json(text) == ('"%s"' % written).encode("utf-8")


SAFE_INTEGER = 2**53 - 1


def test_integers_in_the_safe_range_stay_exact_and_booleans_are_not_numbers():
    assert canonical_json([SAFE_INTEGER, -SAFE_INTEGER, True, 1, 0, -7]) == (
        b"[9007199254740991,-9007199254740991,true,1,0,-7]"
    )


@pytest.mark.parametrize("big", [2**53, -(2**53), 10**20, 295147905179352830000, 2**53 + 2, 3 * 10**20])
def test_an_integer_beyond_the_safe_range_is_written_when_its_double_is_written_with_its_digits(big):
    assert canonical_json(big) == str(big).encode() == canonical_json(float(big))


@pytest.mark.parametrize(
    "big, read_as",
    [
        (2**53 + 1, "9007199254740992"),
        (-(2**53) - 1, "-9007199254740992"),
        (12345678901234567890, "12345678901234567000"),
        (2**60, "1152921504606847000"),  # a double holds it exactly, but ECMAScript writes other digits
        (10**21, "1e+21"),
    ],
)
def test_an_integer_a_verifier_would_read_otherwise_is_refused(big, read_as):
    # A JavaScript verifier reads 9007199254740993 as 9007199254740992: refused here, neither rounded nor exact.
    with pytest.raises(InvalidInput) as raised:
        canonical_json({"claims": {"size": big}})
    assert raised.value.message == (
        "cannot canonicalize $.claims.size: the integer %d is outside -9007199254740991..9007199254740991"
        " and a verifier would read it as %s" % (big, read_as)
    )
    assert raised.value.resource == "$.claims.size"
    assert "string" in raised.value.hint


def test_an_integer_beyond_the_largest_double_is_refused():
    with pytest.raises(InvalidInput, match="an integer of 1329 bits is beyond the largest JSON number"):
        canonical_json([-(10**400)])


@given(st.integers(min_value=-(2**1100), max_value=2**1100))
def test_an_integer_is_written_with_its_own_digits_or_refused(integer):
    try:
        written = canonical_json(integer)
    except InvalidInput:
        assert abs(integer) > SAFE_INTEGER
    else:
        assert written == str(integer).encode()
        assert canonical_json(json.loads(written)) == written


def test_a_lone_surrogate_in_a_member_name_is_refused():
    with pytest.raises(InvalidInput, match="lone surrogate"):
        canonical_json({"\ud800": 1, "a": 2})


@pytest.mark.parametrize("bad", [math.nan, math.inf, {1: "a"}, {"a": object()}, "\ud800", b"bytes"])
def test_what_json_cannot_say_is_refused(bad):
    with pytest.raises(InvalidInput):
        canonical_json(bad)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1)
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


@given(st.dictionaries(st.text(max_size=6), st.integers(-SAFE_INTEGER, SAFE_INTEGER), max_size=8), st.randoms())
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
