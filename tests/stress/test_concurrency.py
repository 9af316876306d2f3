"""16 threads pick, acquire and report while BIND scales the Service every 100 ms.

A real BIND serves a StatefulSet that a scaler thread resizes by dynamic updates every 100 ms;
a Discovery refreshes every 100 ms (TTL 1 s, clamped); 16 worker threads pick, acquire and
release, and report failures, for ``HD_STRESS_SECONDS`` (default 3 s). Afterwards:

- no worker saw an exception;
- every snapshot a worker read is a set of pods DNS served at some moment (never a mix of two
  versions: no torn snapshot), sorted and free of duplicates, and every pick came from the
  sequence the strategy was given;
- counts add up: picks seen by the strategy = picks + acquires made; ``begin`` = ``end`` =
  acquires; every in-flight count is back to 0;
- round robin is exact: a recorder between the strategy and RoundRobin serialises the inner
  picks, so their global order is the order of RoundRobin's counter; in every run of
  consecutive picks from one sequence, the endpoints come in rotation (each exactly once per
  ``len`` picks, so counts per snapshot within +-1). Discovery's snapshot swaps, acquire/release
  and failure reports stay fully concurrent.
"""

from __future__ import annotations

import itertools
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import pytest

from headless_discovery import (
    Discovery,
    DnsResolver,
    Endpoint,
    LeastOutstanding,
    OutlierEjection,
    RefreshPolicy,
    Resolution,
    RoundRobin,
    Strategy,
)
from tests.harness.bind import BindServer
from tests.harness.cluster import Cluster, Service
from tests.harness.requirements import require_named

pytestmark = [pytest.mark.dns, pytest.mark.timeout(120)]

SECONDS = float(os.environ.get("HD_STRESS_SECONDS", "3"))
THREADS = 16
SCALE_EVERY = 0.1
SIZES = [2, 5, 3, 8, 1, 6, 4, 7]
FAST = RefreshPolicy(
    min_interval=0.05,
    max_interval=0.1,
    default_interval=0.1,
    jitter=0.0,
    negative_interval=0.1,
    backoff_base=0.05,
    backoff_max=0.2,
)


class Recorder:
    """Passes picks on to ``inner`` one at a time and records them in that order."""

    def __init__(self, inner: Strategy) -> None:
        self.inner = inner
        self.lock = threading.Lock()
        self.picks: list[tuple[tuple[Endpoint, ...], Endpoint]] = []
        self.foreign: list[Endpoint] = []  # picks outside the sequence given

    def pick(self, endpoints: Sequence[Endpoint], key: str | None = None) -> Endpoint:
        with self.lock:
            endpoint = self.inner.pick(endpoints, key)
            self.picks.append((tuple(endpoints), endpoint))
        if endpoint not in endpoints:
            self.foreign.append(endpoint)
        return endpoint


class Counting:
    """Counts picks, ``begin`` and ``end`` on their way to ``inner``; no lock on the path.

    ``list.append`` is atomic: a list per event is a lock-free counter.
    """

    def __init__(self, inner: LeastOutstanding) -> None:
        self.inner = inner
        self.picks: list[None] = []
        self.begins: list[None] = []
        self.ends: list[None] = []
        self.seen: set[Endpoint] = set()
        self.foreign: list[Endpoint] = []

    def pick(self, endpoints: Sequence[Endpoint], key: str | None = None) -> Endpoint:
        self.picks.append(None)
        endpoint = self.inner.pick(endpoints, key)
        self.seen.add(endpoint)
        if endpoint not in endpoints:
            self.foreign.append(endpoint)
        return endpoint

    def begin(self, endpoint: Endpoint) -> None:
        self.begins.append(None)
        self.inner.begin(endpoint)

    def end(self, endpoint: Endpoint) -> None:
        self.ends.append(None)
        self.inner.end(endpoint)


@dataclass
class Worker:
    """What one worker thread did."""

    picks: int = 0
    acquires: int = 0
    failures: int = 0
    successes: int = 0
    snapshots: int = 0
    errors: list[BaseException] = field(default_factory=list)
    torn: list[frozenset[str]] = field(default_factory=list)


@dataclass
class Run:
    workers: list[Worker]
    versions: set[frozenset[str]]
    updates: int
    changes: int
    seconds: float


@pytest.fixture
def service() -> Iterator[tuple[Cluster, Service, BindServer]]:
    require_named()
    cluster = Cluster(ttl=1)
    api = cluster.statefulset("api", "shop", 4, ports={"http": 8080})
    with BindServer(cluster) as bind:
        yield cluster, api, bind


def _published(api: Service) -> frozenset[str]:
    return frozenset(str(pod.ipv4) for pod in api.published)


def _work(
    pods: Discovery,
    versions: set[frozenset[str]],
    stop: threading.Event,
    seed: int,
    unlucky: str,
) -> Worker:
    me = Worker()
    rng = random.Random(seed)
    try:
        while not stop.is_set():
            snapshot = pods.endpoints
            me.snapshots += 1
            addresses = frozenset(ep.address for ep in snapshot)
            if (
                addresses not in versions
                or len(addresses) != len(snapshot)
                or list(snapshot) != list(Resolution.from_endpoints("", snapshot))
            ):
                me.torn.append(addresses)
            step = me.snapshots % 4
            if step == 0:
                with pods.acquire() as endpoint:
                    me.acquires += 1
            else:
                endpoint = pods.pick()
                me.picks += 1
            if step == 1 and (endpoint.address == unlucky or rng.random() < 0.05):
                pods.report_failure(endpoint)
                me.failures += 1
            elif step == 2:
                pods.report_success(endpoint)
                me.successes += 1
            if me.snapshots % 16 == 0:
                # A request's I/O: real workers wait on the network most of the time, and
                # 16 threads spinning on the GIL would starve the scaler and the refresher.
                time.sleep(0.0002)
    except BaseException as exc:
        me.errors.append(exc)
    return me


