"""The GCE emulator's shared vocabulary: Google's error answers, field checks, list filters, requests.

Used by the server (`emulators.gce`) and by every collection (`emulators.gce_compute`, and those to come).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# Google's limits: list pages hold at most 500 items; names follow RFC 1035.
MAX_RESULTS = 500
NAME_PATTERN = re.compile(r"^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$")
LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")
MAX_LABELS = 64
DEPRECATION_STATES = ("ACTIVE", "DEPRECATED", "OBSOLETE", "DELETED")

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    412: "FAILED_PRECONDITION",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


def now_rfc3339() -> str:
    """Google's timestamp format: RFC 3339 with milliseconds and the local offset (UTC here)."""
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + "%03d-00:00" % (now.microsecond // 1000)


class ApiError(Exception):
    """An error answer in Google's shape; raised by handlers, rendered by the server."""

    def __init__(self, code: int, reason: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        detail = {"message": self.message, "domain": "global", "reason": self.reason}
        detail.update(self.extra)
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "errors": [detail],
                "status": _STATUS_NAMES.get(self.code, "UNKNOWN"),
            }
        }


def not_found(path: str) -> ApiError:
    return ApiError(404, "notFound", "The resource '%s' was not found" % path)


def already_exists(path: str) -> ApiError:
    return ApiError(409, "alreadyExists", "The resource '%s' already exists" % path)


def invalid(field_name: str, value: Any, why: str = "") -> ApiError:
    message = "Invalid value for field '%s': '%s'.%s" % (field_name, value, " " + why if why else "")
    return ApiError(400, "invalid", message)


def required(field_name: str) -> ApiError:
    return ApiError(400, "required", "Required field '%s' not specified" % field_name)


def label_fingerprint(labels: dict[str, str]) -> str:
    """An opaque fingerprint of a label set that changes whenever the labels do (Google's is 8 bytes too)."""
    digest = hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def check_labels(labels: Any, field_name: str = "labels") -> dict[str, str]:
    if labels is None:
        return {}
    if not isinstance(labels, dict):
        raise invalid(field_name, labels, "Labels must be a map of strings.")
    if len(labels) > MAX_LABELS:
        raise invalid(field_name, len(labels), "A resource may have at most %d labels." % MAX_LABELS)
    for key, value in labels.items():
        if not isinstance(key, str) or not LABEL_KEY.match(key):
            raise invalid("%s.key" % field_name, key, "Label keys must be 1-63 lowercase letters, digits, _ or -.")
        if not isinstance(value, str) or not LABEL_VALUE.match(value):
            raise invalid(
                "%s.value" % field_name, value, "Label values must be 0-63 lowercase letters, digits, _ or -."
            )
    return dict(labels)


def check_name(name: Any, field_name: str = "resource.name") -> str:
    if not name:
        raise required(field_name)
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise invalid(field_name, name, "Must be a match of regex '%s'" % NAME_PATTERN.pattern.strip("^$"))
    return name


# ---------------------------------------------------------------------------------------------------
# List filters: Compute's `field op value` expressions, AND/OR/NOT and parentheses, and the legacy
# `field eq|ne regex` form.

_TOKEN = re.compile(
    r"\s*(?:(?P<paren>[()])|(?P<op>!=|>=|<=|=|>|<|:)|\"(?P<dq>[^\"]*)\"|'(?P<sq>[^']*)'|(?P<word>[^\s()=!<>:\"']+))"
)


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise invalid("filter", text, "Invalid list filter expression.")
        position = match.end()
        if match.group("paren"):
            out.append(("paren", match.group("paren")))
        elif match.group("op"):
            out.append(("op", match.group("op")))
        elif match.group("dq") is not None:
            out.append(("value", match.group("dq")))
        elif match.group("sq") is not None:
            out.append(("value", match.group("sq")))
        else:
            word = match.group("word")
            if word in ("AND", "OR", "NOT"):
                out.append(("logic", word))
            elif word in ("eq", "ne"):
                out.append(("op", word))
            else:
                out.append(("word", word))
    return out


