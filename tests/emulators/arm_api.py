"""The ARM emulator's shared vocabulary: ARM's error answers, requests, resource ids, tags and timestamps.

Used by the server (`emulators.arm`) and by the resource providers (`emulators.arm_compute`).
"""

from __future__ import annotations

import json
import re
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# ARM's limits on tags (https://learn.microsoft.com/azure/azure-resource-manager/management/tag-resources).
MAX_TAGS = 50
MAX_TAG_NAME = 512
MAX_TAG_VALUE = 256
_TAG_NAME_FORBIDDEN = re.compile(r"[<>%&\\?/]")
# An api-version is a date, optionally "-preview" (ARM refuses any other shape).
API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(?:-preview|-beta|-alpha)?$")
# ARM's error text for a missing resource points at this page.
NOT_FOUND_HELP = "For more details please go to https://aka.ms/ARMResourceNotFoundFix"


def now_iso() -> str:
    """Compute's timestamp format: ISO 8601 in UTC with seven fractional digits and ``+00:00``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0+00:00"


class ArmError(Exception):
    """An error answer in ARM's shape ``{"error": {"code", "message"[, "target"]}}``; rendered by the server."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        target: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.target = target
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.target is not None:
            error["target"] = self.target
        return {"error": error}


def invalid_parameter(message: str, target: str) -> ArmError:
    return ArmError(400, "InvalidParameter", message, target=target)


def required_parameter(name: str) -> ArmError:
    return ArmError(400, "InvalidParameter", "Required parameter '%s' is missing (null)." % name, target=name)


def property_change_not_allowed(name: str) -> ArmError:
    return ArmError(409, "PropertyChangeNotAllowed", "Changing property '%s' is not allowed." % name, target=name)


def resource_group_not_found(group: str) -> ArmError:
    return ArmError(404, "ResourceGroupNotFound", "Resource group '%s' could not be found." % group)


def resource_not_found(resource_type: str, name: str, group: str) -> ArmError:
    return ArmError(
        404,
        "ResourceNotFound",
        "The Resource '%s/%s' under resource group '%s' was not found. %s"
        % (resource_type, name, group, NOT_FOUND_HELP),
    )


def parent_resource_not_found(parent: str) -> ArmError:
    return ArmError(
        404,
        "ParentResourceNotFound",
        "Can not perform requested operation on nested resource. Parent resource '%s' not found." % parent,
    )


@dataclass
class Request:
    """One call as a handler sees it: path groups in ``match``, lower-case header names, a JSON body."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    match: dict[str, str] = field(default_factory=dict)
    operation: str = ""

    @property
    def api_version(self) -> str:
        return self.query.get("api-version", "")


@dataclass
class Answer:
    """What a handler answers: a status, a JSON body (or None for no content) and extra headers."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def check_tags(tags: Any) -> dict[str, str]:
    """``tags`` as ARM accepts them (a flat map of strings, within ARM's limits), or the ARM error."""
    if tags is None:
        return {}
    if not isinstance(tags, dict):
        raise ArmError(400, "InvalidRequestContent", "The request content was invalid: 'tags' must be an object.")
    if len(tags) > MAX_TAGS:
        raise ArmError(
            400,
            "InvalidTagCount",
            "The number of tags (%d) exceeds the maximum of %d tags per resource." % (len(tags), MAX_TAGS),
        )
    for name, value in tags.items():
        if not isinstance(value, str):
            raise ArmError(
                400, "InvalidRequestContent", "The request content was invalid: tag '%s' must be a string." % name
            )
        if not name or len(name) > MAX_TAG_NAME or _TAG_NAME_FORBIDDEN.search(name):
            raise ArmError(
                400,
                "InvalidTagNameCharacters",
                "The tag name '%s' is empty, longer than %d characters or has one of the characters '<,>,%%,&,\\,?,/'."
                % (name, MAX_TAG_NAME),
            )
        if len(value) > MAX_TAG_VALUE:
            raise ArmError(
                400,
                "InvalidTagValueLength",
                "The tag value of '%s' has %d characters, longer than the limit of %d."
                % (name, len(value), MAX_TAG_VALUE),
            )
    return dict(tags)


def normalize_location(location: str) -> str:
    """ARM's canonical form of a location: ``East US`` and ``eastus`` are the same place."""
    return location.replace(" ", "").lower()


def no_route(method: str, path: str) -> ArmError:
    """The answer to a path no route serves: ARM's for an unknown resource type, or a plain 404."""
    if re.match(r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/[^/]+/", path, re.IGNORECASE):
        namespace = path.split("/providers/", 1)[1].split("/", 1)[0]
        return ArmError(
            400,
            "InvalidResourceType",
            "The resource type could not be found in the namespace '%s' for api version in use (%s %s)."
            % (namespace, method, path),
        )
    return ArmError(404, "NotFound", "The requested resource does not exist (%s %s)." % (method, path))


def parse_body(headers: dict[str, str], raw: bytes) -> Any:
    """A request's JSON (or form) body; ARM's InvalidRequestContent when it is neither."""
    if not raw:
        return None
    if "application/x-www-form-urlencoded" in headers.get("content-type", ""):
        return dict(urllib.parse.parse_qsl(raw.decode()))
    try:
        return json.loads(raw)
    except ValueError:
        raise ArmError(
            400, "InvalidRequestContent", "The request content was invalid and could not be deserialized."
        ) from None


def check_api_version(request: Request) -> None:
    """ARM requires ``api-version`` on every call, and a date."""
    if "api-version" not in request.query:
        raise ArmError(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        )
    if not API_VERSION.match(request.api_version):
        raise ArmError(
            400,
            "InvalidApiVersionParameter",
            "The api-version '%s' is invalid. The supported versions are dates such as '2024-03-03'."
            % request.api_version,
        )
