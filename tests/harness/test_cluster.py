"""The cluster model renders what cluster DNS serves (pure: no server, no root)."""

from __future__ import annotations

import pytest

from tests.harness.cluster import Cluster, Pod, Record, Service, dashed_ip

ZONE = "cluster.local."
SVC = "mongodb.db.svc.cluster.local."


def rdatas(cluster: Cluster, name: str, rdtype: str) -> list[str]:
    return sorted(r.rdata for r in cluster.records() if r.name == name and r.rdtype == rdtype)


def names(cluster: Cluster) -> set[str]:
    return {r.name for r in cluster.records()}


def test_statefulset_pods_have_ordinal_names_hostnames_and_distinct_addresses() -> None:
    cluster = Cluster()
    mongo = cluster.statefulset("mongodb", "db", 3)
    web = cluster.statefulset("web", "db", 2, prefix="frontend", ports={"http": 80})

    assert [p.name for p in mongo.pods] == ["mongodb-0", "mongodb-1", "mongodb-2"]
    assert [p.hostname for p in mongo.pods] == ["mongodb-0", "mongodb-1", "mongodb-2"]
    assert [p.name for p in web.pods] == ["frontend-0", "frontend-1"]
    ips = [p.ipv4 for s in (mongo, web) for p in s.pods]
    assert ips == ["10.244.0.10", "10.244.0.11", "10.244.0.12", "10.244.0.13", "10.244.0.14"]
    # Deterministic: the same calls give the same addresses.
    again = Cluster()
    assert [p.ipv4 for p in again.statefulset("mongodb", "db", 3).pods] == ips[:3]


def test_service_records_a_hostname_srv_ptr() -> None:
    cluster = Cluster()
    cluster.statefulset("mongodb", "db", 2)

    assert rdatas(cluster, SVC, "A") == ["10.244.0.10", "10.244.0.11"]
    assert rdatas(cluster, f"mongodb-0.{SVC}", "A") == ["10.244.0.10"]
    assert rdatas(cluster, f"_mongodb._tcp.{SVC}", "SRV") == [
        f"0 50 27017 mongodb-0.{SVC}",
        f"0 50 27017 mongodb-1.{SVC}",
    ]
    assert rdatas(cluster, "10.0.244.10.in-addr.arpa.", "PTR") == [f"mongodb-0.{SVC}"]
    assert rdatas(cluster, f"dns-version.{ZONE}", "TXT") == ['"1.1.0"']
    assert rdatas(cluster, ZONE, "NS") == ["ns.dns.cluster.local."]
    assert rdatas(cluster, ZONE, "SOA") == [
        "ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5"
    ]
    assert {r.ttl for r in cluster.records()} == {5}


def test_srv_weight_is_an_even_share_at_least_one() -> None:
    cluster = Cluster()
    cluster.statefulset("mongodb", "db", 3)
    cluster.statefulset("big", "db", 150)

    assert {r.split()[1] for r in rdatas(cluster, f"_mongodb._tcp.{SVC}", "SRV")} == {"33"}
    srv = rdatas(cluster, "_mongodb._tcp.big.db.svc.cluster.local.", "SRV")
    assert len(srv) == 150
    assert {r.split()[1] for r in srv} == {"1"}


def test_not_ready_pods_are_left_out_unless_published_not_ready() -> None:
    cluster = Cluster()
    mongo = cluster.statefulset("mongodb", "db", 3)
    cluster.set_ready(mongo, "mongodb-1", ready=False)

    assert rdatas(cluster, SVC, "A") == ["10.244.0.10", "10.244.0.12"]
    assert f"mongodb-1.{SVC}" not in names(cluster)
    assert len(rdatas(cluster, f"_mongodb._tcp.{SVC}", "SRV")) == 2

    mongo.publish_not_ready = True
    assert rdatas(cluster, SVC, "A") == ["10.244.0.10", "10.244.0.11", "10.244.0.12"]


def test_service_without_ready_pods_has_no_records_at_or_below_its_name() -> None:
    cluster = Cluster()
    mongo = cluster.statefulset("mongodb", "db", 2)
    mongo.txt.append("replicaSet=rs0")
    for pod in mongo.pods:
        cluster.set_ready(mongo, pod.name, ready=False)

    assert not [n for n in names(cluster) if n == SVC or n.endswith("." + SVC)]
    assert not [r for r in cluster.records() if r.rdtype == "PTR"]


