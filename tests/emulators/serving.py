"""How every emulator serves: its HTTP server answering from a daemon thread of the test process, on a port the
kernel picked, until it is stopped."""

from __future__ import annotations

import threading
from typing import Any


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
