"""The GCP connection layer driven through the real google-auth client against the GCE emulator.

Everything here goes over HTTP on 127.0.0.1: google-auth's JWT-bearer grant with a key the test made, the
AuthorizedSession's calls, the collection's retry policy, pagination and operation waits.
"""

from __future__ import annotations

import json
import socket

import pytest
import requests

from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import InvalidInput, PhoenixError
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp import compute, fleet_api
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.connection import GcpConnection
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.errors import (
    AlreadyExists,
    GcpApiError,
    NotFound,
    PreconditionFailed,
)
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.operations import wait_for

GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"


def make_builder(gce, connection, name="builder-1", zone=None, stop=True):
    """An instance from the seed's base image, stopped (what a bake images), waited for through the collection."""
    zone = zone or gce.seed.zone
    body = {
        "name": name,
        "machineType": "zones/%s/machineTypes/e2-small" % zone,
        "disks": [{"boot": True, "autoDelete": True, "initializeParams": {"sourceImage": gce.seed.base_image}}],
        "labels": {"phoenix-builder": "true"},
    }
    wait_for(connection, compute.insert_instance(connection, gce.seed.project, zone, body), gce.waiter())
    if stop:
        wait_for(connection, compute.stop_instance(connection, gce.seed.project, zone, name), gce.waiter())
    return compute.get_instance(connection, gce.seed.project, zone, name)


# -- credentials -----------------------------------------------------------------------------------


def test_service_account_key_is_granted_a_token_once_and_every_call_carries_it(gce):
    connection = gce.connection()

    images = compute.list_images(connection, gce.seed.project)
    compute.get_image(connection, gce.seed.project, gce.seed.base_image_name)

    assert [image["name"] for image in images] == [gce.seed.base_image_name]
    assert connection.api_calls() == {"compute.images.get": 1, "compute.images.list": 1, "oauth2.token": 1}
    assert gce.emu.calls == {"oauth2.token": 1, "compute.images.list": 1, "compute.images.get": 1}


def test_a_forged_key_is_refused_at_the_token_endpoint(gce, tmp_path):
    # The same account's email, a key the emulator never made: Google refuses its signature.
    forged = gce.emu.service_account_key(gce.key.email, register=False).write(tmp_path / "forged.json")
    connection = gce.connection(service_account_file=str(forged))

    with pytest.raises(PhoenixError) as refused:
        compute.list_images(connection, gce.seed.project)

    assert refused.value.code == "RefreshError"
    assert "Invalid JWT Signature" in refused.value.message
    assert gce.emu.calls["compute.images.list"] == 0


def test_calls_without_a_valid_token_are_refused_with_googles_error_body(gce):
    url = gce.emu.compute_url + "projects/%s/global/images" % gce.seed.project

    bare = requests.get(url, timeout=30)
    forged = gce.connection(auth_kind="accesstoken", access_token="ya29.not-granted", service_account_file=None)

    assert bare.status_code == 401
    error = bare.json()["error"]
    assert error["status"] == "UNAUTHENTICATED" and error["errors"][0]["reason"] == "required"
    with pytest.raises(GcpApiError) as refused:
        compute.list_images(forged, gce.seed.project)
    assert (refused.value.status, refused.value.code, refused.value.cloud) == (401, "authError", "gcp")
    assert "auth_kind" in refused.value.hint


def test_access_token_auth_kind_uses_the_token_given(gce):
    token = gce.emu.issue_token()
    connection = gce.connection(auth_kind="accesstoken", access_token=token, service_account_file=None)

    assert compute.get_image(connection, gce.seed.project, gce.seed.base_image_name)["status"] == "READY"
    assert "oauth2.token" not in gce.emu.calls


