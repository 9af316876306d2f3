"""What a fleet of clients costs cluster DNS: the refresh schedule behind a caching resolver
(issue 17). A simulation, no DNS server, no network; pure Python, a few seconds per policy.

Run ``nox -s bench`` (or ``python benchmarks/bench_fleet.py [--write docs/performance.md]``
from the repository root). The model:

- One Service, its A records served with a TTL of 5 s through one cache that behaves as
  CoreDNS's ``cache`` plugin (NodeLocal DNSCache is the same code): an answer fetched at ``F``
  is served with the TTL ``5 - floor(now - F)`` while that is above 0; the first query after
  that fetches it again from upstream (instantly) and gets the full 5 s.
- 10 000 clients, each a :class:`~headless_discovery.refresh.RefreshSchedule` (the decision
  code ``Discovery`` runs) on a simulated clock, started at random moments over one TTL; a
  lookup asks what ``schedule.family("any")`` says (A, and AAAA unless backed off), gets the
  A answer's TTL from the cache and waits what ``schedule.answered()`` returns. The cluster
  is IPv4-only: AAAA answers are empty. The old policy is today's ``Discovery``: it asks A
  and AAAA every time and waits ``RefreshPolicy(cache_aware=False)``'s refresh-ahead delay.
- A backend change becomes visible at the cache's first upstream fetch after it, and to a
  client at its first lookup after that fetch. The answer's content never moves a lookup
  (only TTLs do), so each change is measured on the same run: one change a minute at a
  random moment, over ``CHANGES`` minutes' worth of moments, every client a sample.
- Measured after ``WARMUP`` seconds, over ``MEASURE`` seconds: lookups per client per TTL
  (each lookup is one query per record type asked), the busiest 100 ms against the mean
  rate, the time from a change to a client seeing it (p50, p99), AAAA queries per client per
  minute. "No cache" rows have every answer come straight from the server, always 5 s.

With ``--write PATH`` the table replaces the part of PATH between the fleet markers.
"""

from __future__ import annotations

import argparse
import bisect
import heapq
import math
import random
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from headless_discovery.endpoints import Family  # noqa: E402
from headless_discovery.refresh import RefreshPolicy, RefreshSchedule  # noqa: E402

CLIENTS = 10_000
TTL = 5
WARMUP = 20.0
MEASURE = 120.0
CHANGES = 100
BIN = 0.1
IPV4_ONLY = frozenset({"ipv4"})
START = "<!-- fleet-benchmark:start -->"
END = "<!-- fleet-benchmark:end -->"

# Targets of issue 17 for the new default, behind a cache.
TARGET_LOOKUPS = 1.2
TARGET_P99 = TTL + 1.0


@dataclass(frozen=True)
class Case:
    name: str
    policy: RefreshPolicy
    backs_off: bool  # asks what schedule.family() says (new), or always "any" (today)
    dns: Literal["coredns", "rounds down", "no cache"] = "coredns"
    started_within: float = TTL  # seconds over which the clients start


@dataclass(frozen=True)
class Figures:
    lookups_per_ttl: float
    peak_per_s: float
    mean_per_s: float
    p50: float
    p99: float
    aaaa_per_min: float
    upstream_per_ttl: float
    seconds: float  # wall-clock cost of the simulation


def simulate(case: Case, clients: int = CLIENTS, seed: int = 17) -> Figures:
    """Run one policy through the cache model; see the module docstring."""
    started = time.perf_counter()
    rng = random.Random(seed)
    now = [0.0]

    def clock() -> float:
        return now[0]

    schedules = [
        RefreshSchedule(case.policy, random.Random(rng.random()), clock) for _ in range(clients)
    ]
    heap = [(rng.random() * case.started_within, client) for client in range(clients)]
    heapq.heapify(heap)
    end = WARMUP + MEASURE + 2 * TTL  # lookups after the window only close staleness samples
    lookups: list[list[float]] = [[] for _ in range(clients)]
    fetches: list[float] = []
    fetched = -float(TTL)  # nothing cached yet: the first query fetches
    aaaa = 0
    while heap[0][0] < end:
        t, client = heap[0]
        now[0] = t
        schedule = schedules[client]
        asked: Family = schedule.family("any") if case.backs_off else "any"
        if case.dns == "no cache":
            fetches.append(t)
            ttl = float(TTL)
        else:
            if t - fetched >= TTL:
                fetched = t
                fetches.append(t)
            age = t - fetched
            ttl = float(TTL - math.floor(age) if case.dns == "coredns" else math.floor(TTL - age))
        delay = schedule.answered(ttl, asked, IPV4_ONLY)
        heapq.heapreplace(heap, (t + delay, client))
        lookups[client].append(t)
        if asked == "any" and WARMUP <= t < WARMUP + MEASURE:
            aaaa += 1
    return _figures(lookups, fetches, aaaa, rng, time.perf_counter() - started)


