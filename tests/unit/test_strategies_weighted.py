"""Weighted: RFC 2782 priorities and weights, and user weights for address answers."""

from __future__ import annotations

import math
import random
import re

import pytest

from headless_discovery import ConfigurationError, Endpoint, Resolution, Weighted
from tests.unit.test_strategies import assert_distribution, picks


def srv(n: int, priority: int, weight: int) -> Endpoint:
    return Endpoint(f"10.2.0.{n}", 27017, f"db-{n}.db.ns.svc.cluster.local", priority, weight)


def test_weights_within_the_lowest_priority_are_proportional() -> None:
    group = [srv(1, 0, 10), srv(2, 0, 20), srv(3, 0, 30), srv(4, 0, 40)]
    backup = srv(5, 1, 1000)
    res = Resolution.from_endpoints("db", [*group, backup])
    counts = picks(Weighted(random.Random(1)), res, 40_000)
    assert backup not in counts  # a higher priority value is never a first choice
    assert_distribution(counts, {ep: ep.weight / 100 for ep in group})


def test_zero_weight_records_keep_a_small_chance_as_rfc_2782_says() -> None:
    zeros = [srv(1, 0, 0), srv(2, 0, 0)]
    heavy = [srv(3, 0, 10), srv(4, 0, 30)]
    res = Resolution.from_endpoints("db", [*zeros, *heavy])
    counts = picks(Weighted(random.Random(2)), res, 82_000)
    # S = 40: the zero-weight records share 1/41, the others get weight/41.
    expected = {**dict.fromkeys(zeros, 0.5 / 41), heavy[0]: 10 / 41, heavy[1]: 30 / 41}
    assert_distribution(counts, expected)
    assert all(counts[ep] > 0 for ep in zeros)


@pytest.mark.parametrize("priority", [0, 7])
def test_all_zero_weights_are_equal(priority: int) -> None:
    pods = [srv(n, priority, 0) for n in range(1, 5)]
    res = Resolution.from_endpoints("db", [*pods, srv(9, priority + 1, 50)])
    counts = picks(Weighted(random.Random(3)), res, 20_000)
    assert_distribution(counts, dict.fromkeys(pods, 1 / 4))


def test_the_most_preferred_priority_wins_whatever_its_weights() -> None:
    res = Resolution.from_endpoints("db", [srv(1, 3, 1), srv(2, 2, 0), srv(3, 5, 60000)])
    assert picks(Weighted(random.Random(4)), res, 500) == {res[0]: 500}
    assert res[0] == srv(2, 2, 0)


def test_address_answers_are_uniform_without_user_weights() -> None:
    pods = [Endpoint(f"10.3.0.{i}", 80) for i in range(1, 6)]
    counts = picks(Weighted(random.Random(5)), tuple(pods), 25_000)
    assert_distribution(counts, dict.fromkeys(pods, 1 / 5))


def test_user_weights_by_address_or_hostname() -> None:
    a = Endpoint("10.4.0.1", 80, "web-0.web.ns.svc.cluster.local")
    b = Endpoint("10.4.0.2", 80, "web-1.web.ns.svc.cluster.local")
    c = Endpoint("10.4.0.3", 80, "web-2.web.ns.svc.cluster.local")
    d = Endpoint("fd00::4", 80)
    weights = {
        "10.4.0.1": 4,  # by address: wins over the hostname entry below
        "WEB-0.web.ns.svc.cluster.local.": 100,
        "web-1.web.ns.svc.cluster.local": 2,  # by hostname, any case, trailing dot or not
        "FD00:0::4": 0.5,  # addresses are compared in canonical form
    }
    strategy = Weighted(random.Random(6), weights=weights)
    counts = picks(strategy, (a, b, c, d), 30_000)
    # c is not listed and weighs 1; SRV weights (0 here) no longer matter.
    assert_distribution(counts, {a: 4 / 7.5, b: 2 / 7.5, c: 1 / 7.5, d: 0.5 / 7.5})


def test_user_weight_zero_drains_an_endpoint_unless_all_are_zero() -> None:
    pods = tuple(Endpoint(f"10.5.0.{i}", 80) for i in range(1, 4))
    drained = Weighted(random.Random(7), weights={"10.5.0.1": 0})
    counts = picks(drained, pods, 3000)
    assert pods[0] not in counts
    assert_distribution(counts, {pods[1]: 0.5, pods[2]: 0.5})
    none_left = Weighted(random.Random(7), weights=dict.fromkeys(("10.5.0.1", "10.5.0.2"), 0))
    assert picks(none_left, pods[:2], 1000).keys() == set(pods[:2])


def test_user_weights_still_honour_srv_priorities() -> None:
    primary, backup = srv(1, 0, 5), srv(2, 1, 5)
    strategy = Weighted(random.Random(8), weights={"10.2.0.2": 1000})
    assert picks(strategy, (primary, backup), 200) == {primary: 200}


@pytest.mark.parametrize("bad", [-1, -0.001, math.nan, math.inf, -math.inf, True, "3", None])
def test_bad_weights_are_refused(bad: object) -> None:
    message = (
        rf"^the weight of '10\.0\.0\.1' must be a finite number >= 0, not {re.escape(repr(bad))}$"
    )
    with pytest.raises(ConfigurationError, match=message):
        Weighted(weights={"10.0.0.1": bad})  # type: ignore[dict-item]
    with pytest.raises(
        ConfigurationError, match=r"^weights are keyed by address or hostname, not 5$"
    ):
        Weighted(weights={5: 1})  # type: ignore[dict-item]


def test_weights_at_their_limits_and_the_repr() -> None:
    strategy = Weighted(weights={"10.0.0.1": 0, "Web-0.": 1e308, "FD00:0::1": 2})
    assert repr(strategy) == "Weighted(weights={'10.0.0.1': 0.0, 'web-0': 1e+308, 'fd00::1': 2.0})"
    assert repr(Weighted()) == "Weighted()"


def test_seeded_picks_are_reproducible() -> None:
    res = Resolution.from_endpoints("db", [srv(n, 0, n * 3) for n in range(1, 9)])
    first = Weighted(random.Random(9))
    second = Weighted(random.Random(9))
    assert [first.pick(res) for _ in range(100)] == [second.pick(res) for _ in range(100)]


def test_a_new_snapshot_gets_its_own_weights() -> None:
    strategy = Weighted(random.Random(10))
    old = Resolution.from_endpoints("db", [srv(1, 0, 1), srv(2, 0, 99)])
    new = Resolution.from_endpoints("db", [srv(1, 0, 99), srv(2, 0, 1)])
    assert picks(strategy, old, 2000)[old[1]] > 1900
    assert picks(strategy, new, 2000)[new[0]] > 1900
