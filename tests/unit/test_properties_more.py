"""More property tests: hostile input at every public entry point gives a result or our error.

``test_properties.py`` covers names and URI escaping; this file covers what reaches
``resolve``/``aresolve``/``mongo_uri``/``Discovery`` and the command line as arbitrary text,
per-pod and SRV names round-tripping, and option combinations that pymongo refuses.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from headless_discovery import (
    AsyncDiscovery,
    ConfigurationError,
    Discovery,
    DiscoveryError,
    Endpoint,
    InvalidNameError,
    PodEnvironment,
    Resolution,
    ServiceName,
    SrvRecord,
    StaticResolver,
    aresolve,
    build_mongo_srv_uri,
    build_mongo_uri,
    mongo_uri,
    parse_name,
    resolve,
)

ENV = PodEnvironment(namespace="prod", cluster_domain="cluster.local")
SVC = ServiceName("db", "prod", "cluster.local")
STATIC = StaticResolver(
    {
        SVC.fqdn: ["10.244.0.10", "10.244.0.11"],
        SVC.pod("db-0"): ["10.244.0.10"],
        SVC.pod("db-1"): ["10.244.0.11"],
        SVC.srv("mongodb"): [SrvRecord(SVC.pod("db-0"), 27017), SrvRecord(SVC.pod("db-1"), 27017)],
        "empty.prod.svc.cluster.local": [],
    }
)

# pymongo is the oracle of these tests; without it (runtime dependencies only) they skip.
parse_uri = pytest.importorskip("pymongo.uri_parser").parse_uri
_validate_uri = pytest.importorskip("pymongo.uri_parser_shared")._validate_uri
# The unit tier's ceiling (docs/contributing.md): at most 200 examples per property.
MANY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Pieces of real names, so that generated text is often valid or nearly so.
PIECES = ["db", "prod", "svc", "cluster", "local", "db-0", "_mongodb", "_tcp", "_udp", "empty"]
PIECES += [".", ".", "-", "_", "..", "A", "0", " ", "\\", "\x00", "\u212a", "é", "*", "@"]
nameish = st.lists(st.sampled_from(PIECES), max_size=12).map("".join)
any_text = st.one_of(st.text(max_size=120), nameish)
ports = st.one_of(st.none(), st.integers(-5, 70000), st.sampled_from([True, 1.5, "80"]))


def _ours(exc: BaseException) -> None:
    assert isinstance(exc, DiscoveryError), repr(exc)
    if isinstance(exc, InvalidNameError):
        assert isinstance(exc, ValueError)
        assert exc.reason


def _check(result: Resolution) -> None:
    assert isinstance(result, Resolution)
    assert len(result) > 0
    assert list(result) == sorted(set(result), key=list(result).index)


@MANY
@given(any_text, ports, st.one_of(st.none(), any_text))
@example("db.prod", 27017, None)
@example("db", None, "mongodb")
@example("db-0.db.prod", 1, None)
def test_resolve_any_text(name: str, port: object, srv: str | None) -> None:
    try:
        result = resolve(name, port=port, srv=srv, resolver=STATIC, environment=ENV)  # type: ignore[arg-type]
    except DiscoveryError as exc:
        _ours(exc)
    else:
        _check(result)


@MANY
@given(any_text, ports, st.one_of(st.none(), any_text))
@example("db.prod", 27017, None)
def test_aresolve_any_text(name: str, port: object, srv: str | None) -> None:
    async def main() -> Resolution:
        return await aresolve(name, port=port, srv=srv, resolver=STATIC, environment=ENV)  # type: ignore[arg-type]

    try:
        result = asyncio.run(main())
    except DiscoveryError as exc:
        _ours(exc)
    else:
        _check(result)


@MANY
@given(any_text, st.one_of(st.none(), any_text), st.sampled_from([None, "ip", "hostname", "x"]))
@example("db", "prod", "hostname")
def test_mongo_uri_any_text(service: str, namespace: str | None, hosts: str | None) -> None:
    try:
        uri = mongo_uri(
            service,
            namespace=namespace,
            cluster_domain="cluster.local" if namespace is not None else None,
            hosts=hosts,  # type: ignore[arg-type]
            resolver=STATIC,
        )
    except DiscoveryError as exc:
        _ours(exc)
    else:
        assert parse_uri(uri)["nodelist"]


@MANY
@given(any_text, st.booleans())
def test_discovery_accepts_any_text_or_raises_ours(name: str, plain: bool) -> None:
    for cls in (Discovery, AsyncDiscovery):
        try:
            if plain:
                cls(dns_name=name, resolver=STATIC, port=80)
            else:
                cls(name, resolver=STATIC, port=80, environment=ENV)
        except DiscoveryError as exc:
            _ours(exc)


rfc1123 = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", fullmatch=True)
port_name = st.from_regex(r"[a-z]([a-z0-9-]{0,13}[a-z0-9])?", fullmatch=True).filter(
    lambda s: "--" not in s
)


@MANY
@given(rfc1123, port_name, st.sampled_from(["tcp", "udp", "sctp"]))
def test_pod_and_srv_names_round_trip(hostname: str, port: str, protocol: str) -> None:
    pod = parse_name(SVC.pod(hostname), environment=ENV)
    assert (pod.service, pod.hostname, pod.port_name) == (SVC, hostname, None)
    srv = parse_name(SVC.srv(port, protocol), environment=ENV)  # type: ignore[arg-type]
    assert (srv.service, srv.hostname, srv.port_name, srv.protocol) == (SVC, None, port, protocol)


# -- the command line -----------------------------------------------------------------------

# Options of name/resolve/pick/mongo-uri that do no I/O besides the zone file; never
# --password-prompt (it reads the terminal) nor --nameserver (it would ask the network).
OPTIONS = [
    "--json", "-v", "-n", "--namespace", "--cluster-domain", "--pod", "--port-name", "--port",
    "--srv", "--family", "--timeout", "--strategy", "--key", "--count", "--replica-set",
    "--hosts", "--username", "--password-env", "--show-password", "--database", "--option",
    "--help", "4", "6", "any", "0", "-1", "99999", "round_robin", "ip", "hostname", "a=b", "=",
]  # fmt: skip
EXIT = {"name": {0, 2}, "resolve": {0, 2, 3, 4}, "pick": {0, 2, 3, 4}, "mongo-uri": {0, 2, 3, 4}}


@pytest.fixture(scope="module")
def zone_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("zone") / "cluster.zone"
    path.write_text(
        "$ORIGIN cluster.local.\n$TTL 5\n"
        "@ IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5\n"
        "db.prod.svc IN A 10.244.0.10\ndb-0.db.prod.svc IN A 10.244.0.10\n"
        "_mongodb._tcp.db.prod.svc IN SRV 0 100 27017 db-0.db.prod.svc\n"
    )
    return path


def _run_cli(argv: list[str]) -> tuple[int, str]:
    from headless_discovery.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue() + err.getvalue()


@settings(
    max_examples=200,  # 15 ms each: argparse builds its parsers anew on every run
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    st.sampled_from(sorted(EXIT)),
    any_text,
    st.lists(st.one_of(st.sampled_from(OPTIONS), any_text), max_size=6),
)
@example("resolve", "db.prod", [])
@example("mongo-uri", "db.prod", ["--hosts", "hostname"])
def test_the_command_line_with_any_arguments(
    zone_file: Path, command: str, service: str, rest: list[str]
) -> None:
    argv = [command, service, *rest]
    if command != "name":
        argv += ["--zone-file", str(zone_file)]
    code, output = _run_cli(argv)
    assert code in EXIT[command], (argv, code, output)
    assert "Traceback" not in output


# -- URI option combinations ----------------------------------------------------------------

option_sets = st.fixed_dictionaries(
    {},
    optional={
        "directConnection": st.booleans(),
        "loadBalanced": st.booleans(),
        "replicaSet": st.just("rs0"),
        "srvMaxHosts": st.integers(0, 3),
        "srvServiceName": st.just("mongo"),
        "tls": st.booleans(),
    },
)


def _pymongo_refuses(uri: str, srv: bool) -> bool:
    """pymongo's own checks, without the DNS lookup a mongodb+srv:// URI would make."""
    try:
        parsed = _validate_uri(uri)
    except (ValueError, ConfigurationError, Exception):
        return True
    options = parsed["options"]
    # These two are checked after the SRV lookup (pymongo.synchronous.uri_parser._parse_srv).
    return bool(
        srv
        and options.get("srvMaxHosts")
        and (options.get("loadBalanced") or options.get("replicaSet"))
    )


