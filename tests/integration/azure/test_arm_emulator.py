"""The ARM emulator driven by the real Azure SDK: azure-identity and azure-mgmt-compute over TLS.

What the Azure adapter will rely on: a token from the emulator's Entra ID endpoints, Compute Gallery resources
made through long-running operations that take several polls, nextLink paging, ARM's error bodies mapped by
the SDK to its exceptions, and faults a retry policy can see (429 with Retry-After, a lost answer).
"""

from __future__ import annotations

import pytest
import requests
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
)
from azure.mgmt.compute.models import (
    Gallery,
    GalleryArtifactVersionFullSource,
    GalleryImage,
    GalleryImageIdentifier,
    GalleryImageVersion,
    GalleryImageVersionPublishingProfile,
    GalleryImageVersionStorageProfile,
    GalleryImageVersionUpdate,
    TargetRegion,
)

GROUP = "rg-images"
GALLERY = "phoenix_gallery"
IMAGE = "web"


def image_definition(location: str) -> GalleryImage:
    return GalleryImage(
        location=location,
        os_type="Linux",
        os_state="Generalized",
        hyper_v_generation="V2",
        identifier=GalleryImageIdentifier(publisher="phoenix", offer="web", sku="debian-12"),
        tags={"phoenix:role": "web"},
    )


def image_version(location: str, source_id: str, **publishing) -> GalleryImageVersion:
    return GalleryImageVersion(
        location=location,
        publishing_profile=GalleryImageVersionPublishingProfile(
            target_regions=[
                TargetRegion(name=location, regional_replica_count=2),
                TargetRegion(name="westeurope", regional_replica_count=1),
            ],
            replica_count=2,
            **publishing,
        ),
        storage_profile=GalleryImageVersionStorageProfile(source=GalleryArtifactVersionFullSource(id=source_id)),
        tags={"phoenix:build": "42"},
    )


@pytest.fixture
def gallery(arm):
    """A resource group with a gallery and an image definition, made with operations that end at once."""
    arm.group(GROUP)
    arm.emu.operation_polls = 1
    compute = arm.compute()
    location = arm.emu.location
    compute.galleries.begin_create_or_update(GROUP, GALLERY, Gallery(location=location)).result()
    compute.gallery_images.begin_create_or_update(GROUP, GALLERY, IMAGE, image_definition(location)).result()
    arm.emu.operation_polls = 3
    arm.emu.reset_calls()
    return compute


# TLS and identity --------------------------------------------------------------------------------


def test_the_emulator_is_trusted_through_the_test_ca_only(arm):
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(arm.emu.endpoint_url + "/subscriptions", timeout=30)

    answer = arm.rest("GET", "/subscriptions/%s/resourceGroups" % arm.emu.subscription_id)

    assert answer.status_code == 200 and answer.json() == {"value": []}


def test_a_client_secret_credential_reads_the_openid_configuration_then_gets_a_token(arm):
    credential = arm.credential()

    token = credential.get_token(arm.emu.credential_scope)
    credential.get_token(arm.emu.credential_scope)  # cached by MSAL: no second grant

    assert token.token in arm.emu.tokens and token.expires_on > 0
    assert arm.emu.calls == {"Identity_OpenIdConfiguration": 1, "Identity_Token": 1}


def test_a_wrong_secret_is_refused_as_entra_id_refuses_it(arm):
    credential = arm.credential(client_secret="not-the-secret")

    with pytest.raises(ClientAuthenticationError) as refused:
        credential.get_token(arm.emu.credential_scope)

    # azure-identity shows the error_description, which starts with the AADSTS code.
    assert "AADSTS7000215: Invalid client secret provided" in str(refused.value)
    assert arm.emu.tokens == {}


def test_an_unknown_client_and_an_unknown_tenant_are_refused(arm):
    with pytest.raises(ClientAuthenticationError) as unknown_client:
        arm.credential(client_id="00000000-0000-4000-8000-000000000001").get_token(arm.emu.credential_scope)
    with pytest.raises(ClientAuthenticationError) as unknown_tenant:
        arm.credential(tenant_id="00000000-0000-4000-8000-000000000002").get_token(arm.emu.credential_scope)

    assert "AADSTS700016" in str(unknown_client.value)
    # MSAL reports the unknown tenant's 400 invalid_tenant on the openid-configuration as an authority problem.
    assert "Unable to get authority configuration" in str(unknown_tenant.value)
    assert arm.emu.calls == {"Identity_OpenIdConfiguration": 2, "Identity_Token": 1}


