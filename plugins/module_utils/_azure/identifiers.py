# Private to this collection.
"""The shapes of Azure resource ids the cloud-neutral core is handed, without importing the Azure SDK.

The core handles images and instances by one string id each. On Azure that id is the ARM resource id: it
names the subscription and the resource group, reads like the portal's and the CLI's output, and is what a
trust policy's ``revoked`` list names. ARM compares ids case-insensitively; so do these patterns.
"""

from __future__ import annotations

import re

# /subscriptions/S/resourceGroups/RG/providers/Microsoft.Compute/galleries/G/images/D/versions/X.Y.Z
# Gallery names: letters, digits, . and _; image definitions: letters, digits, . _ -; versions: three
# 32-bit integers.
IMAGE_ID_PATTERN = re.compile(
    r"^/subscriptions/[0-9a-f-]{36}/resourceGroups/[-\w._()]{1,90}/providers/Microsoft\.Compute/galleries/"
    r"[\w.]{1,80}/images/[\w.-]{1,80}/versions/\d{1,10}\.\d{1,10}\.\d{1,10}$",
    re.IGNORECASE,
)
SUBSCRIPTION_SEGMENT = "subscriptions"
GROUP_SEGMENT = "resourcegroups"


def resource_id(subscription, resource_group, provider_type, *names):
    """The ARM id of a resource: ``provider_type`` is ``Namespace/type[/childtype...]``, one name per type.

    ``resource_id(sub, rg, "Microsoft.Compute/galleries/images/versions", "g", "d", "1.0.0")``.
    """
    namespace, *types = provider_type.split("/")
    if len(types) != len(names) or not types:
        raise ValueError("%s names %d types and %d names were given" % (provider_type, len(types), len(names)))
    path = "".join("/%s/%s" % pair for pair in zip(types, names))
    return "/subscriptions/%s/resourceGroups/%s/providers/%s%s" % (subscription, resource_group, namespace, path)


def parse_resource_id(text):
    """{subscription, resource_group, provider, types, names, name} of an ARM resource id; ValueError otherwise.

    ``types`` and ``names`` pair up (``["galleries", "images", "versions"]``, ``["g", "d", "1.0.0"]``),
    ``name`` is the last name.
    """
    segments = [segment for segment in str(text).split("/") if segment]
    if (
        len(segments) < 7
        or segments[0].lower() != SUBSCRIPTION_SEGMENT
        or segments[2].lower() != GROUP_SEGMENT
        or segments[4].lower() != "providers"
        or len(segments[6:]) % 2
    ):
        raise ValueError(
            "not an Azure resource id (/subscriptions/S/resourceGroups/RG/providers/Namespace/type/name): %r" % (text,)
        )
    pairs = segments[6:]
    return {
        "subscription": segments[1],
        "resource_group": segments[3],
        "provider": segments[5],
        "types": pairs[0::2],
        "names": pairs[1::2],
        "name": pairs[-1],
    }


def same_id(first, second):
    """Whether two ARM ids name one resource (ARM ids are case-insensitive)."""
    return bool(first) and bool(second) and first.rstrip("/").lower() == second.rstrip("/").lower()
