"""Every code block of the documentation runs, in page order, and prints what the page shows.

How a block runs is decided by the block itself (``tests/docs/blocks.py``): Python and the
``root@dns-check:/#`` console lines in a pod whose cluster DNS (BIND 9) serves the demo zone,
the ``$`` console lines on this machine with the zone file or a local nameserver. Blocks that
need what no test has (a cluster, a registry) say so in a title the reader sees; they are
listed here, so that none is marked by accident.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import dns.zone
import pytest

from tests.docs.blocks import PAGES, ROOT, blocks
from tests.docs.cluster import DEMO_ZONE, demo_cluster
from tests.docs.run import REPORT, run_page
from tests.harness.pod import PodNamespace
from tests.harness.requirements import require_named, require_root

pytestmark = pytest.mark.docs

PAGE_IDS = [str(page.relative_to(ROOT)) for page in PAGES]


#: Every block that does not run here: page, the title its reader sees, how it starts. A block
#: marked by accident, or a new one, fails the test below until it is listed.
MARKED = [
    ("README.md", "needs a cluster (pods serving HTTP)", "import httpx"),
    (
        "README.md",
        "needs a cluster (and a gRPC service)",
        "from headless_discovery import Discovery",
    ),
    (
        "README.md",
        "needs a registry (PyPI, for nox)",
        "python3 -m pip install nox && python3 -m nox -s demo     # t",
    ),
    (
        "README.md",
        "needs a registry (PyPI, for the dependencies)",
        "$ git clone <this repository> headless-discovery && cd headl",
    ),
    (
        "docs/cli/doctor.md",
        "needs a cluster (recorded in a pod)",
        "$ headless-discovery doctor mongodb-headless-service --mongo",
    ),
    (
        "docs/cli/doctor.md",
        "needs a cluster (recorded in a pod)",
        "$ headless-discovery doctor mongodb-headless-service --try-n",
    ),
    (
        "docs/cli/doctor.md",
        "needs a cluster (recorded in a pod)",
        "$ headless-discovery doctor big.load",
    ),
    (
        "docs/cli/doctor.md",
        "needs a local DNS server",
        "$ headless-discovery doctor mongo-unnamed -n infrastructure ",
    ),
    (
        "docs/cli/doctor.md",
        "needs a local DNS server",
        "$ headless-discovery doctor mongodb-headless-service -n infr",
    ),
    (
        "docs/cli/doctor.md",
        "needs a local DNS server",
        "$ headless-discovery doctor mongodb-headless-service -n infr",
    ),
    (
        "docs/cli/resolve.md",
        "needs a local DNS server",
        "$ headless-discovery resolve mongodb-headless-service -n inf",
    ),
    (
        "docs/cli/watch.md",
        "needs a cluster (pods changing while it runs)",
        "$ headless-discovery watch mongodb-headless-service -n infra",
    ),
    (
        "docs/cli/watch.md",
        "needs a cluster (pods changing while it runs)",
        "$ headless-discovery watch mongodb-headless-service -n infra",
    ),
    (
        "docs/cli/watch.md",
        "needs a second terminal (the zone file moved away and back while it runs)",
        "$ headless-discovery watch mongodb.db --zone-file cluster.zo",
    ),
    (
        "docs/contributing.md",
        "needs a registry (PyPI, for nox and mutmut)",
        '$ nox -s mutation -- "headless_discovery.mongo.*"',
    ),
    (
        "docs/contributing.md",
        "needs a mutation run (nox -s mutation)",
        "$ .nox/mutation/bin/mutmut results",
    ),
    (
        "docs/contributing.md",
        "needs mutmut 3.8.1 and the test dependencies installed",
        '$ nice -n 10 mutmut run --max-children 2 "headless_discovery',
    ),
    (
        "docs/explanation/troubleshooting.md",
        "needs a cluster",
        "$ kubectl -n shop exec deploy/orders -- headless-discovery d",
    ),
    (
        "docs/explanation/troubleshooting.md",
        "needs a cluster",
        "$ kubectl get svc mongodb-headless-service -n infrastructure",
    ),
    (
        "docs/how-to/grpc.md",
        "needs a registry (PyPI)",
        "$ python3 -m pip install 'headless-discovery[grpc]'",
    ),
    (
        "docs/how-to/grpc.md",
        "needs a cluster (the CA file)",
        'with open("/etc/tls/ca.crt", "rb") as f:',
    ),
    (
        "docs/how-to/http-clients.md",
        "needs a cluster (pods serving HTTP)",
        'with Discovery("api", namespace="shop", port=8443) as pods:',
    ),
    ("docs/how-to/http-clients.md", "needs a cluster (pods serving HTTP)", "import requests"),
    ("docs/how-to/http-clients.md", "needs a cluster (pods serving HTTP)", "import aiohttp"),
    (
        "docs/how-to/local-development.md",
        "needs BIND 9 (named) started by hand",
        "$ cp kafka.zone cluster.zone          # or the demo zone: he",
    ),
    (
        "docs/how-to/local-development.md",
        "needs BIND 9 (named) started by hand",
        "$ headless-discovery resolve kafka-headless -n streaming --p",
    ),
    (
        "docs/how-to/local-development.md",
        "needs BIND 9 (named) started by hand",
        "from headless_discovery import DnsResolver, resolve",
    ),
    (
        "docs/how-to/mongodb.md",
        "needs a cluster (the CA and client certificate files)",
        "client = mongo_client(",
    ),
    (
        "docs/how-to/observability.md",
        "needs a registry (PyPI)",
        "$ python3 -m pip install 'headless-discovery[opentelemetry]'",
    ),
    (
        "docs/how-to/seed-lists.md",
        "needs a cluster (and the client library)",
        "from confluent_kafka import Producer",
    ),
    (
        "docs/how-to/seed-lists.md",
        "needs a cluster (and the client library)",
        "from cassandra.cluster import Cluster",
    ),
    (
        "docs/how-to/seed-lists.md",
        "needs a cluster (and the client library)",
        "from elasticsearch import Elasticsearch",
    ),
    (
        "docs/how-to/seed-lists.md",
        "needs a cluster (and the client library)",
        "from redis.sentinel import Sentinel",
    ),
    ("docs/how-to/seed-lists.md", "needs a cluster (and the client library)", "import nats"),
    (
        "docs/index.md",
        "needs a registry (PyPI)",
        "$ python3 -m pip install '.[mongo]'         # until the firs",
    ),
    ("docs/tutorial.md", "needs a cluster", "$ kubectl apply -f examples/kubernetes/mongodb.yaml"),
    (
        "docs/tutorial.md",
        "needs a cluster",
        "$ kubectl run -it --rm dns-check --image=python:3.12-slim --",
    ),
    (
        "docs/tutorial.md",
        "needs a registry (PyPI, for the dependencies)",
        "$ python3 -m pip install '.[mongo]'",
    ),
    (
        "docs/tutorial.md",
        "needs a registry",
        "$ docker build -t registry.example.com/shop/orders:1.0 -f ex",
    ),
    ("docs/tutorial.md", "needs a cluster", "$ kubectl apply -f examples/kubernetes/app.yaml"),
    (
        "docs/tutorial.md",
        "needs a cluster",
        "$ kubectl -n infrastructure scale statefulset/mongodb --repl",
    ),
    (
        "docs/tutorial.md",
        "needs a cluster",
        "root@dns-check:/# headless-discovery watch mongodb-headless-",
    ),
]


def test_the_blocks_that_cannot_run_here_are_these() -> None:
    marked = [
        (str(page.relative_to(ROOT)), block.needs, block.source.splitlines()[0][:60])
        for page in PAGES
        for block in blocks(page)
        if block.needs is not None
    ]
    assert marked == MARKED


@pytest.fixture(scope="module")
def pod() -> Iterator[PodNamespace]:
    """A pod of namespace ``default`` (the tutorial's ``dns-check``) in the demo cluster."""
    require_root()
    require_named()
    with PodNamespace(demo_cluster(), "default") as pod:
        yield pod


def test_the_pod_serves_exactly_the_demo_zone() -> None:
    """What the pod's DNS serves holds every A and SRV record of ``--zone-file demo``."""
    zone = dns.zone.from_file(DEMO_ZONE, relativize=False)
    want = {
        (name.to_text().lower(), rdata.rdtype.name, rdata.to_text(), ttl)
        for name, ttl, rdata in zone.iterate_rdatas()
        if rdata.rdtype.name in {"A", "SRV"}
    }
    served = {(r.name, r.rdtype, r.rdata, r.ttl) for r in demo_cluster().records()}
    assert len(want) > 60
    assert want <= served


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
def test_the_page_runs_on_this_machine(page: Path) -> None:
    assert run_page(page, "host") == []


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
def test_the_page_runs_in_a_pod(page: Path, pod: PodNamespace) -> None:
    if not any(
        b.needs is None and (b.language in {"python", "pycon"} or "root@" in b.source)
        for b in blocks(page)
    ):
        return
    result = pod.run_python(
        f"from tests.docs.run import main; import sys; sys.argv[1:] = [{str(page)!r}, 'pod']; "
        "main()",
        # What examples/kubernetes/app.yaml gives the application, from its Secret.
        env={"MONGODB_USERNAME": "orders", "MONGODB_PASSWORD": "change-me"},
        timeout=120,
    )
    reports = [line for line in result.stdout.splitlines() if line.startswith(REPORT)]
    assert reports, f"the page's run died:\n{result.stdout}\n{result.stderr}"
    assert json.loads(reports[-1][len(REPORT) :]) == []
