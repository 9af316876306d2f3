"""AsyncDiscoveryTransport: the mirror of test_httpx.py, for httpx.AsyncClient."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable

import httpx
import pytest

from headless_discovery import (
    AsyncDiscovery,
    AsyncDnsResolver,
    ConfigurationError,
    LeastOutstanding,
    NoEndpointsError,
    OutlierEjection,
    RoundRobin,
    instrumentation,
)
from headless_discovery.integrations.httpx import AsyncDiscoveryTransport
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


def test_round_robin_spreads_300_requests_evenly_over_one_connection_per_pod(
    pods: PodServers, aresolver: AsyncDnsResolver
) -> None:
    async def main() -> None:
        async with (
            AsyncDiscovery(API, port=pods.port, family="ipv4", resolver=aresolver) as discovery,
            httpx.AsyncClient(transport=AsyncDiscoveryTransport(discovery)) as client,
        ):
            for _ in range(300):
                response = await client.get(f"http://api.shop:{pods.port}/")
                assert response.status_code == 200

    asyncio.run(main())
    counts = pods.count()
    assert len(counts) == 3
    for served in counts.values():
        assert abs(served - 100) <= 3
    for address in counts:
        assert len(pods.connections(address)) == 1


@pytest.mark.parametrize(
    "host", ["api", "api.shop", "api.shop.svc", "api.shop.svc.cluster.local", "API.Shop."]
)
def test_every_name_of_the_service_is_routed_and_the_host_header_kept(
    pods: PodServers, aresolver: AsyncDnsResolver, host: str
) -> None:
    async def main() -> httpx.Response:
        async with (
            AsyncDiscovery(API, port=pods.port, family="ipv4", resolver=aresolver) as discovery,
            httpx.AsyncClient(transport=AsyncDiscoveryTransport(discovery)) as client,
        ):
            return await client.get(f"http://{host}:{pods.port}/orders?id=7")

    response = asyncio.run(main())
    assert response.status_code == 200
    assert response.url == httpx.URL(f"http://{host}:{pods.port}/orders?id=7")
    (seen,) = pods.seen
    assert seen.host == f"{host.lower()}:{pods.port}"
    assert seen.path == "/orders?id=7"


def test_tls_verifies_the_service_certificate_and_sends_the_name_as_sni(
    tls_pods: PodServers, aresolver: AsyncDnsResolver, trust: ssl.SSLContext
) -> None:
    url = f"https://api.shop.svc.cluster.local:{tls_pods.port}/"

    async def main() -> None:
        async with (
            AsyncDiscovery(API, port=tls_pods.port, family="ipv4", resolver=aresolver) as d,
            httpx.AsyncClient(transport=AsyncDiscoveryTransport(d, verify=trust)) as client,
        ):
            for _ in range(3):
                assert (await client.get(url)).status_code == 200

    asyncio.run(main())
    assert {seen.sni for seen in tls_pods.seen} == {"api.shop.svc.cluster.local"}
    assert all(served == 1 for served in tls_pods.count().values())
    assert len(tls_pods.count()) == 3


def test_other_hosts_pass_through_untouched(pods: PodServers, aresolver: AsyncDnsResolver) -> None:
    async def main(port: int) -> httpx.Response:
        async with (
            AsyncDiscovery(API, port=pods.port, family="ipv4", resolver=aresolver) as discovery,
            httpx.AsyncClient(transport=AsyncDiscoveryTransport(discovery)) as client,
        ):
            return await client.get(f"http://127.0.0.1:{port}/x")

    with PodServers().start("127.0.0.1") as elsewhere:
        assert asyncio.run(main(elsewhere.port)).status_code == 200
        (seen,) = elsewhere.seen
        assert seen.host == f"127.0.0.1:{elsewhere.port}"
    assert pods.seen == []


# Built by the integration: one wrapped transport per pod; given: one shared by the pods.
@pytest.mark.parametrize("given", [False, True], ids=["per-pod", "given"])
def test_a_scale_up_is_reached_and_a_removed_pod_left_while_requests_run(
    pods: PodServers,
    aresolver: AsyncDnsResolver,
    bind: BindServer,
    shop: tuple[Cluster, Service],
    given: bool,
) -> None:
    cluster, api = shop
    errors: list[BaseException] = []

    async def main() -> None:
        wrapped = httpx.AsyncHTTPTransport() if given else None
        async with (
            AsyncDiscovery(API, port=pods.port, family="ipv4", resolver=aresolver) as discovery,
            httpx.AsyncClient(
                transport=AsyncDiscoveryTransport(discovery, transport=wrapped)
            ) as client,
        ):
            stop = asyncio.Event()

            async def load() -> None:
                while not stop.is_set():
                    try:
                        await client.get(f"http://api.shop:{pods.port}/")
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

                gone = str(api.pods[0].ipv4)
                cluster.set_ready(api, api.pods[0].name, False)
                bind.sync()
                await wait_until(
                    lambda: gone not in {e.address for e in discovery.endpoints}, SEEN_WITHIN
                )
                await wait_until(lambda: any(address == gone for address, _ in pods.closes), 2)
                served = pods.count()[gone]
                await asyncio.sleep(0.3)
                assert pods.count()[gone] == served
            finally:
                stop.set()
                await worker

    asyncio.run(main())
    assert errors == []


def test_a_pod_with_nothing_listening_loses_no_request_and_is_ejected(
    pods: PodServers,
    aresolver: AsyncDnsResolver,
    bind: BindServer,
    shop: tuple[Cluster, Service],
) -> None:
    cluster, api = shop
    cluster.scale(api, 4)
    bind.sync()
    dead = str(api.pods[3].ipv4)
    retried: list[instrumentation.RequestRetried] = []

    def hook(event: instrumentation.Event) -> None:
        if isinstance(event, instrumentation.RequestRetried):
            retried.append(event)

    strategy = OutlierEjection(RoundRobin(), consecutive_failures=2, max_ejected_fraction=0.5)

    async def main() -> None:
        async with (
            AsyncDiscovery(
                API,
                port=pods.port,
                family="ipv4",
                resolver=aresolver,
                strategy=strategy,
                hooks=[hook],
            ) as discovery,
            httpx.AsyncClient(transport=AsyncDiscoveryTransport(discovery, retries=1)) as client,
        ):
            assert len(discovery.endpoints) == 4
            for _ in range(40):
                response = await client.post(f"http://api.shop:{pods.port}/", content=b"x")
                assert response.status_code == 200

    asyncio.run(main())
    assert len(pods.seen) == 40
    assert len(retried) == 2
    assert {event.endpoint.address for event in retried} == {dead}
    assert retried[0].client == "httpx"
    assert retried[0].attempt == 1
    assert isinstance(retried[0].error, httpx.ConnectError)


def test_retries_are_spent_then_the_connect_error_is_raised(
    aresolver: AsyncDnsResolver, bind: BindServer
) -> None:
    async def main() -> None:
        async with (
            AsyncDiscovery(API, port=1, family="ipv4", resolver=aresolver) as discovery,
            httpx.AsyncClient(transport=AsyncDiscoveryTransport(discovery, retries=1)) as client,
        ):
            await client.get("http://api.shop:1/")

    with pytest.raises(httpx.ConnectError, match=r"All connection attempts failed|refused"):
        asyncio.run(main())


def test_no_ready_pod_raises_httpx_connect_error_caused_by_discovery(
    aresolver: AsyncDnsResolver, bind: BindServer
) -> None:
    async def main() -> None:
        async with (
            AsyncDiscovery(EMPTY, port=80, family="ipv4", resolver=aresolver) as discovery,
            httpx.AsyncClient(transport=AsyncDiscoveryTransport(discovery)) as client,
        ):
            await client.get("http://empty.shop/")

    with pytest.raises(httpx.ConnectError, match=r"no pod to connect to.*NXDOMAIN") as raised:
        asyncio.run(main())
    assert isinstance(raised.value.__cause__, NoEndpointsError)


def test_a_pod_that_leaves_mid_stream_finishes_the_response_then_its_connection_closes(
    pods: PodServers,
    aresolver: AsyncDnsResolver,
    bind: BindServer,
    shop: tuple[Cluster, Service],
) -> None:
    cluster, api = shop
    url = f"http://api.shop:{pods.port}/"

    async def main() -> None:
        async with (
            AsyncDiscovery(API, port=pods.port, family="ipv4", resolver=aresolver) as d,
            httpx.AsyncClient(transport=AsyncDiscoveryTransport(d)) as client,
        ):
            async with client.stream("GET", url + "stream") as response:
                gone = pods.seen[-1].pod
                (pod,) = [pod for pod in api.pods if str(pod.ipv4) == gone]
                cluster.set_ready(api, pod.name, False)
                bind.sync()
                await wait_until(lambda: gone not in {e.address for e in d.endpoints}, SEEN_WITHIN)
                assert (await client.get(url)).status_code == 200  # the pool is left open
                body = await response.aread()
            assert body == f"{gone} /stream\n".encode() * 100
            assert all(address != gone for address, _ in pods.closes)
            await client.get(url)  # the connection is idle now: closed before this request
            await wait_until(lambda: any(address == gone for address, _ in pods.closes), 2)
            assert all(seen.pod != gone for seen in pods.seen[1:])

    asyncio.run(main())


def test_a_streamed_response_is_in_flight_until_closed(
    pods: PodServers, aresolver: AsyncDnsResolver
) -> None:
    strategy = LeastOutstanding()

    async def main() -> None:
        async with (
            AsyncDiscovery(
                API, port=pods.port, family="ipv4", resolver=aresolver, strategy=strategy
            ) as d,
            httpx.AsyncClient(transport=AsyncDiscoveryTransport(d)) as client,
        ):
            async with client.stream("GET", f"http://api.shop:{pods.port}/stream") as response:
                (pod,) = [ep for ep in d.endpoints if strategy.in_flight(ep)]
                assert strategy.in_flight(pod) == 1
                await anext(aiter(response.aiter_bytes()))
                assert strategy.in_flight(pod) == 1
            assert strategy.in_flight(pod) == 0
            await client.get(f"http://api.shop:{pods.port}/")
            assert sum(strategy.in_flight(ep) for ep in d.endpoints) == 0

    asyncio.run(main())


def test_failure_statuses_retry_idempotent_requests_only(
    pods: PodServers, aresolver: AsyncDnsResolver
) -> None:
    failing = min(pods.count())
    pods.set_status(failing, 503)

    async def main() -> tuple[list[int], list[int]]:
        async with (
            AsyncDiscovery(API, port=pods.port, family="ipv4", resolver=aresolver) as d,
            httpx.AsyncClient(
                transport=AsyncDiscoveryTransport(d, failure_statuses={503}, retries=1)
            ) as client,
        ):
            url = f"http://api.shop:{pods.port}/"
            gets = [(await client.get(url)).status_code for _ in range(6)]
            posts = [(await client.post(url)).status_code for _ in range(6)]
            return gets, posts

    gets, posts = asyncio.run(main())
    assert gets == [200] * 6
    assert sorted(posts) == [200] * 4 + [503] * 2


def test_arguments_out_of_range_are_refused(aresolver: AsyncDnsResolver) -> None:
    discovery = AsyncDiscovery(API, port=80, resolver=aresolver)
    with pytest.raises(ConfigurationError, match="retries must be an int of at least 0"):
        AsyncDiscoveryTransport(discovery, retries=-1)
    with pytest.raises(ConfigurationError, match="not an HTTP status code"):
        AsyncDiscoveryTransport(discovery, failure_statuses={99})
    with pytest.raises(ConfigurationError, match=r"not both"):
        AsyncDiscoveryTransport(discovery, transport=httpx.AsyncHTTPTransport(), http2=True)
