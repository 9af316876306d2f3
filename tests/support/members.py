"""A MockupDB replica set whose members share one port on several loopback addresses.

That is what a headless Service looks like to a client: one A record per pod, every pod on
the same port, so a seed list by IP (``mongo_uri(..., port=27017)``) reaches every member.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence

from tests.harness.fixtures import ReplicaSetFactory
from tests.harness.mongo import ReplicaSet

#: Loopback addresses the members bind; rarely used by anything else on the machine.
MEMBER_ADDRESSES = ("127.0.0.11", "127.0.0.12", "127.0.0.13")


def start_on_one_port(
    replica_set: ReplicaSetFactory,
    addresses: Sequence[str] = MEMBER_ADDRESSES,
    set_name: str = "rs0",
) -> ReplicaSet:
    """Start one member per address, all on the same free port.

    The port is free on the first address when chosen; another process may take it on the
    others meanwhile, so a few ports are tried.

    Raises:
        OSError: No port could be bound on every address.
    """
    error: OSError | None = None
    for _ in range(5):
        with socket.socket() as probe:
            probe.bind((addresses[0], 0))
            port = probe.getsockname()[1]
        try:
            return replica_set([(address, port) for address in addresses], set_name)
        except OSError as exc:
            error = exc
    assert error is not None
    raise error


def zone_file(service: str, namespace: str, addresses: Sequence[str]) -> str:
    """A zone file in which ``service`` in ``namespace`` has one A record per address."""
    lines = [
        "$ORIGIN cluster.local.",
        "$TTL 5",
        "@ IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5",
        "@ IN NS ns.dns.cluster.local.",
        "ns.dns IN A 10.96.0.10",
    ]
    lines += [f"{service}.{namespace}.svc IN A {address}" for address in addresses]
    return "\n".join(lines) + "\n"
