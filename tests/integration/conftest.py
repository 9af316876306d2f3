"""Fixtures for tests against a real BIND 9 on loopback (no root needed)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.harness.bind import BindServer
from tests.harness.cluster import Cluster, Pod, Service
from tests.harness.fixtures import pod, replica_set
from tests.harness.requirements import require_named

__all__ = ["pod", "replica_set"]


@pytest.fixture
def cluster() -> Cluster:
    """Three MongoDB pods (dual stack), a 200-pod Service, one Service without ready pods."""
    model = Cluster()
    model.statefulset("mongodb-headless", "infra", 3, prefix="mongodb", ipv6=True)
    model.statefulset("big", "load", 200, ports={"http": 8080}, subnet="10.245.0.0/16")
    model.add(
        Service(
            "unready",
            "infra",
            pods=[Pod("u-0", ipv4="10.246.0.1", ready=False, hostname="u-0")],
        )
    )
    return model


@pytest.fixture
def bind(cluster: Cluster) -> Iterator[BindServer]:
    """A real named on 127.0.0.1 and a free port, serving ``cluster``."""
    require_named()
    with BindServer(cluster) as server:
        yield server
