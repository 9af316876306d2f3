"""A MongoDB replica set made of MockupDB servers, in-process or as a child process.

A real ``mongod`` cannot be installed on the test machines; MockupDB speaks the wire protocol.
Each member is a :class:`mockupdb.MockupDB` bound to its own address (a 127.x address, or a pod
IP inside a "pod" network namespace) that answers ``hello``/``isMaster`` as a replica-set member
and ``ok: 1`` to every other command, so that nothing waits in MockupDB's request queue.

Members advertise themselves (``hosts``, ``me``, ``primary``) under the names the test chooses:
``IP:port``, or per-pod DNS names like ``mongodb-0.mongodb.db.svc.cluster.local:27017`` when a
DNS server resolves them. pymongo then discovers the set exactly as it would in a cluster.

Run as a module, it serves a set until SIGTERM, for use inside a network namespace::

    python -m tests.harness.mongo --member 10.244.0.10:27017 --member 10.244.0.11:27017 \\
        --advertise mongodb-0.mongodb.db.svc.cluster.local:27017 \\
        --advertise mongodb-1.mongodb.db.svc.cluster.local:27017 --set-name rs0

It prints ``READY <uri>`` on stdout once every member listens.
"""

from __future__ import annotations

import argparse
import datetime
import signal
import socket
import sys
import threading
from collections.abc import Sequence
from types import FrameType, TracebackType
from typing import Any

from bson import ObjectId
from mockupdb import OP_MSG_FLAGS, MockupDB

__all__ = ["READY", "ReplicaSet", "main", "parse_member"]

READY = "READY"
"""First word of the line the module entry point prints once the set is serving."""

# What a MongoDB 7.0 server reports; pymongo 4.20 needs maxWireVersion >= 9.
_SERVER_LIMITS: dict[str, Any] = {
    "maxWireVersion": 21,
    "minWireVersion": 0,
    "maxBsonObjectSize": 16 * 1024 * 1024,
    "maxMessageSizeBytes": 48_000_000,
    "maxWriteBatchSize": 100_000,
    "logicalSessionTimeoutMinutes": 30,
}

# The primary's election id; fixed, since the set never holds an election.
_ELECTION_ID = ObjectId("7fffffff0000000000000001")

_HELLO_COMMANDS = frozenset({"hello", "ismaster"})


def parse_member(text: str) -> tuple[str, int]:
    """``"10.244.0.10:27017"`` -> ``("10.244.0.10", 27017)``.

    Raises:
        ValueError: Not ``host:port``.
    """
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"expected HOST:PORT, not {text!r}")
    return host, int(port)


