"""``close()`` leaves nothing behind; an open discovery never holds up interpreter exit.

Threads (``threading.enumerate()``), asyncio tasks (``asyncio.all_tasks()``) and file
descriptors (``/proc/self/fd``, sockets included) are counted before and after, with lookups
answered, timed out, and cut off by ``close()`` in the middle.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from headless_discovery import (
    AsyncDiscovery,
    AsyncDnsResolver,
    Discovery,
    DiscoveryError,
    DnsResolver,
    RefreshPolicy,
    ResolutionError,
)
from tests.faults.cases import ZONE
from tests.faults.server import FaultServer

pytestmark = pytest.mark.timeout(60)

REPO = Path(__file__).resolve().parents[2]
# Refresh all the time, so that close() meets a lookup in flight.
BUSY = RefreshPolicy(
    min_interval=0.01, max_interval=0.02, jitter=0.0, backoff_base=0.01, backoff_max=0.02
)
LIFETIME = 0.5
NAME = "api.shop.svc.cluster.local."


def _fds() -> set[str]:
    gc.collect()
    return set(os.listdir("/proc/self/fd"))


def _threads() -> set[threading.Thread]:
    return set(threading.enumerate())


def _settle(condition: object, timeout: float = 2.0) -> None:
    """Wait for threads that were told to stop to be gone (close() joins; GC does not)."""
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.01)


def test_discovery_close_leaves_nothing() -> None:
    with FaultServer(ZONE) as server:
        fds, threads = _fds(), _threads()
        resolver = DnsResolver([server.address], server.port, timeout=0.1, lifetime=LIFETIME)
        for fault in ("answer", "silent", "servfail", "truncate", "garbage"):
            server.fault = fault
            pods = Discovery("api.shop", port=8080, resolver=resolver, refresh=BUSY)
            pods.start()
            time.sleep(0.15)  # some refreshes; with "silent", one is in flight now
            started = time.monotonic()
            pods.close()
            assert time.monotonic() - started <= LIFETIME + 0.5
            with pytest.raises(DiscoveryError):
                pods.pick()
            assert server.wait_idle(), "a TCP connection is still open"
            assert _threads() == threads, fault
            assert _fds() == fds, fault


def test_async_discovery_close_leaves_nothing() -> None:
    async def main(server: FaultServer) -> None:
        me = asyncio.current_task()
        tasks, fds = asyncio.all_tasks() - {me}, _fds()
        resolver = AsyncDnsResolver([server.address], server.port, timeout=0.1, lifetime=LIFETIME)
        for fault in ("answer", "silent", "servfail", "truncate", "garbage"):
            server.fault = fault
            pods = AsyncDiscovery("api.shop", port=8080, resolver=resolver, refresh=BUSY)
            await pods.start()
            await asyncio.sleep(0.15)
            started = time.monotonic()
            await pods.close()
            assert time.monotonic() - started <= 0.5
            with pytest.raises(DiscoveryError):
                pods.pick()
            assert server.wait_idle(), "a TCP connection is still open"
            # A cancelled lookup closes its socket as the cancellation unwinds; on a loaded
            # machine that may take a few turns of the loop. A leak never settles.
            for _ in range(100):
                if asyncio.all_tasks() - {me} == tasks and _fds() == fds:
                    break
                await asyncio.sleep(0.01)
            assert asyncio.all_tasks() - {me} == tasks, fault
            assert _fds() == fds, fault

    with FaultServer(ZONE) as server:
        threads = _threads()
        asyncio.run(main(server))
        assert _threads() == threads


def test_one_shot_lookups_leave_no_sockets() -> None:
    with FaultServer(ZONE, tcp=False) as server:
        fds = _fds()
        resolver = DnsResolver([server.address], server.port, timeout=0.05, lifetime=0.15)
        aresolver = AsyncDnsResolver([server.address], server.port, timeout=0.05, lifetime=0.15)
        for fault in ("answer", "silent", "truncate", "garbage", "wrong_id", "refused"):
            server.fault = fault
            with contextlib.suppress(ResolutionError):
                resolver.resolve_addresses(NAME)
            with contextlib.suppress(ResolutionError):
                asyncio.run(aresolver.aresolve_addresses(NAME))
            assert server.wait_idle(), "a TCP connection is still open"
            assert _fds() == fds, fault


def test_a_dropped_discovery_stops_its_thread() -> None:
    with FaultServer(ZONE) as server:
        threads = _threads()
        resolver = DnsResolver([server.address], server.port, timeout=0.1, lifetime=LIFETIME)
        Discovery("api.shop", port=8080, resolver=resolver, refresh=BUSY).start()
        gc.collect()
        _settle(lambda: _threads() == threads)
        assert _threads() == threads


EXIT_SCRIPT = """
import asyncio, sys, time
from headless_discovery import AsyncDiscovery, AsyncDnsResolver, Discovery, DnsResolver
from headless_discovery import RefreshPolicy

busy = RefreshPolicy(min_interval=0.01, max_interval=0.02, backoff_base=0.01, backoff_max=0.02)
address, port, kind = sys.argv[1], int(sys.argv[2]), sys.argv[3]


def wait_until_silent():
    print("started", flush=True)
    sys.stdin.readline()  # the server is silent now: the refresher waits on it


if kind == "sync":
    pods = Discovery("api.shop", port=8080, refresh=busy,
                     resolver=DnsResolver([address], port, timeout=5, lifetime=30))
    pods.start()
    wait_until_silent()
    time.sleep(0.2)
else:
    async def main():
        pods = AsyncDiscovery("api.shop", port=8080, refresh=busy,
                              resolver=AsyncDnsResolver([address], port, timeout=5, lifetime=30))
        await pods.start()
        await asyncio.get_running_loop().run_in_executor(None, wait_until_silent)
        await asyncio.sleep(0.2)
    asyncio.run(main())
print("exiting", flush=True)
"""


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_interpreter_exit_with_an_open_discovery_does_not_hang(kind: str) -> None:
    with FaultServer(ZONE) as server:
        child = subprocess.Popen(
            [sys.executable, "-c", EXIT_SCRIPT, server.address, str(server.port), kind],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        try:
            assert child.stdout is not None
            assert child.stdin is not None
            assert child.stdout.readline() == "started\n"
            server.fault = "silent"
            time.sleep(0.1)
            started = time.monotonic()
            child.stdin.write("go\n")
            child.stdin.flush()
            out, err = child.communicate(timeout=20)
            elapsed = time.monotonic() - started
        finally:
            if child.poll() is None:
                child.kill()
                child.communicate()
    assert child.returncode == 0, err
    assert out == "exiting\n"
    assert "Traceback" not in err
    print(f"\nexit with an open {kind} discovery took {elapsed:.2f} s")
    assert elapsed < 3, f"exit took {elapsed:.1f} s"
