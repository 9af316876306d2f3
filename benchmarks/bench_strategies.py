"""How much one ``pick()`` costs, per strategy, against ``random.choice`` and uhashring.

Run ``nox -s bench`` (or ``python benchmarks/bench_strategies.py`` with uhashring
installed). For 3 and 1000 endpoints it times one pick of every strategy and, in the same
run, ``random.choice`` over a list of the same size (and uhashring's ``HashRing.get_node``
for consistent hashing). Timings are interleaved: every round times every case once, in a
shuffled order, and the minimum over the rounds is kept, the usual way to read timeit on a
shared machine. It prints Markdown tables with the targets of issue 5 and whether each was
met; docs/performance.md holds the tables of a real run.

Two more tables (issue 12): what ``acquire()`` adds to a pick, and what the consistent-hash
ring costs when the snapshot changes: a one-pod change at 1000 pods (target: at most 5 ms),
a full build, and the longest slice of a full build in slices.
"""

from __future__ import annotations

import itertools
import os
import platform
import random
import sys
import time
import timeit
from collections.abc import Callable
from dataclasses import dataclass

from headless_discovery import (
    ConsistentHash,
    Endpoint,
    LeastOutstanding,
    OutlierEjection,
    PickFirst,
    Random,
    Resolution,
    RoundRobin,
    Strategy,
    Weighted,
    acquire,
)

SIZES = (3, 1000)
ROUNDS = 20
SECONDS_PER_TIMING = 0.02
SCALING_TARGET = 1.3  # cost at 1000 endpoints / cost at 3, for every strategy
KEYS = [f"user-{i}" for i in range(10_000)]

# Ratio targets against random.choice over a list of the same size (None: no target).
CHOICE_TARGETS: dict[str, float | None] = {
    "pick_first": None,
    "round_robin": 1.0,
    "random": 1.2,
    "weighted": 2.0,
    "least_outstanding": 2.0,
    "consistent_hash": None,  # its target is against uhashring, below
    "outlier_ejection(round_robin), 1 ejected": None,
}
UHASHRING_TARGET = 1.0  # consistent_hash at 1000 pods against HashRing.get_node
RING_PODS = 1000
RING_UPDATE_TARGET = 5e-3  # seconds for a one-pod change of the ring at RING_PODS pods
RING_SLICE_TARGET = 5e-3  # seconds for the longest slice of a full build in slices


@dataclass
class Case:
    name: str
    size: int
    stmt: str
    namespace: dict[str, object]
    number: int = 0
    best: float = float("inf")  # seconds per call


def resolution(size: int) -> Resolution:
    """SRV-like endpoints of one priority with varied weights, as a Discovery holds them."""
    rng = random.Random(size)
    return Resolution.from_endpoints(
        "mongodb",
        (
            Endpoint(
                f"10.{i >> 16}.{(i >> 8) & 255}.{i & 255}",
                27017,
                f"mongodb-{i}.mongodb.db.svc.cluster.local",
                0,
                rng.randint(1, 100),
            )
            for i in range(size)
        ),
    )


def strategies() -> dict[str, Callable[[], Strategy]]:
    return {
        "pick_first": PickFirst,
        "round_robin": RoundRobin,
        "random": lambda: Random(random.Random(1)),
        "weighted": lambda: Weighted(random.Random(1)),
        "least_outstanding": lambda: LeastOutstanding(random.Random(1)),
        "consistent_hash": ConsistentHash,
        "outlier_ejection(round_robin), 1 ejected": lambda: OutlierEjection(RoundRobin()),
    }


def cases_for(size: int) -> list[Case]:
    from uhashring import HashRing  # the benchmark's own dependency, never the library's

    res = resolution(size)
    keys = itertools.cycle(KEYS)
    found = [
        Case(
            "random.choice",
            size,
            "choice(items)",
            {"choice": random.Random(0).choice, "items": list(res)},
        ),
    ]
    ring = HashRing(nodes=[ep.netloc(use_hostname=True) for ep in res])
    found.append(Case("uhashring", size, "get(next(keys))", {"get": ring.get_node, "keys": keys}))
    for name, make in strategies().items():
        strategy = make()
        if isinstance(strategy, OutlierEjection):
            for _ in range(5):
                strategy.report_failure(res[0])
        keyed = name == "consistent_hash"
        strategy.pick(res, KEYS[0] if keyed else None)  # build the snapshot tables first
        stmt = "pick(eps, next(keys))" if keyed else "pick(eps)"
        found.append(Case(name, size, stmt, {"pick": strategy.pick, "eps": res, "keys": keys}))
    return found


def acquire_cases() -> list[Case]:
    """``with acquire(strategy, eps): pass`` against ``pick(eps)``, at 1000 endpoints."""
    res = resolution(1000)
    found = []
    for name, make in (
        ("round_robin", RoundRobin),
        ("least_outstanding", strategies()["least_outstanding"]),
    ):
        strategy = make()
        strategy.pick(res)
        namespace = {"acquire": acquire, "s": strategy, "pick": strategy.pick, "eps": res}
        found.append(Case(f"pick {name}", 1000, "pick(eps)", namespace))
        found.append(Case(f"acquire {name}", 1000, "with acquire(s, eps): pass", namespace))
    return found


def report_acquire(cases: list[Case]) -> None:
    by = {c.name: c.best * 1e9 for c in cases}
    print("| strategy | ns per pick | ns per `with acquire(...)` | ratio |")
    print("| --- | ---: | ---: | ---: |")
    for name in ("round_robin", "least_outstanding"):
        pick, acq = by[f"pick {name}"], by[f"acquire {name}"]
        print(f"| {name} | {pick:.0f} | {acq:.0f} | {acq / pick:.2f}x |")


