"""Serve the gateway over HTTP on 127.0.0.1 and stop it cleanly."""

from __future__ import annotations

import errno
import socket
import threading
from dataclasses import dataclass, field
from typing import Any

from moto.moto_server.werkzeug_app import MotoRequestHandler
from werkzeug.serving import BaseWSGIServer, make_server

from agent_zero.domain.errors import UnavailableError
from agent_zero.sandbox.gateway import RAW_HEADERS, Gateway

LOOPBACK = "127.0.0.1"


class _RawHeaderHandler(MotoRequestHandler):
    """Keeps each header's name as sent: SigV4 signs names, and WSGI folds them."""

    # A client that stops sending mid-request must not hold a thread forever.
    timeout = 30

    def make_environ(self) -> dict[str, Any]:
        environ = super().make_environ()
        environ[RAW_HEADERS] = [(name, value) for name, value in self.headers.items()]
        return environ

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Request lines are not logged: presigned URLs carry credentials in the query."""


@dataclass
class GatewayServer:
    """The gateway on a loopback port, served from a background thread."""

    gateway: Gateway
    port: int
    _server: BaseWSGIServer | None = None
    _thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """The endpoint URL clients use."""
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> None:
        """Bind the port (refusing clearly when it is taken) and serve in the background."""
        # Bind here: werkzeug answers a busy port with print() and sys.exit().
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.bind((LOOPBACK, self.port))
            listener.listen(128)
        except OSError as error:
            listener.close()
            if error.errno == errno.EADDRINUSE:
                raise UnavailableError(
                    f"port {self.port} on {LOOPBACK} is already in use; stop what uses it or "
                    "choose another port"
                ) from None
            raise
        try:
            server = make_server(
                LOOPBACK,
                listener.getsockname()[1],
                self.gateway,
                threaded=True,
                request_handler=_RawHeaderHandler,
                fd=listener.fileno(),
            )
        finally:
            listener.close()  # werkzeug holds its own duplicate of the descriptor
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(target=server.serve_forever, name="gateway", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Refuse new requests, let those in flight finish, then close the socket."""
        self.gateway.close()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
