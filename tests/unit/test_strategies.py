"""The strategy protocol, the simple strategies, names, acquire(), snapshots, threads.

The statistical helpers here are shared by the other ``test_strategies_*`` files.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence

import pytest

from headless_discovery import (
    STRATEGY_NAMES,
    ConfigurationError,
    ConsistentHash,
    Endpoint,
    FailureTracking,
    InFlightTracking,
    LeastOutstanding,
    NoEndpointsError,
    OutlierEjection,
    PickFirst,
    Random,
    Resolution,
    RoundRobin,
    Strategy,
    Weighted,
    acquire,
    strategy_from_name,
)
from headless_discovery.strategies import (
    Preparing,
    PreparingInSlices,
    _base,
    _hashing,
    _least,
    _simple,
    _weighted,
)

PODS = tuple(Endpoint(f"10.0.0.{i}", 80) for i in range(1, 6))
RES = Resolution.from_endpoints("svc", PODS)

# Upper critical values of the chi-square distribution for p = 0.001, by degrees of freedom:
# scipy.stats.chi2.ppf(0.999, df), hard-coded because scipy is not a test dependency.
CHI2_CRITICAL_P001 = {
    1: 10.828,
    2: 13.816,
    3: 16.266,
    4: 18.467,
    5: 20.515,
    6: 22.458,
    7: 24.322,
    8: 26.124,
    9: 27.877,
    10: 29.588,
}


def chi_square(counts: Mapping[Endpoint, int], probabilities: Mapping[Endpoint, float]) -> float:
    """Pearson's statistic of observed ``counts`` against expected ``probabilities``."""
    total = sum(counts.values())
    return sum(
        (counts.get(ep, 0) - total * p) ** 2 / (total * p) for ep, p in probabilities.items()
    )


def assert_distribution(
    counts: Mapping[Endpoint, int], probabilities: Mapping[Endpoint, float]
) -> None:
    """Nothing picked outside the support, and a chi-square fit at p = 0.001."""
    support = {ep for ep, p in probabilities.items() if p > 0}
    assert set(counts) <= support, set(counts) - support
    stat = chi_square(counts, {ep: probabilities[ep] for ep in support})
    assert stat < CHI2_CRITICAL_P001[len(support) - 1], (stat, counts)


def picks(
    strategy: Strategy, endpoints: Sequence[Endpoint], n: int, key: str | None = None
) -> Counter[Endpoint]:
    return Counter(strategy.pick(endpoints, key) for _ in range(n))


def run_threads(worker: Callable[[int], None], n: int = 8) -> None:
    """Run ``worker(i)`` in ``n`` threads released together; re-raise their failures."""
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            worker(i)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def every_strategy() -> list[Strategy]:
    return [
        *(strategy_from_name(name) for name in STRATEGY_NAMES),
        OutlierEjection(RoundRobin()),
    ]


@pytest.mark.parametrize("strategy", every_strategy(), ids=repr)
def test_every_strategy_refuses_an_empty_sequence(strategy: Strategy) -> None:
    empties: tuple[Sequence[Endpoint], ...] = ((), [], Resolution("svc", ()))
    for empty in empties:
        with pytest.raises(NoEndpointsError, match="no endpoints to pick from"):
            strategy.pick(empty, "key")
    for endpoints in (PODS, RES, list(PODS)):
        assert strategy.pick(endpoints, "key") in PODS
    assert isinstance(strategy, Strategy)


def test_the_optional_protocols_are_recognised() -> None:
    assert isinstance(LeastOutstanding(), InFlightTracking)
    assert not isinstance(RoundRobin(), InFlightTracking)
    assert isinstance(OutlierEjection(RoundRobin()), FailureTracking)
    assert not isinstance(Weighted(), FailureTracking)


def test_pick_first() -> None:
    strategy = PickFirst()
    assert {strategy.pick(PODS) for _ in range(10)} == {PODS[0]}
    assert strategy.pick(RES[2:]) == PODS[2]
    assert strategy.pick(list(PODS[3:])) == PODS[3]


