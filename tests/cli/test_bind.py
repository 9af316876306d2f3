"""The commands against a real BIND 9 on loopback (``--nameserver``), text and JSON."""

from __future__ import annotations

import re
from typing import Any

import pytest

from headless_discovery import DnsResolver, PodEnvironment, ResolverTimeoutError, ServiceName
from headless_discovery.doctor import gather
from tests.cli import schema
from tests.cli.conftest import Cli, run_process
from tests.harness.bind import BindServer
from tests.harness.cluster import Cluster, Pod, Service
from tests.harness.fixtures import BindServerFactory

pytestmark = pytest.mark.dns

SVC = "mongodb.db.svc.cluster.local"
PASSWORD = "hunter2:#"


def model() -> Cluster:
    cluster = Cluster()
    mongo = cluster.statefulset("mongodb", "db", 3)
    mongo.txt.append("replicaSet=rs0&authSource=admin")
    cluster.statefulset("big", "load", 300, ports={"http": 8080}, subnet="10.245.0.0/16")
    cluster.add(
        Service("unready", "db", pods=[Pod("u-0", ipv4="10.246.0.1", ready=False, hostname="u-0")])
    )
    return cluster


@pytest.fixture
def server(bind_server: BindServerFactory) -> BindServer:
    return bind_server(model())


def ns(server: BindServer) -> tuple[str, ...]:
    return (
        "--nameserver",
        f"{server.nameserver}:{server.port}",
        "--cluster-domain",
        "cluster.local",
    )


def checks(data: Any) -> dict[str, dict[str, Any]]:
    schema.check(data, schema.DOCTOR)
    return {c["id"]: c for c in data["checks"]}


def test_resolve(cli: Cli, server: BindServer) -> None:
    where = f"{server.nameserver}:{server.port}"
    run = cli("resolve", "mongodb.db", "--port", "27017", *ns(server)).check()
    head, *rows = run.out.splitlines()
    assert head.startswith(f"{SVC}.  3 endpoints, TTL 5 s, answered by {where} in ")
    assert rows == ["  10.244.0.10:27017", "  10.244.0.11:27017", "  10.244.0.12:27017"]
    data = cli("resolve", "big.load", "--family", "4", *ns(server), "--json").check().json()
    schema.check(data, schema.RESOLVE)
    assert (data["nameserver"], data["ttl"], len(data["endpoints"])) == (where, 5, 300)


def test_resolve_no_ready_pods_is_not_found(cli: Cli, server: BindServer) -> None:
    run = cli("resolve", "unready.db", *ns(server), "--json").check(3)
    data = run.json()
    schema.check(data, schema.ERROR)
    assert data["error"]["nameserver"] == f"{server.nameserver}:{server.port}"
    assert "none of its pods is ready" in run.err


def test_resolve_when_the_server_is_down(cli: Cli, server: BindServer) -> None:
    server.stop()
    run = cli("resolve", "mongodb.db", *ns(server), "--timeout", "0.5").check(5)
    assert run.err.startswith("headless-discovery: error: ")


def test_pick_and_mongo_uri(cli: Cli, server: BindServer, monkeypatch: pytest.MonkeyPatch) -> None:
    run = cli("pick", "mongodb.db", "--srv", "mongodb", "--strategy", "pick_first", *ns(server))
    assert run.check().out == f"10.244.0.10:27017  mongodb-0.{SVC}\n"
    monkeypatch.setenv("MONGO_PASSWORD", PASSWORD)
    run = cli(
        "mongo-uri", "mongodb.db", "--hosts", "hostname", "--replica-set", "rs0",
        "--username", "app", "--password-env", "MONGO_PASSWORD", *ns(server), "--json",
    ).check()  # fmt: skip
    data = run.json()
    schema.check(data, schema.MONGO_URI)
    assert data["uri"] == (
        f"mongodb://app:****@mongodb-0.{SVC}:27017,mongodb-1.{SVC}:27017,"
        f"mongodb-2.{SVC}:27017/?replicaSet=rs0"
    )
    assert "hunter2" not in run.out + run.err


