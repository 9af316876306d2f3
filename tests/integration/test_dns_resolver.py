"""DnsResolver and AsyncDnsResolver against a real BIND 9 serving cluster-DNS-shaped records."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator

import pytest

from headless_discovery import (
    AsyncDnsResolver,
    DnsResolver,
    InvalidNameError,
    NoEndpointsError,
    ResolverTimeoutError,
    ServiceName,
    ServiceNotFoundError,
    aresolve,
    mongo_uri,
    resolve,
)
from headless_discovery.resolvers._base import AsyncTxtResolver, TxtResolver, UdpProbing
from tests.harness.bind import BindServer
from tests.harness.cluster import Cluster
from tests.harness.requirements import require_named

pytestmark = pytest.mark.dns

MONGO = ServiceName("mongodb-headless", "infra", "cluster.local")


def dns(bind: BindServer, **kwargs: object) -> DnsResolver:
    return DnsResolver([bind.nameserver], bind.port, **kwargs)  # type: ignore[arg-type]


def expected_ips(cluster: Cluster, name: str, namespace: str) -> list[str]:
    pods = cluster.service(name, namespace).published
    return [p.ipv4 for p in pods if p.ipv4] + [p.ipv6 for p in pods if p.ipv6]


def test_a_and_aaaa_of_every_ready_pod(bind: BindServer, cluster: Cluster) -> None:
    res = resolve(MONGO, port=27017, resolver=dns(bind))
    assert [ep.address for ep in res] == expected_ips(cluster, "mongodb-headless", "infra")
    assert len(res) == 6
    assert res.ttl == 5
    assert res.nameserver == f"{bind.nameserver}:{bind.port}"
    v6 = resolve(MONGO, family="ipv6", resolver=dns(bind))
    assert all(ep.ip.version == 6 for ep in v6)
    assert len(v6) == 3


def test_srv_gives_hostnames_ports_and_addresses(bind: BindServer) -> None:
    res = resolve(MONGO, srv="mongodb", family="ipv4", resolver=dns(bind))
    assert res.hostnames == tuple(MONGO.pod(f"mongodb-{i}") for i in range(3))
    assert {ep.port for ep in res} == {27017}
    per_pod = resolve(MONGO.pod("mongodb-1"), family="ipv4", resolver=dns(bind))
    assert [ep.address for ep in per_pod] == [res[1].address]


def test_mongo_uri_by_ip_and_by_hostname(bind: BindServer, cluster: Cluster) -> None:
    ips = [ip for ip in expected_ips(cluster, "mongodb-headless", "infra") if "." in ip]
    uri = mongo_uri(MONGO, replica_set="rs0", resolver=dns(bind))
    assert uri.startswith("mongodb://" + ",".join(f"{ip}:27017" for ip in ips))
    assert uri.endswith("/?replicaSet=rs0")
    by_host = mongo_uri(MONGO, hosts="hostname", resolver=dns(bind))
    assert (
        by_host
        == "mongodb://" + ",".join(f"{MONGO.pod(f'mongodb-{i}')}:27017" for i in range(3)) + "/"
    )


def test_nxdomain_for_unknown_services_and_for_no_ready_pods(bind: BindServer) -> None:
    for name in ("nosuch.infra", "mongodb-headless.wrong-ns", "unready.infra"):
        with pytest.raises(ServiceNotFoundError, match="none of its pods is ready") as info:
            resolve(f"{name}.svc.cluster.local", resolver=dns(bind))
        assert info.value.rdtype == "A"
        assert info.value.nameserver == f"{bind.nameserver}:{bind.port}"


def test_missing_port_name_is_explained(bind: BindServer) -> None:
    with pytest.raises(NoEndpointsError, match="port named 'http'"):
        resolve(MONGO, srv="http", resolver=dns(bind))


def test_two_hundred_pods_come_back_whole_over_tcp(bind: BindServer, cluster: Cluster) -> None:
    big = ServiceName("big", "load", "cluster.local")
    udp = bind.query(big.fqdn, "A")
    assert udp.flags & 0x0200, "the UDP answer should be truncated (TC) at 200 records"
    res = resolve(big, port=8080, family="ipv4", resolver=dns(bind))
    assert len(res) == 200
    assert [ep.address for ep in res] == expected_ips(cluster, "big", "load")
    srv = resolve(big, srv="http", family="ipv4", resolver=dns(bind))
    assert len(srv.hostnames) == 200


def test_the_fqdn_costs_one_query_per_record_type(bind: BindServer) -> None:
    bind.clear_queries()
    resolve(MONGO, resolver=dns(bind))
    queries = bind.wait_for_queries(2)
    assert sorted((q.name, q.rdtype) for q in queries) == [
        (MONGO.fqdn, "A"),
        (MONGO.fqdn, "AAAA"),
    ]


def test_timeout_names_the_server_and_the_time_spent() -> None:
    # A UDP socket that never answers: a nameserver that is there but silent.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        resolver = DnsResolver(["127.0.0.1"], port, timeout=0.2, lifetime=0.5)
        started = time.monotonic()
        with pytest.raises(ResolverTimeoutError) as info:
            resolve(MONGO, resolver=resolver)
    elapsed = time.monotonic() - started
    assert elapsed < 2.0
    assert f"127.0.0.1:{port}" in str(info.value)
    assert info.value.elapsed is not None
    assert 0.4 < info.value.elapsed < 2.0
    assert isinstance(info.value, TimeoutError)


def test_async_resolver_gives_the_same_answers(bind: BindServer) -> None:
    async def main() -> None:
        resolver = AsyncDnsResolver([bind.nameserver], bind.port)
        sync = resolve(MONGO, port=27017, resolver=dns(bind))
        assert (await aresolve(MONGO, port=27017, resolver=resolver)).endpoints == sync.endpoints
        srv = await aresolve(MONGO, srv="mongodb", resolver=resolver)
        assert len(srv.hostnames) == 3
        with pytest.raises(ServiceNotFoundError):
            await aresolve("nosuch.infra.svc.cluster.local", resolver=resolver)

    asyncio.run(main())


# -- capabilities: TXT records and the plain UDP probe --------------------------------------

# Longer than one character-string (255 bytes): BIND serves it as two strings.
LONG_TXT = "replicaSet=rs0&authSource=admin&" + "x" * 300
POD_0 = f"mongodb-0.{MONGO.fqdn}"


@pytest.fixture(scope="module")
def txt_bind() -> Iterator[BindServer]:
    """A named serving TXT records on the MongoDB Service, and a 300-pod Service; started
    once for these read-only tests."""
    require_named()
    model = Cluster()
    mongo = model.statefulset("mongodb-headless", "infra", 3, prefix="mongodb")
    mongo.txt = [LONG_TXT, "loadBalanced=false"]
    model.statefulset("wide", "load", 300, ports={"http": 8080}, subnet="10.247.0.0/16")
    with BindServer(model) as server:
        yield server


def test_the_dns_resolvers_have_the_txt_and_udp_capabilities(txt_bind: BindServer) -> None:
    assert isinstance(dns(txt_bind), TxtResolver)
    assert isinstance(dns(txt_bind), UdpProbing)
    assert isinstance(AsyncDnsResolver([txt_bind.nameserver], txt_bind.port), AsyncTxtResolver)


def test_txt_joins_the_strings_of_each_record(txt_bind: BindServer) -> None:
    wire = txt_bind.query(MONGO.fqdn, "TXT")
    assert any(len(rd.strings) == 2 for rrset in wire.answer for rd in rrset)
    answer = dns(txt_bind).resolve_txt(MONGO.fqdn)
    assert sorted(answer.texts) == sorted([LONG_TXT, "loadBalanced=false"])
    assert answer.ttl == 5
    assert answer.nameserver == f"{txt_bind.nameserver}:{txt_bind.port}"


def test_txt_of_a_missing_name_is_service_not_found(txt_bind: BindServer) -> None:
    name = "nosuch.infra.svc.cluster.local."
    with pytest.raises(
        ServiceNotFoundError,
        match=r"nosuch\.infra\.svc\.cluster\.local\. does not exist \(NXDOMAIN\)",
    ) as info:
        dns(txt_bind).resolve_txt(name)
    assert (info.value.name, info.value.rdtype) == (name, "TXT")


def test_txt_of_a_name_without_txt_is_no_endpoints(txt_bind: BindServer) -> None:
    with pytest.raises(NoEndpointsError, match=r"has no TXT records \(answered by") as info:
        dns(txt_bind).resolve_txt(POD_0)
    assert not isinstance(info.value, ServiceNotFoundError)
    assert info.value.rdtype == "TXT"


def test_async_txt_gives_the_same_answers_and_errors(txt_bind: BindServer) -> None:
    async def main() -> None:
        resolver = AsyncDnsResolver([txt_bind.nameserver], txt_bind.port)
        answer = await resolver.aresolve_txt(MONGO.fqdn)
        assert sorted(answer.texts) == sorted(dns(txt_bind).resolve_txt(MONGO.fqdn).texts)
        assert answer.ttl == 5
        with pytest.raises(ServiceNotFoundError, match="NXDOMAIN"):
            await resolver.aresolve_txt("nosuch.infra.svc.cluster.local.")
        with pytest.raises(NoEndpointsError, match="has no TXT records"):
            await resolver.aresolve_txt(POD_0)

    asyncio.run(main())


def test_probe_udp_sees_300_pods_truncated_without_edns(txt_bind: BindServer) -> None:
    probe = dns(txt_bind).probe_udp("wide.load.svc.cluster.local.")
    assert probe.truncated
    assert probe.server == f"{txt_bind.nameserver}:{txt_bind.port}"
    assert probe.records < 300
    # The resolver itself still gets all of them, over TCP.
    assert (
        len(
            dns(txt_bind).resolve_addresses("wide.load.svc.cluster.local.", family="ipv4").addresses
        )
        == 300
    )


def test_probe_udp_sees_3_pods_in_one_datagram(txt_bind: BindServer) -> None:
    probe = dns(txt_bind).probe_udp(MONGO.fqdn)
    assert (probe.truncated, probe.records) == (False, 3)


def test_probe_udp_asks_only_the_first_nameserver_once(txt_bind: BindServer) -> None:
    txt_bind.clear_queries()
    DnsResolver([txt_bind.nameserver, "127.0.0.2"], txt_bind.port).probe_udp(MONGO.fqdn)
    queries = txt_bind.wait_for_queries(1)
    assert [(q.name, q.rdtype) for q in queries] == [(MONGO.fqdn, "A")]


def test_probe_udp_failures_come_through_the_same_boundary() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        resolver = DnsResolver(["127.0.0.1", "127.0.0.2"], port, timeout=0.2, lifetime=0.5)
        with pytest.raises(
            ResolverTimeoutError,
            match=rf"no answer for {MONGO.fqdn} A from 127\.0\.0\.1:{port} after 0\.[23]\d s",
        ) as info:
            resolver.probe_udp(MONGO.fqdn)
    assert info.value.nameserver == f"127.0.0.1:{port}"
    assert info.value.elapsed is not None
    assert 0.15 < info.value.elapsed < 1.0
    with pytest.raises(InvalidNameError, match="invalid name"):
        resolver.probe_udp("a..b")
