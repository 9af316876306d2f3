"""ServiceName, parse_name and validation: pure, no server."""

from __future__ import annotations

import pytest

from headless_discovery import InvalidNameError, PodEnvironment, ServiceName, parse_name

ENV = PodEnvironment(namespace="infrastructure", cluster_domain="cluster.local")
CUSTOM = PodEnvironment(namespace="team-a", cluster_domain="corp.internal")


def test_every_name_form_of_the_readme() -> None:
    svc = ServiceName("mongodb-headless-service", namespace="infrastructure", environment=ENV)
    assert svc.fqdn == "mongodb-headless-service.infrastructure.svc.cluster.local"
    assert svc.query_name == svc.fqdn + "."
    assert svc.short == "mongodb-headless-service.infrastructure"
    assert svc.pod("mongodb-0") == "mongodb-0." + svc.fqdn
    assert svc.srv("mongodb") == "_mongodb._tcp." + svc.fqdn
    assert svc.srv("dns", "udp") == "_dns._udp." + svc.fqdn
    assert str(svc) == svc.fqdn


@pytest.mark.parametrize(
    ("text", "name", "namespace", "domain"),
    [
        ("db", "db", "team-a", "corp.internal"),
        ("db.prod", "db", "prod", "corp.internal"),
        ("db.prod.svc", "db", "prod", "corp.internal"),
        ("db.prod.svc.cluster.local", "db", "prod", "cluster.local"),
        ("db.prod.svc.cluster.local.", "db", "prod", "cluster.local"),
        ("DB.Prod.SVC.Cluster.Local", "db", "prod", "cluster.local"),
        ("db.team-a.svc.corp.internal", "db", "team-a", "corp.internal"),
        ("db.ns.svc.svc.example", "db", "ns", "svc.example"),
    ],
)
def test_parse_service_forms(text: str, name: str, namespace: str, domain: str) -> None:
    svc = ServiceName.parse(text, environment=CUSTOM)
    assert (svc.name, svc.namespace, svc.cluster_domain) == (name, namespace, domain)


def test_parse_pod_and_srv_names() -> None:
    pod = parse_name("mongodb-10.db.prod.svc.cluster.local.", environment=CUSTOM)
    assert pod.hostname == "mongodb-10"
    assert pod.service == ServiceName("db", "prod", "cluster.local")
    assert pod.fqdn == "mongodb-10.db.prod.svc.cluster.local"
    srv = parse_name("_mongodb._tcp.db.prod", environment=CUSTOM)
    assert (srv.port_name, srv.protocol) == ("mongodb", "tcp")
    assert srv.fqdn == "_mongodb._tcp.db.prod.svc.corp.internal"


def test_service_parse_refuses_pod_names_with_a_hint() -> None:
    with pytest.raises(InvalidNameError, match="per-pod name"):
        ServiceName.parse("mongodb-0.db.prod.svc.cluster.local")
    with pytest.raises(InvalidNameError, match="SRV name"):
        ServiceName.parse("_mongodb._tcp.db.prod.svc.cluster.local")


def test_round_trip_build_then_parse() -> None:
    svc = ServiceName("a1-b", "ns-2", "my.zone")
    assert ServiceName.parse(svc.fqdn) == svc
    assert ServiceName.parse(svc.query_name) == svc
    assert parse_name(svc.pod("web-3")).hostname == "web-3"
    assert parse_name(svc.srv("http")).port_name == "http"


def test_names_are_case_insensitive_values() -> None:
    a = ServiceName("DB", "PROD", "Cluster.Local.")
    b = ServiceName("db", "prod", "cluster.local")
    assert a == b
    assert hash(a) == hash(b)
    assert a.name == "db"
    assert a.cluster_domain == "cluster.local"


def test_service_name_is_immutable() -> None:
    svc = ServiceName("db", "prod", "cluster.local")
    with pytest.raises(AttributeError, match="ServiceName is immutable; cannot set 'name'"):
        svc.name = "other"  # type: ignore[misc]


def test_defaults_come_from_the_environment() -> None:
    svc = ServiceName("db", environment=CUSTOM)
    assert svc.fqdn == "db.team-a.svc.corp.internal"
    outside = ServiceName("db", environment=PodEnvironment())
    assert outside.fqdn == "db.default.svc.cluster.local"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1db.ns", "must start with a letter"),
        ("db_x.ns", "'_' at position 2"),
        ("db.-ns", "must start and end with a letter or digit"),
        ("db.ns-", "must start and end with a letter or digit"),
        ("x" * 64 + ".ns", "64 characters long; at most 63"),
        ("db..svc.cluster.local", "namespace is empty"),
        ("", "empty"),
        ("a.b.c", "where 'svc' belongs"),
        ("db.ns.", "trailing dot is absolute"),
        ("db.ns.svc.clu_ster.local", "cluster domain label"),
        ("\u212a8s.ns", "non-ASCII"),
        ("_MongoDB-._tcp.db.ns", "must start and end"),
        ("_mongodb._xtp.db.ns", "not tcp, udp or sctp"),
        ("_a-very-long-port-name._tcp.db.ns", "longer than 15"),
        ("_80._tcp.db.ns", "must contain a letter"),
        ("db.ns.svc." + ".".join(["a" * 60] * 4 + ["bb"]), "253"),
    ],
)
def test_invalid_names_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(InvalidNameError, match=message) as info:
        ServiceName.parse(text, environment=ENV) if not text.startswith("_") else parse_name(
            text, environment=ENV
        )
    assert isinstance(info.value, ValueError)
    assert info.value.name in (text, text.lower()) or text.lower().startswith(info.value.name)


def test_pod_hostname_and_port_name_are_validated() -> None:
    svc = ServiceName("db", "ns", "cluster.local")
    with pytest.raises(InvalidNameError, match="pod hostname"):
        svc.pod("Mongo_0")
    with pytest.raises(InvalidNameError, match="port name"):
        svc.srv("mon--go")
    with pytest.raises(InvalidNameError, match="protocol"):
        svc.srv("mongodb", "icmp")  # type: ignore[arg-type]


def test_non_string_input_is_an_invalid_name() -> None:
    with pytest.raises(InvalidNameError, match="must be a string"):
        ServiceName(42)  # type: ignore[arg-type]


def test_the_aliases_of_a_service_are_every_name_a_client_may_use() -> None:
    svc = ServiceName("api-headless", "shop", "cluster.local")
    assert svc.aliases == {
        "api-headless",
        "api-headless.shop",
        "api-headless.shop.svc",
        "api-headless.shop.svc.cluster.local",
    }
    for host in ("API-Headless.Shop", "api-headless.shop.svc.cluster.local.", "api-headless"):
        assert svc.matches(host), host
    for host in ("api-headless.other", "api.shop", "api-headless.shop.svc.cluster", "", "10.0.0.1"):
        assert not svc.matches(host), host
