"""Google's error bodies and operations turned into PhoenixErrors; pagination; all pure functions."""

from __future__ import annotations

import pytest

from ansible_collections.phoenix.immutable.plugins.module_utils._core.waiter import Waiter, WaitTimeout
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp import errors, operations, pagination


def google_error(code, reason, message="m", status=None):
    return {
        "error": {
            "code": code,
            "message": message,
            "errors": [{"reason": reason, "domain": "global"}],
            "status": status,
        }
    }


@pytest.mark.parametrize(
    ("status", "reason", "error_class"),
    [
        (404, "notFound", errors.NotFound),
        (409, "alreadyExists", errors.AlreadyExists),
        (412, "conditionNotMet", errors.PreconditionFailed),
        (400, "invalid", errors.GcpApiError),
        (429, "rateLimitExceeded", errors.GcpApiError),
    ],
)
def test_an_error_body_becomes_the_error_class_of_its_status(status, reason, error_class):
    error = errors.from_response(status, google_error(status, reason, "went wrong"), "compute.images.get", "img")

    assert error.__class__ is error_class  # exactly this class, not a parent
    assert (error.status, error.code, error.reason, error.cloud, error.resource) == (
        status,
        reason,
        reason,
        "gcp",
        "img",
    )
    assert error.message == "GCP compute.images.get failed for img: went wrong"
    assert error.hint


def test_an_answer_that_is_not_a_google_error_is_named_so():
    error = errors.from_response(502, None, "compute.images.list")

    assert error.code == "UnparseableResponse" and error.status == 502
    assert "not a Google API error" in error.message


def test_the_status_name_is_kept_and_the_reason_falls_back_to_it():
    body = {"error": {"code": 403, "message": "denied", "status": "PERMISSION_DENIED"}}

    error = errors.from_response(403, body, "compute.images.insert")

    assert error.code == "PERMISSION_DENIED" and error.details == {"status": "PERMISSION_DENIED"}
    assert "IAM" in error.hint


@pytest.mark.parametrize(
    ("status", "reason", "transient"),
    [
        (429, "rateLimitExceeded", True),
        (500, "backendError", True),
        (503, "backendError", True),
        (403, "userRateLimitExceeded", True),
        (403, "forbidden", False),
        (404, "notFound", False),
        (412, "conditionNotMet", False),
        (400, "invalid", False),
    ],
)
def test_what_is_worth_another_try(status, reason, transient):
    assert errors.is_transient(errors.from_response(status, google_error(status, reason), "op")) is transient


def test_dropped_connections_are_transient_and_other_exceptions_are_not():
    assert errors.is_transient(errors.TransportFailure(ConnectionResetError("reset")))
    assert not errors.is_transient(ValueError("bug"))


def operation(status="DONE", scope="global", **extra):
    base = "https://compute.googleapis.com/compute/v1/projects/p/"
    resource = {
        "kind": "compute#operation",
        "name": "operation-1",
        "operationType": "insert",
        "status": status,
        "targetLink": base + "global/images/golden",
        "selfLink": base + "%s/operations/operation-1" % scope,
    }
    resource.update(extra)
    return resource


@pytest.mark.parametrize(
    ("scope", "collection"),
    [
        ("global", "globalOperations"),
        ("zones/us-central1-a", "zoneOperations"),
        ("regions/us-central1", "regionOperations"),
    ],
)
def test_the_operations_collection_comes_from_the_selflink(scope, collection):
    assert operations.operations_collection(operation(scope=scope)) == collection


def test_a_non_operation_is_refused():
    with pytest.raises(Exception, match="not a Compute operation"):
        operations.operations_collection({"kind": "compute#image", "selfLink": "https://x/projects/p/global/images/i"})


def test_a_failed_operation_names_its_target_and_every_error():
    failed = operation(
        error={"errors": [{"code": "QUOTA_EXCEEDED", "message": "Quota exceeded."}, {"code": "OTHER", "message": "x"}]},
        httpErrorStatusCode=403,
    )

    error = operations.operation_error(failed)

    assert error.code == "QUOTA_EXCEEDED" and error.resource == "projects/p/global/images/golden"
    assert "Quota exceeded.; x" in error.message and "insert of projects/p/global/images/golden" in error.message
    assert error.details["http_status"] == 403 and len(error.details["errors"]) == 2
    assert operations.operation_error(operation()) is None


class Recorder:
    """A stand-in connection for one pure function: answers the queued operations, records what was asked."""

    def __init__(self, answers, operation_timeout=None):
        self.answers = list(answers)
        self.asked = []
        self.operation_timeout = operation_timeout

    def request(self, method, path, operation_id, resource=None, params=None, body=None):
        self.asked.append((method, path, operation_id, dict(params or {})))
        return self.answers.pop(0)


def test_wait_for_polls_the_wait_method_until_done_and_raises_a_failure():
    started = operation(status="PENDING", scope="zones/z1")
    connection = Recorder(
        [operation("RUNNING", "zones/z1"), operation("DONE", "zones/z1", error={"errors": [{"code": "E"}]})]
    )

    with pytest.raises(Exception) as failed:
        operations.wait_for(connection, started, Waiter(delay=0, max_delay=0))

    assert failed.value.code == "E"
    assert [asked[:3] for asked in connection.asked] == [
        ("POST", started["selfLink"] + "/wait", "compute.zoneOperations.wait")
    ] * 2


def test_without_a_waiter_an_operation_is_waited_for_as_long_as_the_connection_says():
    # A task's wait_timeout reaches every operation wait of the adapter through its connection.
    connection = Recorder([operation("RUNNING")], operation_timeout=0)

    with pytest.raises(WaitTimeout, match="timed out after 0s waiting for operation"):
        operations.wait_for(connection, operation(status="PENDING"))
    assert len(connection.asked) == 1


def test_a_disabled_waiter_returns_the_operation_unfinished():
    started = operation(status="PENDING")

    assert operations.wait_for(Recorder([]), started, Waiter(enabled=False)) is started


def test_pages_follow_the_next_page_token_at_the_largest_page_size():
    connection = Recorder([{"items": [1, 2], "nextPageToken": "t1"}, {"items": [3]}])

    assert pagination.list_all(connection, "projects/p/global/images", "compute.images.list", {"filter": "f"}) == [
        1,
        2,
        3,
    ]
    assert [asked[3] for asked in connection.asked] == [
        {"filter": "f", "maxResults": 500},
        {"filter": "f", "maxResults": 500, "pageToken": "t1"},
    ]


def test_aggregated_pages_flatten_scopes_and_skip_warnings():
    connection = Recorder(
        [
            {
                "items": {"zones/b": {"instances": [2]}, "zones/a": {"instances": [1]}, "zones/c": {"warning": {}}},
                "nextPageToken": "t",
            },
            {"items": {"zones/a": {"instances": [3]}}},
        ]
    )

    found = pagination.aggregated_all(connection, "projects/p/aggregated/instances", "x", "instances")

    assert found == [("zones/a", 1), ("zones/b", 2), ("zones/a", 3)]
