"""The basic strategies: pure, seeded."""

from __future__ import annotations

import random
import threading
from collections import Counter

import pytest

from headless_discovery import (
    STRATEGY_NAMES,
    ConfigurationError,
    Endpoint,
    NoEndpointsError,
    PickFirst,
    Random,
    RoundRobin,
    Strategy,
    strategy_from_name,
)

PODS = tuple(Endpoint(f"10.0.0.{i}", 80) for i in range(1, 6))


@pytest.mark.parametrize("strategy", [PickFirst(), RoundRobin(), Random()])
def test_every_strategy_refuses_an_empty_list(strategy: Strategy) -> None:
    with pytest.raises(NoEndpointsError, match="no endpoints to pick from"):
        strategy.pick(())
    assert strategy.pick(PODS) in PODS
    assert isinstance(strategy, Strategy)


def test_pick_first() -> None:
    assert {PickFirst().pick(PODS) for _ in range(10)} == {PODS[0]}


def test_round_robin_visits_each_pod_in_turn() -> None:
    rr = RoundRobin()
    picks = [rr.pick(PODS) for _ in range(3 * len(PODS))]
    assert picks == list(PODS) * 3


def test_round_robin_keeps_going_when_the_set_changes() -> None:
    rr = RoundRobin()
    rr.pick(PODS)
    rr.pick(PODS)
    grown = (*PODS, Endpoint("10.0.0.9", 80))
    # The rotation continues from its position instead of starting over at pod 0.
    assert rr.pick(grown) == grown[2]


def test_random_is_reproducible_with_a_seed_and_roughly_uniform() -> None:
    a = [Random(random.Random(42)).pick(PODS) for _ in range(1)]
    b = [Random(random.Random(42)).pick(PODS) for _ in range(1)]
    assert a == b
    strategy = Random(random.Random(1))
    counts = Counter(strategy.pick(PODS) for _ in range(5000))
    assert set(counts) == set(PODS)
    assert all(800 < n < 1200 for n in counts.values())


def test_round_robin_is_thread_safe() -> None:
    rr = RoundRobin()
    counts: Counter[Endpoint] = Counter()
    lock = threading.Lock()

    def worker() -> None:
        local = Counter(rr.pick(PODS) for _ in range(2000))
        with lock:
            counts.update(local)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # 16 000 picks over 5 pods: each exactly 3 200 when no counter value is lost or shared.
    assert counts == Counter(dict.fromkeys(PODS, 3200))


def test_strategies_by_name() -> None:
    assert STRATEGY_NAMES == ("pick_first", "random", "round_robin")
    assert isinstance(strategy_from_name("round_robin"), RoundRobin)
    assert strategy_from_name("round_robin") is not strategy_from_name("round_robin")
    with pytest.raises(ConfigurationError, match="round_robin"):
        strategy_from_name("fastest")
