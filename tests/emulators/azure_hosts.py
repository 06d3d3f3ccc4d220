"""Azure's data planes under their real host names: an HTTPS proxy on 127.0.0.1 that serves them itself.

Key Vault and Blob Storage are not ARM: each vault and storage account has a host of its own
(``https://<vault>.vault.azure.net``, ``https://<account>.blob.core.windows.net``). azure-keyvault-keys checks
the resource of a vault's 401 challenge against the vault's host name (the host must end in ``.`` + the
resource's host, port included unless it is 443), so a vault served at ``https://127.0.0.1:PORT`` could only be
used with ``verify_challenge_resource=False``. Instead `AzureHosts` is an HTTP proxy (``CONNECT`` only) on
127.0.0.1: the client is given ``HTTPS_PROXY`` (`env()`; ``NO_PROXY`` keeps ARM and Entra ID on 127.0.0.1
direct), asks to ``CONNECT phoenix.vault.azure.net:443``, and the proxy does the TLS handshake itself with the
ARM emulator's certificate (the same test CA, `emulators.tls` lists the data planes' names in it), then
answers the requests on that connection with the service that owns the host. Nothing is forwarded anywhere:
a host no service owns is refused (502, as an unknown vault's name does not resolve), so no request leaves
the test process.

A service is an object with ``owns(host) -> bool`` and ``handle(method, host, target, headers, body) ->
(status, headers, body bytes)``: `emulators.keyvault.KeyVaultEmulator` and `emulators.blob.BlobEmulator`.
"""

from __future__ import annotations

import ssl
import threading
from contextlib import suppress
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol

from emulators.serving import EmulatorRequestHandler, ServedInThread
from emulators.tls import TestCertificates

LOOPBACK = "127.0.0.1"
HTTPS_PORT = 443


class Service(Protocol):
    def owns(self, host: str) -> bool: ...

    def handle(
        self, method: str, host: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]: ...


class _ServiceHandler(EmulatorRequestHandler):
    """The HTTP requests sent inside one CONNECT tunnel, once TLS is up, answered by the host's service."""

    def __init__(self, request: Any, client_address: Any, server: Any, host: str) -> None:
        self.tunnel_host = host
        super().__init__(request, client_address, server)

    def _serve(self) -> None:
        host = (self.headers.get("Host") or self.tunnel_host).rsplit(":", 1)[0].lower()
        service = self.server.emulator.service_for(host)
        body = self.request_body()
        if service is None or host != self.tunnel_host:
            status, headers, data = 421, {"Content-Type": "text/plain"}, b"misdirected request\n"
        else:
            status, headers, data = service.handle(self.command, host, self.path, dict(self.headers.items()), body)
        self.send_response(status)  # with Date and Server
        length = headers.pop("Content-Length", None) if self.command == "HEAD" else None
        for name, value in headers.items():
            self.send_header(name, value)
        # A HEAD answer has no body but the length of the one a GET would have.
        self.send_header("Content-Length", length or "0" if self.command == "HEAD" else str(len(data)))
        self.end_headers()
        if data and self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_DELETE = do_PATCH = do_PUT = do_HEAD = _serve


class _ProxyHandler(EmulatorRequestHandler):
    def do_CONNECT(self) -> None:  # noqa: N802 - the stdlib's naming
        host, _sep, port = self.path.rpartition(":")
        host = host.strip("[]").lower()
        emulator = self.server.emulator
        with emulator.lock:
            emulator.tunnels.append(self.path)
        if port != str(HTTPS_PORT) or emulator.service_for(host) is None:
            self.send_error(502, "the emulator's proxy serves only the Azure data planes it emulates: %s" % self.path)
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        self.wfile.flush()
        try:
            tls = emulator.context.wrap_socket(self.connection, server_side=True)
        except (ssl.SSLError, OSError):
            self.close_connection = True
            return  # a client that does not trust the test CA hangs up during the handshake
        try:
            _ServiceHandler(tls, self.client_address, self.server, host)
        except OSError:
            pass
        finally:
            with suppress(OSError):
                tls.close()
        self.close_connection = True

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's naming
        self.send_error(405, "the emulator's proxy only tunnels (CONNECT host:443)")

    do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_GET


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if self.emulator.verbose:
            super().handle_error(request, client_address)


class AzureHosts:
    """The proxy and the services behind it; ``ca_bundle`` is the ARM emulator's, so one CA file trusts both.

    with ArmEmulator() as arm, AzureHosts(arm.ca_bundle, [KeyVaultEmulator(arm)]) as hosts:
        os.environ.update(hosts.env())   # HTTPS_PROXY for the data planes, NO_PROXY for 127.0.0.1
    """

    def __init__(self, ca_bundle: str, services: list[Service], *, verbose: bool = False) -> None:
        self.services = list(services)
        self.verbose = verbose
        self.lock = threading.RLock()
        self.tunnels: list[str] = []
        self.context = TestCertificates.in_folder(Path(ca_bundle).parent).server_context()
        self._served: ServedInThread | None = None

    def start(self) -> AzureHosts:
        if self._served is None:
            server = _ProxyServer((LOOPBACK, 0), _ProxyHandler)
            server.emulator = self  # type: ignore[attr-defined]
            self._served = ServedInThread(server, "azure-hosts-proxy")
        return self

    def stop(self) -> None:
        if self._served is not None:
            self._served.stop()
            self._served = None

    def __enter__(self) -> AzureHosts:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def service_for(self, host: str) -> Service | None:
        return next((service for service in self.services if service.owns(host)), None)

    @property
    def proxy_url(self) -> str:
        if self._served is None:
            raise RuntimeError("the proxy is not running: call start() first")
        return "http://%s:%d" % (LOOPBACK, self._served.port)

    def env(self) -> dict[str, str]:
        """What a process needs to reach the data planes through the proxy, and everything else on 127.0.0.1 not."""
        no_proxy = "%s,localhost" % LOOPBACK
        return {
            "HTTPS_PROXY": self.proxy_url,
            "https_proxy": self.proxy_url,
            "NO_PROXY": no_proxy,
            "no_proxy": no_proxy,
        }
