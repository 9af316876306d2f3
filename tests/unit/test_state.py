"""The refresh state and the start-up gate, driven with literal outcomes and times."""

from __future__ import annotations

import math
import random

import pytest

from headless_discovery import (
    ConfigurationError,
    DiscoveryError,
    Endpoint,
    NoEndpointsError,
    RefreshPolicy,
    Resolution,
    ResolverTimeoutError,
    ServiceNotFoundError,
    StaleEndpointsError,
    WaitTimeoutError,
)
from headless_discovery.instrumentation import EndpointsChanged, RefreshFinished, StaleServed
from headless_discovery.state import RefreshState, Waiter

NAME = "api.shop.svc.cluster.local."
POLICY = RefreshPolicy(jitter=0.0, max_stale=30.0, backoff_base=1.0, backoff_max=8.0)


def snapshot(*addresses: str, ttl: float = 5.0) -> Resolution:
    return Resolution.from_endpoints(NAME, [Endpoint(a, 80) for a in addresses], ttl=ttl)


POLICY_OLD = RefreshPolicy(
    jitter=0.0, max_stale=30.0, backoff_base=1.0, backoff_max=8.0, cache_aware=False
)


def started(**kwargs: object) -> RefreshState:
    state = RefreshState(
        NAME,
        POLICY_OLD,
        rng=random.Random(1),
        clock=lambda: 0.0,
        **kwargs,  # type: ignore[arg-type]
    )
    assert state.start()
    return state


def timeout() -> ResolverTimeoutError:
    return ResolverTimeoutError("no answer", name=NAME, rdtype="A")


def test_an_answer_replaces_the_snapshot_and_names_the_change() -> None:
    state = started()
    applied = state.apply(snapshot("10.0.0.1", "10.0.0.2"), state.begin(), 100.0)
    assert applied.delay == 5.0  # the TTL, no jitter
    assert applied.new is state.snapshot
    assert isinstance(applied.changed, EndpointsChanged)
    assert len(applied.changed.added) == 2
    assert applied.events == (applied.changed, RefreshFinished(NAME, "changed", 2))
    same = state.apply(snapshot("10.0.0.2", "10.0.0.1", ttl=3), state.begin(), 105.0)
    assert same.new is same.old  # same pods: the snapshot is kept
    assert same.changed is None
    assert same.events == (RefreshFinished(NAME, "unchanged", 2),)
    assert same.delay == 3.0


def test_an_older_lookup_finishing_last_is_not_news() -> None:
    state = started()
    first, second = state.begin(), state.begin()
    state.apply(snapshot("10.0.0.2"), second, 100.0)
    late = state.apply(snapshot("10.0.0.1"), first, 101.0)
    assert late.new is late.old
    assert late.delay == POLICY_OLD.min_interval
    assert [ep.address for ep in state.snapshot] == ["10.0.0.2"]


def test_nxdomain_empties_the_snapshot_unless_empty_is_an_error() -> None:
    gone = ServiceNotFoundError("no pods", name=NAME, nameserver="10.96.0.10:53")
    state = started()
    state.apply(snapshot("10.0.0.1"), state.begin(), 100.0)
    applied = state.apply(gone, state.begin(), 105.0)
    assert not state.snapshot
    assert state.snapshot.nameserver == "10.96.0.10:53"
    assert applied.events[-1] == RefreshFinished(NAME, "empty", 0, gone)
    assert state.failure is None  # picks raise NoEndpointsError from the strategy
    strict = started(empty_is_error=True)
    strict.apply(snapshot("10.0.0.1"), strict.begin(), 100.0)
    strict.apply(gone, strict.begin(), 105.0)
    assert len(strict.snapshot) == 1
    assert strict.raises(gone)
    assert not state.raises(gone)


def test_failures_before_any_answer_make_picks_raise_with_the_cause() -> None:
    state = started()
    applied = state.apply(timeout(), state.begin(), 100.0)
    assert applied.events == (RefreshFinished(NAME, "failed", 0, state.last_error),)
    assert 0.5 <= applied.delay <= 1.0  # equal jitter of backoff_base
    assert state.failure is not None
    with pytest.raises(NoEndpointsError, match=r"no endpoints of .* yet: the lookup failed"):
        raise state.failure()


