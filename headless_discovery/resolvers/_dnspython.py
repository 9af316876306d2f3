"""Resolvers on dnspython: :class:`DnsResolver` (sync) and :class:`AsyncDnsResolver`.

All decisions live in pure code: :class:`_DnsCore` decides which queries to make, how answers
become records and how errors are translated; :class:`_Lookup` is the loop of dnspython's
resolver (search candidates, nameserver rotation, retries, TCP after truncation, lifetime)
without its waiting; :mod:`._wire` builds queries and reads replies. The two classes at the
end are the thin drivers that wait on sockets, written side by side and mirrored line for
line.

dnspython reads the configuration (resolv.conf) and checks names, and its exception types
carry failures to :meth:`_DnsCore._translate`, the one place they become ours; messages are
read by :mod:`._wire`, which reads a thousand-record answer several times faster than
``dns.message.from_wire`` and in slices, so that the asyncio resolver never blocks its event
loop for long. dnspython itself is imported on first use: ``import headless_discovery`` stays
cheap.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import struct
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple, cast

from ..endpoints import AddressAnswer, Family, SrvAnswer, SrvRecord
from ..environment import RESOLV_CONF
from ..errors import (
    ConfigurationError,
    DiscoveryError,
    InvalidNameError,
    NoEndpointsError,
    ResolverTimeoutError,
    ResolverUnavailableError,
)
from . import _wire
from ._messages import no_records, not_found

if TYPE_CHECKING:
    import asyncio

    import dns.name

__all__ = ["AsyncDnsResolver", "DnsResolver"]

logger = logging.getLogger("headless_discovery")

_FAMILIES: dict[str, tuple[str, ...]] = {
    "any": ("A", "AAAA"),
    "ipv4": ("A",),
    "ipv6": ("AAAA",),
}
_TYPES = {"A": _wire.A, "AAAA": _wire.AAAA, "SRV": _wire.SRV}
_TYPE_NAMES = {code: name for name, code in _TYPES.items()}
_ADDRESS_TYPES = {_wire.A: "ipv4", _wire.AAAA: "ipv6"}
_ALL = 1 << 30  # read a whole reply at once
# Records read between two turns of the event loop: about half a millisecond on a slow CPU.
_SLICE = 128
_NOERROR, _NXDOMAIN, _YXDOMAIN = 0, 3, 6
_MAX_CHAIN = 16  # CNAMEs followed, as dnspython
_LENGTH = struct.Struct("!H")
_random_id = random.SystemRandom().getrandbits
_MISMATCH = "A DNS query response does not respond to the question asked."


def _dns_error(kind: type[Exception], *args: object, **kwargs: object) -> Exception:
    """A dnspython exception (their constructors are untyped)."""
    return kind(*args, **kwargs)


def _rdtypes(family: Family) -> tuple[str, ...]:
    try:
        return _FAMILIES[family]
    except (KeyError, TypeError):
        raise ConfigurationError(
            f"family must be 'any', 'ipv4' or 'ipv6', not {family!r}"
        ) from None


class _Server(NamedTuple):
    """A nameserver: as configured, as the socket layer writes it, its family, and as
    dnspython names it in its errors (``Do53:10.96.0.10@53``)."""

    text: str
    address: str
    family: socket.AddressFamily
    label: str


class _Answer(NamedTuple):
    """One lookup's answer: the records of ``rdtype`` at the end of any CNAME chain."""

    qname: str  # the search candidate that answered
    rdtype: int
    items: list[_wire.Data] | None  # None: the name exists without such records (NODATA)
    ttl: int | None  # the smallest TTL along the chain
    additional: dict[tuple[str, int], _wire.RRset]
    server: str  # "address:port"


