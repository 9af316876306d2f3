"""Behaviours no test pinned before (issue 19): each limit accepted and one past it refused,
each error with its type and message, what wrappers pass down."""

from __future__ import annotations

import pytest
from pymongo.uri_parser import parse_uri

from headless_discovery import (
    ConfigurationError,
    Endpoint,
    InvalidNameError,
    MongoOptions,
    PodEnvironment,
    ServiceName,
    StaticResolver,
    build_mongo_srv_uri,
    build_mongo_uri,
    mask_password,
    parse_name,
    seed_list,
)
from tests.unit.test_mongo_oracle import parse_srv_uri

ONE = [Endpoint("10.244.0.10", 27017)]
TWO = [*ONE, Endpoint("10.244.0.11", 27017)]


# -- names: the label limit, the short SRV form, the pod form ----------------------------------


def test_a_label_of_63_characters_is_accepted_and_64_refused() -> None:
    assert ServiceName("a" * 63, "db").name == "a" * 63
    with pytest.raises(InvalidNameError, match="is 64 characters long; at most 63 are allowed"):
        ServiceName("a" * 64, "db")


def test_the_short_srv_form_is_parsed() -> None:
    env = PodEnvironment(namespace="db", cluster_domain="cluster.local")
    parsed = parse_name("_mongodb._tcp.mongodb", environment=env)
    assert (parsed.port_name, parsed.protocol, parsed.hostname) == ("mongodb", "tcp", None)
    assert parsed.service == ServiceName("mongodb", "db", "cluster.local")


def test_the_pod_form_without_a_domain_is_parsed() -> None:
    env = PodEnvironment(cluster_domain="example.internal")
    parsed = parse_name("mongodb-0.mongodb.db.svc", environment=env)
    assert parsed.hostname == "mongodb-0"
    assert parsed.service == ServiceName("mongodb", "db", "example.internal")


# -- the builders' one valid case, string values, the srv database, escaping -------------------


@pytest.mark.parametrize("option", ["directConnection", "loadBalanced"])
@pytest.mark.parametrize("value", [True, "true"])
def test_direct_connection_and_load_balanced_are_built_with_one_host(
    option: str, value: bool | str
) -> None:
    uri = build_mongo_uri(ONE, options={option: value})
    assert uri == f"mongodb://10.244.0.10:27017/?{option}=true"
    assert parse_uri(uri)["options"][option] is True
    with pytest.raises(ConfigurationError, match=r"exactly one host|several hosts"):
        build_mongo_uri(TWO, options={option: value})


@pytest.mark.parametrize("value", [False, "false"])
def test_false_is_no_restriction_on_the_hosts(value: bool | str) -> None:
    uri = build_mongo_uri(TWO, options={"directConnection": value, "loadBalanced": value})
    assert parse_uri(uri)["nodelist"] == [("10.244.0.10", 27017), ("10.244.0.11", 27017)]


def test_load_balanced_refuses_a_replica_set_and_direct_connection() -> None:
    with pytest.raises(
        ConfigurationError, match=r"^loadBalanced=true cannot be combined with replicaSet$"
    ):
        build_mongo_uri(ONE, replica_set="rs0", options={"loadBalanced": "true"})
    with pytest.raises(
        ConfigurationError, match=r"^loadBalanced=true cannot be combined with directConnection$"
    ):
        build_mongo_uri(ONE, options={"loadBalanced": True, "directConnection": "true"})
    with pytest.raises(
        ConfigurationError,
        match=r"^directConnection=true needs exactly one host and no mongodb\+srv://$",
    ):
        build_mongo_srv_uri("a.b", options={"directConnection": True})


def test_a_database_name_with_several_bad_characters_names_each() -> None:
    with pytest.raises(
        ConfigurationError,
        match=r"^the database name 'a\.b\$c' contains '\$', '\.'; MongoDB database names "
        r"cannot hold / \\ \. space \" \$ or NUL$",
    ):
        build_mongo_uri(ONE, database="a.b$c")


