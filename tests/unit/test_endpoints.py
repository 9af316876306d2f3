"""Endpoint values and Resolution ordering: pure."""

from __future__ import annotations

import copy
import dataclasses
import ipaddress
import logging
import pickle
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from headless_discovery import (
    AddressAnswer,
    ConfigurationError,
    Endpoint,
    InvalidNameError,
    Resolution,
    SrvAnswer,
    SrvRecord,
)
from headless_discovery.endpoints import seed_entries


def test_endpoint_is_an_immutable_value() -> None:
    ep = Endpoint("10.0.0.1", 27017)
    assert ep == Endpoint("10.0.0.1", 27017)
    assert hash(ep) == hash(Endpoint("10.0.0.1", 27017))
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'port'"):
        ep.port = 1  # type: ignore[misc]


def test_addresses_are_canonical_text() -> None:
    assert Endpoint("FD00:0:0::0001").address == "fd00::1"
    assert Endpoint(str(ipaddress.ip_address("10.0.0.7"))).ip == ipaddress.IPv4Address("10.0.0.7")
    assert Endpoint("fd00::1", 27017).netloc() == "[fd00::1]:27017"
    assert Endpoint("10.0.0.1").netloc() == "10.0.0.1"
    ep = Endpoint("10.0.0.1", 80, hostname="Web-0.Api.Ns.Svc.Cluster.Local.")
    assert ep.hostname == "web-0.api.ns.svc.cluster.local"
    assert ep.netloc(use_hostname=True) == "web-0.api.ns.svc.cluster.local:80"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"address": "10.0.0.300"}, "not an IPv4 or IPv6"),
        ({"address": "db.example"}, "not an IPv4 or IPv6"),
        ({"address": 5}, r"^endpoint address must be an IP address as text, not int 5$"),
        ({"address": b"\n\x00\x00\x01"}, r"must be an IP address as text, not bytes b"),
        ({"address": None}, r"must be an IP address as text, not NoneType None$"),
        ({"address": "10.0.0.1", "port": 0}, "port"),
        ({"address": "10.0.0.1", "port": 70000}, "port"),
        ({"address": "10.0.0.1", "port": True}, "port"),
        ({"address": "10.0.0.1", "weight": -1}, "weight"),
        ({"address": "10.0.0.1", "priority": 65536}, "priority"),
    ],
)
def test_bad_endpoints_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Endpoint(**kwargs)  # type: ignore[arg-type]


def test_an_address_object_is_taken_as_its_text() -> None:
    v6 = Endpoint(ipaddress.ip_address("FD00::0005"), 80)  # type: ignore[arg-type]
    assert (v6.address, v6) == ("fd00::5", Endpoint("fd00::5", 80))
    assert Endpoint(ipaddress.IPv4Address("10.0.0.7")).address == "10.0.0.7"  # type: ignore[arg-type]


def test_bad_hostname_is_refused() -> None:
    with pytest.raises(InvalidNameError, match="the endpoint hostname is not a DNS name"):
        Endpoint("10.0.0.1", hostname="evil.example,other:1")


def test_addresses_sort_numerically_ipv4_first_whatever_the_answer_order() -> None:
    addresses = ["fd00::2", "10.0.0.10", "10.0.0.9", "fd00::10", "9.255.255.255", "10.0.0.9"]
    expected = ("9.255.255.255", "10.0.0.9", "10.0.0.10", "fd00::2", "fd00::10")
    rng = random.Random(7)
    for _ in range(20):
        rng.shuffle(addresses)
        res = Resolution.from_addresses(AddressAnswer("x.", tuple(addresses), 5.0), 80)
        assert tuple(ep.address for ep in res) == expected
    assert res.ttl == 5.0
    assert all(ep.port == 80 for ep in res)


def test_srv_endpoints_sort_by_priority_then_ordinal() -> None:
    def rec(n: int, prio: int = 0) -> SrvRecord:
        return SrvRecord(f"mongodb-{n}.db.ns.svc.cluster.local", 27017, prio, 10, (f"10.0.0.{n}",))

    answer = SrvAnswer("_mongodb._tcp.db.", (rec(10), rec(2), rec(1, prio=5), rec(0)), 30.0, "ns1")
    res = Resolution.from_srv(answer)
    assert [ep.hostname.split(".")[0] for ep in res if ep.hostname] == [
        "mongodb-0",
        "mongodb-2",
        "mongodb-10",
        "mongodb-1",
    ]
    assert res.hostnames[0] == "mongodb-0.db.ns.svc.cluster.local"
    assert res.nameserver == "ns1"
    assert res[0].weight == 10


