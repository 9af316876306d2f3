"""LeastOutstanding: power of two random choices over requests in flight."""

from __future__ import annotations

import gc
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


@pytest.mark.parametrize("choices", [2, 3, 10])
def test_a_tie_goes_to_the_first_drawn(choices: int) -> None:
    # Equal loads: the endpoint of the first of the ``choices`` draws, whatever the others.
    five = Resolution.from_endpoints("svc", (Endpoint(f"10.6.1.{i}", 80) for i in range(5)))
    lo = LeastOutstanding(random.Random(7), choices=choices)
    mirror = random.Random(7)
    for ep in five:
        busy(lo, ep, 1)
    for _ in range(200):
        draws = [int(mirror.random() * 5) for _ in range(choices)]
        assert lo.pick(five) == five[draws[0]]


@pytest.mark.parametrize("choices", [2, 3, 10])
def test_the_first_drawn_of_the_least_busy_wins(choices: int) -> None:
    five = Resolution.from_endpoints("svc", (Endpoint(f"10.6.2.{i}", 80) for i in range(5)))
    lo = LeastOutstanding(random.Random(8), choices=choices)
    mirror = random.Random(8)
    loads = (2, 0, 1, 0, 2)
    for ep, load in zip(five, loads, strict=True):
        busy(lo, ep, load)
    for _ in range(300):
        draws = [int(mirror.random() * 5) for _ in range(choices)]
        least = min(loads[d] for d in draws)
        assert lo.pick(five) == five[next(d for d in draws if loads[d] == least)]


def _reachable_endpoints(root: object) -> list[Endpoint]:
    """The endpoints a strategy holds on to, by walking its containers (gc referents)."""
    found: list[Endpoint] = []
    seen: set[int] = set()
    todo = [root]
    while todo:
        obj = todo.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, Endpoint):
            found.append(obj)
        elif obj is root or isinstance(obj, (dict, list, tuple, set, frozenset, Resolution)):
            todo.extend(gc.get_referents(obj))
    return found


def test_idle_pods_that_left_are_forgotten_busy_ones_once_idle() -> None:
    lo = LeastOutstanding(random.Random(9))
    gone_idle, gone_busy = Endpoint("10.6.3.1", 80), Endpoint("10.6.3.2", 80)
    stays = Endpoint("10.6.3.3", 80)
    lo.pick(Resolution.from_endpoints("svc", (gone_idle, gone_busy, stays)))
    lo.begin(gone_busy)
    lo.begin(stays)
    after = Resolution.from_endpoints("svc", (stays, Endpoint("10.6.3.4", 80)))
    lo.pick(after)
    held = _reachable_endpoints(lo)
    assert not any(ep is gone_idle for ep in held)
    assert any(ep is gone_busy for ep in held)  # its end() is still to come
    assert lo.in_flight(gone_busy) == 1
    lo.end(gone_busy)
    lo.pick(Resolution.from_endpoints("svc", (stays, Endpoint("10.6.3.5", 80))))
    assert not any(ep is gone_busy for ep in _reachable_endpoints(lo))
    assert lo.in_flight(stays) == 1  # the pod that stayed keeps its count throughout
    # A pod that comes back starts from what it had: nothing in flight.
    assert lo.in_flight(gone_idle) == 0
    lo.pick(Resolution.from_endpoints("svc", (gone_idle, stays)))
    assert lo.in_flight(gone_idle) == 0
    assert lo.in_flight(stays) == 1


def test_choices_at_their_limits_and_one_past_with_the_message() -> None:
    assert repr(LeastOutstanding(choices=2)) == "LeastOutstanding(choices=2)"
    assert repr(LeastOutstanding(choices=10)) == "LeastOutstanding(choices=10)"
    for bad in (1, 11):
        with pytest.raises(
            ConfigurationError, match=rf"^choices must be an integer from 2 to 10, not {bad}$"
        ):
            LeastOutstanding(choices=bad)