def test_string_values_are_escaped_and_read_back() -> None:
    uri = build_mongo_uri(ONE, options={"appName": "a b+c&d", "tls": "true"})
    assert uri == "mongodb://10.244.0.10:27017/?appName=a+b%2Bc%26d&tls=true"
    options = parse_uri(uri)["options"]
    assert (options["appname"], options["tls"]) == ("a b+c&d", True)


def test_the_database_of_a_srv_uri() -> None:
    uri = build_mongo_srv_uri("mongodb.db.svc.cluster.local", database="app")
    assert uri == "mongodb+srv://mongodb.db.svc.cluster.local/app"
    assert parse_srv_uri(uri)["database"] == "app"


def test_a_slash_in_a_username_is_escaped() -> None:
    uri = build_mongo_uri(ONE, username="a/b", password="c/d")
    assert uri == "mongodb://a%2Fb:c%2Fd@10.244.0.10:27017/"
    assert parse_uri(uri)["username"] == "a/b"


@pytest.mark.parametrize("port", ["80", 80.0, True])
def test_a_port_that_is_not_an_integer_is_refused(port: object) -> None:
    with pytest.raises(ConfigurationError, match="expected an Endpoint or a \\(host, port\\)"):
        build_mongo_uri([("db", port)])  # type: ignore[list-item]


@pytest.mark.parametrize(("port", "ok"), [(1, True), (65535, True), (0, False), (65536, False)])
def test_the_port_limits(port: int, ok: bool) -> None:
    if ok:
        assert build_mongo_uri([("db", port)]) == f"mongodb://db:{port}/"
    else:
        with pytest.raises(ConfigurationError, match="the port must be an integer from 1"):
            build_mongo_uri([("db", port)])


# -- mask_password -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "masked"),
    [
        ("mongodb://u:p@h", "mongodb://u:****@h"),
        ("mongodb://u:p@h:1,g:2", "mongodb://u:****@h:1,g:2"),
        ("mongodb://u:p@h?tls=true", "mongodb://u:****@h?tls=true"),
        ("mongodb://u:p@h/db?x=a@b:c", "mongodb://u:****@h/db?x=a@b:c"),
        ("mongodb://u:p%40q@h/", "mongodb://u:****@h/"),
        ("mongodb://u@h/", "mongodb://u@h/"),
        ("mongodb://h/?x=u:p@q", "mongodb://h/?x=u:p@q"),
        ("not a uri u:p@h", "not a uri u:p@h"),
        # Edge cases: what follows the hosts is never touched, the whole password is hidden
        # even when it holds an unescaped ':' or '@', and nothing before the path is no
        # userinfo.
        ("mongodb://u:p@h/?x=a://b", "mongodb://u:****@h/?x=a://b"),
        ("mongodb://u:p@h/a@b", "mongodb://u:****@h/a@b"),
        ("mongodb://u:p@h/a@b/c", "mongodb://u:****@h/a@b/c"),
        ("mongodb://u:p@h?x=a@b", "mongodb://u:****@h?x=a@b"),
        ("mongodb://u:p@h?x=a@b?c", "mongodb://u:****@h?x=a@b?c"),
        ("mongodb://u:p@ss@h/", "mongodb://u:****@h/"),
        ("mongodb://u:p:q@h/", "mongodb://u:****@h/"),
        ("mongodb:///u:p@h", "mongodb:///u:p@h"),
        ("mongodb://?u:p@h", "mongodb://?u:p@h"),
    ],
)
def test_mask_password(uri: str, masked: str) -> None:
    assert mask_password(uri) == masked


# -- seed_list passes its arguments down ----------------------------------------------------------


def test_seed_list_passes_cluster_domain_and_separator_down() -> None:
    resolver = StaticResolver({"kafka.streaming.svc.example.internal": ["10.0.0.2", "10.0.0.1"]})
    servers = seed_list(
        "kafka",
        namespace="streaming",
        cluster_domain="example.internal",
        port=9092,
        separator=";",
        resolver=resolver,
    )
    assert servers == "10.0.0.1:9092;10.0.0.2:9092"


