"""The DNS client's decisions, without I/O: which query to send where, when to wait, what a
reply means, and how answers become records. Pure: no socket, no clock, no global random.

A lookup of one record type is a :class:`Lookup`, driven as h11 drives a connection: the
driver asks :meth:`Lookup.next_step` what to do and gets a :class:`Sleep`, a :class:`Send`
or an outcome; it reports what happened with :meth:`Lookup.received` or
:meth:`Lookup.failed`. The decisions are those of dnspython's resolver loop
(``dns.resolver._Resolution``): search candidates and ``ndots``, nameserver order and
``rotate``, rounds with a doubling back-off, TCP after a truncated UDP reply, a per-try
timeout within a lifetime for the whole lookup, which failures drop a server.

Outcomes are values: :class:`Answered` or a :data:`Failure` (:class:`NxDomain`,
:class:`NoData`, :class:`YxDomain`, :class:`Exhausted`, :class:`LifetimeOver`). A driver that
must fail raises :class:`ClientError` with the failure in it; the resolvers' one translation
boundary turns it into the library's exception. The clock and the random source (rotation and
query IDs) are inputs, so tests drive a lookup with literal replies and a fake clock.

The assembly of answers (addresses of both families, SRV records with the addresses of their
targets, TXT strings) is here too, so that the sync and async drivers only wait.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from ..endpoints import AddressAnswer, Family, SrvAnswer, SrvRecord, TxtAnswer
from ..errors import ResolutionError, ResolverTimeoutError, ResolverUnavailableError
from . import _wire
from ._messages import no_records, not_found
from ._wire import RRset, Section, SrvData, TxtData

__all__ = [
    "AAAA",
    "SRV",
    "TXT",
    "A",
    "AddressPlan",
    "Answered",
    "AttemptError",
    "ClientConfig",
    "ClientError",
    "Exhausted",
    "Failure",
    "LifetimeOver",
    "Lookup",
    "Name",
    "NoData",
    "NxDomain",
    "RecordType",
    "Send",
    "Server",
    "Sleep",
    "SrvPlan",
    "YxDomain",
    "error_for",
    "probe_query",
    "txt_answer",
]

logger = logging.getLogger("headless_discovery")

T = TypeVar("T")

_NOERROR, _NXDOMAIN, _YXDOMAIN = 0, 3, 6
_RCODES = {1: "FORMERR", 2: "SERVFAIL", 4: "NOTIMP", 5: "REFUSED", 9: "NOTAUTH", 16: "BADVERS"}
_MAX_CHAIN = 16  # CNAMEs followed, as dnspython
_MAX_NAME = 255  # bytes of a name on the wire
_FIRST_BACKOFF = 0.1  # seconds between the first two rounds, doubled each round
_MAX_BACKOFF = 2.0


@dataclass(frozen=True, slots=True)
class RecordType(Generic[T]):
    """A record type the client reads: its code, its mnemonic, and its table in a section."""

    code: int
    text: str
    table: Callable[[Section], dict[str, RRset[T]]]


A: RecordType[str] = RecordType(_wire.A, "A", lambda section: section.a)
AAAA: RecordType[str] = RecordType(_wire.AAAA, "AAAA", lambda section: section.aaaa)
SRV: RecordType[SrvData] = RecordType(_wire.SRV, "SRV", lambda section: section.srv)
TXT: RecordType[TxtData] = RecordType(_wire.TXT, "TXT", lambda section: section.txt)

_FAMILIES: dict[Family, tuple[RecordType[str], ...]] = {
    "any": (A, AAAA),
    "ipv4": (A,),
    "ipv6": (AAAA,),
}


@dataclass(frozen=True, slots=True)
class Name:
    """A DNS name as its labels (without the empty root label), checked and encoded."""

    labels: tuple[bytes, ...]
    absolute: bool

    @property
    def wire(self) -> bytes:
        """The absolute name in wire format."""
        return b"".join(bytes((len(label),)) + label for label in self.labels) + b"\x00"

    @property
    def text(self) -> str:
        """The absolute name as dnspython's ``to_text()`` writes it."""
        return "".join(_wire.label_text(label) + "." for label in self.labels) or "."


