"""ServiceName, parse_name and validation: pure, no server."""

from __future__ import annotations

import re

import pytest

from headless_discovery import InvalidNameError, PodEnvironment, ServiceName, parse_name
from headless_discovery.names import in_srv_parent_domain, srv_parent_domain

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


def _domain(length: int) -> str:
    """A cluster domain of ``length`` characters, in labels of at most 63."""
    labels = []
    while length > 64:
        labels.append("a" * 63)
        length -= 64
    return ".".join([*labels, "b" * length])


def test_the_cluster_domain_and_the_full_name_at_253_characters_and_one_past() -> None:
    assert len(_domain(243)) == 243
    at_limit = ServiceName("db", "ns", _domain(243))  # db.ns.svc. + 243
    assert len(at_limit.fqdn) == 253
    with pytest.raises(
        InvalidNameError,
        match=r"^invalid name .*: the full name is 254 characters long; DNS allows at most 253$",
    ):
        ServiceName("db", "ns", _domain(244))
    with pytest.raises(InvalidNameError, match="the full name is 262 characters long"):
        ServiceName("db", "ns", _domain(252))
    with pytest.raises(InvalidNameError, match="the full name is 263 characters long"):
        ServiceName("db", "ns", _domain(253))
    with pytest.raises(
        InvalidNameError,
        match=r"^invalid name .*: the cluster domain is longer than 253 characters$",
    ):
        ServiceName("db", "ns", _domain(254))


def test_pod_and_srv_names_at_253_characters_and_one_past() -> None:
    svc = ServiceName("db", "ns", _domain(233))  # a 243-character FQDN
    assert len(svc.pod("p" * 9)) == 253
    with pytest.raises(InvalidNameError, match="the full name is 254 characters long"):
        svc.pod("p" * 10)
    assert len(svc.srv("abc")) == 253  # _abc._tcp. is 10 characters
    with pytest.raises(InvalidNameError, match="the full name is 254 characters long"):
        svc.srv("abcd")


def test_a_port_name_of_15_characters_is_accepted_and_16_refused() -> None:
    svc = ServiceName("db", "ns", "cluster.local")
    assert svc.srv("a" * 15) == "_" + "a" * 15 + "._tcp.db.ns.svc.cluster.local"
    with pytest.raises(
        InvalidNameError,
        match=r"^invalid name .*: the port name '"
        + "a" * 16
        + "' is longer than 15 characters \\(IANA service name\\)$",
    ):
        svc.srv("a" * 16)
    with pytest.raises(
        InvalidNameError, match=r"^invalid name '_\._tcp\.db\.ns': the port name is empty$"
    ):
        parse_name("_._tcp.db.ns", environment=ENV)
    with pytest.raises(InvalidNameError, match=r"SRV name looks like _<port-name>\._<protocol>"):
        parse_name("_http.db.ns", environment=ENV)
    with pytest.raises(InvalidNameError, match=r"SRV name looks like _<port-name>\._<protocol>"):
        parse_name("_http._tcp", environment=ENV)


@pytest.mark.parametrize("protocol", ["tcp", "udp", "sctp", "UDP"])
def test_each_srv_protocol_builds_and_parses(protocol: str) -> None:
    svc = ServiceName("db", "ns", "cluster.local")
    name = svc.srv("http", protocol)  # type: ignore[arg-type]
    assert name == f"_http._{protocol.lower()}.db.ns.svc.cluster.local"
    parsed = parse_name(name)
    assert (parsed.port_name, parsed.protocol, parsed.service) == ("http", protocol.lower(), svc)
    assert parsed.fqdn == name


def test_only_the_missing_part_comes_from_the_environment() -> None:
    assert ServiceName("db", "prod", environment=CUSTOM).fqdn == "db.prod.svc.corp.internal"
    assert ServiceName("db", cluster_domain="x.y", environment=CUSTOM).fqdn == "db.team-a.svc.x.y"


def test_a_service_name_is_a_value_with_a_repr() -> None:
    svc = ServiceName("db", "prod", "cluster.local")
    assert repr(svc) == "ServiceName('db', namespace='prod', cluster_domain='cluster.local')"
    assert svc != "db.prod.svc.cluster.local"
    assert svc != ServiceName("db", "prod", "cluster.remote")
    assert {svc: 1}[ServiceName("DB", "Prod", "cluster.local.")] == 1
    with pytest.raises(AttributeError, match=r"^ServiceName is immutable; cannot delete 'name'$"):
        del svc.name  # type: ignore[misc]
    with pytest.raises(AttributeError, match=r"^ServiceName is immutable; cannot set 'extra'$"):
        svc.extra = 1  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("target", "parent", "inside"),
    [
        ("mongodb-0.db.ns.svc.cluster.local.", "ns.svc.cluster.local", True),
        ("MONGODB-0.DB.NS.SVC.CLUSTER.LOCAL", "ns.svc.cluster.local.", True),
        ("mongodb-0.ns.svc.cluster.local", "ns.svc.cluster.local", True),
        ("ns.svc.cluster.local", "ns.svc.cluster.local", False),
        ("mongodb-0.evilns.svc.cluster.local", "ns.svc.cluster.local", False),
        ("mongodb-0.db.other.svc.cluster.local", "ns.svc.cluster.local", False),
        (None, "ns.svc.cluster.local", False),
        ("mongodb-0.db.ns.svc.cluster.local", "", False),
    ],
)
def test_srv_targets_inside_and_outside_the_parent_domain(
    target: str | None, parent: str, inside: bool
) -> None:
    assert in_srv_parent_domain(target, parent) is inside


