"""OutlierEjection: consecutive failures eject a pod for a while, within a budget."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections.abc import Iterator, Sequence

import pytest

from headless_discovery import (
    ConfigurationError,
    ConsistentHash,
    Endpoint,
    LeastOutstanding,
    OutlierEjection,
    PickFirst,
    Resolution,
    RoundRobin,
    acquire,
    instrumentation,
)
from headless_discovery.strategies import Preparing, PreparingInSlices, _simple
from headless_discovery.strategies._base import as_tuple
from tests.unit.test_strategies import picks

PODS = Resolution.from_endpoints("svc", (Endpoint(f"10.8.0.{i}", 80) for i in range(1, 21)))


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def guarded(**options: float) -> tuple[OutlierEjection, FakeClock]:
    clock = FakeClock()
    return OutlierEjection(RoundRobin(), clock=clock, **options), clock  # type: ignore[arg-type]


def fail(strategy: OutlierEjection, endpoint: Endpoint, times: int = 5) -> None:
    for _ in range(times):
        strategy.report_failure(endpoint)


def seen(strategy: OutlierEjection, endpoints: Sequence[Endpoint] = PODS) -> set[Endpoint]:
    return set(picks(strategy, endpoints, 3 * len(endpoints)))


def test_five_consecutive_failures_eject_and_a_success_resets_the_count() -> None:
    strategy, _ = guarded()
    bad = PODS[3]
    strategy.pick(PODS)
    fail(strategy, bad, 4)
    strategy.report_success(bad)
    fail(strategy, bad, 4)
    assert strategy.ejected == frozenset()
    assert bad in seen(strategy)
    strategy.report_failure(bad)
    assert strategy.ejected == {bad}
    assert seen(strategy) == set(PODS) - {bad}


def test_ejection_lasts_30s_then_60s_90s_up_to_300s() -> None:
    strategy, clock = guarded()
    bad = PODS[0]
    strategy.pick(PODS)
    for expected in (30, 60, 90, 120, 150, 180, 210, 240, 270, 300, 300, 300):
        fail(strategy, bad)
        ejected_at = clock.now
        clock.now = ejected_at + expected - 0.01
        assert bad not in seen(strategy), expected
        clock.now = ejected_at + expected
        assert bad in seen(strategy), expected  # back by itself, no report needed


def test_the_multiplier_decays_while_a_pod_behaves() -> None:
    strategy, clock = guarded()
    bad = PODS[0]
    strategy.pick(PODS)
    fail(strategy, bad)
    clock.now += 30
    fail(strategy, bad)  # right after coming back: 60 s
    clock.now += 60
    assert strategy.ejected == frozenset()
    clock.now += 10  # one interval back in rotation: the multiplier drops from 2 to 1
    fail(strategy, bad)  # so this ejection is 60 s again, not 90 s
    clock.now += 59
    assert strategy.ejected == {bad}
    clock.now += 1
    assert strategy.ejected == frozenset()
    clock.now += 600  # long good behaviour: back to the base time
    fail(strategy, bad)
    clock.now += 30
    assert strategy.ejected == frozenset()


def test_at_most_ten_percent_are_ejected_at_once() -> None:
    strategy, clock = guarded()
    strategy.pick(PODS)  # 20 pods: room for 2
    for endpoint in PODS[:5]:
        fail(strategy, endpoint)
    assert strategy.ejected == set(PODS[:2])
    assert len(seen(strategy)) == 18
    # The third reached the count meanwhile: it goes out at its next failure once there
    # is room.
    clock.now += 30
    assert strategy.ejected == frozenset()
    strategy.report_failure(PODS[2])
    assert strategy.ejected == {PODS[2]}


def test_random_failures_never_eject_more_than_the_budget() -> None:
    rng = random.Random(11)
    strategy, clock = guarded()
    big = Resolution.from_endpoints(
        "svc", (Endpoint(f"10.9.{i // 200}.{i % 200}", 80) for i in range(50))
    )
    strategy.pick(big)
    for _ in range(5000):
        clock.now += rng.random()
        strategy.report_failure(rng.choice(big))
        assert len(strategy.ejected) <= 5


def test_small_services_can_still_eject_one_pod() -> None:
    strategy, _ = guarded()
    three = PODS[:3]
    strategy.pick(three)
    for endpoint in three:
        fail(strategy, endpoint)
    assert strategy.ejected == {three[0]}


def test_a_zero_budget_ejects_nothing() -> None:
    strategy, _ = guarded(max_ejected_fraction=0.0)
    strategy.pick(PODS)
    fail(strategy, PODS[0], 50)
    assert strategy.ejected == frozenset()


def test_when_every_pod_is_ejected_all_are_used() -> None:
    strategy, _ = guarded()
    strategy.pick(PODS[:1])
    fail(strategy, PODS[0])
    assert strategy.ejected == {PODS[0]}
    assert strategy.pick(PODS[:1]) == PODS[0]


def test_failures_while_ejected_do_not_extend_the_ejection() -> None:
    strategy, clock = guarded()
    strategy.pick(PODS)
    fail(strategy, PODS[0])
    clock.now += 20
    fail(strategy, PODS[0], 20)  # requests that were in flight when it was ejected
    clock.now += 10
    assert strategy.ejected == frozenset()


def test_the_same_sequence_object_sees_each_ejection_and_return() -> None:
    # One Resolution object across every change: only the ejected set tells the view apart.
    strategy, clock = guarded()
    first, second = PODS[0], PODS[1]
    assert seen(strategy) == set(PODS)
    fail(strategy, first)
    assert seen(strategy) == set(PODS) - {first}
    clock.now += 10
    fail(strategy, second)
    assert seen(strategy) == set(PODS) - {first, second}
    clock.now += 20  # the first comes back, the second is still out
    assert seen(strategy) == set(PODS) - {second}
    clock.now += 10
    assert seen(strategy) == set(PODS)


def test_a_list_changed_in_place_is_read_again_at_every_pick() -> None:
    # A list may change under the same identity: no view of it is kept.
    strategy, _ = guarded()
    pods = list(PODS[:10])
    strategy.pick(pods)
    fail(strategy, pods[0])
    assert seen(strategy, pods) == set(PODS[1:10])
    pods[5] = PODS[15]
    assert seen(strategy, pods) == set(PODS[1:10]) - {PODS[5]} | {PODS[15]}
    pods.append(PODS[0])  # the ejected pod, twice: still out
    assert PODS[0] not in seen(strategy, pods)


def test_one_consecutive_failure_ejects_at_the_first_failure() -> None:
    strategy, _ = guarded(consecutive_failures=1)
    strategy.pick(PODS)
    strategy.report_success(PODS[6])
    assert strategy.ejected == frozenset()
    strategy.report_failure(PODS[6])
    assert strategy.ejected == {PODS[6]}
    assert PODS[6] not in seen(strategy)
    with pytest.raises(
        ConfigurationError, match=r"^consecutive_failures must be a positive integer, not 0$"
    ):
        OutlierEjection(RoundRobin(), consecutive_failures=0)


def test_two_consecutive_failures_need_two_in_a_row() -> None:
    strategy, _ = guarded(consecutive_failures=2)
    strategy.pick(PODS)
    strategy.report_failure(PODS[6])
    strategy.report_success(PODS[6])
    strategy.report_failure(PODS[6])
    assert strategy.ejected == frozenset()
    strategy.report_failure(PODS[6])
    assert strategy.ejected == {PODS[6]}


def test_a_pod_that_leaves_and_comes_back_keeps_its_ejection_and_its_count() -> None:
    # Nothing is forgotten when a pod drops out of a snapshot: a pod that left the
    # answer for a moment (not ready) is the same pod when it is back.
    strategy, clock = guarded()
    without = Resolution.from_endpoints("svc", PODS[2:])
    strategy.pick(PODS)
    fail(strategy, PODS[0])
    fail(strategy, PODS[1], 4)
    assert seen(strategy, without) == set(without)
    assert strategy.ejected == {PODS[0]}  # still out while away
    back = Resolution.from_endpoints("svc", PODS)
    assert PODS[0] not in seen(strategy, back)
    strategy.report_failure(PODS[1])  # the fifth in a row, across its absence
    assert strategy.ejected == {PODS[0], PODS[1]}
    clock.now += 30
    assert seen(strategy, back) == set(PODS)


def test_a_pod_that_left_takes_no_part_of_the_budget() -> None:
    # 20 pods at 10 %: room for 2. Both ejected pods leave; the 18 left have room for 1,
    # and a third bad pod is ejected although two ejections are still remembered.
    strategy, _ = guarded()
    strategy.pick(PODS)
    fail(strategy, PODS[0])
    fail(strategy, PODS[1])
    fail(strategy, PODS[2])
    assert strategy.ejected == {PODS[0], PODS[1]}  # the budget is full
    without = Resolution.from_endpoints("svc", PODS[2:])
    strategy.pick(without)
    fail(strategy, PODS[2])
    assert strategy.ejected == {PODS[0], PODS[1], PODS[2]}
    assert PODS[2] not in seen(strategy, without)
    fail(strategy, PODS[3])  # one out of 18 present: the budget is full again
    assert PODS[3] in seen(strategy, without)


def test_the_view_is_built_once_per_snapshot_and_ejection(monkeypatch: pytest.MonkeyPatch) -> None:
    builds: list[int] = []
    real = as_tuple

    def counting(endpoints: Sequence[Endpoint]) -> tuple[Endpoint, ...]:
        builds.append(1)
        return real(endpoints)

    monkeypatch.setattr(_simple, "as_tuple", counting)
    strategy, clock = guarded()
    picks(strategy, PODS, 50)
    assert len(builds) == 1
    fail(strategy, PODS[0])
    picks(strategy, PODS, 50)
    assert len(builds) == 2  # the inner strategy sees one filtered tuple, rebuilt once
    clock.now += 30
    picks(strategy, PODS, 50)
    assert len(builds) == 3  # back to the whole snapshot: once more, not per pick


def test_ejection_moves_only_the_keys_of_the_ejected_pod() -> None:
    clock = FakeClock()
    strategy = OutlierEjection(ConsistentHash(), clock=clock)
    keys = [f"k{i}" for i in range(2000)]
    before = [strategy.pick(PODS, k) for k in keys]
    fail(strategy, PODS[4])
    during = [strategy.pick(PODS, k) for k in keys]
    assert all(b == PODS[4] for b, d in zip(before, during, strict=True) if b != d)
    assert PODS[4] not in during
    clock.now += 30
    assert [strategy.pick(PODS, k) for k in keys] == before


def test_in_flight_counting_and_reports_reach_the_inner_strategy() -> None:
    lo = LeastOutstanding(random.Random(1))
    strategy = OutlierEjection(lo, clock=FakeClock())
    with acquire(strategy, PODS) as ep:
        assert lo.in_flight(ep) == 1
    assert lo.in_flight(ep) == 0
    inner, clock = guarded()
    outer = OutlierEjection(inner, clock=clock)
    outer.pick(PODS)
    inner.pick(PODS)
    fail(outer, PODS[0])
    assert inner.ejected == {PODS[0]}
    assert outer.inner is inner


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"consecutive_failures": 0}, "^consecutive_failures must be a positive integer, not 0$"),
        (
            {"consecutive_failures": 2.5},
            r"^consecutive_failures must be a positive integer, not 2\.5$",
        ),
        ({"base_ejection": 0}, "^base_ejection must be a positive number, not 0$"),
        ({"base_ejection": float("inf")}, "^base_ejection must be a positive number, not inf$"),
        (
            {"max_ejection": 10.0},
            r"^max_ejection must be at least base_ejection \(30\.0\), not 10\.0$",
        ),
        ({"max_ejected_fraction": 1.5}, r"^max_ejected_fraction must be from 0 to 1, not 1\.5$"),
        ({"max_ejected_fraction": -0.1}, r"^max_ejected_fraction must be from 0 to 1, not -0\.1$"),
        ({"interval": 0}, "^interval must be a positive number, not 0$"),
    ],
)
def test_bad_options_are_refused(options: dict[str, float], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        OutlierEjection(RoundRobin(), **options)  # type: ignore[arg-type]


# -- events --------------------------------------------------------------------------------


def test_ejection_and_return_are_events_for_local_and_global_hooks() -> None:
    local: list[instrumentation.Event] = []
    everywhere: list[instrumentation.Event] = []
    clock = FakeClock()
    strategy = OutlierEjection(RoundRobin(), clock=clock, hooks=[local.append])
    remove = instrumentation.add_hook(everywhere.append)
    try:
        strategy.pick(PODS)
        fail(strategy, PODS[2], 4)
        assert local == []
        strategy.report_failure(PODS[2])
        assert local == [instrumentation.EndpointEjected(PODS[2], 30.0)]
        fail(strategy, PODS[2])  # already out: no news
        strategy.pick(PODS)
        clock.now += 29.9
        strategy.pick(PODS)
        assert len(local) == 1
        clock.now += 0.1
        strategy.pick(PODS)  # the pick that brings it back tells
        assert local[1:] == [instrumentation.EndpointReturned(PODS[2])]
        strategy.pick(PODS)
        fail(strategy, PODS[2])  # again, right away: out for twice as long
        assert local[2:] == [instrumentation.EndpointEjected(PODS[2], 60.0)]
        clock.now += 60
        assert strategy.ejected == frozenset()  # reading the set brings it back too
        assert local[3:] == [instrumentation.EndpointReturned(PODS[2])]
    finally:
        remove()
    assert everywhere == local


def test_a_failure_report_tells_of_returns_too() -> None:
    local: list[instrumentation.Event] = []
    strategy, clock = guarded()
    strategy = OutlierEjection(RoundRobin(), clock=clock, hooks=[local.append])
    strategy.pick(PODS)
    fail(strategy, PODS[0])
    clock.now += 30
    strategy.report_failure(PODS[1])
    assert local == [
        instrumentation.EndpointEjected(PODS[0], 30.0),
        instrumentation.EndpointReturned(PODS[0]),
    ]


def test_events_are_emitted_outside_the_lock() -> None:
    free: list[bool] = []
    strategy, clock = guarded()

    def hook(event: instrumentation.Event) -> None:
        # Blocking here would hang the test if the lock were held: only try it.
        got = strategy._lock.acquire(blocking=False)
        if got:
            strategy._lock.release()
        free.append(got)

    strategy = OutlierEjection(RoundRobin(), clock=clock, hooks=[hook])
    strategy.pick(PODS)
    fail(strategy, PODS[0])
    clock.now += 30
    strategy.pick(PODS)
    assert free == [True, True]


def test_a_hook_that_raises_breaks_nothing(caplog: pytest.LogCaptureFixture) -> None:
    def broken(event: instrumentation.Event) -> None:
        raise RuntimeError("the metrics backend is down")

    strategy = OutlierEjection(RoundRobin(), clock=FakeClock(), hooks=[broken])
    strategy.pick(PODS)
    fail(strategy, PODS[0])
    assert strategy.ejected == {PODS[0]}
    assert "the instrumentation hook" in caplog.text


def test_hooks_must_be_callable() -> None:
    with pytest.raises(TypeError, match="a hook must be callable, not 42"):
        OutlierEjection(RoundRobin(), hooks=[42])  # type: ignore[list-item]


# -- capabilities passed on ------------------------------------------------------------------


class SlicedSpy:
    """An inner strategy that prepares in three slices, and records what it prepared."""

    def __init__(self) -> None:
        self.prepared: list[tuple[str, Sequence[Endpoint]]] = []

    def pick(self, endpoints: Sequence[Endpoint], key: str | None = None) -> Endpoint:
        return endpoints[0]

    def prepare(self, endpoints: Sequence[Endpoint]) -> None:
        self.prepared.append(("prepare", endpoints))

    def prepare_in_slices(self, endpoints: Sequence[Endpoint]) -> Iterator[None]:
        for _ in range(3):
            yield
        self.prepared.append(("slices", endpoints))


class PrepareOnly:
    def __init__(self) -> None:
        self.prepared: list[Sequence[Endpoint]] = []

    def pick(self, endpoints: Sequence[Endpoint], key: str | None = None) -> Endpoint:
        return endpoints[0]

    def prepare(self, endpoints: Sequence[Endpoint]) -> None:
        self.prepared.append(endpoints)


def test_preparing_is_passed_on_to_the_inner_strategy() -> None:
    spy = SlicedSpy()
    strategy = OutlierEjection(spy)
    assert isinstance(strategy, Preparing)
    assert isinstance(strategy, PreparingInSlices)
    strategy.prepare(PODS)
    assert sum(1 for _ in strategy.prepare_in_slices(PODS)) == 3
    assert spy.prepared == [("prepare", PODS), ("slices", PODS)]
    only = PrepareOnly()
    assert list(OutlierEjection(only).prepare_in_slices(PODS)) == []  # one slice: prepare
    assert only.prepared == [PODS]
    assert list(OutlierEjection(RoundRobin()).prepare_in_slices(PODS)) == []
    OutlierEjection(RoundRobin()).prepare(PODS)  # nothing to pass on: nothing happens


def test_a_consistent_hash_inside_prepares_in_slices() -> None:
    inner = ConsistentHash()
    res = Resolution.from_endpoints("svc", (Endpoint(f"10.9.{i}.1", 80) for i in range(40)))
    assert sum(1 for _ in OutlierEjection(inner).prepare_in_slices(res)) > 1
    assert inner._snap[0] is res


# -- fork safety -----------------------------------------------------------------------------

FORK_SCRIPT = """
import os, signal, sys, threading, time
from headless_discovery import Endpoint, OutlierEjection, Resolution, RoundRobin
pods = Resolution.from_endpoints("svc", (Endpoint(f"10.8.0.{i}", 80) for i in range(1, 21)))
strategy = OutlierEjection(RoundRobin(), consecutive_failures=1, max_ejected_fraction=0.5)
stop = threading.Event()

