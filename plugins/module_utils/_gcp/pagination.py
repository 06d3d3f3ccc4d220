# Private to this collection.
"""Reading every page of a Compute list: ``pageToken`` in, ``nextPageToken`` out, each page one call.

Pages are of the largest size Compute accepts (``maxResults`` 500), so a large project is read in few
calls, each well within the read timeout.
"""

from __future__ import annotations

PAGE_SIZE = 500


def filter_params(filter_expression):
    """The query parameters of a list call narrowed by a Compute ``filter`` expression (None: every item)."""
    return {"filter": filter_expression} if filter_expression else None


def pages(connection, path, operation, params=None, resource=None, page_size=PAGE_SIZE):
    """Each page (the answer of one list call) of a list at ``path``."""
    query = dict(params or {})
    query["maxResults"] = page_size
    while True:
        page = connection.request("GET", path, operation, resource=resource, params=query)
        yield page
        token = page.get("nextPageToken")
        if not token:
            return
        query["pageToken"] = token


def list_all(connection, path, operation, params=None, resource=None, page_size=PAGE_SIZE):
    """Every item of a list (``items`` of each page)."""
    items = []
    for page in pages(connection, path, operation, params, resource, page_size):
        items.extend(page.get("items") or [])
    return items


def aggregated_all(connection, path, operation, key, params=None, resource=None, page_size=PAGE_SIZE):
    """Every item of an aggregated list as ``(scope, item)``: ``scope`` is ``zones/Z`` or ``regions/R``.

    A scope with nothing on a page carries a ``warning`` (NO_RESULTS_ON_PAGE) instead of ``key``.
    """
    found = []
    for page in pages(connection, path, operation, params, resource, page_size):
        for scope, scoped in sorted((page.get("items") or {}).items()):
            found.extend((scope, item) for item in scoped.get(key) or [])
    return found