def test_the_parent_domain_is_the_host_without_its_first_label() -> None:
    assert srv_parent_domain("MongoDB.DB.svc.cluster.local.") == "db.svc.cluster.local"
    assert srv_parent_domain("localhost") == ""


@pytest.mark.parametrize(
    ("build", "name", "reason"),
    [
        (lambda svc: svc.pod(5), "5", "the pod hostname must be a string, not int"),
        (
            lambda svc: svc.pod("k\u00e9"),
            "k\u00e9",
            "the pod hostname contains the non-ASCII character '\u00e9'; DNS labels are ASCII",
        ),
        (
            lambda svc: svc.pod("Mongo_0"),
            "mongo_0",
            "the pod hostname 'mongo_0' has '_' at position 5; only lower-case letters, "
            "digits and '-' are allowed",
        ),
        (
            lambda svc: svc.pod("-0"),
            "-0",
            "the pod hostname '-0' must start and end with a letter or digit",
        ),
        (lambda svc: svc.srv(5), "5", "the port name must be a string, not int"),
        (
            lambda svc: svc.srv("Mon--Go"),
            "mon--go",
            "the port name 'mon--go' contains '--'",
        ),
        (
            lambda svc: svc.srv("-http"),
            "-http",
            "the port name '-http' must start and end with a letter or digit",
        ),
        (lambda svc: svc.srv("http", 5), "5", "the protocol must be a string, not int"),
        (lambda svc: svc.srv("http", "ICMP"), "ICMP", "the protocol must be tcp, udp or sctp"),
    ],
)
def test_pod_and_srv_errors_name_the_part_and_say_why(
    build: object, name: str, reason: str
) -> None:
    svc = ServiceName("db", "ns", "cluster.local")
    with pytest.raises(InvalidNameError, match=f"{re.escape(reason)}$") as info:
        build(svc)  # type: ignore[operator]
    assert (info.value.name, info.value.reason) == (name, reason)
    assert str(info.value) == f"invalid name {name!r}: {reason}"


def test_a_pod_hostname_may_start_with_a_digit() -> None:
    svc = ServiceName("db", "ns", "cluster.local")
    assert svc.pod("0-web") == "0-web.db.ns.svc.cluster.local"


def test_matches_strips_the_dot_before_lowering_the_case() -> None:
    svc = ServiceName("box", "ns", "cluster.local")
    assert svc.matches("BOX")
    assert svc.matches("BOX.NS.")
    assert not svc.matches(5)  # type: ignore[arg-type]


def test_different_names_hash_apart() -> None:
    hashes = {hash(ServiceName(f"s{i}", "ns", "cluster.local")) for i in range(50)}
    assert len(hashes) > 1


def test_service_parse_names_the_whole_text_it_refuses() -> None:
    text = "Mongodb-0.db.prod.svc.cluster.local"
    with pytest.raises(
        InvalidNameError, match="this is a per-pod name, not a Service name"
    ) as info:
        ServiceName.parse(text)
    assert info.value.name == text
    assert info.value.reason == (
        "this is a per-pod name, not a Service name; use parse_name() for it, or give the "
        "Service name 'db.prod.svc.cluster.local'"
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            "1db.ns",
            "the Service name '1db' must start with a letter (Kubernetes Service names are "
            "DNS-1035 labels)",
        ),
        (
            "db_x.ns",
            "the Service name 'db_x' has '_' at position 2; only lower-case letters, digits "
            "and '-' are allowed",
        ),
        ("db.-ns", "the namespace '-ns' must start and end with a letter or digit"),
        ("db..svc.cluster.local", "the namespace is empty"),
        ("", "the name is empty"),
        (".", "the name is empty"),
        (
            "a.b.c",
            "expected <service>, <service>.<namespace>, <service>.<namespace>.svc[.<domain>] "
            "or <pod>.<service>.<namespace>.svc[.<domain>]; found 'c' where 'svc' belongs",
        ),
        (
            "db.ns.",
            "a name with a trailing dot is absolute, so it must be complete: "
            "<service>.<namespace>.svc.<cluster-domain>.",
        ),
        (
            "db.ns.svc.clu_ster.local",
            "the cluster domain label 'clu_ster' has '_' at position 3; only lower-case "
            "letters, digits and '-' are allowed",
        ),
        ("\u212a8s.ns", "the name contains the non-ASCII character '\u212a'; DNS labels are ASCII"),
        ("_http.db.ns", "an SRV name looks like _<port-name>._<protocol>.<service>"),
        ("_mongodb._xtp.db.ns", "the SRV protocol 'xtp' is not tcp, udp or sctp"),
        ("_80._tcp.db.ns", "the port name '80' must contain a letter"),
        (
            "Mongo_0.db.ns.svc.cluster.local",
            "the pod hostname 'mongo_0' has '_' at position 5; only lower-case letters, "
            "digits and '-' are allowed",
        ),
        (
            "db.ns.svc." + "a." * 121 + "bc",
            "the name is 254 characters long; DNS allows at most 253",
        ),
    ],
)
def test_parse_name_refuses_with_the_whole_text_and_the_exact_reason(
    text: str, reason: str
) -> None:
    with pytest.raises(InvalidNameError, match=f"{re.escape(reason)}$") as info:
        parse_name(text, environment=ENV)
    assert (info.value.name, info.value.reason) == (text, reason)


