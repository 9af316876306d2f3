"""A password goes into the URI it was given for, and nowhere else.

Runs every path that builds a MongoDB URI (``mongo_uri`` on a StaticResolver and on a real
BIND, ``build_mongo_uri``, ``build_mongo_srv_uri``, ``Discovery.mongo_uri`` and its async twin,
the ``mongo-uri`` command), their error paths with a password present, and the reprs of every
object involved, while capturing everything: log records of any level (the library's logger
and root), stdout and stderr, and warnings. The test password must appear, raw or escaped,
only in the URIs returned.
"""

from __future__ import annotations

import asyncio
import json
import logging
import traceback
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypedDict
from urllib.parse import quote, quote_plus

import pytest

from headless_discovery import (
    AsyncDiscovery,
    AsyncDnsResolver,
    AsyncResolver,
    ConfigurationError,
    Discovery,
    DiscoveryError,
    DnsResolver,
    Endpoint,
    LeastOutstanding,
    OutlierEjection,
    RefreshPolicy,
    Resolver,
    RoundRobin,
    ServiceName,
    SrvRecord,
    StaticResolver,
    build_mongo_srv_uri,
    build_mongo_uri,
    mask_password,
    mongo_uri,
    resolve,
)
from tests.faults.server import FaultServer
from tests.harness.bind import BindServer
from tests.harness.cluster import Cluster
from tests.harness.requirements import require_named

pytestmark = pytest.mark.timeout(60)

USER = "app-user"
# Reserved URI characters, "+", "%", a space and non-ASCII: every escaping rule is exercised.
PASSWORD = "Hd-S3cr3t+p@ss/w\u00f6rd:%41&=?#x y"
# Each form the password could leak in; the token survives every escaping.
FORMS = {
    "raw": PASSWORD,
    "quote_plus": quote_plus(PASSWORD, safe=""),
    "quote_plus(safe='/')": quote_plus(PASSWORD),
    "quote": quote(PASSWORD, safe=""),
    "quote(safe='/')": quote(PASSWORD),
    "token": "S3cr3t",
}
SVC = ServiceName("db", "prod", "cluster.local")
QUIET = RefreshPolicy(min_interval=60, max_interval=60, backoff_base=60, backoff_max=60)
ENV_VAR = "HD_TEST_MONGO_PASSWORD"


class Credentials(TypedDict):
    username: str
    password: str


SECRET = Credentials(username=USER, password=PASSWORD)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=1)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        # format() appends the exception and stack of the record, if any.
        self.lines.append(self.format(record) + f" args={record.args!r}")


class Capture:
    """Everything a run said, and the URIs it returned (the only place the password may be)."""

    def __init__(self) -> None:
        self.texts: list[tuple[str, str]] = []
        self.uris: list[str] = []
        self.errors = 0

    def uri(self, uri: str) -> str:
        self.uris.append(uri)
        return uri

    def text(self, source: str, text: str) -> None:
        self.texts.append((source, text))

    def obj(self, source: str, obj: object) -> None:
        self.text(f"repr({source})", repr(obj))
        self.text(f"str({source})", str(obj))

    def error(self, source: str, exc: BaseException) -> None:
        self.errors += 1
        self.obj(source, exc)
        # The whole chain: causes and contexts are printed with every traceback.
        self.text(f"traceback({source})", "".join(traceback.format_exception(exc)))
        self.text(f"attributes({source})", repr(vars(exc)))

    def fails(self, source: str, call: Callable[[], object]) -> None:
        """``call`` must raise one of our exceptions; record everything about it."""
        try:
            result = call()
        except DiscoveryError as exc:
            self.error(source, exc)
        else:
            raise AssertionError(f"{source}: expected an error, got {result!r}")

    def check(self) -> None:
        assert self.uris, "no URI was built: the test proves nothing"
        for uri in self.uris:
            assert FORMS["quote_plus"] in uri, uri
        leaks = [
            f"{form} form in {source}: {text[:300]!r}"
            for source, text in self.texts
            for form, secret in FORMS.items()
            if secret in text
        ]
        assert not leaks, "\n".join(leaks)


