"""CRC32C (plugins/module_utils/_gcp/crc32c.py) against the published check values.

"123456789" is the check input of every CRC catalogue; the 32-byte vectors are RFC 3720's (iSCSI),
appendix B.4. Cloud Storage's form of a CRC32C is base64 of its four bytes, big-endian.
"""

from __future__ import annotations

import base64

import pytest

from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.crc32c import TABLE, crc32c, crc32c_base64

CHECK_VALUES = [
    (b"123456789", 0xE3069283),
    (bytes(32), 0x8A9136AA),
    (b"\xff" * 32, 0x62A8AB43),
    (bytes(range(32)), 0x46DD794E),
    (bytes(range(31, -1, -1)), 0x113FDB5C),
    (b"", 0x00000000),
]


@pytest.mark.parametrize(
    "data, expected", CHECK_VALUES, ids=["check", "zeros", "ones", "ascending", "descending", "empty"]
)
def test_the_published_check_values(data, expected):
    assert crc32c(data) == expected


@pytest.mark.parametrize("data, expected", CHECK_VALUES[:4], ids=["check", "zeros", "ones", "ascending"])
def test_continuing_a_crc_over_pieces_gives_the_crc_of_the_whole(data, expected):
    for cut in (0, 1, len(data) // 2, len(data) - 1, len(data)):
        assert crc32c(data[cut:], crc32c(data[:cut])) == expected


def test_cloud_storage_form_is_base64_of_the_big_endian_bytes():
    assert crc32c_base64(b"123456789") == base64.b64encode(bytes.fromhex("e3069283")).decode() == "4waSgw=="
    assert crc32c_base64(b"") == "AAAAAA=="


def test_the_table_is_the_reflected_castagnoli_polynomial():
    assert len(TABLE) == 256 and TABLE[0] == 0
    # Entry 0x80 is the polynomial itself: its one set bit reaches the bottom on the eighth shift.
    assert TABLE[128] == 0x82F63B78


def test_a_single_changed_bit_changes_the_crc():
    data = bytearray(b"the audit lines of one run\n")
    before = crc32c(bytes(data))
    data[5] ^= 0x01
    assert crc32c(bytes(data)) != before