def test_parse_name_refuses_what_is_not_a_string() -> None:
    with pytest.raises(InvalidNameError, match=r"^invalid name '5': the name must be") as info:
        parse_name(5)  # type: ignore[arg-type]
    assert (info.value.name, info.value.reason) == ("5", "the name must be a string, not int")


def test_a_name_of_253_characters_parses() -> None:
    text = "db.ns.svc." + "a." * 121 + "b"
    assert len(text) == 253
    assert parse_name(text + ".").fqdn == text


@pytest.mark.parametrize(
    ("parts", "name", "reason"),
    [
        ((42, "ns", "cluster.local"), "42", "the Service name must be a string, not int"),
        (("db", 42, "cluster.local"), "42", "the namespace must be a string, not int"),
        (("db", "ns", 42), "42", "the cluster domain must be a string, not int"),
        (
            ("db", "ns", "clu_ster.local"),
            "clu_ster.local",
            "the cluster domain label 'clu_ster' has '_' at position 3; only lower-case "
            "letters, digits and '-' are allowed",
        ),
        (("db", "ns", "a" * 254), "a" * 254, "the cluster domain is longer than 253 characters"),
        (
            ("1db", "ns", "cluster.local"),
            "1db",
            "the Service name '1db' must start with a letter (Kubernetes Service names are "
            "DNS-1035 labels)",
        ),
        (
            ("d\u00e9", "ns", "cluster.local"),
            "d\u00e9",
            "the Service name contains the non-ASCII character '\u00e9'; DNS labels are ASCII",
        ),
        (("db", "", "cluster.local"), "", "the namespace is empty"),
        (
            ("db", "n\u00e9", "cluster.local"),
            "n\u00e9",
            "the namespace contains the non-ASCII character '\u00e9'; DNS labels are ASCII",
        ),
        (
            ("db", "x" * 64, "cluster.local"),
            "x" * 64,
            f"the namespace {'x' * 64!r} is 64 characters long; at most 63 are allowed",
        ),
        (
            ("db", "ns", "cluster.loc\u00e9"),
            "cluster.loc\u00e9",
            "the cluster domain contains the non-ASCII character '\u00e9'; DNS labels are ASCII",
        ),
        (
            ("db", "ns", _domain(244)),
            "db.ns.svc." + _domain(244),
            "the full name is 254 characters long; DNS allows at most 253",
        ),
    ],
)
def test_service_name_errors_name_the_part_and_say_why(
    parts: tuple[object, object, object], name: str, reason: str
) -> None:
    with pytest.raises(InvalidNameError, match=f"{re.escape(reason)}$") as info:
        ServiceName(*parts)  # type: ignore[arg-type]
    assert (info.value.name, info.value.reason) == (name, reason)


def test_a_complete_name_is_parsed_once_and_never_asks_the_pod(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_detection(*args: object, **kwargs: object) -> PodEnvironment:
        raise AssertionError("a complete name must not read the pod's environment")

    monkeypatch.setattr(PodEnvironment, "detect", no_detection)
    first = parse_name("_Web._tcp.Once.Prod.svc.cluster.local.")
    assert first.fqdn == "_web._tcp.once.prod.svc.cluster.local"
    assert parse_name("_Web._tcp.Once.Prod.svc.cluster.local.") is first
    assert parse_name("_web._tcp.once.prod.svc.cluster.local.") == first
    # Another environment changes nothing for a name that gives every part.
    assert parse_name("_Web._tcp.Once.Prod.svc.cluster.local.", environment=CUSTOM) is first


def test_a_name_completed_by_the_environment_is_parsed_every_time() -> None:
    for text in ("cached", "cached.prod", "cached.prod.svc", "db-0.cached.prod.svc"):
        assert parse_name(text, environment=ENV).service.cluster_domain == "cluster.local"
        again = parse_name(text, environment=CUSTOM).service
        assert again.cluster_domain == "corp.internal", text
    assert parse_name("cached", environment=CUSTOM).service.namespace == "team-a"


def test_the_parsed_names_kept_are_bounded() -> None:
    from headless_discovery import names

    for i in range(names._PARSED_MAX + 5):
        parse_name(f"db{i}.prod.svc.cluster.local")
    assert 0 < len(names._PARSED) <= names._PARSED_MAX
    assert parse_name("db0.prod.svc.cluster.local").service.name == "db0"
