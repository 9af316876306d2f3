"""Real gRPC servers as the pods of a headless Service, for the tests of the gRPC integration.

Each pod is a ``grpc.server`` on its own loopback address (127.77.0.x, the addresses the
cluster model gives the pods), all on one port, serving a generic handler with bytes in and
out (no code generation): ``/test.Echo/Who`` answers the pod's address, ``Slow`` the same
after a delay, ``Count`` streams ``n`` messages, ``Sum`` and ``Echo`` take streamed requests.
``EchoStub`` is shaped like the stub ``grpcio-tools`` generates.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc

from tests.harness.cluster import Cluster, Service

SUBNET = "127.77.0.0/16"
SERVICE = "echo"
NAMESPACE = "default"
FQDN = f"{SERVICE}.{NAMESPACE}.svc.cluster.local"


class EchoStub:
    """What ``grpcio-tools`` generates for the Echo service (bytes in and out)."""

    def __init__(self, channel: grpc.Channel | grpc.aio.Channel) -> None:
        self.Who = channel.unary_unary("/test.Echo/Who", _registered_method=True)  # type: ignore[call-arg]
        self.Slow = channel.unary_unary("/test.Echo/Slow", _registered_method=True)  # type: ignore[call-arg]
        self.Count = channel.unary_stream("/test.Echo/Count", _registered_method=True)  # type: ignore[call-arg]
        self.Sum = channel.stream_unary("/test.Echo/Sum", _registered_method=True)  # type: ignore[call-arg]
        self.Echo = channel.stream_stream("/test.Echo/Echo", _registered_method=True)  # type: ignore[call-arg]


class PodServer:
    """One pod: a gRPC server on ``address:port`` that counts the RPCs it answers."""

    def __init__(
        self, address: str, port: int, credentials: grpc.ServerCredentials | None = None
    ) -> None:
        self.address = address
        self.hits = 0
        self._lock = threading.Lock()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        handler = grpc.method_handlers_generic_handler(
            "test.Echo",
            {
                "Who": grpc.unary_unary_rpc_method_handler(self._who),
                "Slow": grpc.unary_unary_rpc_method_handler(self._slow),
                "Count": grpc.unary_stream_rpc_method_handler(self._count),
                "Sum": grpc.stream_unary_rpc_method_handler(self._sum),
                "Echo": grpc.stream_stream_rpc_method_handler(self._echo),
            },
        )
        self.server.add_generic_rpc_handlers((handler,))
        target = f"{address}:{port}"
        if credentials is None:
            bound = self.server.add_insecure_port(target)
        else:
            bound = self.server.add_secure_port(target, credentials)
        assert bound == port, f"could not bind {target}"
        self.server.start()

    def _hit(self) -> bytes:
        with self._lock:
            self.hits += 1
        return self.address.encode()

    def _who(self, request: bytes, context: Any) -> bytes:
        return self._hit()

    def _slow(self, request: bytes, context: Any) -> bytes:
        time.sleep(float(request or b"0.2"))
        return self._hit()

    def _count(self, request: bytes, context: Any) -> Iterator[bytes]:
        count, _, delay = request.partition(b"/")
        self._hit()
        for i in range(int(count)):
            yield b"%s %d" % (self.address.encode(), i)
            time.sleep(float(delay or b"0"))

    def _sum(self, requests: Iterable[bytes], context: Any) -> bytes:
        self._hit()
        return b"%d" % sum(int(r) for r in requests)

    def _echo(self, requests: Iterable[bytes], context: Any) -> Iterator[bytes]:
        self._hit()
        yield from requests

    def stop(self, grace: float | None = None) -> None:
        self.server.stop(grace).wait()


class Fleet:
    """The servers of a Service's pods, started and stopped as the model changes."""

    def __init__(
        self, cluster: Cluster, service: Service, credentials: grpc.ServerCredentials | None = None
    ) -> None:
        self.cluster = cluster
        self.service = service
        self.port = service.ports["grpc"]
        self.credentials = credentials
        self.servers: dict[str, PodServer] = {}
        self.start_missing()

    def start_missing(self) -> None:
        for pod in self.service.pods:
            assert pod.ipv4 is not None
            if pod.ipv4 not in self.servers:
                self.servers[pod.ipv4] = PodServer(pod.ipv4, self.port, self.credentials)

    def hits(self) -> Counter[str]:
        return Counter({address: server.hits for address, server in self.servers.items()})

    def stop_all(self) -> None:
        for server in self.servers.values():
            server.stop(None)


def free_port() -> int:
    """A TCP port free on the loopback addresses the pods get (127.77.0.10-29)."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.77.0.10", 0))
            port = int(probe.getsockname()[1])
        ok = True
        for host in range(11, 30):
            with socket.socket() as other:
                try:
                    other.bind((f"127.77.0.{host}", port))
                except OSError:
                    ok = False
                    break
        if ok:
            return port


def echo_cluster(replicas: int, ttl: int, port: int) -> tuple[Cluster, Service]:
    """The Service ``echo.default`` with ``replicas`` pods on 127.77.0.x, port ``grpc``."""
    cluster = Cluster(ttl=ttl)
    service = cluster.statefulset(SERVICE, NAMESPACE, replicas, ports={"grpc": port}, subnet=SUBNET)
    return cluster, service


def wait_until(condition: Any, timeout: float, what: str = "the condition") -> float:
    """Poll ``condition`` until true; the seconds it took."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(0.01)
    return time.monotonic() - started


class ProcessPod:
    """A pod whose server runs in a process of its own, to be killed without warning
    (SIGKILL: the kernel closes its connections; nothing is sent at the gRPC level)."""

    def __init__(self, address: str, port: int) -> None:
        self.address = address
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.integrations.grpc_support", address, str(port)],
            cwd=Path(__file__).resolve().parent.parent.parent,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "serving", "the pod did not start"

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)
        if self.process.stdout is not None:
            self.process.stdout.close()


def _serve(address: str, port: int) -> None:
    server = PodServer(address, port)
    print("serving", flush=True)
    server.server.wait_for_termination()


if __name__ == "__main__":
    _serve(sys.argv[1], int(sys.argv[2]))
