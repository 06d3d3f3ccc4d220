"""Scale sets as the rollout's groups, its record and the drift scan's instances (_azure/groups.py,
rollout_store.py, instances.py) driven through a real AzureConnection against the ARM emulator."""

from __future__ import annotations

import threading

import pytest
from azure_names import RESOURCE_GROUP
from emulators.arm_scaleset import scale_sets_of
from scaleset_support import gallery_images, pool_id, scale_set, subnet_id

from ansible_collections.phoenix.immutable.plugins.module_utils._azure.groups import (
    MAX_SERVICE_NAME,
    AzureGroupBackend,
)
from ansible_collections.phoenix.immutable.plugins.module_utils._azure.instances import AzureInstanceBackend
from ansible_collections.phoenix.immutable.plugins.module_utils._azure.rollout_store import AzureRolloutStore
from ansible_collections.phoenix.immutable.plugins.module_utils._azure.traffic import AzureTrafficBackend
from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import InvalidInput, PhoenixError
from ansible_collections.phoenix.immutable.plugins.module_utils._core.rollout_model import RolloutRecord


class Service:
    """A served service in the emulator: images 1.0.0 to 1.0.2, base ``web-base`` (capacity 0, the model) and
    blue ``web-a`` (2 instances of 1.0.0 in the load balancer's pool ``web``)."""

    def __init__(self, azure):
        self.azure = azure
        self.emu = azure.emu
        self.images = gallery_images(azure, RESOURCE_GROUP, ("1.0.0", "1.0.1", "1.0.2"))
        self.image, self.image_next, self.image_bad = self.images
        self.pool = pool_id(azure, RESOURCE_GROUP, pool="web")
        self.subnet = subnet_id(azure, RESOURCE_GROUP)
        compute = azure.compute()
        location = self.emu.location
        base = scale_set(location, self.image, pools=(self.pool,), subnet=self.subnet, tags={"cost-centre": "42"})
        pollers = [
            compute.virtual_machine_scale_sets.begin_create_or_update(RESOURCE_GROUP, "web-base", base),
            compute.virtual_machine_scale_sets.begin_create_or_update(
                RESOURCE_GROUP,
                "web-a",
                scale_set(location, self.image, capacity=2, pools=(self.pool,), subnet=self.subnet),
            ),
        ]
        self.emu.settle()
        for poller in pollers:
            poller.result()  # its thread is done: no poll of it is counted later
        self.base = compute.virtual_machine_scale_sets.get(RESOURCE_GROUP, "web-base").id
        self.emu.reset_calls()


@pytest.fixture
def service(azure):
    return Service(azure)


def adapters(azure):
    connection = azure.connection()
    return AzureGroupBackend(connection), AzureRolloutStore(connection)


def first_record(rollout="R1", owner="run-1"):
    return RolloutRecord(
        service="web", role="green", rollout=rollout, image="img", phase="locked", owner=owner, lease_until=99.0
    )


# -- groups ---------------------------------------------------------------------------------------


def test_the_serving_group_is_read_with_its_size_pool_instances_subnet_and_image(azure, service):
    groups, _store = adapters(azure)

    blue = groups.get("web-a")
    listed = sorted(group.name for group in groups.groups())

    assert (blue.size, blue.min_size, blue.max_size) == (2, 2, 2)
    assert blue.backends == [service.pool] and blue.subnets == [service.subnet]
    assert [instance.id.rsplit("/", 1)[1] for instance in blue.live_instances()] == ["0", "1"]
    assert all(instance.healthy for instance in blue.instances)
    assert blue.launch == service.image and groups.image_of(blue) == service.image
    assert blue.record is None and not blue.deleting
    assert listed == ["web-a", "web-base"]
    assert groups.get("web-z") is None


