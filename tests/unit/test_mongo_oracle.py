"""The URI builders against pymongo itself: pymongo is the oracle, not our reading of its docs.

For generated hosts, credentials, database names and options, a builder either returns a URI
that ``pymongo.uri_parser.parse_uri`` reads back to exactly those components, or refuses with
our :class:`ConfigurationError` exactly where pymongo refuses the equivalent input:

- an option value means what it means to pymongo as a keyword argument of ``MongoClient``
  (``pymongo.common.validate``), which for ``authMechanismProperties`` and
  ``readPreferenceTags`` is also what it means written in a URI (``SERVICE_NAME:a%2Fb`` is
  ``a/b``);
- a database name is what ``client[name]`` accepts, credentials what a URI can carry;
- combinations (``directConnection``, ``loadBalanced``, ``replicaSet``, ``srvMaxHosts``,
  ``srvServiceName``) are judged by ``parse_uri`` on a skeleton URI holding only them.

``mongodb+srv`` URIs are parsed with pymongo's SRV and TXT lookups answered by a stub (one
member inside the parent domain, no TXT record); ``tests/integration/test_doctor_oracle.py``
lets pymongo ask a real BIND.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from unittest import mock
from urllib.parse import quote_plus

import pytest
from hypothesis import HealthCheck, example, given, reject, settings
from hypothesis import strategies as st
from pymongo import common
from pymongo.database_shared import _check_name
from pymongo.errors import ConfigurationError as PyMongoConfigurationError
from pymongo.errors import InvalidName
from pymongo.synchronous.srv_resolver import _SrvResolver
from pymongo.uri_parser import parse_host, parse_uri, parse_userinfo

from headless_discovery import (
    ConfigurationError,
    PodEnvironment,
    ServiceName,
    build_mongo_srv_uri,
    build_mongo_uri,
)
from headless_discovery.doctor import Observations

# The fast tier: modest counts; `HYPOTHESIS_PROFILE=thorough` (tests/conftest.py) runs more.
ORACLE = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SRV_HOST = "mongodb.db.svc.cluster.local"
SVC = ServiceName("mongodb", "db", "cluster.local")


# -- pymongo, with its DNS answered ----------------------------------------------------------


@contextmanager
def _srv_answered() -> Iterator[None]:
    """pymongo's SRV lookup answers one member in the parent domain; no TXT record."""
    with (
        mock.patch.object(_SrvResolver, "get_hosts", return_value=[(f"mongodb-0.{SRV_HOST}", 1)]),
        mock.patch.object(_SrvResolver, "get_options", return_value=None),
    ):
        yield


def parse_srv_uri(uri: str) -> dict[str, Any]:
    """``parse_uri`` of a ``mongodb+srv`` URI, its DNS lookups answered by a stub."""
    with _srv_answered():
        return parse_uri(uri)


def txt_observations(txt: tuple[str, ...]) -> Observations:
    """Observations of a Service whose name serves ``txt``; only the TXT check reads them."""
    return Observations(
        service=SVC,
        environment=PodEnvironment(),
        namespace_source="--namespace",
        cluster_domain_source="default",
        source="nameserver 127.0.0.1:53",
        addresses=ConfigurationError("not looked up"),  # type: ignore[arg-type]
        mongo=True,
        txt=txt,
    )


# -- the oracle: what pymongo makes of the components ------------------------------------------

# Options whose combination pymongo checks, and how each is written into the skeleton URI.
_COMBINED = ("directconnection", "loadbalanced", "replicaset", "srvmaxhosts", "srvservicename")


class Refused(Exception):
    """pymongo refuses the equivalent input."""


def _validated(options: Mapping[str, object]) -> dict[str, object]:
    try:
        validated = (common.validate(name, value) for name, value in options.items())
        return {name.lower(): value for name, value in validated}
    except (ValueError, TypeError, PyMongoConfigurationError) as exc:
        if "is not a supported auth mechanism property" in str(exc):
            # A comma inside a generated property value made a pair whose name is not in
            # pymongo's vocabulary, which is pymongo's to judge (see the generators).
            reject()
        raise Refused(exc) from exc