def test_stale_endpoints_are_served_then_refused_past_max_stale() -> None:
    state = started(stale_policy="fail")
    state.apply(snapshot("10.0.0.1"), state.begin(), 100.0)
    within = state.apply(timeout(), state.begin(), 110.0)
    stale = within.events[-1]
    assert isinstance(stale, StaleServed)
    assert (stale.age, stale.endpoints, stale.expired, stale.first) == (10.0, 1, False, True)
    assert state.failure is None
    again = state.apply(timeout(), state.begin(), 125.0)
    assert isinstance(again.events[-1], StaleServed)
    assert again.events[-1].first is False
    # The wake-up comes at the staleness deadline even when the backoff is longer.
    assert again.delay <= 5.0
    past = state.apply(timeout(), state.begin(), 131.0)
    expired = past.events[-1]
    assert isinstance(expired, StaleServed)
    assert (expired.expired, expired.first, expired.failures) == (True, True, 3)
    assert state.failure is not None
    with pytest.raises(StaleEndpointsError, match=r"31 s old, past max_stale \(30 s\)"):
        raise state.failure()
    later = state.apply(timeout(), state.begin(), 140.0)
    assert later.events[-1].first is False  # type: ignore[union-attr]


def test_serve_policy_keeps_serving_past_max_stale() -> None:
    state = started(stale_policy="serve")
    state.apply(snapshot("10.0.0.1"), state.begin(), 100.0)
    state.apply(timeout(), state.begin(), 200.0)
    assert state.failure is None
    assert len(state.snapshot) == 1


def test_unknown_stale_policy_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="stale_policy must be 'serve' or 'fail'"):
        RefreshState(NAME, POLICY, stale_policy="keep", rng=random.Random(), clock=float)  # type: ignore[arg-type]


def test_life_cycle_start_once_and_close_once() -> None:
    state = RefreshState(NAME, POLICY, rng=random.Random(), clock=float)
    assert state.failure is not None
    with pytest.raises(DiscoveryError, match="is not started"):
        raise state.failure()
    assert state.start()
    assert not state.start()
    assert state.close()
    assert not state.close()
    with pytest.raises(DiscoveryError, match="is closed"):
        state.start()
    closed = state.apply(snapshot("10.0.0.1"), state.begin(), 1.0)
    assert closed.new is closed.old
    assert closed.delay == POLICY_OLD.max_interval


def test_the_waiter_backs_off_reports_and_gives_up() -> None:
    state = started()
    waiter = Waiter(state, 2, 3.0, now=0.0)
    delays: list[float] = []
    now = 0.0
    while now < 3.0 - 1e-9:
        delay, report = waiter.step(now)
        assert report is None  # the first report is due after 5 s
        assert delay is not None
        delays.append(delay)
        now += delay
    with pytest.raises(WaitTimeoutError, match="waiting for 2 endpoints") as info:
        waiter.step(now)
    # Doubling from 0.1 s, the last wait cut to the deadline.
    assert delays == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.5])
    assert (info.value.wanted, info.value.seen) == (2, 0)


def test_the_waiter_is_done_when_enough_endpoints_are_known() -> None:
    state = started()
    state.apply(snapshot("10.0.0.1", "10.0.0.2"), state.begin(), 0.0)
    assert Waiter(state, 2, 0.0, now=0.0).step(0.0) == (None, None)


def test_the_waiter_reports_progress_every_five_seconds() -> None:
    state = started()
    state.apply(snapshot("10.0.0.1"), state.begin(), 0.0)
    waiter = Waiter(state, 3, 60.0, now=0.0)
    assert waiter.step(4.9)[1] is None
    assert waiter.step(5.0)[1] == "have 1 of 3 endpoints (the answer was short)"
    assert waiter.step(9.9)[1] is None


