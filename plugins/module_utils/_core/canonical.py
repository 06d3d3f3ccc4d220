# Private to this collection.
"""Canonical JSON: one byte string for one value, so that a digest or a signature over it is stable.

The rules are those of the JSON Canonicalization Scheme (RFC 8785) for the values the collection signs:
object members sorted by the UTF-16 code units of their names, no insignificant white space, strings
in UTF-8 with only the escapes JSON requires, numbers as ECMAScript writes them (``1.0`` is ``1``,
``1e21`` is ``1e+21``). NaN, infinities, lone surrogates and non-string keys are refused.
"""

from __future__ import annotations

import decimal
import hashlib
import json
import math

from .errors import InvalidInput

_STRING = json.JSONEncoder(ensure_ascii=False)


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
        parts.append(str(int(value)))
    elif isinstance(value, float):
        parts.append(number(value, path))
    elif isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise InvalidInput("cannot canonicalize %s: key %r is not a string" % (path, key), resource=path)
        parts.append("{")
        for index, key in enumerate(sorted(value, key=_utf16_order)):
            if index:
                parts.append(",")
            parts.append(_string(key, path))
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
    return key.encode("utf-16-be")


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
