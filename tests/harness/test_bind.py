"""A real BIND 9 serves the cluster model and follows its changes (needs ``named``)."""

from __future__ import annotations

import socket

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.resolver
import pytest

from tests.harness.bind import BindError, BindServer, Query
from tests.harness.cluster import Cluster, Pod, Service
from tests.harness.fixtures import BindServerFactory

pytestmark = pytest.mark.dns


SVC = "mongodb.db.svc.cluster.local."


def ask(server: BindServer, name: str, rdtype: str) -> dns.message.Message:
    """One UDP query straight to the server, without EDNS."""
    return dns.query.udp(
        dns.message.make_query(name, rdtype), server.nameserver, timeout=2, port=server.port
    )


def answer(server: BindServer, name: str, rdtype: str) -> list[str]:
    response = ask(server, name, rdtype)
    assert response.rcode() == dns.rcode.NOERROR, dns.rcode.to_text(response.rcode())
    return sorted(rdata.to_text() for rrset in response.answer for rdata in rrset)


def test_serves_a_aaaa_srv_ptr_txt(bind_server: BindServerFactory) -> None:
    cluster = Cluster()
    cluster.statefulset("mongodb", "db", 3, ipv6=True)
    server = bind_server(cluster)

    assert answer(server, SVC, "A") == ["10.244.0.10", "10.244.0.11", "10.244.0.12"]
    assert answer(server, f"mongodb-1.{SVC}", "AAAA") == ["fd00:10:244::b"]
    assert answer(server, f"_mongodb._tcp.{SVC}", "SRV") == [
        f"0 33 27017 mongodb-{i}.{SVC}" for i in range(3)
    ]
    assert answer(server, "11.0.244.10.in-addr.arpa.", "PTR") == [f"mongodb-1.{SVC}"]
    assert answer(server, "dns-version.cluster.local.", "TXT") == ['"1.1.0"']


def test_unknown_names_and_services_without_ready_pods_are_nxdomain(
    bind_server: BindServerFactory,
) -> None:
    cluster = Cluster()
    mongo = cluster.statefulset("mongodb", "db", 1)
    cluster.set_ready(mongo, "mongodb-0", ready=False)
    server = bind_server(cluster)

    for name in (SVC, f"_mongodb._tcp.{SVC}", "nothing.db.svc.cluster.local.", "example.com."):
        response = ask(server, name, "A")
        assert response.rcode() == dns.rcode.NXDOMAIN, name
        assert response.flags & dns.flags.AA, name


def test_300_pods_truncated_over_udp_complete_over_tcp(bind_server: BindServerFactory) -> None:
    cluster = Cluster()
    cluster.statefulset("mongodb", "db", 300)
    server = bind_server(cluster)

    udp = ask(server, SVC, "A")
    assert udp.flags & dns.flags.TC
    tcp = dns.query.tcp(
        dns.message.make_query(SVC, "A"), server.nameserver, timeout=2, port=server.port
    )
    assert len(tcp.answer[0]) == 300

    server.clear_queries()
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [server.nameserver]
    resolver.port = server.port
    assert len(resolver.resolve(SVC, "A")) == 300
    assert len(resolver.resolve(f"_mongodb._tcp.{SVC}", "SRV")) == 300
    # dnspython saw the TC bit and asked again over TCP.
    assert server.queries(SVC, "A") == [
        Query("mongodb.db.svc.cluster.local", "A", "udp"),
        Query("mongodb.db.svc.cluster.local", "A", "tcp"),
    ]


