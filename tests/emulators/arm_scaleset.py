"""The ARM emulator's virtual machine scale sets (Uniform orchestration): what instance groups are on Azure.

- **A scale set** (``Microsoft.Compute/virtualMachineScaleSets``) is made by PUT with ``sku`` (``name``,
  ``capacity``) and ``properties.virtualMachineProfile``: ``storageProfile.imageReference`` (a gallery image version
  id, an image definition id meaning its latest version, or a marketplace reference), ``osProfile``
  (``computerNamePrefix``, ``adminUsername``) and ``networkProfile.networkInterfaceConfigurations`` whose
  ``ipConfigurations`` may name load balancer backend pools (``loadBalancerBackendAddressPools``, kept as data:
  `members_of_pool` tells a load balancer emulator which instances are in a pool). ``If-None-Match: *`` on an
  existing one is 412 PreconditionFailed. Its ``etag`` (``"1"``, ``"2"`` ...) changes with every change of its
  model, tags or capacity; a PUT or PATCH with ``If-Match`` naming another is 412 PreconditionFailed. PUT and PATCH
  (``sku.capacity``, the model, tags) and DELETE are long-running operations; a change of capacity adds instances at
  once (``Creating``, ``Succeeded`` when the operation is) or marks the highest instance ids ``Deleting`` (gone when
  it is), as Azure's default scale-in policy picks them. A scale set's operations end in the order they started (ARM
  runs them one after the other): one nobody polls (its client died, its answer was lost) has ended once a later one
  has. Lists by resource group and by subscription page with ``nextLink``.
- **Its instances** (``.../virtualMachineScaleSets/{name}/virtualMachines``, instance ids ``0``, ``1`` ... never
  reused): list (paged; ``$expand=instanceView``), get (``$expand=instanceView``), instanceView, DELETE of one,
  ``POST .../delete`` with ``instanceIds`` (both lower the capacity, as on Azure) and ``POST .../manualupgrade``
  (``update_instances``: the listed instances take the latest model). Each instance keeps the model it was made
  with or last upgraded to: with ``upgradePolicy.mode`` ``Manual`` (the default) a model change leaves existing
  instances as they are (``latestModelApplied: false``), with ``Automatic`` or ``Rolling`` it reaches them when
  the change's operation succeeds. An instance made from an image definition records the version it booted in
  ``imageReference.exactVersion``.
- **Health**: ``instanceView.vmHealth`` is ``HealthState/unknown`` while an instance is being made, then
  ``HealthState/healthy`` unless a test marked it (`set_instance_health`) or the image it booted
  (`set_image_health`) unhealthy: a bad image makes every instance booted from it fail its health probe.
  `set_time_created` backdates an instance (for the drift scan's age rule).

Reach the type from a test or another emulator module with `scale_sets_of(emu)`.
"""

from __future__ import annotations

import copy
import uuid
from typing import TYPE_CHECKING, Any

from emulators.arm_api import (
    Answer,
    ArmError,
    Request,
    invalid_parameter,
    now_iso,
    required_parameter,
)
from emulators.arm_compute import IMAGE_NAME, ResourceType

if TYPE_CHECKING:
    from emulators.arm import ArmEmulator

TYPE = "Microsoft.Compute/virtualMachineScaleSets"
VM_TYPE = TYPE + "/virtualMachines"
MAX_CAPACITY = 1000
UPGRADE_MODES = ("Manual", "Automatic", "Rolling")
HEALTH_STATES = ("healthy", "unhealthy", "unknown")
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_HEALTH_TEXT = {
    "healthy": "The VM is healthy",
    "unhealthy": "The VM is unhealthy",
    "unknown": "The VM health is unknown",
}


def scale_sets_of(emu: ArmEmulator) -> VirtualMachineScaleSets:
    """The emulator's scale set type (its instances, health marks and pool membership)."""
    return next(kind for kind in emu._types if isinstance(kind, VirtualMachineScaleSets))  # noqa: SLF001


def members_of_pool(emu: ArmEmulator, pool_id: str) -> list[dict[str, Any]]:
    """The scale set instances whose applied model puts them in the backend pool ``pool_id`` (see the method)."""
    return scale_sets_of(emu).members_of_pool(pool_id)


