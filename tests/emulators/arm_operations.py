"""The ARM emulator's long-running operations: started by a mutation, moved one step by every poll.

A mutation answers with ``Azure-AsyncOperation`` (and, for DELETE and POST, ``Location``) headers naming an
operation here. Each GET of either URL moves it one step: ``InProgress`` until ``operation_polls`` polls were
made, then ``Succeeded`` (its ``on_done`` completes the mutation) or, with `fail_operations`, ``Failed`` (its
``on_fail`` marks the resource). The Azure-AsyncOperation URL answers the status body; the Location URL 202
while running, then the outcome.
"""

from __future__ import annotations

import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from emulators.arm_api import Answer, ArmError, Request, now_iso

if TYPE_CHECKING:
    from emulators.arm import ArmEmulator


@dataclass
class AsyncOperation:
    """A long-running operation: polled through its Azure-AsyncOperation or Location URL."""

    operation_id: str
    call: str  # the operation id of the call that started it: "Galleries_CreateOrUpdate"
    method: str  # PUT, PATCH, DELETE or POST
    resource_id: str
    api_version: str
    polls_to_done: int
    on_done: Callable[[], None] | None = None
    on_fail: Callable[[], None] | None = None
    result: Callable[[], Any] | None = None  # the outcome a POST action answers on its Location, once done
    polls: int = 0
    status: str = "InProgress"
    error: dict[str, str] | None = None
    error_status: int = 500
    start_time: str = ""
    end_time: str | None = None


@dataclass
class _OperationFault:
    remaining: int
    code: str
    message: str


class Operations:
    """The operations of one emulator, by id, and the faults planned for the next ones."""

    def __init__(self, emu: ArmEmulator) -> None:
        self.emu = emu
        self.table: dict[str, AsyncOperation] = {}
        self.faults: dict[str, _OperationFault] = {}
        # While held, polls are answered (and counted) but move no operation: a test reads the state in between.
        self.held = False

    def reset(self) -> None:
        self.table.clear()
        self.faults.clear()
        self.held = False

    def start_operation(
        self,
        request: Request,
        resource_id: str,
        *,
        on_done: Callable[[], None] | None = None,
        on_fail: Callable[[], None] | None = None,
        location_header: bool = False,
        provider: str = "Microsoft.Compute",
        location: str | None = None,
        result: Callable[[], Any] | None = None,
    ) -> dict[str, str]:
        """Record a long-running operation of ``request`` on ``resource_id``; return its answer's headers.

        ``on_done`` completes the mutation when the operation succeeds, ``on_fail`` undoes or marks it when it
        fails (`fail_operations`). ``location_header`` adds a ``Location`` (DELETE and POST, as ARM answers them);
        ``result`` makes the answer of a POST action that Location gives once the operation succeeded.
        """
        operation_id = str(uuid.uuid4())
        operation = AsyncOperation(
            operation_id,
            request.operation,
            request.method,
            resource_id,
            request.api_version,
            self.emu.operation_polls,
            on_done=on_done,
            on_fail=on_fail,
            result=result,
            start_time=now_iso(),
        )
        fault = self.faults.get(request.operation)
        if fault is not None and fault.remaining > 0:
            fault.remaining -= 1
            operation.error = {"code": fault.code, "message": fault.message}
        self.table[operation_id] = operation
        base = "%s/subscriptions/%s" % (self.emu.endpoint_url, self.emu.subscription_id)
        if provider:
            base += "/providers/%s/locations/%s" % (provider, location or self.emu.location)
        query = "?" + urllib.parse.urlencode({"api-version": request.api_version})
        headers = {"Azure-AsyncOperation": "%s/operations/%s%s" % (base, operation_id, query)}
        if location_header:
            headers["Location"] = "%s/operationResults/%s%s" % (base, operation_id, query)
        if not provider:  # resource groups: ARM's own operation, polled through Location only
            headers = {"Location": headers.get("Location", "%s/operationResults/%s%s" % (base, operation_id, query))}
        headers["Retry-After"] = str(self.emu.poll_retry_after)
        return headers

    def poll(self, request: Request) -> Answer:
        operation = self.table.get(request.match["operation_id"].lower())
        if operation is None:
            raise ArmError(404, "NotFound", "The operation '%s' was not found." % request.match["operation_id"])
        self._advance(operation)
        if request.match["kind"].lower() == "operations":
            body: dict[str, Any] = {
                "name": operation.operation_id,
                "startTime": operation.start_time,
                "status": operation.status,
            }
            if operation.end_time:
                body["endTime"] = operation.end_time
            if operation.error and operation.status == "Failed":
                body["error"] = dict(operation.error)
            headers = {"Retry-After": str(self.emu.poll_retry_after)} if operation.status == "InProgress" else {}
            return Answer(200, body, headers)
        # The Location URL: 202 while running, then the outcome (the resource, or no content for a deletion).
        if operation.status == "InProgress":
            return Answer(
                202,
                None,
                {
                    "Location": request.path + "?api-version=" + operation.api_version,
                    "Retry-After": str(self.emu.poll_retry_after),
                },
            )
        if operation.status == "Failed":
            error = operation.error or {"code": "InternalOperationError", "message": "The operation failed."}
            return Answer(operation.error_status, {"error": dict(error)})
        if operation.result is not None:
            return Answer(200, operation.result())
        resource = self.emu.get(operation.resource_id)
        if operation.method == "DELETE" or resource is None:
            return Answer(204, None)
        return Answer(200, self.emu.shape(resource))

    def _advance(self, operation: AsyncOperation, *, force: bool = False) -> None:
        if operation.status != "InProgress" or (self.held and not force):
            return
        operation.polls += 1
        if operation.polls < operation.polls_to_done:
            return
        operation.end_time = now_iso()
        if operation.error:
            operation.status = "Failed"
            if operation.on_fail:
                operation.on_fail()
        else:
            operation.status = "Succeeded"
            if operation.on_done:
                operation.on_done()

    def settle(self) -> None:
        """Run every operation in progress to its end now (for setup that does not exercise polling)."""
        with self.emu.lock:
            for operation in list(self.table.values()):
                while operation.status == "InProgress":
                    self._advance(operation, force=True)

    def fail_operations(
        self, call: str, *, times: int = 1, code: str = "InternalOperationError", message: str | None = None
    ) -> None:
        """The next ``times`` operations ``call`` starts (``GalleryImageVersions_CreateOrUpdate``) end Failed."""
        with self.emu.lock:
            self.faults[call] = _OperationFault(
                times, code, message or "The operation failed (injected by the test emulator)."
            )
