"""The event seam: what hooks receive from one-shot lookups and long-lived discovery."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest

from headless_discovery import (
    AsyncDiscovery,
    Discovery,
    NoEndpointsError,
    RefreshPolicy,
    ServiceNotFoundError,
    StaticResolver,
    instrumentation,
    resolve,
)
from headless_discovery.instrumentation import (
    EndpointsChanged,
    Event,
    LookupFinished,
    RefreshFinished,
    StaleServed,
)
from tests.support.resolvers import FakeClock, ScriptedResolver

NAME = "api.shop.svc.cluster.local"
QNAME = NAME + "."
QUIET = RefreshPolicy(min_interval=60, max_interval=60, backoff_base=60, backoff_max=60)


@pytest.fixture
def events() -> Iterator[list[Event]]:
    seen: list[Event] = []
    remove = instrumentation.add_hook(seen.append)
    yield seen
    remove()


def test_a_one_shot_lookup_reports_its_records_and_time(events: list[Event]) -> None:
    resolver = StaticResolver({NAME: ["10.0.0.2", "10.0.0.1"]})
    resolve(NAME, port=80, resolver=resolver)
    (event,) = events
    assert isinstance(event, LookupFinished)
    assert (event.name, event.rdtype, event.records, event.error) == (QNAME, "A/AAAA", 2, None)
    assert 0 <= event.duration < 5


def test_a_one_shot_lookup_is_logged_at_debug_without_any_hook(
    caplog: pytest.LogCaptureFixture,
) -> None:
    resolver = StaticResolver({NAME: ["10.0.0.2", "10.0.0.1"]})
    with caplog.at_level(logging.DEBUG, logger="headless_discovery"):
        resolve(NAME, port=80, resolver=resolver)
    (record,) = [r for r in caplog.records if r.getMessage().startswith("resolved ")]
    assert record.getMessage().startswith(f"resolved {QNAME} to 2 endpoints in ")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="headless_discovery"):
        resolve(NAME, port=80, resolver=resolver)
    assert caplog.records == []


def test_a_lookup_nobody_hears_builds_no_event(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from headless_discovery import lookup
    from headless_discovery.plan import plan_service

    built: list[LookupFinished] = []

    def counting(*args: object) -> LookupFinished:
        built.append(LookupFinished(*args))  # type: ignore[arg-type]
        return built[-1]

    monkeypatch.setattr(lookup, "LookupFinished", counting)
    resolver = StaticResolver({NAME: ["10.0.0.1"]})
    with caplog.at_level(logging.INFO, logger="headless_discovery"):
        resolve(NAME, port=80, resolver=resolver)
        assert built == []
        mine: list[Event] = []
        plan = plan_service(NAME, port=80)
        lookup.run(plan, resolver, hooks=(mine.append,))  # a discovery's own hooks
        assert mine == built
        assert len(built) == 1
    with caplog.at_level(logging.DEBUG, logger="headless_discovery"):
        resolve(NAME, port=80, resolver=resolver)
    assert len(built) == 2


def test_a_failed_lookup_reports_our_error(events: list[Event]) -> None:
    with pytest.raises(ServiceNotFoundError, match="does not exist"):
        resolve(NAME, port=80, resolver=StaticResolver({}), family="ipv4")
    (event,) = events
    assert isinstance(event, LookupFinished)
    assert event.rdtype == "A"
    assert event.records == 0
    assert isinstance(event.error, ServiceNotFoundError)


def test_removing_a_hook_stops_its_events(events: list[Event]) -> None:
    other: list[Event] = []
    remove = instrumentation.add_hook(other.append)
    remove()
    remove()  # twice is harmless
    resolve(NAME, port=80, resolver=StaticResolver({NAME: ["10.0.0.1"]}))
    assert other == []
    assert len(events) == 1


def test_a_hook_must_be_callable() -> None:
    with pytest.raises(TypeError, match="a hook must be callable, not 42"):
        instrumentation.add_hook(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="a hook must be callable, not 'x'"):
        Discovery(NAME, port=80, resolver=StaticResolver({}), hooks=["x"])  # type: ignore[list-item]


def test_a_raising_hook_is_logged_once_and_breaks_nothing(
    events: list[Event], caplog: pytest.LogCaptureFixture
) -> None:
    calls = 0

    def broken(event: Event) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("hook bug")

    remove = instrumentation.add_hook(broken)
    try:
        resolver = StaticResolver({NAME: ["10.0.0.1"]})
        with caplog.at_level(logging.ERROR, logger="headless_discovery"):
            for _ in range(3):
                assert len(resolve(NAME, port=80, resolver=resolver)) == 1
    finally:
        remove()
    assert calls == 3
    assert caplog.text.count("instrumentation hook") == 1
    assert len(events) == 3  # hooks after the broken one still ran


def test_discovery_hooks_see_changes_refreshes_and_staleness() -> None:
    mine: list[Event] = []
    resolver = ScriptedResolver(["10.0.0.1", "10.0.0.2"])
    clock = FakeClock()
    with Discovery(
        NAME, port=80, resolver=resolver, refresh=QUIET, hooks=[mine.append], clock=clock
    ) as pods:
        resolver.addresses = ["10.0.0.2", "10.0.0.3"]
        pods.refresh()
        pods.refresh()
        resolver.fail = True
        clock.advance(10)
        with pytest.raises(Exception, match="scripted timeout"):
            pods.refresh()
        picks_before = len(mine)
        for _ in range(100):
            pods.pick()
        assert len(mine) == picks_before  # the hot path emits nothing
    kinds = [type(e).__name__ for e in mine]
    assert kinds == [
        "LookupFinished",
        "EndpointsChanged",
        "RefreshFinished",
        "LookupFinished",
        "EndpointsChanged",
        "RefreshFinished",
        "LookupFinished",
        "RefreshFinished",
        "LookupFinished",
        "RefreshFinished",
        "StaleServed",
    ]
    first, second = (e for e in mine if isinstance(e, EndpointsChanged))
    assert [ep.address for ep in first.added] == ["10.0.0.1", "10.0.0.2"]
    assert [ep.address for ep in second.added] == ["10.0.0.3"]
    assert [ep.address for ep in second.removed] == ["10.0.0.1"]
    outcomes = [e.outcome for e in mine if isinstance(e, RefreshFinished)]
    assert outcomes == ["changed", "changed", "unchanged", "failed"]
    stale = mine[-1]
    assert isinstance(stale, StaleServed)
    assert (stale.age, stale.endpoints, stale.failures, stale.expired) == (10, 2, 1, False)


def test_an_empty_answer_is_a_change_to_no_endpoints(caplog: pytest.LogCaptureFixture) -> None:
    mine: list[Event] = []
    resolver = ScriptedResolver(["10.0.0.1"])
    with Discovery(NAME, port=80, resolver=resolver, refresh=QUIET, hooks=[mine.append]) as pods:
        resolver.addresses = None
        with caplog.at_level(logging.WARNING, logger="headless_discovery"):
            pods.refresh()
    change = [e for e in mine if isinstance(e, EndpointsChanged)][-1]
    assert not change.endpoints
    assert [ep.address for ep in change.removed] == ["10.0.0.1"]
    refreshed = [e for e in mine if isinstance(e, RefreshFinished)][-1]
    assert refreshed.outcome == "empty"
    assert isinstance(refreshed.error, NoEndpointsError)
    assert "has no endpoints now (1 removed)" in caplog.text


def test_log_records_carry_the_event_fields(caplog: pytest.LogCaptureFixture) -> None:
    resolver = ScriptedResolver(["10.0.0.1"])
    with (
        caplog.at_level(logging.INFO, logger="headless_discovery"),
        Discovery(NAME, port=80, resolver=resolver, refresh=QUIET),
    ):
        pass
    (record,) = [r for r in caplog.records if getattr(r, "hd_event", None) == "endpoints_changed"]
    assert record.service == QNAME  # type: ignore[attr-defined]
    assert (record.added, record.removed, record.endpoints) == (1, 0, 1)  # type: ignore[attr-defined]


def test_async_discovery_hooks_mirror_the_sync_ones() -> None:
    async def main() -> list[str]:
        mine: list[Event] = []
        resolver = ScriptedResolver(["10.0.0.1", "10.0.0.2"])
        async with AsyncDiscovery(
            NAME, port=80, resolver=resolver, refresh=QUIET, hooks=[mine.append]
        ) as pods:
            resolver.addresses = ["10.0.0.2", "10.0.0.3"]
            await pods.refresh()
        return [type(e).__name__ for e in mine]

    assert asyncio.run(main()) == [
        "LookupFinished",
        "EndpointsChanged",
        "RefreshFinished",
        "LookupFinished",
        "EndpointsChanged",
        "RefreshFinished",
    ]


def test_a_failed_lookup_logs_its_outcome_as_a_field(caplog: pytest.LogCaptureFixture) -> None:
    resolver = ScriptedResolver(["10.0.0.1"])
    with Discovery(NAME, port=80, resolver=resolver, refresh=QUIET) as pods:
        resolver.fail = True
        with (
            caplog.at_level(logging.DEBUG, logger="headless_discovery"),
            pytest.raises(Exception, match="scripted timeout"),
        ):
            pods.refresh()
    (stale,) = [r for r in caplog.records if getattr(r, "hd_event", None) == "stale_served"]
    assert stale.service == QNAME  # type: ignore[attr-defined]
    assert stale.outcome == "ResolverTimeoutError"  # type: ignore[attr-defined]
    assert (stale.endpoints, stale.failures, stale.expired) == (1, 1, False)  # type: ignore[attr-defined]


def test_a_retry_is_logged_with_its_fields(caplog: pytest.LogCaptureFixture) -> None:
    from headless_discovery import Endpoint
    from headless_discovery.instrumentation import RequestRetried, _emit

    error = ConnectionRefusedError("refused")
    with caplog.at_level(logging.INFO, logger="headless_discovery"):
        _emit(RequestRetried(QNAME, Endpoint("10.0.0.1", 80), 1, error, "httpx"))
    (record,) = [r for r in caplog.records if getattr(r, "hd_event", None) == "request_retried"]
    assert record.getMessage() == (
        f"{QNAME}: retrying on another pod after 10.0.0.1 failed (httpx, retry 1): refused"
    )
    assert (record.endpoint, record.attempt, record.client) == ("10.0.0.1", 1, "httpx")  # type: ignore[attr-defined]
    assert record.outcome == "ConnectionRefusedError"  # type: ignore[attr-defined]


def test_a_discovery_names_its_service() -> None:
    pods = Discovery(NAME, port=80, resolver=ScriptedResolver([]))
    assert pods.service is not None
    assert pods.service.fqdn == NAME
    assert Discovery(dns_name="cache.example.com", resolver=ScriptedResolver([])).service is None