@pytest.fixture
def capture(capsys: pytest.CaptureFixture[str]) -> Iterator[Capture]:
    """A :class:`Capture` fed with every log record, warning and byte of output of the test."""
    records = _Records()
    loggers = [logging.getLogger(), logging.getLogger("headless_discovery")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(records)
        logger.setLevel(1)
    result = Capture()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield result
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(records)
            logger.setLevel(level)
    out, err = capsys.readouterr()
    result.text("stdout", out)
    result.text("stderr", err)
    # A record reaches root through the library's logger too: keep one copy of each line.
    for line in dict.fromkeys(records.lines):
        result.text("log", line)
    for warning in caught:
        result.text("warning", f"{warning.category.__name__}: {warning.message}")
    result.check()


# -- the records, for a StaticResolver and for a real BIND -----------------------------------


def _static() -> StaticResolver:
    pods = {SVC.pod(f"db-{i}"): f"10.244.0.{10 + i}" for i in range(3)}
    return StaticResolver(
        {
            SVC.fqdn: list(pods.values()),
            **{name: [ip] for name, ip in pods.items()},
            SVC.srv("mongodb"): [SrvRecord(name, 27017) for name in pods],
        }
    )


def _zone_file(directory: Path) -> Path:
    lines = ["$ORIGIN cluster.local.", "$TTL 5"]
    lines.append("@ IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5")
    for i in range(3):
        lines.append(f"db.prod.svc IN A 10.244.0.{10 + i}")
        lines.append(f"db-{i}.db.prod.svc IN A 10.244.0.{10 + i}")
        lines.append(f"_mongodb._tcp.db.prod.svc IN SRV 0 33 27017 db-{i}.db.prod.svc")
    path = directory / "cluster.zone"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(params=["static", pytest.param("bind", marks=pytest.mark.dns)])
def backend(request: pytest.FixtureRequest) -> Iterator[tuple[Resolver, AsyncResolver, list[str]]]:
    """``(resolver, async resolver, CLI source options)`` serving Service ``db.prod``."""
    if request.param == "static":
        static = _static()
        yield static, static, ["--zone-file", str(_zone_file(request.getfixturevalue("tmp_path")))]
        return
    require_named()
    cluster = Cluster()
    cluster.statefulset("db", "prod", 3)
    with BindServer(cluster) as bind:
        yield (
            DnsResolver([bind.nameserver], bind.port, lifetime=2.0),
            AsyncDnsResolver([bind.nameserver], bind.port, lifetime=2.0),
            ["--nameserver", f"{bind.nameserver}:{bind.port}"],
        )


# -- the library ----------------------------------------------------------------------------


def test_the_library_never_shows_the_password(
    capture: Capture, backend: tuple[Resolver, AsyncResolver, list[str]]
) -> None:
    resolver, async_resolver, _ = backend
    secret = SECRET

    for hosts in ("ip", "hostname"):
        uri = capture.uri(
            mongo_uri(
                SVC,
                resolver=resolver,
                hosts=hosts,
                replica_set="rs0",
                database="admin",
                options={"tls": True, "authSource": "admin"},
                **secret,
            )
        )
        capture.text("mask_password", mask_password(uri))
    capture.uri(mongo_uri("db.prod.svc.cluster.local", srv=True, options={"tls": False}, **secret))
    endpoints = resolve(SVC, port=27017, resolver=resolver)
    capture.uri(build_mongo_uri(endpoints, replica_set="rs0", **secret))
    capture.uri(build_mongo_srv_uri(SVC.fqdn, **secret))
    capture.obj("resolver", resolver)
    capture.obj("resolution", endpoints)
    for endpoint in endpoints:
        capture.obj("endpoint", endpoint)

    strategy = OutlierEjection(LeastOutstanding())
    with Discovery(SVC, port=27017, resolver=resolver, refresh=QUIET, strategy=strategy) as pods:
        capture.uri(pods.mongo_uri(replica_set="rs0", **secret))
        capture.fails(
            "Discovery.mongo_uri(bad options)",
            lambda: pods.mongo_uri(options={"directConnection": True}, **secret),
        )
        capture.obj("discovery", pods)
        capture.obj("strategy", strategy)
    capture.fails("closed Discovery.mongo_uri", lambda: pods.mongo_uri(**secret))
    with Discovery(SVC, srv="mongodb", resolver=resolver, refresh=QUIET) as pods:
        capture.uri(pods.mongo_uri(**secret))
        capture.obj("srv discovery", pods)
        capture.obj("srv snapshot", pods.endpoints)
    new = Discovery(SVC, port=27017, resolver=resolver, strategy=RoundRobin())
    capture.fails("Discovery.mongo_uri before start", lambda: new.mongo_uri(**secret))

    async def follow() -> None:
        async with AsyncDiscovery(SVC, port=27017, resolver=async_resolver, refresh=QUIET) as apods:
            capture.uri(apods.mongo_uri(**secret))
            capture.obj("async discovery", apods)

    asyncio.run(follow())

    capture.obj("policy", QUIET)
    capture.obj("async resolver", async_resolver)


def test_error_paths_never_show_the_password(
    capture: Capture, backend: tuple[Resolver, AsyncResolver, list[str]]
) -> None:
    resolver, _, _ = backend
    secret = SECRET
    one = [Endpoint("10.244.0.10", 27017)]
    capture.uri(build_mongo_uri(one, **secret))
    paths: dict[str, Callable[[], object]] = {
        "no such Service": lambda: mongo_uri("nosuch.prod", resolver=resolver, **secret),
        "bad option name": lambda: mongo_uri(
            SVC, resolver=resolver, options={"bad option": 1}, **secret
        ),
        "directConnection with 3 hosts": lambda: mongo_uri(
            SVC, resolver=resolver, options={"directConnection": True}, **secret
        ),
        "password without username": lambda: mongo_uri(SVC, resolver=resolver, password=PASSWORD),
        "bad database": lambda: mongo_uri(SVC, resolver=resolver, database="a/b", **secret),
        "untrusted addresses": lambda: mongo_uri(
            SVC, resolver=resolver, allowed_networks=["192.168.0.0/16"], **secret
        ),
        "bad hosts": lambda: mongo_uri(SVC, resolver=resolver, hosts="pods", **secret),  # type: ignore[arg-type]
        "srv with hosts": lambda: mongo_uri(SVC, srv=True, hosts="ip", **secret),
        "srvMaxHosts with replicaSet": lambda: mongo_uri(
            SVC, srv=True, replica_set="rs0", options={"srvMaxHosts": 1}, **secret
        ),
        "no endpoints": lambda: build_mongo_uri([], **secret),
        "no hostname": lambda: build_mongo_uri(one, hosts="hostname", **secret),
        "repeated option": lambda: build_mongo_uri(one, options={"appName": ["a", "b"]}, **secret),
        "srv to an IP": lambda: build_mongo_srv_uri("10.0.0.1", **secret),
        "empty username": lambda: build_mongo_uri(one, username="", password=PASSWORD),
        "password not a string": lambda: build_mongo_uri(
            one,
            username=USER,
            password=PASSWORD.encode(),  # type: ignore[arg-type]
        ),
    }
    for source, call in paths.items():
        capture.fails(source, call)
    with FaultServer({}, fault="silent") as silent:
        down = DnsResolver([silent.address], silent.port, timeout=0.1, lifetime=0.2)
        capture.fails("DNS timeout", lambda: mongo_uri(SVC, resolver=down, **secret))
    assert capture.errors == len(paths) + 1
    with pytest.raises(ConfigurationError) as info:
        build_mongo_uri(one, username=USER, password=PASSWORD, options={"w": object()})  # type: ignore[dict-item]
    capture.error("option value of a foreign type", info.value)


# -- the command line -------------------------------------------------------------------------


def _cli(capsys: pytest.CaptureFixture[str], capture: Capture, *argv: str) -> tuple[int, str]:
    from headless_discovery.cli import main

    code = main(list(argv))
    out, err = capsys.readouterr()
    capture.text(f"stderr of {argv}", err)
    return code, out


def test_the_mongo_uri_command_masks_the_password(
    capture: Capture,
    backend: tuple[Resolver, AsyncResolver, list[str]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = backend[2]
    monkeypatch.setenv(ENV_VAR, PASSWORD)
    base = ["mongo-uri", "db.prod", *source, "--username", USER, "--password-env", ENV_VAR]
    for extra in ([], ["--json"], ["-v"], ["--hosts", "hostname", "--json"], ["--srv"]):
        code, out = _cli(capsys, capture, *base, "--replica-set", "rs0", *extra)
        assert code == 0, out
        assert "****" in out
        capture.text(f"stdout of {extra}", out)
    for extra in (["--json"], ["--srv", "--json", "-v"]):
        code, out = _cli(capsys, capture, *base, "--show-password", *extra)
        assert code == 0, out
        uri = capture.uri(json.loads(out)["uri"])
        # Explicitly asked for: the URI is printed; nothing else may show the password.
        capture.text(f"stdout of --show-password {extra} without the URI", out.replace(uri, ""))
    code, out = _cli(capsys, capture, "mongo-uri", "nosuch.prod", *base[2:], "--json")
    assert code == 3, out
    capture.text("stdout of a failed mongo-uri", out)
    for refused in (["--password", PASSWORD], [f"--password={PASSWORD}"]):
        code, out = _cli(capsys, capture, "mongo-uri", "db.prod", *source, *refused)
        assert code == 2
        capture.text(f"stdout of {refused[0]}", out)
    capture.uri(mongo_uri(SVC, resolver=backend[0], username=USER, password=PASSWORD))


def test_a_mistyped_password_option_is_not_echoed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from headless_discovery.cli import main

    code = main(
        ["mongo-uri", "db.prod", "--zone-file", str(_zone_file(tmp_path)), "--pass=" + PASSWORD]
    )
    out, err = capsys.readouterr()
    assert code == 2
    assert FORMS["token"] not in out + err
