"""HTTP servers standing in for the pods: one per pod address (``127.x``), all on one port,
optionally TLS with a certificate for the Service's names only, each recording what it got.

Every request is recorded with the pod that served it, the ``Host`` header, the TLS server
name (SNI) the client sent and the client's address (one per connection); every connection
the client closes is recorded too. A pod can be told to answer a status code instead of 200.
"""

from __future__ import annotations

import contextlib
import http.server
import socket
import ssl
import threading
from dataclasses import dataclass, field

__all__ = ["PodServers", "Seen"]


@dataclass(frozen=True, slots=True)
class Seen:
    """One request a pod served."""

    pod: str
    method: str
    path: str
    host: str | None
    sni: str | None
    peer: tuple[str, int]


@dataclass(slots=True)
class _Pod:
    server: http.server.ThreadingHTTPServer
    thread: threading.Thread
    status: int = 200
    connections: list[socket.socket] = field(default_factory=list)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    disable_nagle_algorithm = True  # headers and body are two writes
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.pods.opened(self.server.address, self.connection)

    def _answer(self) -> None:
        pods = self.server.pods
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        seen = Seen(
            pod=self.server.address,
            method=self.command,
            path=self.path,
            host=self.headers.get("Host"),
            sni=getattr(self.connection, "hd_sni", None),
            peer=(self.client_address[0], self.client_address[1]),
        )
        pods.record(seen)
        status = pods.status(self.server.address)
        body = f"{self.server.address} {self.path}\n".encode() * (
            100 if self.path == "/stream" else 1
        )
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = _answer

    def finish(self) -> None:
        super().finish()
        self.server.pods.closed(self.server.address, self.client_address)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: str, port: int, pods: PodServers) -> None:
        self.address = address
        self.pods = pods
        super().__init__((address, port), _Handler)

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that closes mid-request or fails the TLS handshake


def _sni_recorder(sock: ssl.SSLSocket | ssl.SSLObject, name: str | None, _: object) -> None:
    sock.hd_sni = name  # type: ignore[union-attr]


class PodServers:
    """HTTP servers on pod addresses, all on one port, started and stopped by the test.

    Args:
        port: The port every pod listens on (0: a free one, found on the first address).
        tls: A server certificate context (``trustme``'s ``configure_cert``), or ``None``.
    """

    def __init__(self, port: int = 0, tls: ssl.SSLContext | None = None) -> None:
        self.port = port
        self.tls = tls
        if tls is not None:
            tls.sni_callback = _sni_recorder
        self.seen: list[Seen] = []
        self.closes: list[tuple[str, tuple[str, int]]] = []
        self._pods: dict[str, _Pod] = {}
        self._lock = threading.Lock()

    def start(self, *addresses: str) -> PodServers:
        """Start a server on each address (all on :attr:`port`)."""
        for address in addresses:
            server = _Server(address, self.port, self)
            self.port = server.server_address[1]
            if self.tls is not None:
                server.socket = self.tls.wrap_socket(server.socket, server_side=True)
            thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
            thread.start()
            self._pods[address] = _Pod(server, thread)
        return self

    def stop(self, *addresses: str) -> None:
        """Stop the servers on ``addresses`` (all when none given), their connections too."""
        for address in addresses or tuple(self._pods):
            pod = self._pods.pop(address)
            pod.server.shutdown()
            pod.server.server_close()
            with self._lock:
                connections = list(pod.connections)
            for connection in connections:
                with contextlib.suppress(OSError):  # closed by the client already
                    connection.shutdown(socket.SHUT_RDWR)
            pod.thread.join(5)

    def __enter__(self) -> PodServers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def set_status(self, address: str, status: int) -> None:
        """Make the pod on ``address`` answer ``status`` to every request."""
        self._pods[address].status = status

    # -- called by the handlers ----------------------------------------------------------

    def status(self, address: str) -> int:
        return self._pods[address].status

    def opened(self, address: str, connection: socket.socket) -> None:
        with self._lock:
            pod = self._pods.get(address)
            if pod is not None:
                pod.connections.append(connection)

    def record(self, seen: Seen) -> None:
        with self._lock:
            self.seen.append(seen)

    def closed(self, address: str, peer: tuple[str, int]) -> None:
        with self._lock:
            self.closes.append((address, (peer[0], peer[1])))

    # -- what the test reads ---------------------------------------------------------------

    def count(self) -> dict[str, int]:
        """Requests served per pod."""
        with self._lock:
            seen = list(self.seen)
        counts = dict.fromkeys(self._pods, 0)
        for request in seen:
            counts[request.pod] = counts.get(request.pod, 0) + 1
        return counts

    def connections(self, address: str) -> set[tuple[str, int]]:
        """The client connections that sent requests to the pod on ``address``."""
        with self._lock:
            return {seen.peer for seen in self.seen if seen.pod == address}

    def clear(self) -> None:
        with self._lock:
            self.seen.clear()
            self.closes.clear()