@dataclass(frozen=True, slots=True)
class Server:
    """A nameserver: as configured, as the socket layer writes it, and its IP version."""

    text: str
    address: str
    version: int

    def label(self, port: int) -> str:
        """The server as dnspython names it in its errors (``Do53:10.96.0.10@53``)."""
        return f"Do53:{self.text}@{port}"


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """What the client was configured with (arguments and resolv.conf).

    Attributes:
        servers: The nameservers, in resolv.conf order.
        port: Their port.
        timeout: Seconds one try may wait for its reply.
        lifetime: Seconds a whole lookup may take, across servers and retries.
        search: Whether relative names get the search list.
        suffixes: The search list (or the ``domain``), as labels.
        ndots: resolv.conf's ``ndots``.
        rotate: resolv.conf's ``rotate``: each name starts at a random server.
    """

    servers: tuple[Server, ...]
    port: int
    timeout: float
    lifetime: float
    search: bool = False
    suffixes: tuple[tuple[bytes, ...], ...] = ()
    ndots: int = 1
    rotate: bool = False

    @property
    def servers_text(self) -> str:
        """Every server as ``address:port``, for messages."""
        return ", ".join(f"{server.text}:{self.port}" for server in self.servers)

    def candidates(self, name: Name) -> list[Name]:
        """The names to try, in order (dnspython's ``_get_qnames_to_try``).

        A candidate longer than 255 bytes cannot exist and is left out.
        """
        absolute = Name(name.labels, True)
        if name.absolute or not self.search:
            return [absolute]
        found = [Name(name.labels + suffix, True) for suffix in self.suffixes]
        found = [c for c in found if sum(len(label) + 1 for label in c.labels) < _MAX_NAME]
        if len(name.labels) > self.ndots:
            found.insert(0, absolute)
        else:
            found.append(absolute)
        return found


# -- steps and outcomes --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sleep:
    """Wait this many seconds, then ask for the next step (back-off after a failed round)."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Send:
    """Send ``query`` to ``server`` (over TCP if ``tcp``) and wait up to ``timeout`` seconds.

    Attributes:
        qid: The query's ID.
        qname: The name asked, absolute text.
        rdtype: The type asked.
    """

    server: Server
    port: int
    tcp: bool
    timeout: float
    qid: int
    qname: str
    rdtype: int
    query: bytes

    @property
    def where(self) -> str:
        """``address:port``."""
        return f"{self.server.text}:{self.port}"

    def matches(self, reply: _wire.Reply) -> bool:
        """Whether ``reply`` answers this query (a UDP driver ignores the others)."""
        return reply.answers(self.qid, self.qname, self.rdtype)


@dataclass(frozen=True, slots=True)
class AttemptError:
    """Why one try failed: the server (``Do53:...``), the transport, and the reason."""

    server: str
    tcp: bool
    reason: str


@dataclass(frozen=True, slots=True)
class Answered(Generic[T]):
    """The name exists: the records of the type asked, at the end of any CNAME chain.

    Attributes:
        candidate: The search candidate that answered.
        records: The records; empty when the name has none of the type (NODATA).
        ttl: The smallest TTL along the chain; ``None`` with no records.
        additional: The reply's additional section (SRV target addresses).
        server: ``address:port`` of the server that answered.
    """

    candidate: Name
    records: tuple[T, ...]
    ttl: int | None
    additional: Section
    server: str


@dataclass(frozen=True, slots=True)
class _Failed:
    """What every failed lookup names: the name asked and the record type."""

    name: str
    rdtype: str


@dataclass(frozen=True, slots=True)
class NxDomain(_Failed):
    """No candidate name exists: ``qnames`` were tried."""

    qnames: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Said(_Failed):
    """A failure one server answered with: ``server`` is ``address:port``."""

    server: str


@dataclass(frozen=True, slots=True)
class NoData(_Said):
    """The name exists without records of the type (or family) asked."""


@dataclass(frozen=True, slots=True)
class YxDomain(_Said):
    """The server answered YXDOMAIN (the name is too long after DNAME substitution)."""


@dataclass(frozen=True, slots=True)
class Exhausted(_Failed):
    """Every server was dropped, for a reply that cannot be used or for being unreachable,
    before the lifetime ran out: each try's reason in ``errors``, in order."""

    errors: tuple[AttemptError, ...]


@dataclass(frozen=True, slots=True)
class LifetimeOver(_Failed):
    """The lifetime ran out, ``elapsed`` seconds after the lookup began."""

    elapsed: float
    errors: tuple[AttemptError, ...]


