"""pytest fixtures for end-to-end tests, each a factory that cleans up after the test.

Wire them in with ``from tests.harness.fixtures import *`` in ``conftest.py`` (or
``pytest_plugins = ["tests.harness.fixtures"]``). Each fixture skips the test locally, and
fails it in CI, when the machine lacks what it needs (root, BIND 9).

Example:
    >>> def test_scale_up_is_seen(pod):                               # doctest: +SKIP
    ...     cluster = Cluster()
    ...     mongo = cluster.statefulset("mongodb", "db", 3)
    ...     with pod(cluster, "db") as p:
    ...         cluster.scale(mongo, 5)
    ...         p.sync()
    ...         assert p.run_python("...").returncode == 0
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Sequence
from typing import Protocol

import pytest

from tests.harness.bind import BindServer
from tests.harness.cluster import Cluster
from tests.harness.mongo import ReplicaSet
from tests.harness.pod import PodNamespace, remove_stale_namespaces
from tests.harness.requirements import require_named, require_root

__all__ = [
    "BindServerFactory",
    "PodFactory",
    "ReplicaSetFactory",
    "bind_server",
    "pod",
    "replica_set",
]


class BindServerFactory(Protocol):
    """``bind_server(cluster, ...)``: a started :class:`BindServer`, stopped after the test."""

    def __call__(
        self,
        cluster: Cluster,
        address: str = ...,
        port: int | None = ...,
        netns: str | None = ...,
    ) -> BindServer: ...


class PodFactory(Protocol):
    """``pod(cluster, namespace, ...)``: a started :class:`PodNamespace`, removed after the test.

    Also usable as ``with pod(cluster, "db") as p:`` (it is started already; the ``with`` block
    closes it early).
    """

    def __call__(
        self,
        cluster: Cluster,
        namespace: str = ...,
        *,
        nameserver: str | None = ...,
        name: str | None = ...,
        ndots: int = ...,
        service_account: bool = ...,
        pod_namespace_env: bool = ...,
    ) -> PodNamespace: ...


class ReplicaSetFactory(Protocol):
    """``replica_set(members, ...)``: a started :class:`ReplicaSet`, stopped after the test."""

    def __call__(
        self,
        members: Sequence[tuple[str, int]],
        set_name: str = ...,
        advertise: Sequence[str] | None = ...,
        primary_index: int | None = ...,
    ) -> ReplicaSet: ...


@functools.cache
def _remove_stale_once() -> None:
    """Remove namespaces left by killed test runs, once per test process, before the first pod."""
    remove_stale_namespaces()


@pytest.fixture
def bind_server() -> Iterator[BindServerFactory]:
    """Factory of running BIND servers serving a cluster model (needs BIND 9)."""
    require_named()
    with contextlib.ExitStack() as cleanup:

        def start(
            cluster: Cluster,
            address: str = "127.0.0.1",
            port: int | None = None,
            netns: str | None = None,
        ) -> BindServer:
            server = BindServer(cluster, address, port, netns)
            cleanup.callback(server.stop)
            return server.start()

        yield start


@pytest.fixture
def pod() -> Iterator[PodFactory]:
    """Factory of "pod" network namespaces with cluster DNS (needs root and BIND 9)."""
    require_root()
    require_named()
    _remove_stale_once()
    with contextlib.ExitStack() as cleanup:

        def start(
            cluster: Cluster,
            namespace: str = "default",
            *,
            nameserver: str | None = None,
            name: str | None = None,
            ndots: int = 5,
            service_account: bool = False,
            pod_namespace_env: bool = False,
        ) -> PodNamespace:
            namespace_ = PodNamespace(
                cluster,
                namespace,
                nameserver=nameserver,
                name=name,
                ndots=ndots,
                service_account=service_account,
                pod_namespace_env=pod_namespace_env,
            )
            cleanup.callback(namespace_.close)
            return namespace_.start()

        yield start


@pytest.fixture
def replica_set() -> Iterator[ReplicaSetFactory]:
    """Factory of in-process MockupDB replica sets (on loopback addresses of this process)."""
    with contextlib.ExitStack() as cleanup:

        def start(
            members: Sequence[tuple[str, int]],
            set_name: str = "rs0",
            advertise: Sequence[str] | None = None,
            primary_index: int | None = 0,
        ) -> ReplicaSet:
            replica_set_ = ReplicaSet(members, set_name, advertise, primary_index)
            cleanup.callback(replica_set_.stop)
            return replica_set_.start()

        yield start
