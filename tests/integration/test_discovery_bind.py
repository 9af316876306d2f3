"""Discovery following a real BIND 9 whose records change at run time (RFC 2136 updates).

tests/integration/test_async_discovery_bind.py mirrors this file for AsyncDiscovery.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from headless_discovery import (
    Discovery,
    DnsResolver,
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


def resolver(bind: BindServer) -> DnsResolver:
    return DnsResolver([bind.nameserver], bind.port, timeout=0.3, lifetime=0.6)


def wait_until(condition: object, timeout: float) -> float:
    started = time.monotonic()
    while not condition():  # type: ignore[operator]
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout} s")
        time.sleep(0.02)
    return time.monotonic() - started


def test_a_new_pod_is_picked_within_ttl_plus_one_second(
    server: BindServer, shop: tuple[Cluster, Service]
) -> None:
    cluster, api = shop
    events: list[tuple[tuple[Endpoint, ...], tuple[Endpoint, ...]]] = []
    with Discovery(SVC, port=8080, family="ipv4", resolver=resolver(server)) as pods:
        pods.subscribe(lambda added, removed, _: events.append((added, removed)))
        assert len(pods.endpoints) == 3
        cluster.scale(api, 4)
        new_ip = api.pods[3].ipv4
        server.sync()
        seen_after = wait_until(lambda: len(pods.endpoints) == 4, TTL + 1)
        assert new_ip in {pods.pick().address for _ in range(8)}
        assert events == [((Endpoint(str(new_ip), 8080),), ())]

        gone = api.pods[0].ipv4
        cluster.set_ready(api, api.pods[0].name, False)
        server.sync()
        wait_until(lambda: len(pods.endpoints) == 3, TTL + 1)
        assert gone not in {ep.address for ep in pods.endpoints}
        assert events[1] == ((), (Endpoint(str(gone), 8080),))
    print(f"DNS change seen by pick() after {seen_after:.2f} s (TTL {TTL} s)")


def test_bind_down_serves_stale_then_fails_then_recovers(server: BindServer) -> None:
    policy = RefreshPolicy(
        min_interval=0.2, max_interval=0.5, backoff_base=0.1, backoff_max=0.3, max_stale=1.5
    )
    with Discovery(
        SVC, port=8080, resolver=resolver(server), refresh=policy, stale_policy="fail"
    ) as pods:
        before = set(pods.endpoints)
        server.stop()
        time.sleep(0.8)
        assert pods.pick() in before  # serve-stale while within max_stale
        wait_until(lambda: pods.last_error is not None, 2)

        def failing() -> bool:
            try:
                pods.pick()
            except StaleEndpointsError:
                return True
            return False

        wait_until(failing, 4)
        server.restart()
        wait_until(lambda: not failing(), 5)
        assert set(pods.endpoints) == before


def test_wait_for_succeeds_when_pods_arrive_late(
    server: BindServer, shop: tuple[Cluster, Service]
) -> None:
    cluster, api = shop
    cluster.scale(api, 0)
    server.sync()

    def scale_up() -> None:
        cluster.scale(api, 3)
        server.sync()

    timer = threading.Timer(0.5, scale_up)
    timer.start()
    try:
        with Discovery(SVC, port=8080, resolver=resolver(server)) as pods:
            assert len(pods.wait_for(3, timeout=15)) >= 3
    finally:
        timer.cancel()


def test_wait_for_fails_with_the_documented_message(server: BindServer) -> None:
    with (
        Discovery("nosuch.shop.svc.cluster.local", resolver=resolver(server)) as pods,
        pytest.raises(WaitTimeoutError) as info,
    ):
        pods.wait_for(1, timeout=1)
    message = str(info.value)
    assert "have 0 of 1 endpoints" in message
    assert "NXDOMAIN" in message
    assert "publishNotReadyAddresses" in message


def test_an_ipv4_only_service_is_asked_for_aaaa_only_now_and_then() -> None:
    # TTL 1, A records only: Discovery keeps refreshing A about every second, and asks AAAA
    # again only at the family probe interval (60 s by default), not with every refresh.
    require_named()
    model = Cluster(ttl=1)
    model.statefulset("api", "shop", 3, ports={"http": 8080})
    with BindServer(model) as bind:
        bind.clear_queries()
        with Discovery(SVC, port=8080, resolver=resolver(bind)):
            time.sleep(8)
        a_queries = bind.queries(SVC.query_name, "A")
        aaaa_queries = bind.queries(SVC.query_name, "AAAA")
    assert len(a_queries) >= 5, a_queries
    assert len(aaaa_queries) <= 2, aaaa_queries


def test_a_dual_stack_service_keeps_both_families_current() -> None:
    require_named()
    model = Cluster(ttl=1)
    api = model.statefulset("api", "shop", 2, ports={"http": 8080}, ipv6=True)
    with BindServer(model) as bind:
        bind.clear_queries()
        with Discovery(SVC, port=8080, resolver=resolver(bind)) as pods:
            assert {ep.ip.version for ep in pods.endpoints} == {4, 6}
            model.scale(api, 3)
            bind.sync()
            wait_until(lambda: len(pods.endpoints) == 6, timeout=4)
        aaaa_queries = bind.queries(SVC.query_name, "AAAA")
    assert len(aaaa_queries) >= 2, aaaa_queries  # AAAA asked on every refresh, not backed off