def test_token_uri_option_overrides_the_key_files_google_token_uri(gce, tmp_path):
    # AWX writes Google's token_uri into the key file it injects; the option points the grant elsewhere.
    awx_key = gce.emu.service_account_key(token_uri=GOOGLE_TOKEN_URI)
    key_file = awx_key.write(tmp_path / "awx.json")
    assert json.loads(key_file.read_text())["token_uri"] == GOOGLE_TOKEN_URI

    connection = gce.connection(service_account_file=str(key_file), token_uri=gce.emu.token_uri)

    assert compute.list_images(connection, gce.seed.project)
    assert gce.emu.calls["oauth2.token"] == 1


def test_environment_fallbacks_of_awx_and_google_cloud_users(gce):
    environ = {
        "GCE_CREDENTIALS_FILE_PATH": str(gce.key_file),
        "GCE_PROJECT": gce.seed.project,
        "GCP_AUTH_KIND": "serviceaccount",
        "GCP_ENDPOINT_URL": gce.emu.compute_url,
    }
    connection = GcpConnection.from_params({}, environ=environ, retry_policy=gce.retries())

    assert connection.project == gce.seed.project
    assert compute.get_image(connection, gce.seed.project, gce.seed.base_image_name)["kind"] == "compute#image"


def test_service_account_contents_are_accepted_and_project_comes_from_the_key(gce):
    connection = gce.connection(project=None, service_account_file=None, service_account_contents=gce.key.json())

    assert connection.project == gce.seed.project
    assert compute.list_images(connection, gce.seed.project)


