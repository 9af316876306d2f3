"""MockupDB replica sets that pymongo discovers like real ones: on loopback and inside a pod."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pymongo
import pymongo.errors
import pytest

from tests.harness.cluster import Cluster
from tests.harness.fixtures import PodFactory, ReplicaSetFactory
from tests.harness.mongo import READY
from tests.harness.pod import REPO_ROOT

# Port 0: each member binds a free port, so that runs in parallel do not collide on 27017.
LOOPBACK_MEMBERS = [("127.0.0.1", 0), ("127.0.0.2", 0), ("127.0.0.3", 0)]

PING = textwrap.dedent(
    """
    import sys, pymongo
    client = pymongo.MongoClient(sys.argv[1], serverSelectionTimeoutMS=5000)
    try:
        print(client.admin.command("ping")["ok"], "%s:%d" % client.primary)
    finally:
        client.close()
    """
)


def test_pymongo_finds_the_primary_on_loopback(replica_set: ReplicaSetFactory) -> None:
    rs = replica_set(LOOPBACK_MEMBERS)

    assert rs.uri.startswith("mongodb://127.0.0.1:")
    assert rs.uri.endswith("/?replicaSet=rs0")
    client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(
        rs.uri, serverSelectionTimeoutMS=5000
    )
    try:
        assert client.admin.command("ping")["ok"] == 1
        assert client.primary is not None
        assert f"{client.primary[0]}:{client.primary[1]}" == rs.hosts[0]
        client.db.things.insert_one({"ok": True})
    finally:
        client.close()


def test_hello_reply_is_a_replica_set_members(replica_set: ReplicaSetFactory) -> None:
    rs = replica_set(LOOPBACK_MEMBERS, set_name="data", primary_index=1)
    primary, secondary = rs.hello(1), rs.hello(0)

    assert primary["isWritablePrimary"] is True
    assert secondary["isWritablePrimary"] is False
    assert secondary["secondary"] is True
    assert primary["primary"] == secondary["primary"] == rs.hosts[1]
    assert primary["me"] == rs.hosts[1]
    assert primary["hosts"] == rs.hosts
    assert primary["setName"] == "data"
    assert primary["maxWireVersion"] == 21
    assert "electionId" in primary
    assert "electionId" not in secondary
    assert "topologyVersion" not in primary


def test_without_a_primary_pymongo_finds_none(replica_set: ReplicaSetFactory) -> None:
    rs = replica_set(LOOPBACK_MEMBERS[:2], primary_index=None)

    client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(
        rs.uri, serverSelectionTimeoutMS=300
    )
    try:
        with pytest.raises(pymongo.errors.ServerSelectionTimeoutError):
            client.admin.command("ping")
    finally:
        client.close()


def test_module_entry_point_serves_until_sigterm() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.harness.mongo", "--member", "127.0.0.4:0"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        word, uri = process.stdout.readline().split()
        assert word == READY
        ping = subprocess.run(
            [sys.executable, "-c", PING, uri], capture_output=True, text=True, check=False
        )
        assert ping.returncode == 0, ping.stderr
        assert ping.stdout.startswith("1 127.0.0.4:")
        process.terminate()
        assert process.wait(5) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


@pytest.mark.pod
def test_members_advertising_pod_hostnames_inside_a_pod(pod: PodFactory) -> None:
    cluster = Cluster()
    mongo = cluster.statefulset("mongodb", "db", 3)
    mongo.txt.append("replicaSet=rs0&authSource=admin")
    p = pod(cluster, "db")
    rs = p.replica_set(mongo)

    assert rs.hosts[0] == "mongodb-0.mongodb.db.svc.cluster.local:27017"
    result = p.run_python(PING.replace("sys.argv[1]", repr(rs.uri)))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "1 mongodb-0.mongodb.db.svc.cluster.local:27017\n"

    # The SRV and TXT records lead pymongo to the same members; tls=false: MockupDB has no TLS.
    srv = "mongodb+srv://mongodb.db.svc.cluster.local/?tls=false"
    result = p.run_python(PING.replace("sys.argv[1]", repr(srv)))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "1 mongodb-0.mongodb.db.svc.cluster.local:27017\n"
    assert p.bind.queries("_mongodb._tcp.mongodb.db.svc.cluster.local", "SRV")


@pytest.mark.pod
def test_members_advertising_ips_inside_a_pod(pod: PodFactory) -> None:
    cluster = Cluster()
    mongo = cluster.statefulset("mongodb", "db", 2)
    p = pod(cluster, "db")
    rs = p.replica_set(mongo, advertise="ip", primary_index=1)

    assert rs.uri == "mongodb://10.244.0.10:27017,10.244.0.11:27017/?replicaSet=rs0"
    result = p.run_python(PING.replace("sys.argv[1]", repr(rs.uri)))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "1 10.244.0.11:27017\n"
    rs.stop()
    assert rs.process.returncode == 0