# -- each argument of the wrong type or empty, with its error --------------------------------


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        ({"username": "u", "password": 5}, r"^the password must be a string$"),
        ({"username": ""}, r"^the username must be a non-empty string$"),
        ({"username": 5, "password": "p"}, r"^the username must be a non-empty string$"),
        ({"database": ""}, r"^the database name must be a non-empty string$"),
        ({"replica_set": ""}, r"^the replica set name must be a non-empty string$"),
        ({"replica_set": 5}, r"^the replica set name must be a non-empty string$"),
        (
            {"options": {"appName": None}},
            r"^the value of option 'appName' must be a string, number or bool$",
        ),
        (
            {"options": {"appName": b"x"}},
            r"^the value of option 'appName' must be a string, number or bool$",
        ),
        ({"options": {5: "x"}}, r"^5 is not a MongoDB URI option name$"),
        ({"options": {"1tls": "x"}}, r"^'1tls' is not a MongoDB URI option name$"),
    ],
)
def test_arguments_of_the_wrong_type_are_refused(parts: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        build_mongo_uri(ONE, **parts)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=message):
        build_mongo_srv_uri("db.ns.svc.cluster.local", **parts)  # type: ignore[arg-type]


@pytest.mark.parametrize("limit", [1.5, True, None, "1.5", ""])
def test_srv_max_hosts_must_be_an_integer(limit: object) -> None:
    with pytest.raises(
        ConfigurationError,
        match=r"^the value of option 'srvMaxHosts' must be a non-negative integer$",
    ):
        build_mongo_srv_uri("db.ns.svc.cluster.local", options={"srvMaxHosts": limit})  # type: ignore[dict-item]


@pytest.mark.parametrize("limit", [0, "0", 1, "3"])
def test_srv_max_hosts_as_int_or_string(limit: int | str) -> None:
    uri = build_mongo_srv_uri("db.ns.svc.cluster.local", options={"srvMaxHosts": limit})
    assert uri == f"mongodb+srv://db.ns.svc.cluster.local/?srvMaxHosts={limit}"
    assert parse_srv_uri(uri)["options"]["srvMaxHosts"] == int(limit)
    if int(limit):
        with pytest.raises(
            ConfigurationError,
            match=r"^srvMaxHosts cannot be combined with replicaSet or loadBalanced$",
        ):
            build_mongo_srv_uri(
                "db.ns.svc.cluster.local", replica_set="rs0", options={"srvMaxHosts": limit}
            )
        with pytest.raises(
            ConfigurationError,
            match=r"^srvMaxHosts cannot be combined with replicaSet or loadBalanced$",
        ):
            build_mongo_srv_uri(
                "db.ns.svc.cluster.local", options={"srvMaxHosts": limit, "loadBalanced": "true"}
            )
        with pytest.raises(
            ConfigurationError, match=r"^srvMaxHosts is only allowed in mongodb\+srv:// URIs$"
        ):
            build_mongo_uri(ONE, options={"srvMaxHosts": limit})
    else:
        assert build_mongo_uri(ONE, replica_set="rs0", options={"srvMaxHosts": limit}) == (
            f"mongodb://10.244.0.10:27017/?srvMaxHosts={limit}&replicaSet=rs0"
        )


# -- exact messages, escaping, what MongoOptions keeps --------------------------------------------


def test_a_lone_surrogate_is_refused_with_the_whole_message() -> None:
    with pytest.raises(
        ConfigurationError,
        match=r"^the username holds a lone surrogate at position 1, which is not text UTF-8 "
        r"can encode; check how it was read \(environment, file encoding\)$",
    ):
        build_mongo_uri(ONE, username="a\udc80")


def test_option_values_escape_every_reserved_character() -> None:
    uri = build_mongo_uri(ONE, options={"appName": "a/b c+d&e"})
    assert uri == "mongodb://10.244.0.10:27017/?appName=a%2Fb+c%2Bd%26e"
    assert parse_uri(uri)["options"]["appname"] == "a/b c+d&e"


