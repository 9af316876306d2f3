"""The MongoDB URI builders, checked against pymongo's own parser."""

from __future__ import annotations

import pytest
from pymongo.uri_parser import parse_uri

from headless_discovery import (
    ConfigurationError,
    Endpoint,
    build_mongo_srv_uri,
    build_mongo_uri,
    mask_password,
)

MEMBERS = [
    Endpoint("10.244.0.5", 27017, "mongodb-0.db.infra.svc.cluster.local"),
    Endpoint("10.244.1.7", 27017, "mongodb-1.db.infra.svc.cluster.local"),
    Endpoint("10.244.2.9", 27017, "mongodb-2.db.infra.svc.cluster.local"),
]


def test_the_seed_list_of_the_motivating_example() -> None:
    uri = build_mongo_uri(MEMBERS, replica_set="rs0")
    assert uri == "mongodb://10.244.0.5:27017,10.244.1.7:27017,10.244.2.9:27017/?replicaSet=rs0"
    parsed = parse_uri(uri)
    assert parsed["nodelist"] == [(ep.address, 27017) for ep in MEMBERS]
    assert parsed["options"]["replicaSet"] == "rs0"


def test_hostname_seeding() -> None:
    uri = build_mongo_uri(MEMBERS, hosts="hostname", replica_set="rs0")
    assert parse_uri(uri)["nodelist"] == [(ep.hostname, 27017) for ep in MEMBERS]
    with pytest.raises(ConfigurationError, match="has no hostname"):
        build_mongo_uri([Endpoint("10.0.0.1", 27017)], hosts="hostname")


def test_dual_stack_pods_are_listed_once_by_hostname_and_ipv6_is_bracketed() -> None:
    eps = [
        Endpoint("10.0.0.1", 27017, "m-0.db.ns.svc.cluster.local"),
        Endpoint("fd00::1", 27017, "m-0.db.ns.svc.cluster.local"),
    ]
    assert build_mongo_uri(eps, hosts="hostname") == "mongodb://m-0.db.ns.svc.cluster.local:27017/"
    by_ip = build_mongo_uri(eps)
    assert "[fd00::1]:27017" in by_ip
    assert parse_uri(by_ip)["nodelist"] == [("10.0.0.1", 27017), ("fd00::1", 27017)]


@pytest.mark.parametrize(
    "password", ["p@ss:w/rd", "100%+ sure?", "a+b", "%2B", "ünïcødé", " ", "#&=;,[]"]
)
def test_credentials_survive_pymongos_parser(password: str) -> None:
    user = "app:user@x/+"
    uri = build_mongo_uri(MEMBERS, username=user, password=password, database="orders")
    parsed = parse_uri(uri)
    assert (parsed["username"], parsed["password"], parsed["database"]) == (
        user,
        password,
        "orders",
    )


def test_option_values_are_escaped_and_booleans_lowercase() -> None:
    uri = build_mongo_uri(
        MEMBERS[:1],
        options={
            "appName": "my app+1&x=y",
            "tls": False,
            "retryWrites": True,
            "maxPoolSize": 50,
            "readPreference": "secondaryPreferred",
            "readPreferenceTags": ["dc:ny,rack:1", ""],
        },
    )
    assert "tls=false" in uri
    assert "retryWrites=true" in uri
    options = parse_uri(uri)["options"]
    assert options["appname"] == "my app+1&x=y"
    assert options["tls"] is False
    assert options["maxPoolSize"] == 50
    assert options["readPreferenceTags"] == [{"dc": "ny", "rack": "1"}, {}]


def test_srv_uri() -> None:
    uri = build_mongo_srv_uri(
        "db.infra.svc.cluster.local.", options={"tls": False}, replica_set="rs0"
    )
    assert uri == "mongodb+srv://db.infra.svc.cluster.local/?tls=false&replicaSet=rs0"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: build_mongo_uri([]), "at least one endpoint"),
        (lambda: build_mongo_uri(MEMBERS, password="x"), "without a username"),
        (lambda: build_mongo_uri(MEMBERS, database="a.b"), "database name"),
        (lambda: build_mongo_uri(MEMBERS, database="a$b"), "database name"),
        (lambda: build_mongo_uri(MEMBERS, options={"srvMaxHosts": 2}), "mongodb\\+srv"),
        (
            lambda: build_mongo_srv_uri("a.b", replica_set="rs", options={"srvMaxHosts": 2}),
            "srvMaxHosts",
        ),
        (lambda: build_mongo_uri(MEMBERS, options={"directConnection": True}), "exactly one"),
        (lambda: build_mongo_uri(MEMBERS, options={"loadBalanced": True}), "several hosts"),
        (
            lambda: build_mongo_uri(MEMBERS, replica_set="a", options={"replicaset": "b"}),
            "both",
        ),
        (lambda: build_mongo_uri(MEMBERS, options={"tls": True, "TLS": False}), "twice"),
        (lambda: build_mongo_uri(MEMBERS, options={"bad key": 1}), "option name"),
        (lambda: build_mongo_uri(MEMBERS, options={"tls": ["a", "b"]}), "repeated"),
        (
            lambda: build_mongo_uri(MEMBERS, options={"authMechanismProperties": "A:b&c"}),
            "without unescaping",
        ),
        (lambda: build_mongo_uri(MEMBERS, hosts="dns"), "hosts must be"),  # type: ignore[arg-type]
        (lambda: build_mongo_srv_uri("db.ns:27017"), "no port"),
        (lambda: build_mongo_srv_uri("10.0.0.1"), "not an IP"),
        (lambda: build_mongo_srv_uri("localhost"), "two labels"),
    ],
)
def test_what_pymongo_would_refuse_is_refused_first(call: object, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        call()  # type: ignore[operator]


def test_errors_never_show_the_password() -> None:
    secret = "s3cr3t-P4ss"
    with pytest.raises(ConfigurationError) as info:
        build_mongo_uri(MEMBERS, username="u", password=secret, options={"x y": 1})
    assert secret not in str(info.value)
    assert secret not in repr(info.value)


def test_mask_password() -> None:
    uri = build_mongo_uri(MEMBERS, username="app", password="p@ss/w?rd", database="d")
    masked = mask_password(uri)
    assert "p%40ss" not in masked
    assert masked.startswith("mongodb://app:****@10.244.0.5:27017,")
    assert masked.endswith("/d")
    assert mask_password("mongodb://10.0.0.1/") == "mongodb://10.0.0.1/"
    assert mask_password("mongodb://user@10.0.0.1/") == "mongodb://user@10.0.0.1/"