def test_doctor_mongo_reads_the_txt_record(cli: Cli, server: BindServer) -> None:
    run = cli("doctor", "mongodb.db", "--mongo", "--replica-set", "rs0", *ns(server))
    assert "[ok]   mongodb+srv: TXT record  [mongodb-srv-txt]" in run.check().out
    found = checks(
        cli("doctor", "mongodb.db", "--mongo", "--replica-set", "rs1", *ns(server), "--json")
        .check(6)
        .json()
    )
    assert found["mongodb-srv-txt"]["verdict"] == "ok"
    assert "'replicaSet=rs0&authSource=admin'" in found["mongodb-srv-txt"]["detail"]
    assert found["mongodb-replica-set"]["verdict"] == "fail"
    assert found["mongodb-srv-targets"]["verdict"] == "ok"
    assert found["udp-truncation"]["verdict"] == "ok"
    assert found["libc-complete"]["verdict"] == "skip"


def test_doctor_two_txt_records_fail(cli: Cli, bind_server: BindServerFactory) -> None:
    cluster = model()
    cluster.service("mongodb", "db").txt.append("authSource=other")
    server = bind_server(cluster)
    found = checks(cli("doctor", "mongodb.db", "--mongo", *ns(server), "--json").check(6).json())
    assert found["mongodb-srv-txt"]["verdict"] == "fail"
    assert "2 TXT records" in found["mongodb-srv-txt"]["detail"]


def test_doctor_sees_a_truncated_udp_answer(cli: Cli, server: BindServer) -> None:
    run = cli("doctor", "big.load", "--port-name", "http", *ns(server))
    out = run.check().out  # a warning, not a failure: this library retries over TCP
    assert "[WARN] The answer fits in UDP  [udp-truncation]" in out
    data = cli("doctor", "big.load", *ns(server), "--json").check().json()
    udp = checks(data)["udp-truncation"]
    assert udp["verdict"] == "warn"
    assert "of the 300 A records, with the TC (truncated) bit set" in udp["detail"]
    assert udp["docs"] == "docs/explanation/troubleshooting.md#truncated-udp-answers"
    assert checks(data)["srv-port-names"]["detail"].startswith(
        "named ports: http (port 8080, 300 targets)"
    )


def test_doctor_no_ready_pods(cli: Cli, server: BindServer) -> None:
    run = cli("doctor", "unready.db", *ns(server)).check(6)
    assert "[FAIL] The Service name resolves  [service-resolves]" in run.out
    assert "fix: kubectl get svc unready -n db" in run.out
    assert run.out.rstrip().endswith(" skipped")
    assert "\n1 failed, " in run.out


def test_doctor_when_the_server_is_down(cli: Cli, server: BindServer) -> None:
    server.stop()
    data = cli("doctor", "mongodb.db", *ns(server), "--timeout", "0.5", "--json").check(6).json()
    resolves = checks(data)["service-resolves"]
    assert resolves["docs"].endswith("#nameserver-unreachable")


def test_doctor_as_a_process(server: BindServer) -> None:
    run = run_process("doctor", "mongodb.db", "--mongo", *ns(server), "--json")
    assert checks(run.check().json())["mongodb-seeding"]["verdict"] == "ok"


def test_doctor_txt_timeout_is_the_resolvers_error(cli: Cli, server: BindServer) -> None:
    server.stop()
    where = f"{server.nameserver}:{server.port}"
    resolver = DnsResolver([server.nameserver], server.port, timeout=0.3, lifetime=0.3)
    obs = gather(
        ServiceName("mongodb", "db", "cluster.local"),
        resolver=resolver,
        environment=PodEnvironment(),
        namespace_source="--namespace",
        cluster_domain_source="--cluster-domain",
        source=f"nameserver {where}",
        mongo=True,
    )
    # The same translation as the library's: type, name, record type, server, time spent.
    assert isinstance(obs.txt, ResolverTimeoutError)
    assert (obs.txt.name, obs.txt.rdtype, obs.txt.nameserver) == (f"{SVC}.", "TXT", where)
    assert obs.txt.elapsed is not None
    assert obs.txt.elapsed >= 0.2
    with pytest.raises(
        ResolverTimeoutError, match=rf"^no answer for {re.escape(SVC)}\. TXT from "
    ) as direct:
        resolver.resolve_txt(f"{SVC}.")
    assert re.sub(r"[\d.]+ s", "N s", str(direct.value)) == re.sub(r"[\d.]+ s", "N s", str(obs.txt))
    data = cli("doctor", "mongodb.db", "--mongo", *ns(server), "--timeout", "0.3", "--json")
    txt = checks(data.check(6).json())["mongodb-srv-txt"]
    assert txt["verdict"] == "warn"
    assert txt["detail"].startswith("the TXT lookup failed: ")
    assert where in txt["detail"]
