"""DiscoveryAdapter: a requests.Session over real pods found through a real BIND 9."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
import trustme

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
from headless_discovery.integrations.requests import DiscoveryAdapter
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


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def test_round_robin_spreads_300_requests_evenly_over_one_connection_per_pod(
    pods: PodServers, resolver: DnsResolver, session: requests.Session
) -> None:
    with Discovery(API, port=pods.port, family="ipv4", resolver=resolver) as discovery:
        session.mount("http://api.shop", DiscoveryAdapter(discovery))
        for _ in range(300):
            assert session.get(f"http://api.shop:{pods.port}/").status_code == 200
    counts = pods.count()
    assert len(counts) == 3
    for served in counts.values():
        assert abs(served - 100) <= 3
    for address in counts:
        assert len(pods.connections(address)) == 1


@pytest.mark.parametrize("host", ["api", "api.shop.svc.cluster.local", "API.Shop."])
def test_the_host_header_url_and_cookies_keep_the_name(
    pods: PodServers, resolver: DnsResolver, session: requests.Session, host: str
) -> None:
    with Discovery(API, port=pods.port, family="ipv4", resolver=resolver) as discovery:
        session.mount("http://", DiscoveryAdapter(discovery))
        response = session.get(f"http://{host}:{pods.port}/orders?id=7")
    assert response.status_code == 200
    assert response.url == f"http://{host.lower()}:{pods.port}/orders?id=7"
    assert response.request.url == response.url
    assert "Host" not in response.request.headers  # the caller's request is left alone
    (seen,) = pods.seen
    assert seen.host == f"{host.lower()}:{pods.port}"


def test_tls_verifies_the_service_certificate_and_sends_the_name_as_sni(
    tls_pods: PodServers,
    resolver: DnsResolver,
    session: requests.Session,
    ca: trustme.CA,
    tmp_path: Path,
) -> None:
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    url = f"https://api.shop.svc.cluster.local:{tls_pods.port}/"
    with Discovery(API, port=tls_pods.port, family="ipv4", resolver=resolver) as discovery:
        session.mount("https://api.shop.svc.cluster.local", DiscoveryAdapter(discovery))
        for _ in range(3):
            assert session.get(url, verify=str(bundle)).status_code == 200
    assert {seen.sni for seen in tls_pods.seen} == {"api.shop.svc.cluster.local"}
    assert all(served == 1 for served in tls_pods.count().values())
    assert len(tls_pods.count()) == 3


def test_other_hosts_pass_through_untouched(
    pods: PodServers, resolver: DnsResolver, session: requests.Session
) -> None:
    with (
        PodServers().start("127.0.0.1") as elsewhere,
        Discovery(API, port=pods.port, family="ipv4", resolver=resolver) as discovery,
    ):
        session.mount("http://", DiscoveryAdapter(discovery))
        assert session.get(f"http://127.0.0.1:{elsewhere.port}/x").status_code == 200
        (seen,) = elsewhere.seen
        assert seen.host == f"127.0.0.1:{elsewhere.port}"
    assert pods.seen == []


def test_a_scale_up_is_reached_and_a_removed_pod_left_while_requests_run(
    pods: PodServers,
    resolver: DnsResolver,
    bind: BindServer,
    shop: tuple[Cluster, Service],
    session: requests.Session,
) -> None:
    cluster, api = shop
    stop = threading.Event()
    errors: list[BaseException] = []
    with Discovery(API, port=pods.port, family="ipv4", resolver=resolver) as discovery:
        session.mount("http://api.shop", DiscoveryAdapter(discovery))

        def load() -> None:
            while not stop.is_set():
                try:
                    session.get(f"http://api.shop:{pods.port}/")
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
            assert pods.count()[gone] == served
        finally:
            stop.set()
            worker.join(10)
    assert errors == []


def test_a_pod_with_nothing_listening_loses_no_request_and_is_ejected(
    pods: PodServers,
    resolver: DnsResolver,
    bind: BindServer,
    shop: tuple[Cluster, Service],
    session: requests.Session,
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
    with Discovery(
        API, port=pods.port, family="ipv4", resolver=resolver, strategy=strategy, hooks=[hook]
    ) as discovery:
        session.mount("http://api.shop", DiscoveryAdapter(discovery, retries=1))
        assert len(discovery.endpoints) == 4
        for _ in range(40):
            assert session.post(f"http://api.shop:{pods.port}/", data=b"x").status_code == 200
    assert len(pods.seen) == 40
    assert len(retried) == 2
    assert {event.endpoint.address for event in retried} == {dead}
    assert retried[0].client == "requests"
    assert isinstance(retried[0].error, requests.ConnectionError)


def test_no_ready_pod_raises_requests_connection_error_caused_by_discovery(
    resolver: DnsResolver, bind: BindServer, session: requests.Session
) -> None:
    with Discovery(EMPTY, port=80, family="ipv4", resolver=resolver) as discovery:
        session.mount("http://empty.shop", DiscoveryAdapter(discovery))
        with pytest.raises(
            requests.ConnectionError, match=r"no pod to connect to.*NXDOMAIN"
        ) as raised:
            session.get("http://empty.shop/")
    assert isinstance(raised.value.__cause__, NoEndpointsError)


def test_a_streamed_response_is_in_flight_until_closed(
    pods: PodServers, resolver: DnsResolver, session: requests.Session
) -> None:
    strategy = LeastOutstanding()
    with Discovery(
        API, port=pods.port, family="ipv4", resolver=resolver, strategy=strategy
    ) as discovery:
        session.mount("http://api.shop", DiscoveryAdapter(discovery))
        with session.get(f"http://api.shop:{pods.port}/stream", stream=True) as response:
            (pod,) = [ep for ep in discovery.endpoints if strategy.in_flight(ep)]
            next(response.iter_content(64))
            assert strategy.in_flight(pod) == 1
        assert strategy.in_flight(pod) == 0
        session.get(f"http://api.shop:{pods.port}/")
        assert sum(strategy.in_flight(ep) for ep in discovery.endpoints) == 0


def test_failure_statuses_retry_idempotent_requests_only(
    pods: PodServers, resolver: DnsResolver, session: requests.Session
) -> None:
    pods.set_status(min(pods.count()), 503)
    with Discovery(API, port=pods.port, family="ipv4", resolver=resolver) as discovery:
        adapter = DiscoveryAdapter(discovery, failure_statuses={503}, retries=1)
        session.mount("http://api.shop", adapter)
        gets = [session.get(f"http://api.shop:{pods.port}/").status_code for _ in range(6)]
        posts = [session.post(f"http://api.shop:{pods.port}/").status_code for _ in range(6)]
    assert gets == [200] * 6
    assert sorted(posts) == [200] * 4 + [503] * 2


def test_arguments_out_of_range_are_refused(resolver: DnsResolver) -> None:
    discovery = Discovery(API, port=80, resolver=resolver)
    with pytest.raises(ConfigurationError, match="retries must be an int of at least 0"):
        DiscoveryAdapter(discovery, retries=-1)
    with pytest.raises(ConfigurationError, match="not an HTTP status code"):
        DiscoveryAdapter(discovery, failure_statuses={600})