def test_round_robin_visits_each_pod_in_turn() -> None:
    rr = RoundRobin()
    assert [rr.pick(RES) for _ in range(3 * len(PODS))] == list(PODS) * 3


def test_round_robin_is_fair_over_every_window() -> None:
    pods = tuple(Endpoint(f"10.0.1.{i}", 80) for i in range(1, 8))
    rr = RoundRobin()
    sequence = [rr.pick(pods) for _ in range(7 * 30)]
    for k in (1, 2, 5):
        size = len(pods) * k
        for start in range(len(sequence) - size + 1):
            counts = Counter(sequence[start : start + size])
            assert set(counts) == set(pods)
            assert all(abs(n - k) <= 1 for n in counts.values()), (start, counts)
            assert all(n == k for n in counts.values())  # one snapshot: even exact


def test_round_robin_keeps_going_when_the_set_changes() -> None:
    rr = RoundRobin()
    rr.pick(RES)
    rr.pick(RES)
    grown = Resolution.from_endpoints("svc", (*PODS, Endpoint("10.0.0.9", 80)))
    # The rotation continues from its position instead of starting over at pod 0 ...
    assert rr.pick(grown) == grown[2]
    # ... and is fair again over the new set.
    after = [rr.pick(grown) for _ in range(6 * 4)]
    assert Counter(after) == Counter(dict.fromkeys(grown, 4))


def test_random_is_uniform_and_reproducible() -> None:
    a = [Random(random.Random(42)).pick(RES) for _ in range(50)]
    b = [Random(random.Random(42)).pick(RES) for _ in range(50)]
    assert a == b
    seq1 = [s.pick(RES) for s in [Random(random.Random(7))] for _ in range(50)]
    seq2 = [s.pick(RES) for s in [Random(random.Random(8))] for _ in range(50)]
    assert seq1 != seq2
    assert_distribution(
        picks(Random(random.Random(1)), RES, 50_000), dict.fromkeys(PODS, 1 / len(PODS))
    )


def test_the_chi_square_check_has_power() -> None:
    # The helper must reject a visibly skewed distribution, or the tests above prove nothing.
    skewed = Counter({PODS[0]: 11_000, **dict.fromkeys(PODS[1:], 9_750)})
    with pytest.raises(AssertionError, match=r"assert 125\.0 < "):
        assert_distribution(skewed, dict.fromkeys(PODS, 1 / len(PODS)))


def test_strategies_by_name() -> None:
    assert STRATEGY_NAMES == (
        "consistent_hash",
        "least_outstanding",
        "pick_first",
        "random",
        "round_robin",
        "weighted",
    )
    classes = (ConsistentHash, LeastOutstanding, PickFirst, Random, RoundRobin, Weighted)
    for name, cls in zip(STRATEGY_NAMES, classes, strict=True):
        assert type(strategy_from_name(name)) is cls
    assert strategy_from_name("round_robin") is not strategy_from_name("round_robin")
    seeded = [strategy_from_name("weighted", rng=random.Random(3)) for _ in range(2)]
    assert [seeded[0].pick(RES) for _ in range(20)] == [seeded[1].pick(RES) for _ in range(20)]
    assert repr(strategy_from_name("least_outstanding", choices=3)) == (
        "LeastOutstanding(choices=3)"
    )
    with pytest.raises(ConfigurationError, match="round_robin") as info:
        strategy_from_name("fastest")
    assert all(name in str(info.value) for name in STRATEGY_NAMES)
    with pytest.raises(ConfigurationError, match=r"'round_robin'.*rng"):
        strategy_from_name("round_robin", rng=random.Random())
    with pytest.raises(ConfigurationError, match="choices"):
        strategy_from_name("least_outstanding", choices=1)


