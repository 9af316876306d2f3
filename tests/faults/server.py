"""A tiny nameserver that misbehaves on purpose, for the fault tests.

:class:`FaultServer` listens on ``127.0.0.1`` and a free port, UDP and (optionally) TCP, in a
background thread, and answers from a small zone given as data. Its :attr:`~FaultServer.fault`
decides how: correctly, or with one of the failures real nameservers and networks produce
(silence, late answers, SERVFAIL, REFUSED, truncation, garbage, spoofed replies, ...). The fault
can be changed while a client runs, so a test can let long-lived discovery see good answers
first and a failure afterwards. Replies are built with dnspython; malformed ones by hand.

Example:
    >>> with FaultServer(ZONE) as server:                           # doctest: +SKIP
    ...     server.fault = "servfail"
    ...     DnsResolver([server.address], server.port).resolve_addresses(NAME)
"""

from __future__ import annotations

import contextlib
import heapq
import selectors
import socket
import struct
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Literal, NamedTuple

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

__all__ = ["FAULTS", "Fault", "FaultServer", "Query", "Zone", "closed_port", "rrset"]

#: How the server answers.
Fault = Literal[
    "answer",  # correctly, from the zone (CNAME chains followed, NXDOMAIN, NODATA)
    "silent",  # drops every query
    "slow",  # answers correctly, ``delay`` seconds late
    "servfail",  # rcode SERVFAIL, nothing else
    "refused",  # rcode REFUSED, nothing else
    "truncate",  # UDP: an empty reply with the TC bit; TCP answers (if listening)
    "garbage",  # UDP and TCP: bytes that are not a DNS message, some with the query's ID
    "wrong_id",  # the correct answer, with another message ID
    "spoof",  # poisoned replies (wrong ID; right ID but another question), then the answer
    "nxdomain",  # rcode NXDOMAIN for every name
    "nodata",  # NOERROR with an empty answer for every name
    "mixed",  # an A or AAAA query gets the name's A and AAAA records together
    "duplicates",  # every record of the answer twice
    "custom",  # whatever ``responder`` makes of the query (property tests)
]
FAULTS: tuple[Fault, ...] = Fault.__args__  # type: ignore[attr-defined]

#: Records: absolute name -> record type -> rdata texts (``{"x.": {"A": ["10.0.0.1"]}}``).
Zone = Mapping[str, Mapping[str, Sequence[str]]]

#: The zone the NXDOMAIN/NODATA answers cite in their authority section.
APEX = "cluster.local."
#: Addresses spoofed replies carry: a test fails if one of them is ever returned.
POISON = ("192.0.2.66", "2001:db8::66")
TTL = 30
_MAX_CHAIN = 8  # CNAMEs the server follows before it gives up (a loop is sent as it is)


class Query(NamedTuple):
    """One query the server received."""

    name: str
    rdtype: str
    transport: Literal["udp", "tcp"]