def _check_combinations(validated: Mapping[str, object], n_hosts: int, srv: bool) -> None:
    pairs = []
    for name in _COMBINED:
        if name not in validated:
            continue
        value = validated[name]
        if isinstance(value, bool):
            pairs.append(f"{name}={str(value).lower()}")
        elif name == "srvmaxhosts":
            pairs.append(f"{name}={value}")
        elif name == "srvservicename" or value:
            pairs.append(f"{name}=x")
    hosts = SRV_HOST if srv else ",".join(f"h{i}" for i in range(n_hosts))
    skeleton = f"mongodb{'+srv' if srv else ''}://{hosts}/?{'&'.join(pairs)}"
    try:
        parse_srv_uri(skeleton)
    except PyMongoConfigurationError as exc:  # InvalidURI is one
        raise Refused(exc) from exc


def _expected(
    hosts: list[tuple[str, int]],
    username: str | None,
    password: str | None,
    database: str | None,
    options: Mapping[str, object],
    *,
    srv: bool,
) -> dict[str, object]:
    """What pymongo reads from a URI of these components; raises Refused where it refuses."""
    for name, number in hosts:
        try:
            parse_host(f"[{name}]:{number}" if ":" in name else f"{name}:{number}")
        except ValueError as exc:
            raise Refused(exc) from exc
    if username is not None or password is not None:
        if username is None:
            raise Refused("a URI cannot carry a password without a username")
        userinfo = quote_plus(username) + ("" if password is None else ":" + quote_plus(password))
        try:
            parse_userinfo(userinfo)
        except PyMongoConfigurationError as exc:
            raise Refused(exc) from exc
    if database is not None:
        try:
            _check_name(database)
        except InvalidName as exc:
            raise Refused(exc) from exc
    validated = _validated(options)
    if validated.get("authsource") == "":
        # split_options refuses it in a URI, after validation ("the authSource database
        # cannot be an empty string"); as a keyword it would mean the default.
        raise Refused("an empty authSource")
    _check_combinations(validated, len(dict.fromkeys(hosts)), srv)
    return {
        "nodelist": (
            [(f"mongodb-0.{SRV_HOST}", 1)]
            if srv
            else list(dict.fromkeys((h.lower(), p) for h, p in hosts))
        ),
        "username": username,
        # A URI cannot say "no password" after a username: pymongo reads it as "".
        "password": "" if password is None and username is not None else password,
        "database": database,
        "options": validated,
    }


def _read_back(uri: str) -> dict[str, object]:
    parsed = parse_srv_uri(uri)
    options = {name.lower(): value for name, value in parsed["options"].items()}
    return {
        "nodelist": parsed["nodelist"],
        "username": parsed["username"],
        "password": parsed["password"],
        "database": parsed["database"],
        "options": options,
    }


def assert_agrees(
    build: Any,
    hosts: list[tuple[str, int]],
    username: str | None,
    password: str | None,
    database: str | None,
    options: dict[str, object],
    *,
    srv: bool,
) -> None:
    try:
        expected = _expected(hosts, username, password, database, options, srv=srv)
    except Refused as refused:
        with pytest.raises(ConfigurationError, match=r"."):
            build()
        assert refused.args
        return
    uri = build()
    got = _read_back(uri)
    if srv:
        # pymongo adds tls=true to a mongodb+srv URI that does not set it.
        expected["options"].setdefault("tls", True)  # type: ignore[attr-defined]
    assert got == expected, uri


# -- what is generated --------------------------------------------------------------------------

dns_name = st.lists(
    st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9-]{0,8}[A-Za-z0-9])?", fullmatch=True),
    min_size=1,
    max_size=4,
).map(".".join)
host = st.one_of(
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(str),
    dns_name,
)
port = st.one_of(st.integers(1, 65535), st.sampled_from([-1, 0, 1, 65535, 65536]))
hosts = st.lists(st.tuples(host, port), min_size=1, max_size=3)
credential = st.one_of(st.none(), st.text(max_size=8), st.sampled_from(["", "+", "%", "@:/?#[]"]))
database = st.one_of(st.none(), st.text(max_size=8), st.sampled_from(["", "a.b", "a\\b", "db"]))

