"""The HTTP integrations against the same client talking to the pods directly (issue 13).

Run ``nox -s bench`` (or ``python benchmarks/bench_http.py [--write docs/performance.md]``
from the repository root). Three pods are HTTP/1.1 keep-alive servers on ``127.77.0.10-12``
in another process (so that they do not take the client's GIL); the discovery follows them
through a ``StaticResolver`` (the lookups do not matter here: a request only picks from the
snapshot). Each round sends ``--requests`` requests through every case, in a shuffled order;
the per-request time of a round is its mean. The table gives the ratio of the fastest
rounds (the figure the target is about), the ratio of the median rounds, and the range of
the per-round ratios (the spread a noisy machine gives).

Two direct baselines, because the server side is not free: the integration spreads requests
over three pods, so the pods' process serves three connections on three threads, and every
one of them runs on the same two cores as the client. Spreading by hand over the same
connections costs a few percent more than sending everything on one connection to one pod,
with no integration at all. So the ratio the target is about compares with **the same
client talking directly to the three pods** (one client per pod, round robin in the loop:
the server sees exactly what it sees through the integration, and the client has one pool
per pod, as the integration does); the ratio against one pod on one connection (the
baseline of the first tables) is reported next to it.

- httpx ``Client`` and ``AsyncClient``, requests ``Session``: keep-alive, per request.
- aiohttp: per connection (``force_close=True`` on both sides: a new connection, so a new
  resolver call, per request), and keep-alive (the resolver is not asked at all). The direct
  baseline of the per-connection row connects to IP literals, which skips aiohttp's
  resolver; two more rows compare with a trivial resolver that answers one address (the
  code path the integration takes), and with ``happy_eyeballs_delay=None`` on both sides:
  the integration answers the picked pod and a fallback pod, and with two addresses aiohttp
  races them (happy eyeballs), which costs more than the resolver itself. The row held to
  the target is the connector the how-to shows (``happy_eyeballs_delay=None``); the row
  with aiohttp's default race is reported beside it.

With ``--write PATH`` the table replaces the part of PATH between the benchmark markers.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import itertools
import random
import re
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import aiohttp  # noqa: E402
import httpx  # noqa: E402
import requests  # noqa: E402
from aiohttp.abc import AbstractResolver, ResolveResult  # noqa: E402
from bench_strategies import machine  # noqa: E402

from headless_discovery import AsyncDiscovery, Discovery, ServiceName, StaticResolver  # noqa: E402
from headless_discovery.integrations.aiohttp import DiscoveryResolver  # noqa: E402
from headless_discovery.integrations.httpx import (  # noqa: E402
    AsyncDiscoveryTransport,
    DiscoveryTransport,
)
from headless_discovery.integrations.requests import DiscoveryAdapter  # noqa: E402

PODS = ("127.77.0.10", "127.77.0.11", "127.77.0.12")
SVC = ServiceName("api", "shop", "cluster.local")
START, END = "<!-- http-benchmark:start -->", "<!-- http-benchmark:end -->"
TARGET = 1.05
HELD_TO_TARGET = {
    "httpx Client, keep-alive",
    "httpx AsyncClient, keep-alive",
    "requests Session, keep-alive",
    "aiohttp, a new connection per request, happy_eyeballs_delay=None",
}

_SERVERS = """
import sys, time
from tests.integrations.pods import PodServers
servers = PodServers().start(*sys.argv[1:])
print(servers.port, flush=True)
sys.stdin.read()
servers.stop()
"""


def start_pods() -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen(
        [sys.executable, "-c", _SERVERS, *PODS],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert process.stdout is not None
    return process, int(process.stdout.readline())


Case = Callable[[], object]
R = TypeVar("R")


class OneAddress(AbstractResolver):
    """The least a resolver can do: answer one address (the direct baseline's pod)."""

    def __init__(self, address: str) -> None:
        self.address = address

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(
                hostname=host,
                host=self.address,
                port=port,
                family=socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
        ]

    async def close(self) -> None:
        pass


def rotating(sends: list[Callable[[], R]]) -> Callable[[], R]:
    """One call of ``sends`` after the other, round robin."""
    turns = itertools.cycle(sends)

    def send() -> R:
        return next(turns)()

    return send


def timed(send: Callable[[], object], n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        send()
    return (time.perf_counter() - started) / n


def atimed(loop: asyncio.AbstractEventLoop, send: Callable[[], Awaitable[object]], n: int) -> float:
    async def run() -> float:
        started = time.perf_counter()
        for _ in range(n):
            await send()
        return (time.perf_counter() - started) / n

    return loop.run_until_complete(run())


def measure(rounds: int, n: int, port: int) -> dict[str, tuple[list[float], ...]]:
    """Per-request seconds of each round, per client: direct to one pod, direct to the
    three pods (round robin, one client per pod), through the integration."""
    resolver = StaticResolver({SVC.fqdn: list(PODS)})
    service_url = f"http://api.shop:{port}/"
    loop = asyncio.new_event_loop()
    discovery = Discovery(SVC, port=port, resolver=resolver).start()
    adiscovery = loop.run_until_complete(AsyncDiscovery(SVC, port=port, resolver=resolver).start())

    direct_urls = [f"http://{pod}:{port}/" for pod in PODS]
    sync_direct = [httpx.Client() for _ in PODS]
    sync_through = httpx.Client(transport=DiscoveryTransport(discovery))
    async_direct = [httpx.AsyncClient() for _ in PODS]
    async_through = httpx.AsyncClient(transport=AsyncDiscoveryTransport(adiscovery))
    session_direct = [requests.Session() for _ in PODS]
    session_through = requests.Session()
    session_through.mount("http://api.shop", DiscoveryAdapter(discovery))

    async def sessions() -> dict[str, aiohttp.ClientSession]:
        def session(**options: object) -> aiohttp.ClientSession:
            connector = aiohttp.TCPConnector(use_dns_cache=False, **options)  # type: ignore[arg-type]
            return aiohttp.ClientSession(connector=connector)

        ours = DiscoveryResolver(adiscovery)
        return {
            "new": session(force_close=True),
            "new through": session(force_close=True, resolver=ours),
            "new one address": session(force_close=True, resolver=OneAddress(PODS[0])),
            "new no race": session(force_close=True, happy_eyeballs_delay=None),
            "new no race through": session(
                force_close=True, happy_eyeballs_delay=None, resolver=ours
            ),
            "kept": session(),
            "kept through": session(resolver=ours),
        }

    aio = loop.run_until_complete(sessions())

    def aio_get(session: aiohttp.ClientSession, url: str) -> Callable[[], Awaitable[object]]:
        async def get() -> object:
            async with session.get(url) as response:
                return await response.read()

        return get

    def sync_case(
        direct: list[Callable[[], object]], through: Callable[[], object]
    ) -> tuple[Callable[[], float], ...]:
        return (
            lambda: timed(direct[0], n),
            lambda: timed(rotating(direct), n),
            lambda: timed(through, n),
        )

    def async_case(
        direct: list[Callable[[], Awaitable[object]]], through: Callable[[], Awaitable[object]]
    ) -> tuple[Callable[[], float], ...]:
        return (
            lambda: atimed(loop, direct[0], n),
            lambda: atimed(loop, rotating(direct), n),
            lambda: atimed(loop, through, n),
        )

    def aio_direct(name: str, urls: list[str]) -> list[Callable[[], Awaitable[object]]]:
        return [aio_get(aio[name], url) for url in urls]

    cases: dict[str, tuple[Callable[[], float], ...]] = {
        "httpx Client, keep-alive": sync_case(
            [functools.partial(c.get, u) for c, u in zip(sync_direct, direct_urls, strict=True)],
            lambda: sync_through.get(service_url),
        ),
        "httpx AsyncClient, keep-alive": async_case(
            [functools.partial(c.get, u) for c, u in zip(async_direct, direct_urls, strict=True)],
            lambda: async_through.get(service_url),
        ),
        "requests Session, keep-alive": sync_case(
            [functools.partial(c.get, u) for c, u in zip(session_direct, direct_urls, strict=True)],
            lambda: session_through.get(service_url),
        ),
        "aiohttp, a new connection per request": async_case(
            aio_direct("new", direct_urls), aio_get(aio["new through"], service_url)
        ),
        "aiohttp, a new connection per request, vs a one-address resolver": async_case(
            # One resolver for one pod: the three-pod baseline is the one-pod one here.
            aio_direct("new one address", [service_url]),
            aio_get(aio["new through"], service_url),
        ),
        "aiohttp, a new connection per request, happy_eyeballs_delay=None": async_case(
            aio_direct("new no race", direct_urls), aio_get(aio["new no race through"], service_url)
        ),
        "aiohttp, keep-alive": async_case(
            aio_direct("kept", direct_urls), aio_get(aio["kept through"], service_url)
        ),
    }
    results: dict[str, tuple[list[float], ...]] = {name: ([], [], []) for name in cases}
    for runs in cases.values():  # warm up: connections open, code paths hot
        for run in runs:
            run()
    order = [(name, side) for name in cases for side in (0, 1, 2)]
    for _ in range(rounds):
        random.shuffle(order)
        for name, side in order:
            results[name][side].append(cases[name][side]())

    for client in [*sync_direct, sync_through]:
        client.close()
    for session in [*session_direct, session_through]:
        session.close()

    async def close() -> None:
        for aclient in [*async_direct, async_through]:
            await aclient.aclose()
        for aio_session in aio.values():
            await aio_session.close()
        await adiscovery.close()

    loop.run_until_complete(close())
    loop.close()
    discovery.close()
    return results


def table(results: dict[str, tuple[list[float], ...]], rounds: int, n: int) -> str:
    lines = [
        f"Per request, through the integration vs the same client directly to the three pods "
        f"(round robin by hand, one client per pod) and to one pod; {rounds} rounds of {n} "
        f"requests each, interleaved. {machine()}",
        "",
        "| client | direct, one pod | direct, three pods | through discovery | "
        "ratio, fastest | ratio, median | per-round ratios | vs one pod, fastest | target |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, (one, three, through) in results.items():
        ratios = sorted(t / d for d, t in zip(three, through, strict=True))
        fastest = min(through) / min(three)
        median = statistics.median(through) / statistics.median(three)
        target = f"≤ {TARGET:.2f}x" if name in HELD_TO_TARGET else "—"
        lines.append(
            f"| {name} | {min(one) * 1e6:.0f} µs | {min(three) * 1e6:.0f} µs | "
            f"{min(through) * 1e6:.0f} µs | {fastest:.3f}x | {median:.3f}x | "
            f"{ratios[0]:.2f} to {ratios[-1]:.2f}x | {min(through) / min(one):.3f}x | {target} |"
        )
    return "\n".join(lines)


def write(path: Path, text: str) -> None:
    page = path.read_text()
    block = f"{START}\n{text}\n{END}"
    new, count = re.subn(re.escape(START) + r".*?" + re.escape(END), block, page, flags=re.S)
    if count != 1:
        raise SystemExit(f"{path} has no {START} ... {END} block")
    path.write_text(new)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--write", type=Path, help="replace the table in this Markdown page")
    args = parser.parse_args()
    process, port = start_pods()
    try:
        results = measure(args.rounds, args.requests, port)
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(10)
    text = table(results, args.rounds, args.requests)
    print(text)
    if args.write:
        write(args.write, text)


if __name__ == "__main__":
    main()
