"""aio_discovery_channel against real gRPC servers and BIND: mirrors test_grpc_channel.py."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator

import grpc
import pytest
import trustme

from headless_discovery import (
    AsyncDiscovery,
    AsyncDnsResolver,
    Endpoint,
    RefreshPolicy,
    StaticResolver,
    instrumentation,
)
from headless_discovery.integrations.grpc import aio_discovery_channel
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
)

TTL = 1
FAST = RefreshPolicy(min_interval=0.5, max_interval=TTL)


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def bind_fleet(port: int) -> Iterator[tuple[BindServer, Fleet]]:
    require_named()
    cluster, service = echo_cluster(3, TTL, port)
    fleet = Fleet(cluster, service)
    try:
        with BindServer(cluster) as bind:
            yield bind, fleet
    finally:
        fleet.stop_all()


def discovery_of(bind: BindServer, port: int) -> AsyncDiscovery:
    resolver = AsyncDnsResolver([bind.nameserver], bind.port, timeout=0.3, lifetime=0.6)
    return AsyncDiscovery(SERVICE, namespace=NAMESPACE, port=port, resolver=resolver, refresh=FAST)


def static_discovery(addresses: list[str], port: int, **kwargs: object) -> AsyncDiscovery:
    resolver = StaticResolver({FQDN: addresses})
    return AsyncDiscovery(SERVICE, namespace=NAMESPACE, port=port, resolver=resolver, **kwargs)  # type: ignore[arg-type]


async def wait_until(condition: object, timeout: float, what: str) -> None:
    started = time.monotonic()
    while not condition():  # type: ignore[operator]
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        await asyncio.sleep(0.01)


async def load(
    stub: EchoStub, tasks: int, stop: asyncio.Event
) -> tuple[list[Exception], Counter[bytes]]:
    errors: list[Exception] = []
    answers: Counter[bytes] = Counter()

    async def worker() -> None:
        while not stop.is_set():
            try:
                answers[await stub.Who(b"", timeout=5)] += 1
            except grpc.aio.AioRpcError as exc:
                errors.append(exc)

    await asyncio.gather(*(worker() for _ in range(tasks)))
    return errors, answers


@pytest.mark.dns
def test_300_unary_rpcs_spread_over_3_pods_within_3_percent(
    bind_fleet: tuple[BindServer, Fleet], port: int
) -> None:
    bind, fleet = bind_fleet

    async def main() -> Counter[bytes]:
        async with discovery_of(bind, port) as pods, aio_discovery_channel(pods) as channel:
            await asyncio.wait_for(channel.channel_ready(), 5)
            stub = EchoStub(channel)
            return Counter([await stub.Who(b"", timeout=5) for _ in range(300)])

    answers = asyncio.run(main())
    assert sorted(answers) == sorted(a.encode() for a in fleet.servers)
    for count in answers.values():
        assert abs(count - 100) <= 3, answers


@pytest.mark.dns
def test_every_kind_of_call_works_through_a_stub(
    bind_fleet: tuple[BindServer, Fleet], port: int
) -> None:
    bind, fleet = bind_fleet

    async def main() -> None:
        async with discovery_of(bind, port) as pods, aio_discovery_channel(pods) as channel:
            stub = EchoStub(channel)
            call = stub.Who(b"", timeout=5)
            assert (await call).decode() in fleet.servers
            assert await call.code() is grpc.StatusCode.OK
            assert call.done()
            assert not call.cancelled()
            counted = [m async for m in stub.Count(b"3", timeout=5)]
            assert [m.split()[1] for m in counted] == [b"0", b"1", b"2"]
            assert await stub.Sum(iter([b"1", b"2", b"39"]), timeout=5) == b"42"
            assert [m async for m in stub.Echo(iter([b"a", b"b"]), timeout=5)] == [b"a", b"b"]
            assert channel.get_state() is grpc.ChannelConnectivity.READY

    asyncio.run(main())


def test_unavailable_is_retried_on_a_pod_not_tried_and_reported(port: int) -> None:
    server = PodServer("127.77.0.12", port)
    events: list[instrumentation.Event] = []

    async def main() -> set[bytes]:
        async with (
            static_discovery(
                ["127.77.0.10", "127.77.0.11", "127.77.0.12"], port, hooks=[events.append]
            ) as pods,
            aio_discovery_channel(pods, retries=2) as channel,
        ):
            stub = EchoStub(channel)
            return {await stub.Who(b"", timeout=5) for _ in range(6)}

    try:
        assert asyncio.run(main()) == {b"127.77.0.12"}
    finally:
        server.stop(0)
    retried = [e for e in events if isinstance(e, instrumentation.RequestRetried)]
    assert {e.endpoint.address for e in retried} == {"127.77.0.10", "127.77.0.11"}
    assert {e.client for e in retried} == {"grpc"}


def test_retries_0_fails_the_call_on_a_dead_pod(port: int) -> None:
    async def main() -> None:
        async with (
            static_discovery(["127.77.0.10"], port) as pods,
            aio_discovery_channel(pods, retries=0) as channel,
        ):
            call = EchoStub(channel).Who(b"", timeout=5)
            with pytest.raises(grpc.aio.AioRpcError, match=r"127\.77\.0\.10"):
                await call
            assert await call.code() is grpc.StatusCode.UNAVAILABLE

    asyncio.run(main())


def test_multi_callables_take_grpc_aio_arguments(port: int) -> None:
    """As grpc.aio has them: the options of a single request keyword-only, a streamed
    request by position or as ``request_iterator``, or written to the call."""
    server = PodServer("127.77.0.10", port)

    async def main() -> None:
        async with (
            static_discovery(["127.77.0.10"], port) as pods,
            aio_discovery_channel(pods) as channel,
        ):
            stub = EchoStub(channel)
            assert await stub.Who(request=b"", timeout=5) == b"127.77.0.10"
            with pytest.raises(TypeError):
                stub.Who(b"", 5)
            with pytest.raises(TypeError):
                stub.Count(b"1", 5)
            assert await stub.Sum(iter([b"4"]), 5) == b"4"
            assert await stub.Sum(request_iterator=iter([b"5"]), timeout=5) == b"5"
            call = stub.Sum(timeout=5)
            await call.write(b"6")
            await call.done_writing()
            assert await call == b"6"

    try:
        asyncio.run(main())
    finally:
        server.stop(0)
    assert server.hits == 4


@pytest.mark.dns
def test_no_ready_pod_is_unavailable_naming_the_service_and_dns(port: int) -> None:
    require_named()
    cluster, _ = echo_cluster(0, TTL, port)

    async def main(bind: BindServer) -> None:
        async with discovery_of(bind, port) as pods, aio_discovery_channel(pods) as channel:
            call = EchoStub(channel).Who(b"")
            with pytest.raises(
                grpc.aio.AioRpcError,
                match=r"no ready pod of echo\.default\.svc\.cluster\.local to send the RPC to; "
                r"DNS said: .* does not exist \(NXDOMAIN\)",
            ):
                await call
            assert await call.code() is grpc.StatusCode.UNAVAILABLE

    with BindServer(cluster) as bind:
        asyncio.run(main(bind))


@pytest.mark.dns
def test_a_pod_added_is_reached_within_ttl_plus_1s(
    bind_fleet: tuple[BindServer, Fleet], port: int
) -> None:
    bind, fleet = bind_fleet

    async def main() -> float:
        async with discovery_of(bind, port) as pods, aio_discovery_channel(pods) as channel:
            stub = EchoStub(channel)
            assert len({await stub.Who(b"", timeout=5) for _ in range(9)}) == 3
            fleet.cluster.scale(fleet.service, 4)
            fleet.start_missing()
            new = fleet.service.pods[-1].ipv4
            assert new is not None
            bind.sync()
            added = time.monotonic()
            while await stub.Who(b"", timeout=5) != new.encode():
                assert time.monotonic() - added < TTL + 2
                await asyncio.sleep(0.005)
            return time.monotonic() - added

    assert asyncio.run(main()) <= TTL + 1


@pytest.mark.dns
def test_a_pod_killed_under_load_fails_no_rpc(
    bind_fleet: tuple[BindServer, Fleet], port: int
) -> None:
    bind, fleet = bind_fleet
    victim = fleet.service.pods[0]
    assert victim.ipv4 is not None
    gone = Endpoint(victim.ipv4, port)
    fleet.servers.pop(victim.ipv4).stop(None)
    killed = ProcessPod(victim.ipv4, port)

    async def main() -> tuple[list[Exception], Counter[bytes]]:
        async with discovery_of(bind, port) as pods, aio_discovery_channel(pods) as channel:
            stop = asyncio.Event()
            running = asyncio.ensure_future(load(EchoStub(channel), 4, stop))
            await asyncio.sleep(0.3)
            killed.kill()  # no goodbye, still in DNS
            await asyncio.sleep(0.5)
            fleet.cluster.set_ready(fleet.service, victim.name, False)
            bind.sync()
            await wait_until(lambda: gone not in pods.endpoints, TTL + 2, "the change")
            await asyncio.sleep(0.3)
            stop.set()
            return await running

    try:
        errors, answers = asyncio.run(main())
    finally:
        killed.kill()
    assert errors == []
    assert sum(answers.values()) > 100


@pytest.mark.dns
def test_a_stream_on_a_pod_removed_from_dns_runs_to_its_end(
    bind_fleet: tuple[BindServer, Fleet], port: int
) -> None:
    bind, fleet = bind_fleet

    async def main() -> None:
        async with discovery_of(bind, port) as pods, aio_discovery_channel(pods) as channel:
            stream = EchoStub(channel).Count(b"20/0.05", timeout=10)
            first = await stream.read()
            address = first.split()[0].decode()
            pod = next(p for p in fleet.service.pods if p.ipv4 == address)
            fleet.cluster.set_ready(fleet.service, pod.name, False)
            bind.sync()
            await wait_until(
                lambda: Endpoint(address, port) not in pods.endpoints, TTL + 2, "the removal"
            )
            assert len(channel._router.pool) == 3  # type: ignore[attr-defined]
            rest = []
            while (message := await stream.read()) is not grpc.aio.EOF:
                rest.append(message)
            assert len(rest) == 19
            assert {m.split()[0] for m in rest} == {address.encode()}
            assert await stream.code() is grpc.StatusCode.OK
            await wait_until(lambda: len(channel._router.pool) == 2, 2, "the sub-channel closing")  # type: ignore[attr-defined]

    asyncio.run(main())


def test_tls_verifies_the_certificate_of_the_service_name(port: int) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert(FQDN)
    server_credentials = grpc.ssl_server_credentials(
        [(cert.private_key_pem.bytes(), cert.cert_chain_pems[0].bytes())]
    )
    servers = [PodServer(f"127.77.0.{i}", port, server_credentials) for i in (10, 11)]
    client = grpc.ssl_channel_credentials(root_certificates=ca.cert_pem.bytes())

    async def main() -> set[bytes]:
        async with (
            static_discovery([s.address for s in servers], port) as pods,
            aio_discovery_channel(pods, credentials=client) as channel,
        ):
            stub = EchoStub(channel)
            return {await stub.Who(b"", timeout=5) for _ in range(4)}

    try:
        assert asyncio.run(main()) == {b"127.77.0.10", b"127.77.0.11"}
    finally:
        for s in servers:
            s.stop(0)
