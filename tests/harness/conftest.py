"""The harness's own tests use its fixtures."""

from tests.harness.fixtures import bind_server, pod, replica_set

__all__ = ["bind_server", "pod", "replica_set"]