def test_a_broken_key_is_refused_before_any_call_without_quoting_it(gce, tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"type": "service_account", "private_key": "-----BEGIN SECRET')

    with pytest.raises(InvalidInput) as refused:
        gce.connection(service_account_file=str(broken))

    assert "not JSON" in refused.value.message and "SECRET" not in str(refused.value)
    assert gce.emu.calls == {}


# -- operations ------------------------------------------------------------------------------------


def test_image_insert_from_a_stopped_builders_disk_is_waited_for_over_several_polls(gce):
    gce.emu.operation_polls = 4
    connection = gce.connection()
    builder = make_builder(gce, connection)
    disk = builder["disks"][0]["source"]

    with gce.emu.counting() as calls:
        operation = compute.insert_image(
            connection, gce.seed.project, {"name": "golden-1", "sourceDisk": disk, "family": "golden"}
        )
        pending = compute.get_image(connection, gce.seed.project, "golden-1")
        done = wait_for(connection, operation, gce.waiter())

    assert operation["status"] == "PENDING" and operation["operationType"] == "insert"
    assert pending["status"] == "PENDING"
    assert done["status"] == "DONE" and "error" not in done
    assert calls["compute.globalOperations.wait"] == 4
    image = compute.get_image(connection, gce.seed.project, "golden-1")
    assert image["status"] == "READY"
    assert image["sourceDisk"] == disk and image["sourceImage"] == gce.seed.base_image
    assert isinstance(image["id"], str) and image["id"].isdigit()
    assert image["selfLink"].endswith("/projects/%s/global/images/golden-1" % gce.seed.project)
    assert compute.get_image_from_family(connection, gce.seed.project, "golden")["name"] == "golden-1"
    assert compute.boot_disk_source_image(connection, builder) == gce.seed.base_image


def test_an_image_of_a_running_instances_disk_is_refused(gce):
    connection = gce.connection()
    builder = make_builder(gce, connection, stop=False)

    with pytest.raises(GcpApiError) as refused:
        compute.insert_image(
            connection, gce.seed.project, {"name": "golden-2", "sourceDisk": builder["disks"][0]["source"]}
        )

    assert (refused.value.status, refused.value.code) == (400, "resourceInUseByAnotherResource")


def test_a_failed_operation_is_a_phoenix_error_naming_its_target(gce):
    connection = gce.connection()
    gce.emu.fail_operations("compute.images.insert", code="QUOTA_EXCEEDED", message="Quota 'IMAGES' exceeded.")

    operation = compute.insert_image(
        connection, gce.seed.project, {"name": "golden-3", "sourceImage": gce.seed.base_image}
    )
    with pytest.raises(PhoenixError) as failed:
        wait_for(connection, operation, gce.waiter())

    target = "projects/%s/global/images/golden-3" % gce.seed.project
    assert failed.value.code == "QUOTA_EXCEEDED" and failed.value.cloud == "gcp"
    assert failed.value.resource == target
    assert target in failed.value.message and "Quota 'IMAGES' exceeded." in failed.value.message
    assert compute.get_image(connection, gce.seed.project, "golden-3")["status"] == "FAILED"


def test_a_zonal_operation_is_waited_for_in_its_zone(gce):
    connection = gce.connection()

    with gce.emu.counting() as calls:
        make_builder(gce, connection, stop=False)

    assert calls["compute.zoneOperations.wait"] == 3
    assert compute.get_instance(connection, gce.seed.project, gce.seed.zone, "builder-1")["status"] == "RUNNING"


# -- paging ----------------------------------------------------------------------------------------


def test_images_are_read_over_several_pages_with_a_filter(gce):
    for number in range(7):
        gce.emu.put_image("golden-%d" % number, family="golden", labels={"role": "build" if number % 2 else "test"})
    connection = gce.connection()

    with gce.emu.counting() as calls:
        every = compute.list_images(connection, gce.seed.project, page_size=3)
        built = compute.list_images(connection, gce.seed.project, 'labels.role = "build"', page_size=2)

    assert len(every) == 8
    assert [image["name"] for image in built] == ["golden-1", "golden-3", "golden-5"]
    assert calls["compute.images.list"] == 3 + 2


def test_aggregated_instances_are_read_over_pages_across_zones(gce):
    connection = gce.connection()
    zones = gce.emu.zones[:3]
    for index in range(5):
        body = {
            "name": "web-%d" % index,
            "machineType": "e2-small",
            "disks": [{"boot": True, "initializeParams": {"sourceImage": gce.seed.base_image}}],
        }
        compute.insert_instance(connection, gce.seed.project, zones[index % 3], body)
    gce.emu.settle()

    with gce.emu.counting() as calls:
        found = compute.aggregated_instances(connection, gce.seed.project, "status = RUNNING", page_size=2)

    assert sorted((zone, instance["name"]) for zone, instance in found) == sorted(
        (zones[index % 3], "web-%d" % index) for index in range(5)
    )
    assert calls["compute.instances.aggregatedList"] == 3


# -- errors and fingerprints -----------------------------------------------------------------------


def test_googles_error_answers_become_typed_phoenix_errors(gce):
    connection = gce.connection()

    with pytest.raises(NotFound) as missing:
        compute.get_image(connection, gce.seed.project, "no-such-image")
    with pytest.raises(AlreadyExists) as duplicate:
        compute.insert_image(
            connection, gce.seed.project, {"name": gce.seed.base_image_name, "sourceImage": gce.seed.base_image}
        )
    with pytest.raises(GcpApiError) as bad_name:
        compute.insert_image(connection, gce.seed.project, {"name": "Bad_Name", "sourceImage": gce.seed.base_image})

    assert (missing.value.status, missing.value.code) == (404, "notFound")
    assert missing.value.resource == "projects/%s/global/images/no-such-image" % gce.seed.project
    assert "compute.images.get" in missing.value.message and "exists in this project" in missing.value.hint
    assert (duplicate.value.status, duplicate.value.code) == (409, "alreadyExists")
    assert (bad_name.value.status, bad_name.value.code) == (400, "invalid")
    assert "resource.name" in bad_name.value.message


def test_a_stale_label_fingerprint_is_refused_with_412(gce):
    connection = gce.connection()
    name = gce.seed.base_image_name
    read = compute.get_image(connection, gce.seed.project, name)
    wait_for(
        connection,
        compute.set_image_labels(connection, gce.seed.project, name, {"os": "debian-12"}, read["labelFingerprint"]),
        gce.waiter(),
    )

    with pytest.raises(PreconditionFailed) as stale:
        compute.set_image_labels(connection, gce.seed.project, name, {"channel": "prod"}, read["labelFingerprint"])

    assert (stale.value.status, stale.value.code) == (412, "conditionNotMet")
    assert compute.get_image(connection, gce.seed.project, name)["labels"] == {"os": "debian-12"}


def test_a_label_change_racing_another_writer_is_re_read_and_redone(gce):
    connection = gce.connection()
    name = gce.seed.base_image_name
    other = gce.connection()

    def another_writer():
        image = gce.emu.images.find(gce.seed.project, "global", name)
        labels = dict(image["labels"], owner="team-b")
        image["labels"] = labels
        image["labelFingerprint"] = "changed-by-another-writer"

    gce.emu.before_call("compute.images.setLabels", another_writer)
    with gce.emu.counting() as calls:
        written = compute.change_image_labels(connection, gce.seed.project, name, {"channel": "prod"}, ["role"])

    assert written == {"os": "debian-12", "owner": "team-b", "channel": "prod"}
    assert compute.get_image(other, gce.seed.project, name)["labels"] == written
    assert calls["compute.images.get"] == 2 and calls["compute.images.setLabels"] == 2


def test_deprecation_hides_an_image_from_its_family(gce):
    connection = gce.connection()
    gce.emu.put_image("golden-new", family="golden")
    older = gce.emu.put_image("golden-old", family="golden")
    older["creationTimestamp"] = "2020-01-01T00:00:00.000-00:00"

    wait_for(
        connection,
        compute.deprecate_image(
            connection, gce.seed.project, "golden-new", "DEPRECATED", replacement=older["selfLink"]
        ),
        gce.waiter(),
    )

    deprecated = compute.get_image(connection, gce.seed.project, "golden-new")["deprecated"]
    assert deprecated == {"state": "DEPRECATED", "replacement": older["selfLink"]}
    assert compute.get_image_from_family(connection, gce.seed.project, "golden")["name"] == "golden-old"
    with pytest.raises(GcpApiError) as refused:
        compute.deprecate_image(connection, gce.seed.project, "golden-old", "RETIRED")
    assert refused.value.code == "invalid" and "state" in refused.value.message


def test_an_image_delete_completes_when_its_operation_is_done(gce):
    connection = gce.connection()
    gce.emu.put_image("golden-gone")

    operation = compute.delete_image(connection, gce.seed.project, "golden-gone")
    assert compute.get_image(connection, gce.seed.project, "golden-gone")["status"] == "DELETING"
    wait_for(connection, operation, gce.waiter())

    with pytest.raises(NotFound):
        compute.get_image(connection, gce.seed.project, "golden-gone")


# -- retries ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "reason"), [(429, "rateLimitExceeded"), (503, "backendError")])
def test_injected_throttling_and_server_errors_are_retried(gce, status, reason):
    connection = gce.connection()
    gce.emu.inject_fault("compute.images.get", status=status, times=2)

    image = compute.get_image(connection, gce.seed.project, gce.seed.base_image_name)

    assert image["name"] == gce.seed.base_image_name
    assert gce.emu.calls["compute.images.get"] == 3
    assert connection.api_calls()["compute.images.get"] == 3
    assert gce.emu.pending_faults == {}


def test_retries_give_up_with_the_last_error(gce):
    connection = gce.connection(retry_policy=gce.retries(max_attempts=3))
    gce.emu.inject_fault("compute.images.list", status=503, times=10)

    with pytest.raises(GcpApiError) as gave_up:
        compute.list_images(connection, gce.seed.project)

    assert (gave_up.value.status, gave_up.value.code) == (503, "backendError")
    assert "retried" in gave_up.value.hint
    assert gce.emu.calls["compute.images.list"] == 3


def test_a_seeded_fault_rate_is_ridden_out_by_the_retry_policy(gce):
    connection = gce.connection(retry_policy=gce.retries(max_attempts=10))
    gce.emu.fault_rate(0.3, seed=11, calls={"compute.images.get"})

    for _attempt in range(20):
        compute.get_image(connection, gce.seed.project, gce.seed.base_image_name)

    sent = gce.emu.calls["compute.images.get"]
    assert sent > 20
    assert connection.api_calls()["compute.images.get"] == sent


def test_a_lost_insert_answer_is_retried_with_its_request_id_and_applied_once(gce):
    # The emulator applies the insert, then answers 503. The retry carries the same requestId, so Compute
    # answers with the first insert's operation instead of making the image again (or answering 409).
    connection = gce.connection()
    gce.emu.inject_fault("compute.images.insert", status=503, after_apply=True)

    operation = compute.insert_image(
        connection, gce.seed.project, {"name": "golden-4", "sourceImage": gce.seed.base_image}
    )
    wait_for(connection, operation, gce.waiter())

    assert gce.emu.calls["compute.images.insert"] == 2
    assert len(gce.emu.operations) == 1
    assert compute.get_image(connection, gce.seed.project, "golden-4")["status"] == "READY"


def test_a_request_id_is_not_reused_across_calls(gce):
    connection = gce.connection()
    body = {"name": "golden-5", "sourceImage": gce.seed.base_image}

    compute.insert_image(connection, gce.seed.project, body)
    with pytest.raises(AlreadyExists):
        compute.insert_image(connection, gce.seed.project, body)

    assert gce.emu.calls["compute.images.insert"] == 2


def test_a_refused_connection_is_retried_then_reported_with_a_hint(gce):
    with socket.socket() as probe:  # a port nothing listens on once the probe is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    connection = gce.connection(
        auth_kind="accesstoken",
        access_token=gce.emu.issue_token(),
        service_account_file=None,
        endpoint_url="http://127.0.0.1:%d/compute/v1/" % port,
        retry_policy=gce.retries(max_attempts=3),
    )

    with pytest.raises(PhoenixError) as unreachable:
        compute.get_image(connection, gce.seed.project, gce.seed.base_image_name)

    assert unreachable.value.code == "ConnectionError" and "endpoint_url" in unreachable.value.hint
    assert connection.api_calls() == {"compute.images.get": 3}


