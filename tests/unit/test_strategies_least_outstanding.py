"""LeastOutstanding: power of two random choices over requests in flight."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from headless_discovery import ConfigurationError, Endpoint, LeastOutstanding, Resolution
from tests.unit.test_strategies import assert_distribution, picks

A, B, C = (Endpoint(f"10.6.0.{i}", 80) for i in (1, 2, 3))
RES = Resolution.from_endpoints("svc", (A, B, C))


def busy(strategy: LeastOutstanding, endpoint: Endpoint, n: int) -> None:
    for _ in range(n):
        strategy.begin(endpoint)


def test_two_choices_favour_idle_pods() -> None:
    lo = LeastOutstanding(random.Random(1))
    busy(lo, A, 5)
    busy(lo, B, 1)
    # Two draws with replacement, the less loaded wins: C unless neither draw is C (4/9
    # of the time); A only when both draws are A.
    expected = {A: 1 / 9, B: 3 / 9, C: 5 / 9}
    assert_distribution(picks(lo, RES, 18_000), expected)


def test_more_choices_favour_idle_pods_more() -> None:
    lo = LeastOutstanding(random.Random(2), choices=3)
    busy(lo, A, 2)
    busy(lo, B, 1)
    expected = {A: 1 / 27, B: 7 / 27, C: 19 / 27}
    assert_distribution(picks(lo, RES, 27_000), expected)


def test_equal_loads_spread_uniformly() -> None:
    lo = LeastOutstanding(random.Random(3))
    busy(lo, A, 2)
    busy(lo, B, 2)
    busy(lo, C, 2)
    assert_distribution(picks(lo, RES, 15_000), dict.fromkeys(RES, 1 / 3))


def test_acquire_counts_while_the_block_runs() -> None:
    lo = LeastOutstanding(random.Random(4))
    held = [lo.acquire(RES) for _ in range(30)]
    chosen = Counter(cm.__enter__() for cm in held)
    assert {ep: lo.in_flight(ep) for ep in RES} == {ep: chosen[ep] for ep in RES}
    # Holding requests open steers new ones: every pod ends up with about a third.
    assert max(chosen.values()) - min(chosen.values()) <= 3
    for cm in held:
        cm.__exit__(None, None, None)
    assert all(lo.in_flight(ep) == 0 for ep in RES)


def test_acquire_releases_on_error_and_end_never_goes_negative() -> None:
    lo = LeastOutstanding(random.Random(5))

    def failing_request() -> None:
        with lo.acquire(RES):
            raise ConnectionError("reset by peer")

    with pytest.raises(ConnectionError, match=r"^reset by peer$"):
        failing_request()
    assert all(lo.in_flight(ep) == 0 for ep in RES)
    lo.end(A)  # without begin: ignored
    assert lo.in_flight(A) == 0
    lo.begin(A)
    assert lo.in_flight(A) == 1


def test_counts_survive_a_new_snapshot() -> None:
    lo = LeastOutstanding(random.Random(6))
    busy(lo, A, 3)
    lo.pick(RES)
    d = Endpoint("10.6.0.4", 80)
    # Equal endpoints in new objects, plus a new pod and minus C.
    renewed = Resolution.from_endpoints("svc", (Endpoint("10.6.0.1", 80), B, d))
    assert lo.in_flight(renewed[0]) == 3
    assert_distribution(picks(lo, renewed, 9000), {A: 1 / 9, B: 4 / 9, d: 4 / 9})
    # A pod that leaves while busy keeps its count until its requests end.
    lo.begin(C)
    lo.pick(Resolution.from_endpoints("svc", (A, B)))
    assert lo.in_flight(C) == 1
    lo.end(C)
    assert lo.in_flight(C) == 0


@pytest.mark.parametrize("choices", [0, 1, 11, 2.0, True])
def test_choices_must_be_between_2_and_10(choices: object) -> None:
    with pytest.raises(ConfigurationError, match="choices"):
        LeastOutstanding(choices=choices)  # type: ignore[arg-type]