@MANY
@given(option_sets, st.integers(1, 3), st.booleans())
def test_combinations_pymongo_refuses_are_refused_first(
    options: dict[str, object], n_hosts: int, srv: bool
) -> None:
    # A known gap, pinned separately below.
    try:
        if srv:
            uri = build_mongo_srv_uri(SVC.fqdn, options=options)  # type: ignore[arg-type]
        else:
            endpoints = [Endpoint(f"10.244.0.{10 + i}", 27017) for i in range(n_hosts)]
            uri = build_mongo_uri(endpoints, options=options)  # type: ignore[arg-type]
    except ConfigurationError:
        return
    assert not _pymongo_refuses(uri, srv), uri


def test_load_balanced_with_direct_connection_is_refused() -> None:
    with pytest.raises(
        ConfigurationError, match=r"^loadBalanced=true cannot be combined with directConnection$"
    ):
        build_mongo_uri(
            [Endpoint("10.244.0.10", 27017)],
            options={"loadBalanced": True, "directConnection": True},
        )


tag = st.text(alphabet=string.ascii_letters + string.digits + "-_. ", min_size=1, max_size=8)


@MANY
@given(st.lists(st.dictionaries(tag, tag, min_size=1, max_size=3), min_size=1, max_size=3))
def test_read_preference_tags_parse_back(tag_sets: list[dict[str, str]]) -> None:
    values = [",".join(f"{k}:{v}" for k, v in tags.items()) for tags in tag_sets]
    assume(all(value.strip() for value in values))
    uri = build_mongo_uri(
        [Endpoint("10.244.0.10", 27017)],
        options={"readPreference": "secondary", "readPreferenceTags": values},
    )
    parsed = parse_uri(uri)["options"]["readPreferenceTags"]
    assert parsed == tag_sets
