"""The command line inside a "pod": its resolv.conf, search list, ndots, libc and cluster DNS.

Each test runs ``python -m headless_discovery`` in a network namespace made like a pod (see
``tests/harness/pod.py``), with no ``--nameserver``: what an operator gets from
``kubectl exec``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.cli import schema
from tests.harness import netns
from tests.harness.cluster import Cluster
from tests.harness.fixtures import PodFactory
from tests.harness.pod import PodNamespace

pytestmark = pytest.mark.pod


def run(p: PodNamespace, *argv: str) -> tuple[int, str, str]:
    """The command line in the pod: exit status, stdout, stderr."""
    code = f"import sys; from headless_discovery.cli import main; sys.exit(main({list(argv)!r}))"
    result = p.run_python(code)
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, result.stdout, result.stderr


def doctor(p: PodNamespace, *argv: str, code: int = 0) -> dict[str, dict[str, Any]]:
    status, out, err = run(p, "doctor", *argv, "--json")
    assert status == code, (status, out, err)
    data = json.loads(out)
    schema.check(data, schema.DOCTOR)
    return {c["id"]: c for c in data["checks"]}


def mongo_cluster(domain: str = "cluster.local") -> Cluster:
    cluster = Cluster(domain)
    cluster.statefulset("mongodb", "db", 3)
    return cluster


def test_doctor_in_a_pod_sees_what_the_pod_sees(pod: PodFactory) -> None:
    p = pod(mongo_cluster(), "db", pod_namespace_env=True)
    found = doctor(p, "mongodb", "--mongo")
    where = found["where-am-i"]
    assert where["verdict"] == "ok"
    assert where["detail"].startswith(
        "in a pod (namespace db from POD_NAMESPACE, cluster domain cluster.local from the "
        "search list); using namespace 'db' (POD_NAMESPACE) and cluster domain "
        "'cluster.local' (resolv.conf search list); resolv.conf: nameservers 10.96.0.10; "
        "search db.svc.cluster.local svc.cluster.local cluster.local; ndots 5"
    )
    assert "up to 4 queries per record type" in where["detail"]
    assert found["service-resolves"]["verdict"] == "ok"
    assert "answered by 10.96.0.10:53" in found["service-resolves"]["detail"]
    assert found["udp-truncation"]["verdict"] == "ok"
    assert found["libc-complete"]["verdict"] == "ok"
    assert found["libc-complete"]["detail"] == (
        "getaddrinfo('mongodb.db.svc.cluster.local') returns the same 3 addresses as DNS over TCP"
    )
    assert found["mongodb-seeding"]["verdict"] == "ok"

    status, out, _ = run(p, "doctor", "mongodb")
    assert status == 0
    assert "[ok]   libc sees every pod  [libc-complete]" in out


def test_a_large_service_is_truncated_over_udp_but_complete_over_tcp(pod: PodFactory) -> None:
    cluster = Cluster()
    cluster.statefulset("big", "load", 300, ports={"http": 8080}, subnet="10.245.0.0/16")
    p = pod(cluster, "load")
    found = doctor(p, "big")
    assert found["udp-truncation"]["verdict"] == "warn"
    assert "of the 300 A records" in found["udp-truncation"]["detail"]
    # glibc retries over TCP: it sees all 300, as dnspython does.
    assert found["libc-complete"]["verdict"] == "ok"
    assert "same 300 addresses" in found["libc-complete"]["detail"]


def test_libc_shadowed_by_etc_hosts(pod: PodFactory) -> None:
    p = pod(mongo_cluster(), "db")
    # ip netns exec bind-mounts /etc/netns/<name>/hosts over /etc/hosts: nsswitch reads
    # files before dns, so getaddrinfo returns the hosts entry alone.
    (netns.NETNS_ETC_DIR / p.name / "hosts").write_text(
        "127.0.0.1 localhost\n10.244.0.10 mongodb.db.svc.cluster.local\n"
    )
    found = doctor(p, "mongodb", code=6)
    libc = found["libc-complete"]
    assert libc["verdict"] == "fail"
    assert libc["detail"] == (
        "getaddrinfo('mongodb.db.svc.cluster.local') returns 1 addresses, DNS over TCP 3: "
        "missing 10.244.0.11, 10.244.0.12"
    )


def test_wrong_namespace(pod: PodFactory) -> None:
    p = pod(mongo_cluster(), "shop", pod_namespace_env=True)
    status, out, _ = run(p, "doctor", "mongodb", "--try-namespace", "db")
    assert status == 6
    assert "[FAIL] The Service name resolves  [service-resolves]" in out
    assert "fix: the Service exists in namespace db: pass -n db;" in out
    assert "see: docs/explanation/troubleshooting.md#nxdomain" in out
    status, _, err = run(p, "resolve", "mongodb")
    assert status == 3
    assert "there is no Service 'mongodb' in namespace 'shop'" in err


def test_custom_cluster_domain_comes_from_the_search_list(pod: PodFactory) -> None:
    p = pod(mongo_cluster("corp.example"), "db", pod_namespace_env=True)
    status, out, _ = run(p, "resolve", "mongodb", "--json")
    assert status == 0
    assert json.loads(out)["name"] == "mongodb.db.svc.corp.example."
    found = doctor(p, "mongodb", "--cluster-domain", "cluster.local", code=6)
    assert found["where-am-i"]["verdict"] == "warn"
    assert found["where-am-i"]["docs"].endswith("#custom-cluster-domain")
    assert found["service-resolves"]["verdict"] == "fail"


def test_name_and_resolve_without_any_option(pod: PodFactory) -> None:
    p = pod(mongo_cluster(), "db")  # no POD_NAMESPACE: the namespace comes from the search list
    status, out, _ = run(p, "name", "mongodb", "--json")
    assert status == 0
    data = json.loads(out)
    schema.check(data, schema.NAME)
    assert (data["namespace"], data["namespace_source"]) == ("db", "resolv.conf search list")
    assert data["cluster_domain_source"] == "resolv.conf search list"
    status, out, _ = run(p, "resolve", "mongodb", "--srv", "mongodb")
    assert status == 0
    assert "answered by 10.96.0.10:53" in out
    # The real entry point, as `kubectl exec ... -- python -m headless_discovery` runs it.
    result = p.run_python(
        "import runpy, sys; sys.argv = ['headless-discovery', 'pick', 'mongodb', '--port', "
        "'27017', '--strategy', 'pick_first']; runpy.run_module('headless_discovery', "
        "run_name='__main__')"
    )
    assert (result.returncode, result.stdout) == (0, "10.244.0.10:27017\n"), result.stderr
