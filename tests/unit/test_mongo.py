"""The MongoDB URI builders, checked against pymongo's own parser."""

from __future__ import annotations

import re

import pytest

from headless_discovery import (
    ConfigurationError,
    Endpoint,
    MongoOptions,
    build_mongo_srv_uri,
    build_mongo_uri,
    mask_password,
)

# pymongo is the oracle of these tests; without it (runtime dependencies only) they skip.
parse_uri = pytest.importorskip("pymongo.uri_parser").parse_uri

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
        (lambda: build_mongo_uri([]), "a MongoDB seed list needs at least one endpoint"),
        (lambda: build_mongo_uri(MEMBERS, password="x"), "a password was given without a username"),
        (
            lambda: build_mongo_uri(MEMBERS, database="a.b"),
            "the database name 'a.b' contains '.'; "
            'MongoDB database names cannot hold / \\ . space " $ or NUL',
        ),
        (
            lambda: build_mongo_uri(MEMBERS, database="a$b"),
            "the database name 'a$b' contains '$'; "
            'MongoDB database names cannot hold / \\ . space " $ or NUL',
        ),
        (
            lambda: build_mongo_uri(MEMBERS, options={"srvMaxHosts": 2}),
            "srvMaxHosts is only allowed in mongodb+srv:// URIs",
        ),
        (
            lambda: build_mongo_srv_uri(
                "a.b",
                replica_set="rs",
                options={"srvMaxHosts": 2},
            ),
            "srvMaxHosts cannot be combined with replicaSet or loadBalanced",
        ),
        (
            lambda: build_mongo_uri(MEMBERS, options={"directConnection": True}),
            "directConnection=true needs exactly one host and no mongodb+srv://",
        ),
        (
            lambda: build_mongo_uri(MEMBERS, options={"loadBalanced": True}),
            "loadBalanced=true cannot be used with several hosts",
        ),
        (
            lambda: build_mongo_uri(MEMBERS, replica_set="a", options={"replicaset": "b"}),
            "replicaSet is given both as replica_set= and in options",
        ),
        (
            lambda: build_mongo_uri(MEMBERS, options={"tls": True, "TLS": False}),
            "option 'TLS' is given twice (as 'tls')",
        ),
        (
            lambda: build_mongo_uri(MEMBERS, options={"bad key": 1}),
            "'bad key' is not a MongoDB URI option name",
        ),
        (
            lambda: build_mongo_uri(MEMBERS, options={"tls": ["a", "b"]}),
            "only readPreferenceTags may be repeated, not 'tls'",
        ),
        (
            lambda: build_mongo_uri(MEMBERS, options={"authMechanismProperties": "A:b,C:"}),
            "the value of option 'authMechanismProperties' must be key:value pairs separated "
            "by commas, each value non-empty",
        ),
        (
            lambda: build_mongo_uri(MEMBERS, options={"readPreferenceTags": "a:b:c"}),
            "the value of option 'readPreferenceTags' must be key:value pairs separated by commas",
        ),
        (
            lambda: build_mongo_uri(MEMBERS, options={"directConnection": "True"}),
            "the value of option 'directConnection' must be true or false "
            "(a bool or 'true'/'false')",
        ),
        (
            lambda: build_mongo_srv_uri("a.b", options={"srvMaxHosts": -1}),
            "the value of option 'srvMaxHosts' must be a non-negative integer",
        ),
        (
            lambda: build_mongo_srv_uri("a.b", options={"srvMaxHosts": "x"}),
            "the value of option 'srvMaxHosts' must be a non-negative integer",
        ),
        (
            lambda: build_mongo_uri(MEMBERS, options={"srvServiceName": "mongodb"}),
            "srvServiceName is only allowed in mongodb+srv:// URIs",
        ),
        (
            lambda: build_mongo_uri(MEMBERS, options={"authSource": ""}),
            "the value of option 'authSource' cannot be empty",
        ),
        (
            lambda: build_mongo_uri(MEMBERS, hosts="dns"),
            "hosts must be 'ip' or 'hostname', not 'dns'",
        ),  # type: ignore[arg-type]
        (
            lambda: build_mongo_srv_uri("db.ns:27017"),
            "mongodb+srv:// needs one DNS name with at least two labels, no port: 'db.ns:27017'",
        ),
        (
            lambda: build_mongo_srv_uri("10.0.0.1"),
            "mongodb+srv:// needs a DNS name, not an IP address: '10.0.0.1'",
        ),
        (
            lambda: build_mongo_srv_uri("localhost"),
            "mongodb+srv:// needs one DNS name with at least two labels, no port: 'localhost'",
        ),
    ],
)
def test_what_pymongo_would_refuse_is_refused_first(call: object, message: str) -> None:
    with pytest.raises(ConfigurationError, match=f"^{re.escape(message)}$"):
        call()  # type: ignore[operator]