def test_srv_targets_without_addresses_are_left_out() -> None:
    answer = SrvAnswer(
        "s.", (SrvRecord("a.x", 1, 0, 0, ()), SrvRecord("b.x", 1, 0, 0, ("10.0.0.1",)))
    )
    assert [ep.hostname for ep in Resolution.from_srv(answer)] == ["b.x"]


def test_resolution_is_a_sequence() -> None:
    res = Resolution.from_addresses(AddressAnswer("x.", ("10.0.0.2", "10.0.0.1")))
    assert len(res) == 2
    assert res[0].address == "10.0.0.1"
    assert [ep.address for ep in res[::-1]] == ["10.0.0.2", "10.0.0.1"]
    assert Endpoint("10.0.0.2") in res
    assert res
    assert not Resolution("x.", ())


def test_an_odd_srv_record_is_left_out_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    answer = SrvAnswer(
        "_db._tcp.db.ns.svc.cluster.local.",
        (
            SrvRecord("db-0.db.ns.svc.cluster.local", 0, addresses=("10.0.0.1",)),
            SrvRecord("*", 5432, addresses=("10.0.0.2",)),
            SrvRecord("db-2.db.ns.svc.cluster.local", 5432, addresses=("10.0.0.3",)),
        ),
    )
    with caplog.at_level("WARNING", logger="headless_discovery"):
        res = Resolution.from_srv(answer)
    assert [ep.address for ep in res] == ["10.0.0.3"]
    assert caplog.text.count("SRV record left out") == 2


dotted = st.lists(
    st.one_of(
        st.integers(0, 300).map(str),
        st.sampled_from(["00", "01", "010", "+1", " 1", "1_0", "", "٣"]),
    ),
    min_size=3,
    max_size=5,
).map(".".join)


@settings(max_examples=200, deadline=None)
@given(st.one_of(dotted, st.ip_addresses().map(str), st.text(max_size=20)))
def test_addresses_are_accepted_and_canonical_exactly_as_ipaddress_says(text: str) -> None:
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        with pytest.raises(ConfigurationError, match="is not an IPv4 or IPv6 address"):
            Endpoint(text)
        return
    ep = Endpoint(text, 1)
    assert ep.address == ip.compressed
    assert ep.ip == ip
    assert ep == Endpoint(ip.compressed, 1)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.ip_addresses(), max_size=20))
def test_addresses_sort_as_ipaddress_orders_them(
    ips: list[ipaddress.IPv4Address | ipaddress.IPv6Address],
) -> None:
    res = Resolution.from_endpoints("x", (Endpoint(str(ip), 80) for ip in ips))
    expected = sorted(set(ips), key=lambda ip: (ip.version, int(ip)))
    assert [ep.ip for ep in res] == expected


@pytest.mark.parametrize("address", ["0.0.0.0", "255.255.255.255", "10.0.0.1"])
def test_dotted_quads_at_the_limits_are_accepted(address: str) -> None:
    assert Endpoint(address).address == address


@pytest.mark.parametrize(
    "address", ["256.0.0.0", "10.0.0.01", "10.0.0", "10.0.0.1.1", "", "10.0.0.1 "]
)
def test_dotted_quads_one_past_the_limits_are_refused(address: str) -> None:
    with pytest.raises(ConfigurationError, match="is not an IPv4 or IPv6 address"):
        Endpoint(address)


def test_endpoints_copy_replace_and_pickle_as_values() -> None:
    ep = Endpoint("10.0.0.1", 80, "Web-0.Api.", 1, 2)
    assert pickle.loads(pickle.dumps(ep)) == ep
    assert copy.copy(ep) == ep
    moved = dataclasses.replace(ep, address="FD00::0001")
    assert (moved.address, moved.port, moved.hostname) == ("fd00::1", 80, "web-0.api")
    with pytest.raises(ConfigurationError, match="the port must be an integer from 1 to 65535"):
        dataclasses.replace(ep, port=0)


def test_endpoints_that_differ_only_in_weight_are_both_kept_in_a_fixed_order() -> None:
    heavy = Endpoint("10.0.0.1", 80, "db-0.db", 0, 50)
    light = Endpoint("10.0.0.1", 80, "db-0.db", 0, 5)
    for order in ([heavy, light, heavy], [light, heavy]):
        assert Resolution.from_endpoints("db", order).endpoints == (light, heavy)