def test_application_default_credentials_are_found_through_google_application_credentials(gce, monkeypatch):
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(gce.key_file))

    connection = gce.connection(auth_kind="application", project=None, service_account_file=None)

    assert connection.project == gce.seed.project
    assert compute.get_image(connection, gce.seed.project, gce.seed.base_image_name)["status"] == "READY"
    assert gce.emu.calls["oauth2.token"] == 1


def test_instance_templates_are_made_found_by_the_image_they_launch_and_deleted(gce):
    connection = gce.connection()

    def template(name, image):
        return {
            "name": name,
            "properties": {
                "machineType": "e2-small",
                "disks": [{"boot": True, "initializeParams": {"sourceImage": image}}],
                "labels": {"service": "web"},
            },
        }

    for name, image in (
        ("web-1", gce.seed.base_image),
        ("web-2", "projects/debian-cloud/global/images/family/debian-12"),
    ):
        fleet_api.insert_template(connection, gce.seed.project, "global", template(name, image), gce.waiter())
    using_base = fleet_api.list_templates(
        connection,
        gce.seed.project,
        "global",
        'properties.disks.initializeParams.sourceImage = "%s"' % gce.seed.base_image,
    )
    with pytest.raises(NotFound):
        fleet_api.insert_template(connection, gce.seed.project, "global", template("web-3", "global/images/no-such"))
    with pytest.raises(AlreadyExists):
        fleet_api.insert_template(connection, gce.seed.project, "global", template("web-1", gce.seed.base_image))
    fleet_api.delete_template(connection, gce.seed.project, "global", "web-1", gce.waiter())

    assert [found["name"] for found in using_base] == ["web-1"]
    kept = fleet_api.get_template(connection, gce.seed.project, "global", "web-2")
    assert kept["kind"] == "compute#instanceTemplate"
    assert kept["properties"]["disks"][0]["initializeParams"]["sourceImage"].endswith("/family/debian-12")
    assert [found["name"] for found in fleet_api.list_templates(connection, gce.seed.project, "global")] == ["web-2"]