# Text with the characters that matter to a URI and to pymongo's two raw options.
reserved = st.text(alphabet=st.sampled_from(":/,?#[]@!$&'()*+;=% \u00e9\u20ac"), max_size=4)
piece = st.one_of(st.text(max_size=6), reserved, st.sampled_from(["%2F", "%2", "+", "%25"]))
# Which names and values an option takes (is "x" a number, is FOO a property) is pymongo's
# vocabulary, judged when the client starts; the builders judge only what a URI can carry and
# the options their checks read. So the vocabulary generated here is pymongo's own.
prop_name = st.sampled_from(["SERVICE_NAME", "SERVICE_REALM", "ENVIRONMENT", "TOKEN_RESOURCE"])
auth_properties = st.lists(st.tuples(prop_name, piece).map(":".join), min_size=1, max_size=3).map(
    ",".join
)
tag_set = st.one_of(
    st.just(""),
    st.lists(st.tuples(piece, piece).map(":".join), min_size=1, max_size=2).map(",".join),
)
boolean = st.one_of(st.booleans(), st.sampled_from(["true", "false", "True", "1", ""]))
options = st.fixed_dictionaries(
    {},
    optional={
        "authMechanismProperties": auth_properties,
        "readPreferenceTags": st.lists(tag_set, min_size=1, max_size=2),
        "readPreference": st.just("secondary"),
        "directConnection": boolean,
        "loadBalanced": boolean,
        "tls": st.one_of(st.booleans(), st.sampled_from(["true", "false"])),
        "replicaSet": st.text(max_size=4),
        "authSource": st.text(max_size=6),
        "appName": st.text(max_size=6),
        "maxPoolSize": st.one_of(st.integers(0, 100), st.just("50")),
        "srvMaxHosts": st.one_of(st.integers(-1, 3), st.sampled_from(["0", "2", "x"])),
        "srvServiceName": st.sampled_from(["mongodb", "mongo-db"]),
    },
)


def _drop_unencodable(values: dict[str, object]) -> dict[str, object]:
    # readPreferenceTags without readPreference is refused by MongoClient, not by parse_uri:
    # keep the pair together so that the options mean the same thing to both.
    if "readPreferenceTags" in values:
        values.setdefault("readPreference", "secondary")
    return values


# -- the differential tests ---------------------------------------------------------------------


@ORACLE
@given(hosts, credential, credential, database, options.map(_drop_unencodable))
@example([("10.244.0.10", 27017)], None, None, None, {"srvMaxHosts": 0})
@example([("db", 80)], "a/b", "p+q", "app", {"authMechanismProperties": "SERVICE_NAME:a%2Fb"})
@example([("::1", 1), ("db", 65535)], None, None, None, {"directConnection": "true"})
def test_build_mongo_uri_agrees_with_pymongo(
    hosts: list[tuple[str, int]],
    username: str | None,
    password: str | None,
    database: str | None,
    options: dict[str, object],
) -> None:
    assert_agrees(
        lambda: build_mongo_uri(
            hosts,
            username=username,
            password=password,
            database=database,
            options=options,  # type: ignore[arg-type]
        ),
        hosts,
        username,
        password,
        database,
        options,
        srv=False,
    )


@ORACLE
@given(credential, credential, database, options)
@example(None, None, None, {"srvMaxHosts": 0, "replicaSet": "rs0"})
@example(None, None, "app", {"loadBalanced": "true", "srvMaxHosts": "0"})
def test_build_mongo_srv_uri_agrees_with_pymongo(
    username: str | None,
    password: str | None,
    database: str | None,
    options: dict[str, object],
) -> None:
    options = _drop_unencodable(options)
    assert_agrees(
        lambda: build_mongo_srv_uri(
            SRV_HOST,
            username=username,
            password=password,
            database=database,
            options=options,  # type: ignore[arg-type]
        ),
        [(SRV_HOST, 27017)],
        username,
        password,
        database,
        options,
        srv=True,
    )


def test_the_stub_answers_inside_the_parent_domain() -> None:
    # The stub stands for a healthy Service; were its member outside the parent domain,
    # pymongo would refuse every URI and the SRV test above would prove nothing.
    parsed = parse_srv_uri(f"mongodb+srv://{SRV_HOST}/?tls=false")
    assert parsed["nodelist"] == [(f"mongodb-0.{SRV_HOST}", 1)]
    assert parsed["options"] == {"tls": False}
