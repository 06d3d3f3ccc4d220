"""The ARM emulator's virtual machines and managed disks: enough to build an image from a VM and remove it all.

A VM is created from an image (a gallery image version, a gallery image definition's latest version, a
managed image or a marketplace reference) on network interfaces that must exist; its OS disk becomes a
`Microsoft.Compute/disks` resource, deleted with the VM only when ``osDisk.deleteOption`` is ``Delete`` (ARM's
default is ``Detach``: the disk stays, as on Azure), like a NIC with ``deleteOption: Delete``. Power states move
through the actions' operations: ``start``, ``powerOff`` and ``deallocate`` (long-running), ``generalize``
(synchronous; the VM must be stopped or deallocated, and can never start again). Reading a VM moves the
operations in progress on it one step (`emulators.arm_network.time_passes`): one whose answer was lost ends.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from emulators.arm_api import (
    Answer,
    ArmError,
    Request,
    invalid_parameter,
    normalize_location,
    now_iso,
    property_change_not_allowed,
    required_parameter,
)
from emulators.arm_compute import IMAGE_NAME, ResourceType
from emulators.arm_network import time_passes

_DISPLAY = {
    "starting": "VM starting",
    "running": "VM running",
    "stopping": "VM stopping",
    "stopped": "VM stopped",
    "deallocating": "VM deallocating",
    "deallocated": "VM deallocated",
}
# An action: the power state while its operation runs, the one it ends in, and the states it may start from.
_ACTIONS = {
    "start": ("starting", "running", ("stopped", "deallocated", "running")),
    "powerOff": ("stopping", "stopped", ("running", "starting", "stopped")),
    "deallocate": ("deallocating", "deallocated", ("running", "starting", "stopped", "deallocated")),
}


class Disks(ResourceType):
    """``Microsoft.Compute/disks``: managed disks (the OS disks VMs make; an empty disk by PUT)."""

    segments = (("disks", "disk"),)
    operation_prefix = "Disks"
    list_operation = "ListByResourceGroup"

    def validate(self, properties, existing, resource):
        creation = properties.get("creationData")
        if not isinstance(creation, dict) or not creation.get("createOption"):
            raise required_parameter("creationData.createOption")
        stored = dict(properties)
        stored.setdefault("diskSizeGB", 30)
        stored.setdefault("diskState", "Unattached")
        stored.setdefault("timeCreated", now_iso())
        return stored

    def delete_conflict(self, resource: dict[str, Any]) -> ArmError | None:
        if resource.get("managedBy"):
            return ArmError(
                409,
                "OperationNotAllowed",
                "Disk %s is attached to VM %s." % (resource["name"], resource["managedBy"]),
            )
        return None


class VirtualMachines(ResourceType):
    """``Microsoft.Compute/virtualMachines``: create, read, list, delete, power actions, generalize."""

    segments = (("virtualMachines", "vm"),)
    operation_prefix = "VirtualMachines"
    list_operation = "List"

    def __init__(self, emu: Any) -> None:
        super().__init__(emu)
        self.states: dict[str, dict[str, Any]] = {}  # resource id (lower) -> {"power", "generalized"}

    def reset(self) -> None:
        self.states.clear()

    def routes(self) -> list[tuple[str, str, str, Any]]:
        item = self._pattern(1)
        routes = [
            *super().routes(),
            ("GET", item + "/instanceView", "VirtualMachines_InstanceView", self.instance_view),
        ]
        for action in _ACTIONS:
            routes.append(
                ("POST", item + "/" + action, "VirtualMachines_" + action[0].upper() + action[1:], self._action(action))
            )
        routes.append(("POST", item + "/generalize", "VirtualMachines_Generalize", self.generalize))
        return routes

    def check_name(self, name: str) -> None:
        if not IMAGE_NAME.match(name) or len(name) > 64:
            raise invalid_parameter("The virtual machine name '%s' is invalid." % name, "name")

    def validate(self, properties, existing, resource):
        if existing is not None:
            for field_name in ("storageProfile", "osProfile"):
                if field_name in properties and _without_outputs(properties[field_name]) != _without_outputs(
                    existing["properties"].get(field_name)
                ):
                    raise property_change_not_allowed("properties.%s" % field_name)
            stored = dict(existing["properties"])
            stored.update({k: v for k, v in properties.items() if k not in ("storageProfile", "osProfile")})
            return stored
        size = (properties.get("hardwareProfile") or {}).get("vmSize")
        if not size:
            raise required_parameter("hardwareProfile.vmSize")
        storage = dict(properties.get("storageProfile") or {})
        reference = storage.get("imageReference")
        if not isinstance(reference, dict):
            raise required_parameter("storageProfile.imageReference")
        image_os = self._resolve_image(reference, resource)
        os_profile = dict(properties.get("osProfile") or {})
        for part in ("computerName", "adminUsername"):
            if not os_profile.get(part):
                raise required_parameter("osProfile.%s" % part)
        _check_linux_logins(os_profile, image_os)
        os_profile.pop("adminPassword", None)  # ARM never returns it
        os_profile.setdefault("secrets", [])
        interfaces = (properties.get("networkProfile") or {}).get("networkInterfaces") or []
        if not interfaces:
            raise required_parameter("networkProfile.networkInterfaces")
        for interface in interfaces:
            target = self.emu.get(interface.get("id", ""))
            if target is None or normalize_location(target["location"]) != resource["location"]:
                raise ArmError(
                    400,
                    "InvalidResourceReference",
                    "Resource %s referenced by resource %s was not found. Please make sure that the referenced "
                    "resource exists, and that both resources are in the same region."
                    % (interface.get("id"), resource["id"]),
                )
            holder = self._holder_of(target["id"])
            if holder is not None and holder.lower() != resource["id"].lower():
                raise ArmError(
                    400,
                    "NicInUse",
                    "Network Interface %s is used by existing resource %s." % (target["id"], holder),
                )
        os_disk = dict(storage.get("osDisk") or {})
        os_disk.setdefault("name", "%s_OsDisk_1_%s" % (resource["name"], secrets.token_hex(16)))
        os_disk.setdefault("createOption", "FromImage")
        os_disk.setdefault("deleteOption", "Detach")
        os_disk.setdefault("osType", image_os)
        managed = dict(os_disk.get("managedDisk") or {})
        managed.setdefault("storageAccountType", "Standard_LRS")
        disk_id = resource["id"].split("/providers/", 1)[0] + "/providers/Microsoft.Compute/disks/" + os_disk["name"]
        managed["id"] = disk_id
        os_disk["managedDisk"] = managed
        storage.update(osDisk=os_disk, dataDisks=storage.get("dataDisks") or [])
        stored = {key: value for key, value in properties.items() if key not in ("storageProfile", "osProfile")}
        stored.update(
            vmId=str(uuid.uuid4()),
            storageProfile=storage,
            osProfile=os_profile,
            networkProfile={"networkInterfaces": interfaces},
            timeCreated=now_iso(),
        )
        return stored

    def _holder_of(self, interface_id: str) -> str | None:
        """The VM a network interface is attached to, or None."""
        for vm in self.emu.resources.values():
            if vm["type"] != self.type_name:
                continue
            for interface in (vm["properties"].get("networkProfile") or {}).get("networkInterfaces") or []:
                if str(interface.get("id", "")).lower() == interface_id.lower():
                    return vm["id"]
        return None

    def list(self, request: Request) -> Answer:
        answer = super().list(request)
        if request.query.get("$expand", "").lower() == "instanceview":
            for item in answer.body["value"]:
                item["properties"]["instanceView"] = self._instance_view(item)
        return answer

    def _resolve_image(self, reference: dict[str, Any], resource: dict[str, Any]) -> str:
        """The OS type of the image a VM is made from; 404 as Compute answers when it does not exist."""
        image_id = reference.get("id")
        if not image_id:
            for part in ("publisher", "offer", "sku"):
                if not reference.get(part):
                    raise required_parameter("storageProfile.imageReference.%s" % part)
            return "Linux"
        image = self.emu.get(image_id)
        if image is not None and image["type"].lower() == "microsoft.compute/galleries/images":
            image = self.emu.latest_version(image["id"])
        if image is None or image["properties"].get("provisioningState") != "Succeeded":
            raise ArmError(
                404,
                "NotFound",
                "The platform image or gallery image '%s' is not available. Verify that all fields in the storage "
                "profile are correct." % image_id,
            )
        definition = self.emu.get(image["id"].rsplit("/versions/", 1)[0]) if "/versions/" in image["id"] else None
        source = definition or image
        return source["properties"].get("osType") or "Linux"

    def _mutate(self, request: Request, resource: dict[str, Any], existing: dict[str, Any] | None) -> Answer:
        key = resource["id"].lower()
        if existing is None:
            os_disk = resource["properties"]["storageProfile"]["osDisk"]
            self.emu.put_resource(
                os_disk["managedDisk"]["id"],
                "Microsoft.Compute/disks",
                location=resource["location"],
                properties={
                    "osType": os_disk["osType"],
                    "diskSizeGB": 30,
                    "diskState": "Attached",
                    "creationData": {"createOption": "FromImage"},
                },
            )
            self.states[key] = {"power": "starting", "generalized": False}
            answer = super()._mutate(request, resource, existing)
            self.emu.resources[os_disk["managedDisk"]["id"].lower()]["managedBy"] = resource["id"]
            operation = self._operation_of(answer)
            previous_done = operation.on_done

            def running() -> None:
                if previous_done:
                    previous_done()
                if key in self.states:
                    self.states[key]["power"] = "running"

            operation.on_done = running
            return answer
        return super()._mutate(request, resource, existing)

    def _operation_of(self, answer: Answer) -> Any:
        """The operation an answer started, from its Azure-AsyncOperation URL."""
        return self.emu.operations[answer.headers["Azure-AsyncOperation"].split("/operations/")[1].split("?")[0]]

    def get(self, request: Request) -> Answer:
        time_passes(self.emu, self.find(request.match)["id"])
        resource = self.emu.shape(self.find(request.match))
        if request.query.get("$expand", "").lower() == "instanceview":
            resource["properties"]["instanceView"] = self._instance_view(resource)
        return Answer(200, resource)

    def instance_view(self, request: Request) -> Answer:
        time_passes(self.emu, self.find(request.match)["id"])
        return Answer(200, self._instance_view(self.find(request.match)))

    def _instance_view(self, resource: dict[str, Any]) -> dict[str, Any]:
        state = self.states.get(resource["id"].lower(), {"power": "running", "generalized": False})
        provisioning = resource["properties"]["provisioningState"]
        statuses = [
            {
                "code": "ProvisioningState/%s" % provisioning.lower(),
                "level": "Info" if provisioning != "Failed" else "Error",
                "displayStatus": "Provisioning %s" % provisioning.lower(),
            }
        ]
        if state["generalized"]:
            statuses.append({"code": "OSState/generalized", "level": "Info", "displayStatus": "VM generalized"})
        statuses.append(
            {"code": "PowerState/%s" % state["power"], "level": "Info", "displayStatus": _DISPLAY[state["power"]]}
        )
        return {"computerName": resource["properties"]["osProfile"]["computerName"], "statuses": statuses}

    def _action(self, action: str) -> Any:
        during, after, allowed = _ACTIONS[action]

        def handler(request: Request) -> Answer:
            resource = self.find(request.match)
            key = resource["id"].lower()
            state = self.states.setdefault(key, {"power": "running", "generalized": False})
            if state["generalized"] and action == "start":
                raise ArmError(
                    409,
                    "OperationNotAllowed",
                    "Operation 'start' is not allowed on VM '%s' since the VM is generalized." % resource["name"],
                )
            if state["power"] not in allowed:
                raise ArmError(
                    409,
                    "OperationNotAllowed",
                    "Operation '%s' is not allowed on VM '%s' since the VM is %s."
                    % (action, resource["name"], state["power"]),
                )
            state["power"] = during

            def done() -> None:
                if key in self.states:
                    self.states[key]["power"] = after

            headers = self.emu.start_operation(
                request, resource["id"], on_done=done, location_header=True, location=resource["location"]
            )
            return Answer(202, None, headers)

        return handler

    def generalize(self, request: Request) -> Answer:
        resource = self.find(request.match)
        state = self.states.setdefault(resource["id"].lower(), {"power": "running", "generalized": False})
        if state["power"] not in ("stopped", "deallocated"):
            raise ArmError(
                409,
                "OperationNotAllowed",
                "Operation 'generalize' is not allowed on VM '%s' since the VM is %s: stop or deallocate it first."
                % (resource["name"], state["power"]),
            )
        state["generalized"] = True
        return Answer(200, None)

    def is_generalized(self, resource_id: str) -> bool:
        return bool(self.states.get(resource_id.lower(), {}).get("generalized"))

    def delete(self, request: Request) -> Answer:
        resource = self.emu.get(self.resource_id(request.match))
        answer = super().delete(request)
        if resource is None or answer.status == 204:
            return answer
        key = resource["id"].lower()
        operation = self._operation_of(answer)
        removed = operation.on_done
        properties = resource["properties"]
        os_disk = properties["storageProfile"]["osDisk"]
        interfaces = properties["networkProfile"]["networkInterfaces"]

        def gone() -> None:
            if removed:
                removed()
            self.states.pop(key, None)
            disk = self.emu.resources.get(os_disk["managedDisk"]["id"].lower())
            if disk is not None:
                if os_disk.get("deleteOption") == "Delete":
                    del self.emu.resources[disk["id"].lower()]
                else:
                    disk.pop("managedBy", None)
                    disk["properties"]["diskState"] = "Unattached"
            for interface in interfaces:
                if (interface.get("properties") or {}).get("deleteOption") == "Delete":
                    removed_interface = self.emu.resources.pop(interface["id"].lower(), None) or {}
                    # A public address goes with its NIC when its own deleteOption says so.
                    for configuration in (removed_interface.get("properties") or {}).get("ipConfigurations") or []:
                        public_id = ((configuration.get("properties") or {}).get("publicIPAddress") or {}).get("id")
                        public = self.emu.resources.get(str(public_id).lower())
                        if public is not None and public["properties"].get("deleteOption") == "Delete":
                            del self.emu.resources[public["id"].lower()]

        operation.on_done = gone
        return answer


def _without_outputs(value: Any) -> Any:
    """A profile without what the service fills in, to compare what a client sent with what is stored."""
    if not isinstance(value, dict):
        return value
    return {key: item for key, item in value.items() if key not in ("osDisk", "dataDisks", "secrets")}


def _check_linux_logins(os_profile: dict[str, Any], image_os: str) -> None:
    """A Linux VM needs a way in (a password or SSH keys), and its keys go where the agent puts them."""
    if image_os != "Linux":
        return
    linux = os_profile.get("linuxConfiguration") or {}
    keys = (linux.get("ssh") or {}).get("publicKeys") or []
    if linux.get("disablePasswordAuthentication") and not keys:
        raise invalid_parameter(
            "Authentication using either SSH or by user name and password must be enabled in Linux profile.",
            "linuxConfiguration",
        )
    expected = "/home/%s/.ssh/authorized_keys" % os_profile["adminUsername"]
    for key in keys:
        if not str(key.get("keyData") or "").startswith(("ssh-rsa ", "ssh-ed25519 ")):
            raise invalid_parameter(
                "The value of parameter linuxConfiguration.ssh.publicKeys.keyData is invalid.",
                "linuxConfiguration.ssh.publicKeys.keyData",
            )
        if key.get("path") and key["path"] != expected:
            raise invalid_parameter(
                "Destination path for SSH public keys is currently limited to its default value %s due to a known "
                "issue in Linux provisioning agent." % expected,
                "linuxConfiguration.ssh.publicKeys.path",
            )
