# Private to this collection.
"""Canonical JSON: one byte string for one value, so that a digest or a signature over it is stable.

The bytes are those of the JSON Canonicalization Scheme (RFC 8785), so that a verifier in JavaScript,
Go or any other language that canonicalizes the same statement hashes the same bytes:

- object members sorted by the UTF-16 code units of their names (not by code point: a name outside the
  Basic Multilingual Plane, a surrogate pair D800-DFFF, sorts before U+E000-U+FFFF), no white space;
- strings in UTF-8, with only the escapes JSON requires: ``\\b \\t \\n \\f \\r \\" \\\\`` by name, the other
  code points below U+0020 as ``\\u00xx`` in lower-case hexadecimal, everything else as itself;
- numbers as ECMAScript's ``Number.prototype.toString`` writes a double: the shortest digits that read
  back to the same double, ``1.0`` is ``1``, ``-0.0`` is ``0``, ``1e21`` is ``1e+21``, ``1e-7`` is ``1e-7``.

Refused, with ``InvalidInput`` naming where in the value: NaN and the infinities (JSON has no word for
them), lone surrogates (not UTF-8), names that are not strings and values that are not JSON.

Integers: RFC 8785 reads every JSON number as a double, so an integer is written as ECMAScript writes the
double nearest to it, and refused when those digits are not the integer's own. Every integer of the safe
range -(2**53 - 1) .. 2**53 - 1 is written as itself; beyond it a double holds only some integers, and
only some of those are written with their own digits (``2**53`` and ``10**20`` are; ``2**53 + 1`` would
be read as ``9007199254740992`` and ``2**60`` written ``1152921504606847000``, so both are refused).
Writing the double regardless would sign a number the caller did not give, and writing the exact digits
would give bytes a JavaScript or Go verifier cannot reproduce; refusing asks for what is always safe,
the number as a string. The one rule also keeps an integer and the equal float writing the same bytes,
and keeps the output a fixed point: ``json.loads`` reads ``9007199254740992`` back as an int, and that
int is written as the same digits again.
"""

from __future__ import annotations

import decimal
import hashlib
import json
import math

from .errors import InvalidInput

_STRING = json.JSONEncoder(ensure_ascii=False)
# Every integer up to this one has a double of its own (I-JSON, RFC 7493 section 2.2; RFC 8785 Appendix B).
SAFE_INTEGER_MAX = 2**53 - 1


def canonical_json(value):
    """The canonical UTF-8 bytes of a JSON value (dict, list, str, int, float, bool, None)."""
    parts = []
    _write(value, parts, "$")
    return "".join(parts).encode("utf-8")


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def digest(value):
    """sha256, hex, of the canonical JSON of ``value``."""
    return sha256_hex(canonical_json(value))


def _write(value, parts, path):
    if value is None:
        parts.append("null")
    elif value is True:
        parts.append("true")
    elif value is False:
        parts.append("false")
    elif isinstance(value, str):
        parts.append(_string(value, path))
    elif isinstance(value, int):
        parts.append(_integer(value, path))
    elif isinstance(value, float):
        parts.append(number(value, path))
    elif isinstance(value, dict):
        names = {}  # each key, checked and written, before sorting needs its UTF-16 form
        for key in value:
            if not isinstance(key, str):
                raise InvalidInput("cannot canonicalize %s: key %r is not a string" % (path, key), resource=path)
            names[key] = _string(key, path)
        parts.append("{")
        for index, key in enumerate(sorted(value, key=_utf16_order)):
            if index:
                parts.append(",")
            parts.append(names[key])
            parts.append(":")
            _write(value[key], parts, "%s.%s" % (path, key))
        parts.append("}")
    elif isinstance(value, (list, tuple)):
        parts.append("[")
        for index, item in enumerate(value):
            if index:
                parts.append(",")
            _write(item, parts, "%s[%d]" % (path, index))
        parts.append("]")
    else:
        raise InvalidInput(
            "cannot canonicalize %s: a %s is not a JSON value" % (path, type(value).__name__), resource=path
        )


def _string(text, path):
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput("cannot canonicalize %s: the string holds a lone surrogate" % path, resource=path) from None
    return _STRING.encode(text)


def _utf16_order(key):
    # Big-endian UTF-16 bytes compare as the code units they spell, one unit after the other.
    return key.encode("utf-16-be")


def _integer(value, path):
    if -SAFE_INTEGER_MAX <= value <= SAFE_INTEGER_MAX:
        return str(int(value))
    hint = "Give it as a string (quoted) to have it signed as written."
    try:
        written = number(float(value), path)
    except OverflowError:
        raise InvalidInput(
            "cannot canonicalize %s: an integer of %d bits is beyond the largest JSON number"
            % (path, value.bit_length()),
            resource=path,
            hint=hint,
        ) from None
    exact = str(int(value))
    if written != exact:
        raise InvalidInput(
            "cannot canonicalize %s: the integer %s is outside -%d..%d and a verifier would read it as %s"
            % (path, exact, SAFE_INTEGER_MAX, SAFE_INTEGER_MAX, written),
            resource=path,
            hint=hint,
        )
    return written


def number(value, path="$"):
    """ECMAScript's Number.prototype.toString of a finite double, as RFC 8785 requires."""
    if not math.isfinite(value):
        raise InvalidInput("cannot canonicalize %s: %r is not a JSON number" % (path, value), resource=path)
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    # repr() gives the shortest digit string that reads back to the same double, as ECMAScript does.
    exact = decimal.Decimal(repr(abs(value)))
    _sign, digit_tuple, exponent = exact.as_tuple()
    digits = "".join(str(digit) for digit in digit_tuple).rstrip("0")
    exponent += len("".join(str(digit) for digit in digit_tuple)) - len(digits)
    k = len(digits)
    n = exponent + k  # the decimal point sits after n digits
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        text = "0." + "0" * (-n) + digits
    else:
        power = n - 1
        mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
        text = "%se%s%d" % (mantissa, "+" if power >= 0 else "-", abs(power))
    return sign + text
