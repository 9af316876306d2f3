"""End to end from inside a "pod": the pod's resolv.conf, search list and ndots:5, a real
BIND as cluster DNS, and a MockupDB replica set driven by the real pymongo client.

Every test runs its code in the pod with ``run_python``, which prints one JSON document.
"""

from __future__ import annotations

import json
import textwrap
from typing import Any

import pytest

from tests.harness.cluster import Cluster, Service
from tests.harness.fixtures import PodFactory
from tests.harness.pod import PodNamespace

pytestmark = pytest.mark.pod


def run(p: PodNamespace, code: str, **env: str) -> Any:
    """Run ``code`` in the pod; it must print one JSON value as its last line."""
    result = p.run_python(textwrap.dedent(code), env=env or None, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def mongo_cluster(domain: str = "cluster.local") -> tuple[Cluster, Service]:
    cluster = Cluster(domain)
    mongo = cluster.statefulset("mongodb-headless", "infrastructure", 3, prefix="mongodb")
    return cluster, mongo


RESOLVE_ALL_FORMS = """
import json
from headless_discovery import DnsResolver, SystemResolver, resolve
out = {}
for label, resolver in (("system", SystemResolver()), ("dns", DnsResolver())):
    for name in ("mongodb-headless", "mongodb-headless.infrastructure", "%s"):
        found = resolve(name, port=27017, resolver=resolver)
        out[label + " " + name] = [ep.netloc() for ep in found]
searching = DnsResolver(search=True)
answer = searching.resolve_addresses("mongodb-headless.infrastructure")
out["search svc.ns"] = sorted(answer.addresses)
print(json.dumps(out))
"""


def test_every_name_form_gives_the_same_endpoints_with_both_resolvers(pod: PodFactory) -> None:
    cluster, mongo = mongo_cluster()
    fqdn = cluster.service_fqdn(mongo).rstrip(".")
    expected = [f"{p.ipv4}:27017" for p in mongo.pods]
    with pod(cluster, "infrastructure") as p:
        out = run(p, RESOLVE_ALL_FORMS % fqdn)
    for label, endpoints in out.items():
        if label.startswith("search"):
            assert endpoints == sorted(str(pd.ipv4) for pd in mongo.pods)
        else:
            assert endpoints == expected, label


def test_the_fqdn_costs_one_query_the_search_list_costs_more(pod: PodFactory) -> None:
    cluster, mongo = mongo_cluster()
    fqdn = cluster.service_fqdn(mongo).rstrip(".")
    with pod(cluster, "other-ns") as p:
        p.bind.clear_queries()
        run(
            p,
            f"""
            import json
            from headless_discovery import DnsResolver, resolve
            resolve("{fqdn}", family="ipv4", resolver=DnsResolver())
            print(json.dumps(1))
        """,
        )
        ours = [q for q in p.bind.wait_for_queries(1) if q.rdtype == "A"]
        p.bind.clear_queries()
        run(
            p,
            """
            import json
            from headless_discovery import DnsResolver
            resolver = DnsResolver(search=True)
            resolver.resolve_addresses("mongodb-headless.infrastructure", family="ipv4")
            print(json.dumps(1))
        """,
        )
        walked = [q for q in p.bind.wait_for_queries(3) if q.rdtype == "A"]
    assert [q.name for q in ours] == [fqdn]
    # ndots:5 tries the search suffixes first: other-ns.svc..., then svc... (found).
    assert len(walked) >= 2
    assert walked[0].name == f"mongodb-headless.infrastructure.other-ns.svc.{cluster.domain}"


PYMONGO_PING = """
import json
from pymongo import MongoClient
from headless_discovery import mongo_uri
uri = %s
client = MongoClient(uri, serverSelectionTimeoutMS=10000)
try:
    ok = client.admin.command("ping")["ok"]
    primary = "%%s:%%s" %% client.primary
finally:
    client.close()
print(json.dumps({"uri": uri, "ok": ok, "primary": primary}))
"""


@pytest.mark.parametrize(
    ("hosts", "advertise"), [("ip", "ip"), ("hostname", "hostname"), ("ip", "hostname")]
)
def test_pymongo_finds_the_primary_from_our_uri(
    pod: PodFactory, hosts: str, advertise: str
) -> None:
    cluster, mongo = mongo_cluster()
    with pod(cluster, "infrastructure") as p:
        rs = p.replica_set(mongo, advertise=advertise)  # type: ignore[arg-type]
        call = f'mongo_uri("mongodb-headless", replica_set="rs0", hosts="{hosts}")'
        out = run(p, PYMONGO_PING % call)
        rs.stop()
    assert out["ok"] == 1
    assert out["primary"] == rs.hosts[0]
    seeds = out["uri"].removeprefix("mongodb://").split("/")[0].split(",")
    if hosts == "ip":
        assert seeds == [f"{pd.ipv4}:27017" for pd in mongo.pods]
    else:
        assert seeds == rs.hosts


def test_mongodb_srv_through_pymongos_own_srv_logic(pod: PodFactory) -> None:
    cluster, mongo = mongo_cluster()
    mongo.txt.append("replicaSet=rs0")
    with pod(cluster, "infrastructure") as p:
        rs = p.replica_set(mongo)
        call = 'mongo_uri("mongodb-headless", srv=True, options={"tls": False})'
        out = run(p, PYMONGO_PING % call)
        rs.stop()
    assert out["uri"] == (
        "mongodb+srv://mongodb-headless.infrastructure.svc.cluster.local/?tls=false"
    )
    assert out["ok"] == 1
    assert out["primary"] == rs.hosts[0]


SCALE = """
import json
from headless_discovery import NoEndpointsError, mongo_uri
try:
    print(json.dumps(mongo_uri("mongodb-headless", replica_set="rs0")))
except NoEndpointsError as exc:
    print(json.dumps({"error": type(exc).__name__, "message": str(exc)}))
"""


def test_scaling_the_statefulset_is_seen_by_a_fresh_uri(pod: PodFactory) -> None:
    cluster, mongo = mongo_cluster()
    with pod(cluster, "infrastructure") as p:
        assert run(p, SCALE).count(":27017") == 3
        cluster.scale(mongo, 5)
        p.sync()
        assert run(p, SCALE).count(":27017") == 5
        cluster.scale(mongo, 0)
        p.sync()
        out = run(p, SCALE)
    assert out["error"] == "ServiceNotFoundError"
    assert "none of its pods is ready" in out["message"]


BIG = """
import json
from headless_discovery import DnsResolver, SystemResolver, resolve
dns = resolve("big", family="ipv4", resolver=DnsResolver())
system = resolve("big", family="ipv4", resolver=SystemResolver())
print(json.dumps({"dns": len(dns), "system": len(system)}))
"""


def test_three_hundred_pods(pod: PodFactory) -> None:
    cluster = Cluster()
    cluster.statefulset("big", "load", 300, ports={"http": 8080})
    with pod(cluster, "load") as p:
        out = run(p, BIG)
    assert out["dns"] == 300
    # glibc retries over TCP after truncation too; recorded in docs/explanation.
    assert out["system"] == 300


def test_a_custom_cluster_domain_is_detected_from_resolv_conf(pod: PodFactory) -> None:
    cluster, mongo = mongo_cluster("corp.internal")
    with pod(cluster, "infrastructure", service_account=True) as p:
        out = run(
            p,
            """
            import json
            from headless_discovery import PodEnvironment, ServiceName, resolve
            env = PodEnvironment.detect()
            svc = ServiceName("mongodb-headless")
            print(json.dumps({"domain": env.cluster_domain, "namespace": env.namespace,
                              "fqdn": svc.fqdn,
                              "endpoints": [ep.address for ep in resolve(svc, family="ipv4")]}))
        """,
        )
    assert out["domain"] == "corp.internal"
    assert out["namespace"] == "infrastructure"
    assert out["fqdn"] == "mongodb-headless.infrastructure.svc.corp.internal"
    assert out["endpoints"] == [str(pd.ipv4) for pd in mongo.pods]


SRV_CLIENT_ERRORS = """
import json
from headless_discovery import ResolutionError, mongo_client
out = {}
for name in ("mongodb-headless", "no-such-service"):
    try:
        mongo_client(name, srv=True, options={"tls": False}, serverSelectionTimeoutMS=500)
        out[name] = "ok"
    except ResolutionError as exc:
        out[name] = [type(exc).__name__, exc.name, exc.rdtype, str(exc)]
print(json.dumps(out))
"""


def test_the_drivers_own_srv_lookup_fails_with_our_resolution_error(pod: PodFactory) -> None:
    # pymongo resolves mongodb+srv itself and reports NXDOMAIN as its ConfigurationError;
    # the client helper turns it into ours, naming the SRV name and what it means.
    cluster, _ = mongo_cluster()
    with pod(cluster, "infrastructure") as p:
        out = run(p, SRV_CLIENT_ERRORS)
    assert out["mongodb-headless"] == "ok"
    kind, name, rdtype, text = out["no-such-service"]
    assert kind == "ServiceNotFoundError"
    assert name == "_mongodb._tcp.no-such-service.infrastructure.svc.cluster.local"
    assert rdtype == "SRV"
    assert "NXDOMAIN" in text
    assert "no port named 'mongodb'" in text