class Spy:
    """A strategy that records the begin/end calls it gets."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Endpoint]] = []

    def pick(self, endpoints: Sequence[Endpoint], key: str | None = None) -> Endpoint:
        return endpoints[-1]

    def begin(self, endpoint: Endpoint) -> None:
        self.calls.append(("begin", endpoint))

    def end(self, endpoint: Endpoint) -> None:
        self.calls.append(("end", endpoint))


def test_acquire_begins_and_ends_around_the_block_even_on_error() -> None:
    spy = Spy()
    with acquire(spy, RES) as ep:
        assert ep == PODS[-1]
        assert spy.calls == [("begin", ep)]
    assert spy.calls == [("begin", ep), ("end", ep)]
    with pytest.raises(KeyError, match="the request failed"), acquire(spy, RES):
        raise KeyError("the request failed")
    assert spy.calls[-1] == ("end", ep)
    assert len(spy.calls) == 4


def test_acquire_with_a_strategy_that_tracks_nothing_only_picks() -> None:
    rr = RoundRobin()
    with acquire(rr, RES) as first, acquire(rr, RES) as second:
        assert (first, second) == (PODS[0], PODS[1])


def test_acquire_counts_in_flight_requests_of_least_outstanding() -> None:
    lo = LeastOutstanding(random.Random(1))
    with acquire(lo, RES) as ep:
        assert lo.in_flight(ep) == 1
    assert lo.in_flight(ep) == 0
    inside: list[int] = []

    def failing_request() -> None:
        with acquire(lo, RES) as ep:
            inside.append(lo.in_flight(ep))
            raise RuntimeError("the request failed")

    with pytest.raises(RuntimeError, match=r"^the request failed$"):
        failing_request()
    assert inside == [1]
    assert all(lo.in_flight(ep) == 0 for ep in PODS)


class PreferOrdinalZero:
    """The worked example of docs/strategies.md: ordinal 0 while it exists."""

    def __init__(self, fallback: Strategy) -> None:
        self._fallback = fallback

    def pick(self, endpoints: Sequence[Endpoint], key: str | None = None) -> Endpoint:
        for ep in endpoints:
            if ep.hostname and ep.hostname.split(".")[0].endswith("-0"):
                return ep
        return self._fallback.pick(endpoints, key)


def mongo_pods(n: int, start: int = 0) -> Resolution:
    return Resolution.from_endpoints(
        "mongodb",
        (
            Endpoint(f"10.1.0.{i + 1}", 27017, f"mongodb-{i}.mongodb.db.svc.cluster.local")
            for i in range(start, n)
        ),
    )


def test_a_custom_strategy_satisfies_the_protocol_and_composes() -> None:
    custom = PreferOrdinalZero(RoundRobin())
    assert isinstance(custom, Strategy)
    pods = mongo_pods(3)
    assert {custom.pick(pods) for _ in range(5)} == {pods[0]}
    without_zero = mongo_pods(3, start=1)
    assert [custom.pick(without_zero) for _ in range(4)] == [*without_zero, *without_zero]
    assert strategy_from_name("pick_first").pick(pods) == pods[0]
    with acquire(custom, pods) as ep:
        assert ep == pods[0]
    # Outlier ejection wraps it like a built-in one: pod 0 out, the fallback takes over.
    guarded = OutlierEjection(custom, clock=lambda: 0.0)
    for _ in range(5):
        guarded.report_failure(pods[0])
    assert pods[0] not in {guarded.pick(pods) for _ in range(10)}


@pytest.mark.parametrize(
    ("make", "module"),
    [
        (PickFirst, _simple),
        (RoundRobin, _simple),
        (lambda: Random(random.Random(1)), _simple),
        (lambda: Weighted(random.Random(1)), _weighted),
        (lambda: LeastOutstanding(random.Random(1)), _least),
        (ConsistentHash, _hashing),
    ],
)
def test_tables_are_built_once_per_snapshot_not_per_pick(
    make: Callable[[], Strategy], module: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds = 0
    real = module.as_tuple  # type: ignore[attr-defined]

    def counting(endpoints: Sequence[Endpoint]) -> tuple[Endpoint, ...]:
        nonlocal builds
        builds += 1
        return real(endpoints)  # type: ignore[no-any-return]

    monkeypatch.setattr(module, "as_tuple", counting)
    strategy = make()
    for _ in range(100):
        strategy.pick(RES, "key")
    assert builds == 1
    renewed = Resolution.from_endpoints("svc", PODS)  # equal, but a new snapshot
    for _ in range(100):
        strategy.pick(renewed, "key")
    assert builds == 2
    for _ in range(100):
        strategy.pick(PODS, "key")  # a tuple is immutable too
    assert builds == 3
    listed = list(PODS)
    strategy.pick(listed, "key")
    strategy.pick(listed, "key")
    assert builds == 5  # a list may change in place: never cached


def test_round_robin_is_thread_safe() -> None:
    rr = RoundRobin()
    counts: Counter[Endpoint] = Counter()
    lock = threading.Lock()

    def worker(_: int) -> None:
        local = Counter(rr.pick(RES) for _ in range(2000))
        with lock:
            counts.update(local)

    run_threads(worker)
    # 16 000 picks over 5 pods: each exactly 3 200 when no counter value is lost or shared.
    assert counts == Counter(dict.fromkeys(PODS, 3200))


def test_eight_threads_picking_and_counting_in_flight_add_up() -> None:
    lo = LeastOutstanding(random.Random(5))
    snapshots = [RES, Resolution.from_endpoints("svc", PODS)]  # swapped under the pickers
    total: Counter[Endpoint] = Counter()
    lock = threading.Lock()
    holding = threading.Barrier(8, timeout=30)
    seen: list[int] = []

    def worker(i: int) -> None:
        local: Counter[Endpoint] = Counter()
        for n in range(1500):
            with lo.acquire(snapshots[(n // 100) % 2]) as ep:
                local[ep] += 1
            lo.begin(PODS[0])
        with lo.acquire(RES):
            holding.wait()  # all eight in flight at once
            if i == 0:
                seen.append(sum(lo.in_flight(ep) for ep in PODS))
            holding.wait()
        for _ in range(1500):
            lo.end(PODS[0])
        with lock:
            total.update(local)

    run_threads(worker)
    assert seen == [8 + 8 * 1500]
    assert sum(total.values()) == 8 * 1500
    assert all(lo.in_flight(ep) == 0 for ep in PODS)


def test_eight_threads_picking_and_reporting_to_outlier_ejection_add_up() -> None:
    # 8 x 250 failures of one pod: ejected by failure 2001 exactly, so a lost or doubled
    # count shows. Meanwhile the pickers must never see a half-made view.
    clock = [0.0]
    guard = OutlierEjection(
        RoundRobin(),
        consecutive_failures=8 * 250 + 1,
        max_ejected_fraction=1.0,
        clock=lambda: clock[0],
    )
    picked: list[int] = []

    def worker(_: int) -> None:
        count = 0
        for _ in range(250):
            guard.report_failure(PODS[1])
            assert guard.pick(RES) in PODS
            count += 1
        picked.append(count)

    run_threads(worker)
    assert sum(picked) == 8 * 250
    assert guard.ejected == frozenset()
    guard.report_failure(PODS[1])
    assert guard.ejected == {PODS[1]}
    assert PODS[1] not in picks(guard, RES, 50)


def test_eight_threads_hashing_keys_across_snapshot_changes_agree() -> None:
    small = mongo_pods(10)
    large = mongo_pods(11)
    reference = {size: ConsistentHash() for size in (10, 11)}
    shared = ConsistentHash()
    keys = [f"user-{i}" for i in range(400)]
    expected = {
        (size, key): reference[size].pick(small if size == 10 else large, key)
        for size in (10, 11)
        for key in keys
    }

    def worker(i: int) -> None:
        for n, key in enumerate(keys * 3):
            size = 10 if (n // 50 + i) % 2 else 11
            got = shared.pick(small if size == 10 else large, key)
            assert got == expected[size, key]

    run_threads(worker)


@pytest.mark.parametrize(
    "make",
    [
        lambda: Weighted(random.Random(1)),
        lambda: LeastOutstanding(random.Random(1)),
        ConsistentHash,
    ],
)
def test_preparing_strategies_prepare_at_once_or_in_slices(make: Callable[[], Strategy]) -> None:
    strategy = make()
    assert isinstance(strategy, Preparing)
    assert isinstance(strategy, PreparingInSlices)
    strategy.prepare(RES)
    assert strategy._snap[0] is RES  # type: ignore[attr-defined]
    other = Resolution.from_endpoints("svc", PODS[1:])
    slices = strategy.prepare_in_slices(other)
    assert strategy._snap[0] is RES  # type: ignore[attr-defined]  # lazy: nothing yet
    for _ in slices:
        pass
    assert strategy._snap[0] is other  # type: ignore[attr-defined]
    with pytest.raises(NoEndpointsError, match="no endpoints to pick from"):
        list(strategy.prepare_in_slices(()))


def test_acquire_decides_in_flight_tracking_by_protocol_once_per_type(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    checks: list[type] = []
    real = _base.InFlightTracking.__class__.__instancecheck__  # type: ignore[attr-defined]

    def counting(protocol: type, instance: object) -> bool:
        if protocol is InFlightTracking:
            checks.append(type(instance))
        return real(protocol, instance)  # type: ignore[no-any-return]

    monkeypatch.setattr(_base, "_IN_FLIGHT", {})
    monkeypatch.setattr(type(InFlightTracking), "__instancecheck__", counting)
    spy, plain = Spy(), PickFirst()
    for _ in range(3):
        with acquire(spy, RES), acquire(plain, RES), acquire(Spy(), RES):
            pass
    assert checks == [Spy, PickFirst]
    assert spy.calls == [("begin", PODS[-1]), ("end", PODS[-1])] * 3


@pytest.mark.parametrize("strategy", every_strategy(), ids=repr)
def test_a_list_changed_in_place_is_read_again(strategy: Strategy) -> None:
    # A list may change under the same identity: no strategy keeps tables of it.
    pods = list(PODS[:3])
    assert {strategy.pick(pods, "k") for _ in range(20)} <= set(PODS[:3])
    pods[:] = [PODS[4]]
    assert {strategy.pick(pods, "k") for _ in range(20)} == {PODS[4]}
    pods.append(PODS[3])
    assert {strategy.pick(pods, "k") for _ in range(60)} <= {PODS[3], PODS[4]}


def test_the_simple_strategies_repr() -> None:
    assert [repr(s) for s in (PickFirst(), RoundRobin(), Random(random.Random(1)))] == [
        "PickFirst()",
        "RoundRobin()",
        "Random()",
    ]


@pytest.mark.parametrize("make", [lambda: Weighted(random.Random(1)), LeastOutstanding])
def test_preparing_the_same_snapshot_twice_builds_once(
    make: Callable[[], Strategy], monkeypatch: pytest.MonkeyPatch
) -> None:
    builds: list[int] = []
    real = _base.as_tuple

    def counting(endpoints: Sequence[Endpoint]) -> tuple[Endpoint, ...]:
        builds.append(1)
        return real(endpoints)

    monkeypatch.setattr(_weighted, "as_tuple", counting)
    monkeypatch.setattr(_least, "as_tuple", counting)
    strategy = make()
    assert isinstance(strategy, Preparing)
    assert isinstance(strategy, PreparingInSlices)
    strategy.prepare(RES)
    strategy.prepare(RES)
    assert list(strategy.prepare_in_slices(RES)) == []
    assert len(builds) == 1


def test_the_empty_error_says_why_there_may_be_nothing() -> None:
    with pytest.raises(
        NoEndpointsError,
        match=r"^there are no endpoints to pick from: the Service has no ready pods "
        r"\(or every pod was filtered out\)$",
    ):
        RoundRobin().pick(())


def test_an_unknown_strategy_name_lists_the_known_ones() -> None:
    with pytest.raises(
        ConfigurationError,
        match=r"^unknown strategy 'x'; choose one of: consistent_hash, least_outstanding, "
        r"pick_first, random, round_robin, weighted$",
    ):
        strategy_from_name("x")
