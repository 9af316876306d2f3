"""ConsistentHash: stickiness, about 1/N of keys moving on scale, weights, a documented hash."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from bisect import bisect_left
from collections import Counter
from collections.abc import Generator, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from headless_discovery import (
    ConfigurationError,
    ConsistentHash,
    Endpoint,
    NoEndpointsError,
    Resolution,
)
from headless_discovery.strategies import _hashing

KEYS = [f"user-{i}" for i in range(10_000)]


def pod(i: int, address: str | None = None) -> Endpoint:
    return Endpoint(address or f"10.7.0.{i + 1}", 6379, f"cache-{i}.cache.ns.svc.cluster.local")


def pods(*ordinals: int) -> Resolution:
    return Resolution.from_endpoints("cache", (pod(i) for i in ordinals))


def owners(endpoints: Sequence[Endpoint], strategy: ConsistentHash | None = None) -> list[str]:
    strategy = strategy or ConsistentHash()
    return [strategy.pick(endpoints, key).address for key in KEYS]


def test_the_same_key_stays_on_the_same_pod() -> None:
    res = pods(*range(5))
    first, again = ConsistentHash(), ConsistentHash()
    assert owners(res, first) == owners(res, first) == owners(res, again)
    assert len(set(owners(res))) == 5


@pytest.mark.parametrize("n", [4, 10, 25])
def test_removing_one_of_n_pods_moves_only_its_keys_about_1_in_n(n: int) -> None:
    before = owners(pods(*range(n)))
    gone = pod(n // 2).address
    after = owners(pods(*(i for i in range(n) if i != n // 2)))
    moved = [(b, a) for b, a in zip(before, after, strict=True) if b != a]
    assert all(b == gone for b, _ in moved)  # keys of the other pods stay put
    assert len(moved) == before.count(gone)
    assert 0.7 / n < len(moved) / len(KEYS) < 1.3 / n, len(moved)


@pytest.mark.parametrize("n", [4, 10, 25])
def test_adding_a_pod_moves_about_1_in_n_plus_1_all_to_it(n: int) -> None:
    before = owners(pods(*range(n)))
    after = owners(pods(*range(n + 1)))
    moved = [a for b, a in zip(before, after, strict=True) if b != a]
    assert set(moved) == {pod(n).address}
    assert 0.7 / (n + 1) < len(moved) / len(KEYS) < 1.3 / (n + 1), len(moved)


def test_keys_spread_evenly() -> None:
    counts = Counter(owners(pods(*range(10))))
    assert len(counts) == 10
    assert all(700 < c < 1300 for c in counts.values()), counts


def test_weights_scale_a_pods_share() -> None:
    res = pods(*range(4))
    heavy = ConsistentHash(weights={pod(0).hostname or "": 3.0})
    counts = Counter(owners(res, heavy))
    # 3 : 1 : 1 : 1 of 10 000 keys.
    assert 4200 < counts[pod(0).address] < 5800, counts
    assert all(1200 < counts[pod(i).address] < 2100 for i in (1, 2, 3)), counts
    drained = Counter(owners(res, ConsistentHash(weights={pod(1).address: 0})))
    assert pod(1).address not in drained
    assert len(drained) == 3
    all_zero = ConsistentHash(weights=dict.fromkeys((p.address for p in res), 0))
    assert owners(res, all_zero) == owners(res)


def test_reweighting_one_pod_moves_keys_only_to_or_from_it() -> None:
    res = pods(*range(6))
    before = owners(res)
    after = owners(res, ConsistentHash(weights={pod(2).address: 2}))
    assert all(a == pod(2).address for b, a in zip(before, after, strict=True) if b != a)


def test_a_pod_keeps_its_keys_across_a_restart_with_a_new_ip() -> None:
    before = owners(pods(*range(5)))
    restarted = Resolution.from_endpoints(
        "cache", (pod(i, "10.7.9.9" if i == 3 else None) for i in range(5))
    )
    after = owners(restarted)
    assert [a == "10.7.9.9" for a in after] == [b == pod(3).address for b in before]


def test_a_dual_stack_pod_is_one_pod_reached_at_its_first_address() -> None:
    v6 = Endpoint("fd00::7", 6379, pod(1).hostname)
    res = Resolution.from_endpoints("cache", (pod(0), pod(1), v6))
    assert set(owners(res)) == {pod(0).address, pod(1).address}
    assert owners(res) == owners(pods(0, 1))


def test_a_key_is_required() -> None:
    with pytest.raises(
        ConfigurationError,
        match=r"^consistent_hash needs a key to pick with, e\.g\. pick\(key='user-42'\)$",
    ):
        ConsistentHash().pick(pods(0, 1))


@pytest.mark.parametrize("vnodes", [0, -5, 1.5, True])
def test_vnodes_must_be_a_positive_integer(vnodes: object) -> None:
    with pytest.raises(
        ConfigurationError, match=rf"^vnodes must be a positive integer, not {vnodes!r}$"
    ):
        ConsistentHash(vnodes=vnodes)  # type: ignore[arg-type]


def test_one_vnode_is_enough_and_the_repr_names_the_options() -> None:
    one = ConsistentHash(vnodes=1)
    assert repr(one) == "ConsistentHash(vnodes=1)"
    res = pods(0, 1, 2)
    assert {one.pick(res, f"k{i}") for i in range(200)} <= set(res)
    assert repr(ConsistentHash(weights={"10.0.0.1": 2})) == (
        "ConsistentHash(weights={'10.0.0.1': 2.0}, vnodes=160)"
    )


def documented_ring(endpoints: Sequence[Endpoint], vnodes: int = 160) -> dict[str, str]:
    """The ring exactly as docs/strategies.md describes it, computed the slow way."""
    points: list[tuple[int, str]] = []
    for ep in endpoints:
        identity = f"{ep.hostname}:{ep.port}"
        for n in range(vnodes):
            digest = hashlib.blake2b(f"{identity}-{n // 8}".encode(), digest_size=64).digest()
            position = int.from_bytes(digest[8 * (n % 8) : 8 * (n % 8) + 8], "big")
            points.append((position, ep.address))
    points.sort()
    positions = [p for p, _ in points]
    result = {}
    for key in KEYS[:2000]:
        h = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big")
        result[key] = points[bisect_left(positions, h) % len(points)][1]
    return result


def test_the_hash_is_the_documented_blake2b_ring() -> None:
    res = pods(*range(7))
    strategy = ConsistentHash()
    assert {key: strategy.pick(res, key).address for key in KEYS[:2000]} == documented_ring(res)
    # Pinned, so a change of hash or ring layout cannot go unnoticed.
    assert [strategy.pick(res, k).address for k in ("user-1", "user-2", "user-3", "")] == [
        "10.7.0.1",
        "10.7.0.3",
        "10.7.0.7",
        "10.7.0.5",
    ]


def test_the_mapping_is_the_same_in_another_process() -> None:
    code = (
        "from headless_discovery import ConsistentHash, Endpoint\n"
        "pods = tuple(Endpoint(f'10.7.0.{i + 1}', 6379, f'cache-{i}.cache.ns.svc.cluster.local')"
        " for i in range(7))\n"
        "s = ConsistentHash()\n"
        "print(','.join(s.pick(pods, f'user-{i}').address for i in range(300)))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip().split(",") == owners(pods(*range(7)))[:300]


# -- the ring follows snapshots: updates in place, builds in slices ---------------------


def full_ring(endpoints: Sequence[Endpoint], **options: Any) -> _hashing.Ring:
    """The ring a fresh strategy builds from scratch for ``endpoints``."""
    fresh = ConsistentHash(**options)
    fresh.prepare(endpoints)
    return fresh._snap[1]


def same_mapping(strategy: ConsistentHash, endpoints: Sequence[Endpoint], **options: Any) -> None:
    """``strategy``'s ring maps every point and key as a full build would."""
    positions, ring_owners, start, shift, _ = strategy._snap[1]
    want_positions, want_owners, _, _, _ = full_ring(endpoints, **options)
    assert positions == want_positions
    assert list(ring_owners) == list(want_owners)
    # The bucket index (which may be coarser or finer than a full build's) is right.
    for b in range(len(start) - 1):
        assert start[b] == bisect_left(positions, b << shift)
    reference = ConsistentHash(**options)
    for key in KEYS[:500]:
        assert strategy.pick(endpoints, key) == reference.pick(endpoints, key)