def _figures(
    lookups: list[list[float]],
    fetches: list[float],
    aaaa: int,
    rng: random.Random,
    seconds: float,
) -> Figures:
    clients = len(lookups)
    stop = WARMUP + MEASURE
    bins = [0] * math.ceil(MEASURE / BIN)
    total = 0
    for times in lookups:
        for t in times:
            if WARMUP <= t < stop:
                bins[int((t - WARMUP) / BIN)] += 1
                total += 1
    upstream = sum(WARMUP <= t < stop for t in fetches)
    # One change a minute at a random moment; every client is a sample of each change.
    delays: list[float] = []
    for _ in range(CHANGES):
        change = WARMUP + rng.random() * (MEASURE - TTL)
        fetch = fetches[bisect.bisect_left(fetches, change)]
        for times in lookups:
            delays.append(times[bisect.bisect_left(times, fetch)] - change)
    delays.sort()
    ttls = MEASURE / TTL
    return Figures(
        lookups_per_ttl=total / clients / ttls,
        peak_per_s=max(bins) / BIN,
        mean_per_s=total / MEASURE,
        p50=delays[len(delays) // 2],
        p99=delays[int(len(delays) * 0.99)],
        aaaa_per_min=aaaa / clients / (MEASURE / 60),
        upstream_per_ttl=upstream / ttls,
        seconds=seconds,
    )


TODAY = RefreshPolicy(cache_aware=False)
CASES = (
    Case("today: refresh-ahead, A+AAAA every time", TODAY, False),
    Case("new default: after expiry, spread 0.05, AAAA backed off", RefreshPolicy(), True),
    Case("today", TODAY, False, "rounds down"),
    Case("new default", RefreshPolicy(), True, "rounds down"),
    Case("spread 0 (no spread)", RefreshPolicy(cache_spread=0.0), True),
    Case("spread 0.1", RefreshPolicy(cache_spread=0.1), True),
    Case("spread 0.2", RefreshPolicy(cache_spread=0.2), True),
    Case("spread 0.4", RefreshPolicy(cache_spread=0.4), True),
    Case("today, all started within 100 ms", TODAY, False, started_within=0.1),
    Case("new default, all started within 100 ms", RefreshPolicy(), True, started_within=0.1),
    Case("today", TODAY, False, "no cache"),
    Case("new default", RefreshPolicy(), True, "no cache"),
)


DNS = {
    "coredns": "CoreDNS cache: TTL - ⌊age⌋, never 0",
    "rounds down": "a cache that rounds down: ⌊TTL - age⌋, 0 in the last second",
    "no cache": "no cache: every answer fresh",
}


def table(results: list[tuple[Case, Figures]]) -> str:
    lines = [
        "| DNS the clients ask | policy | lookups per client per TTL, per record type "
        "| busiest 100 ms, lookups/s | busiest / mean | time to see a change p50 / p99 "
        "| AAAA queries per client per minute |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for case, f in results:
        lines.append(
            f"| {DNS[case.dns]} | {case.name} | {f.lookups_per_ttl:.2f} "
            f"| {f.peak_per_s:,.0f} | {f.peak_per_s / f.mean_per_s:.1f}x "
            f"| {f.p50:.1f} s / {f.p99:.1f} s | {f.aaaa_per_min:.1f} |"
        )
    lines += [
        "",
        "| target (new default against today, behind a cache) | cache | figure | result |",
        "| --- | --- | ---: | --- |",
    ]
    for dns in ("coredns", "rounds down"):
        today, new = (f for case, f in results[:4] if case.dns == dns)
        checks = [
            (f"lookups per client per TTL ≤ {TARGET_LOOKUPS}", f"{new.lookups_per_ttl:.2f}",
             new.lookups_per_ttl <= TARGET_LOOKUPS),
            (f"p99 time to see a change ≤ TTL + 1 s ({TARGET_P99:.0f} s)", f"{new.p99:.2f} s",
             new.p99 <= TARGET_P99),
            ("busiest 100 ms ≤ today's",
             f"{new.peak_per_s:,.0f} ≤ {today.peak_per_s:,.0f} lookups/s",
             new.peak_per_s <= today.peak_per_s),
        ]  # fmt: skip
        lines += [
            f"| {what} | {dns} | {figure} | {'pass' if ok else 'fall short'} |"
            for what, figure, ok in checks
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, help="replace the fleet table in this file")
    args = parser.parse_args()
    results = []
    for case in CASES:
        figures = simulate(case)
        print(f"{case.name}: {figures}", file=sys.stderr)
        results.append((case, figures))
    header = (
        f"Simulated: {CLIENTS:,} clients, one Service, TTL {TTL} s, IPv4-only, "
        f"{MEASURE:.0f} s after {WARMUP:.0f} s of warm-up, {CHANGES} changes."
    )
    text = f"{header}\n\n{table(results)}"
    print(text)
    if args.write:
        page = args.write.read_text()
        pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.DOTALL)
        if not pattern.search(page):
            raise SystemExit(f"{args.write} has no {START} ... {END} markers")
        args.write.write_text(pattern.sub(lambda _: f"{START}\n{text}\n{END}", page))


if __name__ == "__main__":
    main()
