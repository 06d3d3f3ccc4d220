"""AzureConnection on the ARM emulator: the real ClientSecretCredential and ComputeManagementClient, its options
and their environment fallbacks, the one retry policy, long-running operations, errors, and the call count."""

from __future__ import annotations

import pytest
from azure_names import GALLERY, RESOURCE_GROUP

from ansible_collections.phoenix.immutable.plugins.module_utils._azure.connection import (
    AzureConnection,
    call_key,
    resolve_options,
)
from ansible_collections.phoenix.immutable.plugins.module_utils._azure.errors import (
    AzureApiError,
    NotFound,
    OperationFailed,
    PreconditionFailed,
)
from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import InvalidInput
from ansible_collections.phoenix.immutable.plugins.module_utils._core.waiter import WaitTimeout


def gallery_get(connection, name=GALLERY):
    return connection.call("Galleries_Get", connection.compute().galleries.get, RESOURCE_GROUP, name, resource=name)


def gallery_create(connection, name, **kwargs):
    return connection.wait(
        "Galleries_CreateOrUpdate",
        connection.compute().galleries.begin_create_or_update,
        RESOURCE_GROUP,
        name,
        {"location": connection.location},
        resource=name,
        **kwargs,
    )


def test_a_call_is_sent_with_a_token_and_counted(azure_connection):
    gallery = gallery_get(azure_connection)

    assert gallery.name == GALLERY
    assert azure_connection.api_calls() == {
        "GET Microsoft.Compute/galleries": 1,
        "GET identity/openid-configuration": 1,
        "POST identity/token": 1,
    }
    gallery_get(azure_connection)
    # The token is cached: the second call asks for none.
    assert azure_connection.api_calls()["POST identity/token"] == 1


def test_a_missing_resource_is_not_found_with_arms_code(azure, azure_connection):
    with pytest.raises(NotFound) as raised:
        gallery_get(azure_connection, "nothing_here")

    assert raised.value.status == 404
    assert raised.value.code == "ResourceNotFound"
    assert raised.value.cloud == "azure"
    assert "Galleries_Get" in raised.value.message and "nothing_here" in raised.value.message
    assert azure.emu.calls["Galleries_Get"] == 1


def test_throttling_and_server_faults_are_retried_by_the_one_policy(azure, azure_connection):
    azure.emu.inject_fault("Galleries_Get", status=429, times=2, retry_after=0)
    assert gallery_get(azure_connection).name == GALLERY
    azure.emu.inject_fault("Galleries_Get", status=503, times=1, retry_after=None)
    assert gallery_get(azure_connection).name == GALLERY

    # The SDK's own retries are off: each retry is one of the policy's, counted once.
    assert azure.emu.calls["Galleries_Get"] == 5
    assert azure_connection.api_calls()["GET Microsoft.Compute/galleries"] == 5


def test_retries_end_with_the_clouds_error(azure):
    connection = azure.connection(retry_policy=None)
    connection.retry_policy.max_attempts = 2
    connection.retry_policy.base_delay = 0.01
    azure.emu.inject_fault("Galleries_Get", status=503, times=5, retry_after=None)

    with pytest.raises(AzureApiError) as raised:
        gallery_get(connection)

    assert raised.value.status == 503
    assert "retried" in raised.value.hint
    assert azure.emu.calls["Galleries_Get"] == 2


def test_a_long_running_operation_is_waited_for_over_its_polls(azure, azure_connection):
    gallery = gallery_create(azure_connection, "second_gallery")

    assert gallery.provisioning_state == "Succeeded"
    polls = azure.emu.calls["AsyncOperations_Get"]
    assert polls >= azure.emu.operation_polls
    assert azure_connection.api_calls()["GET Microsoft.Compute/locations/operations"] == polls
    assert azure.emu.calls["Galleries_CreateOrUpdate"] == 1


def test_a_failed_operation_raises_its_error_code(azure, azure_connection):
    azure.emu.fail_operations("Galleries_CreateOrUpdate", code="GalleryQuotaExceeded", message="too many galleries")

    with pytest.raises(OperationFailed) as raised:
        gallery_create(azure_connection, "third_gallery")

    assert raised.value.code == "GalleryQuotaExceeded"
    assert "too many galleries" in raised.value.message
    # A failed operation is an answer, not a fault: it is not started again.
    assert azure.emu.calls["Galleries_CreateOrUpdate"] == 1


def test_a_poll_that_fails_transiently_resumes_the_same_operation(azure, azure_connection):
    azure.emu.inject_fault("AsyncOperations_Get", status=503, times=1, retry_after=None)

    gallery = gallery_create(azure_connection, "fourth_gallery")

    assert gallery.provisioning_state == "Succeeded"
    assert azure.emu.calls["Galleries_CreateOrUpdate"] == 1


