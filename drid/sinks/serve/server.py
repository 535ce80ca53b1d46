"""The HTTP server of the serve sink: uvicorn in a thread of the pipeline process, on a socket
bound here (so that a port in use is a one-line error naming it, before the first frame)."""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import threading
from typing import Any

__all__ = ["ServerThread", "bind"]


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: any free one); ``OSError`` with a message
    that names the address."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise OSError(f"cannot listen on {host}:{port}: unknown host ({exc.strerror})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(64)
    except OSError as exc:
        sock.close()
        why = "the port is in use (another drid, or another server)" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
        raise OSError(f"cannot listen on {host}:{port}: {why}") from None
    sock.setblocking(False)
    return sock


class ServerThread:
    """Serves ``app`` on ``sock`` from a daemon thread until :meth:`stop`."""

    def __init__(self, app: Any, sock: socket.socket) -> None:
        import uvicorn

        self.sock = sock
        host, port = sock.getsockname()[:2]
        self.host, self.port = str(host), int(port)
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", ws="none",
                                timeout_graceful_shutdown=1, timeout_keep_alive=5)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, name=f"drid-serve-{self.port}", daemon=True)
        self.error: BaseException | None = None

    def _run(self) -> None:
        try:
            asyncio.run(self.server.serve(sockets=[self.sock]))
        except BaseException as exc:  # reported by stop(); the pipeline goes on without a view
            self.error = exc
            logging.getLogger("drid.serve").warning("the live view stopped: %s: %s", type(exc).__name__, exc)

    def start(self, timeout: float = 10.0) -> None:
        self.thread.start()
        waited = 0.0
        while not self.server.started and self.thread.is_alive() and waited < timeout:
            self.thread.join(timeout=0.02)
            waited += 0.02
        if not self.server.started:
            self.stop()
            raise RuntimeError(f"the web server did not start on {self.host}:{self.port}" + (f": {self.error}" if self.error else ""))

    def stop(self, timeout: float = 5.0) -> None:
        """Close the listener and every connection (a stalled client is cut after 1 s); join."""
        self.server.should_exit = True
        self.thread.join(timeout=timeout)
        if self.thread.is_alive():
            self.server.force_exit = True
            self.thread.join(timeout=timeout)
        try:
            self.sock.close()
        except OSError:
            pass