class ReplicaSet:
    """MockupDB servers answering as the members of one replica set; a context manager.

    Args:
        members: ``(address, port)`` each member binds (IPv4: MockupDB binds IPv4 only); port
            0 binds a free port.
        set_name: The replica set name (``replicaSet=`` in the URI).
        advertise: The name each member calls itself and the others, ``host:port``, in the
            order of ``members``; default ``address:port`` (the port bound, after start).
        primary_index: Which member is primary; ``None``: none is (every member a secondary).

    Raises:
        ValueError: ``advertise`` or ``primary_index`` do not fit ``members``.

    Example:
        >>> members = [("127.0.0.1", 27017), ("127.0.0.2", 27017), ("127.0.0.3", 27017)]
        >>> with ReplicaSet(members) as rs:                       # doctest: +SKIP
        ...     client = pymongo.MongoClient(rs.uri)
        ...     client.admin.command("ping")
    """

    def __init__(
        self,
        members: Sequence[tuple[str, int]],
        set_name: str = "rs0",
        advertise: Sequence[str] | None = None,
        primary_index: int | None = 0,
    ) -> None:
        if not members:
            raise ValueError("a replica set needs at least one member")
        self.members = [(host, int(port)) for host, port in members]
        self._advertise = list(advertise) if advertise is not None else None
        self.hosts = self._advertise or [f"{host}:{port}" for host, port in self.members]
        if len(self.hosts) != len(self.members):
            raise ValueError(f"{len(self.members)} members but {len(self.hosts)} advertised names")
        if primary_index is not None and not 0 <= primary_index < len(self.members):
            raise ValueError(f"primary_index {primary_index} out of range")
        self.set_name = set_name
        self.primary_index = primary_index
        self.servers: list[MockupDB] = []

    @property
    def uri(self) -> str:
        """A ``mongodb://`` URI listing every advertised member, with ``replicaSet``."""
        return f"mongodb://{','.join(self.hosts)}/?replicaSet={self.set_name}"

    def hello(self, index: int) -> dict[str, Any]:
        """The ``hello`` reply of member ``index``."""
        is_primary = index == self.primary_index
        reply: dict[str, Any] = {
            "ismaster": is_primary,
            "isWritablePrimary": is_primary,
            "secondary": not is_primary,
            "helloOk": True,
            "setName": self.set_name,
            "setVersion": 1,
            "hosts": self.hosts,
            "me": self.hosts[index],
            **_SERVER_LIMITS,
            "localTime": datetime.datetime.now(datetime.timezone.utc),
            # No topologyVersion: pymongo then polls with hello instead of streaming (awaitable
            # hello), which MockupDB cannot do.
            "ok": 1,
        }
        if self.primary_index is not None:
            reply["primary"] = self.hosts[self.primary_index]
        if is_primary:
            reply["electionId"] = _ELECTION_ID
        return reply

    def start(self) -> ReplicaSet:
        """Bind and start every member.

        Raises:
            OSError: An address could not be bound (taken, or not assigned in this namespace).
        """
        try:
            for index, (host, port) in enumerate(self.members):
                server = MockupDB(port=port)
                # MockupDB always binds "localhost"; the private attribute is the only way to
                # choose the address before run() binds it.
                server._address = (host, port)
                server.autoresponds(_Member(self, index).handle)
                server.run()
                self.servers.append(server)
        except BaseException:
            self.stop()
            raise
        if self._advertise is None:
            # Port 0 binds a free port: advertise the ports actually bound. No client knows
            # them before start() returns, so no hello has been answered with the old list.
            self.hosts = [server.address_string for server in self.servers]
        return self

    def stop(self) -> None:
        """Stop every member and close its connections. Idempotent."""
        servers, self.servers = self.servers, []
        for server in servers:
            _stop_member(server)

    def __enter__(self) -> ReplicaSet:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class _Member:
    """MockupDB request handler of one member (a bound method: MockupDB takes no partials)."""

    def __init__(self, replica_set: ReplicaSet, index: int) -> None:
        self._replica_set = replica_set
        self._index = index

    def handle(self, request: Any) -> bool:
        # Fire-and-forget messages (w=0) must get no reply at all.
        if getattr(request, "flags", 0) & OP_MSG_FLAGS["moreToCome"]:
            return True
        command = getattr(request, "command_name", None) or ""
        if command.lower() in _HELLO_COMMANDS:
            return bool(request.replies(self._replica_set.hello(self._index)))
        return bool(request.ok())


def _stop_member(server: MockupDB) -> None:
    """Stop ``server`` at once.

    MockupDB's accept loop waits in select() for up to a second and closing the listening
    socket does not wake it, so a plain ``stop()`` takes a second per member. Marking it stopped
    and connecting once wakes the loop, which then sees the flag and ends.

    The wake-up connection is made only to an address local to this thread's network namespace
    (one it can bind): a pod IP seen from outside its namespace is routed to the real network.
    """
    server._stopped = True
    host, port = server.address
    try:
        with socket.socket() as probe:
            probe.bind((host, 0))
        with socket.create_connection((host, port), timeout=1):
            pass
    except OSError:
        pass  # Not local here, or not listening any more: let stop() wait out the select().
    server.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Serve a replica set until SIGTERM or SIGINT; print ``READY <uri>`` once serving."""
    parser = argparse.ArgumentParser(prog="python -m tests.harness.mongo", description=__doc__)
    parser.add_argument(
        "--member", action="append", required=True, type=parse_member, help="HOST:PORT to bind"
    )
    parser.add_argument(
        "--advertise", action="append", help="name a member calls itself, HOST:PORT (in order)"
    )
    parser.add_argument("--set-name", default="rs0")
    parser.add_argument("--primary-index", type=int, default=0, help="-1: no primary")
    args = parser.parse_args(argv)

    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    primary = args.primary_index if args.primary_index >= 0 else None
    with ReplicaSet(args.member, args.set_name, args.advertise, primary) as replica_set:
        print(f"{READY} {replica_set.uri}", flush=True)
        done.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
