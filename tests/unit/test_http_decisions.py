"""The decisions the HTTP integrations share (integrations/_http.py), with literal data."""

from __future__ import annotations

import pytest

from headless_discovery import (
    ConfigurationError,
    Discovery,
    Endpoint,
    LeastOutstanding,
    NoEndpointsError,
    OutlierEjection,
    RoundRobin,
    ServiceName,
    StaticResolver,
    instrumentation,
)
from headless_discovery.integrations._http import (
    Attempts,
    Balancer,
    InFlight,
    Router,
    Sending,
    check_retries,
    check_statuses,
    nothing_to_pick,
)

SVC = ServiceName("api", "shop", "cluster.local")
A, B, C = Endpoint("10.0.0.1", 80), Endpoint("10.0.0.2", 80), Endpoint("10.0.0.3", 80)


@pytest.mark.parametrize(
    "host",
    ["api", "api.shop", "api.shop.svc", "api.shop.svc.cluster.local", "API.SHOP.", "api.shop.."],
)
def test_the_router_takes_every_name_of_the_service(host: str) -> None:
    assert Router(SVC, SVC.fqdn + ".").routes(host)


@pytest.mark.parametrize(
    "host", ["api.other", "api.shop.svc.cluster", "web.shop", "10.0.0.1", "", "api-shop"]
)
def test_the_router_leaves_other_hosts(host: str) -> None:
    assert not Router(SVC, SVC.fqdn + ".").routes(host)


def test_a_plain_dns_name_is_routed_alone() -> None:
    router = Router(None, "pool.example.com.")
    assert router.routes("pool.example.com")
    assert router.routes("Pool.Example.Com.")
    assert not router.routes("pool")


def test_retries_are_checked_at_their_limit() -> None:
    assert check_retries(0) == 0
    with pytest.raises(ConfigurationError, match="retries must be an int of at least 0, not -1"):
        check_retries(-1)
    with pytest.raises(ConfigurationError, match="not True"):
        check_retries(True)


def test_failure_statuses_are_checked_at_their_limits() -> None:
    assert check_statuses([100, 599, 503]) == {100, 503, 599}
    for status in (99, 600, "503"):
        with pytest.raises(ConfigurationError, match=f"holds {status!r}, which is not"):
            check_statuses([status])  # type: ignore[list-item]


def test_a_connect_failure_is_retried_whatever_the_method() -> None:
    attempts = Attempts("POST", 1, replayable=False)
    assert attempts.failed(A, "connect")
    assert attempts.attempt == 1
    assert not attempts.failed(B, "connect")  # retries spent


@pytest.mark.parametrize(
    ("method", "replayable", "retried"),
    [
        ("GET", True, True),
        ("PUT", True, True),
        ("DELETE", True, True),
        ("GET", False, False),
        ("POST", True, False),
        ("PATCH", True, False),
    ],
)
@pytest.mark.parametrize("failure", ["sent", "status"])
def test_a_request_that_may_have_arrived_is_retried_only_when_idempotent_and_replayable(
    method: str, replayable: bool, retried: bool, failure: str
) -> None:
    attempts = Attempts(method, 3, replayable=replayable)
    assert attempts.failed(A, failure) is retried  # type: ignore[arg-type]


def test_no_retries_means_none() -> None:
    assert not Attempts("GET", 0).failed(A, "connect")


def test_the_next_endpoint_is_never_one_already_tried() -> None:
    attempts = Attempts("GET", 2)
    attempts.failed(A, "connect")
    picks = iter([A, A, B])
    assert attempts.next_endpoint(lambda: next(picks), (A, B, C)) == B
    attempts.failed(B, "connect")
    # A strategy that keeps offering tried pods: the first untried in snapshot order.
    assert attempts.next_endpoint(lambda: A, (A, B, C)) == C
    attempts.failed(C, "connect")
    assert attempts.next_endpoint(lambda: A, (A, B, C)) is None


def test_in_flight_is_held_until_released_once() -> None:
    strategy = LeastOutstanding()
    release = InFlight(strategy).hold(A)
    assert release is not None
    assert strategy.in_flight(A) == 1
    release()
    release()
    assert strategy.in_flight(A) == 0
    assert InFlight(RoundRobin()).hold(A) is None  # nothing to count, nothing to release


def test_the_message_says_what_discovery_saw() -> None:
    error = NoEndpointsError("no endpoints to pick from")
    assert nothing_to_pick(error, 0, None) == (
        "no pod to connect to: no endpoints to pick from "
        "(discovery holds no endpoints; the last lookup succeeded)"
    )
    assert nothing_to_pick(error, 3, TimeoutError("lookup timed out")).endswith(
        "(discovery holds 3 endpoints; last lookup: lookup timed out)"
    )