def test_a_throttled_token_endpoint_fails_as_an_authentication_error_without_a_status(arm):
    arm.emu.inject_fault("Identity_Token", status=429, retry_after=0)

    with pytest.raises(ClientAuthenticationError) as throttled:
        arm.credential().get_token(arm.emu.credential_scope)

    # Only the AADSTS code in the message tells a throttled grant from a refused one: no status, no response.
    assert "AADSTS50196" in str(throttled.value) and throttled.value.status_code is None
    assert arm.emu.calls == {"Identity_OpenIdConfiguration": 1, "Identity_Token": 1}


def test_a_call_without_a_token_or_with_a_bad_one_is_refused_with_a_challenge(arm):
    path = "/subscriptions/%s/resourceGroups" % arm.emu.subscription_id

    missing = arm.rest("GET", path, token=None)
    forged = arm.rest("GET", path, token="eyJhbGciOiJub25lIn0.e30.forged")
    vault_token = arm.rest("GET", path, token=arm.token("https://vault.azure.net/.default"))

    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith(
        'Bearer authorization_uri="%s/%s"' % (arm.emu.authority_url, arm.emu.tenant_id)
    )
    assert missing.json()["error"]["code"] == "AuthenticationFailed"
    assert forged.status_code == 401 and forged.json()["error"]["code"] == "InvalidAuthenticationToken"
    assert vault_token.json()["error"]["code"] == "InvalidAuthenticationTokenAudience"


def test_a_token_expired_on_the_server_fails_the_sdk_call_without_a_new_grant(arm, gallery):
    arm.emu.expire_tokens()

    with pytest.raises(ClientAuthenticationError) as refused:
        gallery.galleries.get(GROUP, GALLERY)

    # The SDK's bearer policy does not ask for a new token on a plain 401: the caller must retry with one.
    assert refused.value.error.code == "ExpiredAuthenticationToken"
    assert arm.emu.calls["Identity_Token"] == 0


# ARM's rules -------------------------------------------------------------------------------------


def test_api_version_is_required_and_must_be_a_date(arm):
    path = "/subscriptions/%s/resourceGroups" % arm.emu.subscription_id

    missing = arm.rest("GET", path, api_version=None)
    malformed = arm.rest("GET", path, api_version="latest")

    assert missing.status_code == 400 and missing.json()["error"]["code"] == "MissingApiVersionParameter"
    assert malformed.status_code == 400 and malformed.json()["error"]["code"] == "InvalidApiVersionParameter"


def test_resource_groups_are_created_checked_and_deleted_with_what_they_hold(arm, gallery):
    path = arm.group_path(GROUP)

    again = arm.rest("PUT", path, json={"location": "East US", "tags": {"team": "images"}})
    moved = arm.rest("PUT", path, json={"location": "westeurope"})
    exists = arm.rest("HEAD", path)
    deletion = arm.rest("DELETE", path)
    polls = [
        arm.rest("GET", deletion.headers["Location"], api_version=None) for _poll in range(arm.emu.operation_polls)
    ]

    assert again.status_code == 200 and again.json()["tags"] == {"team": "images"}
    assert again.json()["id"] == path and again.json()["properties"]["provisioningState"] == "Succeeded"
    assert moved.status_code == 409 and moved.json()["error"]["code"] == "InvalidResourceGroupLocation"
    assert exists.status_code == 204
    assert deletion.status_code == 202 and "Azure-AsyncOperation" not in deletion.headers
    assert [poll.status_code for poll in polls] == [202, 202, 204]
    assert arm.rest("HEAD", path).status_code == 404
    with pytest.raises(ResourceNotFoundError) as gone:
        gallery.galleries.get(GROUP, GALLERY)
    assert gone.value.error.code == "ResourceGroupNotFound"


def test_a_missing_resource_is_a_resource_not_found_error_with_arms_code(arm, gallery):
    with pytest.raises(ResourceNotFoundError) as no_gallery:
        gallery.galleries.get(GROUP, "nope")
    with pytest.raises(ResourceNotFoundError) as no_parent:
        gallery.gallery_image_versions.get(GROUP, "nope", IMAGE, "1.0.0")
    with pytest.raises(ResourceNotFoundError) as no_group:
        gallery.galleries.get("rg-missing", GALLERY)

    assert no_gallery.value.status_code == 404 and no_gallery.value.error.code == "ResourceNotFound"
    assert "Microsoft.Compute/galleries/nope" in no_gallery.value.error.message
    assert no_parent.value.error.code == "ParentResourceNotFound"
    assert no_group.value.error.code == "ResourceGroupNotFound"
    assert arm.emu.calls == {"Galleries_Get": 2, "GalleryImageVersions_Get": 1}


