"""Fixtures of the HTTP client integrations' tests: a real BIND 9 serving a Service whose pods
are HTTP servers on loopback addresses (``127.77.0.x``), and a ``trustme`` CA.

The Service ``api`` in namespace ``shop`` has three pods; ``empty`` in ``shop`` has one pod
that is not ready (cluster DNS answers NXDOMAIN). Records live 1 s.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import pytest
import trustme

from headless_discovery import AsyncDnsResolver, DnsResolver, ServiceName
from tests.harness.bind import BindServer
from tests.harness.cluster import Cluster, Pod, Service
from tests.harness.requirements import require_named
from tests.integrations.pods import PodServers

TTL = 1
# How soon a change must be seen: the issue's bound (TTL + 1 s), plus slack for a loaded
# 2-core CI machine (the refresh schedule itself asks within TTL + 1 s; the benchmark
# reports the figure).
SEEN_WITHIN = TTL + 1 + 1.0
API = ServiceName("api", "shop", "cluster.local")
EMPTY = ServiceName("empty", "shop", "cluster.local")


@pytest.fixture
def shop() -> tuple[Cluster, Service]:
    model = Cluster(ttl=TTL)
    api = model.statefulset("api", "shop", 3, ports={"http": 80}, subnet="127.77.0.0/24")
    model.add(
        Service("empty", "shop", pods=[Pod("e-0", ipv4="127.77.1.10", ready=False, hostname="e-0")])
    )
    return model, api


@pytest.fixture
def bind(shop: tuple[Cluster, Service]) -> Iterator[BindServer]:
    require_named()
    with BindServer(shop[0]) as server:
        yield server


@pytest.fixture
def resolver(bind: BindServer) -> DnsResolver:
    return DnsResolver([bind.nameserver], bind.port, timeout=0.3, lifetime=0.6)


@pytest.fixture
def aresolver(bind: BindServer) -> AsyncDnsResolver:
    return AsyncDnsResolver([bind.nameserver], bind.port, timeout=0.3, lifetime=0.6)


@pytest.fixture
def pods(shop: tuple[Cluster, Service]) -> Iterator[PodServers]:
    """Plain HTTP servers on the three pods of ``api``."""
    with PodServers().start(*(str(pod.ipv4) for pod in shop[1].pods)) as servers:
        yield servers


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_pods(shop: tuple[Cluster, Service], ca: trustme.CA) -> Iterator[PodServers]:
    """HTTPS servers on the pods of ``api``, with a certificate for the Service's names only
    (no IP address), recording the SNI they receive."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*sorted(API.aliases)).configure_cert(context)
    with PodServers(tls=context).start(*(str(pod.ipv4) for pod in shop[1].pods)) as servers:
        yield servers


@pytest.fixture
def trust(ca: trustme.CA) -> ssl.SSLContext:
    """A client context that trusts the test CA only."""
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context