def test_an_unhealthy_instance_is_in_service_but_not_healthy(azure, service):
    groups, _store = adapters(azure)
    blue_id = service.base.replace("web-base", "web-a")
    scale_sets_of(azure.emu).set_instance_health(blue_id, "1", "unhealthy")

    instances = {instance.id.rsplit("/", 1)[1]: instance for instance in groups.get("web-a").instances}

    assert instances["0"].healthy and instances["1"].in_service and not instances["1"].healthy


def test_the_base_resolves_by_name_or_id_and_anything_else_is_refused(azure, service):
    groups, _store = adapters(azure)

    assert groups.resolve_base("web-base") == service.base
    assert groups.resolve_base(service.base) == service.base
    assert groups.base_launch("web-base") == service.image
    for wrong in ("web-none", service.base.replace("virtualMachineScaleSets", "virtualMachines"), "/not/an/id", ""):
        with pytest.raises(InvalidInput):
            groups.resolve_base(wrong)


@pytest.mark.parametrize("refused", ["", "9web", "web_a", "w" * (MAX_SERVICE_NAME + 1)])
def test_a_service_name_compute_would_refuse_is_refused_before_any_call(azure, refused):
    groups, _store = adapters(azure)

    with pytest.raises(InvalidInput):
        groups.check_service_name(refused)
    groups.check_service_name("w" * MAX_SERVICE_NAME)

    assert azure.emu.calls == {}


def test_a_launch_is_the_image_and_nothing_is_made_or_discarded_for_it(azure, service):
    groups, _store = adapters(azure)

    launch = groups.prepare_launch(service.base, service.image_next, "R1")
    prepared = groups.prepared_launches(service.base, "R1")
    groups.discard_launch(launch)

    assert launch == service.image_next and prepared == []
    assert azure.emu.calls == {}
    with pytest.raises(InvalidInput):
        groups.prepare_launch(service.base, "not-an-image", "R1")


def test_a_group_is_created_empty_then_launched_resized_and_deleted_with_its_record(azure, service):
    groups, store = adapters(azure)

    assert store.create("web-b", service.base, [service.subnet], first_record()) is True
    empty = groups.get("web-b")
    groups.launch("web-b", service.image_next, 3)
    launched = groups.get("web-b")
    booted = {vm["properties"]["storageProfile"]["imageReference"]["id"] for vm in members(azure, "web-b")}
    groups.resize("web-b", 1)
    resized = groups.get("web-b")
    groups.delete("web-b")
    groups.delete("web-b")  # one already gone is fine

    assert empty.size == 0 and empty.instances == [] and empty.record == first_record()
    assert empty.backends == [] and empty.subnets == [service.subnet]  # the base's pool is not copied
    assert empty.tags["cost-centre"] == "42"  # the user's own tags of the base are
    assert (
        launched.size == 3 and len(launched.live_instances()) == 3 and groups.image_of(launched) == service.image_next
    )
    assert booted == {service.image_next}
    assert resized.size == 1 and [i.id.rsplit("/", 1)[1] for i in resized.instances] == ["0"]
    assert groups.get("web-b") is None and store.read("web-b") is None
    assert azure.emu.calls["VirtualMachineScaleSets_CreateOrUpdate"] == 1
    assert (
        azure.emu.calls["VirtualMachineScaleSets_Update"] == 2
        and azure.emu.calls["VirtualMachineScaleSets_Delete"] == 2
    )


def members(azure, name):
    """The emulator's view of a scale set's instances (ARM's shape, with instanceView)."""
    path = azure.group_path(RESOURCE_GROUP) + "/providers/Microsoft.Compute/virtualMachineScaleSets/" + name
    return scale_sets_of(azure.emu).members(path)


def test_a_group_created_with_backends_is_in_those_pools_only(azure, service):
    groups, store = adapters(azure)
    other = pool_id(azure, RESOURCE_GROUP, pool="web-canary")

    store.create("web-b", service.base, [], first_record(), backends=[other])

    assert groups.get("web-b").backends == [other]


