"""Property tests: any input gives a valid result or our own error, never anything else."""

from __future__ import annotations

import contextlib
import ipaddress
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headless_discovery import (
    ConfigurationError,
    DiscoveryError,
    Endpoint,
    InvalidNameError,
    PodEnvironment,
    ServiceName,
    build_mongo_srv_uri,
    build_mongo_uri,
    parse_name,
)

# pymongo is the oracle of these tests; without it (runtime dependencies only) they skip.
parse_uri = pytest.importorskip("pymongo.uri_parser").parse_uri

ENV = PodEnvironment(namespace="ns", cluster_domain="cluster.local")
EXAMPLES = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

label_chars = string.ascii_lowercase + string.digits + "-"
rfc1123 = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", fullmatch=True)
rfc1035 = st.from_regex(r"[a-z]([a-z0-9-]{0,61}[a-z0-9])?", fullmatch=True)
domain = st.lists(rfc1123.filter(lambda s: len(s) < 20), min_size=1, max_size=4).map(".".join)
nameish = st.text(alphabet=label_chars + "._ABCZ\u212a\u00e9 \x00", max_size=80)


@EXAMPLES
@given(st.one_of(st.text(max_size=300), nameish))
def test_any_text_parses_or_raises_invalid_name(text: str) -> None:
    for parse in (ServiceName.parse, parse_name):
        try:
            result = parse(text, environment=ENV)
        except InvalidNameError as exc:
            assert isinstance(exc, ValueError)
            assert exc.reason
        else:
            assert len(result.fqdn) <= 253
            assert result.fqdn.isascii()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rfc1035, rfc1123, domain)
def test_valid_names_round_trip(name: str, namespace: str, zone: str) -> None:
    try:
        svc = ServiceName(name, namespace, zone)
    except InvalidNameError:
        assert len(f"{name}.{namespace}.svc.{zone}") > 253
        return
    assert ServiceName.parse(svc.fqdn) == svc
    assert ServiceName.parse(svc.query_name) == svc
    assert (svc.name, svc.namespace, svc.cluster_domain) == (name, namespace, zone)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=70), st.text(max_size=70))
def test_any_text_as_service_and_namespace(name: str, namespace: str) -> None:
    with contextlib.suppress(InvalidNameError):
        ServiceName(name, namespace, "cluster.local")


ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).map(str)
host_label = st.builds(
    lambda a, b: a + b,
    st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=8),
    st.text(alphabet=string.ascii_lowercase + string.digits + "-", max_size=8).map(
        lambda s: s.rstrip("-")
    ),
)
hostname = st.lists(host_label, min_size=2, max_size=5).map(".".join)
endpoint = st.builds(
    Endpoint,
    address=st.one_of(ipv4, ipv6),
    port=st.integers(1, 65535),
    hostname=st.one_of(st.none(), hostname),
)
# Everything Unicode has, reserved URI characters, "+" and "%" in particular.
secret = st.text(
    alphabet=st.one_of(st.characters(codec="utf-8"), st.sampled_from("@:/?#[]%+ &=;,")),
    min_size=1,
    max_size=40,
)
database = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters='/\\. "$\x00'), min_size=1, max_size=30
)
option_value = st.text(alphabet=st.characters(codec="utf-8"), max_size=30)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(endpoint, min_size=1, max_size=6),
    st.sampled_from(["ip", "hostname"]),
    st.one_of(st.none(), secret),
    st.one_of(st.none(), secret),
    st.one_of(st.none(), database),
    st.one_of(st.none(), option_value),
    st.one_of(st.none(), option_value.filter(bool)),
)
def test_every_uri_parses_back_to_its_inputs(
    endpoints: list[Endpoint],
    hosts: str,
    username: str | None,
    password: str | None,
    db: str | None,
    app_name: str | None,
    replica_set: str | None,
) -> None:
    if hosts == "hostname":
        endpoints = [ep for ep in endpoints if ep.hostname] or [
            Endpoint("10.0.0.1", 27017, "db-0.svc.ns.svc.cluster.local")
        ]
    if username is None:
        password = None
    options = {} if app_name is None else {"appName": app_name}
    try:
        uri = build_mongo_uri(
            endpoints,
            hosts=hosts,  # type: ignore[arg-type]
            username=username,
            password=password,
            database=db,
            options=options,
            replica_set=replica_set,
        )
    except ConfigurationError as exc:
        assert password is None or password not in str(exc)
        return
    parsed = parse_uri(uri)
    expected_hosts = list(
        dict.fromkeys(
            (ep.hostname if hosts == "hostname" else ep.address, ep.port) for ep in endpoints
        )
    )
    assert parsed["nodelist"] == expected_hosts
    assert parsed["username"] == username
    # pymongo reports a username without a password as password "".
    assert parsed["password"] == (password if password is not None or username is None else "")
    assert parsed["database"] == db
    options = {k.lower(): v for k, v in parsed["options"].items()}
    assert options.get("appname") == app_name
    assert options.get("replicaset") == replica_set


@settings(max_examples=200, deadline=None)
@given(hostname, st.one_of(st.none(), secret), st.one_of(st.none(), secret))
def test_srv_uris_parse_back(host: str, username: str | None, password: str | None) -> None:
    if username is None:
        password = None
    uri = build_mongo_srv_uri(host, username=username, password=password, options={"tls": False})
    # connect=False-style parsing only: pymongo resolves SRV at parse time, so check the
    # structure with the parser's splitting helpers instead of a lookup.
    from pymongo.uri_parser_shared import parse_userinfo, split_hosts

    rest = uri.removeprefix("mongodb+srv://")
    netloc = rest.partition("/")[0]
    userinfo, _, hostpart = netloc.rpartition("@")
    assert split_hosts(hostpart, default_port=None) == [(host, None)]
    if username is not None:
        assert parse_userinfo(userinfo) == (username, password or "")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=50))
def test_endpoint_accepts_only_ip_addresses(text: str) -> None:
    try:
        ep = Endpoint(text)
    except DiscoveryError:
        with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 address"):
            ipaddress.ip_address(text)
    else:
        assert ep.address == ipaddress.ip_address(text).compressed