Failure = NxDomain | NoData | YxDomain | Exhausted | LifetimeOver


class ClientError(Exception):
    """A lookup ended in a :data:`Failure`; the resolvers' boundary translates it."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure)
        self.failure = failure


def error_for(failure: Failure, config: ClientConfig) -> ResolutionError:
    """The library's exception for ``failure``: one type, message and set of attributes per
    failure, whichever lookup met it."""
    servers = config.servers_text
    name, rdtype = failure.name, failure.rdtype
    if isinstance(failure, NxDomain):
        return not_found(name, rdtype, servers)
    if isinstance(failure, NoData):
        return no_records(name, rdtype, failure.server)
    if isinstance(failure, LifetimeOver):
        return ResolverTimeoutError(
            f"no answer for {name} {rdtype} from {servers} after {failure.elapsed:.2f} s "
            f"(timeout {config.timeout} s, lifetime {config.lifetime} s): is the nameserver "
            "reachable from here, and is it the cluster DNS?",
            name=name,
            rdtype=rdtype,
            nameserver=servers,
            elapsed=failure.elapsed,
        )
    if isinstance(failure, Exhausted):
        detail = "; ".join(f"{e.server} answered {e.reason}" for e in failure.errors)
        return ResolverUnavailableError(
            f"every nameserver failed for {name} {rdtype}: {detail}",
            name=name,
            rdtype=rdtype,
            nameserver=servers,
        )
    return ResolverUnavailableError(
        f"looking up {name} {rdtype} at {servers} failed: {failure.server} answered YXDOMAIN "
        "(the name is too long after DNAME substitution)",
        name=name,
        rdtype=rdtype,
        nameserver=servers,
    )


# -- one lookup ----------------------------------------------------------------------------


class Lookup(Generic[T]):
    """One record type of one name, across search candidates, nameservers and retries.

    Args:
        config: The client's configuration.
        name: The name to look up, checked.
        rtype: The record type.
        display: The name as the caller wrote it, for outcomes (and so for messages).
        started: When the lookup began on ``clock``: a lifetime may span several lookups
            (A and AAAA, SRV targets).
        clock: A monotonic clock, in seconds.
        rng: Shuffles the servers under ``rotate`` and draws query IDs.
    """

    def __init__(
        self,
        config: ClientConfig,
        name: Name,
        rtype: RecordType[T],
        *,
        display: str,
        started: float,
        clock: Callable[[], float],
        rng: random.Random,
    ) -> None:
        self._config = config
        self._rtype = rtype
        self._display = display
        self._started = started
        self._clock = clock
        self._rng = rng
        self._candidates = config.candidates(name)
        self._remaining = list(self._candidates)
        self._outcome: Answered[T] | Failure | None = None
        self._errors: list[AttemptError] = []
        self._tcp = False
        self._next_candidate()

    def _next_candidate(self) -> None:
        if not self._remaining:
            qnames = tuple(c.text for c in self._candidates)
            self._outcome = NxDomain(self._display, self._rtype.text, qnames)
            return
        candidate = self._candidate = self._remaining.pop(0)
        self._qname = candidate.text
        self._qwire = candidate.wire
        servers = list(self._config.servers)
        if self._config.rotate:
            self._rng.shuffle(servers)
        self._servers = servers  # those not dropped for this candidate
        self._round = list(servers)  # those not yet tried in this round
        self._server = servers[0]
        self._errors = []
        self._retry_tcp = False
        self._backoff = _FIRST_BACKOFF

    def elapsed(self) -> float:
        """Seconds since the lookup (every query of it) began."""
        return self._clock() - self._started

    def next_step(self) -> Sleep | Send | Answered[T] | Failure:
        """What the driver does next: sleep, send a query, or stop with the outcome."""
        if self._outcome is not None:
            return self._outcome
        if self._retry_tcp:
            # The same server again, over TCP, right away: its answer did not fit UDP.
            self._retry_tcp = False
            return self._send(tcp=True)
        if not self._round:
            if not self._servers:
                self._outcome = Exhausted(self._display, self._rtype.text, tuple(self._errors))
                return self._outcome
            self._round = list(self._servers)
            # Never sleep past the lifetime: the wait ends with the lookup's deadline.
            backoff = min(self._backoff, max(self._config.lifetime - self.elapsed(), 0.0))
            self._backoff = min(self._backoff * 2, _MAX_BACKOFF)
            if backoff > 0:
                return Sleep(backoff)
        self._server = self._round.pop(0)
        return self._send(tcp=False)

    def _send(self, *, tcp: bool) -> Send | Failure:
        elapsed = self.elapsed()
        config = self._config
        if elapsed >= config.lifetime:
            errors = tuple(self._errors)
            self._outcome = LifetimeOver(self._display, self._rtype.text, elapsed, errors)
            return self._outcome
        self._tcp = tcp
        qid = self._rng.getrandbits(16)
        query = _wire.make_query(qid, self._qwire, self._rtype.code)
        timeout = min(config.lifetime - elapsed, config.timeout)
        return Send(
            self._server, config.port, tcp, timeout, qid, self._qname, self._rtype.code, query
        )

    def _error(self, reason: str, *, drop: bool) -> None:
        label = self._server.label(self._config.port)
        self._errors.append(AttemptError(label, self._tcp, reason))
        if drop and self._server in self._servers:
            self._servers.remove(self._server)

    def failed(self, exc: Exception) -> None:
        """The try failed without a usable reply: after a timeout the server is tried again
        in the next round; after anything else (unreachable, connection closed, a malformed
        TCP reply) it is dropped for this name."""
        if isinstance(exc, TimeoutError):
            self._error(f"no answer within {self._config.timeout} s", drop=False)
        else:
            self._error(str(exc) or type(exc).__name__, drop=True)

    def received(self, reply: _wire.Reply) -> None:
        """A reply to the last :class:`Send`: matched by the driver, its records read unless
        it is a truncated UDP reply."""
        if reply.truncated and not self._tcp:
            self._error("a truncated answer", drop=False)
            self._retry_tcp = True
            return
        if reply.rcode in (_NOERROR, _NXDOMAIN):
            try:
                records, ttl = _chase(reply, self._qname, self._rtype)
            except _wire.MalformedMessage as exc:
                self._error(str(exc), drop=True)
                return
            if reply.rcode == _NXDOMAIN:
                self._next_candidate()
                return
            where = f"{self._server.text}:{self._config.port}"
            self._outcome = Answered(self._candidate, tuple(records), ttl, reply.sections[2], where)
        elif reply.rcode == _YXDOMAIN:
            where = f"{self._server.text}:{self._config.port}"
            self._error("YXDOMAIN", drop=False)
            self._outcome = YxDomain(self._display, self._rtype.text, where)
        else:
            self._error(_RCODES.get(reply.rcode, f"RCODE {reply.rcode}"), drop=True)


def _chase(reply: _wire.Reply, qname: str, rtype: RecordType[T]) -> tuple[list[T], int | None]:
    """The records of ``rtype`` for ``qname``, following CNAMEs, and the smallest TTL along
    the chain (dnspython's ``resolve_chaining``); no records for a name without any.

    Raises:
        MalformedMessage: More than 16 CNAMEs (a loop, say), or records with an NXDOMAIN.
    """
    answer = reply.sections[0]
    table = rtype.table(answer)
    name = qname.lower()
    ttl: int | None = None
    for _ in range(_MAX_CHAIN):
        rrset = table.get(name)
        if rrset is not None:
            if reply.rcode == _NXDOMAIN:
                raise _wire.MalformedMessage("an NXDOMAIN answer with records")
            return rrset.items, rrset.ttl if ttl is None else min(ttl, rrset.ttl)
        cname = answer.cname.get(name)
        if cname is None:
            return [], None
        ttl = cname.ttl if ttl is None else min(ttl, cname.ttl)
        name = cname.items[0].lower()
    raise _wire.MalformedMessage(f"a CNAME chain longer than {_MAX_CHAIN}")


def probe_query(config: ClientConfig, name: Name, rng: random.Random) -> Send:
    """One A query for ``name`` without EDNS0 (512 bytes of UDP at most) to the first
    nameserver, waiting ``timeout``: what the simplest client sends."""
    qid = rng.getrandbits(16)
    query = _wire.make_query(qid, name.wire, _wire.A, edns=False)
    server = config.servers[0]
    return Send(server, config.port, False, config.timeout, qid, name.text, _wire.A, query)


# -- assembly: answers into records --------------------------------------------------------


class AddressPlan:
    """The A and/or AAAA lookups of one name, and their answers made into one.

    Args:
        name: The name, checked.
        display: The name as the caller wrote it.
        family: Which address records to ask for (checked).
    """

    def __init__(self, name: Name, display: str, family: Family) -> None:
        self._name = name
        self.display = display
        self.types = _FAMILIES[family]
        self._answers: list[Answered[str]] = []

    def add(self, answer: Answered[str]) -> None:
        """One record type's answer, in the order of :attr:`types`."""
        self._answers.append(answer)

    @property
    def qname(self) -> Name:
        """The name to ask next: after the first answer, the search candidate that answered,
        so the second type does not walk the search list again."""
        return self._answers[0].candidate if self._answers else self._name

    def finish(self) -> AddressAnswer:
        """The addresses of every answer and their smallest TTL.

        Raises:
            ClientError: No answer held an address (:class:`NoData`).
        """
        addresses: list[str] = []
        ttls: list[int] = []
        for answer in self._answers:
            if answer.ttl is not None:
                addresses.extend(answer.records)
                ttls.append(answer.ttl)
        if not addresses:
            rdtype = "/".join(t.text for t in self.types)
            raise ClientError(NoData(self.display, rdtype, self._answers[-1].server))
        return AddressAnswer(
            self.display, tuple(addresses), float(min(ttls)), self._answers[0].server
        )


class SrvPlan:
    """SRV records and the addresses of their targets: from the additional section when the
    server sent them, else from one address lookup per target (the driver's loop).

    Args:
        name: The name as the caller wrote it.
        answer: The SRV answer.
        family: Which addresses to keep (checked).
        config: The client's configuration (for the messages of skipped targets).

    Raises:
        ClientError: The name has no SRV records (:class:`NoData`).
    """

    def __init__(
        self, name: str, answer: Answered[SrvData], family: Family, config: ClientConfig
    ) -> None:
        if answer.ttl is None:
            raise ClientError(NoData(name, "SRV", answer.server))
        self._config = config
        self._name = name
        self._answer = answer
        self._ttls = [answer.ttl]
        self._addresses: dict[str, tuple[str, ...]] = {}
        extra: dict[str, list[str]] = {}
        for rtype in _FAMILIES[family]:
            for owner, rrset in rtype.table(answer.additional).items():
                extra.setdefault(owner, []).extend(rrset.items)
                self._ttls.append(rrset.ttl)
        self._missing: list[str] = []
        for record in answer.records:
            target = record.target
            if target in self._addresses or target in self._missing:
                continue
            known = extra.get(target.lower())
            if known is not None:
                self._addresses[target] = tuple(known)
            else:
                self._missing.append(target)

    @property
    def missing(self) -> Sequence[str]:
        """The targets whose addresses the driver must look up, each once."""
        return self._missing

    def found(self, target: str, answer: AddressAnswer) -> None:
        """The addresses of ``target``."""
        self._addresses[target] = answer.addresses
        self._ttls.append(int(answer.ttl or 0))

    def failed(self, target: str, error: ClientError) -> None:
        """``target`` has no address: its record stays without addresses (and is logged);
        any other failure of its lookup ends the SRV lookup.

        Raises:
            ClientError: ``error``, unless the target does not exist or has no address.
        """
        if not isinstance(error.failure, NxDomain | NoData):
            raise error
        why = error_for(error.failure, self._config)
        logger.warning("SRV target %s has no usable address: %s", target, why)

    def finish(self) -> SrvAnswer:
        """The SRV answer: every record, with the addresses found, and the smallest TTL."""
        records = tuple(
            SrvRecord(
                r.target.rstrip("."),
                r.port,
                r.priority,
                r.weight,
                self._addresses.get(r.target, ()),
            )
            for r in self._answer.records
        )
        return SrvAnswer(self._name, records, float(min(self._ttls)), self._answer.server)


def txt_answer(name: str, answer: Answered[TxtData]) -> TxtAnswer:
    """TXT records as text: each record's strings joined, decoded as UTF-8 (undecodable
    bytes replaced: a TXT record is bytes, not text).

    Raises:
        ClientError: The name has no TXT records (:class:`NoData`).
    """
    if answer.ttl is None:
        raise ClientError(NoData(name, "TXT", answer.server))
    texts = tuple(b"".join(strings).decode("utf-8", "replace") for strings in answer.records)
    return TxtAnswer(name, texts, float(answer.ttl), answer.server)
