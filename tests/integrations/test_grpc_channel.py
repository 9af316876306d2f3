"""discovery_channel against real gRPC servers as pods and a real BIND 9 changed at run time.

tests/integrations/test_grpc_aio_channel.py mirrors this file for aio_discovery_channel.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Iterator

import grpc
import pytest
import trustme

from headless_discovery import (
    ConsistentHash,
    Discovery,
    DnsResolver,
    Endpoint,
    LeastOutstanding,
    RefreshPolicy,
    RoundRobin,
    StaticResolver,
    instrumentation,
)
from headless_discovery.integrations.grpc import discovery_channel
from tests.harness.bind import BindServer
from tests.harness.requirements import require_named
from tests.integrations.grpc_support import (
    FQDN,
    NAMESPACE,
    SERVICE,
    EchoStub,
    Fleet,
    PodServer,
    ProcessPod,
    echo_cluster,
    free_port,
    wait_until,
)

TTL = 1
FAST = RefreshPolicy(min_interval=0.5, max_interval=TTL)


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def bind_fleet(port: int) -> Iterator[tuple[BindServer, Fleet]]:
    """Three pods serving gRPC, and BIND serving their Service with a TTL of 1 s."""
    require_named()
    cluster, service = echo_cluster(3, TTL, port)
    fleet = Fleet(cluster, service)
    try:
        with BindServer(cluster) as bind:
            yield bind, fleet
    finally:
        fleet.stop_all()


def discovery_of(bind: BindServer, port: int) -> Discovery:
    resolver = DnsResolver([bind.nameserver], bind.port, timeout=0.3, lifetime=0.6)
    return Discovery(SERVICE, namespace=NAMESPACE, port=port, resolver=resolver, refresh=FAST)


def static_discovery(addresses: list[str], port: int, **kwargs: object) -> Discovery:
    resolver = StaticResolver({FQDN: addresses})
    return Discovery(SERVICE, namespace=NAMESPACE, port=port, resolver=resolver, **kwargs)  # type: ignore[arg-type]


def load(
    stub: EchoStub, threads: int, stop: threading.Event
) -> tuple[list[Exception], Counter[bytes]]:
    """Unary calls from ``threads`` threads until ``stop``: the errors and answers seen."""
    errors: list[Exception] = []
    answers: Counter[bytes] = Counter()
    lock = threading.Lock()

    def worker() -> None:
        while not stop.is_set():
            try:
                answer = stub.Who(b"", timeout=5)
            except grpc.RpcError as exc:
                with lock:
                    errors.append(exc)
            else:
                with lock:
                    answers[answer] += 1

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    for w in workers:
        w.start()
    load.workers = workers  # type: ignore[attr-defined]
    return errors, answers


def join(stop: threading.Event) -> None:
    stop.set()
    for w in load.workers:  # type: ignore[attr-defined]
        w.join(10)


# -- spread, and the whole Channel interface ----------------------------------------------------


@pytest.mark.dns
def test_300_unary_rpcs_spread_over_3_pods_within_3_percent(
    bind_fleet: tuple[BindServer, Fleet], port: int
) -> None:
    bind, fleet = bind_fleet
    with discovery_of(bind, port) as pods, discovery_channel(pods) as channel:
        stub = EchoStub(channel)
        answers = Counter(stub.Who(b"", timeout=5) for _ in range(300))
    assert sorted(answers) == sorted(a.encode() for a in fleet.servers)
    for count in answers.values():
        assert abs(count - 100) <= 3, answers
    assert fleet.hits() == Counter({a.decode(): n for a, n in answers.items()})


@pytest.mark.dns
def test_every_kind_of_call_works_through_a_stub(
    bind_fleet: tuple[BindServer, Fleet], port: int
) -> None:
    bind, fleet = bind_fleet
    with discovery_of(bind, port) as pods, discovery_channel(pods) as channel:
        stub = EchoStub(channel)
        response, call = stub.Who.with_call(b"", timeout=5, metadata=[("x-test", "1")])
        assert call.code() is grpc.StatusCode.OK
        assert response.decode() in fleet.servers
        future = stub.Who.future(b"", timeout=5)
        assert future.result(timeout=5).decode() in fleet.servers
        assert future.code() is grpc.StatusCode.OK
        assert future.done()
        assert not future.running()
        done: list[object] = []
        future.add_done_callback(done.append)
        assert done == [future]
        counted = list(stub.Count(b"3", timeout=5))
        assert [m.split()[1] for m in counted] == [b"0", b"1", b"2"]
        assert stub.Sum(iter([b"1", b"2", b"39"]), timeout=5) == b"42"
        assert stub.Sum.future(iter([b"2"]), timeout=5).result() == b"2"
        assert stub.Sum.with_call(iter([b"5"]), timeout=5)[0] == b"5"
        assert list(stub.Echo(iter([b"a", b"b"]), timeout=5)) == [b"a", b"b"]


@pytest.mark.dns
def test_connectivity_is_ready_once_a_subchannel_is(
    bind_fleet: tuple[BindServer, Fleet], port: int
) -> None:
    bind, _ = bind_fleet
    states: list[grpc.ChannelConnectivity] = []
    with discovery_of(bind, port) as pods, discovery_channel(pods) as channel:
        channel.subscribe(states.append, try_to_connect=True)
        wait_until(lambda: grpc.ChannelConnectivity.READY in states, 5, "READY")
        grpc.channel_ready_future(channel).result(timeout=5)
        channel.unsubscribe(states.append)
    assert states[-1] is grpc.ChannelConnectivity.READY


def test_a_future_can_be_cancelled(port: int) -> None:
    server = PodServer("127.77.0.10", port)
    try:
        with static_discovery(["127.77.0.10"], port) as pods, discovery_channel(pods) as channel:
            future = EchoStub(channel).Slow.future(b"2", timeout=5)
            time.sleep(0.1)
            assert future.cancel()
            assert future.cancelled()
            assert future.code() is grpc.StatusCode.CANCELLED
            with pytest.raises(grpc.FutureCancelledError):
                future.result(timeout=5)
    finally:
        server.stop(0)


def test_a_closed_channel_refuses_calls(port: int) -> None:
    with static_discovery(["127.77.0.10"], port) as pods:
        channel = discovery_channel(pods)
        stub = EchoStub(channel)
        channel.close()
        with pytest.raises(ValueError, match="Cannot invoke RPC on closed channel"):
            stub.Who(b"")


# -- outcomes: retries, reports, strategies -------------------------------------------------------


class Reporting(RoundRobin):
    """Round robin that records what the channel reports (a FailureTracking strategy)."""

    def __init__(self) -> None:
        super().__init__()
        self.failures: list[Endpoint] = []
        self.successes: list[Endpoint] = []

    def report_failure(self, endpoint: Endpoint) -> None:
        self.failures.append(endpoint)

    def report_success(self, endpoint: Endpoint) -> None:
        self.successes.append(endpoint)


def test_unavailable_is_retried_on_a_pod_not_tried_and_reported(port: int) -> None:
    """Pods .10 and .11 are down, .12 is up: with retries=2 every call succeeds, each dead
    pod is reported, and each retry is an event naming the pod that failed."""
    server = PodServer("127.77.0.12", port)
    events: list[instrumentation.RequestRetried] = []
    strategy = Reporting()
    try:
        with (
            static_discovery(
                ["127.77.0.10", "127.77.0.11", "127.77.0.12"],
                port,
                strategy=strategy,
                hooks=[
                    lambda e: (
                        events.append(e) if isinstance(e, instrumentation.RequestRetried) else None
                    )
                ],
            ) as pods,
            discovery_channel(pods, retries=2) as channel,
        ):
            stub = EchoStub(channel)
            assert {stub.Who(b"", timeout=5) for _ in range(6)} == {b"127.77.0.12"}
        assert server.hits == 6
        assert {e.endpoint.address for e in events} == {"127.77.0.10", "127.77.0.11"}
        assert {e.client for e in events} == {"grpc"}
        assert {e.name for e in events} == {FQDN}
        assert all(isinstance(e.error, grpc.RpcError) for e in events)
        assert {f.address for f in strategy.failures} == {"127.77.0.10", "127.77.0.11"}
        assert [s.address for s in strategy.successes] == ["127.77.0.12"] * 6
        # Each call tries a pod at most once: never more retries than calls times pods.
        assert max(e.attempt for e in events) <= 2
    finally:
        server.stop(0)


def test_retries_0_fails_the_call_on_a_dead_pod(port: int) -> None:
    with (
        static_discovery(["127.77.0.10"], port) as pods,
        discovery_channel(pods, retries=0) as channel,
        pytest.raises(grpc.RpcError) as caught,
    ):
        EchoStub(channel).Who(b"", timeout=5)
    assert caught.value.code() is grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
    assert "127.77.0.10" in caught.value.details()  # type: ignore[attr-defined]


def test_retries_never_go_back_to_a_pod_tried_for_the_call(port: int) -> None:
    """Both pods dead, retries=5: two tries, then the call fails with the last error."""
    events: list[instrumentation.Event] = []
    with (
        static_discovery(["127.77.0.10", "127.77.0.11"], port, hooks=[events.append]) as pods,
        discovery_channel(pods, retries=5) as channel,
        pytest.raises(grpc.RpcError) as caught,
    ):
        EchoStub(channel).Who(b"", timeout=5)
    assert caught.value.code() is grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
    retried = [e for e in events if isinstance(e, instrumentation.RequestRetried)]
    assert [e.attempt for e in retried] == [1]


def test_streamed_requests_are_never_retried(port: int) -> None:
    """Pod .10 is down, .11 is up, retries=2: a stream-unary call in each of its forms that
    lands on .10 fails UNAVAILABLE (its requests are gone), is reported, and is not retried."""
    server = PodServer("127.77.0.11", port)
    events: list[instrumentation.Event] = []
    strategy = Reporting()
    forms = {
        "call": lambda sum_: sum_(iter([b"1"]), timeout=5),
        "with_call": lambda sum_: sum_.with_call(iter([b"1"]), timeout=5)[0],
        "future": lambda sum_: sum_.future(iter([b"1"]), timeout=5).result(timeout=5),
    }
    try:
        with (
            static_discovery(
                ["127.77.0.10", "127.77.0.11"], port, strategy=strategy, hooks=[events.append]
            ) as pods,
            discovery_channel(pods, retries=2) as channel,
        ):
            stub = EchoStub(channel)
            for name, form in forms.items():
                outcomes: list[object] = []
                for _ in range(2):  # round robin: one call on each pod
                    try:
                        outcomes.append(form(stub.Sum))
                    except grpc.RpcError as exc:
                        outcomes.append(exc.code())  # type: ignore[attr-defined]
                assert sorted(map(str, outcomes)) == sorted(
                    [str(b"1"), str(grpc.StatusCode.UNAVAILABLE)]
                ), name
        assert not [e for e in events if isinstance(e, instrumentation.RequestRetried)]
        assert [f.address for f in strategy.failures] == ["127.77.0.10"] * 3
        assert [s.address for s in strategy.successes] == ["127.77.0.11"] * 3
    finally:
        server.stop(0)


def test_multi_callables_take_grpcs_argument_names(port: int) -> None:
    """By keyword as grpc names them: ``request`` for a single request, ``request_iterator``
    for streamed ones; an unknown one is refused before any pod is tried."""
    server = PodServer("127.77.0.10", port)
    try:
        with static_discovery(["127.77.0.10"], port) as pods, discovery_channel(pods) as channel:
            stub = EchoStub(channel)
            assert stub.Who(request=b"", timeout=5) == b"127.77.0.10"
            assert stub.Sum(request_iterator=iter([b"4"]), timeout=5) == b"4"
            assert stub.Sum.with_call(iter([b"4"]), 5)[0] == b"4"
            with pytest.raises(TypeError, match="timeout"):
                stub.Who(b"", 5, timeout=5)
            with pytest.raises(TypeError, match="deadline"):
                stub.Sum(iter([b"4"]), deadline=5)
        assert server.hits == 3
    finally:
        server.stop(0)


def test_the_retry_of_a_future_goes_to_another_pod(port: int) -> None:
    server = PodServer("127.77.0.11", port)
    try:
        with (
            static_discovery(["127.77.0.10", "127.77.0.11"], port) as pods,
            discovery_channel(pods) as channel,
        ):
            stub = EchoStub(channel)
            results = [stub.Who.future(b"", timeout=5) for _ in range(4)]
            assert [f.result(timeout=5) for f in results] == [b"127.77.0.11"] * 4
    finally:
        server.stop(0)


def test_consistent_hash_takes_its_key_from_metadata(port: int) -> None:
    servers = [PodServer(f"127.77.0.{i}", port) for i in (10, 11, 12)]
    try:
        with (
            static_discovery([s.address for s in servers], port, strategy=ConsistentHash()) as pods,
            discovery_channel(pods, hash_key_metadata="x-user") as channel,
        ):
            stub = EchoStub(channel)
            for user in ("alice", "bob", "carol", "dave"):
                answers = {stub.Who(b"", metadata=[("x-user", user)], timeout=5) for _ in range(5)}
                assert len(answers) == 1, (user, answers)
                assert answers == {pods.pick(user).address.encode()}
    finally:
        for s in servers:
            s.stop(0)


def test_least_outstanding_counts_calls_in_flight(port: int) -> None:
    """12 slow calls at once spread evenly by their counts in flight, which end with them."""
    servers = [PodServer(f"127.77.0.{i}", port) for i in (10, 11, 12)]
    try:
        with (
            static_discovery(
                [s.address for s in servers],
                port,
                strategy=LeastOutstanding(rng=random.Random(7)),  # picks in a fixed order
            ) as pods,
            discovery_channel(pods) as channel,
        ):
            stub = EchoStub(channel)
            busy = [stub.Slow.future(b"1", timeout=5) for _ in range(12)]
            time.sleep(0.2)
            strategy = pods._strategy
            loads = sorted(strategy.in_flight(ep) for ep in pods.endpoints)  # type: ignore[attr-defined]
            assert sum(loads) == 12, loads
            assert loads[-1] - loads[0] <= 2, loads
            for f in busy:
                f.result(timeout=5)
            assert [strategy.in_flight(ep) for ep in pods.endpoints] == [0, 0, 0]  # type: ignore[attr-defined]
    finally:
        for s in servers:
            s.stop(0)


@pytest.mark.dns
def test_no_ready_pod_is_unavailable_naming_the_service_and_dns(port: int) -> None:
    require_named()
    cluster, _service = echo_cluster(0, TTL, port)
    with (
        BindServer(cluster) as bind,
        discovery_of(bind, port) as pods,
        discovery_channel(pods) as channel,
    ):
        stub = EchoStub(channel)
        with pytest.raises(
            grpc.RpcError,
            match=r"no ready pod of echo\.default\.svc\.cluster\.local to send the RPC to; "
            r"DNS said: .* does not exist \(NXDOMAIN\)",
        ) as caught:
            stub.Who(b"")
        assert caught.value.code() is grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
        future = stub.Who.future(b"")
        assert future.code() is grpc.StatusCode.UNAVAILABLE
        with pytest.raises(grpc.RpcError, match="no ready pod"):
            list(stub.Count(b"1"))


# -- pods coming and going under load ------------------------------------------------------------


@pytest.mark.dns
def test_a_pod_added_is_reached_within_ttl_plus_1s_and_dns_round_robin_does_not(
    bind_fleet: tuple[BindServer, Fleet], port: int
) -> None:
    bind, fleet = bind_fleet
    plain = grpc.insecure_channel(
        f"dns://{bind.nameserver}:{bind.port}/{FQDN}:{port}",
        options=[("grpc.lb_policy_name", "round_robin")],
    )
    with discovery_of(bind, port) as pods, discovery_channel(pods) as channel, plain:
        ours, theirs = EchoStub(channel), EchoStub(plain)
        # Both are warm: every pod known has answered each of them.
        assert {ours.Who(b"", timeout=5) for _ in range(30)} == {
            theirs.Who(b"", timeout=5) for _ in range(30)
        }
        fleet.cluster.scale(fleet.service, 4)
        fleet.start_missing()
        new = fleet.service.pods[-1].ipv4
        assert new is not None
        bind.sync()
        added = time.monotonic()
        reached: dict[str, float] = {}
        while time.monotonic() - added < TTL + 2 and len(reached) < 2:
            for name, stub in (("ours", ours), ("dns:///", theirs)):
                if name not in reached and stub.Who(b"", timeout=5) == new.encode():
                    reached[name] = time.monotonic() - added
            time.sleep(0.005)
    assert reached.get("ours", 99) <= TTL + 1, reached
    # grpc's resolver asks DNS again only when a connection fails: docs/how-to/grpc.md says
    # so; if this starts to fail, grpc changed and the page must change with it.
    assert "dns:///" not in reached, reached


@pytest.mark.dns
def test_a_pod_killed_under_load_fails_no_rpc_and_gets_none_once_dns_drops_it(
    bind_fleet: tuple[BindServer, Fleet], port: int
) -> None:
    bind, fleet = bind_fleet
    victim = fleet.service.pods[0]
    assert victim.ipv4 is not None
    retried: list[tuple[float, str]] = []

    def hook(event: instrumentation.Event) -> None:
        if isinstance(event, instrumentation.RequestRetried):
            retried.append((time.monotonic(), event.endpoint.address))

    seen_gone: list[float] = []
    fleet.servers.pop(victim.ipv4).stop(None)
    killed = ProcessPod(victim.ipv4, port)
    with discovery_of(bind, port) as pods, discovery_channel(pods, retries=1) as channel:
        pods._hooks = (hook,)
        pods.subscribe(
            lambda added, removed, snap: seen_gone.append(time.monotonic()) if removed else None
        )
        stop = threading.Event()
        errors, answers = load(EchoStub(channel), 4, stop)
        try:
            time.sleep(0.3)
            killed.kill()  # no goodbye, still in DNS
            time.sleep(0.5)
            fleet.cluster.set_ready(fleet.service, victim.name, False)
            bind.sync()
            wait_until(lambda: seen_gone, TTL + 2, "the change")
            time.sleep(0.5)
        finally:
            join(stop)
            killed.kill()
    assert errors == []
    assert sum(answers.values()) > 100
    assert any(address == victim.ipv4 for _, address in retried), "the kill was not noticed"
    # Calls already under way when the change is seen may still fail over (a loaded machine
    # can take a while to refuse them); none starts on the pod afterwards.
    grace = 1.0
    late = [t for t, address in retried if address == victim.ipv4 and t > seen_gone[0] + grace]
    assert late == []


@pytest.mark.dns
def test_a_rolling_replace_of_every_pod_fails_no_rpc(
    bind_fleet: tuple[BindServer, Fleet], port: int
) -> None:
    """Like a Deployment's rollout: a new pod, then the old one leaves DNS and stops with a
    grace period, one pod at a time, under load from 2 threads."""
    bind, fleet = bind_fleet
    old = list(fleet.service.pods)
    with discovery_of(bind, port) as pods, discovery_channel(pods) as channel:
        stop = threading.Event()
        errors, answers = load(EchoStub(channel), 2, stop)
        try:
            for index, pod in enumerate(old):
                fleet.cluster.scale(fleet.service, len(fleet.service.pods) + 1)
                fleet.start_missing()
                fleet.cluster.set_ready(fleet.service, pod.name, False)
                bind.sync()
                assert pod.ipv4 is not None
                gone = Endpoint(pod.ipv4, port)
                wait_until(
                    lambda gone=gone: gone not in pods.endpoints, TTL + 2, f"pod {index} leaving"
                )
                fleet.servers[pod.ipv4].stop(2)
            time.sleep(0.3)
        finally:
            join(stop)
    assert errors == []
    new = {p.ipv4.encode() for p in fleet.service.pods if p.ready and p.ipv4}
    assert len(new) == 3
    assert new <= set(answers)


@pytest.mark.dns
def test_a_stream_on_a_pod_removed_from_dns_runs_to_its_end(
    bind_fleet: tuple[BindServer, Fleet], port: int
) -> None:
    bind, fleet = bind_fleet
    with discovery_of(bind, port) as pods, discovery_channel(pods) as channel:
        stream = EchoStub(channel).Count(b"20/0.05", timeout=10)
        first = next(stream)
        address = first.split()[0].decode()
        pod = next(p for p in fleet.service.pods if p.ipv4 == address)
        fleet.cluster.set_ready(fleet.service, pod.name, False)
        bind.sync()
        wait_until(lambda: Endpoint(address, port) not in pods.endpoints, TTL + 2, "the removal")
        assert len(channel._router.pool) == 3  # type: ignore[attr-defined]  # still draining
        rest = list(stream)
        assert len(rest) == 19
        assert {m.split()[0] for m in rest} == {address.encode()}
        assert stream.code() is grpc.StatusCode.OK
        wait_until(lambda: len(channel._router.pool) == 2, 2, "the sub-channel closing")  # type: ignore[attr-defined]


# -- TLS ------------------------------------------------------------------------------------------


def test_tls_verifies_the_certificate_of_the_service_name(port: int) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert(FQDN)
    server_credentials = grpc.ssl_server_credentials(
        [(cert.private_key_pem.bytes(), cert.cert_chain_pems[0].bytes())]
    )
    servers = [PodServer(f"127.77.0.{i}", port, server_credentials) for i in (10, 11)]
    client = grpc.ssl_channel_credentials(root_certificates=ca.cert_pem.bytes())
    try:
        with static_discovery([s.address for s in servers], port) as pods:
            with discovery_channel(pods, credentials=client) as channel:
                stub = EchoStub(channel)
                assert {stub.Who(b"", timeout=5) for _ in range(4)} == {
                    b"127.77.0.10",
                    b"127.77.0.11",
                }
            # A name the certificate does not hold fails the handshake on every pod.
            wrong = [("grpc.ssl_target_name_override", "other.default.svc.cluster.local")]
            with discovery_channel(pods, credentials=client, options=wrong) as channel:
                with pytest.raises(grpc.RpcError) as caught:
                    EchoStub(channel).Who(b"", timeout=5)
                assert caught.value.code() is grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
    finally:
        for s in servers:
            s.stop(0)