class FaultServer:
    """A nameserver on ``127.0.0.1``: UDP and TCP on one free port, served by a thread.

    Args:
        zone: The records it knows (see :data:`Zone`).
        fault: How it answers (see :data:`Fault`); change :attr:`fault` at any time.
        delay: Seconds the ``slow`` fault waits before answering.
        tcp: Listen on TCP too. Without, TCP connections to the port are refused: a
            truncated UDP answer cannot be retried over TCP.
        additional: Put the addresses of SRV targets in the additional section; without,
            clients must look each target up.
        responder: For the ``custom`` fault: makes the reply to a query (a message, or
            raw bytes).

    A context manager: the thread, sockets and TCP connections are gone after the block.
    """

    def __init__(
        self,
        zone: Zone,
        *,
        fault: Fault = "answer",
        delay: float = 0.0,
        tcp: bool = True,
        additional: bool = True,
        responder: Callable[[dns.message.Message], dns.message.Message | bytes] | None = None,
    ) -> None:
        self.zone = {name.lower(): dict(records) for name, records in zone.items()}
        self.fault: Fault = fault
        self.delay = delay
        self.additional = additional
        self.responder = responder
        self.address = "127.0.0.1"
        self._tcp_enabled = tcp
        self._udp: socket.socket | None = None
        self._listener: socket.socket | None = None
        self._wake_r, self._wake_w = socket.socketpair()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._workers: list[tuple[threading.Thread, socket.socket]] = []
        self._pending: list[tuple[float, int, bytes, tuple[str, int]]] = []
        self._sequence = 0
        self._lock = threading.Lock()
        self._queries: list[Query] = []
        self.port = 0

    # -- life cycle -----------------------------------------------------------------------

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> FaultServer:
        """Bind the sockets and start serving."""
        self._udp, self._listener = _bind_pair(self.address, tcp=self._tcp_enabled)
        self.port = self._udp.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, name="fault-dns", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop the thread and close every socket. Idempotent."""
        self._stop.set()
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        with self._lock:
            workers, self._workers = self._workers, []
        for worker, conn in workers:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            worker.join(5)
        for sock in (self._udp, self._listener, self._wake_r, self._wake_w):
            if sock is not None:
                sock.close()
        self._udp = self._listener = None

    @property
    def nameserver(self) -> str:
        """``address:port``, as the library's messages name a server."""
        return f"{self.address}:{self.port}"

    def wait_idle(self, timeout: float = 2.0) -> bool:
        """Wait until every TCP connection is over (its client closed it); ``False`` if not.

        A test that counts threads or file descriptors calls this first: the server's side of
        a connection ends a moment after the client's.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            workers = [worker for worker, _ in self._workers]
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))
        return not any(worker.is_alive() for worker in workers)

    def queries(self) -> list[Query]:
        """Every query received so far, oldest first."""
        with self._lock:
            return list(self._queries)

    def clear_queries(self) -> None:
        """Forget the queries received so far."""
        with self._lock:
            self._queries.clear()

    # -- the serving thread ---------------------------------------------------------------

    def _serve(self) -> None:
        assert self._udp is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self._udp, selectors.EVENT_READ, "udp")
            selector.register(self._wake_r, selectors.EVENT_READ, "wake")
            if self._listener is not None:
                selector.register(self._listener, selectors.EVENT_READ, "tcp")
            while not self._stop.is_set():
                timeout = None
                if self._pending:
                    timeout = max(0.0, self._pending[0][0] - time.monotonic())
                for key, _ in selector.select(timeout):
                    if key.data == "udp":
                        self._on_udp()
                    elif key.data == "tcp":
                        self._on_accept()
                self._flush_due()

    def _on_udp(self) -> None:
        assert self._udp is not None
        try:
            wire, peer = self._udp.recvfrom(65535)
        except OSError:
            return
        now = time.monotonic()
        for delay, reply in self._replies(wire, "udp"):
            self._sequence += 1
            heapq.heappush(self._pending, (now + delay, self._sequence, reply, peer))
        self._flush_due()

    def _flush_due(self) -> None:
        assert self._udp is not None
        now = time.monotonic()
        while self._pending and self._pending[0][0] <= now:
            _, _, reply, peer = heapq.heappop(self._pending)
            with contextlib.suppress(OSError):
                self._udp.sendto(reply, peer)

    def _on_accept(self) -> None:
        assert self._listener is not None
        try:
            conn, _ = self._listener.accept()
        except OSError:
            return
        worker = threading.Thread(
            target=self._serve_tcp, args=(conn,), name="fault-dns-tcp", daemon=True
        )
        worker.start()  # before it is listed: wait_idle() may join any listed worker
        with self._lock:
            self._workers = [(w, c) for w, c in self._workers if w.is_alive()]
            self._workers.append((worker, conn))

    def _serve_tcp(self, conn: socket.socket) -> None:
        conn.settimeout(5.0)
        with conn, contextlib.suppress(OSError):
            while not self._stop.is_set():
                header = _read_exactly(conn, 2)
                if header is None:
                    return
                wire = _read_exactly(conn, struct.unpack("!H", header)[0])
                if wire is None:
                    return
                for delay, reply in self._replies(wire, "tcp"):
                    if delay and self._stop.wait(delay):
                        return
                    conn.sendall(struct.pack("!H", len(reply)) + reply)

    # -- what to answer -------------------------------------------------------------------

    def _replies(self, wire: bytes, transport: Literal["udp", "tcp"]) -> list[tuple[float, bytes]]:
        """The replies to one query, each with its delay in seconds."""
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return []
        if not query.question:
            return []
        question = query.question[0]
        with self._lock:
            self._queries.append(
                Query(
                    question.name.to_text().lower(),
                    dns.rdatatype.to_text(question.rdtype),
                    transport,
                )
            )
        fault = self.fault
        if fault == "silent":
            return []
        if fault == "custom":
            assert self.responder is not None
            reply = self.responder(query)
            return [(0.0, reply if isinstance(reply, bytes) else reply.to_wire())]
        if fault == "truncate" and transport == "udp":
            reply = dns.message.make_response(query)
            reply.flags |= dns.flags.TC
            return [(0.0, reply.to_wire())]
        if fault in ("servfail", "refused", "nxdomain"):
            reply = dns.message.make_response(query)
            reply.set_rcode(dns.rcode.from_text(fault.upper()))
            if fault == "nxdomain":
                reply.authority.append(_soa())
            return [(0.0, reply.to_wire())]
        if fault == "nodata":
            reply = dns.message.make_response(query)
            reply.authority.append(_soa())
            return [(0.0, reply.to_wire())]
        answer = self._answer(query, mixed=fault == "mixed")
        if fault == "duplicates":
            # The same RRset object twice in a section: to_wire writes every record twice.
            for section in (answer.answer, answer.additional):
                section.extend(list(section))
        good = answer.to_wire()
        if fault == "slow":
            return [(self.delay, good)]
        if fault == "wrong_id":
            return [(0.0, _with_id(good, query.id ^ 0x5A5A))]
        if fault == "garbage":
            junk = b"\xde\xad\xbe\xef not a DNS message \xff\x00" * 3
            return [(0.0, junk), (0.0, good[:2] + b"\x81\x80\x00\x01\xff\xff" + junk)]
        if fault == "spoof":
            other = dns.message.make_query("evil.example.", question.rdtype)
            return [
                (0.0, self._poisoned(query, query.id ^ 0x0101)),  # another ID
                (0.0, self._poisoned(other, query.id)),  # the ID, another question
                (0.0, good),
            ]
        return [(0.0, good)]

    def _answer(self, query: dns.message.Message, *, mixed: bool = False) -> dns.message.Message:
        """The correct reply from the zone; with ``mixed``, A and AAAA side by side."""
        reply = dns.message.make_response(query)
        question = query.question[0]
        qtype = dns.rdatatype.to_text(question.rdtype)
        name = question.name.to_text().lower()
        for _ in range(_MAX_CHAIN):
            records = self.zone.get(name)
            if records is None:
                if not reply.answer:
                    reply.set_rcode(dns.rcode.NXDOMAIN)
                reply.authority.append(_soa())
                return reply
            wanted = [qtype]
            if mixed and qtype in ("A", "AAAA"):
                wanted = ["A", "AAAA"]
            found = [t for t in wanted if records.get(t)]
            if found:
                for rdtype in found:
                    reply.answer.append(rrset(name, rdtype, records[rdtype]))
                if qtype == "SRV" and self.additional:
                    self._add_targets(reply, records["SRV"])
                return reply
            if not records.get("CNAME"):
                reply.authority.append(_soa())
                return reply
            reply.answer.append(rrset(name, "CNAME", records["CNAME"]))
            name = records["CNAME"][0].lower()
        return reply

    def _add_targets(self, reply: dns.message.Message, srv: Sequence[str]) -> None:
        for rdata in srv:
            target = rdata.split()[-1].lower()
            for rdtype in ("A", "AAAA"):
                addresses = self.zone.get(target, {}).get(rdtype)
                if addresses:
                    reply.additional.append(rrset(target, rdtype, addresses))

    def _poisoned(self, query: dns.message.Message, id_: int | None = None) -> bytes:
        """A well-formed reply to ``query`` that points at :data:`POISON`."""
        reply = dns.message.make_response(query)
        name = query.question[0].name.to_text()
        reply.answer.append(rrset(name, "A", [POISON[0]]))
        reply.answer.append(rrset(name, "AAAA", [POISON[1]]))
        wire = reply.to_wire()
        return wire if id_ is None else _with_id(wire, id_)


def rrset(name: str, rdtype: str, rdatas: Sequence[str], ttl: int = TTL) -> dns.rrset.RRset:
    """An RRset from rdata texts."""
    return dns.rrset.from_text_list(name, ttl, dns.rdataclass.IN, rdtype, list(rdatas))


def _soa() -> dns.rrset.RRset:
    return rrset(APEX, "SOA", [f"ns.dns.{APEX} hostmaster.{APEX} 1 7200 1800 86400 {TTL}"])


def _with_id(wire: bytes, id_: int) -> bytes:
    return struct.pack("!H", id_ & 0xFFFF) + wire[2:]


def _read_exactly(conn: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def closed_port(address: str = "127.0.0.1") -> int:
    """A port that was free for UDP and TCP a moment ago: nothing listens there."""
    udp, _ = _bind_pair(address, tcp=False)
    with udp:
        port: int = udp.getsockname()[1]
    return port


def _bind_pair(address: str, *, tcp: bool) -> tuple[socket.socket, socket.socket | None]:
    """A UDP socket on a free port and, with ``tcp``, a TCP listener on the same port.

    Without ``tcp``, the port is checked free for TCP too, so that connecting is refused.
    """
    for _ in range(50):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind((address, 0))
        port = udp.getsockname()[1]
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.bind((address, port))
        except OSError:
            udp.close()
            listener.close()
            continue
        if not tcp:
            listener.close()
            return udp, None
        listener.listen(16)
        return udp, listener
    raise RuntimeError(f"no port free for UDP and TCP on {address}")
