"""Fixtures every test module may use: the end-to-end harness (see tests/README.md)."""

from tests.harness.fixtures import bind_server, pod, replica_set

__all__ = ["bind_server", "pod", "replica_set"]
