"""Discovery's state machine, driven by a scripted resolver and a fake clock.

Real DNS changes (RFC 2136 updates to BIND) are in tests/integration/test_discovery_bind.py;
tests/unit/test_async_discovery.py mirrors this file for AsyncDiscovery.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from headless_discovery import (
    AddressAnswer,
    ConfigurationError,
    ConsistentHash,
    DiscoveryError,
    Endpoint,
    Family,
    InvalidNameError,
    LeastOutstanding,
    NoEndpointsError,
    OutlierEjection,
    RefreshPolicy,
    Resolution,
    ResolverTimeoutError,
    ResolverUnavailableError,
    RoundRobin,
    SrvAnswer,
    SrvRecord,
    StaleEndpointsError,
    Strategy,
    WaitTimeoutError,
    Weighted,
)
from headless_discovery.discovery import Discovery
from tests.support.resolvers import FakeClock, ScriptedResolver

# Background refreshes far apart, so these tests drive every lookup themselves.
QUIET = RefreshPolicy(min_interval=60, max_interval=60, backoff_base=60, backoff_max=60)
NAME = "api.shop.svc.cluster.local"
SVC_NAME = "api.shop"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def resolver() -> ScriptedResolver:
    return ScriptedResolver(["10.0.0.1", "10.0.0.2"])


@pytest.fixture
def pods(resolver: ScriptedResolver, clock: FakeClock) -> Iterator[Discovery]:
    with Discovery(NAME, port=80, resolver=resolver, refresh=QUIET, clock=clock) as d:
        yield d


def addresses(snapshot: Resolution) -> list[str]:
    return [ep.address for ep in snapshot]


def test_enter_resolves_and_picks_need_no_io(pods: Discovery, resolver: ScriptedResolver) -> None:
    assert addresses(pods.endpoints) == ["10.0.0.1", "10.0.0.2"]
    lookups = resolver.lookups
    picks = {pods.pick() for _ in range(10)}
    assert picks == set(pods.endpoints)
    assert resolver.lookups == lookups


def test_subscribers_see_exactly_what_changed(pods: Discovery, resolver: ScriptedResolver) -> None:
    seen: list[tuple[list[str], list[str], int]] = []
    pods.subscribe(
        lambda a, r, s: seen.append(([e.address for e in a], [e.address for e in r], len(s)))
    )
    resolver.addresses = ["10.0.0.2", "10.0.0.3"]
    pods.refresh()
    pods.refresh()  # same answer again: no event
    assert seen == [(["10.0.0.3"], ["10.0.0.1"], 2)]


def test_unchanged_answers_keep_the_same_snapshot_object(
    pods: Discovery, resolver: ScriptedResolver
) -> None:
    before = pods.endpoints
    resolver.addresses = ["10.0.0.2", "10.0.0.1"]  # shuffled, as cluster DNS does
    pods.refresh()
    assert pods.endpoints is before


def test_a_raising_subscriber_does_not_stop_the_others(
    pods: Discovery, resolver: ScriptedResolver, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[int] = []

    def bad(*_: object) -> None:
        raise RuntimeError("boom")

    pods.subscribe(bad)
    pods.subscribe(lambda *_: calls.append(1))
    resolver.addresses = ["10.0.0.9"]
    with caplog.at_level(logging.ERROR, logger="headless_discovery"):
        pods.refresh()
    assert calls == [1]
    assert "a subscriber" in caplog.text
    unsubscribe = pods.subscribe(lambda *_: calls.append(2))
    unsubscribe()
    resolver.addresses = ["10.0.0.8"]
    pods.refresh()
    assert calls == [1, 1]


def test_nxdomain_after_a_good_answer_is_an_empty_set(
    pods: Discovery, resolver: ScriptedResolver
) -> None:
    removed: list[int] = []
    pods.subscribe(lambda a, r, s: removed.append(len(r)))
    resolver.addresses = None
    assert len(pods.refresh()) == 0
    assert removed == [2]
    with pytest.raises(NoEndpointsError, match="no ready pods"):
        pods.pick()
    resolver.addresses = ["10.0.0.5"]
    pods.refresh()
    assert pods.pick().address == "10.0.0.5"


def test_empty_is_error_keeps_the_last_endpoints(resolver: ScriptedResolver) -> None:
    with Discovery(NAME, resolver=resolver, refresh=QUIET, empty_is_error=True) as pods:
        resolver.addresses = None
        with pytest.raises(NoEndpointsError, match=r"^scripted NXDOMAIN$"):
            pods.refresh()
        assert len(pods.endpoints) == 2
        assert pods.pick().address in ("10.0.0.1", "10.0.0.2")


def test_failures_serve_stale_then_fail_after_max_stale(
    resolver: ScriptedResolver, clock: FakeClock
) -> None:
    policy = RefreshPolicy(
        min_interval=60, max_interval=60, backoff_base=60, backoff_max=60, max_stale=100
    )
    with Discovery(
        NAME, resolver=resolver, refresh=policy, clock=clock, stale_policy="fail"
    ) as pods:
        resolver.fail = True
        clock.advance(50)
        with pytest.raises(DiscoveryError, match=r"^scripted timeout$"):
            pods.refresh()
        assert pods.pick().address in ("10.0.0.1", "10.0.0.2")  # serve-stale
        clock.advance(51)
        with pytest.raises(DiscoveryError, match=r"^scripted timeout$"):
            pods.refresh()
        with pytest.raises(StaleEndpointsError, match="past max_stale"):
            pods.pick()
        resolver.fail = False
        pods.refresh()
        assert pods.pick().address in ("10.0.0.1", "10.0.0.2")


def test_serve_policy_keeps_serving_with_a_warning(
    resolver: ScriptedResolver, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    policy = RefreshPolicy(min_interval=60, max_interval=60, backoff_base=60, max_stale=10)
    with Discovery(NAME, resolver=resolver, refresh=policy, clock=clock) as pods:
        resolver.fail = True
        clock.advance(11)
        with (
            caplog.at_level(logging.WARNING, logger="headless_discovery"),
            pytest.raises(DiscoveryError, match=r"^scripted timeout$"),
        ):
            pods.refresh()
        assert "past max_stale; still serving" in caplog.text
        assert pods.pick()


def test_first_lookup_failing_is_explained_by_pick(resolver: ScriptedResolver) -> None:
    resolver.fail = True
    with (
        Discovery(NAME, resolver=resolver, refresh=QUIET) as pods,
        pytest.raises(NoEndpointsError, match="scripted timeout"),
    ):
        pods.pick()


def test_wait_for_succeeds_when_pods_arrive_late(resolver: ScriptedResolver) -> None:
    resolver.addresses = None
    pods = Discovery(NAME, resolver=resolver, refresh=QUIET)
    timer = threading.Timer(0.3, lambda: setattr(resolver, "addresses", ["1.1.1.1", "2.2.2.2"]))
    timer.start()
    try:
        started = time.monotonic()
        snapshot = pods.wait_for(2, timeout=10)
        assert len(snapshot) == 2
        assert time.monotonic() - started < 5
    finally:
        timer.cancel()
        pods.close()


def test_wait_for_timeout_says_what_it_saw_and_what_to_check(resolver: ScriptedResolver) -> None:
    resolver.addresses = None
    with (
        Discovery(NAME, resolver=resolver, refresh=QUIET) as pods,
        pytest.raises(
            WaitTimeoutError, match=r"^gave up after 0\.5 s waiting for 3 endpoints"
        ) as info,
    ):
        pods.wait_for(3, timeout=0.5)
    message = str(info.value)
    assert "have 0 of 3 endpoints" in message
    assert "scripted NXDOMAIN" in message
    assert "publishNotReadyAddresses" in message
    assert "kubectl get svc" in message
    assert isinstance(info.value, TimeoutError)
    assert (info.value.wanted, info.value.seen) == (3, 0)


def test_close_is_idempotent_and_stops_the_thread(resolver: ScriptedResolver) -> None:
    pods = Discovery(NAME, resolver=resolver, refresh=QUIET).start()
    thread = pods._thread
    assert thread is not None
    assert thread.is_alive()
    pods.close()
    pods.close()
    assert not thread.is_alive()
    with pytest.raises(DiscoveryError, match="closed"):
        pods.pick()
    with pytest.raises(DiscoveryError, match="closed"):
        pods.start()


def test_pick_before_start_is_a_clear_error(resolver: ScriptedResolver) -> None:
    pods = Discovery(NAME, resolver=resolver)
    with pytest.raises(DiscoveryError, match="not started"):
        pods.pick()


def test_dropping_an_unclosed_discovery_ends_its_thread(resolver: ScriptedResolver) -> None:
    import gc

    pods = Discovery(NAME, resolver=resolver, refresh=QUIET).start()
    thread = pods._thread
    assert thread is not None
    del pods
    gc.collect()
    thread.join(5)
    assert not thread.is_alive()


def test_background_refresh_follows_the_ttl(resolver: ScriptedResolver) -> None:
    fast = RefreshPolicy(min_interval=0.05, max_interval=0.1, jitter=0.0)
    resolver.ttl = 0
    with Discovery(NAME, resolver=resolver, refresh=fast) as pods:
        resolver.addresses = ["10.9.9.9"]
        deadline = time.monotonic() + 5
        while pods.endpoints and pods.endpoints[0].address != "10.9.9.9":
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert pods.pick() == Endpoint("10.9.9.9")


def test_plain_dns_names_outside_kubernetes() -> None:
    resolver = ScriptedResolver(["192.0.2.1"])
    with Discovery(dns_name="api.example.com", port=443, resolver=resolver, refresh=QUIET) as d:
        assert d.name == "api.example.com."
        assert d.pick().netloc() == "192.0.2.1:443"


def test_mongo_uri_of_the_current_snapshot(pods: Discovery) -> None:
    assert pods.mongo_uri(replica_set="rs0") == (
        "mongodb://10.0.0.1:80,10.0.0.2:80/?replicaSet=rs0"
    )


def test_eight_threads_pick_while_snapshots_are_replaced(
    pods: Discovery, resolver: ScriptedResolver
) -> None:
    errors: list[BaseException] = []
    picks = [0] * 8
    stop = threading.Event()
    valid = {f"10.0.{i}.{j}" for i in range(50) for j in (1, 2, 3)}

    def picker(slot: int) -> None:
        try:
            while not stop.is_set():
                snapshot = pods.endpoints
                # A snapshot is always one whole answer: three pods of one generation.
                assert len({ep.address.split(".")[2] for ep in snapshot}) == 1
                assert pods.pick().address in valid
                picks[slot] += 1
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=picker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for generation in range(50):
        resolver.addresses = [f"10.0.{generation}.{j}" for j in (1, 2, 3)]
        pods.refresh()
    stop.set()
    for t in threads:
        t.join()
    assert errors == []
    assert all(n > 0 for n in picks)


def test_acquire_counts_in_flight_requests_for_the_strategy(resolver: ScriptedResolver) -> None:
    strategy = LeastOutstanding(random.Random(1))
    with Discovery(NAME, resolver=resolver, refresh=QUIET, strategy=strategy) as pods:
        with pods.acquire() as first:
            assert strategy.in_flight(first) == 1
            with pods.acquire() as second:
                # Power of two choices over two pods: the idle one is taken.
                assert second != first
        assert strategy.in_flight(first) == 0
        with pytest.raises(RuntimeError, match="request failed"), pods.acquire() as ep:
            raise RuntimeError("request failed")
        assert strategy.in_flight(ep) == 0


def test_reports_reach_an_outlier_ejecting_strategy(
    resolver: ScriptedResolver, clock: FakeClock
) -> None:
    strategy = OutlierEjection(RoundRobin(), consecutive_failures=2, clock=clock)
    with Discovery(NAME, resolver=resolver, refresh=QUIET, strategy=strategy) as pods:
        bad = pods.endpoints[0]
        pods.report_failure(bad)
        pods.report_failure(bad)
        assert bad not in {pods.pick() for _ in range(6)}
        pods.report_success(pods.endpoints[1])


FORK_SCRIPT = """
import os, sys, threading
from headless_discovery import Discovery, RefreshPolicy, StaticResolver
resolver = StaticResolver({"api.shop.svc.cluster.local": ["10.0.0.1", "10.0.0.2"]})
fast = RefreshPolicy(min_interval=0.05, max_interval=0.05)
pods = Discovery("api.shop.svc.cluster.local", resolver=resolver, refresh=fast).start()
pid = os.fork()
if pid == 0:
    # The child: picks work, and a refresher thread of its own runs (the parent's is gone).
    ok = pods.pick().address in ("10.0.0.1", "10.0.0.2")
    alive = pods._thread is not None and pods._thread.is_alive()
    pods.refresh()
    pods.close()
    os._exit(0 if ok and alive else 3)