class _Lookup:
    """One record type of one name, across search candidates, nameservers and retries.

    The decisions of dnspython's resolver loop (``dns.resolver._Resolution``) without its
    waiting: a driver asks :meth:`next_server` where to send, :meth:`timeout` how long it
    may wait, :meth:`query` what to send, and reports the outcome to :meth:`failed` or
    :meth:`answered`. Outcomes that end the lookup are raised as dnspython's exceptions
    (``NXDOMAIN``, ``NoNameservers``, ``LifetimeTimeout``, ``YXDOMAIN``), which
    :meth:`_DnsCore._translate` turns into ours.
    """

    def __init__(self, core: _DnsCore, qname: str, rdtype: int, started: float) -> None:
        import dns.name

        self._core = core
        self.rdtype = rdtype
        self._started = started
        self._candidates = core._candidates(dns.name.from_text(qname, None))
        self._remaining = list(self._candidates)
        self.server = core._servers[0]
        self.tcp = False
        self._next_candidate()

    def _next_candidate(self) -> None:
        import dns.resolver

        if not self._remaining:
            raise _dns_error(dns.resolver.NXDOMAIN, qnames=self._candidates, responses={})
        self.qname = self._remaining.pop(0)
        self.qtext = self.qname.to_text()
        self._qwire = self.qname.to_wire() or b""
        self._servers = list(self._core._servers)
        if self._core._rotate:
            random.shuffle(self._servers)
        self._round = list(self._servers)
        self.errors: list[tuple[str, bool, int, object, None]] = []
        self._retry_tcp = False
        self._backoff = 0.1

    def next_server(self) -> float:
        """Choose :attr:`server` and :attr:`tcp` for the next attempt; return the seconds
        to sleep first (after a round in which every server failed).

        Raises:
            dns.resolver.NoNameservers: Every server gave an answer we cannot use.
        """
        if self._retry_tcp:
            self._retry_tcp = False
            self.tcp = True
            return 0.0
        backoff = 0.0
        if not self._round:
            if not self._servers:
                import dns.message
                import dns.resolver

                request = dns.message.make_query(self.qname, _TYPE_NAMES[self.rdtype])
                raise _dns_error(dns.resolver.NoNameservers, request=request, errors=self.errors)
            self._round = list(self._servers)
            # Never sleep past the lifetime: the wait ends with the lookup's deadline.
            backoff = min(self._backoff, max(self._core.lifetime - self.elapsed(), 0.0))
            self._backoff = min(self._backoff * 2, 2.0)
        self.server = self._round.pop(0)
        self.tcp = False
        return backoff

    def timeout(self) -> float:
        """Seconds the next attempt may wait: ``timeout``, cut to what is left of ``lifetime``.

        Raises:
            dns.resolver.LifetimeTimeout: The lifetime is over.
        """
        elapsed = self.elapsed()
        if elapsed >= self._core.lifetime:
            import dns.resolver

            raise _dns_error(dns.resolver.LifetimeTimeout, timeout=elapsed, errors=self.errors)
        return min(self._core.lifetime - elapsed, self._core.timeout)

    def elapsed(self) -> float:
        """Seconds since the whole lookup (every query of it) began."""
        return time.monotonic() - self._started

    def query(self) -> tuple[int, bytes]:
        """A fresh query ID and the query to send."""
        qid = _random_id(16)
        return qid, _wire.make_query(qid, self._qwire, self.rdtype)

    def _error(self, error: object, *, drop: bool) -> None:
        self.errors.append((self.server.label, self.tcp, self._core.port, error, None))
        if drop and self.server in self._servers:
            self._servers.remove(self.server)

    def failed(self, exc: Exception) -> None:
        """The attempt failed: a broken server is dropped, a timeout is retried later."""
        import dns.exception

        broken = (dns.exception.FormError, EOFError, OSError, NotImplementedError)
        self._error(exc, drop=isinstance(exc, broken))

    def answered(self, reply: _wire.Reply) -> _Answer | None:
        """The answer, or ``None`` when the lookup goes on (next server, candidate, TCP).

        Raises:
            dns.resolver.NXDOMAIN: No candidate name exists.
            dns.resolver.YXDOMAIN: The server answered YXDOMAIN.
        """
        import dns.rcode
        import dns.resolver

        if reply.truncated and not self.tcp:
            import dns.message

            self._error(_dns_error(dns.message.Truncated, message=None), drop=False)
            self._retry_tcp = True
            return None
        if reply.rcode in (_NOERROR, _NXDOMAIN):
            try:
                items, ttl = _chase(reply, self.qtext, self.rdtype)
            except Exception as exc:  # a CNAME chain too long, an answer with NXDOMAIN
                self._error(exc, drop=True)
                return None
            if reply.rcode == _NXDOMAIN:
                self._next_candidate()
                return None
            server = f"{self.server.text}:{self._core.port}"
            return _Answer(self.qtext, self.rdtype, items, ttl, reply.sections[2], server)
        if reply.rcode == _YXDOMAIN:
            error = _dns_error(dns.resolver.YXDOMAIN)
            self._error(error, drop=False)
            raise error
        self._error(dns.rcode.to_text(reply.rcode), drop=True)
        return None