@pytest.mark.parametrize(
    ("wanted", "timeout", "match"),
    [
        (0, 1.0, "count of at least 1, not 0"),
        (True, 1.0, "count of at least 1, not True"),
        (1, -0.1, "timeout >= 0"),
    ],
)
def test_the_waiter_refuses_bad_arguments(wanted: object, timeout: float, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        Waiter(started(), wanted, timeout, now=0.0)  # type: ignore[arg-type]
    assert Waiter(started(), 1, 0.0, now=0.0).wanted == 1  # the limits themselves pass


def test_stats_count_refreshes_by_outcome_and_stale_time() -> None:
    state = started()
    fresh = state.stats(50.0)
    assert (fresh.endpoints, fresh.refreshes, fresh.last_success, fresh.age) == (0, 0, None, None)
    assert (fresh.staleness, fresh.last_error, fresh.ejected) == (0.0, None, frozenset())
    # A failure before any answer: nothing is stale, since nothing is served.
    state.apply(timeout(), state.begin(), 90.0)
    assert (state.stats(95.0).failures, state.stats(95.0).staleness) == (1, 0.0)
    state.apply(snapshot("10.0.0.1", "10.0.0.2"), state.begin(), 100.0)
    state.apply(snapshot("10.0.0.1", "10.0.0.2"), state.begin(), 105.0)
    state.apply(timeout(), state.begin(), 110.0)
    state.apply(timeout(), state.begin(), 120.0)
    stale = state.stats(125.0)
    assert (stale.refreshes_changed, stale.refreshes_unchanged) == (1, 1)
    assert (stale.refreshes_empty, stale.refreshes_failed, stale.refreshes) == (0, 3, 5)
    assert (stale.endpoints, stale.failures) == (2, 2)
    assert (stale.last_success, stale.age, stale.staleness) == (105.0, 20.0, 20.0)
    assert isinstance(stale.last_error, ResolverTimeoutError)
    gone = ServiceNotFoundError("no pods", name=NAME)
    state.apply(gone, state.begin(), 130.0)
    empty = state.stats(131.0)
    # NXDOMAIN is an answer: fresh, empty, with the error that says why.
    assert (empty.endpoints, empty.refreshes_empty, empty.failures) == (0, 1, 0)
    assert (empty.age, empty.staleness, empty.last_error) == (1.0, 0.0, gone)
    ejected = frozenset({Endpoint("10.0.0.1", 80)})
    assert state.stats(131.0, ejected).ejected == ejected


def test_a_lookup_overtaken_by_a_newer_one_is_not_counted() -> None:
    state = started()
    first, second = state.begin(), state.begin()
    state.apply(snapshot("10.0.0.2"), second, 100.0)
    state.apply(snapshot("10.0.0.1"), first, 101.0)
    assert state.stats(101.0).refreshes == 1


def test_a_waiter_on_a_closed_discovery_is_refused() -> None:
    state = started()
    state.close()
    with pytest.raises(
        DiscoveryError, match=r"^discovery of api\.shop\.svc\.cluster\.local\. is closed$"
    ):
        Waiter(state, 1, 1.0, now=0.0)
    with pytest.raises(ConfigurationError, match=r"^wait_for needs a timeout >= 0 seconds$"):
        Waiter(started(), 1, float("nan"), now=0.0)
    with pytest.raises(
        ConfigurationError, match=r"^wait_for needs a count of at least 1, not 1\.0$"
    ):
        Waiter(started(), 1.0, 1.0, now=0.0)  # type: ignore[arg-type]


def test_a_started_state_has_no_failure_and_an_empty_snapshot_of_its_name() -> None:
    state = RefreshState(NAME, POLICY, rng=random.Random(1), clock=lambda: 0.0)
    assert (state.started, state.closed) == (False, False)
    assert state.snapshot == Resolution(NAME, ())
    assert state.snapshot.name == NAME
    assert state.start()
    assert state.failure is None
    assert (state.started, state.closed) == (True, False)


def test_an_empty_answer_is_an_empty_snapshot_of_the_name_after_the_negative_interval() -> None:
    state = started()
    state.apply(snapshot("10.0.0.1"), state.begin(), 100.0)
    nx = ServiceNotFoundError("gone", name=NAME, rdtype="A", nameserver="10.96.0.10:53")
    applied = state.apply(nx, state.begin(), 101.0)
    assert applied.delay == POLICY_OLD.negative_interval
    assert (state.snapshot.name, len(state.snapshot), state.snapshot.nameserver) == (
        NAME,
        0,
        "10.96.0.10:53",
    )


def test_stale_events_carry_every_figure() -> None:
    state = started(stale_policy="fail")
    state.apply(snapshot("10.0.0.1", "10.0.0.2"), state.begin(), 100.0)
    error = timeout()
    within = state.apply(error, state.begin(), 110.0)
    assert within.events == (
        RefreshFinished(NAME, "failed", 2, error, stale=True),
        StaleServed(NAME, 10.0, error, 2, 1, expired=False, first=True),
    )
    past = state.apply(error, state.begin(), 131.0)
    assert past.events == (
        RefreshFinished(NAME, "failed", 2, error, stale=True),
        StaleServed(NAME, 31.0, error, 2, 2, expired=True, first=True),
    )
    assert state.failure is not None
    with pytest.raises(StaleEndpointsError, match=r"are 31 s old, past max_stale") as info:
        raise state.failure()
    assert info.value.name == NAME


@pytest.mark.parametrize(("age", "expired"), [(29.5, False), (30.0, True)])
def test_the_endpoints_expire_at_max_stale_exactly(age: float, expired: bool) -> None:
    state = started(stale_policy="fail")
    state.apply(snapshot("10.0.0.1"), state.begin(), 100.0)
    applied = state.apply(timeout(), state.begin(), 100.0 + age)
    event = applied.events[-1]
    assert isinstance(event, StaleServed)
    assert event.expired is expired
    assert (state.failure is not None) is expired


def test_an_infinite_max_stale_serves_for_as_long_as_lookups_fail() -> None:
    policy = RefreshPolicy(jitter=0.0, max_stale=math.inf, backoff_base=1.0, backoff_max=8.0)
    state = RefreshState(NAME, policy, stale_policy="fail", rng=random.Random(1), clock=float)
    assert state.start()
    state.apply(snapshot("10.0.0.1"), state.begin(), 100.0)
    applied = state.apply(timeout(), state.begin(), 100.0 + 86_400 * 365)
    event = applied.events[-1]
    assert isinstance(event, StaleServed)
    assert event.expired is False
    assert state.failure is None
    assert 0 < applied.delay <= 1.0  # the backoff: no staleness deadline to wake up for


def test_a_failure_before_any_answer_names_the_lookup() -> None:
    state = started()
    state.apply(timeout(), state.begin(), 100.0)
    assert state.failure is not None
    with pytest.raises(
        NoEndpointsError,
        match=r"^no endpoints of api\.shop\.svc\.cluster\.local\. yet: the lookup failed: "
        r"no answer$",
    ) as info:
        raise state.failure()
    assert info.value.name == NAME


@pytest.mark.parametrize(
    ("addresses", "next_family"),
    [(("10.0.0.1",), "ipv4"), (("fd00::1",), "ipv6"), (("10.0.0.1", "fd00::1"), "any")],
)
def test_an_answer_of_one_family_backs_the_other_off(
    addresses: tuple[str, ...], next_family: str
) -> None:
    state = RefreshState(NAME, POLICY, rng=random.Random(1), clock=lambda: 0.0)
    state.start()
    ticket = state.begin()
    assert ticket.family == "any"
    state.apply(snapshot(*addresses), ticket, 0.0)
    assert state.begin().family == next_family


def test_the_wait_error_names_the_service_and_counts_in_the_singular() -> None:
    state = started()
    waiter = Waiter(state, 1, 0.0, now=0.0)
    with pytest.raises(
        WaitTimeoutError, match=r"^gave up after 0 s waiting for 1 endpoint of "
    ) as info:
        waiter.step(0.0)
    assert str(info.value) == (
        "gave up after 0 s waiting for 1 endpoint of api.shop.svc.cluster.local.: have 0 of 1 "
        "endpoints (the answer was short). Check the Service name and namespace (kubectl get "
        "svc -n <namespace>), that it is headless (clusterIP: None), that its pods are ready "
        "(kubectl get pods), and set publishNotReadyAddresses: true if peers must find each "
        "other before they are ready"
    )
    assert (info.value.name, info.value.wanted, info.value.seen) == (NAME, 1, 0)


def test_the_waiter_backs_off_to_two_seconds_at_most() -> None:
    waiter = Waiter(started(), 5, 600.0, now=0.0)
    now, delays = 0.0, []
    for _ in range(25):
        delay, _report = waiter.step(now)
        assert delay is not None
        delays.append(delay)
        now += delay
    assert delays[:5] == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6])
    assert delays[5:] == [2.0] * 20


def test_a_second_stale_failure_counts_two() -> None:
    state = started()
    state.apply(snapshot("10.0.0.1"), state.begin(), 100.0)
    error = timeout()
    state.apply(error, state.begin(), 105.0)
    again = state.apply(error, state.begin(), 110.0)
    assert again.events[-1] == StaleServed(NAME, 10.0, error, 1, 2, expired=False, first=False)