def test_tags_are_split_before_unescaping_properties_after() -> None:
    # pymongo splits readPreferenceTags at ',' and ':' first, so an escaped ',' is a value.
    uri = build_mongo_uri(ONE, options={"readPreferenceTags": "dc:ny%2Cx"})
    assert uri == "mongodb://10.244.0.10:27017/?readPreferenceTags=dc:ny%2Cx"
    assert parse_uri(uri)["options"]["readPreferenceTags"] == [{"dc": "ny,x"}]
    # authMechanismProperties is unescaped whole first: an escaped ',' splits a pair.
    with pytest.raises(
        ConfigurationError,
        match=r"^the value of option 'authMechanismProperties' must be key:value pairs "
        r"separated by commas, each value non-empty$",
    ):
        build_mongo_uri(ONE, options={"authMechanismProperties": "SERVICE_NAME:a%2CB"})
    # A property value may hold ':' itself, even at its end: only the first ':' splits.
    uri = build_mongo_uri(ONE, options={"authMechanismProperties": "SERVICE_NAME:a:"})
    assert parse_uri(uri)["options"]["authMechanismProperties"] == {"SERVICE_NAME": "a:"}
    with pytest.raises(
        ConfigurationError,
        match=r"^the value of option 'readPreferenceTags' must be key:value pairs separated "
        r"by commas$",
    ):
        build_mongo_uri(ONE, options={"readPreferenceTags": ["dc:ny", "a"]})


def test_a_default_option_keeps_every_other_part() -> None:
    settings = MongoOptions("rs0", "app", "s3cret", "orders", {"tls": False})
    with_name = settings.with_default_option("srvServiceName", "mongo")
    assert with_name == MongoOptions(
        "rs0", "app", "s3cret", "orders", {"tls": False, "srvServiceName": "mongo"}
    )
    assert with_name.srv_uri("db.ns.svc.cluster.local") == (
        "mongodb+srv://app:s3cret@db.ns.svc.cluster.local/orders"
        "?tls=false&srvServiceName=mongo&replicaSet=rs0"
    )
    given = settings.with_default_option("TLS", True)  # given already, in any case
    assert given.options == {"tls": False}


def test_seed_uri_lists_addresses_by_default() -> None:
    member = Endpoint("10.244.0.10", 27017, "db-0.db.ns.svc.cluster.local")
    assert MongoOptions().seed_uri([member]) == "mongodb://10.244.0.10:27017/"
    with pytest.raises(
        ConfigurationError, match=r"^a MongoDB seed list needs at least one endpoint$"
    ):
        MongoOptions().seed_uri([])


def test_the_srv_host_is_lower_case_without_its_trailing_dot() -> None:
    assert build_mongo_srv_uri("Mongo.DB.BOX.") == "mongodb+srv://mongo.db.box/"
    with pytest.raises(
        ConfigurationError,
        match=r"^mongodb\+srv:// needs one DNS name with at least two labels, no port: 5$",
    ):
        build_mongo_srv_uri(5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        ({"database": "a.b"}, r"^the database name 'a\.b' contains '\.'"),
        ({"options": {"bad key": 1}}, r"^'bad key' is not a MongoDB URI option name$"),
        ({"replica_set": ""}, r"^the replica set name must be a non-empty string$"),
        (
            {"replica_set": "a", "options": {"replicaSet": "b"}},
            r"^replicaSet is given both as replica_set= and in options$",
        ),
        ({"password": "p"}, r"^a password was given without a username$"),
    ],
)
def test_mongo_options_are_checked_when_made_before_any_host_is_known(
    parts: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        MongoOptions(**parts)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("uri", "masked"),
    [
        # Unescaped "/" or "?" in a password: a malformed URI, but no password shown.
        ("mongodb://u:p/ss@h/db", "mongodb://u:****@h/db"),
        ("mongodb://u:p/ss@h", "mongodb://u:****@h"),
        ("mongodb://u:p?ss@h/db", "mongodb://u:****@h/db"),
        ("mongodb://u:p?s/s@h/db", "mongodb://u:****@h/db"),
        # An "@" in the query of a URI without credentials is left alone.
        ("mongodb://h/db?appName=a@b", "mongodb://h/db?appName=a@b"),
    ],
)
def test_a_malformed_password_is_masked_too(uri: str, masked: str) -> None:
    assert mask_password(uri) == masked