def _chase(
    reply: _wire.Reply, qname: str, rdtype: int
) -> tuple[list[_wire.Data] | None, int | None]:
    """The records of ``rdtype`` for ``qname``, following CNAMEs, and the smallest TTL
    along the chain (dnspython's ``resolve_chaining``).

    Raises:
        dns.message.ChainTooLong: More than 16 CNAMEs (a loop, say).
        dns.message.AnswerForNXDOMAIN: Records with an NXDOMAIN.
    """
    import dns.message

    answer = reply.sections[0]
    name = qname.lower()
    ttl: int | None = None
    for _ in range(_MAX_CHAIN):
        rrset = answer.get((name, rdtype))
        if rrset is not None:
            if reply.rcode == _NXDOMAIN:
                raise _dns_error(dns.message.AnswerForNXDOMAIN)
            return rrset.items, rrset.ttl if ttl is None else min(ttl, rrset.ttl)
        cname = answer.get((name, _wire.CNAME))
        if cname is None:
            return None, None
        ttl = cname.ttl if ttl is None else min(ttl, cname.ttl)
        name = str(cname.items[0]).lower()
    raise _dns_error(dns.message.ChainTooLong)


class _DnsCore:
    """Configuration and every decision shared by the sync and async resolvers."""

    def __init__(
        self,
        nameservers: Sequence[str] | None,
        port: int,
        *,
        timeout: float,
        lifetime: float,
        search: bool,
        resolv_conf: str | os.PathLike[str],
    ) -> None:
        import ipaddress

        import dns.resolver

        if isinstance(nameservers, str):
            nameservers = [nameservers]
        if not (isinstance(port, int) and 0 < port < 65536):
            raise ConfigurationError(f"port must be from 1 to 65535, not {port!r}")
        if not (timeout > 0 and lifetime > 0):
            raise ConfigurationError("timeout and lifetime must be positive numbers of seconds")
        try:
            # dnspython reads resolv.conf: nameservers, search list, ndots, rotate.
            config = dns.resolver.Resolver(filename=resolv_conf, configure=nameservers is None)
            if nameservers is not None:
                config.nameservers = list(nameservers)
        except dns.resolver.NoResolverConfiguration:
            raise ConfigurationError(
                f"no nameserver found in {os.fspath(resolv_conf)}; pass nameservers=[...]"
            ) from None
        except ValueError as exc:
            raise ConfigurationError(f"invalid nameserver in {nameservers!r}: {exc}") from None
        if not config.nameservers:
            raise ConfigurationError("no nameservers given; pass nameservers=[...]")
        servers = []
        for ns in config.nameservers:
            ip = ipaddress.ip_address(str(ns))
            family = socket.AF_INET if ip.version == 4 else socket.AF_INET6
            servers.append(_Server(str(ns), str(ip), family, f"Do53:{ns}@{port}"))
        self._servers = tuple(servers)
        self._search_list = list(config.search)
        self._domain = config.domain
        self._ndots = config.ndots
        self._rotate = config.rotate
        self.nameservers = tuple(server.text for server in servers)
        self.port = port
        self.timeout = timeout
        self.lifetime = lifetime
        self.search = search

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(nameservers={list(self.nameservers)!r}, port={self.port}, "
            f"timeout={self.timeout}, lifetime={self.lifetime}, search={self.search})"
        )

    def _servers_text(self) -> str:
        return ", ".join(f"{ns}:{self.port}" for ns in self.nameservers)

    def _candidates(self, qname: dns.name.Name) -> list[dns.name.Name]:
        """The names to try, in order: dnspython's search rules (``_get_qnames_to_try``)."""
        import dns.name

        if qname.is_absolute():
            return [qname]
        absolute = qname.concatenate(dns.name.root)
        if not self.search:
            return [absolute]
        if self._search_list:
            suffixes = self._search_list
        elif self._domain is not None and self._domain != dns.name.root:
            suffixes = [self._domain]
        else:
            suffixes = []
        found = [qname + suffix for suffix in suffixes]
        ndots = 1 if self._ndots is None else self._ndots
        if len(qname) > ndots:
            found.insert(0, absolute)
        else:
            found.append(absolute)
        return found

    def _translate(self, exc: Exception, qname: str, rdtype: str, started: float) -> Exception:
        """The one place where dnspython's exceptions become ours."""
        import dns.exception
        import dns.name
        import dns.resolver

        elapsed = time.monotonic() - started
        servers = self._servers_text()
        if isinstance(exc, DiscoveryError):
            return exc
        if isinstance(exc, dns.resolver.NXDOMAIN):
            return not_found(qname, rdtype, servers)
        if isinstance(exc, dns.exception.Timeout):
            return ResolverTimeoutError(
                f"no answer for {qname} {rdtype} from {servers} after {elapsed:.2f} s "
                f"(timeout {self.timeout} s, lifetime {self.lifetime} s): is the nameserver "
                "reachable from here, and is it the cluster DNS?",
                name=qname,
                rdtype=rdtype,
                nameserver=servers,
                elapsed=elapsed,
            )
        if isinstance(exc, dns.resolver.NoNameservers):
            errors = exc.kwargs.get("errors") or []
            detail = "; ".join(
                f"{err[0]} answered {str(err[3]) or type(err[3]).__name__}" for err in errors
            )
            detail = detail or str(exc)
            return ResolverUnavailableError(
                f"every nameserver failed for {qname} {rdtype}: {detail}",
                name=qname,
                rdtype=rdtype,
                nameserver=servers,
            )
        # Names dnspython cannot parse (bad escapes, empty or long labels, bad IDNA).
        if isinstance(
            exc, (dns.exception.SyntaxError, dns.name.NameTooLong, dns.name.IDNAException)
        ):
            return InvalidNameError(qname, str(exc) or type(exc).__name__)
        return ResolverUnavailableError(
            f"looking up {qname} {rdtype} at {servers} failed: {type(exc).__name__}: {exc}",
            name=qname,
            rdtype=rdtype,
            nameserver=servers,
        )

    def _check_name(self, name: str) -> str:
        import dns.exception
        import dns.name

        if not isinstance(name, str) or not name:
            raise InvalidNameError(repr(name), "a DNS name must be a non-empty string")
        try:
            # Parsed and encoded once up front: some dnspython versions accept an escape
            # such as \999 when parsing and only fail when encoding the query.
            dns.name.from_text(name).to_wire()
        except (dns.exception.DNSException, ValueError, struct.error) as exc:
            raise InvalidNameError(name, str(exc) or type(exc).__name__) from None
        return name

    @staticmethod
    def _address_answer(name: str, answers: list[_Answer]) -> AddressAnswer:
        addresses: list[str] = []
        ttls: list[int] = []
        for ans in answers:
            if ans.items is not None and ans.ttl is not None:
                addresses.extend(cast("list[str]", ans.items))
                ttls.append(ans.ttl)
        if not addresses:
            rdtype = "/".join(_TYPE_NAMES[a.rdtype] for a in answers)
            raise no_records(name, rdtype, answers[-1].server)
        return AddressAnswer(name, tuple(addresses), float(min(ttls)), answers[0].server)

    @staticmethod
    def _srv_parts(
        name: str, answer: _Answer, family: Family
    ) -> tuple[list[tuple[str, int, int, int]], dict[str, list[str]], list[int]]:
        """SRV records as (target, port, priority, weight), target addresses from the
        additional section (by lower-case name), and the TTLs seen."""
        if answer.items is None or answer.ttl is None:
            raise no_records(name, "SRV", answer.server)
        wanted = {t for t, fam in _ADDRESS_TYPES.items() if family in ("any", fam)}
        extra: dict[str, list[str]] = {}
        ttls = [answer.ttl]
        for (owner, rdtype), rrset in answer.additional.items():
            if rdtype in wanted:
                extra.setdefault(owner, []).extend(cast("list[str]", rrset.items))
                ttls.append(rrset.ttl)
        records = [
            (target, port, prio, weight)
            for prio, weight, port, target in cast("list[tuple[int, int, int, str]]", answer.items)
        ]
        return records, extra, ttls

    @staticmethod
    def _srv_answer(
        name: str,
        answer: _Answer,
        records: list[tuple[str, int, int, int]],
        addresses: dict[str, tuple[str, ...]],
        ttls: list[int],
    ) -> SrvAnswer:
        srv = tuple(
            SrvRecord(target.rstrip("."), port, prio, weight, addresses.get(target, ()))
            for target, port, prio, weight in records
        )
        return SrvAnswer(name, srv, float(min(ttls)), answer.server)