def test_dynamic_updates_follow_the_model(bind_server: BindServerFactory) -> None:
    cluster = Cluster()
    mongo = cluster.statefulset("mongodb", "db", 3)
    server = bind_server(cluster)

    cluster.scale(mongo, 5)
    server.sync()
    assert len(answer(server, SVC, "A")) == 5
    assert len(answer(server, f"_mongodb._tcp.{SVC}", "SRV")) == 5
    assert answer(server, f"mongodb-4.{SVC}", "A") == ["10.244.0.14"]
    assert {r.split()[1] for r in answer(server, f"_mongodb._tcp.{SVC}", "SRV")} == {"20"}

    cluster.set_ready(mongo, "mongodb-0", ready=False)
    cluster.set_ip(mongo, "mongodb-1", ipv4="10.244.7.7")
    server.sync()
    assert answer(server, SVC, "A") == ["10.244.0.12", "10.244.0.13", "10.244.0.14", "10.244.7.7"]
    assert answer(server, "7.7.244.10.in-addr.arpa.", "PTR") == [f"mongodb-1.{SVC}"]
    assert ask(server, "11.0.244.10.in-addr.arpa.", "PTR").rcode() == dns.rcode.NXDOMAIN
    assert ask(server, f"mongodb-0.{SVC}", "A").rcode() == dns.rcode.NXDOMAIN

    cluster.scale(mongo, 0)
    server.sync()
    assert ask(server, SVC, "A").rcode() == dns.rcode.NXDOMAIN
    assert ask(server, f"_mongodb._tcp.{SVC}", "SRV").rcode() == dns.rcode.NXDOMAIN

    other = Cluster()
    other.add(Service("web", "default", ports={"http": 80}, pods=[Pod("web-1", ipv4="10.9.0.1")]))
    server.apply(other)
    assert answer(server, "web.default.svc.cluster.local.", "A") == ["10.9.0.1"]
    with pytest.raises(ValueError, match="domain"):
        server.apply(Cluster("corp.example"))


def test_query_log_counts_queries(bind_server: BindServerFactory) -> None:
    cluster = Cluster()
    cluster.statefulset("mongodb", "db", 2)
    server = bind_server(cluster)

    assert server.queries() == []
    answer(server, SVC, "A")
    answer(server, SVC.upper(), "A")
    answer(server, f"_mongodb._tcp.{SVC}", "SRV")
    server.query("nothing.example", "AAAA", tcp=True)

    assert len(server.queries(SVC, "A")) == 2
    assert server.queries("_MONGODB._tcp.mongodb.db.svc.cluster.local", "srv") == [
        Query("_mongodb._tcp.mongodb.db.svc.cluster.local", "SRV", "udp")
    ]
    assert server.queries(rdtype="AAAA") == [Query("nothing.example", "AAAA", "tcp")]
    assert len(server.wait_for_queries(4, timeout=0.5)) == 4
    server.clear_queries()
    assert server.queries() == []
    assert server.wait_for_queries(1, timeout=0.05) == []


def test_restart_serves_again_on_the_same_port(bind_server: BindServerFactory) -> None:
    cluster = Cluster()
    mongo = cluster.statefulset("mongodb", "db", 1)
    server = bind_server(cluster)
    port = server.port

    server.stop()
    assert not server.running
    with pytest.raises(dns.exception.Timeout):
        dns.query.udp(dns.message.make_query(SVC, "A"), server.nameserver, 0.2, port)
    with pytest.raises(BindError, match="not running"):
        server.sync()

    cluster.scale(mongo, 2)
    server.restart()
    assert server.port == port
    assert len(answer(server, SVC, "A")) == 2
    assert len(server.queries()) == 1


def test_zone_that_does_not_load_fails_start_with_the_log() -> None:
    cluster = Cluster()
    # An owner name with a space is not valid in a master file: the zone fails to load, although
    # named itself starts and logs "running".
    cluster.add(Service("bad name", "db", pods=[Pod("p", ipv4="10.1.1.1")]))

    with pytest.raises(BindError, match=r"did not serve zone cluster\.local\.") as failure:
        BindServer(cluster, start_timeout=0.5).start()
    assert "cluster.local" in str(failure.value)
    assert "running" in str(failure.value)


def test_listens_on_ipv6_loopback(bind_server: BindServerFactory) -> None:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    cluster = Cluster()
    cluster.statefulset("mongodb", "db", 1)
    server = bind_server(cluster, address="::1")

    assert answer(server, SVC, "A") == ["10.244.0.10"]
