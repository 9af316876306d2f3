"""The HTTP integrations against the same client talking to one pod directly (issue 13).

Run ``nox -s bench`` (or ``python benchmarks/bench_http.py [--write docs/performance.md]``
from the repository root). Three pods are HTTP/1.1 keep-alive servers on ``127.77.0.10-12``
in another process (so that they do not take the client's GIL); the discovery follows them
through a ``StaticResolver`` (the lookups do not matter here: a request only picks from the
snapshot). Each round sends ``--requests`` requests through every case, in a shuffled order;
the per-request time of a round is its mean. The table gives the ratio of the fastest
rounds (the figure the target is about), the ratio of the median rounds, and the range of
the per-round ratios (the spread a noisy machine gives).

- httpx ``Client`` and ``AsyncClient``, requests ``Session``: keep-alive, per request.
- aiohttp: per connection (``force_close=True`` on both sides: a new connection, so a new
  resolver call, per request), and keep-alive (the resolver is not asked at all).

With ``--write PATH`` the table replaces the part of PATH between the benchmark markers.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import aiohttp  # noqa: E402
import httpx  # noqa: E402
import requests  # noqa: E402
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


def measure(rounds: int, n: int, port: int) -> dict[str, tuple[list[float], list[float]]]:
    """Per-request seconds of each round, direct and through the integration, per client."""
    resolver = StaticResolver({SVC.fqdn: list(PODS)})
    direct_url = f"http://{PODS[0]}:{port}/"
    service_url = f"http://api.shop:{port}/"
    loop = asyncio.new_event_loop()
    discovery = Discovery(SVC, port=port, resolver=resolver).start()
    adiscovery = loop.run_until_complete(AsyncDiscovery(SVC, port=port, resolver=resolver).start())

    sync_direct = httpx.Client()
    sync_through = httpx.Client(transport=DiscoveryTransport(discovery))
    async_direct = httpx.AsyncClient()
    async_through = httpx.AsyncClient(transport=AsyncDiscoveryTransport(adiscovery))
    session_direct = requests.Session()
    session_through = requests.Session()
    session_through.mount("http://api.shop", DiscoveryAdapter(discovery))

    async def sessions() -> list[aiohttp.ClientSession]:
        def connector(**options: object) -> aiohttp.TCPConnector:
            return aiohttp.TCPConnector(use_dns_cache=False, **options)  # type: ignore[arg-type]

        return [
            aiohttp.ClientSession(connector=connector(force_close=True)),
            aiohttp.ClientSession(
                connector=connector(force_close=True, resolver=DiscoveryResolver(adiscovery))
            ),
            aiohttp.ClientSession(connector=connector()),
            aiohttp.ClientSession(connector=connector(resolver=DiscoveryResolver(adiscovery))),
        ]

    aio = loop.run_until_complete(sessions())

    def aio_get(session: aiohttp.ClientSession, url: str) -> Callable[[], Awaitable[object]]:
        async def get() -> object:
            async with session.get(url) as response:
                return await response.read()

        return get

    cases: dict[str, tuple[Callable[[], float], Callable[[], float]]] = {
        "httpx Client, keep-alive": (
            lambda: timed(lambda: sync_direct.get(direct_url), n),
            lambda: timed(lambda: sync_through.get(service_url), n),
        ),
        "httpx AsyncClient, keep-alive": (
            lambda: atimed(loop, lambda: async_direct.get(direct_url), n),
            lambda: atimed(loop, lambda: async_through.get(service_url), n),
        ),
        "requests Session, keep-alive": (
            lambda: timed(lambda: session_direct.get(direct_url), n),
            lambda: timed(lambda: session_through.get(service_url), n),
        ),
        "aiohttp, a new connection per request": (
            lambda: atimed(loop, aio_get(aio[0], direct_url), n),
            lambda: atimed(loop, aio_get(aio[1], service_url), n),
        ),
        "aiohttp, keep-alive": (
            lambda: atimed(loop, aio_get(aio[2], direct_url), n),
            lambda: atimed(loop, aio_get(aio[3], service_url), n),
        ),
    }
    results: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in cases}
    for run in cases.values():  # warm up: connections open, code paths hot
        run[0]()
        run[1]()
    order = [(name, side) for name in cases for side in (0, 1)]
    for _ in range(rounds):
        random.shuffle(order)
        for name, side in order:
            results[name][side].append(cases[name][side]())

    sync_direct.close()
    sync_through.close()
    session_direct.close()
    session_through.close()

    async def close() -> None:
        await async_direct.aclose()
        await async_through.aclose()
        for session in aio:
            await session.close()
        await adiscovery.close()

    loop.run_until_complete(close())
    loop.close()
    discovery.close()
    return results


def table(results: dict[str, tuple[list[float], list[float]]], rounds: int, n: int) -> str:
    lines = [
        f"Per request, through the integration vs the same client to one pod directly; "
        f"{rounds} rounds of {n} requests each, interleaved. {machine()}",
        "",
        "| client | direct (fastest round) | through discovery | ratio, fastest | "
        "ratio, median | per-round ratios | target |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, (direct, through) in results.items():
        ratios = sorted(t / d for d, t in zip(direct, through, strict=True))
        fastest = min(through) / min(direct)
        median = statistics.median(through) / statistics.median(direct)
        target = "—" if name == "aiohttp, keep-alive" else f"≤ {TARGET:.2f}x"
        lines.append(
            f"| {name} | {min(direct) * 1e6:.0f} µs | {min(through) * 1e6:.0f} µs | "
            f"{fastest:.3f}x | {median:.3f}x | {ratios[0]:.2f} to {ratios[-1]:.2f}x | {target} |"
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