# Long-running operations -------------------------------------------------------------------------


def test_an_image_version_is_created_by_an_operation_that_takes_several_polls(arm, gallery):
    location = arm.emu.location
    version = image_version(location, arm.source_image(GROUP), end_of_life_date="2027-06-30T00:00:00+00:00")

    created = gallery.gallery_image_versions.begin_create_or_update(GROUP, GALLERY, IMAGE, "1.0.0", version).result()

    assert created.provisioning_state == "Succeeded"
    assert created.id == (
        "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/galleries/%s/images/%s/versions/1.0.0"
        % (arm.emu.subscription_id, GROUP, GALLERY, IMAGE)
    )
    profile = created.publishing_profile
    assert [(region.name, region.regional_replica_count) for region in profile.target_regions] == [
        (location, 2),
        ("westeurope", 1),
    ]
    assert profile.replica_count == 2 and profile.exclude_from_latest is False
    assert profile.end_of_life_date.year == 2027 and profile.published_date is not None
    assert created.storage_profile.source.id == arm.source_image(GROUP)
    assert created.tags == {"phoenix:build": "42"}
    # One PUT, every poll of the Azure-AsyncOperation URL, then the poller's final GET of the version.
    assert arm.emu.calls == {
        "GalleryImageVersions_CreateOrUpdate": 1,
        "AsyncOperations_Get": arm.emu.operation_polls,
        "GalleryImageVersions_Get": 1,
    }


def test_a_version_reads_creating_until_its_operation_succeeds(arm, gallery):
    arm.emu.hold_operations()
    version = image_version(arm.emu.location, arm.source_image(GROUP))

    # The SDK's poller starts polling in its own thread at once: held, its polls move nothing.
    poller = gallery.gallery_image_versions.begin_create_or_update(GROUP, GALLERY, IMAGE, "1.0.0", version)
    during = gallery.gallery_image_versions.get(GROUP, GALLERY, IMAGE, "1.0.0")
    arm.emu.release_operations()
    created = poller.result()

    assert during.provisioning_state == "Creating" and poller.done()
    assert created.provisioning_state == "Succeeded"
    assert gallery.gallery_image_versions.get(GROUP, GALLERY, IMAGE, "1.0.0").provisioning_state == "Succeeded"


def test_a_failed_operation_fails_the_poller_and_leaves_the_version_failed(arm, gallery):
    arm.emu.fail_operations("GalleryImageVersions_CreateOrUpdate", code="ReplicationFailed", message="no capacity")
    version = image_version(arm.emu.location, arm.source_image(GROUP))

    with pytest.raises(HttpResponseError) as failed:
        gallery.gallery_image_versions.begin_create_or_update(GROUP, GALLERY, IMAGE, "1.0.0", version).result()

    assert failed.value.error.code == "ReplicationFailed" and "no capacity" in failed.value.error.message
    assert gallery.gallery_image_versions.get(GROUP, GALLERY, IMAGE, "1.0.0").provisioning_state == "Failed"
    assert arm.emu.calls["AsyncOperations_Get"] == arm.emu.operation_polls


def test_tags_and_retirement_are_patched_and_a_version_is_deleted_by_an_operation(arm, gallery):
    arm.emu.operation_polls = 1
    versions = gallery.gallery_image_versions
    versions.begin_create_or_update(
        GROUP, GALLERY, IMAGE, "1.0.0", image_version(arm.emu.location, arm.source_image(GROUP))
    ).result()
    arm.emu.operation_polls = 2

    update = GalleryImageVersionUpdate(
        tags={"phoenix:channel": "prod"},
        publishing_profile=GalleryImageVersionPublishingProfile(
            exclude_from_latest=True, end_of_life_date="2027-01-01T00:00:00Z"
        ),
    )
    patched = versions.begin_update(GROUP, GALLERY, IMAGE, "1.0.0", update).result()
    with pytest.raises(ResourceExistsError) as in_use:
        gallery.gallery_images.begin_delete(GROUP, GALLERY, IMAGE)
    versions.begin_delete(GROUP, GALLERY, IMAGE, "1.0.0").result()

    assert patched.tags == {"phoenix:channel": "prod"}  # a PATCH's tags replace the old ones
    assert patched.publishing_profile.exclude_from_latest is True
    assert patched.publishing_profile.replica_count == 2  # merged, not replaced
    assert in_use.value.status_code == 409
    with pytest.raises(ResourceNotFoundError):
        versions.get(GROUP, GALLERY, IMAGE, "1.0.0")
    assert arm.emu.calls["GalleryImageVersions_Update"] == 1 and arm.emu.calls["GalleryImageVersions_Delete"] == 1


