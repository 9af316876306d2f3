"""The pure decisions of the gRPC integration, fed literal data: no grpc, no server."""

from __future__ import annotations

import pytest

from headless_discovery import ConfigurationError, Discovery, Endpoint, NoEndpointsError
from headless_discovery.integrations._grpc_core import (
    Attempts,
    Pool,
    hash_key,
    judge,
    no_pod_details,
    subchannel_options,
    subchannel_target,
)

A, B, C = (Endpoint(f"10.0.0.{i}", 50051) for i in (1, 2, 3))


def test_judge_reports_success_on_ok_and_failure_on_unavailable_before_a_response() -> None:
    assert judge(ok=True, unavailable=False, responded=False) == "success"
    assert judge(ok=False, unavailable=True, responded=False) == "failure"
    assert judge(ok=False, unavailable=True, responded=True) is None
    assert judge(ok=False, unavailable=False, responded=False) is None  # the application's


def test_attempts_retry_up_to_retries_then_stop() -> None:
    attempts = Attempts(retries=1, timeout=None, now=0.0)
    attempts.tried.append(A)
    assert attempts.retry(True, [A, B, C], now=1.0)
    attempts.tried.append(B)
    assert not attempts.retry(True, [A, B, C], now=1.0)  # one past the limit
    assert attempts.attempt == 2


def test_attempts_retry_only_unavailable_and_only_with_an_untried_pod() -> None:
    attempts = Attempts(retries=5, timeout=None, now=0.0)
    attempts.tried.append(A)
    assert not attempts.retry(False, [A, B], now=0.0)
    assert not attempts.retry(True, [A], now=0.0)
    assert attempts.retry(True, [A, B], now=0.0)


def test_retries_0_never_retries() -> None:
    attempts = Attempts(retries=0, timeout=None, now=0.0)
    attempts.tried.append(A)
    assert not attempts.retry(True, [A, B, C], now=0.0)


def test_retries_share_the_deadline() -> None:
    attempts = Attempts(retries=3, timeout=2.0, now=10.0)
    assert attempts.timeout(10.5) == 1.5
    attempts.tried.append(A)
    assert attempts.retry(True, [A, B], now=11.99)
    assert not attempts.retry(True, [A, B], now=12.0)  # the deadline itself: no time left
    assert attempts.timeout(13.0) == 0.0
    assert Attempts(retries=1, timeout=None, now=0.0).timeout(99.0) is None


def test_untried_is_the_first_pod_of_the_snapshot_not_tried() -> None:
    attempts = Attempts(retries=2, timeout=None, now=0.0)
    attempts.tried.extend([A, C])
    assert attempts.fresh(B)
    assert not attempts.fresh(A)
    assert attempts.untried([A, B, C]) == B
    attempts.tried.append(B)
    assert attempts.untried([A, B, C]) is None


def test_hash_key_reads_the_metadata_entry_without_case() -> None:
    metadata = [("x-other", "no"), ("x-user", "alice")]
    assert hash_key(metadata, "X-User") == "alice"
    assert hash_key([("x-user-bin", b"\xff")], "x-user-bin") == "\xff"
    assert hash_key(metadata, "x-missing") is None
    assert hash_key(None, "x-user") is None
    assert hash_key(metadata, None) is None


def test_subchannel_target_brackets_ipv6_and_needs_a_port() -> None:
    assert subchannel_target(A) == "10.0.0.1:50051"
    assert subchannel_target(Endpoint("fd00::5", 50051)) == "[fd00::5]:50051"
    with pytest.raises(ConfigurationError, match=r"10\.0\.0\.1 has no port: give the discovery"):
        subchannel_target(Endpoint("10.0.0.1"))


def test_tls_options_name_the_service_and_keep_what_the_caller_set() -> None:
    fqdn = "api.shop.svc.cluster.local"
    assert subchannel_options([("grpc.x", 1)], fqdn, secure=False) == (("grpc.x", 1),)
    assert subchannel_options([], fqdn, secure=True) == (
        ("grpc.ssl_target_name_override", fqdn),
        ("grpc.default_authority", fqdn),
    )
    mine = [("grpc.default_authority", "mine")]
    assert subchannel_options(mine, fqdn, secure=True) == (
        ("grpc.default_authority", "mine"),
        ("grpc.ssl_target_name_override", fqdn),
    )


def test_no_pod_details_say_what_dns_said() -> None:
    error = NoEndpointsError("there are no endpoints")
    assert no_pod_details("a.b.svc.cluster.local", error, None) == (
        "no ready pod of a.b.svc.cluster.local to send the RPC to; there are no endpoints"
    )
    dns = NoEndpointsError("a.b.svc.cluster.local. does not exist (NXDOMAIN)")
    assert no_pod_details("a.b.svc.cluster.local", error, dns).endswith(
        "; DNS said: a.b.svc.cluster.local. does not exist (NXDOMAIN)"
    )


class Made:
    """Channels as the pool sees them: made and closed by the driver."""

    def __init__(self) -> None:
        self.made: list[Endpoint] = []

    def __call__(self, endpoint: Endpoint) -> str:
        self.made.append(endpoint)
        return f"channel {endpoint.address}"


def test_the_pool_opens_a_subchannel_per_pod_and_closes_those_gone() -> None:
    made = Made()
    pool: Pool[str] = Pool(made, live=lambda ep: True)
    assert pool.update([A, B]) == []
    assert sorted(e.address for e in made.made) == ["10.0.0.1", "10.0.0.2"]
    assert pool.update([B, C]) == ["channel 10.0.0.1"]
    assert len(pool) == 2


def test_a_pod_gone_keeps_its_subchannel_until_its_last_call_ends() -> None:
    pool: Pool[str] = Pool(Made(), live=lambda ep: True)
    pool.update([A, B])
    first, second = pool.begin(A), pool.begin(A)
    assert pool.update([B]) == []  # draining: two calls in flight
    assert pool.end(first) is None
    assert pool.end(second) == "channel 10.0.0.1"
    assert len(pool) == 1


def test_a_pod_back_before_its_last_call_ended_is_not_closed() -> None:
    pool: Pool[str] = Pool(Made(), live=lambda ep: True)
    pool.update([A])
    call = pool.begin(A)
    pool.update([])
    pool.update([A])
    assert pool.end(call) is None
    assert len(pool) == 1


def test_a_pick_from_an_old_snapshot_gets_a_subchannel_for_that_call_only() -> None:
    made = Made()
    pool: Pool[str] = Pool(made, live=lambda ep: ep != C)
    pool.update([A])
    entry = pool.begin(C)
    assert entry.draining
    assert pool.end(entry) == "channel 10.0.0.3"
    assert len(pool) == 1
    live = pool.begin(A)
    assert not live.draining
    assert pool.end(live) is None


def test_clear_returns_every_subchannel() -> None:
    pool: Pool[str] = Pool(Made(), live=lambda ep: True)
    pool.update([A, B])
    assert sorted(pool.clear()) == ["channel 10.0.0.1", "channel 10.0.0.2"]
    assert len(pool) == 0


def test_discovery_channel_refuses_negative_retries() -> None:
    from headless_discovery import StaticResolver
    from headless_discovery.integrations.grpc import discovery_channel

    pods = Discovery(dns_name="x.example", port=1, resolver=StaticResolver({"x.example": []}))
    with pytest.raises(ConfigurationError, match=r"retries must be an integer >= 0, not -1"):
        discovery_channel(pods, retries=-1)
    pods.close()