def test_project_metadata_is_written_with_its_fingerprint_and_a_stale_one_is_refused(gce):
    connection = gce.connection()
    read = fleet_api.get_project(connection, gce.seed.project)["commonInstanceMetadata"]
    entry = {"key": "phoenix-rollout-web-a", "value": "phase=lock"}

    fleet_api.set_common_instance_metadata(connection, gce.seed.project, [entry], read["fingerprint"], gce.waiter())
    with pytest.raises(PreconditionFailed) as stale:
        fleet_api.set_common_instance_metadata(connection, gce.seed.project, [], read["fingerprint"], gce.waiter())
    with pytest.raises(GcpApiError) as bad_key:
        now = fleet_api.get_project(connection, gce.seed.project)["commonInstanceMetadata"]["fingerprint"]
        fleet_api.set_common_instance_metadata(
            connection, gce.seed.project, [{"key": "no spaces", "value": ""}], now, gce.waiter()
        )

    project = fleet_api.get_project(connection, gce.seed.project)
    assert project["kind"] == "compute#project" and project["commonInstanceMetadata"]["items"] == [entry]
    assert project["commonInstanceMetadata"]["fingerprint"] != read["fingerprint"]
    assert stale.value.code == "conditionNotMet"
    assert bad_key.value.code == "invalid" and "metadata.items[0].key" in bad_key.value.message


