# Private to this collection.
"""The Compute Engine calls of a drift scan that ``compute.py`` does not make: instances read a page at a time,
and images read by name, many names a call.

Each goes through ``connection.request`` (retried, errors translated, counted). What a scan costs:

- ``compute.instances.aggregatedList``: one call per page of at most 500 instances (Compute's cap for
  ``maxResults``), every zone at once, narrowed by a server-side filter on status and labels;
- ``compute.disks.aggregatedList`` (``compute.aggregated_disks``): one call per 500 disks, for each instance's
  image (an Instance has no ``sourceImage``; its boot disk does);
- ``compute.images.list``: one call per project per ``IMAGE_NAMES`` distinct image names, a filter of names
  joined with OR (an image the project no longer has is left out, not an error for the others).
"""

from __future__ import annotations

from .pagination import PAGE_SIZE, pages

# A deleted instance (or one being stopped) shows STOPPING on its way out: what it runs is not drift.
LEAVING_STATUS = "STOPPING"
# Image names in one list filter: 100 names of at most 63 characters keep the request URL under ~8 KB.
IMAGE_NAMES = 100


def _quoted(value):
    return '"%s"' % str(value).replace("\\", "\\\\").replace('"', '\\"')


def instance_filter(labels):
    """The aggregatedList filter of live instances carrying every label of ``labels`` (already legal labels)."""
    terms = ["(status != %s)" % _quoted(LEAVING_STATUS)]
    terms.extend("(labels.%s = %s)" % (key, _quoted(value)) for key, value in sorted(labels.items()))
    return " ".join(terms)


def instance_pages(connection, project, labels, page_size=PAGE_SIZE):
    """Each page of the project's live instances with ``labels``, as a list of ``(zone, instance)``.

    A generator: a page is asked for when the one before has been handed on, so only one is held.
    """
    if not 1 <= page_size <= PAGE_SIZE:
        raise ValueError("page_size must be 1 to %d, not %r" % (PAGE_SIZE, page_size))
    path = "projects/%s/aggregated/instances" % project
    for page in pages(
        connection,
        path,
        "compute.instances.aggregatedList",
        {"filter": instance_filter(labels)},
        path,
        page_size,
    ):
        found = []
        for scope, scoped in sorted((page.get("items") or {}).items()):
            zone = scope.split("/", 1)[-1]
            found.extend((zone, instance) for instance in scoped.get("instances") or [])
        yield found


def name_filter(names):
    return " OR ".join("(name = %s)" % _quoted(name) for name in names)


def images_named(connection, project, names):
    """The images of ``project`` with any of ``names``, ``IMAGE_NAMES`` names a call (deprecated ones too)."""
    names = sorted(set(names))
    path = "projects/%s/global/images" % project
    for start in range(0, len(names), IMAGE_NAMES):
        expression = name_filter(names[start : start + IMAGE_NAMES])
        for page in pages(connection, path, "compute.images.list", {"filter": expression}, path):
            yield from page.get("items") or []