def ring_figures(rounds: int = 15) -> dict[str, float]:
    """Seconds: the best one-pod change (out and back in), the best full build, and the
    longest slice of a full build in slices, each over ``rounds`` tries."""
    full = resolution(RING_PODS)
    less = Resolution.from_endpoints("mongodb", full.endpoints[1:])
    strategy = ConsistentHash()
    strategy.prepare(full)
    update = build = float("inf")
    longest = []
    for _ in range(rounds):
        for snapshot in (less, full):
            started = time.perf_counter()
            strategy.prepare(snapshot)
            update = min(update, time.perf_counter() - started)
        started = time.perf_counter()
        ConsistentHash().prepare(full)
        build = min(build, time.perf_counter() - started)
        worst = 0.0
        slices = ConsistentHash().prepare_in_slices(full)
        while True:
            started = time.perf_counter()
            if next(slices, StopIteration) is StopIteration:
                break
            worst = max(worst, time.perf_counter() - started)
        longest.append(worst)
    longest.sort()
    # The median of the longest slices: the longest of all is whichever slice a neighbour
    # interrupted.
    return {"update": update, "build": build, "slice": longest[len(longest) // 2]}


def report_ring(figures: dict[str, float]) -> bool:
    update_ok = figures["update"] <= RING_UPDATE_TARGET
    slice_ok = figures["slice"] <= RING_SLICE_TARGET
    print(f"| consistent_hash ring at {RING_PODS} pods | ms | target | result |")
    print("| --- | ---: | ---: | --- |")
    print(
        f"| one-pod change (`prepare`, best of out and back in) | {figures['update'] * 1e3:.2f} "
        f"| ≤ {RING_UPDATE_TARGET * 1e3:g} | {verdict(update_ok)} |"
    )
    print(f"| full build (`prepare` on a new strategy) | {figures['build'] * 1e3:.1f} | — | — |")
    print(
        f"| longest slice of a full build (`prepare_in_slices`, median over tries) | "
        f"{figures['slice'] * 1e3:.2f} | ≤ {RING_SLICE_TARGET * 1e3:g} | {verdict(slice_ok)} |"
    )
    return update_ok and slice_ok


def measure(cases: list[Case]) -> None:
    for case in cases:
        timer = timeit.Timer(case.stmt, globals=case.namespace)
        number, seconds = timer.autorange()
        case.number = max(1, int(number * SECONDS_PER_TIMING / seconds))
    order = list(cases)
    shuffle = random.Random(2024).shuffle
    for _ in range(ROUNDS):
        shuffle(order)
        for case in order:
            seconds = timeit.Timer(case.stmt, globals=case.namespace).timeit(case.number)
            case.best = min(case.best, seconds / case.number)


def verdict(ok: bool) -> str:
    return "pass" if ok else "fall short"


def report(cases: list[Case]) -> bool:
    by = {(c.name, c.size): c.best * 1e9 for c in cases}
    ok = True
    print("| strategy | N | ns/pick | baseline | baseline ns | ratio | target | result |")
    print("| --- | ---: | ---: | --- | ---: | ---: | ---: | --- |")
    for name, target in CHOICE_TARGETS.items():
        for size in SIZES:
            ns = by[name, size]
            if name == "consistent_hash":
                base_name, base, goal = "uhashring get_node", by["uhashring", size], None
                if size == 1000:
                    goal = UHASHRING_TARGET
            else:
                base_name, base, goal = "random.choice", by["random.choice", size], target
            ratio = ns / base
            met = goal is None or ratio <= goal
            ok = ok and met
            print(
                f"| {name} | {size} | {ns:.0f} | {base_name} | {base:.0f} | {ratio:.2f}x | "
                f"{'—' if goal is None else f'≤ {goal:g}x'} | "
                f"{'—' if goal is None else verdict(met)} |"
            )
    print()
    print(f"| strategy | ns at {SIZES[0]} | ns at {SIZES[1]} | ratio | target | result |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for name in CHOICE_TARGETS:
        small, large = by[name, SIZES[0]], by[name, SIZES[1]]
        met = large / small <= SCALING_TARGET
        ok = ok and met
        print(
            f"| {name} | {small:.0f} | {large:.0f} | {large / small:.2f}x | "
            f"≤ {SCALING_TARGET:g}x | {verdict(met)} |"
        )
    return ok


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            cpu = next(
                line.split(":", 1)[1].strip() for line in info if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    return (
        f"{platform.python_implementation()} {platform.python_version()} "
        f"({sys.version.split('(')[1].split(')')[0]}), {platform.system()} "
        f"{platform.release()}, {cpu}, {os.cpu_count()} CPUs"
    )


def main() -> None:
    print(f"Selection strategies: ns per pick, min of {ROUNDS} interleaved rounds")
    print(f"Machine: {machine()}")
    print(f"Date: {time.strftime('%Y-%m-%d')}")
    print()
    cases = [case for size in SIZES for case in cases_for(size)]
    measure(cases)
    ok = report(cases)
    print()
    extra = acquire_cases()
    measure(extra)
    report_acquire(extra)
    print()
    ok = report_ring(ring_figures()) and ok
    print()
    print("All targets met." if ok else "Some targets fall short (see the tables).")


if __name__ == "__main__":
    main()
