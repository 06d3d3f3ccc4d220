"""The GCE emulator itself: its filter language, its token rules and its refusals, as Google's API states them."""

from __future__ import annotations

import base64
import json
import time

import pytest
import requests
from emulators.gce import ApiError, ListFilter
from google.auth import crypt, jwt

from ansible_collections.phoenix.immutable.plugins.module_utils._gcp import compute
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.errors import GcpApiError, NotFound

IMAGE = {
    "name": "golden-7",
    "status": "READY",
    "family": "golden",
    "labels": {"role": "build", "channel": "prod"},
    "deprecated": {"state": "DEPRECATED"},
    "diskSizeGb": "10",
    "disks": [{"source": "zones/a/disks/x", "boot": True}, {"source": "zones/a/disks/y", "boot": False}],
}


@pytest.mark.parametrize(
    ("expression", "matches"),
    [
        ("", True),
        ("name = golden-7", True),
        ('name = "golden-8"', False),
        ("name != golden-8", True),
        ("labels.role = build", True),
        ("labels.role = build labels.channel = test", False),
        ("labels.role = build AND labels.channel = prod", True),
        ("labels.channel = test OR labels.channel = prod", True),
        ("(labels.channel = test) (family = golden)", False),
        ("NOT labels.channel = test", True),
        ("labels.owner:*", False),
        ("labels.role:*", True),
        ("name:olden", True),
        ("name eq 'golden-.*'", True),
        ("name ne 'golden-.*'", False),
        ("diskSizeGb > 5", True),
        ("diskSizeGb >= 20", False),
        ("deprecated.state = DEPRECATED", True),
        ("disks.source = zones/a/disks/y", True),
        ("disks.boot = true", True),
        ("missing.field = x", False),
    ],
)
def test_list_filters_match_as_computes_do(expression, matches):
    assert ListFilter(expression).matches(IMAGE) is matches


@pytest.mark.parametrize("expression", ["name =", "= x", "(name = x", "name = x)", "name ~ x", "name eq '('"])
def test_a_malformed_filter_is_a_400_naming_the_filter(expression):
    with pytest.raises(ApiError) as refused:
        ListFilter(expression).matches(IMAGE)

    assert refused.value.code == 400 and "'filter'" in refused.value.message


def test_an_expired_token_is_refused_and_google_auth_grants_a_new_one(gce):
    connection = gce.connection()
    compute.list_images(connection, gce.seed.project)
    gce.emu.expire_tokens()

    compute.list_images(connection, gce.seed.project)

    # The second list was answered 401 once, then sent again with a new token.
    assert gce.emu.calls["oauth2.token"] == 2 and gce.emu.calls["compute.images.list"] == 3
    assert connection.api_calls() == {"compute.images.list": 3, "oauth2.token": 2}


def grant(gce, claims, key=None):
    signer = crypt.RSASigner.from_service_account_info(key or gce.key.info)
    assertion = jwt.encode(signer, claims).decode()
    form = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion}
    return requests.post(gce.emu.token_uri, data=form, timeout=30)


def claims(gce, **changes):
    now = int(time.time())
    base = {
        "iss": gce.key.email,
        "aud": "https://oauth2.googleapis.com/token",
        "iat": now,
        "exp": now + 3600,
        "scope": "https://www.googleapis.com/auth/cloud-platform",
    }
    base.update(changes)
    return base


@pytest.mark.parametrize(
    ("changes", "error", "description"),
    [
        ({"aud": "https://example.com/token"}, "invalid_grant", "audience"),
        ({"exp": int(time.time()) + 7200}, "invalid_grant", "short-lived"),
        ({"iss": "nobody@phoenix-test.iam.gserviceaccount.com"}, "invalid_grant", "account not found"),
        ({"scope": ""}, "invalid_scope", "scope"),
    ],
)
def test_the_token_endpoint_refuses_what_google_refuses(gce, changes, error, description):
    answer = grant(gce, claims(gce, **changes))

    assert answer.status_code == 400
    assert answer.json()["error"] == error and description in answer.json()["error_description"]


def test_the_token_endpoint_grants_the_emulators_own_audience_too(gce):
    answer = grant(gce, claims(gce, aud=gce.emu.token_uri))

    assert answer.status_code == 200
    assert answer.json()["token_type"] == "Bearer" and answer.json()["access_token"].startswith("ya29.")


