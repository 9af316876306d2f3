"""StaticResolver from code and from zone files; resolve() and mongo_uri() on top of it."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from importlib.resources import as_file, files
from pathlib import Path

import pytest

from headless_discovery import (
    AsyncResolver,
    ConfigurationError,
    NoEndpointsError,
    PodEnvironment,
    Resolver,
    ServiceName,
    ServiceNotFoundError,
    SrvRecord,
    StaticResolver,
    SystemResolver,
    mongo_uri,
    resolve,
)
from headless_discovery.endpoints import TxtAnswer
from headless_discovery.resolvers._base import AsyncTxtResolver, TxtResolver, UdpProbing

SVC = ServiceName("mongodb-headless-service", "infrastructure", "cluster.local")


@pytest.fixture
def demo() -> StaticResolver:
    with as_file(files("headless_discovery") / "data" / "demo-cluster.zone") as path:
        return StaticResolver.from_zone_file(path)


def test_static_resolver_serves_both_protocols(demo: StaticResolver) -> None:
    assert isinstance(demo, Resolver)
    assert isinstance(demo, AsyncResolver)
    answer = asyncio.run(demo.aresolve_addresses(SVC.query_name))
    assert sorted(answer.addresses) == ["10.244.0.5", "10.244.1.7", "10.244.2.9"]
    assert answer.ttl == 5


def test_resolve_from_the_embedded_zone(demo: StaticResolver) -> None:
    res = resolve(SVC, port=27017, resolver=demo)
    assert [ep.netloc() for ep in res] == [
        "10.244.0.5:27017",
        "10.244.1.7:27017",
        "10.244.2.9:27017",
    ]
    srv = resolve(SVC, srv="mongodb", resolver=demo)
    assert srv.hostnames == tuple(SVC.pod(f"mongodb-{i}") for i in range(3))
    assert {ep.port for ep in srv} == {27017}


def test_string_names_use_the_environment(demo: StaticResolver) -> None:
    env = PodEnvironment(namespace="infrastructure", cluster_domain="cluster.local")
    a = resolve("mongodb-headless-service", resolver=demo, environment=env)
    b = resolve("mongodb-headless-service.infrastructure", resolver=demo, environment=env)
    c = resolve(SVC.query_name, resolver=demo)
    assert a.endpoints == b.endpoints == c.endpoints
    pod = resolve(SVC.pod("mongodb-1"), resolver=demo)
    assert [ep.address for ep in pod] == ["10.244.1.7"]


def test_mongo_uri_from_the_embedded_zone(demo: StaticResolver) -> None:
    uri = mongo_uri(
        "mongodb-headless-service",
        namespace="infrastructure",
        cluster_domain="cluster.local",
        replica_set="rs0",
        resolver=demo,
    )
    assert uri == ("mongodb://10.244.0.5:27017,10.244.1.7:27017,10.244.2.9:27017/?replicaSet=rs0")
    by_host = mongo_uri(SVC, hosts="hostname", resolver=demo)
    assert by_host.startswith("mongodb://mongodb-0.mongodb-headless-service.infrastructure.")
    srv = mongo_uri(SVC, srv=True, options={"tls": False}, port_name="db")
    assert srv == (
        "mongodb+srv://mongodb-headless-service.infrastructure.svc.cluster.local/"
        "?tls=false&srvServiceName=db"
    )


def test_not_found_explains_the_three_causes(demo: StaticResolver) -> None:
    with pytest.raises(
        ServiceNotFoundError,
        match=r"^mongodb\.infra\.svc\.cluster\.local\. does not exist \(NXDOMAIN\)",
    ) as info:
        resolve(ServiceName("mongodb", "infra", "cluster.local"), resolver=demo)
    message = str(info.value)
    assert "no Service 'mongodb' in namespace 'infra'" in message
    assert "none of its pods is ready" in message
    assert "publishNotReadyAddresses" in message
    assert info.value.name == "mongodb.infra.svc.cluster.local."
    assert info.value.rdtype == "A/AAAA"
    assert isinstance(info.value, NoEndpointsError)


def test_missing_srv_port_name_is_explained(demo: StaticResolver) -> None:
    with pytest.raises(ServiceNotFoundError, match="has no port named 'mongo'"):
        mongo_uri(SVC, hosts="hostname", port_name="mongo", resolver=demo)


def test_records_from_code_and_nodata() -> None:
    resolver = StaticResolver(
        {
            "db.ns.svc.cluster.local": ["10.0.0.2", "fd00::2"],
            "_db._tcp.db.ns.svc.cluster.local": [SrvRecord("db-0.db.ns.svc.cluster.local", 5432)],
            "db-0.db.ns.svc.cluster.local.": ["10.0.0.2"],
            "empty.ns.svc.cluster.local": [],
        },
        ttl=30,
    )
    assert resolver.resolve_addresses("db.ns.svc.cluster.local.", family="ipv6").addresses == (
        "fd00::2",
    )
    srv = resolve("_db._tcp.db.ns.svc.cluster.local", resolver=resolver)
    assert [(ep.address, ep.port) for ep in srv] == [("10.0.0.2", 5432)]
    assert srv.ttl == 30
    with pytest.raises(NoEndpointsError, match="no A/AAAA records"):
        resolver.resolve_addresses("empty.ns.svc.cluster.local")
    with pytest.raises(ConfigurationError, match="neither an IP address"):
        StaticResolver({"x": ["not-an-ip"]})


def test_bad_zone_file_names_the_file_and_line(tmp_path: Path) -> None:
    zone = tmp_path / "bad.zone"
    zone.write_text("$ORIGIN cluster.local.\n$TTL 5\nfoo IN A 10.0.0.300\n")
    with pytest.raises(ConfigurationError, match=r"bad\.zone"):
        StaticResolver.from_zone_file(zone)
    with pytest.raises(ConfigurationError, match="cannot read"):
        StaticResolver.from_zone_file(tmp_path / "missing.zone")


def test_argument_errors() -> None:
    with pytest.raises(ConfigurationError, match="port"):
        resolve(SVC, port=0, resolver=StaticResolver({}))
    with pytest.raises(ConfigurationError, match="carry the port"):
        resolve(SVC, srv="mongodb", port=27017, resolver=StaticResolver({}))
    with pytest.raises(ConfigurationError, match="part of it"):
        mongo_uri(SVC, namespace="x", resolver=StaticResolver({}))
    with pytest.raises(ConfigurationError, match="already names"):
        mongo_uri("db.other", namespace="x", resolver=StaticResolver({}))
    with pytest.raises(ConfigurationError, match="cannot look up SRV"):
        resolve(SVC, srv="mongodb", resolver=SystemResolver())


# -- TXT records ---------------------------------------------------------------------------------

DB = "db.ns.svc.cluster.local"


def test_static_resolver_has_the_txt_capability_and_no_udp_probe(demo: StaticResolver) -> None:
    assert isinstance(demo, TxtResolver)
    assert isinstance(demo, AsyncTxtResolver)
    assert not isinstance(demo, UdpProbing)


def test_txt_records_from_code() -> None:
    resolver = StaticResolver(
        {DB: ["10.0.0.2"], "bare.ns.svc.cluster.local": ["10.0.0.3"]},
        ttl=30,
        txt={f"{DB}.": ["replicaSet=rs0&authSource=admin", "second"], "only.txt.example": ["x"]},
    )
    answer = resolver.resolve_txt(DB + ".")
    assert answer == TxtAnswer(
        DB + ".", ("replicaSet=rs0&authSource=admin", "second"), 30, "static records"
    )
    assert asyncio.run(resolver.aresolve_txt(DB.upper())) == replace(answer, name=DB.upper())
    with pytest.raises(
        ServiceNotFoundError, match=r"^nothing\.ns\.svc\.cluster\.local\. does not"
    ) as nx:
        resolver.resolve_txt("nothing.ns.svc.cluster.local.")
    assert (nx.value.name, nx.value.rdtype) == ("nothing.ns.svc.cluster.local.", "TXT")
    with pytest.raises(
        NoEndpointsError,
        match=r"^bare\.ns\.svc\.cluster\.local\. has no TXT records \(answered by static",
    ) as nodata:
        resolver.resolve_txt("bare.ns.svc.cluster.local.")
    assert not isinstance(nodata.value, ServiceNotFoundError)
    assert nodata.value.rdtype == "TXT"
    # A name with TXT records only exists: its addresses are NODATA, not NXDOMAIN.
    with pytest.raises(NoEndpointsError, match="has no A/AAAA records") as addresses:
        resolver.resolve_addresses("only.txt.example")
    assert not isinstance(addresses.value, ServiceNotFoundError)
    assert "only.txt.example" in resolver.names


def test_txt_records_from_code_must_be_strings() -> None:
    with pytest.raises(ConfigurationError, match="must be a list of strings, not the string 'a=b'"):
        StaticResolver({}, txt={DB: "a=b"})
    with pytest.raises(ConfigurationError, match=r"TXT record b'a=b' for db\.ns.* is not a string"):
        StaticResolver({}, txt={DB: [b"a=b"]})  # type: ignore[list-item]


def test_txt_records_from_a_zone_file(tmp_path: Path) -> None:
    zone = tmp_path / "txt.zone"
    zone.write_text(
        "$ORIGIN ns.svc.cluster.local.\n$TTL 5\n"
        'db     IN TXT "replicaSet=rs0" "&authSource=admin"\n'
        "db     IN A   10.0.0.2\n"
        'db     60 IN TXT "caf\\195\\169" "\\255"\n'
        "bare   IN A   10.0.0.3\n"
    )
    resolver = StaticResolver.from_zone_file(zone)
    answer = resolver.resolve_txt(DB)
    # Several character-strings in one record are one string; undecodable bytes replaced.
    assert sorted(answer.texts) == ["café\ufffd", "replicaSet=rs0&authSource=admin"]
    assert answer.ttl == 5
    with pytest.raises(
        NoEndpointsError, match=r"bare\.ns\.svc\.cluster\.local\. has no TXT"
    ) as nodata:
        resolver.resolve_txt("bare.ns.svc.cluster.local.")
    assert not isinstance(nodata.value, ServiceNotFoundError)
    with pytest.raises(ServiceNotFoundError, match=r"no Service 'other' in namespace 'ns'") as nx:
        resolver.resolve_txt("other.ns.svc.cluster.local.")
    assert nx.value.rdtype == "TXT"