def test_the_balancer_reports_failures_and_emits_a_retry_event() -> None:
    events: list[instrumentation.Event] = []
    strategy = OutlierEjection(RoundRobin(), consecutive_failures=1, max_ejected_fraction=0.5)
    resolver = StaticResolver({SVC.fqdn: ["10.0.0.1", "10.0.0.2", "10.0.0.3"]})
    with Discovery(
        SVC, port=80, resolver=resolver, strategy=strategy, hooks=[events.append]
    ) as discovery:
        balancer = Balancer(discovery, "httpx", retries=1)
        first = balancer.first()
        attempts = Attempts("GET", 1)
        error = OSError("refused")
        retry = balancer.failed(attempts, first, "connect", error)
        assert retry is not None
        assert retry != first
        assert all(balancer.first() != first for _ in range(6))  # ejected
        assert balancer.failed(attempts, retry, "connect", error) is None
    retried = [e for e in events if isinstance(e, instrumentation.RequestRetried)]
    assert retried == [instrumentation.RequestRetried(SVC.fqdn + ".", first, 1, error, "httpx")]


def test_the_balancer_hands_over_removed_pods_once() -> None:
    resolver = StaticResolver({SVC.fqdn: ["10.0.0.1", "10.0.0.2"]})
    with Discovery(SVC, port=80, resolver=resolver) as discovery:
        balancer = Balancer(discovery, "requests")
        balancer._changed((), (A, B), discovery.endpoints)
        balancer._changed((B,), (), discovery.endpoints)  # B came back
        assert balancer.take_removed() == {"10.0.0.1"}
        assert balancer.take_removed() == frozenset()
        balancer.unsubscribe()


def _sending(
    discovery: Discovery, method: str = "GET", statuses: tuple[int, ...] = (503,)
) -> Sending:
    balancer = Balancer(discovery, "httpx", retries=1, failure_statuses=statuses)
    return balancer.sending(balancer.first(), method, replayable=True)


def test_a_request_sent_is_in_flight_until_the_answer_and_a_failure_retries_elsewhere() -> None:
    strategy = LeastOutstanding()
    resolver = StaticResolver({SVC.fqdn: ["10.0.0.1", "10.0.0.2"]})
    with Discovery(SVC, port=80, resolver=resolver, strategy=strategy) as discovery:
        sending = _sending(discovery)
        first = sending.endpoint
        sending.begin()
        assert strategy.in_flight(first) == 1
        assert sending.failed("connect", OSError("refused")) is True
        assert strategy.in_flight(first) == 0  # the failed attempt is over
        assert sending.endpoint != first
        sending.begin()
        assert strategy.in_flight(sending.endpoint) == 1
        assert sending.answered(200) is False  # a success: nothing to retry
        assert sending.release is not None  # the caller's response holds the count


def test_a_failure_status_retried_ends_the_count_and_one_not_retried_keeps_it() -> None:
    strategy = LeastOutstanding()
    resolver = StaticResolver({SVC.fqdn: ["10.0.0.1", "10.0.0.2"]})
    with Discovery(SVC, port=80, resolver=resolver, strategy=strategy) as discovery:
        sending = _sending(discovery)
        first = sending.endpoint
        sending.begin()
        assert sending.answered(503) is True
        assert sending.failed("status", OSError("503")) is True
        assert strategy.in_flight(first) == 0
        second = sending.endpoint
        sending.begin()
        assert sending.answered(503) is True
        assert sending.failed("status", OSError("503")) is False  # retries spent
        assert strategy.in_flight(second) == 1  # the response goes to the caller
        assert sending.endpoint == second


def test_a_failure_that_is_not_the_pods_ends_the_count_and_is_not_retried() -> None:
    strategy = LeastOutstanding()
    resolver = StaticResolver({SVC.fqdn: ["10.0.0.1", "10.0.0.2"]})
    with Discovery(SVC, port=80, resolver=resolver, strategy=strategy) as discovery:
        sending = _sending(discovery, method="POST")
        sending.begin()
        assert sending.failed(None, OSError("pool timeout")) is False
        assert strategy.in_flight(sending.endpoint) == 0
        sending.begin()
        assert sending.failed("sent", OSError("reset")) is False  # POST: may have arrived
        assert strategy.in_flight(sending.endpoint) == 0