def test_a_tampered_assertion_is_refused(gce):
    good = jwt.encode(crypt.RSASigner.from_service_account_info(gce.key.info), claims(gce)).decode()
    header, _payload, signature = good.split(".")
    payload = base64.urlsafe_b64encode(json.dumps(claims(gce, scope="other")).encode()).decode().rstrip("=")
    form = {
        "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "assertion": "%s.%s.%s" % (header, payload, signature),
    }

    answer = requests.post(gce.emu.token_uri, data=form, timeout=30)

    assert answer.status_code == 400 and answer.json()["error_description"] == "Invalid JWT Signature."


def test_paging_parameters_are_checked(gce):
    connection = gce.connection()
    path = "projects/%s/global/images" % gce.seed.project
    for number in range(3):
        gce.emu.put_image("golden-%d" % number)
    first = connection.request("GET", path, "compute.images.list", params={"maxResults": 2})

    with pytest.raises(GcpApiError) as too_big:
        connection.request("GET", path, "compute.images.list", params={"maxResults": 501})
    with pytest.raises(GcpApiError) as foreign:
        connection.request(
            "GET", path, "compute.images.list", params={"pageToken": first["nextPageToken"], "filter": "name = x"}
        )

    assert first["kind"] == "compute#imageList" and len(first["items"]) == 2
    assert too_big.value.code == "invalid" and "maxResults" in too_big.value.message
    assert foreign.value.code == "invalid" and "pageToken" in foreign.value.message


def test_labels_are_checked_as_google_checks_them(gce):
    connection = gce.connection()
    body = {"name": "golden-9", "sourceImage": gce.seed.base_image}

    for labels, field in (
        ({"Upper": "x"}, "labels.key"),
        ({"k": "A" * 3}, "labels.value"),
        ({"k": "x" * 64}, "labels.value"),
    ):
        with pytest.raises(GcpApiError) as refused:
            compute.insert_image(connection, gce.seed.project, dict(body, labels=labels))
        assert refused.value.code == "invalid" and field in refused.value.message
    with pytest.raises(GcpApiError) as too_many:
        compute.insert_image(connection, gce.seed.project, dict(body, labels={"k%d" % n: "" for n in range(65)}))
    assert "at most 64 labels" in too_many.value.message


def test_unknown_zones_projects_and_operations_are_refused(gce):
    connection = gce.connection()

    with pytest.raises(GcpApiError) as zone:
        compute.list_instances(connection, gce.seed.project, "mars-north1-a")
    with pytest.raises(NotFound) as project:
        compute.list_images(connection, "someone-elses-project")
    with pytest.raises(NotFound) as missing_operation:
        connection.request(
            "GET",
            "projects/%s/regions/us-central1/operations/operation-0" % gce.seed.project,
            "compute.regionOperations.get",
        )

    assert zone.value.code == "invalid" and "mars-north1-a" in zone.value.message
    assert "projects/someone-elses-project" in project.value.message
    assert missing_operation.value.status == 404


def test_an_instances_boot_disk_holds_its_source_image_and_is_deleted_with_it(gce):
    connection = gce.connection()
    zone = gce.seed.zone
    body = {
        "name": "web-1",
        "machineType": "e2-small",
        "disks": [
            {
                "boot": True,
                "autoDelete": True,
                "initializeParams": {"sourceImage": "projects/debian-cloud/global/images/family/debian-12"},
            }
        ],
    }
    compute.insert_instance(connection, gce.seed.project, zone, body)
    gce.emu.settle()
    instance = compute.get_instance(connection, gce.seed.project, zone, "web-1")

    assert "sourceImage" not in instance
    assert compute.boot_disk_source_image(connection, instance) == gce.seed.vendor_image
    compute.delete_instance(connection, gce.seed.project, zone, "web-1")
    gce.emu.settle()
    with pytest.raises(NotFound):
        compute.get_disk(connection, gce.seed.project, zone, "web-1")


def test_request_ids_must_be_uuids_and_belong_to_one_method(gce):
    connection = gce.connection()
    images = "projects/%s/global/images" % gce.seed.project
    body = {"name": "golden-6", "sourceImage": gce.seed.base_image}
    request_id = "0b5e6a8e-2f6c-4a55-9d3a-0f7f2c1e9a11"

    first = connection.request("POST", images, "compute.images.insert", params={"requestId": request_id}, body=body)
    again = connection.request("POST", images, "compute.images.insert", params={"requestId": request_id}, body=body)
    with pytest.raises(GcpApiError) as other_method:
        connection.request("DELETE", images + "/golden-6", "compute.images.delete", params={"requestId": request_id})
    with pytest.raises(GcpApiError) as not_uuid:
        connection.request("POST", images, "compute.images.insert", params={"requestId": "x"}, body=body)

    assert again["name"] == first["name"]
    assert other_method.value.code == "invalid" and "requestId" in other_method.value.message
    assert not_uuid.value.code == "invalid"
