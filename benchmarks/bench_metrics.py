"""What OpenTelemetry metrics cost discovery (issue 15), on a real BIND 9.

Run ``nox -s bench`` (or ``python benchmarks/bench_metrics.py [--write docs/performance.md]``
from the repository root, with BIND 9, ``opentelemetry-sdk`` and ``bench_discovery``'s
dependencies installed). One discovery, measured in rounds with an :class:`OpenTelemetryHook`
installed (``add_hook``) that records into the real SDK (an in-memory reader, collected
between rounds as an exporter would), and in rounds without it, interleaved in a shuffled
order; the minimum over the rounds is kept:

1. ``pick()`` with the hook installed against the same ``pick()`` without, at 3 and 1000
   pods.
2. CPU (``time.process_time``) per ``refresh()`` at 1000 pods, with the hook and the SDK
   against the same refresh without.
3. For scale: the hook's own time per refresh (the events of an unchanged refresh).

With ``--write PATH`` the table replaces the part of PATH between the metrics markers.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
import timeit
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from bench_discovery import (  # noqa: E402
    Row,
    bind_version,
    cluster_model,
    fmt_time,
    fqdn,
    ratio_row,
    table,
)
from bench_strategies import machine  # noqa: E402
from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import InMemoryMetricReader  # noqa: E402

from headless_discovery import Discovery, DnsResolver, instrumentation  # noqa: E402
from headless_discovery.instrumentation import LookupFinished, RefreshFinished  # noqa: E402
from headless_discovery.integrations.opentelemetry import OpenTelemetryHook  # noqa: E402
from tests.harness.bind import BindServer  # noqa: E402

START = "<!-- metrics-benchmark:start -->"
END = "<!-- metrics-benchmark:end -->"
PICK_TARGET = 1.05
REFRESH_TARGET = 1.05
ROUNDS = 300  # pick: rounds of about 10 ms each way
REFRESH_ROUNDS = 300  # refresh: rounds of one refresh each way


@contextmanager
def installed(hook: OpenTelemetryHook, on: bool) -> Iterator[None]:
    """The hook installed for the whole process (``on``), or not."""
    remove = instrumentation.add_hook(hook) if on else None
    try:
        yield
    finally:
        if remove is not None:
            remove()


def toggled(fn: Callable[[], object], hook: OpenTelemetryHook, rounds: int) -> dict[str, float]:
    """Seconds per call of ``fn`` with the hook installed and without: one discovery, so
    the two differ in nothing else; timeit loops, rounds in shuffled order, the minimum."""
    # Many short rounds (about 10 ms) rather than a few long ones: on a shared machine the
    # minimum of many is what the code costs, the rest is the neighbours.
    number = max(1, timeit.Timer(fn).autorange()[0] // 20)
    best = {"hook": float("inf"), "none": float("inf")}
    for _ in range(rounds):
        for label in random.sample(list(best), 2):
            with installed(hook, label == "hook"):
                seconds = timeit.Timer(fn).timeit(number)
            best[label] = min(best[label], seconds / number)
    return best


def started(server: BindServer, size: int) -> Discovery:
    resolver = DnsResolver([server.nameserver], server.port)
    pods = Discovery(fqdn(size), port=27017, resolver=resolver).start()
    pods.wait_for(size, timeout=30)
    return pods


def row_pick(server: BindServer, hook: OpenTelemetryHook) -> list[Row]:
    rows = []
    for size in (3, 1000):
        with started(server, size) as pods:
            best = toggled(pods.pick, hook, ROUNDS)
        rows.append(
            ratio_row(
                1,
                "`Discovery.pick()` with `OpenTelemetryHook` installed, SDK recording",
                size,
                best["hook"],
                "the same `pick()`, no hook",
                best["none"],
                PICK_TARGET,
            )
        )
    return rows


def row_refresh(server: BindServer, hook: OpenTelemetryHook, reader: InMemoryMetricReader) -> Row:
    best = {"hook": float("inf"), "none": float("inf")}
    with started(server, 1000) as pods:
        for _ in range(REFRESH_ROUNDS):
            for label in random.sample(list(best), 2):
                with installed(hook, label == "hook"):
                    started_at = time.process_time()
                    pods.refresh()
                    best[label] = min(best[label], time.process_time() - started_at)
                # What an exporter does every interval, on its own thread: the SDK's cost,
                # not the refresh's.
                reader.get_metrics_data()
    return ratio_row(
        2,
        "CPU per `refresh()` with `OpenTelemetryHook` installed, SDK recording",
        1000,
        best["hook"],
        "the same `refresh()`, no hook",
        best["none"],
        REFRESH_TARGET,
    )


def row_hook_alone(hook: OpenTelemetryHook) -> Row:
    name = fqdn(1000) + "."
    lookup = LookupFinished(name, "A", "127.0.0.1", 0.004, 1000)
    refreshed = RefreshFinished(name, "unchanged", 1000)

    def events() -> None:
        hook(lookup)
        hook(refreshed)

    number = max(1, timeit.Timer(events).autorange()[0] // 20)
    seconds = min(timeit.Timer(events).repeat(ROUNDS, number)) / number
    return Row(3, "the hook's own time per unchanged refresh (2 events)", "—",
               fmt_time(seconds), "—", "—", "—", "—", "—")  # fmt: skip


def write(path: Path, text: str) -> None:
    doc = path.read_text(encoding="utf-8")
    block = f"{START}\n{text}\n{END}"
    if START in doc and END in doc:
        doc = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: block, doc, flags=re.S)
    else:
        doc = doc.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(doc, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, help="put the table into this Markdown file")
    args = parser.parse_args()
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    hook = OpenTelemetryHook(provider)
    with BindServer(cluster_model()) as server:
        rows = row_pick(server, hook)
        rows.append(row_refresh(server, hook, reader))
    rows.append(row_hook_alone(hook))
    provider.shutdown()
    text = (
        f"Run of {time.strftime('%Y-%m-%d')} on {machine()}; BIND "
        f"{bind_version()} on loopback.\n\n{table(rows)}"
    )
    print(text)
    failed = [r for r in rows if r.result == "fall short"]
    print("\nAll targets met." if not failed else f"\n{len(failed)} rows fall short.")
    if args.write is not None:
        write(args.write, text)


if __name__ == "__main__":
    main()
