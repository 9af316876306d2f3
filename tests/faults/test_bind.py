"""The faults a real BIND 9 can produce: stopped, NXDOMAIN, NODATA, no ready pods.

The same expectations as the fault-server matrix, against the server the other end-to-end
tests use, for both drivers; and discovery keeps its snapshot while BIND is down.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from headless_discovery import (
    AsyncDiscovery,
    AsyncDnsResolver,
    Discovery,
    DiscoveryError,
    DnsResolver,
    NoEndpointsError,
    RefreshPolicy,
    ResolverTimeoutError,
    ResolverUnavailableError,
    ServiceNotFoundError,
)
from tests.faults.cases import LIFETIME, SLACK, TIMEOUT
from tests.faults.support import DRIVERS, Driver, lookup
from tests.harness.bind import BindServer
from tests.harness.cluster import Cluster, Service
from tests.harness.requirements import require_named

pytestmark = [pytest.mark.dns, pytest.mark.timeout(60)]

QUIET = RefreshPolicy(min_interval=60, max_interval=60, backoff_base=60, backoff_max=60)
API = "api.shop.svc.cluster.local."


@pytest.fixture
def model() -> tuple[Cluster, Service]:
    cluster = Cluster(ttl=30)
    return cluster, cluster.statefulset("api", "shop", 3, ports={"http": 8080})


@pytest.fixture
def bind(model: tuple[Cluster, Service]) -> Iterator[BindServer]:
    require_named()
    with BindServer(model[0]) as server:
        yield server


def _outcome(driver: Driver, bind: BindServer, **arguments: object) -> tuple[object, float]:
    started = time.monotonic()
    try:
        outcome: object = lookup(driver, bind.nameserver, bind.port, arguments)
    except BaseException as exc:
        outcome = exc
    return outcome, time.monotonic() - started


def _names_the_server(exc: object, bind: BindServer) -> None:
    assert isinstance(exc, DiscoveryError), repr(exc)
    assert bind.nameserver in str(exc)
    assert str(bind.port) in str(exc)


@pytest.mark.parametrize("driver", DRIVERS)
def test_bind_stopped(driver: Driver, bind: BindServer) -> None:
    bind.stop()
    outcome, elapsed = _outcome(driver, bind, name="api.shop", port=8080)
    assert isinstance(outcome, (ResolverTimeoutError, ResolverUnavailableError)), repr(outcome)
    _names_the_server(outcome, bind)
    assert elapsed <= LIFETIME + SLACK


@pytest.mark.parametrize("driver", DRIVERS)
def test_bind_nxdomain(driver: Driver, bind: BindServer) -> None:
    outcome, elapsed = _outcome(driver, bind, name="nosuch.shop", port=8080)
    assert isinstance(outcome, ServiceNotFoundError), repr(outcome)
    _names_the_server(outcome, bind)
    assert elapsed <= LIFETIME + SLACK


@pytest.mark.parametrize("driver", DRIVERS)
def test_bind_nodata(driver: Driver, bind: BindServer) -> None:
    # IPv4-only pods: the name exists, it has no AAAA records.
    outcome, elapsed = _outcome(driver, bind, name="api.shop", port=8080, family="ipv6")
    assert isinstance(outcome, NoEndpointsError), repr(outcome)
    assert not isinstance(outcome, ServiceNotFoundError)
    _names_the_server(outcome, bind)
    assert elapsed <= LIFETIME + SLACK


@pytest.mark.parametrize("driver", DRIVERS)
def test_bind_nodata_for_srv(driver: Driver, bind: BindServer) -> None:
    # SRV records live at _http._tcp.<svc>, not at the Service name itself.
    try:
        if driver == "sync":
            DnsResolver([bind.nameserver], bind.port, lifetime=LIFETIME).resolve_srv(API)
        else:
            resolver = AsyncDnsResolver([bind.nameserver], bind.port, lifetime=LIFETIME)
            asyncio.run(resolver.aresolve_srv(API))
    except BaseException as exc:
        outcome: object = exc
    assert isinstance(outcome, NoEndpointsError), repr(outcome)
    assert not isinstance(outcome, ServiceNotFoundError)


def test_discovery_serves_stale_while_bind_is_down_and_empties_without_ready_pods(
    bind: BindServer, model: tuple[Cluster, Service]
) -> None:
    cluster, api = model
    resolver = DnsResolver([bind.nameserver], bind.port, timeout=TIMEOUT, lifetime=LIFETIME)
    with Discovery("api.shop", port=8080, resolver=resolver, refresh=QUIET) as pods:
        good = pods.endpoints
        assert len(good) == 3
        bind.stop()
        with pytest.raises((ResolverTimeoutError, ResolverUnavailableError)):
            pods.refresh()
        assert pods.endpoints is good
        assert pods.pick() in good
        bind.start()
        cluster.scale(api, 0)
        bind.sync()
        assert len(pods.refresh()) == 0  # NXDOMAIN: no ready pods, the default policy
        with pytest.raises(NoEndpointsError):
            pods.pick()


def test_async_discovery_serves_stale_while_bind_is_down_and_empties_without_ready_pods(
    bind: BindServer, model: tuple[Cluster, Service]
) -> None:
    cluster, api = model

    async def main() -> None:
        resolver = AsyncDnsResolver(
            [bind.nameserver], bind.port, timeout=TIMEOUT, lifetime=LIFETIME
        )
        async with AsyncDiscovery("api.shop", port=8080, resolver=resolver, refresh=QUIET) as pods:
            good = pods.endpoints
            assert len(good) == 3
            bind.stop()
            with pytest.raises((ResolverTimeoutError, ResolverUnavailableError)):
                await pods.refresh()
            assert pods.endpoints is good
            assert pods.pick() in good
            bind.start()
            cluster.scale(api, 0)
            bind.sync()
            assert len(await pods.refresh()) == 0
            with pytest.raises(NoEndpointsError):
                pods.pick()

    asyncio.run(main())


@pytest.mark.parametrize("driver", DRIVERS)
def test_no_ready_pods_with_empty_is_error_keeps_the_snapshot(
    driver: Driver, bind: BindServer, model: tuple[Cluster, Service]
) -> None:
    cluster, api = model

    def change() -> None:
        cluster.scale(api, 0)
        bind.sync()

    if driver == "sync":
        resolver = DnsResolver([bind.nameserver], bind.port, lifetime=LIFETIME)
        with Discovery(
            "api.shop", port=8080, resolver=resolver, refresh=QUIET, empty_is_error=True
        ) as pods:
            good = pods.endpoints
            change()
            with pytest.raises(ServiceNotFoundError):
                pods.refresh()
            assert pods.endpoints is good
        return

    async def main() -> None:
        resolver = AsyncDnsResolver([bind.nameserver], bind.port, lifetime=LIFETIME)
        async with AsyncDiscovery(
            "api.shop", port=8080, resolver=resolver, refresh=QUIET, empty_is_error=True
        ) as pods:
            good = pods.endpoints
            change()
            with pytest.raises(ServiceNotFoundError):
                await pods.refresh()
            assert pods.endpoints is good

    asyncio.run(main())
