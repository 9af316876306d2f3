"""Long-lived discovery through each failure of the matrix: the last good endpoints stay.

Discovery and AsyncDiscovery start on good answers; then the server turns to a fault and
``refresh()`` must raise the documented exception within the lifetime while ``endpoints``,
``pick()``, ``acquire()`` and ``mongo_uri()`` keep serving the last good snapshot
(serve-stale). NXDOMAIN and NODATA follow the policy: a change to no endpoints by default,
a failure that keeps the snapshot with ``empty_is_error=True``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator

import pytest

from headless_discovery import (
    AsyncDiscovery,
    AsyncDnsResolver,
    Discovery,
    DnsResolver,
    NoEndpointsError,
    RefreshPolicy,
    Resolution,
)
from tests.faults.cases import API_V4, API_V6, FAILURES, LIFETIME, SLACK, TIMEOUT, ZONE, Case
from tests.faults.server import FaultServer

pytestmark = pytest.mark.timeout(30)

# The background refresher stays asleep: every lookup in these tests is an explicit refresh().
QUIET = RefreshPolicy(min_interval=60, max_interval=60, backoff_base=60, backoff_max=60)
GOOD = API_V4 | API_V6
STALE_CASES = [case for case in FAILURES if case.fault not in ("nxdomain", "nodata")]
NEGATIVE_CASES = [case for case in FAILURES if case.fault in ("nxdomain", "nodata")]


@contextlib.contextmanager
def good_then(case: Case) -> Iterator[tuple[FaultServer, Callable[[], None]]]:
    """A server answering well; the callable turns it into the case's fault."""
    with FaultServer(ZONE, **case.server) as server:

        def break_it() -> None:
            if case.fault is None:
                server.close()  # the port stays, nothing listens on it any more
            else:
                server.fault = case.fault

        yield server, break_it


def _addresses(snapshot: Resolution) -> set[str]:
    return {ep.address for ep in snapshot}


def _check_stale(pods: Discovery | AsyncDiscovery, good: Resolution) -> None:
    assert pods.endpoints is good
    assert {pods.pick().address for _ in range(20)} == GOOD
    with pods.acquire() as endpoint:
        assert endpoint in good
    assert all(ip in pods.mongo_uri() for ip in API_V4)


@pytest.mark.parametrize("case", STALE_CASES, ids=[case.id for case in STALE_CASES])
def test_discovery_serves_its_last_snapshot(case: Case) -> None:
    with good_then(case) as (server, break_it):
        resolver = DnsResolver([server.address], server.port, timeout=TIMEOUT, lifetime=LIFETIME)
        with Discovery("api.shop", port=8080, resolver=resolver, refresh=QUIET) as pods:
            good = pods.endpoints
            assert _addresses(good) == GOOD
            break_it()
            started = time.monotonic()
            with pytest.raises(case.raises) as failed:
                pods.refresh()
            assert time.monotonic() - started <= LIFETIME + SLACK
            assert pods.last_error is failed.value
            _check_stale(pods, good)
            if case.fault is not None:
                server.fault = "answer"
                assert _addresses(pods.refresh()) == GOOD
                assert pods.last_error is None


@pytest.mark.parametrize("case", STALE_CASES, ids=[case.id for case in STALE_CASES])
def test_async_discovery_serves_its_last_snapshot(case: Case) -> None:
    async def main() -> None:
        with good_then(case) as (server, break_it):
            resolver = AsyncDnsResolver(
                [server.address], server.port, timeout=TIMEOUT, lifetime=LIFETIME
            )
            async with AsyncDiscovery(
                "api.shop", port=8080, resolver=resolver, refresh=QUIET
            ) as pods:
                good = pods.endpoints
                assert _addresses(good) == GOOD
                break_it()
                started = time.monotonic()
                with pytest.raises(case.raises) as failed:
                    await pods.refresh()
                assert time.monotonic() - started <= LIFETIME + SLACK
                assert pods.last_error is failed.value
                _check_stale(pods, good)
                if case.fault is not None:
                    server.fault = "answer"
                    assert _addresses(await pods.refresh()) == GOOD
                    assert pods.last_error is None

    asyncio.run(main())


@pytest.mark.parametrize("empty_is_error", [False, True])
@pytest.mark.parametrize("case", NEGATIVE_CASES, ids=[case.id for case in NEGATIVE_CASES])
def test_discovery_negative_answers_follow_the_policy(case: Case, empty_is_error: bool) -> None:
    with good_then(case) as (server, break_it):
        resolver = DnsResolver([server.address], server.port, timeout=TIMEOUT, lifetime=LIFETIME)
        with Discovery(
            "api.shop",
            port=8080,
            resolver=resolver,
            refresh=QUIET,
            empty_is_error=empty_is_error,
        ) as pods:
            good = pods.endpoints
            break_it()
            if empty_is_error:
                with pytest.raises(case.raises):
                    pods.refresh()
                _check_stale(pods, good)
            else:
                assert len(pods.refresh()) == 0
                with pytest.raises(NoEndpointsError):
                    pods.pick()
            assert isinstance(pods.last_error, case.raises)


@pytest.mark.parametrize("empty_is_error", [False, True])
@pytest.mark.parametrize("case", NEGATIVE_CASES, ids=[case.id for case in NEGATIVE_CASES])
def test_async_discovery_negative_answers_follow_the_policy(
    case: Case, empty_is_error: bool
) -> None:
    async def main() -> None:
        with good_then(case) as (server, break_it):
            resolver = AsyncDnsResolver(
                [server.address], server.port, timeout=TIMEOUT, lifetime=LIFETIME
            )
            async with AsyncDiscovery(
                "api.shop",
                port=8080,
                resolver=resolver,
                refresh=QUIET,
                empty_is_error=empty_is_error,
            ) as pods:
                good = pods.endpoints
                break_it()
                if empty_is_error:
                    with pytest.raises(case.raises):
                        await pods.refresh()
                    _check_stale(pods, good)
                else:
                    assert len(await pods.refresh()) == 0
                    with pytest.raises(NoEndpointsError):
                        pods.pick()
                assert isinstance(pods.last_error, case.raises)

    asyncio.run(main())