def hammer(n):
    while not stop.is_set():
        strategy.report_failure(pods[n])
        strategy.pick(pods)
        strategy.report_success(pods[n])
        strategy.ejected

threads = [threading.Thread(target=hammer, args=(n,)) for n in range(4)]
for t in threads:
    t.start()
hung = 0
for _ in range(20):
    time.sleep(0.01)
    pid = os.fork()
    if pid == 0:  # the child: uses the strategy, which takes its lock, then leaves
        strategy.report_failure(pods[7])
        strategy.pick(pods)
        os._exit(0 if pods[7] in strategy.ejected else 3)
    deadline = time.monotonic() + 5
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            if os.waitstatus_to_exitcode(status) != 0:
                hung += 100  # the child failed otherwise
            break
        if time.monotonic() > deadline:  # deadlocked: kill it, so the test never hangs
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            hung += 1
            break
        time.sleep(0.005)
stop.set()
for t in threads:
    t.join()
print(hung)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
def test_a_child_forked_while_threads_use_the_strategy_can_use_it() -> None:
    done = subprocess.run(
        [sys.executable, "-W", "ignore::DeprecationWarning", "-c", FORK_SCRIPT],
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0", "children that hung (or failed, x100)"


def test_successes_reach_an_inner_strategy_that_tracks_failures() -> None:
    inner, clock = guarded()
    outer = OutlierEjection(inner, consecutive_failures=100, clock=clock)
    outer.pick(PODS)
    inner.pick(PODS)
    fail(outer, PODS[0], 4)
    outer.report_success(PODS[0])  # resets the inner count too
    fail(outer, PODS[0], 4)
    assert inner.ejected == frozenset()
    outer.report_failure(PODS[0])
    assert inner.ejected == {PODS[0]}
    assert outer.ejected == frozenset()


def test_begin_and_end_are_no_ops_over_a_strategy_that_counts_nothing() -> None:
    strategy, _ = guarded()
    strategy.begin(PODS[0])
    strategy.end(PODS[0])
    with acquire(strategy, PODS) as ep:
        assert ep in PODS
    assert list(strategy.prepare_in_slices(PODS)) == []
    strategy.prepare(PODS)


def test_the_pick_that_brings_a_pod_back_may_pick_it() -> None:
    clock = FakeClock()
    strategy = OutlierEjection(PickFirst(), clock=clock)
    strategy.pick(PODS)
    fail(strategy, PODS[0])
    assert strategy.pick(PODS) == PODS[1]
    clock.now += 30
    assert strategy.pick(PODS) == PODS[0]


def test_eject_return_and_eject_another_on_one_sequence() -> None:
    clock = FakeClock()
    strategy = OutlierEjection(PickFirst(), clock=clock)
    strategy.pick(PODS)
    fail(strategy, PODS[0])
    assert strategy.pick(PODS) == PODS[1]
    clock.now += 30
    assert strategy.pick(PODS) == PODS[0]
    fail(strategy, PODS[1])
    assert strategy.pick(PODS) == PODS[0]
    fail(strategy, PODS[0])  # again: 20 pods leave room for two
    assert strategy.pick(PODS) == PODS[2]


def test_a_success_of_a_pod_that_never_failed_is_fine() -> None:
    strategy, _ = guarded()
    strategy.pick(PODS)
    strategy.report_failure(PODS[1])
    strategy.report_success(PODS[0])
    fail(strategy, PODS[1], 4)
    assert strategy.ejected == {PODS[1]}


def test_the_durations_at_their_limits() -> None:
    strategy, clock = guarded(base_ejection=0.5, max_ejection=0.5, interval=0.25)
    strategy.pick(PODS)
    fail(strategy, PODS[0])
    clock.now += 0.49
    assert strategy.ejected == {PODS[0]}
    clock.now += 0.01
    assert strategy.ejected == frozenset()
