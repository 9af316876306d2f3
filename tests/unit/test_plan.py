"""The query plans: literal names and answers in, plans and snapshots out; no resolver."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from headless_discovery import (
    AddressAnswer,
    ConfigurationError,
    Endpoint,
    InvalidNameError,
    NoEndpointsError,
    PodEnvironment,
    ServiceName,
    SrvAnswer,
    SrvRecord,
    UntrustedAnswerError,
)
from headless_discovery.plan import (
    LookupPlan,
    ResultBuilder,
    check_port,
    plan_dns_name,
    plan_mongo,
    plan_service,
    service_name,
)

SVC = ServiceName("db", "prod", "cluster.local")


def test_a_service_plan_asks_the_absolute_name_once() -> None:
    plan = plan_service("db.prod.svc.cluster.local", port=27017)
    assert (plan.qname, plan.srv, plan.port, plan.family, plan.rdtype) == (
        "db.prod.svc.cluster.local.",
        False,
        27017,
        "any",
        "A/AAAA",
    )
    assert plan.service == SVC
    assert plan.srv_domain is None


def test_an_srv_plan_carries_the_parent_domain_rule() -> None:
    plan = plan_service(SVC, srv="MongoDB")
    assert plan.qname == "_mongodb._tcp.db.prod.svc.cluster.local."
    assert (plan.srv, plan.rdtype, plan.srv_domain) == (True, "SRV", "prod.svc.cluster.local")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"port": 0}, ConfigurationError, "port must be an integer from 1 to 65535, not 0"),
        ({"port": 65536}, ConfigurationError, "not 65536"),
        ({"port": True}, ConfigurationError, "not True"),
        ({"family": "ipv5"}, ConfigurationError, "family must be 'any', 'ipv4' or 'ipv6'"),
        ({"srv": "mongodb", "port": 1}, ConfigurationError, "port= cannot be used with SRV"),
        ({"allowed_networks": ["10.0.0.1/8"]}, ConfigurationError, "is not a CIDR"),
    ],
)
def test_bad_arguments_are_refused_before_any_lookup(
    kwargs: dict[str, object], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        plan_service(SVC, **kwargs)  # type: ignore[arg-type]


def test_the_port_limits_themselves_are_accepted() -> None:
    assert check_port(1) == 1
    assert check_port(65535) == 65535
    assert check_port(None) is None


def test_a_dns_name_plan_is_lower_case_and_absolute() -> None:
    plan = plan_dns_name("Cache.Example.COM", port=6379, family="ipv4")
    assert (plan.qname, plan.rdtype, plan.service) == ("cache.example.com.", "A", None)
    with pytest.raises(InvalidNameError, match="must be a non-empty string"):
        plan_dns_name("..", port=None, family="any")


def test_with_family_keeps_everything_else() -> None:
    plan = plan_service(SVC, port=80, allowed_networks=["10.0.0.0/8"])
    v4 = plan.with_family("ipv4")
    assert (v4.family, v4.rdtype) == ("ipv4", "A")
    assert (v4.qname, v4.port, v4.networks, v4.service) == (
        plan.qname,
        plan.port,
        plan.networks,
        plan.service,
    )
    assert plan.with_family("any") is plan


def test_the_builder_reuses_the_last_snapshot_for_the_same_records() -> None:
    builder = ResultBuilder(plan_service(SVC, port=80))
    first = AddressAnswer("db.prod.svc.cluster.local.", ("10.0.0.2", "10.0.0.1"), 5.0, "a:53")
    assert builder.reused(first) is None
    snapshot = builder.finish(first, builder.parts(first))
    assert [ep.netloc() for ep in snapshot] == ["10.0.0.1:80", "10.0.0.2:80"]
    again = AddressAnswer(first.name, ("10.0.0.1", "10.0.0.2"), 3.0, "b:53")
    reused = builder.reused(again)
    assert reused is not None
    assert reused.endpoints is snapshot.endpoints  # the same endpoint objects
    assert (reused.ttl, reused.nameserver) == (3.0, "b:53")
    assert builder.reused(again) is not None  # and again, against the key kept
    changed = AddressAnswer(first.name, ("10.0.0.3",), 5.0, "a:53")
    assert builder.reused(changed) is None
    assert builder.reused(first) is None  # a changed answer forgets the last snapshot
    moved = builder.finish(changed, builder.parts(changed))
    same = builder.reused(AddressAnswer(first.name, ("10.0.0.3",)))
    assert same is not None
    assert same.endpoints is moved.endpoints


def test_a_reused_snapshot_is_screened_again() -> None:
    answer = AddressAnswer("db.prod.svc.cluster.local.", ("10.0.0.1",), 5.0, "a:53")
    builder = ResultBuilder(plan_service(SVC, port=80, allowed_networks=["10.0.0.0/8"]))
    builder.finish(answer, builder.parts(answer))
    assert [ep.address for ep in builder.reused(answer) or ()] == ["10.0.0.1"]
    strict = ResultBuilder(plan_service(SVC, port=80, allowed_networks=["192.168.0.0/16"]))
    with pytest.raises(UntrustedAnswerError, match="outside allowed_networks"):
        strict.finish(answer, strict.parts(answer))
    with pytest.raises(UntrustedAnswerError, match="outside allowed_networks"):
        strict.reused(answer)


def test_the_builder_screens_by_the_plans_rules() -> None:
    builder = ResultBuilder(plan_service(SVC, srv="mongodb"))
    answer = SrvAnswer(
        "_mongodb._tcp.db.prod.svc.cluster.local.",
        (SrvRecord("evil.example.com", 27017, addresses=("10.0.0.9",)),),
    )
    with pytest.raises(UntrustedAnswerError, match=r"SRV target not inside prod\.svc\.cluster"):
        builder.finish(answer, builder.parts(answer))
    empty = AddressAnswer("db.prod.svc.cluster.local.", ())
    plain = ResultBuilder(plan_service(SVC, port=80))
    with pytest.raises(NoEndpointsError, match="no record gave a usable address"):
        plain.finish(empty, [])


def test_a_mongo_plan_checks_every_part_up_front() -> None:
    plan = plan_mongo(SVC, replica_set="rs0", hosts="hostname", port_name="mongo")
    assert plan.lookup is not None
    assert plan.lookup.qname == "_mongo._tcp.db.prod.svc.cluster.local."
    assert plan.uri([Endpoint("10.0.0.1", 27017, "db-0.db.prod.svc.cluster.local")]) == (
        "mongodb://db-0.db.prod.svc.cluster.local:27017/?replicaSet=rs0"
    )
    srv = plan_mongo(
        "db", namespace="prod", cluster_domain="cluster.local", srv=True, port_name="mongo"
    )
    assert srv.lookup is None
    assert srv.uri(()) == "mongodb+srv://db.prod.svc.cluster.local/?srvServiceName=mongo"
    with pytest.raises(ConfigurationError, match="have no effect with srv=True"):
        plan_mongo(SVC, srv=True, allowed_networks=["10.0.0.0/8"])
    with pytest.raises(ConfigurationError, match="hosts must be 'ip' or 'hostname', not 'dns'"):
        plan_mongo(SVC, hosts="dns")  # type: ignore[typeddict-item]
    with pytest.raises(TypeError, match="unexpected keyword argument 'replicaset'"):
        plan_mongo(SVC, replicaset="rs0")  # type: ignore[call-arg]


def test_srv_needs_a_service_name() -> None:
    for name in ("mongodb-0.db.prod.svc.cluster.local", "_mongodb._tcp.db.prod.svc.cluster.local"):
        with pytest.raises(
            ConfigurationError, match=r"^srv= needs a Service name, not a per-pod or SRV name$"
        ):
            plan_service(name, srv="mongodb")
    with pytest.raises(
        ConfigurationError, match=r"^port= cannot be used with SRV records: they carry the port$"
    ):
        plan_service("_mongodb._tcp.db.prod.svc.cluster.local", port=27017)
    udp = plan_service(SVC, srv="dns", protocol="udp")
    assert udp.qname == "_dns._udp.db.prod.svc.cluster.local."


def test_a_mongo_srv_plan_with_the_default_port_name_names_no_service() -> None:
    plan = plan_mongo(SVC, srv=True, replica_set="rs0")
    assert plan.lookup is None
    assert plan.uri(()) == "mongodb+srv://db.prod.svc.cluster.local/?replicaSet=rs0"
    with pytest.raises(
        ConfigurationError, match=r"^hosts= has no meaning with srv=True: the driver resolves$"
    ):
        plan_mongo(SVC, srv=True, hosts="ip")
    with pytest.raises(
        ConfigurationError, match=r"^resolver= and allowed_networks= have no effect"
    ):
        plan_mongo(SVC, srv=True, lookup_options=True)


def test_a_mongo_plan_by_ip_asks_the_service_with_the_port() -> None:
    plan = plan_mongo("db.prod.svc.cluster.local", allowed_networks=["10.0.0.0/8"])
    assert plan.lookup is not None
    assert (plan.lookup.qname, plan.lookup.port, plan.lookup.srv) == (
        "db.prod.svc.cluster.local.",
        27017,
        False,
    )
    assert [str(n) for n in plan.lookup.networks or ()] == ["10.0.0.0/8"]
    assert plan_mongo(SVC, port=27018).lookup.port == 27018  # type: ignore[union-attr]
    assert plan.uri([Endpoint("10.0.0.1", 27017)]) == "mongodb://10.0.0.1:27017/"


def test_service_name_takes_a_name_object_a_bare_name_with_parts_or_any_form() -> None:
    assert service_name(SVC) is SVC
    assert service_name("db", namespace="prod", cluster_domain="cluster.local") == SVC
    assert service_name("db.prod.svc.cluster.local.") == SVC
    with pytest.raises(
        ConfigurationError,
        match=r"^namespace and cluster_domain cannot be given with a ServiceName; they are part",
    ):
        service_name(SVC, namespace="prod")
    with pytest.raises(ConfigurationError, match=r"^namespace and cluster_domain cannot be given"):
        service_name(SVC, cluster_domain="cluster.local")
    with pytest.raises(
        ConfigurationError, match=r"^'db\.prod' already names a namespace or domain; give the bare"
    ):
        service_name("db.prod", cluster_domain="cluster.local")
    with pytest.raises(ConfigurationError, match=r"^'db\.prod\.' already names a namespace"):
        service_name("db.prod.", namespace="prod")


def test_service_name_decides_by_the_dots_inside_the_name() -> None:
    message = (
        r"^{} already names a namespace or domain; give the bare Service name with "
        r"namespace=/cluster_domain=, or the full name alone$"
    )
    for text in (".db", "db.X", "db.prod."):
        with pytest.raises(ConfigurationError, match=message.format(re.escape(repr(text)))):
            service_name(text, namespace="prod")
    # A trailing dot alone names nothing more: the bare name is checked as a label.
    with pytest.raises(
        InvalidNameError, match=r"^invalid name 'db\.': the Service name 'db\.' has"
    ):
        service_name("db.", namespace="prod")


def test_service_name_passes_the_environment_down() -> None:
    env = PodEnvironment(namespace="team-a", cluster_domain="corp.internal")
    assert service_name("db", environment=env) == ServiceName("db", "team-a", "corp.internal")
    assert service_name("db", namespace="x", environment=env) == ServiceName(
        "db", "x", "corp.internal"
    )
    assert service_name("db.x", environment=env) == ServiceName("db", "x", "corp.internal")


def test_a_dns_name_plan_checks_its_arguments_and_keeps_them() -> None:
    plan = plan_dns_name("Cache.X.", port=80, family="any", allowed_networks=["10.0.0.0/8"])
    assert plan == LookupPlan("cache.x.", False, 80, "any", plan.networks)
    assert [str(n) for n in plan.networks] == ["10.0.0.0/8"]
    assert plan_dns_name("X.", port=None, family="any").qname == "x."
    with pytest.raises(
        ConfigurationError, match=r"^port must be an integer from 1 to 65535, not 0$"
    ):
        plan_dns_name("cache.example", port=0, family="any")
    for bad, name in ((".", "'.'"), (5, "5"), ("", "''")):
        with pytest.raises(InvalidNameError, match="the DNS name must be a non-empty") as info:
            plan_dns_name(bad, port=None, family="any")  # type: ignore[arg-type]
        assert (info.value.name, info.value.reason) == (
            name,
            "the DNS name must be a non-empty string",
        )


def test_with_family_keeps_the_srv_rule() -> None:
    plan = plan_service(SVC, srv="mongodb")
    v6 = plan.with_family("ipv6")
    assert v6 == LookupPlan(
        plan.qname, True, None, "ipv6", (), "prod.svc.cluster.local", plan.service
    )


def test_an_answer_with_no_usable_address_names_the_lookup() -> None:
    builder = ResultBuilder(plan_service(SVC, port=80, family="ipv4"))
    empty = AddressAnswer("db.prod.svc.cluster.local.", (), 5.0, "10.96.0.10:53")
    with pytest.raises(NoEndpointsError, match="no record gave a usable address") as info:
        builder.finish(empty, [])
    assert (info.value.name, info.value.rdtype, info.value.nameserver) == (
        "db.prod.svc.cluster.local.",
        "A",
        "10.96.0.10:53",
    )


def test_a_snapshot_keeps_its_name_ttl_and_server() -> None:
    builder = ResultBuilder(plan_service(SVC, port=80))
    first = AddressAnswer("db.prod.svc.cluster.local.", ("10.0.0.1",), 5.0, "a:53")
    assert builder.reused(first) is None
    snapshot = builder.finish(first, builder.parts(first))
    assert (snapshot.name, snapshot.ttl, snapshot.nameserver) == (first.name, 5.0, "a:53")
    again = AddressAnswer(first.name, ("10.0.0.1",), 2.0, "b:53")
    reused = builder.reused(again)
    assert reused is not None
    assert (reused.name, reused.ttl, reused.nameserver) == (first.name, 2.0, "b:53")


def test_a_mongo_plan_passes_namespace_and_cluster_domain_down() -> None:
    srv = plan_mongo("db", namespace="prod", cluster_domain="example.internal", srv=True)
    assert srv.uri(()) == "mongodb+srv://db.prod.svc.example.internal/"
    seeds = plan_mongo("db", namespace="prod", cluster_domain="example.internal")
    assert seeds.lookup is not None
    assert seeds.lookup.qname == "db.prod.svc.example.internal."
    with pytest.raises(
        ConfigurationError,
        match=r"^resolver= and allowed_networks= have no effect with srv=True: the driver "
        r"looks up the SRV records itself$",
    ):
        plan_mongo(SVC, srv=True, lookup_options=True)


def test_a_complete_name_is_planned_once_per_port_and_family() -> None:
    name = "planned.prod.svc.cluster.local."
    first = plan_service(name, port=80)
    assert plan_service(name, port=80) is first
    assert plan_service(name, port=81) == replace(first, port=81)
    assert plan_service(name, port=80, family="ipv4").family == "ipv4"
    assert plan_service(name, port=80) is first
    # Arguments outside the key are planned every time, and checked every time.
    assert plan_service(name, port=80, allowed_networks=["10.0.0.0/8"]) is not first
    with pytest.raises(ConfigurationError, match=r"^port must be an integer from 1 to 65535"):
        plan_service(name, port=0)
    with pytest.raises(ConfigurationError, match=r"^port must be an integer from 1 to 65535"):
        plan_service(name, port=True)  # equal to 1 as a key: must never hit the cache
    with pytest.raises(ConfigurationError, match=r"^family must be 'any', 'ipv4' or 'ipv6'"):
        plan_service(name, port=80, family="IPV4")  # type: ignore[arg-type]


def test_a_name_completed_by_the_environment_is_planned_every_time() -> None:
    ns = PodEnvironment(namespace="team-a", cluster_domain="cluster.local")
    other = PodEnvironment(namespace="team-b", cluster_domain="corp.internal")
    assert plan_service("planned", environment=ns).qname == "planned.team-a.svc.cluster.local."
    assert plan_service("planned", environment=other).qname == "planned.team-b.svc.corp.internal."


def test_the_plans_kept_are_bounded() -> None:
    from headless_discovery import plan

    for i in range(plan._PLANS_MAX + 5):
        plan_service(f"db{i}.prod.svc.cluster.local", port=27017)
    assert 0 < len(plan._PLANS) <= plan._PLANS_MAX
    assert plan_service("db0.prod.svc.cluster.local", port=27017).qname.startswith("db0.")
