"""Every command end to end, offline: zone files rendered from the cluster model, text and JSON."""

from __future__ import annotations

import getpass
import re
from pathlib import Path

import pytest

from headless_discovery import STRATEGY_NAMES, __version__
from tests.cli import schema
from tests.cli.conftest import Cli, run_process, write_zone
from tests.harness.cluster import Cluster, Pod, Service

SVC = "mongodb.db.svc.cluster.local"
MONGO_IPS = ["10.244.0.10", "10.244.0.11", "10.244.0.12"]
PASSWORD = "s3cr+t@pw"


def cluster() -> Cluster:
    """A MongoDB StatefulSet (port named mongodb) and a Deployment-like API without hostnames."""
    model = Cluster()
    model.statefulset("mongodb", "db", 3)
    model.add(
        Service(
            "api",
            "shop",
            ports={"http": 8080},
            pods=[Pod("api-a", ipv4="10.244.1.10"), Pod("api-b", ipv4="10.244.1.11")],
        )
    )
    return model


@pytest.fixture
def zone(tmp_path: Path) -> str:
    return str(write_zone(tmp_path / "cluster.zone", cluster()))


# -- name ---------------------------------------------------------------------------------------


def test_name_shows_every_form(cli: Cli) -> None:
    run = cli(
        "name", "mongodb", "-n", "db", "--cluster-domain", "cluster.local", "--pod", "mongodb-0"
    ).check()
    assert f"FQDN            {SVC}\n" in run.out
    assert f"query name      {SVC}.  (trailing dot" in run.out
    assert "short           mongodb.db  (" in run.out
    assert f"per-pod         mongodb-0.{SVC}\n" in run.out
    assert f"SRV             _<port-name>._tcp.{SVC}" in run.out
    assert "(from --namespace)" in run.out


def test_name_json_from_a_per_pod_name(cli: Cli) -> None:
    run = cli("name", f"mongodb-1.{SVC}.", "--port-name", "mongodb", "--json").check()
    data = run.json()
    schema.check(data, schema.NAME)
    assert data["pods"] == {"mongodb-1": f"mongodb-1.{SVC}"}
    assert data["srv"] == {"mongodb": f"_mongodb._tcp.{SVC}"}
    assert data["namespace_source"] == data["cluster_domain_source"] == "the name"