def test_an_operation_that_outlasts_the_timeout_stops_the_wait(azure):
    connection = azure.connection(wait_timeout=1)
    azure.emu.hold_operations()
    try:
        with pytest.raises(WaitTimeout) as raised:
            gallery_create(connection, "slow_gallery")
    finally:
        azure.emu.release_operations()
    assert "Galleries_CreateOrUpdate" in raised.value.message


def test_if_none_match_on_an_existing_resource_is_precondition_failed(azure, azure_connection):
    with pytest.raises(PreconditionFailed) as raised:
        gallery_create(azure_connection, GALLERY, headers={"If-None-Match": "*"})

    assert raised.value.status == 412


def test_awx_credential_variables_and_the_collections_own_are_read(azure):
    connection = AzureConnection.from_params({"cloud": "azure"}, environ=azure.env())

    assert connection.subscription_id == azure.emu.subscription_id
    assert connection.resource_group == RESOURCE_GROUP
    assert connection.gallery == GALLERY
    assert gallery_get(connection).name == GALLERY


def test_options_given_win_over_the_environment_and_region_means_location():
    options = resolve_options(
        {"subscription_id": "given", "region": "northeurope", "endpoint_url": "https://arm.example"},
        environ={"AZURE_SUBSCRIPTION_ID": "from-env", "AZURE_CLIENT_ID": "app"},
    )

    assert options["subscription_id"] == "given"
    assert options["client_id"] == "app"
    assert options["location"] == "northeurope"
    assert options["resource_manager_url"] == "https://arm.example"


def test_a_tasks_region_wins_over_the_location_of_the_environment():
    options = resolve_options({"region": "northeurope"}, environ={"AZURE_LOCATION": "westeurope"})

    assert options["location"] == "northeurope"
    assert resolve_options({}, environ={"AZURE_LOCATION": "westeurope"})["location"] == "westeurope"


def test_a_wrong_secret_is_refused_once_with_a_hint(azure):
    connection = azure.connection(secret="not-the-secret")

    with pytest.raises(AzureApiError) as raised:
        gallery_get(connection)

    assert raised.value.status == 401
    assert "AZURE_SECRET" in raised.value.hint
    assert azure.emu.calls["Identity_Token"] == 1
    assert azure.emu.calls["Galleries_Get"] == 0


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"subscription_id": None}, "no Azure subscription"),
        ({"secret": None}, "secret missing"),
        ({"cloud_environment": "AzureGermanCloud"}, "cloud_environment"),
        ({"ca_bundle": "/nonexistent/ca.pem"}, "not a file"),
    ],
)
def test_bad_connection_options_are_refused_before_any_call(azure, options, words):
    with pytest.raises(InvalidInput) as raised:
        azure.connection(**options)

    assert words in raised.value.message
    assert sum(azure.emu.calls.values()) == 0


def test_a_resource_id_needs_a_resource_group(azure):
    connection = azure.connection(resource_group=None)

    with pytest.raises(InvalidInput, match="resource group"):
        connection.resource_id("Microsoft.Compute/galleries", "g")
    assert connection.resource_id("Microsoft.Compute/galleries", "g", resource_group="rg").endswith(
        "/resourceGroups/rg/providers/Microsoft.Compute/galleries/g"
    )


@pytest.mark.parametrize(
    ("method", "url", "service", "key"),
    [
        (
            "GET",
            "https://h/subscriptions/s/resourceGroups/r/providers/Microsoft.Compute/galleries/g/images/d/versions"
            "?api-version=1",
            None,
            "GET Microsoft.Compute/galleries/images/versions",
        ),
        (
            "POST",
            "https://h/subscriptions/s/resourceGroups/r/providers/Microsoft.Compute/virtualMachines/vm/generalize",
            None,
            "POST Microsoft.Compute/virtualMachines/generalize",
        ),
        ("PUT", "https://h/subscriptions/s/resourcegroups/r", None, "PUT resourceGroups"),
        ("POST", "https://h/tenant/oauth2/v2.0/token", None, "POST identity/token"),
        ("POST", "https://vault.example/keys/k/0123/sign?api-version=7.5", "keyvault", "POST keyvault keys/sign"),
        ("GET", "https://blob.example/audit?restype=container&comp=list", "blob", "GET blob audit?comp=list"),
    ],
)
def test_requests_are_counted_by_what_they_do(method, url, service, key):
    assert call_key(method, url, service) == key