ordinal_sets = st.lists(st.frozensets(st.integers(0, 40), min_size=1), min_size=1, max_size=6)


@settings(max_examples=60, deadline=None)
@given(ordinal_sets, st.booleans())
def test_an_updated_ring_is_exactly_the_ring_built_from_scratch(
    snapshots: list[frozenset[int]], weighted: bool
) -> None:
    options: dict[str, Any] = {"vnodes": 20}
    if weighted:  # weights move points too: 0 takes a pod out, unless all weigh 0
        options["weights"] = {pod(i).hostname: i % 3 for i in range(0, 41, 2)}
    strategy = ConsistentHash(**options)
    for ordinals in snapshots:
        res = pods(*sorted(ordinals))
        strategy.prepare(res)
        same_mapping(strategy, res, **options)


@settings(max_examples=30, deadline=None)
@given(ordinal_sets)
def test_dual_stack_pods_changing_their_first_address_update_exactly(
    snapshots: list[frozenset[int]],
) -> None:
    strategy = ConsistentHash(vnodes=10)
    for ordinals in snapshots:
        # Odd ordinals gain an IPv4 address before their IPv6 one: the owner changes.
        eps = [pod(i, f"fd00::{i + 1}") for i in ordinals]
        eps += [pod(i) for i in ordinals if i % 2]
        res = Resolution.from_endpoints("cache", eps)
        strategy.prepare(res)
        same_mapping(strategy, res, vnodes=10)