def test_errors_never_show_the_password() -> None:
    secret = "s3cr3t-P4ss"
    with pytest.raises(ConfigurationError, match="'x y' is not a MongoDB URI option name") as info:
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


def test_host_port_pairs_are_accepted_as_pymongo_gives_them() -> None:
    # pymongo's nodelist shape: (host, port) pairs, IPv6 without brackets.
    uri = build_mongo_uri([("fd00::1", 27017), ("db-1.db.prod.svc.cluster.local", 27018)])
    assert uri == "mongodb://[fd00::1]:27017,db-1.db.prod.svc.cluster.local:27018/"
    assert parse_uri(uri)["nodelist"] == [
        ("fd00::1", 27017),
        ("db-1.db.prod.svc.cluster.local", 27018),
    ]
    assert build_mongo_uri([("10.0.0.1", 1), ("10.0.0.1", 65535)]).count("10.0.0.1") == 2


@pytest.mark.parametrize(
    ("item", "match"),
    [
        ("10.0.0.1:27017", r"expected an Endpoint or a \(host, port\) pair .* not str"),
        (("10.0.0.1",), r"not tuple \('10.0.0.1',\)"),
        (("10.0.0.1", "27017"), r"not tuple \('10.0.0.1', '27017'\)"),
        (("10.0.0.1", True), r"not tuple"),
        (("", 27017), r"not tuple \('', 27017\)"),
        (("10.0.0.1", 0), "the port must be an integer from 1 to 65535, not 0"),
        (("10.0.0.1", 65536), "the port must be an integer from 1 to 65535, not 65536"),
        (("a/b", 27017), "'a/b' is not a host name or IP address"),
        (("fd00::1::2", 27017), "'fd00::1::2' is not a host name or IP address"),
    ],
)
def test_anything_but_endpoints_and_pairs_is_refused_by_name(item: object, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        build_mongo_uri([item])  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("password", {"username": "app", "password": "p\udc80ss-secret"}),
        ("username", {"username": "a\ud800pp", "password": "secret"}),
        ("database name", {"database": "orders\udfff"}),
        ("replica set name", {"replica_set": "rs\udc800"}),
        ("value of option 'authSource'", {"options": {"authSource": "ad\udc80min"}}),
    ],
)
def test_lone_surrogates_are_refused_by_field_without_the_value(
    field: str, kwargs: dict[str, object]
) -> None:
    with pytest.raises(ConfigurationError, match=f"the {field} holds a lone surrogate") as info:
        build_mongo_uri([Endpoint("10.0.0.1", 27017)], **kwargs)  # type: ignore[arg-type]
    error = info.value
    seen: list[BaseException] = []
    cause: BaseException | None = error
    while cause is not None:
        seen.append(cause)
        cause = cause.__cause__ or cause.__context__
    assert seen == [error]  # no chained UnicodeEncodeError holding the text
    for exc in seen:
        text = repr(exc) + str(exc) + repr(vars(exc)) + repr(exc.args)
        assert "secret" not in text
        assert "\udc80" not in text
    with pytest.raises(ConfigurationError, match="the password holds a lone surrogate"):
        build_mongo_srv_uri("db.prod.svc.cluster.local", username="u", password="\udc80")


def test_mongo_options_are_one_checked_value_that_hides_the_password() -> None:
    settings = MongoOptions(
        replica_set="rs0", username="app", password="s3cret", options={"tls": True}
    )
    assert "s3cret" not in repr(settings)
    assert settings.seed_uri([Endpoint("10.0.0.1", 27017)]) == build_mongo_uri(
        [Endpoint("10.0.0.1", 27017)],
        replica_set="rs0",
        username="app",
        password="s3cret",
        options={"tls": True},
    )
    with pytest.raises(TypeError, match="does not support item assignment"):
        settings.options["tls"] = False  # type: ignore[index]
    with pytest.raises(ConfigurationError, match="a password was given without a username"):
        MongoOptions(password="x")
    with pytest.raises(ConfigurationError, match=r"options must be a mapping .* not list"):
        MongoOptions(options=[("tls", True)])  # type: ignore[arg-type]
    with_default = settings.with_default_option("srvServiceName", "mongo")
    assert with_default.options == {"tls": True, "srvServiceName": "mongo"}
    assert with_default.with_default_option("SRVSERVICENAME", "x") == with_default