def test_a_second_create_of_the_name_is_refused_by_412_and_answers_false(azure, service):
    _groups, store = adapters(azure)
    store.create("web-b", service.base, [], first_record())

    with azure.emu.counting() as calls:
        taken = store.create("web-b", service.base, [], first_record(rollout="R2", owner="run-2"))

    assert taken is False and store.read("web-b") == first_record()
    assert calls["VirtualMachineScaleSets_CreateOrUpdate"] == 1


def test_concurrent_creates_of_one_name_give_exactly_one_true(azure, service):
    answers = []

    def create(number):
        _groups, store = adapters(azure)
        answers.append(store.create("web-b", service.base, [], first_record("R%d" % number, "run-%d" % number)))

    threads = [threading.Thread(target=create, args=(number,)) for number in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert sorted(answers) == [False, False, False, True]


def test_a_create_whose_answer_was_lost_is_this_runs_and_a_rivals_group_is_not(azure, service):
    _groups, store = adapters(azure)
    azure.emu.inject_fault("VirtualMachineScaleSets_CreateOrUpdate", status=503, after_apply=True)

    assert store.create("web-b", service.base, [], first_record()) is True
    assert store.create("web-b", service.base, [], first_record(owner="rival")) is False
    assert azure.emu.calls["VirtualMachineScaleSets_CreateOrUpdate"] == 3  # lost, 412 (ours), 412 (a rival's)


# -- the record -----------------------------------------------------------------------------------


def test_a_record_reads_back_as_written_field_by_field_and_clears(azure, service):
    _groups, store = adapters(azure)
    record = first_record()
    store.create("web-b", service.base, [], record)

    record.phase, record.weight, record.reason = "shift", 25, "r" * 300  # longer than a tag value: chunks
    store.write("web-b", record, ["phase", "weight", "reason"])
    written = store.read("web-b")
    record.reason = "short again"
    store.write("web-b", record, ["reason"])
    shortened = store.read("web-b")
    store.clear("web-b", ["weight", "reason", "owner"])
    cleared = store.read("web-b")
    tags = azure.compute().virtual_machine_scale_sets.get(RESOURCE_GROUP, "web-b").tags

    assert (written.phase, written.weight, written.reason) == ("shift", 25, "r" * 300)
    assert shortened.reason == "short again"
    assert (cleared.weight, cleared.reason, cleared.owner, cleared.phase) == (None, None, None, "shift")
    assert tags["phoenix:rollout:phase"] == "shift" and not any(":reason" in key for key in tags)
    assert store.shown("service", "web") == "tag phoenix:rollout:service=web"


def test_a_record_write_starts_from_the_scale_set_as_last_seen_conditional_on_its_etag(azure, service):
    _groups, store = adapters(azure)
    record = first_record()
    store.create("web-b", service.base, [], record)
    record.phase = "shift"

    with azure.emu.counting() as calls:
        store.write("web-b", record, ["phase"])
        record.weight = 10
        store.write("web-b", record, ["weight"])

    # The create's and then each write's answer carry the scale set and its etag: no read before a write (the
    # one GET of each is the operation's own, of its outcome).
    assert calls["VirtualMachineScaleSets_Update"] == 2 and calls["VirtualMachineScaleSets_Get"] == 2
    assert (store.read("web-b").phase, store.read("web-b").weight) == ("shift", 10)


def test_a_record_write_from_a_stale_copy_meets_412_and_keeps_what_someone_else_changed(azure, service):
    _groups, store = adapters(azure)
    record = first_record()
    store.create("web-b", service.base, [], record)
    compute = azure.compute()
    # Someone else tags the scale set after this connection last saw it.
    compute.virtual_machine_scale_sets.begin_update(
        RESOURCE_GROUP,
        "web-b",
        {"tags": {**compute.virtual_machine_scale_sets.get(RESOURCE_GROUP, "web-b").tags, "owner-team": "blue"}},
    ).result()
    record.phase = "shift"

    with azure.emu.counting() as calls:
        store.write("web-b", record, ["phase"])

    tags = compute.virtual_machine_scale_sets.get(RESOURCE_GROUP, "web-b").tags
    assert tags["owner-team"] == "blue" and tags["phoenix:rollout:phase"] == "shift"
    # The conditional PATCH refused (412), a read, the PATCH again (and its operation's GET of its outcome).
    assert calls["VirtualMachineScaleSets_Update"] == 2 and calls["VirtualMachineScaleSets_Get"] == 2


def test_a_conditional_write_whose_answer_was_lost_is_not_applied_twice(azure, service):
    _groups, store = adapters(azure)
    record = first_record()
    store.create("web-b", service.base, [], record)
    azure.emu.inject_fault("VirtualMachineScaleSets_Update", status=503, retry_after=None, after_apply=True)
    record.phase = "shift"

    store.write("web-b", record, ["phase"])

    # Applied, its answer lost; the retry met 412 (its own change), the read found the record written.
    assert azure.emu.pending_faults == {} and store.read("web-b").phase == "shift"
    assert azure.emu.calls["VirtualMachineScaleSets_Update"] == 2


def test_a_remembered_copy_that_needs_no_change_is_read_again_before_nothing_is_done(azure, service):
    groups, store = adapters(azure)
    traffic = AzureTrafficBackend(groups.connection)
    store.create("web-b", service.base, [], first_record(), [service.pool])
    # Someone takes web-b out of the pool after this connection last saw it in.
    compute = azure.compute()
    model = compute.virtual_machine_scale_sets.get(RESOURCE_GROUP, "web-b").as_dict()
    configurations = model["properties"]["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"]
    for configuration in configurations:
        for ip in configuration["properties"]["ipConfigurations"]:
            ip["properties"]["loadBalancerBackendAddressPools"] = []
    patch = {
        "properties": {"virtualMachineProfile": {"networkProfile": {"networkInterfaceConfigurations": configurations}}}
    }
    compute.virtual_machine_scale_sets.begin_update(RESOURCE_GROUP, "web-b", patch).result()

    traffic.attach("web-b", service.pool)

    assert groups.get("web-b").backends == [service.pool]


def test_a_scale_set_changed_under_every_attempt_is_refused_with_a_clear_error(azure, service):
    _groups, store = adapters(azure)
    record = first_record()
    store.create("web-b", service.base, [], record)
    azure.emu.inject_fault("VirtualMachineScaleSets_Update", status=412, times=3, retry_after=None)
    record.phase = "shift"

    with pytest.raises(PhoenixError, match="changed under every one of 3 attempts") as refused:
        store.write("web-b", record, ["phase"])

    assert refused.value.code == "PreconditionFailed" and store.read("web-b").phase == "locked"


def test_writing_the_record_of_a_missing_group_says_so(azure, service):
    _groups, store = adapters(azure)

    with pytest.raises(Exception) as missing:
        store.write("web-z", first_record(), ["phase"])

    assert missing.value.code == "ResourceNotFound" and "web-z" in str(missing.value)


# -- instances for drift --------------------------------------------------------------------------


def test_instances_are_read_with_image_group_subnet_time_and_tags(azure, service):
    instances = AzureInstanceBackend(azure.connection())
    # Scoped by subnet first: a VM's subnet is its NIC's, which this branch's emulator does not serve yet.
    scoped = [item.group for item in instances.instances(subnets=[service.subnet])]
    by_name = [item.group for item in instances.instances(subnets=["web"])]
    elsewhere = list(instances.instances(subnets=["other"]))
    vm = standalone_vm(azure, service.image_next)
    azure.emu.page_size = 1

    with azure.emu.counting() as calls:
        observed = {item.id: item for item in instances.instances(tags={})}
    tagged = [item.id for item in instances.instances(tags={"role": "legacy"})]

    blue = [item for item in observed.values() if item.group == "web-a"]
    assert len(blue) == 2 and {item.image_id for item in blue} == {service.image}
    assert {item.subnet for item in blue} == {service.subnet} and {item.state for item in blue} == {"running"}
    assert all(item.launched.endswith("Z") for item in blue)
    assert observed[vm].group is None and observed[vm].image_id == service.image_next
    assert observed[vm].tags == {"role": "legacy"}
    assert calls["VirtualMachineScaleSetVMs_List"] == 2  # web-a's two pages; web-base (capacity 0) is not read
    assert scoped == by_name == ["web-a", "web-a"] and elsewhere == []
    assert tagged == [vm]


def standalone_vm(azure, image):
    compute = azure.compute()
    nic = azure.network_interface(RESOURCE_GROUP, "legacy-nic")
    body = {
        "location": azure.emu.location,
        "tags": {"role": "legacy"},
        "properties": {
            "hardwareProfile": {"vmSize": "Standard_B2s"},
            "storageProfile": {"imageReference": {"id": image}},
            "osProfile": {"computerName": "legacy", "adminUsername": "phoenix", "adminPassword": "Never-Returned-1"},
            "networkProfile": {"networkInterfaces": [{"id": nic}]},
        },
    }
    made = compute.virtual_machines.begin_create_or_update(RESOURCE_GROUP, "legacy", body)
    azure.emu.settle()
    made.result()
    return compute.virtual_machines.get(RESOURCE_GROUP, "legacy").id


def test_a_replacement_deletes_the_instance_through_its_scale_set_and_scales_back(azure, service):
    instances = AzureInstanceBackend(azure.connection())
    groups, _store = adapters(azure)
    first = groups.get("web-a").instances[0].id

    instances.replace_in_group("web-a", first)
    after = groups.get("web-a")
    instances.replace_in_group("web-a", first)  # gone already: nothing to do

    assert after.size == 2 and first not in {instance.id for instance in after.instances}
    assert sorted(instance.id.rsplit("/", 1)[1] for instance in after.live_instances()) == ["1", "2"]
    assert azure.emu.calls["VirtualMachineScaleSets_DeleteInstances"] == 2
    assert azure.emu.calls["VirtualMachineScaleSets_Update"] == 1


def test_images_are_read_one_list_a_definition_and_a_gone_one_is_left_out(azure, service):
    instances = AzureInstanceBackend(azure.connection())
    gone = service.image.rsplit("/", 1)[0] + "/9.9.9"

    with azure.emu.counting() as calls:
        images = instances.images([service.image, service.image_next, gone])

    assert sorted(image.id for image in images) == sorted([service.image, service.image_next])
    assert {image.state for image in images} == {"available"} and images[0].cloud == "azure"
    assert calls["GalleryImageVersions_ListByGalleryImage"] == 1


def test_a_vm_of_no_group_is_deleted(azure, service):
    instances = AzureInstanceBackend(azure.connection())
    vm = standalone_vm(azure, service.image)

    instances.terminate([vm, vm])

    assert azure.emu.get(vm) is None


def test_throttling_server_errors_and_a_failed_poll_are_retried_without_doing_anything_twice(azure, service):
    groups, store = adapters(azure)
    emu = azure.emu
    emu.inject_fault("VirtualMachineScaleSets_CreateOrUpdate", status=429, times=2, retry_after=None)
    emu.inject_fault("VirtualMachineScaleSets_Update", status=503, retry_after=None, after_apply=True)  # lost answer
    emu.inject_fault("VirtualMachineScaleSetVMs_List", status=429, retry_after=None)

    assert store.create("web-b", service.base, [], first_record()) is True
    emu.inject_fault("AsyncOperations_Get", status=503, retry_after=None)  # a poll of the launch's operation
    groups.launch("web-b", service.image_next, 2)
    launched = groups.get("web-b")

    assert launched.size == 2 and len(launched.live_instances()) == 2 and emu.pending_faults == {}
    assert [instance.id.rsplit("/", 1)[1] for instance in launched.instances] == ["0", "1"]  # one scale-out only
    assert emu.calls["VirtualMachineScaleSets_CreateOrUpdate"] == 3 and emu.calls["VirtualMachineScaleSets_Update"] == 2
