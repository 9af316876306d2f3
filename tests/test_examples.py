"""Every example in examples/ runs here: manifests are checked, applications really connect.

The applications run as subprocesses, the way a container runs them, against a zone file whose
A records point at a MockupDB replica set on loopback (127.0.0.11-13, one shared port): the
same seed list a headless Service gives, with no cluster and no MongoDB server.
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.harness import fixtures
from tests.harness.fixtures import ReplicaSetFactory
from tests.support.members import MEMBER_ADDRESSES, start_on_one_port, zone_file

# The harness fixture this module uses; the root conftest imports no harness.
replica_set = fixtures.replica_set

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
APPS = ["sync_app.py", "async_app.py"]
Manifest = dict[str, Any]


def manifests(name: str) -> list[Manifest]:
    with (EXAMPLES / "kubernetes" / name).open() as f:
        docs = [doc for doc in yaml.safe_load_all(f) if doc is not None]
    for doc in docs:
        assert {"apiVersion", "kind", "metadata"} <= doc.keys(), doc
        assert doc["metadata"].get("name"), doc
    return docs


def one(docs: list[Manifest], kind: str) -> Manifest:
    found = [doc for doc in docs if doc["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def containers(workload: Manifest) -> list[Manifest]:
    spec = workload["spec"]["template"]["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


def env_of(container: Manifest) -> dict[str, Manifest]:
    return {var["name"]: var for var in container.get("env", [])}


def check_workload(docs: list[Manifest], workload: Manifest) -> None:
    """Labels, namespaces and every Secret reference of a Deployment or StatefulSet."""
    namespace = one(docs, "Namespace")["metadata"]["name"]
    for doc in docs:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == namespace, doc["metadata"]
    labels = workload["spec"]["template"]["metadata"]["labels"]
    assert workload["spec"]["selector"]["matchLabels"].items() <= labels.items()
    secrets = {
        doc["metadata"]["name"]: doc["stringData"] for doc in docs if doc["kind"] == "Secret"
    }
    for container in containers(workload):
        for var in container.get("env", []):
            ref = var.get("valueFrom", {}).get("secretKeyRef")
            if ref is not None:
                assert ref["key"] in secrets[ref["name"]], ref
    for volume in workload["spec"]["template"]["spec"].get("volumes", []):
        if "secret" in volume:
            keys = secrets[volume["secret"]["secretName"]]
            assert all(item["key"] in keys for item in volume["secret"].get("items", []))
    mounts = {v["name"] for c in containers(workload) for v in c.get("volumeMounts", [])}
    claims = {t["metadata"]["name"] for t in workload["spec"].get("volumeClaimTemplates", [])}
    volumes = {v["name"] for v in workload["spec"]["template"]["spec"].get("volumes", [])}
    assert mounts <= volumes | claims


def test_the_mongodb_manifest_is_a_statefulset_behind_a_headless_service() -> None:
    docs = manifests("mongodb.yaml")
    assert sorted(doc["kind"] for doc in docs) == ["Namespace", "Secret", "Service", "StatefulSet"]
    service, statefulset = one(docs, "Service"), one(docs, "StatefulSet")
    check_workload(docs, statefulset)

    spec = service["spec"]
    assert spec["clusterIP"] == "None"  # the string "None": that is what makes it headless
    assert spec["publishNotReadyAddresses"] is True
    assert spec["ports"] == [
        {"name": "mongodb", "port": 27017, "targetPort": "mongodb", "protocol": "TCP"}
    ]
    pod_labels = statefulset["spec"]["template"]["metadata"]["labels"]
    assert spec["selector"].items() <= pod_labels.items()
    assert statefulset["spec"]["serviceName"] == service["metadata"]["name"]
    mongod = statefulset["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "mongodb", "containerPort": 27017, "protocol": "TCP"} in mongod["ports"]
    assert mongod["args"][:2] == ["--replSet", "rs0"]


def test_the_app_manifest_finds_that_service_with_credentials_from_a_secret() -> None:
    mongodb = manifests("mongodb.yaml")
    docs = manifests("app.yaml")
    assert sorted(doc["kind"] for doc in docs) == ["Deployment", "Namespace", "Secret"]
    deployment = one(docs, "Deployment")
    check_workload(docs, deployment)

    (app,) = containers(deployment)
    env = env_of(app)
    assert env["POD_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    service = one(mongodb, "Service")["metadata"]
    assert env["MONGODB_SERVICE"]["value"] == service["name"]
    assert env["MONGODB_NAMESPACE"]["value"] == service["namespace"]
    assert env["MONGODB_REPLICA_SET"]["value"] == "rs0"
    for name in ("MONGODB_USERNAME", "MONGODB_PASSWORD"):
        assert "value" not in env[name]
        assert env[name]["valueFrom"]["secretKeyRef"]["name"] == "orders-mongodb"

    # The Deployment runs what the Dockerfile copies, and sets only variables the app reads.
    dockerfile = (EXAMPLES / "Dockerfile").read_text()
    copy = re.search(r"^COPY examples/(\S+) (\S+)$", dockerfile, re.MULTILINE)
    assert copy is not None
    source, target = copy.groups()
    assert (EXAMPLES / source).is_file()
    # The build context is the repository root: every other COPY names what is there.
    for other in re.findall(r"^COPY (.+) \S+$", dockerfile, re.MULTILINE):
        assert all((EXAMPLES.parent / path).exists() for path in other.split()), other
    assert app["command"] == ["python", target]
    read = set(re.findall(r'os\.environ\.get\("(\w+)"', (EXAMPLES / source).read_text()))
    assert set(env) - {"POD_NAMESPACE"} <= read


# Every value in the manifests that a user must replace, and where the tutorial says so.
PLACEHOLDERS = {
    "change-me": "the password `change-me`",
    "registry.example.com/shop/orders:1.0": "the image `registry.example.com/shop/orders:1.0`",
}
_PLACEHOLDER_LIKE = re.compile(
    r"change-?me|replace[\w-]*|<[^<>\s]+>|\bTODO\b|\bxxx+\b|[\w.-]*example\.(?:com|org)[^\s\"']*",
    re.IGNORECASE,
)


@pytest.mark.parametrize("name", ["mongodb.yaml", "app.yaml"])
def test_every_placeholder_of_a_manifest_is_named_where_the_tutorial_applies_it(
    name: str,
) -> None:
    tutorial = (EXAMPLES.parent / "docs" / "tutorial.md").read_text()
    step_1 = tutorial.split("## 1.", 1)[1].split("## 2.", 1)[0]
    values = [
        line.split("#", 1)[0] for line in (EXAMPLES / "kubernetes" / name).read_text().splitlines()
    ]
    found = {m.group(0) for line in values for m in _PLACEHOLDER_LIKE.finditer(line)}
    assert found <= PLACEHOLDERS.keys(), f"placeholders the tutorial does not name: {found}"
    for value in found:
        assert PLACEHOLDERS[value] in step_1, value


def test_the_keyfile_is_one_mongod_accepts() -> None:
    """mongod reads a key file of 6 to 1024 base64 characters, or refuses to start."""
    (secret,) = [doc for doc in manifests("mongodb.yaml") if doc["kind"] == "Secret"]
    key = secret["stringData"]["keyfile"]
    assert re.fullmatch(r"[A-Za-z0-9+/]{6,1024}={0,2}", key), key
    assert len(base64.b64decode(key, validate=True)) >= 6


def run_app(
    app: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MONGODB_", "HEADLESS_"))}
    return subprocess.run(
        [sys.executable, str(EXAMPLES / app), *args],
        env={**environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("app", APPS)
def test_the_apps_show_their_seeds_on_the_embedded_demo_zone(app: str) -> None:
    result = run_app(app, "--demo")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "seeds: 10.244.0.5:27017, 10.244.1.7:27017, 10.244.2.9:27017\n"


@pytest.mark.parametrize("app", APPS)
def test_the_apps_connect_to_a_replica_set_found_through_a_zone_file(
    app: str, replica_set: ReplicaSetFactory, tmp_path: Path
) -> None:
    members = start_on_one_port(replica_set)
    port = members.members[0][1]
    zone = tmp_path / "cluster.zone"
    zone.write_text(zone_file("mongodb", "test", MEMBER_ADDRESSES))
    env = {"MONGODB_SERVICE": "mongodb", "MONGODB_NAMESPACE": "test", "MONGODB_PORT": str(port)}

    result = run_app(app, "--zone-file", str(zone), "--once", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"ping ok, primary {MEMBER_ADDRESSES[0]}:{port}\n"


@pytest.mark.parametrize("app", APPS)
def test_the_apps_explain_a_missing_service(app: str, tmp_path: Path) -> None:
    zone = tmp_path / "cluster.zone"
    zone.write_text(zone_file("other", "test", MEMBER_ADDRESSES))
    env = {"MONGODB_NAMESPACE": "test", "HEADLESS_DISCOVERY_ZONE_FILE": str(zone)}

    result = run_app(app, "--once", env=env)
    assert result.returncode == 1
    assert result.stderr.startswith("cannot find MongoDB: ")
    assert "mongodb-headless-service.test.svc.cluster.local" in result.stderr
