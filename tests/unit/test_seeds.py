"""Seed lists for Kafka, Cassandra, Elasticsearch and friends: pure building, then resolving."""

from __future__ import annotations

import pytest

from headless_discovery import (
    ConfigurationError,
    Endpoint,
    ServiceNotFoundError,
    SrvRecord,
    StaticResolver,
    UntrustedAnswerError,
    build_seed_list,
    seed_list,
)

KAFKA = "kafka-headless.streaming.svc.cluster.local"
BROKERS = [
    Endpoint("10.244.0.5", 9092, f"kafka-0.{KAFKA}"),
    Endpoint("10.244.1.7", 9092, f"kafka-1.{KAFKA}"),
    Endpoint("10.244.2.9", 9092, f"kafka-2.{KAFKA}"),
]


@pytest.fixture
def resolver() -> StaticResolver:
    return StaticResolver(
        {
            KAFKA: ["10.244.2.9", "10.244.0.5", "10.244.1.7"],
            f"kafka-0.{KAFKA}": ["10.244.0.5"],
            f"kafka-1.{KAFKA}": ["10.244.1.7"],
            f"kafka-2.{KAFKA}": ["10.244.2.9"],
            f"_tcp-client._tcp.{KAFKA}": [
                SrvRecord(f"kafka-{i}.{KAFKA}", 9094, 0, 33) for i in (2, 0, 1)
            ],
        }
    )


def test_host_port_pairs_joined_by_commas() -> None:
    assert build_seed_list(BROKERS) == "10.244.0.5:9092,10.244.1.7:9092,10.244.2.9:9092"


def test_hostnames_separator_and_scheme() -> None:
    assert build_seed_list(BROKERS[:2], hosts="hostname", separator=";") == (
        f"kafka-0.{KAFKA}:9092;kafka-1.{KAFKA}:9092"
    )
    assert build_seed_list(BROKERS[:1], scheme="HTTPS") == "https://10.244.0.5:9092"


def test_addresses_without_ports_and_ipv6_brackets() -> None:
    eps = [Endpoint("10.0.0.1"), Endpoint("fd00::1"), Endpoint("fd00::2", 9042)]
    assert build_seed_list(eps) == "10.0.0.1,[fd00::1],[fd00::2]:9042"


def test_a_dual_stack_pod_is_listed_once_by_hostname() -> None:
    eps = [
        Endpoint("10.0.0.1", 9092, "k-0.x.ns.svc.cluster.local"),
        Endpoint("fd00::1", 9092, "k-0.x.ns.svc.cluster.local"),
    ]
    assert build_seed_list(eps, hosts="hostname") == "k-0.x.ns.svc.cluster.local:9092"
    assert build_seed_list(eps) == "10.0.0.1:9092,[fd00::1]:9092"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hosts": "dns"}, "hosts must be"),
        ({"separator": ""}, "separator"),
        ({"scheme": "http://"}, "is not a URL scheme"),
        ({"scheme": "9p"}, "is not a URL scheme"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        build_seed_list(BROKERS, **kwargs)  # type: ignore[arg-type]


def test_nothing_to_list_and_no_hostname_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="at least one endpoint"):
        build_seed_list([])
    with pytest.raises(ConfigurationError, match="has no hostname"):
        build_seed_list([Endpoint("10.0.0.1", 9092)], hosts="hostname")


def test_seed_list_resolves_the_service_in_sorted_order(resolver: StaticResolver) -> None:
    servers = seed_list("kafka-headless", namespace="streaming", port=9092, resolver=resolver)
    assert servers == "10.244.0.5:9092,10.244.1.7:9092,10.244.2.9:9092"
    assert servers.split(",") == [ep.netloc() for ep in BROKERS]


def test_seed_list_without_a_port_gives_contact_points(resolver: StaticResolver) -> None:
    assert seed_list(f"{KAFKA}.", resolver=resolver) == "10.244.0.5,10.244.1.7,10.244.2.9"


def test_seed_list_from_srv_records_by_hostname_and_by_ip(resolver: StaticResolver) -> None:
    by_name = seed_list(
        "kafka-headless.streaming", port_name="tcp-client", hosts="hostname", resolver=resolver
    )
    assert by_name == ",".join(f"kafka-{i}.{KAFKA}:9094" for i in range(3))
    by_ip = seed_list("kafka-headless.streaming", port_name="tcp-client", resolver=resolver)
    assert by_ip == "10.244.0.5:9094,10.244.1.7:9094,10.244.2.9:9094"


def test_seed_list_with_scheme_for_elasticsearch(resolver: StaticResolver) -> None:
    hosts = seed_list(KAFKA, port=9200, scheme="https", resolver=resolver)
    assert hosts.split(",")[0] == "https://10.244.0.5:9200"


def test_seed_list_argument_errors_come_before_any_lookup() -> None:
    nothing = StaticResolver({})
    with pytest.raises(ConfigurationError, match="not both"):
        seed_list(KAFKA, port=9092, port_name="kafka", resolver=nothing)
    with pytest.raises(ConfigurationError, match="needs port_name"):
        seed_list(KAFKA, port=9092, hosts="hostname", resolver=nothing)
    with pytest.raises(ConfigurationError, match="hosts must be"):
        seed_list(KAFKA, hosts="pod", resolver=nothing)  # type: ignore[arg-type]


def test_seed_list_lookup_errors_are_the_librarys(resolver: StaticResolver) -> None:
    with pytest.raises(
        ServiceNotFoundError, match=r"no Service 'zookeeper' in namespace 'streaming'"
    ):
        seed_list("zookeeper", namespace="streaming", port=2181, resolver=resolver)
    with pytest.raises(
        UntrustedAnswerError,
        match=r"every endpoint of kafka-headless\.streaming\.svc\.cluster\.local\. was dropped",
    ):
        seed_list(KAFKA, port=9092, resolver=resolver, allowed_networks=["10.96.0.0/12"])


def test_argument_errors_are_exact() -> None:
    nothing = StaticResolver({})
    with pytest.raises(
        ConfigurationError,
        match=r"^give port= or port_name=, not both: SRV records carry each member's port$",
    ):
        seed_list(KAFKA, port=9092, port_name="kafka", resolver=nothing)
    with pytest.raises(
        ConfigurationError,
        match=r"^hosts='hostname' needs port_name=: per-pod hostnames come from the SRV "
        r"records of a named port$",
    ):
        seed_list(KAFKA, hosts="hostname", resolver=nothing)
    with pytest.raises(ConfigurationError, match=r"^the separator must be a non-empty string$"):
        build_seed_list(BROKERS, separator="")
    with pytest.raises(ConfigurationError, match=r"^a seed list needs at least one endpoint$"):
        build_seed_list([])


def test_allowed_networks_reach_the_srv_lookup(resolver: StaticResolver) -> None:
    with pytest.raises(
        UntrustedAnswerError,
        match=r"^every endpoint of _tcp-client\._tcp\.kafka-headless\.streaming\.svc\.cluster"
        r"\.local\. was dropped",
    ):
        seed_list(
            KAFKA, port_name="tcp-client", resolver=resolver, allowed_networks=["10.96.0.0/12"]
        )
    kept = seed_list(
        KAFKA, port_name="tcp-client", resolver=resolver, allowed_networks=["10.244.0.0/24"]
    )
    assert kept == "10.244.0.5:9094"
