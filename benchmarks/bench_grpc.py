"""gRPC through discovery_channel against the alternatives: a plain channel, ``dns:///``.

Run ``nox -s bench`` (or ``python benchmarks/bench_grpc.py [--write docs/performance.md]``
from the repository root; needs BIND 9 for the scale-up rows).

- Per unary RPC: the same server (one pod on loopback), the same run, in alternating rounds:
  a plain ``grpc.insecure_channel`` to the pod, and ``discovery_channel`` over a discovery
  whose only endpoint is that pod (sync and ``grpc.aio``). Target: at most 1.1x.
- Scale-up: three pods behind a Service in a real BIND (TTL 1 s); a fourth pod is added by an
  RFC 2136 update; the time until it answers its first RPC, through ``discovery_channel`` and
  through ``dns:///`` with the ``round_robin`` policy, both calling in turn.

With ``--write PATH`` the table replaces the part of PATH between the gRPC markers.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import grpc

from headless_discovery import (
    AsyncDiscovery,
    Discovery,
    DnsResolver,
    RefreshPolicy,
    StaticResolver,
)
from headless_discovery.integrations.grpc import (
    aio_discovery_channel,
    discovery_channel,
)
from tests.harness.bind import BindServer
from tests.integrations.grpc_support import (
    FQDN,
    NAMESPACE,
    SERVICE,
    Fleet,
    PodServer,
    echo_cluster,
    free_port,
)

START = "<!-- grpc-benchmark:start -->"
END = "<!-- grpc-benchmark:end -->"
TARGET = 1.1
ROUNDS = 7
CALLS = 500
WAIT_FOR_DNS = 10.0


def best_of(call: Callable[[], object]) -> float:
    """Microseconds per call: the best of several rounds of CALLS calls."""
    times = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(CALLS):
            call()
        times.append((time.perf_counter() - started) / CALLS * 1e6)
    return min(times)


def per_rpc_sync(address: str, port: int) -> tuple[float, float]:
    resolver = StaticResolver({FQDN: [address]})
    with (
        grpc.insecure_channel(f"{address}:{port}") as plain,
        Discovery(SERVICE, namespace=NAMESPACE, port=port, resolver=resolver) as pods,
        discovery_channel(pods) as ours,
    ):
        plain_call = plain.unary_unary("/test.Echo/Who")
        our_call = ours.unary_unary("/test.Echo/Who")
        for _ in range(200):  # warm both
            plain_call(b"")
            our_call(b"")
        plain_us: list[float] = []
        our_us: list[float] = []
        for _ in range(3):  # alternate, so that both see the same machine
            plain_us.append(best_of(lambda: plain_call(b"")))
            our_us.append(best_of(lambda: our_call(b"")))
    return min(plain_us), min(our_us)


async def per_rpc_aio(address: str, port: int) -> tuple[float, float]:
    resolver = StaticResolver({FQDN: [address]})

    async def best(call: Callable[[], object]) -> float:
        times = []
        for _ in range(ROUNDS):
            started = time.perf_counter()
            for _ in range(CALLS):
                await call()  # type: ignore[misc]
            times.append((time.perf_counter() - started) / CALLS * 1e6)
        return min(times)

    async with (
        grpc.aio.insecure_channel(f"{address}:{port}") as plain,
        AsyncDiscovery(SERVICE, namespace=NAMESPACE, port=port, resolver=resolver) as pods,
        aio_discovery_channel(pods) as ours,
    ):
        plain_call = plain.unary_unary("/test.Echo/Who")
        our_call = ours.unary_unary("/test.Echo/Who")
        for _ in range(200):
            await plain_call(b"")
            await our_call(b"")
        plain_us: list[float] = []
        our_us: list[float] = []
        for _ in range(3):
            plain_us.append(await best(lambda: plain_call(b"")))
            our_us.append(await best(lambda: our_call(b"")))
    return min(plain_us), min(our_us)


def scale_up() -> tuple[float | None, float | None]:
    """Seconds from the DNS update to the new pod's first answer: ours, then ``dns:///``."""
    port = free_port()
    cluster, service = echo_cluster(3, 1, port)
    fleet = Fleet(cluster, service)
    try:
        with BindServer(cluster) as bind:
            resolver = DnsResolver([bind.nameserver], bind.port, timeout=0.3, lifetime=0.6)
            target = f"dns://{bind.nameserver}:{bind.port}/{FQDN}:{port}"
            with (
                Discovery(
                    SERVICE,
                    namespace=NAMESPACE,
                    port=port,
                    resolver=resolver,
                    refresh=RefreshPolicy(min_interval=0.5, max_interval=1.0),
                ) as pods,
                discovery_channel(pods) as channel,
                grpc.insecure_channel(
                    target, options=[("grpc.lb_policy_name", "round_robin")]
                ) as plain,
            ):
                stubs = {
                    "ours": channel.unary_unary("/test.Echo/Who"),
                    "dns": plain.unary_unary("/test.Echo/Who"),
                }
                for stub in stubs.values():
                    for _ in range(30):
                        stub(b"", timeout=5)
                cluster.scale(service, 4)
                fleet.start_missing()
                new = (service.pods[-1].ipv4 or "").encode()
                bind.sync()
                added = time.monotonic()
                reached: dict[str, float] = {}
                while time.monotonic() - added < WAIT_FOR_DNS and len(reached) < 2:
                    for name, stub in stubs.items():
                        if name not in reached and stub(b"", timeout=5) == new:
                            reached[name] = time.monotonic() - added
                    time.sleep(0.002)
        return reached.get("ours"), reached.get("dns")
    finally:
        fleet.stop_all()


def table() -> str:
    port = free_port()
    server = PodServer("127.77.0.10", port)
    try:
        plain_sync, ours_sync = per_rpc_sync("127.77.0.10", port)
        plain_aio, ours_aio = asyncio.run(per_rpc_aio("127.77.0.10", port))
    finally:
        server.stop(0)
    ours_up, dns_up = scale_up()

    def ratio(ours: float, plain: float) -> str:
        value = ours / plain
        return f"{value:.2f}x ({'met' if value <= TARGET else 'missed'})"

    def seconds(value: float | None) -> str:
        return f"{value:.2f} s" if value is not None else f"not within {WAIT_FOR_DNS:.0f} s"

    return "\n".join(
        [
            "| measurement | plain grpc | `discovery_channel` | ratio (target ≤ 1.1x) |",
            "| --- | --- | --- | --- |",
            f"| unary RPC, sync | {plain_sync:.0f} µs | {ours_sync:.0f} µs | "
            f"{ratio(ours_sync, plain_sync)} |",
            f"| unary RPC, `grpc.aio` | {plain_aio:.0f} µs | {ours_aio:.0f} µs | "
            f"{ratio(ours_aio, plain_aio)} |",
            "",
            "| scale-up to the new pod's first RPC (TTL 1 s) | time |",
            "| --- | --- |",
            f"| `discovery_channel` | {seconds(ours_up)} |",
            f"| `dns:///` + `round_robin` | {seconds(dns_up)} |",
        ]
    )


def write(path: Path, text: str) -> None:
    doc = path.read_text(encoding="utf-8")
    block = f"{START}\n{text}\n{END}"
    if START in doc and END in doc:
        doc = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: block, doc, flags=re.S)
    else:
        doc = doc.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(doc, encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, help="put the table into this Markdown file")
    args = parser.parse_args()
    text = table()
    print(text)
    if args.write is not None:
        write(args.write, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
