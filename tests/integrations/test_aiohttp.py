"""DiscoveryResolver: aiohttp over real pods found through a real BIND 9. aiohttp picks a
pod per new connection, so most tests close connections after each request."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable

import aiohttp
import pytest

from headless_discovery import (
    AsyncDiscovery,
    AsyncDnsResolver,
    ConfigurationError,
    DiscoveryError,
    NoEndpointsError,
    StaticResolver,
)
from headless_discovery.integrations.aiohttp import DiscoveryResolver
from tests.harness.bind import BindServer
from tests.harness.cluster import Cluster, Service
from tests.integrations.conftest import API, EMPTY, SEEN_WITHIN
from tests.integrations.pods import PodServers

pytestmark = pytest.mark.dns


async def wait_until(condition: Callable[[], bool], timeout: float) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout} s")
        await asyncio.sleep(0.01)
    return time.monotonic() - started


def session(discovery: AsyncDiscovery, **connector: object) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(
            resolver=DiscoveryResolver(discovery),
            use_dns_cache=False,
            **connector,  # type: ignore[arg-type]
        )
    )


def test_round_robin_spreads_300_connections_evenly(
    pods: PodServers, aresolver: AsyncDnsResolver
) -> None:
    async def main() -> None:
        async with (
            AsyncDiscovery(API, port=pods.port, family="ipv4", resolver=aresolver) as discovery,
            session(discovery, force_close=True) as client,
        ):
            for _ in range(300):
                async with client.get(f"http://api.shop:{pods.port}/") as response:
                    assert response.status == 200

    asyncio.run(main())
    counts = pods.count()
    assert len(counts) == 3
    for served in counts.values():
        assert abs(served - 100) <= 3


def test_a_kept_alive_connection_stays_on_its_pod(
    pods: PodServers, aresolver: AsyncDnsResolver
) -> None:
    # The caveat of the page: the choice is per new connection, not per request.
    async def main() -> None:
        async with (
            AsyncDiscovery(API, port=pods.port, family="ipv4", resolver=aresolver) as discovery,
            session(discovery) as client,
        ):
            for _ in range(10):
                async with client.get(f"http://api.shop:{pods.port}/") as response:
                    await response.read()

    asyncio.run(main())
    assert sorted(pods.count().values()) == [0, 0, 10]


def test_tls_verifies_the_service_certificate_and_sends_the_name_as_sni(
    tls_pods: PodServers, aresolver: AsyncDnsResolver, trust: ssl.SSLContext
) -> None:
    async def main() -> None:
        async with (
            AsyncDiscovery(API, port=tls_pods.port, family="ipv4", resolver=aresolver) as d,
            session(d, force_close=True, ssl=trust) as client,
        ):
            for _ in range(3):
                url = f"https://api.shop.svc.cluster.local:{tls_pods.port}/"
                async with client.get(url) as response:
                    assert response.status == 200

    asyncio.run(main())
    assert {seen.sni for seen in tls_pods.seen} == {"api.shop.svc.cluster.local"}
    assert {seen.host for seen in tls_pods.seen} == {f"api.shop.svc.cluster.local:{tls_pods.port}"}
    assert all(served == 1 for served in tls_pods.count().values())


def test_other_hosts_pass_through_to_aiohttps_resolver(
    pods: PodServers, aresolver: AsyncDnsResolver
) -> None:
    async def main(port: int) -> None:
        async with (
            AsyncDiscovery(API, port=pods.port, family="ipv4", resolver=aresolver) as discovery,
            session(discovery) as client,
            client.get(f"http://localhost:{port}/x") as response,
        ):
            assert response.status == 200

    with PodServers().start("127.0.0.1") as elsewhere:
        asyncio.run(main(elsewhere.port))
        (seen,) = elsewhere.seen
        assert seen.host == f"localhost:{elsewhere.port}"
    assert pods.seen == []


def test_a_scale_up_is_reached_by_new_connections(
    pods: PodServers,
    aresolver: AsyncDnsResolver,
    bind: BindServer,
    shop: tuple[Cluster, Service],
) -> None:
    cluster, api = shop
    errors: list[BaseException] = []

    async def main() -> None:
        async with (
            AsyncDiscovery(API, port=pods.port, family="ipv4", resolver=aresolver) as discovery,
            session(discovery, force_close=True) as client,
        ):
            stop = asyncio.Event()

            async def load() -> None:
                while not stop.is_set():
                    try:
                        async with client.get(f"http://api.shop:{pods.port}/") as response:
                            await response.read()
                    except Exception as exc:
                        errors.append(exc)
                    await asyncio.sleep(0.005)

            worker = asyncio.create_task(load())
            try:
                await wait_until(lambda: len(pods.seen) >= 10, 5)
                cluster.scale(api, 4)
                new = str(api.pods[3].ipv4)
                pods.start(new)
                bind.sync()
                took = await wait_until(lambda: pods.count().get(new, 0) > 0, SEEN_WITHIN)
                assert took <= SEEN_WITHIN
            finally:
                stop.set()
                await worker

    asyncio.run(main())
    assert errors == []


# The fallback pod is raced (the default) or tried after the first refuses (no race).
@pytest.mark.parametrize("race", [0.25, None], ids=["happy-eyeballs", "one-after-the-other"])
def test_a_pod_with_nothing_listening_loses_no_request(
    pods: PodServers,
    aresolver: AsyncDnsResolver,
    bind: BindServer,
    shop: tuple[Cluster, Service],
    race: float | None,
) -> None:
    cluster, api = shop
    cluster.scale(api, 4)
    bind.sync()

    async def main() -> None:
        async with (
            AsyncDiscovery(API, port=pods.port, family="ipv4", resolver=aresolver) as discovery,
            session(discovery, force_close=True, happy_eyeballs_delay=race) as client,
        ):
            assert len(discovery.endpoints) == 4
            for _ in range(40):
                async with client.post(f"http://api.shop:{pods.port}/", data=b"x") as response:
                    assert response.status == 200

    asyncio.run(main())
    assert len(pods.seen) == 40


def test_no_ready_pod_raises_client_connector_error_caused_by_discovery(
    aresolver: AsyncDnsResolver, bind: BindServer
) -> None:
    async def main() -> None:
        async with (
            AsyncDiscovery(EMPTY, port=80, family="ipv4", resolver=aresolver) as discovery,
            session(discovery) as client,
        ):
            await client.get("http://empty.shop/")

    with pytest.raises(
        aiohttp.ClientConnectorError, match=r"no pod to connect to.*NXDOMAIN"
    ) as raised:
        asyncio.run(main())
    cause = raised.value.__cause__
    assert isinstance(cause, DiscoveryError)
    assert isinstance(cause, OSError)
    assert isinstance(cause.__cause__, NoEndpointsError)


@pytest.mark.parametrize("fallbacks", [0, 1, 2, 5])
def test_the_answer_holds_the_picked_pod_then_the_fallbacks(fallbacks: int) -> None:
    pods = ["10.9.0.1", "10.9.0.2", "10.9.0.3", "10.9.0.4"]
    static = StaticResolver({API.fqdn: pods})

    async def main() -> list[list[str]]:
        async with AsyncDiscovery(API, port=80, resolver=static, strategy="round_robin") as d:
            resolver = DiscoveryResolver(d, fallbacks=fallbacks)
            answers = [await resolver.resolve("api.shop", 80) for _ in range(4)]
            await resolver.close()
        return [[r["host"] for r in answer] for answer in answers]

    answers = asyncio.run(main())
    firsts = [answer[0] for answer in answers]
    assert sorted(firsts) == pods  # round robin over the four
    for answer in answers:
        start = pods.index(answer[0])
        expected = [pods[(start + step) % 4] for step in range(min(fallbacks, 3) + 1)]
        assert answer == expected


@pytest.mark.parametrize("fallbacks", [-1, 11, 1.0, True, None])
def test_fallbacks_out_of_range_are_refused(fallbacks: object) -> None:
    static = StaticResolver({API.fqdn: ["10.9.0.1"]})
    discovery = AsyncDiscovery(API, port=80, resolver=static)
    with pytest.raises(ConfigurationError, match=r"^fallbacks must be an integer from 0 to 10"):
        DiscoveryResolver(discovery, fallbacks=fallbacks)  # type: ignore[arg-type]