def test_a_one_pod_change_hashes_only_that_pod(monkeypatch: pytest.MonkeyPatch) -> None:
    strategy = ConsistentHash()
    strategy.prepare(pods(*range(50)))
    hashed: list[str] = []
    real = _hashing.points_of

    def counting(identity: str, count: int) -> tuple[int, ...]:
        hashed.append(identity)
        return real(identity, count)

    monkeypatch.setattr(_hashing, "points_of", counting)
    smaller = pods(*range(1, 50))
    strategy.prepare(smaller)
    assert hashed == [pod(0).netloc(use_hostname=True)]
    strategy.pick(pods(*range(51)), "key")  # a list or new tuple: updated the same way
    assert hashed[1:] == [pod(0).netloc(use_hostname=True), pod(50).netloc(use_hostname=True)]


def test_a_pod_that_stays_keeps_its_endpoint_object() -> None:
    strategy = ConsistentHash(vnodes=8)
    first = pods(0, 1)
    strategy.prepare(first)
    second = pods(0, 1, 2)  # endpoints equal to first's for 0 and 1, but new objects
    strategy.prepare(second)
    ring_owners = {id(ep) for ep in strategy._snap[1][1]}
    assert ring_owners == {id(first[0]), id(first[1]), id(second[2])}


def test_a_full_build_in_slices_yields_and_gives_the_same_ring() -> None:
    res = pods(*range(60))
    strategy = ConsistentHash()
    slices = strategy.prepare_in_slices(res)
    assert strategy._snap[0] is not res  # nothing happens until it is iterated
    count = sum(1 for _ in slices)
    assert count > 5  # 60 pods x 160 points: several slices
    assert strategy._snap[0] is res
    same_mapping(strategy, res)
    assert list(strategy.prepare_in_slices(res)) == []  # already prepared: nothing to do


def test_prepare_in_slices_of_nothing_raises_when_iterated() -> None:
    slices = ConsistentHash().prepare_in_slices(())
    with pytest.raises(NoEndpointsError, match="no endpoints to pick from"):
        next(slices)


def test_many_changes_at_once_are_a_full_build(monkeypatch: pytest.MonkeyPatch) -> None:
    strategy = ConsistentHash()
    strategy.prepare(pods(*range(10)))
    builds: list[int] = []
    real = _hashing.build_ring

    def counting(layout: _hashing.Layout) -> Generator[None, None, _hashing.Ring]:
        builds.append(len(layout))
        return real(layout)

    monkeypatch.setattr(_hashing, "build_ring", counting)
    strategy.prepare(pods(*range(11)))  # 160 points move: an update
    assert builds == []
    strategy.prepare(pods(*range(100, 140)))  # 40 pods out, 40 in: a build
    assert builds == [40]
    same_mapping(strategy, pods(*range(100, 140)))


def test_one_vnode_per_pod_is_the_documented_ring_with_one_point_each() -> None:
    res = pods(*range(7))
    strategy = ConsistentHash(vnodes=1)
    assert {key: strategy.pick(res, key).address for key in KEYS[:2000]} == documented_ring(
        res, vnodes=1
    )
    # A weight that rounds to no point still gets one: at least one point per pod.
    light = ConsistentHash(vnodes=1, weights={ep.address: 0.4 for ep in res})
    assert {key: light.pick(res, key).address for key in KEYS[:2000]} == documented_ring(
        res, vnodes=1
    )
