"""DnsResolver and AsyncDnsResolver against a real BIND 9 serving cluster-DNS-shaped records."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from headless_discovery import (
    AsyncDnsResolver,
    DnsResolver,
    NoEndpointsError,
    ResolverTimeoutError,
    ServiceName,
    ServiceNotFoundError,
    aresolve,
    mongo_uri,
    resolve,
)
from tests.harness.bind import BindServer
from tests.harness.cluster import Cluster

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