def _stress(
    cluster: Cluster, api: Service, bind: BindServer, strategy: Strategy
) -> tuple[Run, Discovery]:
    versions = {_published(api)}
    resolver = DnsResolver([bind.nameserver], bind.port, timeout=0.5, lifetime=1.0)
    changes: list[Resolution] = []
    with Discovery(
        "api.shop", port=8080, family="ipv4", resolver=resolver, refresh=FAST, strategy=strategy
    ) as pods:
        pods.subscribe(lambda added, removed, snapshot: changes.append(snapshot))
        stop = threading.Event()
        # The pod with ordinal 0 (always there) fails every request: it gets ejected.
        first = str(api.pods[0].ipv4)
        results: list[Worker] = []

        def work(seed: int) -> None:
            results.append(_work(pods, versions, stop, seed, first))

        threads = [threading.Thread(target=work, args=(seed,)) for seed in range(THREADS)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        updates = 0
        for size in itertools.cycle(SIZES):
            # On a schedule: an update that took long does not delay the next ones.
            delay = started + updates * SCALE_EVERY - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if time.monotonic() - started >= SECONDS:
                break
            cluster.scale(api, size)
            versions.add(_published(api))  # before the server can serve it
            bind.sync()
            updates += 1
        stop.set()
        for thread in threads:
            thread.join(30)
        elapsed = time.monotonic() - started
        assert not any(thread.is_alive() for thread in threads)
    run = Run(results, versions, updates, len(changes), elapsed)
    _report(run)
    return run, pods


def _report(run: Run) -> None:
    picks = sum(w.picks + w.acquires for w in run.workers)
    print(
        f"\nstress: {THREADS} threads, {run.seconds:.1f} s, {run.updates} DNS updates "
        f"({run.updates / run.seconds:.1f}/s), {run.changes} snapshot changes seen, "
        f"{picks} picks+acquires ({picks / run.seconds:,.0f}/s), "
        f"{sum(w.failures for w in run.workers)} failures reported"
    )


def _check_common(run: Run) -> None:
    assert len(run.workers) == THREADS
    errors = [exc for w in run.workers for exc in w.errors]
    assert not errors, errors[:3]
    torn = [t for w in run.workers for t in w.torn]
    assert not torn, torn[:3]
    assert run.updates >= SECONDS / SCALE_EVERY / 2, "the scaler fell behind"
    assert run.changes >= run.updates / 4, "discovery did not follow the changes"


def test_outlier_ejection_over_round_robin(service: tuple[Cluster, Service, BindServer]) -> None:
    cluster, api, bind = service
    recorder = Recorder(RoundRobin())
    strategy = OutlierEjection(
        recorder,
        consecutive_failures=3,
        base_ejection=0.2,
        max_ejection=0.5,
        interval=0.5,
        max_ejected_fraction=0.5,
    )
    run, _ = _stress(cluster, api, bind, strategy)
    _check_common(run)
    assert recorder.foreign == []
    assert len(recorder.picks) == sum(w.picks + w.acquires for w in run.workers)
    # Rotation inside every run of consecutive picks from one sequence.
    runs = 0
    per_snapshot: dict[tuple[Endpoint, ...], Counter[Endpoint]] = {}
    for sequence, group in itertools.groupby(recorder.picks, key=lambda p: p[0]):
        picked = [endpoint for _, endpoint in group]
        runs += 1
        start = sequence.index(picked[0])
        expected = [sequence[(start + i) % len(sequence)] for i in range(len(picked))]
        assert picked == expected, f"not in rotation over {len(sequence)} endpoints"
        counts = Counter(picked)
        spread = [counts[ep] for ep in sequence]
        assert max(spread) - min(spread) <= 1
        per_snapshot.setdefault(sequence, Counter()).update(counts)
    worst = max(
        max(counts[ep] for ep in seq) - min(counts[ep] for ep in seq)
        for seq, counts in per_snapshot.items()
    )
    print(
        f"round robin: {len(per_snapshot)} sequences, {runs} runs, each run in rotation "
        f"(+-1); largest spread of one sequence over all its runs: {worst}"
    )
    seen = {ep for sequence in per_snapshot for ep in sequence}
    assert strategy.ejected <= seen
    # Some sequences were snapshots minus an ejected pod: ejection took part.
    assert any(frozenset(ep.address for ep in seq) not in run.versions for seq in per_snapshot)


def test_least_outstanding(service: tuple[Cluster, Service, BindServer]) -> None:
    cluster, api, bind = service
    inner = LeastOutstanding()
    counting = Counting(inner)
    run, _ = _stress(cluster, api, bind, counting)
    _check_common(run)
    assert counting.foreign == []
    acquires = sum(w.acquires for w in run.workers)
    assert len(counting.picks) == sum(w.picks for w in run.workers) + acquires
    assert len(counting.begins) == len(counting.ends) == acquires
    assert all(inner.in_flight(ep) == 0 for ep in counting.seen)
