"""``doctor --mongo`` against pymongo's own SRV resolution, both asking the same real BIND.

For generated record sets at a Service name (SRV targets inside and outside the parent domain,
zero, one or two TXT records, options pymongo takes from DNS or not, malformed pairs), doctor's
``mongodb+srv`` verdict (a ``fail`` among its TXT and target checks, or not) equals whether
``pymongo.uri_parser.parse_uri`` of ``mongodb+srv://<service>/?tls=false`` succeeds, and the
finding that fails quotes pymongo's reason. pymongo is pointed at BIND by configuring
dnspython's default resolver inside the test (pymongo's ``srv_resolver`` asks it), which
needs neither root nor a pod namespace.
"""

from __future__ import annotations

from collections.abc import Iterator

import dns.name
import dns.rdataset
import dns.resolver
import dns.update
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymongo.errors import ConfigurationError as PyMongoConfigurationError
from pymongo.uri_parser import parse_uri

from headless_discovery import DnsResolver, PodEnvironment, ServiceName
from headless_discovery.doctor import Report, diagnose, gather
from tests.harness.bind import BindServer
from tests.harness.cluster import Cluster, Service
from tests.harness.requirements import require_named

pytestmark = pytest.mark.dns

SVC = ServiceName("mongodb", "db", "cluster.local")
SRV_NAME = f"_mongodb._tcp.{SVC.fqdn}."
INSIDE = [f"mongodb-{i}.{SVC.fqdn}." for i in range(3)]
# Outside the parent domain db.svc.cluster.local: another namespace, and the cluster zone.
OUTSIDE = ["mongodb-0.mongodb.other.svc.cluster.local.", "mongodb-0.cluster.local."]
MONGO_SRV_CHECKS = ("mongodb-srv-txt", "mongodb-srv-targets")

# Reasons pymongo gives, and the words of the finding that must carry the same cause.
CAUSES = {
    "Only one TXT record is supported": "Only one TXT record is supported",
    "MongoDB URI options are key=value pairs": "MongoDB URI options are key=value pairs",
    "Can not mix '&' and ';' for option separators": "Can not mix '&' and ';'",
    "Only authSource, replicaSet, and loadBalanced are supported from DNS": (
        "pymongo accepts only authSource, replicaSet and loadBalanced"
    ),
    "Invalid SRV host": "outside",
}


@pytest.fixture(scope="module")
def bind() -> Iterator[BindServer]:
    require_named()
    cluster = Cluster()
    cluster.statefulset("mongodb", "db", 3)
    cluster.add(Service("mongodb", "other"))
    with BindServer(cluster) as server:
        yield server


@pytest.fixture
def pymongo_asks(bind: BindServer) -> Iterator[None]:
    """dnspython's default resolver, the one pymongo's srv_resolver uses, asks the test BIND."""
    saved = dns.resolver.default_resolver
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [bind.nameserver]
    resolver.port = bind.port
    resolver.lifetime = 5.0
    dns.resolver.default_resolver = resolver
    try:
        yield
    finally:
        dns.resolver.default_resolver = saved


def _serve(bind: BindServer, targets: list[str], txt: list[str]) -> None:
    bind.cluster.service("mongodb", "db").txt = txt
    bind.sync()
    # The model writes only targets inside the Service; the generated set replaces them.
    update = dns.update.UpdateMessage("cluster.local.")
    update.replace(
        SRV_NAME,
        dns.rdataset.from_text_list("IN", "SRV", 5, [f"0 33 27017 {target}" for target in targets]),
    )
    bind._send_update("cluster.local.", update)


def _doctor(bind: BindServer) -> Report:
    observations = gather(
        SVC,
        resolver=DnsResolver([bind.nameserver], bind.port),
        environment=PodEnvironment(),
        namespace_source="the name",
        cluster_domain_source="the name",
        source=f"nameserver {bind.nameserver}:{bind.port}",
        mongo=True,
    )
    return diagnose(observations)


def _pymongo() -> str | None:
    try:
        parse_uri(f"mongodb+srv://{SVC.fqdn}/?tls=false")
    except PyMongoConfigurationError as exc:
        return str(exc)
    return None


pair = st.sampled_from(
    ["authSource=admin", "replicaSet=rs0", "loadBalanced=false", "tls=false", "maxPoolSize=5"]
)
malformed = st.sampled_from(["authSource", "replicaSet=rs0=x", ""])
record = st.lists(pair | malformed, min_size=1, max_size=3, unique=True).flatmap(
    lambda items: st.sampled_from(["&", ";"]).map(lambda sep: sep.join(items))
) | st.sampled_from(["authSource=admin&replicaSet=rs0;loadBalanced=false", "authSource"])
record_sets = st.lists(record, max_size=2)
target_sets = st.lists(st.sampled_from(INSIDE + OUTSIDE), min_size=1, max_size=3, unique=True)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(target_sets, record_sets)
def test_doctor_says_what_pymongo_does(
    bind: BindServer, pymongo_asks: None, targets: list[str], txt: list[str]
) -> None:
    _serve(bind, targets, txt)
    refused = _pymongo()
    report = _doctor(bind)
    failed = [f for f in report.findings if f.id in MONGO_SRV_CHECKS and f.verdict == "fail"]
    if refused is None:
        assert not failed, (targets, txt, failed)
        return
    assert failed, (targets, txt, refused)
    (cause,) = [words for reason, words in CAUSES.items() if refused.startswith(reason)]
    assert any(cause in f.detail for f in failed), (refused, [f.detail for f in failed])