def test_pods_without_hostname_are_named_by_dashed_ip_one_name_per_address() -> None:
    cluster = Cluster()
    cluster.add(
        Service(
            "web",
            "default",
            ports={"http": 80, "": 8080},
            pods=[Pod("web-7d9f", ipv4="10.1.2.3", ipv6="fd00::5")],
        )
    )
    svc = "web.default.svc.cluster.local."

    assert dashed_ip("10.1.2.3") == "10-1-2-3"
    assert dashed_ip("fd00:0::5") == "fd00--5"
    assert rdatas(cluster, f"10-1-2-3.{svc}", "A") == ["10.1.2.3"]
    assert rdatas(cluster, f"fd00--5.{svc}", "AAAA") == ["fd00::5"]
    assert rdatas(cluster, svc, "AAAA") == ["fd00::5"]
    # The unnamed port gets no SRV record; the named one an SRV per address.
    assert [n for n in names(cluster) if n.startswith("_")] == [f"_http._tcp.{svc}"]
    assert rdatas(cluster, f"_http._tcp.{svc}", "SRV") == [
        f"0 50 80 10-1-2-3.{svc}",
        f"0 50 80 fd00--5.{svc}",
    ]
    ptr = "5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa."
    assert rdatas(cluster, ptr, "PTR") == [f"fd00--5.{svc}"]


def test_dual_stack_statefulset() -> None:
    cluster = Cluster()
    cluster.statefulset("mongodb", "db", 2, ipv6=True)

    assert rdatas(cluster, SVC, "AAAA") == ["fd00:10:244::a", "fd00:10:244::b"]
    assert rdatas(cluster, f"mongodb-1.{SVC}", "AAAA") == ["fd00:10:244::b"]
    # One endpoint per pod (it has a hostname): one SRV record each.
    assert len(rdatas(cluster, f"_mongodb._tcp.{SVC}", "SRV")) == 2


def test_scale_removes_highest_ordinals_and_adds_pods_with_new_addresses() -> None:
    cluster = Cluster()
    mongo = cluster.statefulset("mongodb", "db", 3)
    cluster.scale(mongo, 1)
    assert [p.name for p in mongo.pods] == ["mongodb-0"]
    cluster.scale(mongo, 3)
    assert [(p.name, p.ipv4) for p in mongo.pods] == [
        ("mongodb-0", "10.244.0.10"),
        ("mongodb-1", "10.244.0.13"),
        ("mongodb-2", "10.244.0.14"),
    ]
    cluster.scale(mongo, 0)
    assert SVC not in names(cluster)

    with pytest.raises(ValueError, match="not a StatefulSet"):
        cluster.scale(cluster.add(Service("other", "db")), 2)


def test_set_ip_moves_every_record() -> None:
    cluster = Cluster()
    mongo = cluster.statefulset("mongodb", "db", 1)
    cluster.set_ip(mongo, "mongodb-0", ipv4="10.244.9.9")

    assert rdatas(cluster, SVC, "A") == ["10.244.9.9"]
    assert rdatas(cluster, "9.9.244.10.in-addr.arpa.", "PTR") == [f"mongodb-0.{SVC}"]
    assert "10.0.244.10.in-addr.arpa." not in names(cluster)
    assert cluster.pod_ips() == ["10.244.9.9"]


def test_txt_records_are_quoted_and_served_with_published_pods() -> None:
    cluster = Cluster()
    mongo = cluster.statefulset("mongodb", "db", 1)
    mongo.txt.append('authSource=admin&replicaSet=rs0 "x"')

    assert rdatas(cluster, SVC, "TXT") == ['"authSource=admin&replicaSet=rs0 \\"x\\""']


def test_custom_cluster_domain_is_used_everywhere() -> None:
    cluster = Cluster("corp.example", ttl=30)
    cluster.statefulset("mongodb", "db", 1)

    assert "mongodb.db.svc.corp.example." in names(cluster)
    assert not [r for r in cluster.records() if "cluster.local" in str(r)]
    assert set(cluster.render_zone_files()) == {"corp.example.", "in-addr.arpa.", "ip6.arpa.", "."}
    assert {r.ttl for r in cluster.records()} == {30}


def test_zone_files_start_with_ttl_and_soa_and_hold_every_record() -> None:
    cluster = Cluster()
    cluster.statefulset("mongodb", "db", 2)
    files = cluster.render_zone_files()

    for zone, text in files.items():
        lines = text.splitlines()
        assert lines[0] == "$TTL 5"
        assert lines[1].startswith(f"{zone} 5 IN SOA ")
    assert files["."].splitlines()[1:] == [
        ". 5 IN SOA ns. hostmaster. 1 7200 1800 86400 5",
        ". 5 IN NS ns.",
        "ns. 5 IN A 10.96.0.10",
    ]
    rendered = {line for text in files.values() for line in text.splitlines()}
    assert {str(r) for r in cluster.records()} <= rendered
    assert str(Record(SVC, "A", "10.244.0.10", 5)) in files[ZONE]


def test_zone_of_and_copy() -> None:
    cluster = Cluster()
    mongo = cluster.statefulset("mongodb", "db", 1)

    assert cluster.zone_of("X.DB.svc.cluster.local") == ZONE
    assert cluster.zone_of("1.0.0.10.in-addr.arpa.") == "in-addr.arpa."
    with pytest.raises(ValueError, match="outside the zones"):
        cluster.zone_of("example.com")
    snapshot = cluster.copy()
    cluster.scale(mongo, 2)
    assert len(snapshot.service("mongodb", "db").pods) == 1
