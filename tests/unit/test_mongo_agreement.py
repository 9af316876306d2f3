"""The three disagreements with pymongo found by the connection-string corpus (issue 19),
each checked against pymongo itself."""

from __future__ import annotations

import inspect

import pytest
from pymongo import common
from pymongo.errors import InvalidURI
from pymongo.uri_parser import parse_uri, split_options

from headless_discovery import ConfigurationError, Endpoint, build_mongo_srv_uri, build_mongo_uri
from headless_discovery.doctor._checks import check_mongo_txt
from tests.unit.test_mongo_oracle import parse_srv_uri, txt_observations

ONE = [Endpoint("10.244.0.10", 27017)]
SRV = "mongodb.db.svc.cluster.local"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            "ENVIRONMENT:azure,TOKEN_RESOURCE:mongodb://test-cluster",
            {"ENVIRONMENT": "azure", "TOKEN_RESOURCE": "mongodb://test-cluster"},
        ),
        ("ENVIRONMENT:gcp,TOKEN_RESOURCE:api://a/b?c=d&e", None),
        ("SERVICE_NAME:a%2Fb", {"SERVICE_NAME": "a/b"}),
        ("SERVICE_NAME:a/b", {"SERVICE_NAME": "a/b"}),
    ],
)
def test_a_slash_in_auth_mechanism_properties_reads_back_as_pymongo_reads_it(
    value: str, expected: dict[str, str] | None
) -> None:
    uri = build_mongo_uri(
        ONE, options={"authMechanism": "MONGODB-OIDC", "authMechanismProperties": value}
    )
    parsed = parse_uri(uri)["options"]["authMechanismProperties"]
    # The value means what it means to pymongo as a keyword argument or written in a URI.
    assert parsed == common.validate("authMechanismProperties", value)[1]
    if expected is not None:
        assert parsed == expected


def test_the_azure_example_reads_as_written() -> None:
    value = "ENVIRONMENT:azure,TOKEN_RESOURCE:mongodb://test-cluster"
    uri = build_mongo_uri(ONE, options={"authMechanismProperties": value})
    assert uri == f"mongodb://10.244.0.10:27017/?authMechanismProperties={value}"


@pytest.mark.parametrize("srv_max_hosts", [0, "0"])
def test_srv_max_hosts_zero_means_no_limit_and_goes_with_a_replica_set(
    srv_max_hosts: int | str,
) -> None:
    uri = build_mongo_srv_uri(
        "mongodb.db.svc.cluster.local",
        replica_set="rs0",
        options={"srvMaxHosts": srv_max_hosts, "tls": False},
    )
    parsed = parse_srv_uri(uri)
    assert parsed["options"]["srvMaxHosts"] == 0
    assert parsed["options"]["replicaSet"] == "rs0"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"srvMaxHosts": 1}, "replicaSet"),
        ({"srvMaxHosts": "1", "loadBalanced": "true"}, "loadBalanced"),
    ],
)
def test_srv_max_hosts_one_is_still_refused_with_a_replica_set_or_a_load_balancer(
    options: dict[str, object], message: str
) -> None:
    replica_set = None if "loadBalanced" in options else "rs0"
    uri = "mongodb+srv://mongodb.db.svc.cluster.local/?" + "&".join(
        f"{k}={v}" for k, v in {**options, **({"replicaSet": "rs0"} if replica_set else {})}.items()
    )
    with pytest.raises(InvalidURI, match=f"You cannot specify {message} with srvMaxHosts"):
        parse_srv_uri(uri)
    with pytest.raises(
        ConfigurationError, match="srvMaxHosts cannot be combined with replicaSet or loadBalanced"
    ):
        build_mongo_srv_uri(
            "mongodb.db.svc.cluster.local",
            replica_set=replica_set,
            options=options,  # type: ignore[arg-type]
        )


def _split_txt(record: str) -> object:
    """pymongo's reading of a TXT record's options; ``from_uri=False`` (newer pymongo) says
    the text is a TXT record, not a URI's query: older versions read both alike."""
    if "from_uri" in inspect.signature(split_options).parameters:
        return split_options(record, from_uri=False)
    return split_options(record)


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ("authSource", "MongoDB URI options are key=value pairs"),
        ("authSource=admin&replicaSet", "MongoDB URI options are key=value pairs"),
        ("authSource=admin&replicaSet=rs0&", "MongoDB URI options are key=value pairs"),
        ("authSource=a=b", "MongoDB URI options are key=value pairs"),
        ("authSource=admin&replicaSet=rs0;loadBalanced=false", "Can not mix '&' and ';'"),
    ],
)
def test_doctor_refuses_a_txt_record_pymongo_refuses_with_its_reason(
    record: str, reason: str
) -> None:
    with pytest.raises(InvalidURI, match=reason):
        _split_txt(record)
    finding = check_mongo_txt(txt_observations((record,)))
    assert finding.verdict == "fail"
    assert reason in finding.detail


@pytest.mark.parametrize(
    "record",
    ["authSource=admin", "authSource=admin;replicaSet=rs0", "replicaSet=rs0&loadBalanced=false"],
)
def test_doctor_passes_a_txt_record_pymongo_accepts(record: str) -> None:
    assert _split_txt(record)
    assert check_mongo_txt(txt_observations((record,))).verdict == "ok"


def test_doctor_passes_an_empty_txt_record_which_pymongo_ignores() -> None:
    parsed = parse_srv_uri(f"mongodb+srv://{SRV}/?tls=false")
    assert parsed["options"] == {"tls": False}
    assert check_mongo_txt(txt_observations(("",))).verdict == "ok"