def _values(resource: Any, path: list[str]) -> list[Any]:
    """Every value at a dotted path, fanning out over lists (a repeated field matches if any element does)."""
    current = [resource]
    for part in path:
        following = []
        for value in current:
            value_items = value if isinstance(value, list) else [value]
            for item in value_items:
                if isinstance(item, dict) and part in item:
                    following.append(item[part])
        current = following
    flat = []
    for value in current:
        flat.extend(value if isinstance(value, list) else [value])
    return flat


def _compare(actual: Any, op: str, expected: str) -> bool:
    text = str(actual).lower() if isinstance(actual, bool) else str(actual)
    if op == ":":
        return expected == "*" or expected in text
    if op == "=":
        return text == expected
    if op == "!=":
        return text != expected
    if op in ("eq", "ne"):
        try:
            matched = re.fullmatch(expected, text) is not None
        except re.error:
            raise invalid("filter", expected, "Invalid regular expression.") from None
        return matched if op == "eq" else not matched
    try:
        left, right = float(text), float(expected)
    except ValueError:
        left, right = text, expected  # type: ignore[assignment]
    return {">": left > right, "<": left < right, ">=": left >= right, "<=": left <= right}[op]


class ListFilter:
    """A parsed filter; `matches(resource)` says whether a resource passes. OR binds tighter than AND (AIP-160)."""

    def __init__(self, text: str | None) -> None:
        self.text = text or ""
        self._tokens = _tokens(self.text) if self.text.strip() else []
        self._position = 0
        self._tree = self._conjunction() if self._tokens else None
        if self._position != len(self._tokens):
            raise invalid("filter", self.text, "Invalid list filter expression.")

    def _peek(self) -> tuple[str, str] | None:
        return self._tokens[self._position] if self._position < len(self._tokens) else None

    def _take(self) -> tuple[str, str]:
        token = self._peek()
        if token is None:
            raise invalid("filter", self.text, "Invalid list filter expression.")
        self._position += 1
        return token

    def _conjunction(self) -> Any:
        terms = [self._disjunction()]
        while True:
            token = self._peek()
            if token is None or token == ("paren", ")"):
                return ("and", terms)
            if token == ("logic", "AND"):
                self._take()
            terms.append(self._disjunction())

    def _disjunction(self) -> Any:
        terms = [self._term()]
        while self._peek() == ("logic", "OR"):
            self._take()
            terms.append(self._term())
        return ("or", terms)

    def _term(self) -> Any:
        token = self._take()
        if token == ("logic", "NOT"):
            return ("not", self._term())
        if token == ("paren", "("):
            inner = self._conjunction()
            if self._take() != ("paren", ")"):
                raise invalid("filter", self.text, "Unbalanced parentheses.")
            return inner
        if token[0] != "word":
            raise invalid("filter", self.text, "Invalid list filter expression.")
        kind, op = self._take()
        if kind != "op":
            raise invalid("filter", self.text, "Expected an operator after '%s'." % token[1])
        value_kind, value = self._take()
        if value_kind not in ("word", "value"):
            raise invalid("filter", self.text, "Expected a value after '%s'." % op)
        return ("cmp", token[1].split("."), op, value)

    def matches(self, resource: dict[str, Any]) -> bool:
        return self._tree is None or self._eval(self._tree, resource)

    def _eval(self, node: Any, resource: dict[str, Any]) -> bool:
        kind = node[0]
        if kind == "and":
            return all(self._eval(term, resource) for term in node[1])
        if kind == "or":
            return any(self._eval(term, resource) for term in node[1])
        if kind == "not":
            return not self._eval(node[1], resource)
        path, op, expected = node[1:]
        values = _values(resource, path)
        if op in ("!=", "ne"):
            return all(_compare(value, op, expected) for value in values)
        return any(_compare(value, op, expected) for value in values)


# ---------------------------------------------------------------------------------------------------
# Requests


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    match: dict[str, str]
    # Header names in lower case (an upload's Content-Type names its boundary).
    headers: dict[str, str] = field(default_factory=dict)
