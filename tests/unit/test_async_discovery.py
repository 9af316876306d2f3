"""AsyncDiscovery's state machine: the mirror of tests/unit/test_discovery.py."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time

import pytest

from headless_discovery import (
    AddressAnswer,
    AsyncDiscovery,
    ConfigurationError,
    DiscoveryError,
    Endpoint,
    Family,
    LeastOutstanding,
    NoEndpointsError,
    OutlierEjection,
    RefreshPolicy,
    ResolverTimeoutError,
    ResolverUnavailableError,
    RoundRobin,
    StaleEndpointsError,
    WaitTimeoutError,
)
from tests.support.resolvers import FakeClock, ScriptedResolver

QUIET = RefreshPolicy(min_interval=60, max_interval=60, backoff_base=60, backoff_max=60)
NAME = "api.shop.svc.cluster.local"


def run(coro: object) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


async def open_pods(resolver: ScriptedResolver, **kwargs: object) -> AsyncDiscovery:
    return await AsyncDiscovery(NAME, port=80, resolver=resolver, **kwargs).start()  # type: ignore[arg-type]


def test_enter_resolves_and_picks_need_no_io() -> None:
    async def main() -> None:
        resolver = ScriptedResolver(["10.0.0.1", "10.0.0.2"])
        async with AsyncDiscovery(NAME, port=80, resolver=resolver, refresh=QUIET) as pods:
            lookups = resolver.lookups
            assert {pods.pick() for _ in range(10)} == set(pods.endpoints)
            assert resolver.lookups == lookups

    run(main())


def test_subscribers_see_exactly_what_changed() -> None:
    async def main() -> None:
        resolver = ScriptedResolver(["10.0.0.1", "10.0.0.2"])
        pods = await open_pods(resolver, refresh=QUIET)
        seen: list[tuple[list[str], list[str]]] = []
        pods.subscribe(
            lambda a, r, s: seen.append(([e.address for e in a], [e.address for e in r]))
        )
        resolver.addresses = ["10.0.0.2", "10.0.0.3"]
        await pods.refresh()
        await pods.refresh()
        assert seen == [(["10.0.0.3"], ["10.0.0.1"])]
        await pods.close()

    run(main())


def test_nxdomain_after_a_good_answer_is_an_empty_set() -> None:
    async def main() -> None:
        resolver = ScriptedResolver(["10.0.0.1"])
        pods = await open_pods(resolver, refresh=QUIET)
        resolver.addresses = None
        assert len(await pods.refresh()) == 0
        with pytest.raises(NoEndpointsError, match="there are no endpoints to pick from"):
            pods.pick()
        await pods.close()

    run(main())


def test_failures_serve_stale_then_fail_after_max_stale() -> None:
    async def main() -> None:
        clock = FakeClock()
        resolver = ScriptedResolver(["10.0.0.1"])
        policy = RefreshPolicy(min_interval=60, max_interval=60, backoff_base=60, max_stale=100)
        pods = await open_pods(resolver, refresh=policy, clock=clock, stale_policy="fail")
        resolver.fail = True
        clock.advance(50)
        with pytest.raises(DiscoveryError, match=r"^scripted timeout$"):
            await pods.refresh()
        assert pods.pick().address == "10.0.0.1"
        clock.advance(51)
        with pytest.raises(DiscoveryError, match=r"^scripted timeout$"):
            await pods.refresh()
        with pytest.raises(StaleEndpointsError, match=r"are 101 s old, past max_stale \(100 s\)"):
            pods.pick()
        resolver.fail = False
        await pods.refresh()
        assert pods.pick().address == "10.0.0.1"
        await pods.close()

    run(main())


def test_wait_for_succeeds_when_pods_arrive_late() -> None:
    async def main() -> None:
        resolver = ScriptedResolver(None)
        pods = AsyncDiscovery(NAME, resolver=resolver, refresh=QUIET)
        loop = asyncio.get_running_loop()
        loop.call_later(0.3, lambda: setattr(resolver, "addresses", ["1.1.1.1", "2.2.2.2"]))
        started = time.monotonic()
        assert len(await pods.wait_for(2, timeout=10)) == 2
        assert time.monotonic() - started < 5
        await pods.close()

    run(main())


def test_wait_for_timeout_says_what_it_saw_and_what_to_check() -> None:
    async def main() -> None:
        async with AsyncDiscovery(NAME, resolver=ScriptedResolver(None), refresh=QUIET) as pods:
            with pytest.raises(WaitTimeoutError, match="have 0 of 3 endpoints") as info:
                await pods.wait_for(3, timeout=0.5)
            assert "publishNotReadyAddresses" in str(info.value)

    run(main())


def test_close_is_idempotent_and_cancels_the_task() -> None:
    async def main() -> None:
        pods = await open_pods(ScriptedResolver(["10.0.0.1"]), refresh=QUIET)
        task = pods._task
        assert task is not None
        assert not task.done()
        await pods.close()
        await pods.close()
        assert task.done()
        with pytest.raises(DiscoveryError, match="closed"):
            pods.pick()

    run(main())


def test_background_refresh_follows_the_ttl() -> None:
    async def main() -> None:
        resolver = ScriptedResolver(["10.0.0.1"], ttl=0)
        fast = RefreshPolicy(min_interval=0.05, max_interval=0.1, jitter=0.0)
        async with AsyncDiscovery(NAME, resolver=resolver, refresh=fast) as pods:
            resolver.addresses = ["10.9.9.9"]
            for _ in range(500):
                if pods.endpoints[0].address == "10.9.9.9":
                    break
                await asyncio.sleep(0.01)
            assert pods.pick() == Endpoint("10.9.9.9")

    run(main())


def test_empty_is_error_keeps_the_last_endpoints() -> None:
    async def main() -> None:
        resolver = ScriptedResolver(["10.0.0.1", "10.0.0.2"])
        pods = await open_pods(resolver, refresh=QUIET, empty_is_error=True)
        resolver.addresses = None
        with pytest.raises(NoEndpointsError, match=r"^scripted NXDOMAIN$"):
            await pods.refresh()
        assert len(pods.endpoints) == 2
        await pods.close()

    run(main())


def test_pick_before_start_is_a_clear_error() -> None:
    pods = AsyncDiscovery(NAME, resolver=ScriptedResolver(["10.0.0.1"]))
    with pytest.raises(DiscoveryError, match="not started"):
        pods.pick()


def test_plain_dns_names_and_the_mongo_uri_of_the_snapshot() -> None:
    async def main() -> None:
        resolver = ScriptedResolver(["192.0.2.1", "192.0.2.2"])
        async with AsyncDiscovery(
            dns_name="db.example.com", port=27017, resolver=resolver, refresh=QUIET
        ) as pods:
            assert pods.name == "db.example.com."
            assert pods.mongo_uri(replica_set="rs0") == (
                "mongodb://192.0.2.1:27017,192.0.2.2:27017/?replicaSet=rs0"
            )

    run(main())


def test_acquire_and_reports_reach_the_strategy() -> None:
    async def main() -> None:
        strategy = LeastOutstanding(random.Random(1))
        resolver = ScriptedResolver(["10.0.0.1", "10.0.0.2"])
        async with AsyncDiscovery(
            NAME, resolver=resolver, refresh=QUIET, strategy=strategy
        ) as pods:
            with pods.acquire() as first:
                assert strategy.in_flight(first) == 1
            assert strategy.in_flight(first) == 0

    run(main())


class BrokenResolver(ScriptedResolver):
    async def aresolve_addresses(self, name: str, *, family: Family = "any") -> AddressAnswer:
        if self.fail:
            raise OSError("socket exploded")
        return await super().aresolve_addresses(name, family=family)


def test_a_resolver_raising_a_foreign_exception_is_a_failed_lookup() -> None:
    async def main() -> None:
        resolver = BrokenResolver(["10.0.0.1"])
        fast = RefreshPolicy(min_interval=0.05, max_interval=0.05, backoff_base=0.05)
        async with AsyncDiscovery(NAME, resolver=resolver, refresh=fast) as pods:
            resolver.fail = True
            for _ in range(500):
                if pods.last_error is not None:
                    break
                await asyncio.sleep(0.01)
            assert isinstance(pods.last_error, ResolverUnavailableError)
            assert pods.pick().address == "10.0.0.1"
            resolver.fail = False
            resolver.addresses = ["10.0.0.7"]
            for _ in range(500):
                if pods.endpoints[0].address == "10.0.0.7":
                    break
                await asyncio.sleep(0.01)
            assert pods.endpoints[0].address == "10.0.0.7"

    run(main())


def test_close_during_the_first_lookup_leaves_no_task() -> None:
    async def main() -> None:
        gate = asyncio.Event()

        class Gated(ScriptedResolver):
            async def aresolve_addresses(
                self, name: str, *, family: Family = "any"
            ) -> AddressAnswer:
                await gate.wait()
                return await super().aresolve_addresses(name, family=family)

        pods = AsyncDiscovery(NAME, resolver=Gated(["10.0.0.1"]))
        starting = asyncio.create_task(pods.start())
        await asyncio.sleep(0.05)
        await pods.close()
        gate.set()
        await starting
        assert pods._task is None

    run(main())


def test_arguments_are_checked_when_constructed() -> None:
    resolver = ScriptedResolver(["10.0.0.1"])
    with pytest.raises(ConfigurationError, match="family"):
        AsyncDiscovery(NAME, resolver=resolver, family="v4")  # type: ignore[typeddict-item]
    with pytest.raises(ConfigurationError, match="either"):
        AsyncDiscovery(resolver=resolver)


def test_close_ends_a_wait_at_once() -> None:
    # The wait between two lookups is cut short by close(), as in the threaded twin: the
    # waiting task is done after a turn or two of the loop, not when its backoff ends.
    async def main() -> None:
        resolver = ScriptedResolver([])
        pods = await open_pods(resolver, refresh=QUIET)
        waiting = asyncio.create_task(pods.wait_for(1, timeout=30))
        await asyncio.sleep(0.35)  # the waiter is in its 0.4 s backoff now
        await pods.close()
        for _ in range(3):
            await asyncio.sleep(0)
        assert waiting.done()
        with pytest.raises(DiscoveryError, match="is closed"):
            await waiting

    run(main())


def test_stats_are_a_frozen_snapshot_of_the_refreshes() -> None:
    async def main() -> None:
        clock = FakeClock()
        resolver = ScriptedResolver(["10.0.0.1", "10.0.0.2"])
        strategy = OutlierEjection(RoundRobin(), consecutive_failures=1, clock=clock)
        pods = await open_pods(resolver, refresh=QUIET, clock=clock, strategy=strategy)
        bad = pods.endpoints[0]
        pods.report_failure(bad)
        resolver.fail = True
        clock.advance(7)
        with pytest.raises(ResolverTimeoutError, match="scripted timeout"):
            await pods.refresh()
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
        await pods.refresh()
        after = pods.stats()
        assert (after.refreshes_unchanged, after.staleness, after.last_error) == (1, 0.0, None)
        assert stats.refreshes_unchanged == 0  # the earlier snapshot is untouched
        await pods.close()

    run(main())
