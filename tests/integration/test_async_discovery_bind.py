"""AsyncDiscovery following a real BIND 9: the mirror of test_discovery_bind.py."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator

import pytest

from headless_discovery import (
    AsyncDiscovery,
    AsyncDnsResolver,
    Endpoint,
    RefreshPolicy,
    ServiceName,
    StaleEndpointsError,
    WaitTimeoutError,
)
from tests.harness.bind import BindServer
from tests.harness.cluster import Cluster, Service
from tests.harness.requirements import require_named

pytestmark = pytest.mark.dns

TTL = 2
SVC = ServiceName("api", "shop", "cluster.local")


@pytest.fixture
def shop() -> tuple[Cluster, Service]:
    model = Cluster(ttl=TTL)
    api = model.statefulset("api", "shop", 3, ports={"http": 8080})
    return model, api


@pytest.fixture
def server(shop: tuple[Cluster, Service]) -> Iterator[BindServer]:
    require_named()
    with BindServer(shop[0]) as bind:
        yield bind


def resolver(bind: BindServer) -> AsyncDnsResolver:
    return AsyncDnsResolver([bind.nameserver], bind.port, timeout=0.3, lifetime=0.6)


async def wait_until(condition: Callable[[], bool], timeout: float) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout} s")
        await asyncio.sleep(0.02)
    return time.monotonic() - started


def test_a_new_pod_is_picked_within_ttl_plus_one_second(
    server: BindServer, shop: tuple[Cluster, Service]
) -> None:
    cluster, api = shop

    async def main() -> None:
        events: list[tuple[tuple[Endpoint, ...], tuple[Endpoint, ...]]] = []
        async with AsyncDiscovery(SVC, port=8080, family="ipv4", resolver=resolver(server)) as pods:
            pods.subscribe(lambda added, removed, _: events.append((added, removed)))
            cluster.scale(api, 4)
            new_ip = str(api.pods[3].ipv4)
            server.sync()
            await wait_until(lambda: len(pods.endpoints) == 4, TTL + 1)
            assert new_ip in {pods.pick().address for _ in range(8)}
            assert events == [((Endpoint(new_ip, 8080),), ())]

    asyncio.run(main())


def test_bind_down_serves_stale_then_fails_then_recovers(server: BindServer) -> None:
    async def main() -> None:
        policy = RefreshPolicy(
            min_interval=0.2, max_interval=0.5, backoff_base=0.1, backoff_max=0.3, max_stale=1.5
        )
        async with AsyncDiscovery(
            SVC, port=8080, resolver=resolver(server), refresh=policy, stale_policy="fail"
        ) as pods:
            before = set(pods.endpoints)
            server.stop()
            await asyncio.sleep(0.8)
            assert pods.pick() in before

            def failing() -> bool:
                try:
                    pods.pick()
                except StaleEndpointsError:
                    return True
                return False

            await wait_until(failing, 4)
            server.restart()
            await wait_until(lambda: not failing(), 5)
            assert set(pods.endpoints) == before

    asyncio.run(main())


def test_wait_for_succeeds_when_pods_arrive_late(
    server: BindServer, shop: tuple[Cluster, Service]
) -> None:
    cluster, api = shop
    cluster.scale(api, 0)
    server.sync()

    async def main() -> None:
        def scale_up() -> None:
            cluster.scale(api, 3)
            server.sync()

        asyncio.get_running_loop().call_later(0.5, scale_up)
        async with AsyncDiscovery(SVC, port=8080, resolver=resolver(server)) as pods:
            assert len(await pods.wait_for(3, timeout=15)) >= 3

    asyncio.run(main())


def test_wait_for_fails_with_the_documented_message(server: BindServer) -> None:
    async def main() -> None:
        async with AsyncDiscovery(
            "nosuch.shop.svc.cluster.local", resolver=resolver(server)
        ) as pods:
            with pytest.raises(WaitTimeoutError, match="have 0 of 1 endpoints"):
                await pods.wait_for(1, timeout=1)

    asyncio.run(main())
