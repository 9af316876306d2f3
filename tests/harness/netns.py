"""Network namespaces for tests: create, address, enter from one thread, and remove.

Everything here needs root (``CAP_SYS_ADMIN``, ``CAP_NET_ADMIN``). Processes run in a namespace
through ``ip netns exec``, which also bind-mounts ``/etc/netns/<name>/resolv.conf`` over
``/etc/resolv.conf``: that is how a "pod" gets its own resolver configuration.

The test process itself talks to servers inside a namespace through a :class:`NetnsThread`: a
thread that has entered the namespace with ``setns(2)``. Network namespaces are per thread, so
sockets that thread opens live in the namespace while the rest of the process stays outside.
That avoids starting a Python process for every DNS probe or dynamic update.
"""

from __future__ import annotations

import contextlib
import ctypes
import ipaddress
import os
import queue
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

__all__ = [
    "IP",
    "NETNS_ETC_DIR",
    "NetnsError",
    "NetnsThread",
    "add_addresses",
    "create",
    "delete",
    "ip",
    "list_namespaces",
    "pids",
    "remove_stale",
]

P = ParamSpec("P")
T = TypeVar("T")

IP = shutil.which("ip") or "/usr/sbin/ip"
"""The iproute2 ``ip`` binary."""

NETNS_ETC_DIR = Path("/etc/netns")
"""``ip netns exec <name>`` bind-mounts the files of ``/etc/netns/<name>/`` over ``/etc/``."""

_NETNS_RUN_DIR = Path("/run/netns")

# From <sched.h>: the namespace type argument of setns(2).
_CLONE_NEWNET = 0x40000000


class NetnsError(RuntimeError):
    """An ``ip`` command failed; the message carries the command and its error output."""


def ip(*args: str, stdin: str | None = None) -> str:
    """Run ``ip <args>`` and return its output.

    Raises:
        NetnsError: The command exited with an error.
    """
    command = [IP, *args]
    result = subprocess.run(command, input=stdin, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise NetnsError(f"{' '.join(command)} failed: {result.stderr.strip()}")
    return result.stdout


def list_namespaces() -> list[str]:
    """Names of the existing named network namespaces."""
    # Output lines look like "name" or "name (id: 3)".
    return [line.split()[0] for line in ip("netns", "list").splitlines() if line.strip()]


def create(name: str) -> None:
    """Create namespace ``name`` with its loopback interface up (``127.0.0.1/8``, ``::1``).

    Raises:
        NetnsError: ``ip netns add`` failed (not root, or the name is taken).
    """
    ip("netns", "add", name)
    try:
        ip("-n", name, "link", "set", "lo", "up")
    except BaseException:
        delete(name)
        raise


def add_addresses(name: str, addresses: Iterable[str]) -> None:
    """Assign host addresses (``/32``, ``/128``) to ``lo`` in namespace ``name``, in one batch.

    Servers such as ``named`` only listen on assigned addresses; plain sockets could bind any
    127.x address, but pod IPs must be assigned. Adding an address that is already there fails.

    Raises:
        NetnsError: An address could not be added.
    """
    lines = []
    for address in addresses:
        parsed = ipaddress.ip_address(address)
        if parsed.version == 4:
            lines.append(f"address add {parsed}/32 dev lo\n")
        else:
            # nodad: duplicate address detection would leave the address "tentative" (unusable)
            # for a moment; on a private loopback there is nothing to detect.
            lines.append(f"address add {parsed}/128 dev lo nodad\n")
    if lines:
        ip("-n", name, "-batch", "-", stdin="".join(lines))


def pids(name: str) -> list[int]:
    """PIDs of the processes running in namespace ``name``."""
    try:
        output = ip("netns", "pids", name)
    except NetnsError:
        return []
    return [int(pid) for pid in output.split()]


def delete(name: str) -> None:
    """Remove namespace ``name``: kill what still runs in it, delete it and ``/etc/netns/<name>``.

    Safe to call for a namespace that is already (partly) gone.

    Raises:
        NetnsError: ``ip netns delete`` failed for a namespace that exists.
    """
    for pid in pids(name):
        # Processes the harness started are stopped gracefully before this; whatever is left
        # (a grandchild, a hung child) is ours, in our namespace, and would keep it alive.
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    try:
        if (_NETNS_RUN_DIR / name).exists():
            ip("netns", "delete", name)
    finally:
        shutil.rmtree(NETNS_ETC_DIR / name, ignore_errors=True)


def remove_stale(prefix: str) -> list[str]:
    """Delete namespaces ``<prefix><pid>-<n>`` left by test processes that no longer run.

    A test run killed hard (SIGKILL, power loss) cannot clean up; the next run does.

    Returns:
        The names removed.
    """
    names = set(list_namespaces())
    if NETNS_ETC_DIR.is_dir():
        names.update(entry.name for entry in NETNS_ETC_DIR.iterdir())
    removed = []
    for name in sorted(names):
        if not name.startswith(prefix):
            continue
        owner = name[len(prefix) :].split("-", 1)[0]
        if not owner.isdigit() or _alive(int(owner)):
            continue
        delete(name)
        removed.append(name)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _setns(name: str) -> None:
    """Move the calling thread into network namespace ``name`` (``os.setns`` is 3.12+)."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(_NETNS_RUN_DIR / name, os.O_RDONLY)
    try:
        if libc.setns(fd, _CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"setns into network namespace {name}: {os.strerror(errno)}")
    finally:
        os.close(fd)


_Job = tuple[Callable[[], Any], "Future[Any]"]


class NetnsThread:
    """A worker thread inside a network namespace, to run socket code there in-process.

    Only the network is the namespace's: files, and ``/etc/resolv.conf`` in particular, are the
    host's (``ip netns exec`` is what swaps resolv.conf). Use it for code that names its server
    (dnspython with an explicit nameserver, pymongo with IPs), not for ``getaddrinfo``.

    Args:
        name: The namespace to enter.

    Raises:
        OSError: The thread could not enter the namespace.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        entered: Future[None] = Future()
        self._thread = threading.Thread(
            target=self._run, args=(entered,), name=f"netns-{name}", daemon=True
        )
        self._thread.start()
        try:
            entered.result()
        except BaseException:
            self._thread.join()
            raise

    def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(*args, **kwargs)`` in the namespace and return its result (or raise)."""
        future: Future[T] = Future()
        self._jobs.put((lambda: fn(*args, **kwargs), future))
        return future.result()

    def close(self) -> None:
        """Stop the thread (it holds a reference to the namespace while it runs)."""
        if self._thread.is_alive():
            self._jobs.put(None)
            self._thread.join()

    def _run(self, entered: Future[None]) -> None:
        try:
            _setns(self.name)
        except BaseException as exc:
            entered.set_exception(exc)
            return
        entered.set_result(None)
        while (job := self._jobs.get()) is not None:
            fn, future = job
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)
