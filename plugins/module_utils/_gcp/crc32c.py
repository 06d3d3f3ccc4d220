# Private to this collection.
"""CRC32C (Castagnoli), the checksum Cloud KMS and Cloud Storage put on what they send and receive.

Written here in a few lines so that google-crc32c (a C extension) is not one more dependency: the values
checked are small (a digest, a signature, a PEM, an audit object of a run).
"""

from __future__ import annotations

import base64

# The reflected form of the Castagnoli polynomial 0x1EDC6F41 (RFC 3720, appendix B.4).
POLYNOMIAL = 0x82F63B78


def _table():
    table = []
    for byte in range(256):
        value = byte
        for _bit in range(8):
            value = (value >> 1) ^ POLYNOMIAL if value & 1 else value >> 1
        table.append(value)
    return tuple(table)


TABLE = _table()


def crc32c(data, value=0):
    """The CRC32C of ``data`` (bytes) as an unsigned 32-bit integer; ``value`` continues an earlier one."""
    crc = value ^ 0xFFFFFFFF
    for byte in data:
        crc = TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def crc32c_base64(data):
    """Cloud Storage's form of it (an object's ``crc32c``): base64 of the 4 bytes, big-endian."""
    return base64.b64encode(crc32c(data).to_bytes(4, "big")).decode("ascii")