# -- the drivers: waiting on sockets, mirrored ------------------------------------------------


def _timed_out(timeout: float) -> Exception:
    import dns.exception

    return _dns_error(dns.exception.Timeout, timeout=timeout)


def _mismatch() -> Exception:
    import dns.exception

    return _dns_error(dns.exception.FormError, _MISMATCH)


class DnsResolver(_DnsCore):
    """A resolver on dnspython: A, AAAA and SRV records, TTLs, TCP after truncation.

    Queries carry EDNS0 with a 1232-byte UDP payload, so answers of up to about 70 addresses
    come over UDP; larger ones are truncated and asked again over TCP.

    Args:
        nameservers: Addresses of the nameservers; read from ``resolv_conf`` when ``None``.
        port: Their port.
        timeout: Seconds to wait for one server's answer.
        lifetime: Seconds a whole lookup may take, across servers and retries.
        search: Apply the resolv.conf search list (and ``ndots``) to relative names. Off
            by default: the library sends absolute names, which cost one query.
        resolv_conf: The file to read nameservers and the search list from.

    Raises:
        ConfigurationError: No nameserver could be found, or an argument is out of range.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        nameservers: Sequence[str] | None = None,
        port: int = 53,
        *,
        timeout: float = 2.0,
        lifetime: float = 5.0,
        search: bool = False,
        resolv_conf: str | os.PathLike[str] = RESOLV_CONF,
    ) -> None:
        super().__init__(
            nameservers,
            port,
            timeout=timeout,
            lifetime=lifetime,
            search=search,
            resolv_conf=resolv_conf,
        )

    def _query(self, qname: str, rdtype: str, started: float) -> _Answer:
        try:
            lookup = _Lookup(self, qname, _TYPES[rdtype], started)
            while True:
                backoff = lookup.next_server()
                if backoff:
                    time.sleep(backoff)
                timeout = lookup.timeout()
                try:
                    reply = self._tcp(lookup, timeout) if lookup.tcp else self._udp(lookup, timeout)
                except Exception as exc:
                    lookup.failed(exc)
                    continue
                answer = lookup.answered(reply)
                if answer is not None:
                    return answer
        except Exception as exc:
            raise self._translate(exc, qname, rdtype, started) from exc

    def _udp(self, lookup: _Lookup, timeout: float) -> _wire.Reply:
        """One query over UDP; replies from elsewhere, to other queries, or unreadable are
        ignored (as dnspython's resolver does) until ``timeout``."""
        qid, query = lookup.query()
        server = lookup.server
        deadline = time.monotonic() + timeout
        with socket.socket(server.family, socket.SOCK_DGRAM) as sock:
            sock.sendto(query, (server.address, self.port))
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise _timed_out(timeout)
                sock.settimeout(remaining)
                try:
                    wire, source = sock.recvfrom(65535)
                except TimeoutError:
                    raise _timed_out(timeout) from None
                if source[0] != server.address or source[1] != self.port:
                    continue
                try:
                    reply = _wire.Reply(wire)
                    if not reply.answers(qid, lookup.qtext, lookup.rdtype):
                        continue
                    if not reply.truncated:
                        reply.read(_ALL)
                except Exception:
                    continue
                return reply

    def _tcp(self, lookup: _Lookup, timeout: float) -> _wire.Reply:
        """One query over TCP (after a truncated UDP reply)."""
        qid, query = lookup.query()
        server = lookup.server
        deadline = time.monotonic() + timeout
        with socket.socket(server.family, socket.SOCK_STREAM) as sock:
            try:
                sock.settimeout(timeout)
                sock.connect((server.address, self.port))
                sock.sendall(_LENGTH.pack(len(query)) + query)
                (size,) = _LENGTH.unpack(_recv_exactly(sock, 2, deadline))
                wire = _recv_exactly(sock, size, deadline)
            except TimeoutError:
                raise _timed_out(timeout) from None
        reply = _wire.Reply(wire)
        if not reply.answers(qid, lookup.qtext, lookup.rdtype):
            raise _mismatch()
        reply.read(_ALL)
        return reply

    def resolve_addresses(self, name: str, *, family: Family = "any") -> AddressAnswer:
        """Look up the A and/or AAAA records of ``name``.

        Raises:
            ServiceNotFoundError: The name does not exist (NXDOMAIN).
            NoEndpointsError: The name has no address records of the family.
            ResolverTimeoutError: No answer within ``lifetime``.
            ResolverUnavailableError: The servers failed (SERVFAIL, REFUSED, unreachable).
            InvalidNameError: ``name`` is not a valid DNS name.
        """
        return self._resolve_addresses(name, family, time.monotonic())

    def _resolve_addresses(self, name: str, family: Family, started: float) -> AddressAnswer:
        qname = self._check_name(name)
        answers = []
        for rdtype in _rdtypes(family):
            # One lifetime for the whole lookup: every query gets what is left of it.
            answers.append(self._query(qname, rdtype, started))
            # The first answer tells which search candidate exists; don't walk the list again.
            qname = answers[-1].qname
        return self._address_answer(name, answers)

    def resolve_srv(self, name: str, *, family: Family = "any") -> SrvAnswer:
        """Look up the SRV records of ``name`` and the addresses of their targets.

        Target addresses come from the additional section when the server sends them,
        otherwise from one address lookup per target.

        Raises:
            ServiceNotFoundError: The name does not exist (NXDOMAIN).
            NoEndpointsError: The name has no SRV records.
            ResolverTimeoutError: No answer within ``lifetime``.
            ResolverUnavailableError: The servers failed (SERVFAIL, REFUSED, unreachable).
            InvalidNameError: ``name`` is not a valid DNS name.
        """
        _rdtypes(family)
        started = time.monotonic()
        answer = self._query(self._check_name(name), "SRV", started)
        records, extra, ttls = self._srv_parts(name, answer, family)
        addresses: dict[str, tuple[str, ...]] = {}
        for target, *_ in records:
            if target in addresses:
                continue
            known = extra.get(target.lower())
            if known is not None:
                addresses[target] = tuple(known)
                continue
            try:
                found = self._resolve_addresses(target, family, started)
            except NoEndpointsError as exc:
                logger.warning("SRV target %s has no usable address: %s", target, exc)
                continue
            addresses[target] = found.addresses
            ttls.append(int(found.ttl or 0))
        return self._srv_answer(name, answer, records, addresses, ttls)


def _recv_exactly(sock: socket.socket, size: int, deadline: float) -> bytes:
    data = b""
    while len(data) < size:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        sock.settimeout(remaining)
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise EOFError("EOF")
        data += chunk
    return data


class AsyncDnsResolver(_DnsCore):
    """The asyncio twin of :class:`DnsResolver`.

    Same arguments, same records, same exceptions; the methods are coroutines named
    ``aresolve_addresses`` and ``aresolve_srv`` (the :class:`AsyncResolver` protocol).
    Replies are read in slices with a turn of the event loop in between: a thousand-record
    answer never blocks the loop for more than about a millisecond at a time.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        nameservers: Sequence[str] | None = None,
        port: int = 53,
        *,
        timeout: float = 2.0,
        lifetime: float = 5.0,
        search: bool = False,
        resolv_conf: str | os.PathLike[str] = RESOLV_CONF,
    ) -> None:
        super().__init__(
            nameservers,
            port,
            timeout=timeout,
            lifetime=lifetime,
            search=search,
            resolv_conf=resolv_conf,
        )

    async def _query(self, qname: str, rdtype: str, started: float) -> _Answer:
        import asyncio  # not at module level: sync users never pay for importing asyncio

        try:
            lookup = _Lookup(self, qname, _TYPES[rdtype], started)
            while True:
                backoff = lookup.next_server()
                if backoff:
                    await asyncio.sleep(backoff)
                timeout = lookup.timeout()
                try:
                    if lookup.tcp:  # mirrors DnsResolver._query
                        reply = await self._atcp(lookup, timeout)
                    else:
                        reply = await self._audp(lookup, timeout)
                except Exception as exc:
                    lookup.failed(exc)
                    continue
                answer = lookup.answered(reply)
                if answer is not None:
                    return answer
        except Exception as exc:
            raise self._translate(exc, qname, rdtype, started) from exc

    async def _audp(self, lookup: _Lookup, timeout: float) -> _wire.Reply:
        """One query over UDP; unreadable replies, replies to other queries and ICMP errors
        ("port unreachable") are ignored until ``timeout``, as by :meth:`DnsResolver._udp`.

        The socket is connected, so the kernel drops datagrams from other addresses
        (``loop.sock_recvfrom`` is not in Python 3.10), and reports ICMP errors, which an
        unconnected socket would never see: they are skipped to behave alike.
        """
        import asyncio

        loop = asyncio.get_running_loop()
        qid, query = lookup.query()
        server = lookup.server
        deadline = time.monotonic() + timeout
        with socket.socket(server.family, socket.SOCK_DGRAM) as sock:
            sock.setblocking(False)
            sock.connect((server.address, self.port))
            await loop.sock_sendall(sock, query)
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise _timed_out(timeout)
                try:
                    wire = await asyncio.wait_for(loop.sock_recv(sock, 65535), remaining)
                except asyncio.TimeoutError:
                    raise _timed_out(timeout) from None
                except ConnectionRefusedError:
                    continue
                try:
                    reply = _wire.Reply(wire)
                    if not reply.answers(qid, lookup.qtext, lookup.rdtype):
                        continue
                    if not reply.truncated:
                        while not reply.read(_SLICE):
                            await asyncio.sleep(0)
                except Exception:
                    continue
                return reply

    async def _atcp(self, lookup: _Lookup, timeout: float) -> _wire.Reply:
        """One query over TCP (after a truncated UDP reply)."""
        import asyncio

        loop = asyncio.get_running_loop()
        qid, query = lookup.query()
        server = lookup.server
        with socket.socket(server.family, socket.SOCK_STREAM) as sock:
            sock.setblocking(False)
            exchange = _atcp_exchange(loop, sock, (server.address, self.port), query)
            try:
                wire = await asyncio.wait_for(exchange, timeout)
            except asyncio.TimeoutError:
                raise _timed_out(timeout) from None
        reply = _wire.Reply(wire)
        if not reply.answers(qid, lookup.qtext, lookup.rdtype):
            raise _mismatch()
        while not reply.read(_SLICE):
            await asyncio.sleep(0)
        return reply

    async def aresolve_addresses(self, name: str, *, family: Family = "any") -> AddressAnswer:
        """Look up the A and/or AAAA records of ``name``.

        Raises:
            ServiceNotFoundError: The name does not exist (NXDOMAIN).
            NoEndpointsError: The name has no address records of the family.
            ResolverTimeoutError: No answer within ``lifetime``.
            ResolverUnavailableError: The servers failed (SERVFAIL, REFUSED, unreachable).
            InvalidNameError: ``name`` is not a valid DNS name.
        """
        return await self._aresolve_addresses(name, family, time.monotonic())

    async def _aresolve_addresses(self, name: str, family: Family, started: float) -> AddressAnswer:
        qname = self._check_name(name)
        answers = []
        for rdtype in _rdtypes(family):
            # One lifetime for the whole lookup: every query gets what is left of it.
            answers.append(await self._query(qname, rdtype, started))
            # The first answer tells which search candidate exists; don't walk the list again.
            qname = answers[-1].qname
        return self._address_answer(name, answers)

    async def aresolve_srv(self, name: str, *, family: Family = "any") -> SrvAnswer:
        """Look up the SRV records of ``name`` and the addresses of their targets.

        Raises:
            ServiceNotFoundError: The name does not exist (NXDOMAIN).
            NoEndpointsError: The name has no SRV records.
            ResolverTimeoutError: No answer within ``lifetime``.
            ResolverUnavailableError: The servers failed (SERVFAIL, REFUSED, unreachable).
            InvalidNameError: ``name`` is not a valid DNS name.
        """
        _rdtypes(family)
        started = time.monotonic()
        answer = await self._query(self._check_name(name), "SRV", started)
        records, extra, ttls = self._srv_parts(name, answer, family)
        addresses: dict[str, tuple[str, ...]] = {}
        for target, *_ in records:
            if target in addresses:
                continue
            known = extra.get(target.lower())
            if known is not None:
                addresses[target] = tuple(known)
                continue
            try:
                found = await self._aresolve_addresses(target, family, started)
            except NoEndpointsError as exc:
                logger.warning("SRV target %s has no usable address: %s", target, exc)
                continue
            addresses[target] = found.addresses
            ttls.append(int(found.ttl or 0))
        return self._srv_answer(name, answer, records, addresses, ttls)


async def _atcp_exchange(
    loop: asyncio.AbstractEventLoop, sock: socket.socket, where: tuple[str, int], query: bytes
) -> bytes:
    await loop.sock_connect(sock, where)
    await loop.sock_sendall(sock, _LENGTH.pack(len(query)) + query)
    (size,) = _LENGTH.unpack(await _arecv_exactly(loop, sock, 2))
    return await _arecv_exactly(loop, sock, size)


async def _arecv_exactly(loop: asyncio.AbstractEventLoop, sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = await loop.sock_recv(sock, size - len(data))
        if not chunk:
            raise EOFError("EOF")
        data += chunk
    return data
