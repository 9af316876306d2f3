"""DiscoveryTransport: httpx.Client over real pods (HTTP servers on 127.77.0.x) found through a
real BIND 9 whose records change while requests run.

tests/integrations/test_httpx_async.py mirrors this file for AsyncDiscoveryTransport.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable

import httpx
import pytest

from headless_discovery import (
    ConfigurationError,
    Discovery,
    DnsResolver,
    LeastOutstanding,
    NoEndpointsError,
    OutlierEjection,
    RoundRobin,
    instrumentation,
)
from headless_discovery.integrations.httpx import DiscoveryTransport
from tests.harness.bind import BindServer
from tests.harness.cluster import Cluster, Service
from tests.integrations.conftest import API, EMPTY, SEEN_WITHIN
from tests.integrations.pods import PodServers

pytestmark = pytest.mark.dns


def wait_until(condition: Callable[[], bool], timeout: float) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout} s")
        time.sleep(0.01)
    return time.monotonic() - started


def test_round_robin_spreads_300_requests_evenly_over_one_connection_per_pod(
    pods: PodServers, resolver: DnsResolver
) -> None:
    with (
        Discovery(API, port=pods.port, family="ipv4", resolver=resolver) as discovery,
        httpx.Client(transport=DiscoveryTransport(discovery)) as client,
    ):
        for _ in range(300):
            assert client.get(f"http://api.shop:{pods.port}/").status_code == 200
    counts = pods.count()
    assert len(counts) == 3
    for served in counts.values():
        assert abs(served - 100) <= 3  # within 3 % of a third
    for address in counts:
        assert len(pods.connections(address)) == 1  # one keep-alive pool per pod, reused


@pytest.mark.parametrize(
    "host", ["api", "api.shop", "api.shop.svc", "api.shop.svc.cluster.local", "API.Shop."]
)
def test_every_name_of_the_service_is_routed_and_the_host_header_kept(
    pods: PodServers, resolver: DnsResolver, host: str
) -> None:
    with (
        Discovery(API, port=pods.port, family="ipv4", resolver=resolver) as discovery,
        httpx.Client(transport=DiscoveryTransport(discovery)) as client,
    ):
        response = client.get(f"http://{host}:{pods.port}/orders?id=7")
    assert response.status_code == 200
    assert response.url == httpx.URL(f"http://{host}:{pods.port}/orders?id=7")
    (seen,) = pods.seen
    assert seen.host == f"{host.lower()}:{pods.port}"  # httpx normalises the URL's case
    assert seen.path == "/orders?id=7"


def test_tls_verifies_the_service_certificate_and_sends_the_name_as_sni(
    tls_pods: PodServers, resolver: DnsResolver, trust: ssl.SSLContext
) -> None:
    url = f"https://api.shop.svc.cluster.local:{tls_pods.port}/"
    with (
        Discovery(API, port=tls_pods.port, family="ipv4", resolver=resolver) as discovery,
        httpx.Client(transport=DiscoveryTransport(discovery, verify=trust)) as client,
    ):
        for _ in range(3):
            assert client.get(url).status_code == 200
    assert {seen.sni for seen in tls_pods.seen} == {"api.shop.svc.cluster.local"}
    assert len(tls_pods.count()) == 3
    assert all(served == 1 for served in tls_pods.count().values())


def test_tls_without_the_integration_fails_on_the_address(
    tls_pods: PodServers, trust: ssl.SSLContext
) -> None:
    # What the integration avoids: the certificate names the Service, never a pod's IP.
    address = next(iter(tls_pods.count()))
    with (
        httpx.Client(verify=trust) as client,
        pytest.raises(httpx.ConnectError, match="IP address mismatch"),
    ):
        client.get(f"https://{address}:{tls_pods.port}/")


def test_other_hosts_pass_through_untouched(pods: PodServers, resolver: DnsResolver) -> None:
    with PodServers().start("127.0.0.1") as elsewhere:
        with (
            Discovery(API, port=pods.port, family="ipv4", resolver=resolver) as discovery,
            httpx.Client(transport=DiscoveryTransport(discovery)) as client,
        ):
            response = client.get(f"http://127.0.0.1:{elsewhere.port}/x")
        assert response.status_code == 200
        (seen,) = elsewhere.seen
        assert seen.host == f"127.0.0.1:{elsewhere.port}"
    assert pods.seen == []


# Built by the integration: one wrapped transport per pod; given: one shared by the pods.
@pytest.mark.parametrize("given", [False, True], ids=["per-pod", "given"])
def test_a_scale_up_is_reached_and_a_removed_pod_left_while_requests_run(
    pods: PodServers,
    resolver: DnsResolver,
    bind: BindServer,
    shop: tuple[Cluster, Service],
    given: bool,
) -> None:
    cluster, api = shop
    stop = threading.Event()
    errors: list[BaseException] = []
    wrapped = httpx.HTTPTransport() if given else None
    with (
        Discovery(API, port=pods.port, family="ipv4", resolver=resolver) as discovery,
        httpx.Client(transport=DiscoveryTransport(discovery, transport=wrapped)) as client,
    ):

        def load() -> None:
            while not stop.is_set():
                try:
                    client.get(f"http://api.shop:{pods.port}/")
                except BaseException as exc:
                    errors.append(exc)
                time.sleep(0.005)

        worker = threading.Thread(target=load)
        worker.start()
        try:
            wait_until(lambda: len(pods.seen) >= 10, 5)
            cluster.scale(api, 4)
            new = str(api.pods[3].ipv4)
            pods.start(new)
            bind.sync()
            assert wait_until(lambda: pods.count().get(new, 0) > 0, SEEN_WITHIN) <= SEEN_WITHIN

            gone = str(api.pods[0].ipv4)
            cluster.set_ready(api, api.pods[0].name, False)
            bind.sync()
            wait_until(lambda: gone not in {e.address for e in discovery.endpoints}, SEEN_WITHIN)
            wait_until(lambda: any(address == gone for address, _ in pods.closes), 2)
            served = pods.count()[gone]
            time.sleep(0.3)
            assert pods.count()[gone] == served  # no new request once it left
        finally:
            stop.set()
            worker.join(10)
    assert errors == []


def test_a_pod_that_leaves_mid_stream_finishes_the_response_then_its_connection_closes(
    pods: PodServers, resolver: DnsResolver, bind: BindServer, shop: tuple[Cluster, Service]
) -> None:
    cluster, api = shop
    url = f"http://api.shop:{pods.port}/"
    with (
        Discovery(API, port=pods.port, family="ipv4", resolver=resolver) as discovery,
        httpx.Client(transport=DiscoveryTransport(discovery)) as client,
    ):
        with client.stream("GET", url + "stream") as response:
            gone = pods.seen[-1].pod
            (pod,) = [pod for pod in api.pods if str(pod.ipv4) == gone]
            cluster.set_ready(api, pod.name, False)
            bind.sync()
            wait_until(lambda: gone not in {e.address for e in discovery.endpoints}, SEEN_WITHIN)
            assert client.get(url).status_code == 200  # the pod's pool is left, not closed
            body = response.read()
        assert body == f"{gone} /stream\n".encode() * 100
        assert all(address != gone for address, _ in pods.closes)
        client.get(url)  # the connection is idle now: closed before this request
        wait_until(lambda: any(address == gone for address, _ in pods.closes), 2)
        assert all(seen.pod != gone for seen in pods.seen[1:])


def test_a_pod_with_nothing_listening_loses_no_request_and_is_ejected(
    pods: PodServers, resolver: DnsResolver, bind: BindServer, shop: tuple[Cluster, Service]
) -> None:
    cluster, api = shop
    cluster.scale(api, 4)  # the fourth pod is in DNS; nothing listens on its address
    bind.sync()
    dead = str(api.pods[3].ipv4)
    retried: list[instrumentation.RequestRetried] = []

    def hook(event: instrumentation.Event) -> None:
        if isinstance(event, instrumentation.RequestRetried):
            retried.append(event)

    strategy = OutlierEjection(RoundRobin(), consecutive_failures=2, max_ejected_fraction=0.5)
    with (
        Discovery(
            API, port=pods.port, family="ipv4", resolver=resolver, strategy=strategy, hooks=[hook]
        ) as discovery,
        httpx.Client(transport=DiscoveryTransport(discovery, retries=1)) as client,
    ):
        assert len(discovery.endpoints) == 4
        for _ in range(40):
            assert client.post(f"http://api.shop:{pods.port}/", content=b"x").status_code == 200
    assert len(pods.seen) == 40  # every request served, none lost
    assert len(retried) == 2  # then ejected: no longer tried
    assert {event.endpoint.address for event in retried} == {dead}
    assert retried[0].client == "httpx"
    assert retried[0].attempt == 1
    assert isinstance(retried[0].error, httpx.ConnectError)


def test_retries_are_spent_then_the_connect_error_is_raised(
    resolver: DnsResolver, bind: BindServer
) -> None:
    # Nothing listens on any pod: one attempt and one retry, each on another pod.
    with (
        Discovery(API, port=1, family="ipv4", resolver=resolver) as discovery,
        httpx.Client(transport=DiscoveryTransport(discovery, retries=1)) as client,
        pytest.raises(httpx.ConnectError, match=r"[Cc]onnection refused"),
    ):
        client.get("http://api.shop:1/")


def test_no_ready_pod_raises_httpx_connect_error_caused_by_discovery(
    resolver: DnsResolver, bind: BindServer
) -> None:
    with (
        Discovery(EMPTY, port=80, family="ipv4", resolver=resolver) as discovery,
        httpx.Client(transport=DiscoveryTransport(discovery)) as client,
        pytest.raises(httpx.ConnectError, match=r"no pod to connect to.*NXDOMAIN") as raised,
    ):
        client.get("http://empty.shop/")
    assert isinstance(raised.value.__cause__, NoEndpointsError)


def test_a_streamed_response_is_in_flight_until_closed(
    pods: PodServers, resolver: DnsResolver
) -> None:
    strategy = LeastOutstanding()
    with (
        Discovery(API, port=pods.port, family="ipv4", resolver=resolver, strategy=strategy) as d,
        httpx.Client(transport=DiscoveryTransport(d)) as client,
    ):
        with client.stream("GET", f"http://api.shop:{pods.port}/stream") as response:
            (pod,) = [ep for ep in d.endpoints if strategy.in_flight(ep)]
            assert strategy.in_flight(pod) == 1
            next(response.iter_bytes())
            assert strategy.in_flight(pod) == 1
        assert strategy.in_flight(pod) == 0
        client.get(f"http://api.shop:{pods.port}/")
        assert sum(strategy.in_flight(ep) for ep in d.endpoints) == 0


def test_failure_statuses_retry_idempotent_requests_only(
    pods: PodServers, resolver: DnsResolver
) -> None:
    failing = min(pods.count())
    pods.set_status(failing, 503)
    with (
        Discovery(API, port=pods.port, family="ipv4", resolver=resolver) as discovery,
        httpx.Client(
            transport=DiscoveryTransport(discovery, failure_statuses={503}, retries=1)
        ) as client,
    ):
        gets = [client.get(f"http://api.shop:{pods.port}/").status_code for _ in range(6)]
        posts = [client.post(f"http://api.shop:{pods.port}/").status_code for _ in range(6)]
    assert gets == [200] * 6
    assert sorted(posts) == [200] * 4 + [503] * 2


def test_arguments_out_of_range_are_refused(resolver: DnsResolver) -> None:
    discovery = Discovery(API, port=80, resolver=resolver)
    with pytest.raises(ConfigurationError, match="retries must be an int of at least 0"):
        DiscoveryTransport(discovery, retries=-1)
    with pytest.raises(ConfigurationError, match="not an HTTP status code"):
        DiscoveryTransport(discovery, failure_statuses={600})
    with pytest.raises(ConfigurationError, match=r"not both"):
        DiscoveryTransport(discovery, transport=httpx.HTTPTransport(), verify=False)
