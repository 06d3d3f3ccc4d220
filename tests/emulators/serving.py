"""How every emulator serves: its HTTP server answering from a daemon thread of the test process, on a port the
kernel picked, until it is stopped."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler
from typing import Any


class EmulatorRequestHandler(BaseHTTPRequestHandler):
    """What every emulator's request handler shares; a subclass answers each method through its emulator
    (``self.server.emulator``)."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle's algorithm each keep-alive answer would wait for the
    # client's delayed ACK (~40 ms).
    disable_nagle_algorithm = True
    server: Any

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        if self.server.emulator.verbose:
            super().log_message(format, *args)

    def request_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""


class ServedInThread:
    def __init__(self, server: Any, name: str):
        """Start answering with ``server`` (a socketserver-style server already bound) in a thread named ``name``."""
        self.server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=10)