@pytest.mark.parametrize(("field", "low"), [("port", 1), ("priority", 0), ("weight", 0)])
def test_each_number_at_its_limits_and_one_past(field: str, low: int) -> None:
    what = {"port": "the port", "priority": "the SRV priority", "weight": "the SRV weight"}[field]
    for value in (low, 65535):
        assert getattr(Endpoint("10.0.0.1", **{field: value}), field) == value  # type: ignore[arg-type]
    for value in (low - 1, 65536, 1.0, "1", True):
        with pytest.raises(
            ConfigurationError,
            match=rf"^{what} must be an integer from {low} to 65535, not {value!r}$",
        ):
            Endpoint("10.0.0.1", **{field: value})  # type: ignore[arg-type]


def test_a_hostname_of_253_characters_is_accepted_and_254_refused() -> None:
    labels = ["a" * 63] * 3 + ["b" * 61]
    longest = ".".join(labels)
    assert len(longest) == 253
    assert Endpoint("10.0.0.1", hostname=longest + ".").hostname == longest
    with pytest.raises(InvalidNameError, match=r"the endpoint hostname is not a DNS name$"):
        Endpoint("10.0.0.1", hostname=longest + "b")
    with pytest.raises(InvalidNameError, match=r"the endpoint hostname is not a DNS name$"):
        Endpoint("10.0.0.1", hostname="a" * 64 + ".example")
    assert Endpoint("10.0.0.1", hostname="a" * 63 + ".example").hostname == "a" * 63 + ".example"


def test_snapshots_keep_the_name_ttl_and_server_of_their_answer() -> None:
    by_address = Resolution.from_addresses(
        AddressAnswer("db.ns.svc.cluster.local.", ("10.0.0.1",), 7.0, "10.96.0.10:53"), 80
    )
    assert (by_address.name, by_address.ttl, by_address.nameserver) == (
        "db.ns.svc.cluster.local.",
        7.0,
        "10.96.0.10:53",
    )
    by_srv = Resolution.from_srv(
        SrvAnswer(
            "_http._tcp.db.ns.svc.cluster.local.",
            (SrvRecord("web-0.db.ns.svc.cluster.local", 80, addresses=("10.0.0.1",)),),
            9.0,
            "10.96.0.10:53",
        )
    )
    assert (by_srv.name, by_srv.ttl, by_srv.nameserver) == (
        "_http._tcp.db.ns.svc.cluster.local.",
        9.0,
        "10.96.0.10:53",
    )


def test_an_srv_record_left_out_is_logged_with_its_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    answer = SrvAnswer("_http._tcp.x.", (SrvRecord("web-0.x", 0, addresses=("10.0.0.1",)),))
    with caplog.at_level(logging.WARNING, "headless_discovery"):
        assert len(Resolution.from_srv(answer)) == 0
    assert [r.getMessage() for r in caplog.records] == [
        "_http._tcp.x.: SRV record left out: the port must be an integer from 1 to 65535, not 0"
    ]


def test_seeding_by_hostname_needs_one_and_upper_case_hosts_are_hosts() -> None:
    with pytest.raises(
        ConfigurationError,
        match=r"^endpoint 10\.0\.0\.1 has no hostname; resolve the Service's SRV records to "
        r"list hostnames, or use hosts='ip'$",
    ):
        seed_entries([Endpoint("10.0.0.1", 80)], hosts="hostname", what="a seed list")
    assert seed_entries([("DBX.example", 80)], hosts="ip", what="a seed list") == ["DBX.example:80"]


def test_endpoints_that_differ_only_by_port_are_two() -> None:
    res = Resolution.from_endpoints(
        "s", [Endpoint("10.0.0.1", 81), Endpoint("10.0.0.1", 80), Endpoint("10.0.0.1", 80)]
    )
    assert [ep.port for ep in res] == [80, 81]
    # No port is not port 1.
    both = Resolution.from_endpoints("s", [Endpoint("10.0.0.1", 1), Endpoint("10.0.0.1")])
    assert [ep.port for ep in both] == [None, 1]


def test_hostnames_sort_words_before_numbers_at_each_place() -> None:
    res = Resolution.from_endpoints(
        "s",
        [
            Endpoint("10.0.0.1", 80, "b.svc"),
            Endpoint("10.0.0.2", 80, "0.svc"),
            Endpoint("10.0.0.3", 80, "a-1.svc"),
            Endpoint("10.0.0.4", 80, "a-b.svc"),
        ],
    )
    assert [ep.hostname for ep in res] == ["a-1.svc", "a-b.svc", "b.svc", "0.svc"]


def test_a_bad_hostname_is_named_as_given() -> None:
    with pytest.raises(InvalidNameError, match="the endpoint hostname is not a DNS name") as info:
        Endpoint("10.0.0.1", hostname="Evil.Example,other:1")
    assert info.value.name == "Evil.Example,other:1"
