"""The GCP connection options: environment fallbacks, the implied auth_kind and key loading, without a network."""

from __future__ import annotations

import json

import pytest

from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import InvalidInput, MissingDependency
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp import connection

KEY = {"type": "service_account", "project_id": "p1", "client_email": "a@p1.iam.gserviceaccount.com"}


@pytest.mark.parametrize(
    ("params", "environ", "expected"),
    [
        # AWX's Google Compute Engine credential
        (
            {},
            {"GCE_CREDENTIALS_FILE_PATH": "/run/key.json", "GCE_PROJECT": "awx-project"},
            {"service_account_file": "/run/key.json", "project": "awx-project"},
        ),
        # google.cloud users' variables come first when both are set
        (
            {},
            {"GCP_SERVICE_ACCOUNT_FILE": "/a.json", "GCE_CREDENTIALS_FILE_PATH": "/b.json", "GCP_PROJECT": "gcp"},
            {"service_account_file": "/a.json", "project": "gcp"},
        ),
        # an option given wins over the environment
        ({"project": "given"}, {"GCP_PROJECT": "env"}, {"project": "given"}),
        # scopes from the environment are a comma-separated list
        ({}, {"GCP_SCOPES": "s1, s2,"}, {"scopes": ["s1", "s2"]}),
        (
            {},
            {"GCP_AUTH_KIND": "accesstoken", "GCP_ACCESS_TOKEN": "t", "GCP_ENDPOINT_URL": "http://x/", "GCP_ZONE": "z"},
            {"auth_kind": "accesstoken", "access_token": "t", "endpoint_url": "http://x/", "zone": "z"},
        ),
        # an empty value is not a value
        ({"project": ""}, {"GCP_PROJECT": "env"}, {"project": "env"}),
    ],
)
def test_resolve_options_falls_back_to_the_environment(params, environ, expected):
    resolved = connection.resolve_options(params, environ)

    assert {key: resolved[key] for key in expected} == expected


def test_resolve_options_leaves_other_options_alone():
    assert connection.resolve_options({"cloud": "gcp", "wait": True}, {}) == {"cloud": "gcp", "wait": True}


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ((None, "/key.json", None, None), "serviceaccount"),
        ((None, None, "{}", None), "serviceaccount"),
        ((None, None, None, "ya29.x"), "accesstoken"),
        ((None, None, None, None), "application"),
        (("application", "/key.json", None, None), "application"),
    ],
)
def test_auth_kind_is_given_or_implied(given, expected):
    assert connection.auth_kind_of(*given) == expected


def test_an_unknown_auth_kind_is_refused():
    with pytest.raises(InvalidInput, match="auth_kind must be one of serviceaccount, application, accesstoken"):
        connection.auth_kind_of("machineaccount", None, None, None)


def test_a_key_is_read_from_a_file_or_contents(tmp_path):
    path = tmp_path / "key.json"
    path.write_text(json.dumps(KEY))

    assert connection.load_service_account_info(str(path)) == KEY
    assert connection.load_service_account_info(None, json.dumps(KEY)) == KEY
    assert connection.load_service_account_info(None, KEY) == KEY


@pytest.mark.parametrize(
    ("file_name", "contents", "message"),
    [
        ("key.json", json.dumps(KEY), "either service_account_file or service_account_contents, not both"),
        (None, None, "needs a service-account key"),
        ("missing.json", None, "cannot read service_account_file"),
        (None, '{"private_key": "-----BEGIN PRIVATE', "is not JSON"),
        (None, json.dumps({"type": "authorized_user"}), "is not a service-account key"),
    ],
)
def test_a_bad_key_is_refused_without_quoting_it(tmp_path, file_name, contents, message):
    (tmp_path / "key.json").write_text(json.dumps(KEY))
    path = str(tmp_path / file_name) if file_name else None

    with pytest.raises(InvalidInput) as refused:
        connection.load_service_account_info(path, contents)

    assert message in refused.value.message
    assert "PRIVATE" not in str(refused.value)


def test_a_missing_google_auth_is_a_missing_dependency(monkeypatch):
    monkeypatch.setattr(connection, "GOOGLE_AUTH_IMPORT_ERROR", ImportError("No module named 'google'"))

    with pytest.raises(MissingDependency) as missing:
        connection.GcpConnection(project="p", auth_kind="accesstoken", access_token="t")

    assert (missing.value.library, missing.value.cloud) == ("google-auth", "gcp")


def test_no_project_anywhere_is_refused():
    with pytest.raises(InvalidInput, match="no GCP project given"):
        connection.GcpConnection(auth_kind="accesstoken", access_token="t")


def test_an_endpoint_url_gets_its_trailing_slash_and_paths_join_it():
    made = connection.GcpConnection(
        project="p", auth_kind="accesstoken", access_token="t", endpoint_url="http://127.0.0.1:1/compute/v1"
    )

    assert made.url("projects/p/global/images") == "http://127.0.0.1:1/compute/v1/projects/p/global/images"
    assert made.project_url("/global/images") == "http://127.0.0.1:1/compute/v1/projects/p/global/images"
    assert made.url("https://compute.googleapis.com/x") == "https://compute.googleapis.com/x"
    assert made.region is None and made.scopes == list(connection.DEFAULT_SCOPES)


def test_a_zone_implies_its_region():
    made = connection.GcpConnection(project="p", auth_kind="accesstoken", access_token="t", zone="europe-west1-b")

    assert made.region == "europe-west1"
