"""The fault matrix against DnsResolver and AsyncDnsResolver, mirrored: one case, both drivers.

Each case gives the documented exception (a DiscoveryError subclass that names the server) or
the correct endpoints, within the lifetime plus SLACK; nothing hangs, nothing foreign escapes.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time

import pytest

from headless_discovery import (
    AsyncDnsResolver,
    DiscoveryError,
    DnsResolver,
    InvalidNameError,
    ResolutionError,
    ResolverTimeoutError,
    UntrustedAnswerError,
)
from tests.faults.cases import API, CASES, LIFETIME, SLACK, ZONE, Case
from tests.faults.server import POISON, FaultServer
from tests.faults.support import DRIVERS, Driver, lookup, serving

pytestmark = pytest.mark.timeout(30)


@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_fault(case: Case, driver: Driver) -> None:
    with serving(case) as (address, port):
        started = time.monotonic()
        try:
            outcome: object = lookup(driver, address, port, case.lookup)
        except BaseException as exc:  # anything at all: foreign exceptions fail the case
            outcome = exc
        elapsed = time.monotonic() - started

    assert elapsed <= LIFETIME + SLACK, f"{case.id} took {elapsed:.2f} s"
    if case.raises:
        assert isinstance(outcome, DiscoveryError), repr(outcome)
        assert isinstance(outcome, case.raises), repr(outcome)
        if case.not_raises is not None:
            assert not isinstance(outcome, case.not_raises), repr(outcome)
        if isinstance(outcome, ResolutionError) and not isinstance(outcome, UntrustedAnswerError):
            # The message names the server, address and port, and so does the attribute.
            assert address in str(outcome)
            assert str(port) in str(outcome)
            assert outcome.nameserver is not None
            assert f"{address}:{port}" in outcome.nameserver
        if case.timed_out:
            assert isinstance(outcome, ResolverTimeoutError) or elapsed < LIFETIME
    else:
        assert not isinstance(outcome, BaseException), repr(outcome)
        found = {(ep.address, ep.port, ep.hostname) for ep in outcome}  # type: ignore[attr-defined]
        assert found == case.endpoints
        assert not set(POISON) & {address for address, _, _ in found}


def test_the_matrix_covers_every_fault_of_the_server() -> None:
    from tests.faults.server import FAULTS

    assert {case.fault for case in CASES} >= set(FAULTS) - {"answer", "custom"}


# -- library bugs found by the matrix: kept failing until fixed --------------------------------


def _elapsed(driver: Driver, address: str, port: int, **kwargs: float) -> tuple[float, object]:
    started = time.monotonic()
    try:
        outcome: object = lookup(
            driver, address, port, {"name": "api.shop", "port": 8080}, **kwargs
        )
    except DiscoveryError as exc:
        outcome = exc
    return time.monotonic() - started, outcome


@pytest.mark.parametrize("driver", DRIVERS)
def test_timeout_comes_within_the_lifetime(driver: Driver) -> None:
    with FaultServer(ZONE, fault="silent") as server:
        elapsed, outcome = _elapsed(driver, server.address, server.port, timeout=0.3, lifetime=0.5)
    assert isinstance(outcome, ResolverTimeoutError)
    assert elapsed <= 0.5 + 0.15, f"{elapsed:.2f} s for a lifetime of 0.5 s"


@pytest.mark.parametrize("driver", DRIVERS)
def test_lifetime_bounds_the_a_and_aaaa_queries_together(driver: Driver) -> None:
    with FaultServer(ZONE, fault="slow", delay=0.5) as server:
        elapsed, _ = _elapsed(driver, server.address, server.port, timeout=0.7, lifetime=0.7)
    assert elapsed <= 0.7 + 0.15, f"{elapsed:.2f} s for a lifetime of 0.7 s"


@pytest.mark.parametrize("driver", DRIVERS)
def test_lifetime_bounds_an_srv_lookup_with_its_target_lookups(driver: Driver) -> None:
    with FaultServer(ZONE, fault="slow", delay=0.2, additional=False) as server:
        started = time.monotonic()
        with contextlib.suppress(ResolverTimeoutError):
            lookup(
                driver,
                server.address,
                server.port,
                {"name": "api.shop", "srv": "http"},
                timeout=0.7,
                lifetime=0.7,
            )
        elapsed = time.monotonic() - started
    assert elapsed <= 0.7 + 0.15, f"{elapsed:.2f} s for a lifetime of 0.7 s"


@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize("name", ["api\\", "\\999.shop"])
def test_a_name_with_a_bad_escape_is_an_invalid_name(driver: Driver, name: str) -> None:
    with FaultServer(ZONE) as server:
        sync = DnsResolver([server.address], server.port)
        aresolver = AsyncDnsResolver([server.address], server.port)

        def call() -> object:
            if driver == "sync":
                return sync.resolve_addresses(name)
            return asyncio.run(aresolver.aresolve_addresses(name))

        with pytest.raises(InvalidNameError):
            call()
        assert server.queries() == []


@pytest.mark.parametrize("driver", DRIVERS)
def test_every_failed_try_in_the_message_has_a_reason(driver: Driver) -> None:
    with FaultServer(ZONE, fault="truncate", tcp=False) as server:
        _, outcome = _elapsed(driver, server.address, server.port)
    assert isinstance(outcome, ResolutionError)
    assert not re.search(r"answered\s*(;|$)", str(outcome)), str(outcome)


def test_a_truncated_answer_is_retried_over_tcp() -> None:
    with FaultServer(ZONE, fault="truncate") as server:
        lookup("sync", server.address, server.port, {"name": "api.shop", "port": 8080})
        transports = [(q.rdtype, q.transport) for q in server.queries() if q.name == API]
    assert transports == [("A", "udp"), ("A", "tcp"), ("AAAA", "udp"), ("AAAA", "tcp")]