def _computer_name(prefix: str, instance_id: int) -> str:
    """Azure's computer name of a Uniform instance: the prefix and the instance id in six base-36 digits."""
    digits = ""
    for _position in range(6):
        digits = _BASE36[instance_id % 36] + digits
        instance_id //= 36
    return prefix + digits


class VirtualMachineScaleSets(ResourceType):
    """``Microsoft.Compute/virtualMachineScaleSets`` and their ``virtualMachines``."""

    segments = (("virtualMachineScaleSets", "vmss"),)
    operation_prefix = "VirtualMachineScaleSets"
    list_operation = "List"

    def __init__(self, emu: ArmEmulator) -> None:
        super().__init__(emu)
        # scale set id (lower) -> {instance id: instance}; an instance is a dict, see `_new_instance`.
        self.instances: dict[str, dict[str, dict[str, Any]]] = {}
        self.next_instance: dict[str, int] = {}
        self.image_health: dict[str, str] = {}  # image id (lower) -> health state of what boots it

    def reset(self) -> None:
        self.instances.clear()
        self.next_instance.clear()
        self.image_health.clear()

    def routes(self) -> list[tuple[str, str, str, Any]]:
        item = self._pattern(1)
        subscription_wide = (
            r"/subscriptions/(?P<subscription>[^/]+)/providers/Microsoft\.Compute/virtualMachineScaleSets"
        )
        instance = item + r"/virtualMachines/(?P<instance>[^/]+)"
        return [
            *super().routes(),
            ("GET", subscription_wide, "VirtualMachineScaleSets_ListAll", self.list_all),
            ("POST", item + "/delete", "VirtualMachineScaleSets_DeleteInstances", self.delete_instances),
            ("POST", item + "/manualupgrade", "VirtualMachineScaleSets_UpdateInstances", self.update_instances),
            ("GET", item + "/virtualMachines", "VirtualMachineScaleSetVMs_List", self.list_instances),
            ("GET", instance, "VirtualMachineScaleSetVMs_Get", self.get_instance),
            ("GET", instance + "/instanceView", "VirtualMachineScaleSetVMs_GetInstanceView", self.instance_view),
            ("DELETE", instance, "VirtualMachineScaleSetVMs_Delete", self.delete_instance),
        ]

    # the scale set ---------------------------------------------------------------------------------

    def check_name(self, name: str) -> None:
        if not IMAGE_NAME.match(name) or len(name) > 64:
            raise invalid_parameter("The virtual machine scale set name '%s' is invalid." % name, "name")

    def validate(self, properties, existing, resource):
        profile = properties.get("virtualMachineProfile")
        if not isinstance(profile, dict):
            raise required_parameter("virtualMachineProfile")
        storage = profile.get("storageProfile") or {}
        reference = storage.get("imageReference")
        if not isinstance(reference, dict):
            raise required_parameter("virtualMachineProfile.storageProfile.imageReference")
        self._resolve_image(reference)
        os_profile = dict(profile.get("osProfile") or {})
        if existing is None:
            for part in ("computerNamePrefix", "adminUsername"):
                if not os_profile.get(part):
                    raise required_parameter("virtualMachineProfile.osProfile.%s" % part)
        elif os_profile.get("computerNamePrefix") != (
            existing["properties"]["virtualMachineProfile"].get("osProfile") or {}
        ).get("computerNamePrefix"):
            raise ArmError(
                409,
                "PropertyChangeNotAllowed",
                "Changing property 'computerNamePrefix' is not allowed.",
                target="virtualMachineProfile.osProfile.computerNamePrefix",
            )
        os_profile.pop("adminPassword", None)  # ARM never returns it
        interfaces = (profile.get("networkProfile") or {}).get("networkInterfaceConfigurations")
        if not isinstance(interfaces, list) or not interfaces:
            raise required_parameter("virtualMachineProfile.networkProfile.networkInterfaceConfigurations")
        for index, interface in enumerate(interfaces):
            configurations = ((interface or {}).get("properties") or {}).get("ipConfigurations")
            if not (interface or {}).get("name") or not isinstance(configurations, list) or not configurations:
                raise required_parameter(
                    "virtualMachineProfile.networkProfile.networkInterfaceConfigurations[%d].ipConfigurations" % index
                )
        policy = dict(properties.get("upgradePolicy") or {})
        policy.setdefault("mode", "Manual")
        if policy["mode"] not in UPGRADE_MODES:
            raise invalid_parameter(
                "The upgrade policy mode '%s' is not one of %s." % (policy["mode"], ", ".join(UPGRADE_MODES)),
                "upgradePolicy.mode",
            )
        orchestration = properties.get("orchestrationMode", "Uniform")
        if orchestration != "Uniform":
            raise invalid_parameter(
                "The emulator serves Uniform scale sets only, not '%s'." % orchestration, "orchestrationMode"
            )
        stored = copy.deepcopy(properties)
        stored["virtualMachineProfile"]["osProfile"] = os_profile
        stored.update(upgradePolicy=policy, orchestrationMode="Uniform")
        stored.setdefault("overprovision", True)
        stored.setdefault("singlePlacementGroup", True)
        if existing is not None:
            for output in ("uniqueId", "timeCreated"):
                stored[output] = existing["properties"][output]
        else:
            stored.update(uniqueId=str(uuid.uuid4()), timeCreated=now_iso())
        return stored

    def _resolve_image(self, reference: dict[str, Any]) -> tuple[str | None, str | None]:
        """(image version id, version name) a new instance boots from ``reference``; 404 as Compute answers."""
        image_id = reference.get("id")
        if not image_id:
            for part in ("publisher", "offer", "sku"):
                if not reference.get(part):
                    raise required_parameter("virtualMachineProfile.storageProfile.imageReference.%s" % part)
            return None, None
        image = self.emu.get(image_id)
        if image is not None and image["type"].lower() == "microsoft.compute/galleries/images":
            image = self.emu.latest_version(image["id"])
        if image is None or image["properties"].get("provisioningState") != "Succeeded":
            raise ArmError(
                404,
                "GalleryImageNotFound",
                "The gallery image '%s' is not available. Verify that all fields in the storage profile are correct."
                % image_id,
                target="imageReference",
            )
        return image["id"], image["name"] if "/versions/" in image["id"].lower() else None

    def put(self, request: Request) -> Answer:
        body = request.body if isinstance(request.body, dict) else {}
        sku = body.get("sku")
        if not isinstance(sku, dict) or not sku.get("name"):
            raise required_parameter("sku.name")
        self._check_capacity(sku.get("capacity", 0))
        return super().put(request)

    @staticmethod
    def _check_capacity(capacity: Any) -> int:
        if not isinstance(capacity, int) or isinstance(capacity, bool) or not 0 <= capacity <= MAX_CAPACITY:
            raise invalid_parameter(
                "The capacity %r is invalid: it must be a whole number from 0 to %d." % (capacity, MAX_CAPACITY),
                "sku.capacity",
            )
        return capacity

    def _mutate(self, request: Request, resource: dict[str, Any], existing: dict[str, Any] | None) -> Answer:
        body = request.body if isinstance(request.body, dict) else {}
        sku = dict(existing["sku"]) if existing is not None else {}
        sku.update(body.get("sku") or {})
        sku.setdefault("tier", "Standard")
        sku["capacity"] = self._check_capacity(sku.get("capacity", 0))
        resource["sku"] = sku
        resource["etag"] = self._next_etag(existing)
        key = resource["id"].lower()
        if existing is None:
            self.instances[key] = {}
            self.next_instance[key] = 0
        members = self.instances.setdefault(key, {})
        live = sorted((item for item in members.values() if item["state"] != "Deleting"), key=_by_id)
        created, removed = [], []
        if sku["capacity"] > len(live):
            created = [self._new_instance(resource) for _index in range(sku["capacity"] - len(live))]
        elif sku["capacity"] < len(live):
            removed = live[sku["capacity"] :]
            for instance in removed:
                instance["state"] = "Deleting"
        answer = super()._mutate(request, resource, existing)
        upgrade = resource["properties"]["upgradePolicy"]["mode"] != "Manual"
        self._chain(answer, lambda: self._settle(key, created, removed, upgrade), lambda: self._fail(created, removed))
        return answer

    @staticmethod
    def _next_etag(existing: dict[str, Any] | None) -> str:
        """The scale set's next etag: ``"1"`` when made, one more at each change of its model, tags or capacity."""
        previous = (existing or {}).get("etag") or '"0"'
        return '"%d"' % (int(previous.strip('"')) + 1)

    def _operation_of(self, headers: dict[str, str]) -> Any:
        return self.emu.operations[headers["Azure-AsyncOperation"].split("/operations/")[1].split("?")[0]]

    def _after_earlier(self, headers: dict[str, str]) -> None:
        """The operation of ``headers`` ends only after every earlier one on its scale set: ARM runs a scale set's
        operations one after the other, so one that nobody polls (its client died, its answer was lost) has
        ended by the time a later one has."""
        operation = self._operation_of(headers)
        previous = operation.on_done

        def on_done() -> None:
            for earlier in list(self.emu.operations.values()):
                if (
                    earlier is not operation
                    and earlier.status == "InProgress"
                    and earlier.resource_id.lower() == operation.resource_id.lower()
                    and earlier.start_time <= operation.start_time
                ):
                    while earlier.status == "InProgress":
                        self.emu.lro._advance(earlier, force=True)  # noqa: SLF001 - the emulator's own operations
            if previous:
                previous()

        operation.on_done = on_done

    def _chain(self, answer: Answer, done: Any, failed: Any) -> None:
        """Run ``done`` (``failed``) after what the operation of ``answer`` does when it succeeds (fails)."""
        self._after_earlier(answer.headers)
        operation = self._operation_of(answer.headers)
        previous_done, previous_fail = operation.on_done, operation.on_fail

        def on_done() -> None:
            if previous_done:
                previous_done()
            done()

        def on_fail() -> None:
            if previous_fail:
                previous_fail()
            failed()

        operation.on_done, operation.on_fail = on_done, on_fail

    def _new_instance(self, scale_set: dict[str, Any]) -> dict[str, Any]:
        key = scale_set["id"].lower()
        number = self.next_instance.get(key, 0)
        self.next_instance[key] = number + 1
        profile = copy.deepcopy(scale_set["properties"]["virtualMachineProfile"])
        version_id, version = self._resolve_image(profile["storageProfile"]["imageReference"])
        instance = {
            "instanceId": str(number),
            "vmId": str(uuid.uuid4()),
            "state": "Creating",
            "health": None,  # a test's mark; None: healthy once made (unless its image is marked)
            "image": version_id,
            "exactVersion": version,
            "profile": profile,
            "sku": {"name": scale_set["sku"]["name"], "tier": scale_set["sku"].get("tier", "Standard")},
            "timeCreated": now_iso(),
        }
        self.instances.setdefault(key, {})[instance["instanceId"]] = instance
        return instance

    def _settle(self, key: str, created: list[dict[str, Any]], removed: list[dict[str, Any]], upgrade: bool) -> None:
        for instance in created:
            if instance["state"] == "Creating":
                instance["state"] = "Succeeded"
        members = self.instances.get(key, {})
        for instance in removed:
            members.pop(instance["instanceId"], None)
        scale_set = self.emu.resources.get(key)
        if upgrade and scale_set is not None:
            for instance in members.values():
                self._apply_model(scale_set, instance)

    @staticmethod
    def _fail(created: list[dict[str, Any]], removed: list[dict[str, Any]]) -> None:
        for instance in created:
            instance["state"] = "Failed"
        for instance in removed:
            instance["state"] = "Succeeded"

    def _apply_model(self, scale_set: dict[str, Any], instance: dict[str, Any]) -> None:
        instance["profile"] = copy.deepcopy(scale_set["properties"]["virtualMachineProfile"])
        instance["image"], instance["exactVersion"] = self._resolve_image(
            instance["profile"]["storageProfile"]["imageReference"]
        )

    def list_all(self, request: Request) -> Answer:
        items = [self.emu.shape(item) for item in self.emu.resources.values() if item["type"] == TYPE]
        return Answer(200, self.emu.page(items, request))

    def delete(self, request: Request) -> Answer:
        scale_set = self.emu.get(self.resource_id(request.match))
        answer = super().delete(request)
        if scale_set is None or answer.status == 204:
            return answer
        key = scale_set["id"].lower()
        for instance in self.instances.get(key, {}).values():
            instance["state"] = "Deleting"

        def gone() -> None:
            self.instances.pop(key, None)
            self.next_instance.pop(key, None)

        def kept() -> None:
            for instance in self.instances.get(key, {}).values():
                instance["state"] = "Succeeded"

        self._chain(answer, gone, kept)
        return answer

    def delete_conflict(self, resource: dict[str, Any]) -> ArmError | None:
        return None  # a scale set's deletion deletes its instances

    # its instances ---------------------------------------------------------------------------------

    def _members(self, request: Request) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        scale_set = self.find(request.match)
        return scale_set, self.instances.setdefault(scale_set["id"].lower(), {})

    def _member(self, request: Request) -> tuple[dict[str, Any], dict[str, Any]]:
        scale_set, members = self._members(request)
        instance = members.get(request.match["instance"])
        if instance is None:
            raise ArmError(
                404,
                "NotFound",
                "The entity was not found in this Azure location: instance '%s' of virtual machine scale set '%s'."
                % (request.match["instance"], scale_set["name"]),
            )
        return scale_set, instance

    def _instance_ids(self, request: Request, members: dict[str, dict[str, Any]]) -> list[str]:
        body = request.body if isinstance(request.body, dict) else {}
        wanted = body.get("instanceIds")
        if not isinstance(wanted, list) or not wanted:
            raise required_parameter("instanceIds")
        for instance_id in wanted:
            if str(instance_id) not in members or members[str(instance_id)]["state"] == "Deleting":
                raise invalid_parameter(
                    "The provided instanceId %s is not an active Virtual Machine Scale Set VM instanceId."
                    % instance_id,
                    "instanceIds",
                )
        return [str(instance_id) for instance_id in wanted]

    def shape_instance(self, scale_set: dict[str, Any], instance: dict[str, Any], *, expand: bool) -> dict[str, Any]:
        """A scale set instance as ARM answers it (``expand``: with its instanceView)."""
        profile = instance["profile"]
        reference = dict(profile["storageProfile"]["imageReference"])
        if instance["exactVersion"]:
            reference["exactVersion"] = instance["exactVersion"]
        vm_id = "%s/virtualMachines/%s" % (scale_set["id"], instance["instanceId"])
        interfaces = [
            {"id": "%s/networkInterfaces/%s" % (vm_id, nic["name"]), "properties": {"primary": bool(index == 0)}}
            for index, nic in enumerate(profile["networkProfile"]["networkInterfaceConfigurations"])
        ]
        properties: dict[str, Any] = {
            "latestModelApplied": profile == scale_set["properties"]["virtualMachineProfile"],
            "vmId": instance["vmId"],
            "storageProfile": {
                "imageReference": reference,
                "osDisk": {
                    "osType": "Linux",
                    "name": "%s_%s_OsDisk_1_%s" % (scale_set["name"], instance["instanceId"], instance["vmId"][:8]),
                    "createOption": "FromImage",
                },
                "dataDisks": [],
            },
            "osProfile": {
                "computerName": _computer_name(profile["osProfile"]["computerNamePrefix"], int(instance["instanceId"])),
                "adminUsername": profile["osProfile"]["adminUsername"],
                "secrets": [],
            },
            "networkProfile": {"networkInterfaces": interfaces},
            "networkProfileConfiguration": copy.deepcopy(
                {"networkInterfaceConfigurations": profile["networkProfile"]["networkInterfaceConfigurations"]}
            ),
            "provisioningState": instance["state"],
            "timeCreated": instance["timeCreated"],
        }
        if expand:
            properties["instanceView"] = self._instance_view(scale_set, instance)
        return {
            "id": vm_id,
            "name": "%s_%s" % (scale_set["name"], instance["instanceId"]),
            "type": VM_TYPE,
            "location": scale_set["location"],
            "tags": dict(scale_set.get("tags") or {}),
            "instanceId": instance["instanceId"],
            "sku": dict(instance["sku"]),
            "properties": properties,
        }

    def health_of(self, instance: dict[str, Any]) -> str:
        """``healthy``, ``unhealthy`` or ``unknown``: what the instance's health probe reports now."""
        if instance["state"] != "Succeeded":
            return "unknown"
        if instance["health"] is not None:
            return instance["health"]
        return self.image_health.get((instance["image"] or "").lower(), "healthy")

    def _instance_view(self, scale_set: dict[str, Any], instance: dict[str, Any]) -> dict[str, Any]:
        state = instance["state"]
        power = {"Creating": "starting", "Succeeded": "running", "Deleting": "stopping", "Failed": "stopped"}[state]
        health = self.health_of(instance)
        return {
            "computerName": _computer_name(
                instance["profile"]["osProfile"]["computerNamePrefix"], int(instance["instanceId"])
            ),
            "osName": "debian",
            "statuses": [
                {
                    "code": "ProvisioningState/%s" % state.lower(),
                    "level": "Error" if state == "Failed" else "Info",
                    "displayStatus": "Provisioning %s" % state.lower(),
                },
                {"code": "PowerState/%s" % power, "level": "Info", "displayStatus": "VM %s" % power},
            ],
            "vmHealth": {
                "status": {
                    "code": "HealthState/%s" % health,
                    "level": "Info" if health == "healthy" else "Warning",
                    "displayStatus": _HEALTH_TEXT[health],
                }
            },
        }

    def list_instances(self, request: Request) -> Answer:
        scale_set, members = self._members(request)
        expand = request.query.get("$expand", "").lower() == "instanceview"
        items = [self.shape_instance(scale_set, item, expand=expand) for item in sorted(members.values(), key=_by_id)]
        return Answer(200, self.emu.page(items, request))

    def get_instance(self, request: Request) -> Answer:
        scale_set, instance = self._member(request)
        expand = request.query.get("$expand", "").lower() == "instanceview"
        return Answer(200, self.shape_instance(scale_set, instance, expand=expand))

    def instance_view(self, request: Request) -> Answer:
        scale_set, instance = self._member(request)
        return Answer(200, self._instance_view(scale_set, instance))

    def _remove(self, request: Request, scale_set: dict[str, Any], doomed: list[dict[str, Any]]) -> Answer:
        """Delete ``doomed`` instances in one operation; the capacity drops by as many, as Azure's does."""
        key = scale_set["id"].lower()
        for instance in doomed:
            instance["state"] = "Deleting"
        scale_set["sku"]["capacity"] = max(0, scale_set["sku"]["capacity"] - len(doomed))
        scale_set["etag"] = self._next_etag(scale_set)

        def gone() -> None:
            for instance in doomed:
                self.instances.get(key, {}).pop(instance["instanceId"], None)

        def kept() -> None:
            for instance in doomed:
                instance["state"] = "Succeeded"

        headers = self.emu.start_operation(
            request, scale_set["id"], on_done=gone, on_fail=kept, location_header=True, location=scale_set["location"]
        )
        self._after_earlier(headers)
        return Answer(202, None, headers)

    def delete_instance(self, request: Request) -> Answer:
        scale_set, instance = self._member(request)
        if instance["state"] == "Deleting":
            return Answer(204, None)
        return self._remove(request, scale_set, [instance])

    def delete_instances(self, request: Request) -> Answer:
        scale_set, members = self._members(request)
        return self._remove(request, scale_set, [members[item] for item in self._instance_ids(request, members)])

    def update_instances(self, request: Request) -> Answer:
        scale_set, members = self._members(request)
        chosen = [members[item] for item in self._instance_ids(request, members)]

        def upgraded() -> None:
            current = self.emu.resources.get(scale_set["id"].lower())
            for instance in chosen:
                if current is not None and instance["state"] != "Deleting":
                    self._apply_model(current, instance)

        headers = self.emu.start_operation(
            request, scale_set["id"], on_done=upgraded, location_header=True, location=scale_set["location"]
        )
        self._after_earlier(headers)
        return Answer(202, None, headers)

    # for tests and other emulator modules (no call, no operation) -----------------------------------

    def members(self, scale_set_id: str) -> list[dict[str, Any]]:
        """The instances of a scale set as ARM answers them (with instanceView), by instance id."""
        scale_set = self.emu.get(scale_set_id)
        if scale_set is None:
            return []
        members = self.instances.get(scale_set["id"].lower(), {})
        return [self.shape_instance(scale_set, item, expand=True) for item in sorted(members.values(), key=_by_id)]

    def set_instance_health(self, scale_set_id: str, instance_id: str, health: str | None) -> None:
        """Make one instance's health probe answer ``health`` (None: as its image's again)."""
        if health is not None and health not in HEALTH_STATES:
            raise ValueError("health must be one of %s or None" % ", ".join(HEALTH_STATES))
        with self.emu.lock:
            self.instances[scale_set_id.lower()][str(instance_id)]["health"] = health

    def set_time_created(self, scale_set_id: str, instance_id: str, when: str) -> None:
        """Backdate an instance: its ``timeCreated`` becomes ``when`` (ISO 8601), as if made then."""
        with self.emu.lock:
            self.instances[scale_set_id.lower()][str(instance_id)]["timeCreated"] = when

    def set_image_health(self, image_id: str, health: str | None) -> None:
        """Every instance booted from the image version ``image_id`` answers ``health`` (None: healthy again)."""
        if health is not None and health not in HEALTH_STATES:
            raise ValueError("health must be one of %s or None" % ", ".join(HEALTH_STATES))
        with self.emu.lock:
            if health is None:
                self.image_health.pop(image_id.lower(), None)
            else:
                self.image_health[image_id.lower()] = health

    def members_of_pool(self, pool_id: str) -> list[dict[str, Any]]:
        """Each instance whose applied model names the backend pool ``pool_id``, as a load balancer sees it.

        A dict a member: ``scale_set`` (id), ``instance_id``, ``id`` (the instance's resource id),
        ``ip_configuration`` (the id of its NIC's ip configuration in the pool, what a pool's
        ``backendIPConfigurations`` lists), ``provisioning_state`` and ``health`` (healthy, unhealthy, unknown).
        """
        wanted = pool_id.lower()
        found = []
        with self.emu.lock:
            for key, members in self.instances.items():
                scale_set = self.emu.resources.get(key)
                if scale_set is None:
                    continue
                for instance in sorted(members.values(), key=_by_id):
                    configuration = _configuration_in_pool(instance["profile"], wanted)
                    if configuration is None:
                        continue
                    vm_id = "%s/virtualMachines/%s" % (scale_set["id"], instance["instanceId"])
                    nic, ip_configuration = configuration
                    found.append(
                        {
                            "scale_set": scale_set["id"],
                            "instance_id": instance["instanceId"],
                            "id": vm_id,
                            "ip_configuration": "%s/networkInterfaces/%s/ipConfigurations/%s"
                            % (vm_id, nic, ip_configuration),
                            "provisioning_state": instance["state"],
                            "health": self.health_of(instance),
                        }
                    )
        return found

    def scale_sets_using_pool(self, pool_id: str) -> list[str]:
        """Ids of the scale sets whose model names the backend pool (a load balancer refuses to delete it)."""
        wanted = pool_id.lower()
        with self.emu.lock:
            return [
                resource["id"]
                for resource in self.emu.resources.values()
                if resource["type"] == TYPE
                and _configuration_in_pool(resource["properties"]["virtualMachineProfile"], wanted) is not None
            ]


def _by_id(instance: dict[str, Any]) -> int:
    return int(instance["instanceId"])


def _configuration_in_pool(profile: dict[str, Any], pool_id: str) -> tuple[str, str] | None:
    """(NIC configuration name, ip configuration name) of ``profile`` naming the pool ``pool_id`` (lower), or None."""
    for nic in (profile.get("networkProfile") or {}).get("networkInterfaceConfigurations") or []:
        for configuration in (nic.get("properties") or {}).get("ipConfigurations") or []:
            pools = (configuration.get("properties") or {}).get("loadBalancerBackendAddressPools") or []
            if any((pool.get("id") or "").lower() == pool_id for pool in pools):
                return nic["name"], configuration["name"]
    return None