def test_arm_refuses_a_bad_version_name_a_long_tag_and_a_changed_source(arm, gallery):
    versions = gallery.gallery_image_versions
    location, source = arm.emu.location, arm.source_image(GROUP)
    long_tag = image_version(location, source)
    long_tag.tags = {"phoenix:sig": "x" * 257}

    with pytest.raises(HttpResponseError) as bad_name:
        versions.begin_create_or_update(GROUP, GALLERY, IMAGE, "1.0", image_version(location, source))
    with pytest.raises(HttpResponseError) as too_long:
        versions.begin_create_or_update(GROUP, GALLERY, IMAGE, "1.0.0", long_tag)
    arm.emu.operation_polls = 1
    versions.begin_create_or_update(GROUP, GALLERY, IMAGE, "1.0.0", image_version(location, source)).result()
    with pytest.raises(HttpResponseError) as changed:
        versions.begin_create_or_update(
            GROUP, GALLERY, IMAGE, "1.0.0", image_version(location, arm.source_image(GROUP, "other"))
        )

    assert bad_name.value.status_code == 400 and bad_name.value.error.code == "InvalidParameter"
    assert bad_name.value.error.target == "galleryImageVersionName"
    assert too_long.value.error.code == "InvalidTagValueLength"
    assert changed.value.status_code == 409 and changed.value.error.code == "PropertyChangeNotAllowed"


# Paging, preconditions, counting and faults -------------------------------------------------------


def test_lists_are_paged_by_next_link(arm, gallery):
    arm.emu.operation_polls = 1
    arm.emu.page_size = 2
    source = arm.source_image(GROUP)
    for patch in range(5):
        gallery.gallery_image_versions.begin_create_or_update(
            GROUP, GALLERY, IMAGE, "1.0.%d" % patch, image_version(arm.emu.location, source)
        ).result()
    arm.emu.reset_calls()

    names = [version.name for version in gallery.gallery_image_versions.list_by_gallery_image(GROUP, GALLERY, IMAGE)]

    assert names == ["1.0.0", "1.0.1", "1.0.2", "1.0.3", "1.0.4"]
    assert arm.emu.calls == {"GalleryImageVersions_ListByGalleryImage": 3}


def test_if_none_match_star_creates_once_and_then_answers_412(arm, gallery):
    location = arm.emu.location

    first = gallery.galleries.begin_create_or_update(
        GROUP, "second_gallery", Gallery(location=location), headers={"If-None-Match": "*"}
    ).result()
    with pytest.raises(HttpResponseError) as exists:
        gallery.galleries.begin_create_or_update(
            GROUP, "second_gallery", Gallery(location=location), headers={"If-None-Match": "*"}
        )

    assert first.provisioning_state == "Succeeded"
    assert exists.value.status_code == 412 and exists.value.error.code == "PreconditionFailed"


def test_a_throttled_call_carries_retry_after_and_the_next_one_is_served(arm, gallery):
    arm.emu.inject_fault("Galleries_Get", status=429, retry_after=7)

    with pytest.raises(HttpResponseError) as throttled:
        gallery.galleries.get(GROUP, GALLERY)
    served = gallery.galleries.get(GROUP, GALLERY)

    assert throttled.value.status_code == 429 and throttled.value.error.code == "TooManyRequests"
    assert throttled.value.response.headers["Retry-After"] == "7"
    assert served.name == GALLERY
    assert arm.emu.calls == {"Galleries_Get": 2} and arm.emu.pending_faults == {}


def test_a_lost_answer_is_applied_although_the_client_saw_503(arm, gallery):
    arm.emu.inject_fault("Galleries_CreateOrUpdate", status=503, after_apply=True)

    with pytest.raises(HttpResponseError) as lost:
        gallery.galleries.begin_create_or_update(GROUP, "lost_gallery", Gallery(location=arm.emu.location))
    arm.emu.settle()

    assert lost.value.status_code == 503
    assert gallery.galleries.get(GROUP, "lost_gallery").provisioning_state == "Succeeded"


def test_a_seeded_fault_rate_fails_the_same_calls_each_time(arm, gallery):
    def outcomes() -> list[int]:
        arm.emu.fault_rate(0.3, seed=11)
        seen = []
        for _attempt in range(20):
            try:
                gallery.galleries.get(GROUP, GALLERY)
                seen.append(200)
            except HttpResponseError as error:
                seen.append(error.status_code)
        arm.emu.clear_faults()
        return seen

    first, second = outcomes(), outcomes()

    assert first == second
    assert {429, 503} & set(first) and 200 in first
