"""The pure half of doctor: literal observations in, findings out (no DNS, no files)."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from headless_discovery import (
    Endpoint,
    NoEndpointsError,
    PodEnvironment,
    Resolution,
    ResolverTimeoutError,
    ResolverUnavailableError,
    ServiceName,
    ServiceNotFoundError,
    SrvAnswer,
    SrvRecord,
    doctor,
)
from headless_discovery.doctor import (
    CHECKS,
    COMMON_PORT_NAMES,
    DOCS_PAGE,
    Check,
    Finding,
    Judgement,
    Observations,
    UdpProbe,
    diagnose,
)
from headless_discovery.names import in_srv_parent_domain, srv_parent_domain
from headless_discovery.resolvers._base import UdpProbe as ResolverUdpProbe
from tests.test_docs import DOCS, anchors

SVC = ServiceName("mongodb", "db", "cluster.local")
IPS = ("10.244.0.10", "10.244.0.11", "10.244.0.12")
POD = PodEnvironment(
    namespace="db",
    namespace_source="POD_NAMESPACE",
    cluster_domain="cluster.local",
    search=("db.svc.cluster.local", "svc.cluster.local", "cluster.local"),
    ndots=5,
    nameservers=("10.96.0.10",),
)


def resolution(ips: tuple[str, ...] = IPS) -> Resolution:
    return Resolution.from_endpoints(
        SVC.query_name, [Endpoint(ip) for ip in ips], ttl=5, nameserver="10.96.0.10:53"
    )


def srv(*targets: str) -> SrvAnswer:
    return SrvAnswer(
        SVC.srv("mongodb") + ".",
        tuple(SrvRecord(t, 27017, 0, 33, (f"10.244.0.{10 + i}",)) for i, t in enumerate(targets)),
        5,
    )


MEMBERS = srv(*(f"mongodb-{i}.{SVC.fqdn}" for i in range(3)))


def absent(name: str) -> NoEndpointsError:
    return ServiceNotFoundError(f"_{name}._tcp... does not exist")


def healthy(**changes: object) -> Observations:
    srv_map: dict[str, SrvAnswer | NoEndpointsError] = {
        name: absent(name) for name in COMMON_PORT_NAMES
    }
    srv_map["mongodb"] = MEMBERS
    obs = Observations(
        service=SVC,
        environment=POD,
        namespace_source="POD_NAMESPACE",
        cluster_domain_source="resolv.conf search list",
        source="nameservers of /etc/resolv.conf (10.96.0.10:53)",
        addresses=resolution(),
        elapsed_ms=1.5,
        srv=srv_map,
        udp=UdpProbe("10.96.0.10:53", truncated=False, records=3),
        libc=resolution(),
        mongo=True,
        txt=(),
        replica_set="rs0",
    )
    return replace(obs, **changes)  # type: ignore[arg-type]


def finding(obs: Observations, check: str) -> Finding:
    (found,) = [f for f in diagnose(obs).findings if f.id == check]
    assert found.docs.startswith(DOCS_PAGE + "#")
    return found


def test_a_healthy_service_in_a_pod() -> None:
    report = diagnose(healthy())
    assert report.ok
    assert {f.id: f.verdict for f in report.findings} == {
        "where-am-i": "ok",
        "service-resolves": "ok",
        "udp-truncation": "ok",
        "libc-complete": "ok",
        "srv-port-names": "ok",
        "mongodb-srv-txt": "ok",
        "mongodb-srv-targets": "ok",
        "mongodb-replica-set": "ok",
        "mongodb-srv-tls": "warn",
        "mongodb-seeding": "ok",
    }
    where = report.findings[0].detail
    assert "in a pod (namespace db from POD_NAMESPACE, cluster domain cluster.local" in where
    assert "ndots 5" in where
    assert "up to 4 queries per record type" in where


def test_without_mongo_only_the_general_checks_run() -> None:
    report = diagnose(healthy(mongo=False))
    assert [f.id for f in report.findings] == [
        "where-am-i",
        "service-resolves",
        "udp-truncation",
        "libc-complete",
        "srv-port-names",
    ]


def test_outside_a_pod_defaults_are_a_warning() -> None:
    found = finding(
        healthy(
            environment=PodEnvironment(),
            namespace_source="default: not given, not detected",
            cluster_domain_source="--cluster-domain",
        ),
        "where-am-i",
    )
    assert found.verdict == "warn"
    assert found.detail.startswith("not in a pod")
    assert found.advice is not None
    assert found.advice.startswith("the namespace is a default")


def test_a_cluster_domain_other_than_the_pods() -> None:
    other = ServiceName("mongodb", "db", "corp.example")
    found = finding(healthy(service=other, cluster_domain_source="--cluster-domain"), "where-am-i")
    assert found.verdict == "warn"
    assert found.docs.endswith("#custom-cluster-domain")


@pytest.mark.parametrize(
    ("error", "anchor"),
    [
        (ServiceNotFoundError("NXDOMAIN"), "nxdomain"),
        (NoEndpointsError("NODATA"), "no-address-records"),
        (ResolverTimeoutError("timeout"), "nameserver-unreachable"),
        (ResolverUnavailableError("SERVFAIL"), "nameserver-failure"),
    ],
)
def test_the_name_does_not_resolve(error: Exception, anchor: str) -> None:
    report = diagnose(healthy(addresses=error, mongo=False))
    assert not report.ok
    verdicts = {f.id: f.verdict for f in report.findings}
    assert verdicts["service-resolves"] == "fail"
    assert verdicts["udp-truncation"] == verdicts["libc-complete"] == "skip"
    assert report.findings[1].docs == f"{DOCS_PAGE}#{anchor}"


def test_nxdomain_names_the_namespaces_searched() -> None:
    obs = healthy(
        addresses=ServiceNotFoundError("NXDOMAIN"),
        other_namespaces={"prod": ServiceNotFoundError("x"), "db2": resolution()},
    )
    found = finding(obs, "service-resolves")
    assert found.advice is not None
    assert found.advice.startswith("the Service exists in namespace db2: pass -n db2")
    nowhere = finding(
        replace(obs, other_namespaces={"prod": ServiceNotFoundError("x")}), "service-resolves"
    )
    assert nowhere.detail.endswith("not found in namespaces prod either")


def test_truncated_udp_answer_is_a_warning() -> None:
    found = finding(
        healthy(udp=UdpProbe("10.96.0.10:53", truncated=True, records=27)), "udp-truncation"
    )
    assert found.verdict == "warn"
    assert "carried 27 of the 3 A records, with the TC (truncated) bit set" in found.detail


def test_udp_probe_is_the_resolvers_value() -> None:
    assert UdpProbe is ResolverUdpProbe


def test_udp_probe_failure_and_zone_files() -> None:
    assert finding(healthy(udp=ResolverTimeoutError("t")), "udp-truncation").verdict == "warn"
    assert finding(healthy(udp=None), "udp-truncation").verdict == "skip"


def test_libc_seeing_fewer_pods_fails() -> None:
    found = finding(healthy(libc=resolution(IPS[:1])), "libc-complete")
    assert found.verdict == "fail"
    assert found.detail == (
        "getaddrinfo('mongodb.db.svc.cluster.local') returns 1 addresses, DNS over TCP 3: "
        "missing 10.244.0.11, 10.244.0.12"
    )
    extra = finding(healthy(libc=resolution((*IPS, "192.0.2.1"))), "libc-complete")
    assert extra.verdict == "warn"
    broken = finding(healthy(libc=ServiceNotFoundError("x")), "libc-complete")
    assert broken.verdict == "fail"
    assert finding(healthy(libc=None), "libc-complete").verdict == "skip"


def test_srv_ports() -> None:
    unnamed = {name: absent(name) for name in COMMON_PORT_NAMES}
    found = finding(healthy(srv=unnamed, mongo=False), "srv-port-names")
    assert found.verdict == "warn"
    required = finding(healthy(srv=unnamed, required_ports=("mongodb",)), "srv-port-names")
    assert required.verdict == "fail"
    assert required.advice is not None
    assert required.advice.startswith("_mongodb._tcp is missing, so the port is not named")
    no_addresses = srv(f"mongodb-0.{SVC.fqdn}")
    no_addresses = replace(
        no_addresses, records=tuple(replace(r, addresses=()) for r in no_addresses.records)
    )
    dangling = finding(healthy(srv={"mongodb": no_addresses}), "srv-port-names")
    assert dangling.verdict == "warn"
    assert "have no addresses" in dangling.detail
    failing = finding(healthy(srv={"mongodb": ResolverTimeoutError("t")}), "srv-port-names")
    assert failing.verdict == "warn"


@pytest.mark.parametrize(
    ("txt", "verdict", "text"),
    [
        ((), "ok", "no TXT record"),
        (("replicaSet=rs0&authSource=admin",), "ok", "one TXT record"),
        (("replicaSet=rs0", "authSource=admin"), "fail", "Only one TXT record is supported"),
        (("replicaSet=rs0&tls=false",), "fail", "sets tls"),
        (NoEndpointsError("NODATA"), "ok", "no TXT record"),
        (ServiceNotFoundError("NXDOMAIN"), "skip", "does not resolve"),
        (ResolverTimeoutError("t"), "warn", "the TXT lookup failed"),
    ],
)
def test_mongodb_srv_txt(txt: object, verdict: str, text: str) -> None:
    found = finding(healthy(txt=txt), "mongodb-srv-txt")
    assert (found.verdict, text in found.detail) == (verdict, True)


def test_mongodb_srv_targets_outside_the_parent_domain() -> None:
    outside = srv(f"mongodb-0.{SVC.fqdn}", "mongodb-1.elsewhere.example")
    found = finding(healthy(srv={"mongodb": outside}), "mongodb-srv-targets")
    assert found.verdict == "fail"
    assert "mongodb-1.elsewhere.example" in found.detail
    assert "Invalid SRV host" in found.detail
    # pymongo's rule: the target minus its first label ends with the host minus its first.
    sibling = srv(f"other.{SVC.fqdn.split('.', 1)[1]}")
    assert finding(healthy(srv={"mongodb": sibling}), "mongodb-srv-targets").verdict == "ok"


@pytest.mark.parametrize(
    ("txt", "given", "verdict"),
    [
        (("replicaSet=rs0",), "rs0", "ok"),
        (("replicaSet=rs1",), "rs0", "fail"),
        (("replicaSet=rs1",), None, "ok"),
        ((), "rs0", "ok"),
        ((), None, "skip"),
    ],
)
def test_replica_set_name(txt: tuple[str, ...], given: str | None, verdict: str) -> None:
    found = finding(healthy(txt=txt, replica_set=given), "mongodb-replica-set")
    assert found.verdict == verdict


def test_seeding_advice() -> None:
    assert finding(healthy(), "mongodb-seeding").verdict == "ok"
    no_srv = finding(healthy(srv={"mongodb": absent("mongodb")}), "mongodb-seeding")
    assert no_srv.verdict == "warn"
    assert "only the pod IPs can seed" in no_srv.detail
    dashed = srv(f"10-244-0-10.{SVC.fqdn}", f"fd00-10-244--5.{SVC.fqdn}")
    by_ip = finding(healthy(srv={"mongodb": dashed}), "mongodb-seeding")
    assert by_ip.verdict == "warn"
    assert "10-244-0-10, fd00-10-244--5" in by_ip.detail
    # A hostname with a dash and hex letters is still a hostname.
    named = srv(f"db-0.{SVC.fqdn}", f"cafe-1.{SVC.fqdn}")
    assert finding(healthy(srv={"mongodb": named}), "mongodb-seeding").verdict == "ok"


def test_report_json() -> None:
    data = diagnose(healthy(mongo=False)).to_json()
    assert data["service"] == SVC.fqdn
    assert data["ok"] is True
    checks = data["checks"]
    assert isinstance(checks, list)
    assert checks[0] == {
        "id": "where-am-i",
        "title": "Where am I",
        "verdict": "ok",
        "detail": diagnose(healthy()).findings[0].detail,
        "advice": None,
        "docs": f"{DOCS_PAGE}#where-am-i",
    }


# -- the table of checks -------------------------------------------------------------------------


def test_every_check_in_the_table_has_a_unique_id_a_title_and_a_section() -> None:
    sections = anchors(DOCS / "explanation" / "troubleshooting.md")
    ids = [check.id for check in CHECKS]
    assert len(set(ids)) == len(ids) == 10
    for check in CHECKS:
        assert re.fullmatch(r"[a-z]+(-[a-z]+)+|[a-z]+", check.id), check.id
        assert check.title.strip() == check.title != ""
        assert check.anchor in sections, check.anchor


def test_diagnose_runs_the_table_in_order() -> None:
    assert [f.id for f in diagnose(healthy()).findings] == [c.id for c in CHECKS]
    general = [c.id for c in CHECKS if not c.mongo]
    assert [f.id for f in diagnose(healthy(mongo=False)).findings] == general
    # The MongoDB checks come last, so a report without them is a prefix of one with them.
    assert [c.mongo for c in CHECKS] == sorted(c.mongo for c in CHECKS)


def test_a_check_turns_its_judgement_into_a_finding() -> None:
    obs = healthy()
    check = Check("an-id", "A title", "where-am-i", lambda o: Judgement("warn", o.source, "do"))
    assert check(obs) == Finding(
        "an-id", "A title", "warn", obs.source, "do", f"{DOCS_PAGE}#where-am-i"
    )
    precise = Check("an-id", "A title", "nxdomain", lambda o: Judgement("ok", "d", anchor="x-y"))
    assert precise(obs).docs == f"{DOCS_PAGE}#x-y"
    assert precise(obs).advice is None


def test_each_public_check_is_its_row_of_the_table() -> None:
    for check in CHECKS:
        name = next(n for n in dir(doctor) if getattr(doctor, n) is check)
        assert name.startswith("check_"), name
    assert doctor.check_udp(healthy()) == finding(healthy(), "udp-truncation")


def test_txt_that_the_resolver_cannot_look_up_is_skipped_with_the_reason() -> None:
    found = finding(healthy(txt=None, source="a resolver of your own"), "mongodb-srv-txt")
    assert found.verdict == "skip"
    assert found.detail == "TXT records cannot be looked up in a resolver of your own"


def test_srv_targets_follow_the_names_rule() -> None:
    # in_srv_parent_domain is case-insensitive and ignores a trailing dot; doctor agrees.
    upper = srv(f"MONGODB-0.{SVC.fqdn.upper()}.")
    found = finding(healthy(srv={"mongodb": upper}), "mongodb-srv-targets")
    assert found.verdict == "ok"
    assert found.detail.startswith(f"all 1 targets end with {srv_parent_domain(SVC.fqdn)};")
    # One label deeper than the parent: the target minus its first label must end with it.
    deeper = srv(f"a.b.{SVC.fqdn}", "x.svc.cluster.local")
    failed = finding(healthy(srv={"mongodb": deeper}), "mongodb-srv-targets")
    assert failed.verdict == "fail"
    assert failed.detail.startswith("targets outside db.svc.cluster.local: x.svc.cluster.local;")
    for rec in deeper.records:
        assert in_srv_parent_domain(rec.target, "db.svc.cluster.local") == (
            rec.target not in failed.detail
        )