_, status = os.waitpid(pid, 0)
pods.close()
print(os.waitstatus_to_exitcode(status))
"""


def test_a_forked_child_gets_its_own_refresher() -> None:
    result = subprocess.run(
        [sys.executable, "-c", FORK_SCRIPT],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0"


def test_a_weight_change_alone_replaces_the_snapshot_but_is_no_event() -> None:
    def srv(weight: int, *names: str) -> SrvAnswer:
        return SrvAnswer(
            "_http._tcp.api.",
            tuple(
                SrvRecord(f"{n}.api.shop.svc.cluster.local", 80, 0, weight, (ip,))
                for n, ip in names
            ),
            5.0,
        )

    class SrvScript:
        answer = srv(50, ("api-0", "10.0.0.1"), ("api-1", "10.0.0.2"))

        def resolve_addresses(self, name: str, *, family: Family = "any") -> AddressAnswer:
            raise NotImplementedError

        def resolve_srv(self, name: str, *, family: Family = "any") -> SrvAnswer:
            return self.answer

    script = SrvScript()
    events: list[tuple[int, int]] = []
    with Discovery(SVC_NAME, srv="http", resolver=script, refresh=QUIET) as pods:
        pods.subscribe(lambda a, r, s: events.append((len(a), len(r))))
        script.answer = srv(33, ("api-0", "10.0.0.1"), ("api-1", "10.0.0.2"), ("api-2", "10.0.0.3"))
        pods.refresh()
        script.answer = srv(50, ("api-0", "10.0.0.1"), ("api-1", "10.0.0.2"))
        pods.refresh()
        script.answer = srv(10, ("api-0", "10.0.0.1"), ("api-1", "10.0.0.2"))
        pods.refresh()
        assert pods.endpoints[0].weight == 10
    assert events == [(1, 0), (0, 1)]


class GatedResolver(ScriptedResolver):
    """Blocks its first lookup until ``release`` is set; later lookups answer at once."""

    def __init__(self, addresses: list[str]) -> None:
        super().__init__(addresses)
        self.entered = threading.Event()
        self.release = threading.Event()
        self.first = True
        self.first_answer = list(addresses)

    def resolve_addresses(self, name: str, *, family: Family = "any") -> AddressAnswer:
        if self.first:
            self.first = False
            self.entered.set()
            self.release.wait(10)
            return AddressAnswer(name, tuple(self.first_answer), 5.0)
        return super().resolve_addresses(name, family=family)


def test_close_during_the_first_lookup_leaves_no_thread() -> None:
    resolver = GatedResolver(["10.0.0.1"])
    fast = RefreshPolicy(min_interval=0.05, max_interval=0.05)
    pods = Discovery(NAME, resolver=resolver, refresh=fast)
    starter = threading.Thread(target=pods.start)
    starter.start()
    assert resolver.entered.wait(5)
    pods.close()
    resolver.release.set()
    starter.join(5)
    lookups = resolver.lookups
    time.sleep(0.3)
    assert pods._thread is None
    assert resolver.lookups == lookups  # nothing keeps looking up after close()


def test_an_older_lookup_finishing_last_does_not_overwrite_a_newer_one() -> None:
    resolver = GatedResolver(["10.0.0.1"])
    pods = Discovery(NAME, resolver=resolver, refresh=QUIET)
    pods._started = True  # drive lookups by hand: no refresher thread here
    pods._failure = None
    slow = threading.Thread(target=pods.refresh)
    slow.start()
    assert resolver.entered.wait(5)
    resolver.addresses = ["10.0.0.2"]
    pods.refresh()  # began later, finished first
    resolver.release.set()
    slow.join(5)
    assert [ep.address for ep in pods.endpoints] == ["10.0.0.2"]
    pods.close()


class BrokenResolver(ScriptedResolver):
    def resolve_addresses(self, name: str, *, family: Family = "any") -> AddressAnswer:
        if self.fail:
            raise OSError("socket exploded")
        return super().resolve_addresses(name, family=family)


def test_a_resolver_raising_a_foreign_exception_is_a_failed_lookup() -> None:
    resolver = BrokenResolver(["10.0.0.1"])
    fast = RefreshPolicy(min_interval=0.05, max_interval=0.05, backoff_base=0.05)
    with Discovery(NAME, resolver=resolver, refresh=fast) as pods:
        resolver.fail = True
        deadline = time.monotonic() + 5
        while pods.last_error is None:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert isinstance(pods.last_error, ResolverUnavailableError)
        assert "OSError: socket exploded" in str(pods.last_error)
        assert pods.pick().address == "10.0.0.1"  # serve-stale
        resolver.fail = False
        resolver.addresses = ["10.0.0.7"]
        while pods.endpoints[0].address != "10.0.0.7":  # the refresher survived
            assert time.monotonic() < deadline
            time.sleep(0.01)


def test_arguments_are_checked_when_constructed(resolver: ScriptedResolver) -> None:
    with pytest.raises(ConfigurationError, match="family"):
        Discovery(NAME, resolver=resolver, family="v4")  # type: ignore[typeddict-item]
    with pytest.raises(ConfigurationError, match="stale_policy"):
        Discovery(NAME, resolver=resolver, stale_policy="ignore")  # type: ignore[typeddict-item]
    with pytest.raises(ConfigurationError, match="either"):
        Discovery(resolver=resolver)
    with pytest.raises(InvalidNameError, match="the DNS name must be a non-empty string"):
        Discovery(dns_name=".", resolver=resolver)


@pytest.mark.parametrize(
    "strategy",
    [ConsistentHash(), Weighted(random.Random(1)), OutlierEjection(ConsistentHash())],
    ids=["consistent_hash", "weighted", "outlier(consistent_hash)"],
)
def test_the_strategy_prepares_each_new_snapshot_on_the_refresher(
    resolver: ScriptedResolver, strategy: Strategy
) -> None:
    inner = strategy.inner if isinstance(strategy, OutlierEjection) else strategy
    with Discovery(NAME, resolver=resolver, refresh=QUIET, strategy=strategy) as pods:
        # Built before any pick: the first request after a change does not pay for it.
        assert inner._snap[0] is pods.endpoints.endpoints  # type: ignore[attr-defined]
        resolver.addresses = ["10.0.0.3", "10.0.0.4", "10.0.0.5"]
        pods.refresh()
        assert inner._snap[0] is pods.endpoints.endpoints  # type: ignore[attr-defined]


def test_stats_are_a_frozen_snapshot_of_the_refreshes(
    resolver: ScriptedResolver, clock: FakeClock
) -> None:
    strategy = OutlierEjection(RoundRobin(), consecutive_failures=1, clock=clock)
    with Discovery(
        NAME, port=80, resolver=resolver, refresh=QUIET, clock=clock, strategy=strategy
    ) as pods:
        bad = pods.endpoints[0]
        pods.report_failure(bad)
        resolver.fail = True
        clock.advance(7)
        with pytest.raises(ResolverTimeoutError, match="scripted timeout"):
            pods.refresh()
        clock.advance(3)
        stats = pods.stats()
        assert (stats.name, stats.endpoints, stats.refreshes_changed) == (NAME + ".", 2, 1)
        assert (stats.refreshes_failed, stats.failures, stats.age, stats.staleness) == (
            1,
            1,
            10.0,
            10.0,
        )
        assert isinstance(stats.last_error, ResolverTimeoutError)
        assert stats.ejected == frozenset({bad})
        with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign"):
            stats.endpoints = 3  # type: ignore[misc]
        resolver.fail = False
        pods.refresh()
        after = pods.stats()
        assert (after.refreshes_unchanged, after.staleness, after.last_error) == (1, 0.0, None)
        assert stats.refreshes_unchanged == 0  # the earlier snapshot is untouched


def test_stats_of_other_strategies_eject_nothing(pods: Discovery) -> None:
    assert pods.stats().ejected == frozenset()
