"""A "pod": a network namespace made by the test, with cluster DNS and a pod's resolver setup.

:class:`PodNamespace` gives code under test exactly what an application in a pod sees:

- ``/etc/resolv.conf`` (bind-mounted by ``ip netns exec``) as a ClusterFirst pod has it::

      nameserver 10.96.0.10
      search <ns>.svc.cluster.local svc.cluster.local cluster.local
      options ndots:5

- a real BIND 9 on ``10.96.0.10:53`` serving the cluster model, so libc ``getaddrinfo``,
  dnspython and pymongo all resolve through the search list as in a cluster;
- every pod IP of the model assigned to ``lo``, so MockupDB members can bind pod IPs (see
  :meth:`PodNamespace.replica_set`), and a pod's "own" address exists;
- optionally a service-account directory with the ``namespace`` file, and ``POD_NAMESPACE``.

Code runs inside with :meth:`PodNamespace.run_python` (a fresh interpreter, the repository on
``PYTHONPATH``) or :meth:`PodNamespace.spawn_python` (in the background). Everything is removed
on exit, failures included: processes, ``named``, the namespace, ``/etc/netns/<name>``, the
temporary directory. Needs root (see :func:`require_root`).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal, ParamSpec, TypeVar

from tests.harness import netns
from tests.harness.bind import BindServer
from tests.harness.cluster import Cluster, Service
from tests.harness.mongo import READY
from tests.harness.requirements import require_named, require_root

__all__ = [
    "NAME_PREFIX",
    "REPO_ROOT",
    "PodNamespace",
    "RemoteReplicaSet",
    "remove_stale_namespaces",
    "require_named",
    "require_root",
]

P = ParamSpec("P")
T = TypeVar("T")

REPO_ROOT = Path(__file__).resolve().parents[2]
"""The repository root: on ``PYTHONPATH`` and the working directory of processes in a pod."""

NAME_PREFIX = "hd-test-"
"""Namespaces are named ``hd-test-<pid>-<n>``: unique per test process, and recognisable."""

_names = itertools.count()

# Seconds a process in the pod gets to exit after SIGTERM before SIGKILL.
_STOP_TIMEOUT = 5.0


def remove_stale_namespaces() -> list[str]:
    """Remove namespaces of earlier test runs whose process died without cleaning up.

    Returns:
        The names removed.
    """
    return netns.remove_stale(NAME_PREFIX)


@dataclass
class RemoteReplicaSet:
    """A MockupDB replica set running in a process inside a pod (see ``tests.harness.mongo``).

    Attributes:
        process: The ``python -m tests.harness.mongo`` process.
        hosts: The members' advertised names, ``host:port``.
        set_name: The replica set name.
    """

    process: subprocess.Popen[str]
    hosts: list[str]
    set_name: str

    @property
    def uri(self) -> str:
        """A ``mongodb://`` URI listing every member, with ``replicaSet``."""
        return f"mongodb://{','.join(self.hosts)}/?replicaSet={self.set_name}"

    def stop(self) -> None:
        """Stop the members (SIGTERM; SIGKILL after 5 s). Idempotent."""
        _stop_process(self.process)