def test_name_takes_the_namespace_from_the_pod(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POD_NAMESPACE", "shop")
    data = cli("name", "api", "--json").check().json()
    assert (data["namespace"], data["namespace_source"]) == ("shop", "POD_NAMESPACE")


def test_name_refuses_two_namespaces(cli: Cli) -> None:
    run = cli("name", "mongodb.db", "-n", "other").check(2)
    assert run.err.splitlines()[-1] == (
        "headless-discovery name: error: 'mongodb.db' names namespace 'db', but --namespace "
        "says 'other'"
    )


# -- resolve ------------------------------------------------------------------------------------


def test_resolve_text(cli: Cli, zone: str) -> None:
    run = cli("resolve", "mongodb", "-n", "db", "--port", "27017", "--zone-file", zone).check()
    head, *rows = run.out.splitlines()
    assert head.startswith(f"{SVC}.  3 endpoints, TTL 5 s, from zone file {zone} in ")
    assert rows == [f"  {ip}:27017" for ip in MONGO_IPS]


def test_resolve_json(cli: Cli, zone: str) -> None:
    data = cli("resolve", "mongodb.db", "--zone-file", zone, "--json").check().json()
    schema.check(data, schema.RESOLVE)
    assert data["ttl"] == 5
    assert [ep["address"] for ep in data["endpoints"]] == MONGO_IPS
    assert {ep["port"] for ep in data["endpoints"]} == {None}


def test_resolve_srv(cli: Cli, zone: str) -> None:
    run = cli("resolve", "mongodb.db", "--srv", "mongodb", "--zone-file", zone).check()
    assert f"  10.244.0.11:27017  mongodb-1.{SVC}  priority 0  weight 33" in run.out
    data = cli("resolve", "mongodb.db", "--srv", "mongodb", "--zone-file", zone, "--json").json()
    schema.check(data, schema.RESOLVE)
    assert [ep["hostname"] for ep in data["endpoints"]] == [f"mongodb-{i}.{SVC}" for i in range(3)]


def test_resolve_a_per_pod_name(cli: Cli, zone: str) -> None:
    data = cli("resolve", f"mongodb-2.{SVC}", "--zone-file", zone, "--json").check().json()
    assert [ep["address"] for ep in data["endpoints"]] == ["10.244.0.12"]


def test_resolve_exit_codes(cli: Cli, zone: str) -> None:
    missing = cli("resolve", "mongodb", "-n", "shop", "--zone-file", zone).check(3)
    assert "does not exist (NXDOMAIN)" in missing.err
    assert missing.out == ""
    no_ipv6 = cli("resolve", "mongodb.db", "--family", "6", "--zone-file", zone).check(4)
    assert "no A/AAAA records" in no_ipv6.err
    no_port = cli("resolve", "api.shop", "--srv", "mongodb", "--zone-file", zone).check(3)
    assert "has no port named 'mongodb'" in no_port.err


def test_errors_in_json_mode_are_json_too(cli: Cli, zone: str) -> None:
    run = cli("resolve", "nope.db", "--zone-file", zone, "--json").check(3)
    data = run.json()
    schema.check(data, schema.ERROR)
    assert data["error"]["type"] == "ServiceNotFoundError"
    assert data["error"]["exit_code"] == 3
    assert data["error"]["name"] == "nope.db.svc.cluster.local."


def test_unreachable_nameserver_is_exit_5(cli: Cli) -> None:
    # Nothing listens on this loopback port: no answer within the timeout.
    run = cli(
        "resolve", "api.shop", "--nameserver", "127.0.0.1:9", "--timeout", "0.3", "--json"
    ).check(5)
    assert run.json()["error"]["type"] in ("ResolverTimeoutError", "ResolverUnavailableError")


# -- pick ---------------------------------------------------------------------------------------


def test_pick_round_robin(cli: Cli, zone: str) -> None:
    run = cli("pick", "api.shop", "--port", "8080", "--count", "3", "--zone-file", zone).check()
    assert run.out.splitlines() == ["10.244.1.10:8080", "10.244.1.11:8080", "10.244.1.10:8080"]


@pytest.mark.parametrize("strategy", STRATEGY_NAMES)
def test_pick_json_with_every_strategy(cli: Cli, zone: str, strategy: str) -> None:
    run = cli(
        "pick", "mongodb.db", "--srv", "mongodb", "--strategy", strategy, "--key", "user-42",
        "--count", "4", "--zone-file", zone, "--json",
    ).check()  # fmt: skip
    data = run.json()
    schema.check(data, schema.PICK)
    assert (data["strategy"], data["key"]) == (strategy, "user-42")
    assert len(data["picks"]) == 4
    assert all(pick in data["endpoints"] for pick in data["picks"])


def test_pick_unknown_strategy_is_a_usage_error(cli: Cli, zone: str) -> None:
    run = cli("pick", "api.shop", "--strategy", "fastest", "--zone-file", zone).check(2)
    assert "unknown strategy 'fastest'" in run.err
    assert run.err.startswith("usage: headless-discovery pick")


# -- mongo-uri ----------------------------------------------------------------------------------


def test_mongo_uri_seeds_with_ips_or_hostnames(cli: Cli, zone: str) -> None:
    by_ip = cli("mongo-uri", "mongodb.db", "--replica-set", "rs0", "--zone-file", zone).check()
    assert by_ip.out == (
        "mongodb://10.244.0.10:27017,10.244.0.11:27017,10.244.0.12:27017/?replicaSet=rs0\n"
    )
    by_name = cli(
        "mongo-uri", "mongodb.db", "--hosts", "hostname", "--zone-file", zone, "--json"
    ).check()
    data = by_name.json()
    schema.check(data, schema.MONGO_URI)
    assert data["hosts"] == [f"mongodb-{i}.{SVC}:27017" for i in range(3)]


def test_mongo_uri_srv_warns_about_tls(cli: Cli) -> None:
    run = cli("mongo-uri", "mongodb.db", "--cluster-domain", "cluster.local", "--srv").check()
    assert run.out == f"mongodb+srv://{SVC}/\n"
    assert "tls defaults to true" in run.err
    quiet = cli(
        "mongo-uri", "mongodb.db", "--cluster-domain", "cluster.local", "--srv",
        "--option", "tls=false", "--json",
    ).check()  # fmt: skip
    data = quiet.json()
    schema.check(data, schema.MONGO_URI)
    assert data["uri"] == f"mongodb+srv://{SVC}/?tls=false"
    assert not any("tls" in w for w in data["warnings"])


def test_password_from_the_environment_is_masked(
    cli: Cli, zone: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MONGO_PASSWORD", PASSWORD)
    args = ("mongo-uri", "mongodb.db", "--username", "app", "--password-env", "MONGO_PASSWORD")
    for extra in ((), ("--json",), ("-v",)):
        run = cli(*args, "--zone-file", zone, *extra).check()
        assert PASSWORD not in run.out + run.err
        assert "app:****@10.244.0.10:27017" in run.out
    shown = cli(*args, "--zone-file", zone, "--show-password").check()
    # quote_plus escapes it; pymongo's parser gives the original back.
    assert "app:s3cr%2Bt%40pw@10.244.0.10" in shown.out


def test_password_from_a_prompt(cli: Cli, zone: str, monkeypatch: pytest.MonkeyPatch) -> None:
    prompts: list[str] = []

    def fake_getpass(prompt: str = "") -> str:
        prompts.append(prompt)
        return PASSWORD

    monkeypatch.setattr(getpass, "getpass", fake_getpass)
    run = cli(
        "mongo-uri", "mongodb.db", "--username", "app", "--password-prompt", "--zone-file", zone
    ).check()
    assert prompts == ["Password for app: "]
    assert PASSWORD not in run.out + run.err
    assert "app:****@" in run.out


def test_password_is_never_taken_from_argv(cli: Cli, zone: str) -> None:
    for form in (("--password", PASSWORD), (f"--password={PASSWORD}",)):
        run = cli("mongo-uri", "mongodb.db", "--username", "app", *form, "--zone-file", zone)
        run.check(2)
        assert PASSWORD not in run.out + run.err
        assert "use --password-env VAR or --password-prompt" in run.err


def test_password_env_must_exist(cli: Cli, zone: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_SUCH_PASSWORD", raising=False)
    run = cli(
        "mongo-uri", "mongodb.db", "--username", "app", "--password-env", "NO_SUCH_PASSWORD",
        "--zone-file", zone,
    ).check(2)  # fmt: skip
    assert "the environment variable named by --password-env is not set" in run.err
    # The name is not echoed: it may be a password typed where its name belongs.
    assert "NO_SUCH_PASSWORD" not in run.err


# -- watch --------------------------------------------------------------------------------------


def test_watch_prints_the_initial_endpoints_and_stops_after_duration(cli: Cli, zone: str) -> None:
    run = cli(
        "watch", "api.shop", "--port", "8080", "--duration", "0.2", "--zone-file", zone, "--json"
    ).check()
    events = [__import__("json").loads(line) for line in run.out.splitlines()]
    for event in events:
        schema.check(event, schema.WATCH_EVENT)
    assert [(e["event"], e["endpoint"]["address"], e["total"]) for e in events] == [
        ("initial", "10.244.1.10", 2),
        ("initial", "10.244.1.11", 2),
    ]
    text = cli("watch", "api.shop", "--port", "8080", "--duration", "0.1", "--zone-file", zone)
    assert re.fullmatch(
        r"(\d\d:\d\d:\d\d  initial  10\.244\.1\.1[01]:8080  \(2 now\)\n){2}", text.check().out
    )


def test_watch_reports_no_endpoints_and_keeps_watching(cli: Cli, zone: str) -> None:
    run = cli("watch", "nope.shop", "--duration", "0.1", "--zone-file", zone).check()
    assert run.out == ""
    assert "no endpoints yet" in run.err


# -- doctor (offline; the checks themselves are in test_doctor_checks.py) -----------------------


def test_doctor_on_a_healthy_service(cli: Cli, zone: str) -> None:
    run = cli("doctor", "mongodb.db", "--cluster-domain", "cluster.local", "--zone-file", zone)
    run.check()
    assert run.out.startswith(f"doctor: {SVC}  (records from zone file {zone})\n")
    assert "[ok]   The Service name resolves  [service-resolves]" in run.out
    assert "[skip] The answer fits in UDP  [udp-truncation]" in run.out
    # where-am-i depends on the machine's resolv.conf; the rest on the zone alone.
    assert re.search(r"\n0 failed, [01] warnings?, [23] ok, 2 skipped$", run.out.rstrip())


def test_doctor_json_and_exit_status_6(cli: Cli, zone: str) -> None:
    run = cli(
        "doctor", "mongodb", "-n", "shop", "--try-namespace", "db", "--cluster-domain",
        "cluster.local", "--zone-file", zone, "--json",
    ).check(6)  # fmt: skip
    data = run.json()
    schema.check(data, schema.DOCTOR)
    assert data["ok"] is False
    verdicts = {c["id"]: c["verdict"] for c in data["checks"][1:]}
    assert verdicts == {
        "service-resolves": "fail",
        "udp-truncation": "skip",
        "libc-complete": "skip",
        "srv-port-names": "skip",
    }
    resolves = data["checks"][1]
    assert resolves["docs"] == "docs/explanation/troubleshooting.md#nxdomain"
    assert resolves["advice"].startswith("the Service exists in namespace db: pass -n db")


def test_doctor_mongo_on_a_service_without_named_port(cli: Cli, tmp_path: Path) -> None:
    model = Cluster()
    model.statefulset("mongodb", "db", 2, ports={"": 27017})
    zone = str(write_zone(tmp_path / "z.zone", model))
    run = cli("doctor", f"{SVC}.", "--mongo", "--zone-file", zone, "--json").check(6)
    checks = {c["id"]: c for c in run.json()["checks"]}
    assert checks["srv-port-names"]["verdict"] == "fail"
    assert "the port is not named 'mongodb'" in checks["srv-port-names"]["advice"]
    assert checks["mongodb-seeding"]["verdict"] == "warn"
    assert checks["mongodb-srv-targets"]["verdict"] == "skip"


# -- usage errors, help, version, demo ----------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ((), "COMMAND"),
        (("frobnicate",), "invalid choice: 'frobnicate'"),
        (("resolve",), "the following arguments are required: SERVICE"),
        (("resolve", "svc.ns", "--port", "70000"), "a port must be from 1 to 65535"),
        (("resolve", "svc.ns", "--family", "5"), "invalid choice: '5'"),
        (("resolve", "Bad_Name.ns"), "invalid name 'Bad_Name.ns'"),
        (("resolve", "svc.ns", "--zone-file", "/nonexistent.zone"), "cannot read zone file"),
        (("resolve", "svc.ns", "--zone-file", "z", "--nameserver", "10.0.0.1"), "not allowed"),
        (("resolve", "svc.ns", "--nameserver", "[::1"), "expected [IPv6]:PORT"),
        (("resolve", "svc.ns", "--timeout", "0"), "above 0"),
        (("pick", "svc.ns", "--count", "0"), "above 0"),
        (("watch", "svc.ns", "--duration", "soon"), "expected a number of seconds"),
        (("mongo-uri", "svc.ns", "--option", "tls"), "--option needs KEY=VALUE"),
        (("mongo-uri", f"mongodb-0.{SVC}"), "needs a Service name"),
        (("mongo-uri", "svc.ns", "--srv", "--hosts", "ip"), "hosts= has no meaning"),
        (("doctor", "svc.ns", "--replica-set", "rs0"), "only with --mongo"),
        (("resolve", "svc.ns", "--verbos"), "unrecognized arguments: --verbos"),
    ],
)
def test_bad_arguments_give_one_line_and_usage(
    cli: Cli, argv: tuple[str, ...], message: str
) -> None:
    run = cli(*argv).check(2)
    assert run.out == ""
    assert run.err.startswith("usage: headless-discovery")
    last = run.err.rstrip("\n").splitlines()[-1]
    assert message in (last if argv else run.err)


@pytest.mark.parametrize(
    "command", ["name", "resolve", "pick", "mongo-uri", "watch", "doctor", "demo"]
)
def test_help_of_every_command_has_examples_and_exit_codes(cli: Cli, command: str) -> None:
    run = cli(command, "--help").check()
    assert run.out.startswith(f"usage: headless-discovery {command}")
    assert f"examples:\n  headless-discovery {command}" in run.out
    assert "exit status:\n  0  success" in run.out
    assert "--json" in run.out


def test_version(cli: Cli) -> None:
    assert cli("--version").check().out == f"headless-discovery {__version__}\n"


def test_demo(cli: Cli) -> None:
    run = cli("demo").check()
    for command in ("name", "resolve", "pick", "mongo-uri", "doctor"):
        assert f"\n$ headless-discovery {command} " in run.out
    assert "mongodb://10.244.0.5:27017,10.244.1.7:27017,10.244.2.9:27017/?replicaSet=rs0" in (
        run.out
    )
    data = cli("demo", "--json").check().json()
    schema.check(data, schema.DEMO)
    shapes = {
        "name": schema.NAME,
        "resolve": schema.RESOLVE,
        "pick": schema.PICK,
        "mongo-uri": schema.MONGO_URI,
        "doctor": schema.DOCTOR,
    }
    for step in data["steps"]:
        schema.check(step["output"], shapes[step["argv"][0]])
        assert step["exit_code"] == 0


# -- the real entry point -----------------------------------------------------------------------


def test_python_dash_m_runs_the_command_line(zone: str) -> None:
    run = run_process("resolve", "api.shop", "--port", "8080", "--zone-file", zone, "--json")
    data = run.check().json()
    schema.check(data, schema.RESOLVE)
    assert [ep["address"] for ep in data["endpoints"]] == ["10.244.1.10", "10.244.1.11"]


def test_python_dash_m_bad_arguments_exit_2_without_traceback() -> None:
    run = run_process("resolve", "svc.ns", "--port", "nope")
    run.check(2)
    assert run.err.splitlines()[-1].startswith("headless-discovery resolve: error: argument")


def test_unrecognized_arguments_are_named_without_their_values(cli: Cli, zone: str) -> None:
    run = cli("resolve", "mongodb.db", "--zone-file", zone, "--pwd", "hunter2").check(2)
    assert "unrecognized arguments: --pwd <value>" in run.err
    assert "hunter2" not in run.err + run.out