def test_a_builders_ssh_key_goes_into_its_metadata_and_its_firewall_rule_is_made_and_removed(gce):
    connection = gce.connection()
    builder = make_builder(gce, connection, stop=False)
    key = {"key": "ssh-keys", "value": "phoenix:ssh-ed25519 AAAA phoenix"}
    rule = {
        "name": "phoenix-builder-1-ssh",
        "description": "phoenix builder builder-1",
        "allowed": [{"IPProtocol": "tcp", "ports": ["22"]}],
        "sourceRanges": ["203.0.113.0/24"],
        "targetTags": ["phoenix-builder-1"],
    }

    wait_for(
        connection,
        compute.set_instance_metadata(
            connection, gce.seed.project, gce.seed.zone, "builder-1", [key], builder["metadata"]["fingerprint"]
        ),
        gce.waiter(),
    )
    with pytest.raises(PreconditionFailed):
        compute.set_instance_metadata(
            connection, gce.seed.project, gce.seed.zone, "builder-1", [], builder["metadata"]["fingerprint"]
        )
    wait_for(connection, compute.insert_firewall(connection, gce.seed.project, rule), gce.waiter())
    with pytest.raises(GcpApiError) as labelled:
        compute.insert_firewall(connection, gce.seed.project, dict(rule, name="other", labels={"a": "b"}))
    made = compute.list_firewalls(connection, gce.seed.project, 'description = "phoenix builder builder-1"')
    wait_for(connection, compute.delete_firewall(connection, gce.seed.project, rule["name"]), gce.waiter())

    instance = compute.get_instance(connection, gce.seed.project, gce.seed.zone, "builder-1")
    assert instance["metadata"]["items"] == [key]
    assert labelled.value.code == "invalid" and "labels" in labelled.value.message
    assert [found["name"] for found in made] == [rule["name"]]
    assert made[0]["allowed"] == rule["allowed"] and made[0]["direction"] == "INGRESS"
    assert compute.list_firewalls(connection, gce.seed.project) == []
