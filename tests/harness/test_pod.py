"""A "pod" network namespace resolves like a pod in a cluster (needs root and ``named``)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import textwrap

import dns.message
import dns.query
import dns.resolver
import pytest

from tests.harness import netns
from tests.harness.bind import BindError, Query
from tests.harness.cluster import Cluster
from tests.harness.fixtures import PodFactory
from tests.harness.pod import PodNamespace
from tests.harness.requirements import require_named, require_root

pytestmark = pytest.mark.pod


SVC = "mongodb.db.svc.cluster.local"

GETADDRINFO = textwrap.dedent(
    """
    import json, socket, sys
    infos = socket.getaddrinfo(sys.argv[1], 27017, socket.AF_INET, socket.SOCK_STREAM)
    print(json.dumps(sorted({info[4][0] for info in infos})))
    """
)


def getaddrinfo(p: PodNamespace, name: str) -> list[str]:
    """``socket.getaddrinfo(name)`` in a fresh interpreter inside the pod (libc, resolv.conf)."""
    code = f"import sys; sys.argv[1:] = [{name!r}]\n{GETADDRINFO}"
    result = p.run_python(code)
    assert result.returncode == 0, result.stderr
    addresses: list[str] = json.loads(result.stdout)
    return addresses


def resolve_in(p: PodNamespace, name: str, rdtype: str = "A") -> list[str]:
    """dnspython against the pod's nameserver, run in-process on a thread inside the pod."""

    def resolve() -> list[str]:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [p.nameserver]
        return sorted(rdata.to_text() for rdata in resolver.resolve(name, rdtype))

    return p.call(resolve)


def test_resolv_conf_and_service_account_are_a_pods(pod: PodFactory) -> None:
    cluster = Cluster("corp.example")
    p = pod(cluster, "db", service_account=True, pod_namespace_env=True)

    result = p.run_python(
        "import os; print(open('/etc/resolv.conf').read(), end=''); "
        "print(os.environ['POD_NAMESPACE'])"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "nameserver 10.96.0.10\n"
        "search db.svc.corp.example svc.corp.example corp.example\n"
        "options ndots:5\n"
        "db\n"
    )
    assert p.service_account_dir is not None
    assert (p.service_account_dir / "namespace").read_text() == "db"


def test_getaddrinfo_resolves_through_the_search_list(pod: PodFactory) -> None:
    cluster = Cluster()
    cluster.statefulset("mongodb", "db", 3)
    p = pod(cluster, "db")
    expected = ["10.244.0.10", "10.244.0.11", "10.244.0.12"]

    p.bind.clear_queries()
    assert getaddrinfo(p, "mongodb.db") == expected
    # ndots:5: the first search suffix is tried first, and misses.
    assert [q.name for q in p.bind.queries(rdtype="A")] == [
        "mongodb.db.db.svc.cluster.local",
        SVC,
    ]
    assert getaddrinfo(p, "mongodb") == expected

    p.bind.clear_queries()
    assert getaddrinfo(p, SVC + ".") == expected
    assert p.bind.queries(rdtype="A") == [Query(SVC, "A", "udp")]


def test_sync_adds_pod_addresses_and_records(pod: PodFactory) -> None:
    cluster = Cluster()
    mongo = cluster.statefulset("mongodb", "db", 3)
    p = pod(cluster, "db")

    cluster.scale(mongo, 5)
    p.sync()
    assert len(resolve_in(p, SVC)) == 5
    # BindServer.query reaches the server inside the namespace too.
    assert len(p.bind.query(SVC, "A").answer[0]) == 5

    def bind_pod_ip() -> str:
        with socket.socket() as server:
            server.bind(("10.244.0.14", 27017))
            return str(server.getsockname()[0])

    # The new pod's address exists in the pod namespace, and only there.
    assert p.call(bind_pod_ip) == "10.244.0.14"
    with pytest.raises(OSError, match="Cannot assign requested address"):
        bind_pod_ip()

    cluster.scale(mongo, 0)
    p.sync()
    with pytest.raises(dns.resolver.NXDOMAIN):
        resolve_in(p, SVC)


def test_everything_is_removed_on_exit_even_after_a_failure() -> None:
    cluster = Cluster()
    cluster.statefulset("mongodb", "db", 1)
    require_root()
    require_named()
    p = PodNamespace(cluster, "db")

    started: list[subprocess.Popen[str] | subprocess.Popen[bytes] | None] = []

    def failing_test() -> None:
        with p:
            started.append(p.spawn_python("import time; time.sleep(60)"))
            started.append(p.bind._process)
            raise RuntimeError("test failed")

    with pytest.raises(RuntimeError, match="test failed"):
        failing_test()

    sleeper, named = started
    assert sleeper is not None
    assert sleeper.returncode is not None
    assert named is not None
    assert named.returncode is not None
    assert p.name not in netns.list_namespaces()
    assert not (netns.NETNS_ETC_DIR / p.name).exists()
    assert p.directory is None
    p.close()  # Idempotent.


def test_spawned_process_runs_in_the_pod(pod: PodFactory) -> None:
    cluster = Cluster()
    cluster.statefulset("mongodb", "db", 1)
    p = pod(cluster, "db")

    process = p.spawn_python(
        "import socket; s = socket.create_server(('10.244.0.10', 8080)); print('up', flush=True);"
        " s.accept()[0].close()"
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "up\n"
    p.call(lambda: socket.create_connection(("10.244.0.10", 8080), timeout=2).close())
    assert process.wait(5) == 0


def test_run_python_reports_failures_and_timeouts(pod: PodFactory) -> None:
    p = pod(Cluster())

    result = p.run_python("import sys; sys.exit('no luck')")
    assert result.returncode == 1
    assert result.stderr == "no luck\n"
    with pytest.raises(subprocess.TimeoutExpired):
        p.run_python("import time; time.sleep(5)", timeout=0.3)
    result = p.run_python("import os; print(os.environ['EXTRA'])", env={"EXTRA": "yes"})
    assert result.stdout == "yes\n"
    assert os.environ.get("EXTRA") is None


def test_dns_down_and_back_in_the_pod(pod: PodFactory) -> None:
    cluster = Cluster()
    mongo = cluster.statefulset("mongodb", "db", 1)
    p = pod(cluster, "db")

    p.bind.stop()
    query = dns.message.make_query(SVC, "A")
    with pytest.raises(ConnectionRefusedError):
        p.call(dns.query.tcp, query, p.nameserver, timeout=1)
    with pytest.raises(BindError, match="not running"):
        p.bind.query(SVC, "A")
    cluster.scale(mongo, 2)
    p.bind.start()
    assert p.bind.port == 53
    assert len(resolve_in(p, SVC)) == 2