class PodNamespace:
    """A network namespace set up as a pod of ``namespace`` in ``cluster``; a context manager.

    Args:
        cluster: The cluster model its DNS server serves. Change it, then call :meth:`sync`.
        namespace: The Kubernetes namespace the pod lives in (first search domain).
        nameserver: The cluster DNS address; default ``cluster.dns_ip`` (``10.96.0.10``).
        name: The network namespace name; default ``hd-test-<pid>-<n>``.
        ndots: The resolver's ``ndots`` option.
        service_account: Write ``<tmp>/serviceaccount/namespace`` (see
            :attr:`service_account_dir`), as a mounted service-account token would.
        pod_namespace_env: Set ``POD_NAMESPACE`` (downward API) for processes in the pod.

    Example:
        >>> cluster = Cluster()
        >>> cluster.statefulset("mongodb", "db", 3)                    # doctest: +SKIP
        >>> with PodNamespace(cluster, "db") as pod:                  # doctest: +SKIP
        ...     pod.run_python("import socket; print(socket.getaddrinfo('mongodb', 27017))")
    """

    def __init__(
        self,
        cluster: Cluster,
        namespace: str = "default",
        *,
        nameserver: str | None = None,
        name: str | None = None,
        ndots: int = 5,
        service_account: bool = False,
        pod_namespace_env: bool = False,
    ) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.nameserver = nameserver if nameserver is not None else cluster.dns_ip
        self.name = name if name is not None else f"{NAME_PREFIX}{os.getpid()}-{next(_names)}"
        self.ndots = ndots
        self.pod_namespace_env = pod_namespace_env
        self.bind = BindServer(cluster, self.nameserver, 53, netns=self.name)
        self.directory: Path | None = None
        self._service_account = service_account
        self._thread: netns.NetnsThread | None = None
        self._addresses: set[str] = set()
        self._processes: list[subprocess.Popen[str]] = []
        self._cleanup: contextlib.ExitStack | None = None

    # -- life cycle -----------------------------------------------------------------------

    @property
    def resolv_conf(self) -> str:
        """The pod's ``/etc/resolv.conf``."""
        domain = self.cluster.domain
        return (
            f"nameserver {self.nameserver}\n"
            f"search {self.namespace}.svc.{domain} svc.{domain} {domain}\n"
            f"options ndots:{self.ndots}\n"
        )

    @property
    def service_account_dir(self) -> Path | None:
        """The stand-in for ``/var/run/secrets/kubernetes.io/serviceaccount`` (holds
        ``namespace``), or ``None`` without ``service_account=True``."""
        if not self._service_account or self.directory is None:
            return None
        return self.directory / "serviceaccount"

    def start(self) -> PodNamespace:
        """Create the namespace, its resolver files and addresses, and start its DNS server.

        Calling it on a started pod does nothing.

        Raises:
            netns.NetnsError: An ``ip`` command failed (not root?).
            BindError: The DNS server did not start.
        """
        if self._cleanup is not None:
            return self
        with contextlib.ExitStack() as cleanup:
            # Callbacks run last-registered first: processes, named, the thread, the namespace
            # (killing anything left in it), then the files.
            self.directory = Path(tempfile.mkdtemp(prefix="hd-pod-"))
            cleanup.callback(shutil.rmtree, self.directory, ignore_errors=True)
            netns.create(self.name)
            cleanup.callback(netns.delete, self.name)
            etc = netns.NETNS_ETC_DIR / self.name
            etc.mkdir(parents=True, exist_ok=True)
            (etc / "resolv.conf").write_text(self.resolv_conf)
            if self._service_account:
                account = self.directory / "serviceaccount"
                account.mkdir()
                # Kubernetes writes the namespace without a trailing newline.
                (account / "namespace").write_text(self.namespace)
            self._add_addresses([self.nameserver, *self.cluster.pod_ips()])
            self._thread = netns.NetnsThread(self.name)
            cleanup.callback(self._thread.close)
            self.bind.start()
            cleanup.callback(self.bind.stop)
            cleanup.callback(self._stop_processes)
            self._cleanup = cleanup.pop_all()
        return self

    def close(self) -> None:
        """Stop everything in the pod and remove it. Idempotent."""
        cleanup, self._cleanup = self._cleanup, None
        if cleanup is not None:
            try:
                cleanup.close()
            finally:
                self._thread = None
                self.directory = None
                self._addresses.clear()

    def __enter__(self) -> PodNamespace:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- changing the cluster -------------------------------------------------------------

    def sync(self) -> None:
        """Push changes of :attr:`cluster` to the pod: new pod IPs on ``lo``, then DNS updates.

        Raises:
            BindError: The DNS server refused an update.
        """
        self._add_addresses(self.cluster.pod_ips())
        self.bind.sync()

    def apply(self, cluster: Cluster) -> None:
        """Replace the cluster model with ``cluster`` and :meth:`sync` it."""
        self.cluster = cluster
        self._add_addresses(cluster.pod_ips())
        self.bind.apply(cluster)

    # -- running code in the pod ----------------------------------------------------------

    def environment(self, env: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment of processes in the pod: ours, the repository on ``PYTHONPATH``,
        ``POD_NAMESPACE`` if asked for, then ``env``."""
        result = dict(os.environ)
        result["PYTHONPATH"] = os.pathsep.join(
            [str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
        )
        if self.pod_namespace_env:
            result["POD_NAMESPACE"] = self.namespace
        result.update(env or {})
        return result

    def run_python(
        self, code: str, *, env: Mapping[str, str] | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run ``python -c code`` in the pod and wait for it; output is captured as text.

        The return code is not checked: assert on ``returncode``, ``stdout``, ``stderr``.

        Raises:
            subprocess.TimeoutExpired: It ran longer than ``timeout`` seconds (it is killed).
        """
        return subprocess.run(
            self._command([sys.executable, "-c", code]),
            env=self.environment(env),
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def spawn(
        self, args: Sequence[str], *, env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[str]:
        """Start ``args`` in the pod in the background; stopped when the pod closes.

        Its stdout and stderr come merged through ``process.stdout`` (text): read it, or keep
        the output small, since a full pipe blocks the process.
        """
        process = subprocess.Popen(
            self._command(args),
            env=self.environment(env),
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._processes.append(process)
        return process

    def spawn_python(
        self, code: str, *, env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[str]:
        """Start ``python -c code`` in the pod in the background (see :meth:`spawn`)."""
        return self.spawn([sys.executable, "-c", code], env=env)

    def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn`` in this process, on a thread inside the pod's network namespace.

        Fast (no new interpreter) but only the network is the pod's: ``/etc/resolv.conf`` is
        the host's, so use it for code given explicit addresses (dnspython with
        ``nameservers=[pod.nameserver]``, pymongo with IPs), not for the system resolver.
        """
        if self._thread is None:
            raise RuntimeError("the pod is not started")
        return self._thread.call(fn, *args, **kwargs)

    def replica_set(
        self,
        service: Service,
        *,
        set_name: str = "rs0",
        advertise: Literal["hostname", "ip"] = "hostname",
        primary_index: int | None = 0,
        port: int | None = None,
        timeout: float = 10.0,
    ) -> RemoteReplicaSet:
        """Run a MockupDB replica set in the pod, one member per pod of ``service``.

        Every pod with an IPv4 address is a member, ready or not (a mongod that is not ready
        still listens), bound to its pod IP.

        Args:
            service: The Service whose pods are the members.
            set_name: The replica set name.
            advertise: Members call themselves by their per-pod DNS name
                (``mongodb-0.mongodb.db.svc.cluster.local:27017``) or by ``IP:port``.
            primary_index: The primary among the members; ``None``: no primary.
            port: The members' port; default the Service's ``mongodb`` port, else its first.
            timeout: Seconds to wait until the members listen.

        Raises:
            ValueError: The Service has no pod with an IPv4 address, or no port.
            RuntimeError: The members did not start (the message holds their output).
        """
        current = self.cluster.service(service.name, service.namespace)
        members = [(pod, pod.ipv4) for pod in current.pods if pod.ipv4 is not None]
        if not members:
            raise ValueError(f"Service {current.namespace}/{current.name} has no IPv4 pod")
        if port is None:
            if not current.ports:
                raise ValueError(f"Service {current.namespace}/{current.name} has no port")
            port = current.ports.get("mongodb", next(iter(current.ports.values())))
        args = [sys.executable, "-m", "tests.harness.mongo", "--set-name", set_name]
        args += ["--primary-index", str(primary_index if primary_index is not None else -1)]
        hosts = []
        for pod, ipv4 in members:
            args += ["--member", f"{ipv4}:{port}"]
            if advertise == "hostname":
                host = self.cluster.pod_fqdn(current, pod).rstrip(".")
            else:
                host = ipv4
            hosts.append(f"{host}:{port}")
            args += ["--advertise", f"{host}:{port}"]
        process = self.spawn(args)
        try:
            _wait_for_line(process, READY, timeout, f"replica set {set_name} in pod {self.name}")
        except BaseException:
            _stop_process(process)
            raise
        return RemoteReplicaSet(process=process, hosts=hosts, set_name=set_name)

    # -- internals ------------------------------------------------------------------------

    def _command(self, args: Sequence[str]) -> list[str]:
        if self._cleanup is None:
            raise RuntimeError("the pod is not started")
        return [netns.IP, "netns", "exec", self.name, *args]

    def _add_addresses(self, addresses: Sequence[str]) -> None:
        new = [address for address in dict.fromkeys(addresses) if address not in self._addresses]
        netns.add_addresses(self.name, new)
        self._addresses.update(new)

    def _stop_processes(self) -> None:
        processes, self._processes = self._processes, []
        for process in processes:
            _stop_process(process)


def _stop_process(process: subprocess.Popen[str]) -> None:
    """SIGTERM, wait, SIGKILL after a timeout; close its pipe (else a ResourceWarning)."""
    try:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    finally:
        if process.stdout is not None:
            process.stdout.close()


def _wait_for_line(process: subprocess.Popen[str], prefix: str, timeout: float, what: str) -> str:
    """Read ``process``'s output until a line starts with ``prefix``; return that line.

    Reads the pipe's file descriptor directly (select + os.read) so that the wait can time out;
    output before the line is kept for the error message.

    Raises:
        RuntimeError: The process exited or ``timeout`` passed first.
    """
    assert process.stdout is not None
    fd = process.stdout.fileno()
    deadline = time.monotonic() + timeout
    output = b""
    while True:
        lines = output.split(b"\n")
        for line in lines[:-1]:
            text = line.decode("utf-8", "replace")
            if text.startswith(prefix):
                return text
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        readable, _, _ = select.select([fd], [], [], remaining)
        if not readable:
            break
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        output += chunk
    status = process.poll()
    state = f"exited with status {status}" if status is not None else f"not ready in {timeout} s"
    raise RuntimeError(f"{what} {state}; output:\n{output.decode('utf-8', 'replace')}")
