"""Our own DNS client: :class:`DnsResolver` (sync) and :class:`AsyncDnsResolver`.

The library talks DNS itself rather than through dnspython's resolver. Measured with
``benchmarks/bench_discovery.py`` (see ``docs/explanation/dns-client.md``): a 1000-pod
answer is resolved in about a tenth of dnspython's time, and the asyncio resolver never holds
the event loop for more than about a millisecond, where dnspython's asyncresolver stalls it
for over 100 ms while it parses. dnspython keeps what it does well: reading resolv.conf
(nameservers, search list, ``ndots``, ``rotate``) and checking and encoding names (escapes,
IDNA). It is imported on first use: ``import headless_discovery`` stays cheap.

The layers: :mod:`._wire` reads and writes messages, :mod:`._dnscore` makes every decision
(the lookup loop and the assembly of answers) without I/O, and the two classes here are the
thin drivers that wait on sockets, written side by side and mirrored line for line.
:func:`_map_client_errors` is the one boundary where the client's failures (its own outcomes,
socket errors, malformed replies, refused names) become the library's exceptions.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import random
import socket
import struct
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, TypeVar

from ..endpoints import AddressAnswer, Family, SrvAnswer, TxtAnswer, check_family
from ..environment import RESOLV_CONF
from ..errors import ConfigurationError, InvalidNameError, ResolverUnavailableError
from ._base import UdpProbe
from ._dnscore import (
    SRV,
    TXT,
    AddressPlan,
    Answered,
    ClientConfig,
    ClientError,
    LifetimeOver,
    Lookup,
    Name,
    RecordType,
    Send,
    Server,
    Sleep,
    SrvPlan,
    error_for,
    probe_query,
    txt_answer,
)
from ._wire import MalformedMessage, Reply

if TYPE_CHECKING:
    import asyncio

__all__ = ["AsyncDnsResolver", "DnsResolver"]

T = TypeVar("T")

_ALL = 1 << 30  # read a whole reply at once
# Records read between two turns of the event loop: about half a millisecond on a slow CPU.
_SLICE = 128
_LENGTH = struct.Struct("!H")
_SOCKET_FAMILY = {4: socket.AF_INET, 6: socket.AF_INET6}
# Query IDs must be unpredictable (a guessed ID lets a spoofed reply in): the OS's randomness.
_SYSTEM_RANDOM = random.SystemRandom()
# What a try can fail with, short of a reply: the core decides what each means.
_TRY_ERRORS = (OSError, EOFError, MalformedMessage)


class _NameRefused(Exception):
    """dnspython refused a name: ``name`` as shown in messages, ``reason`` in words."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(name, reason)
        self.name = name
        self.reason = reason


def _parse_name(name: object) -> Name:
    """``name`` checked and encoded by dnspython: relative unless it ends with a dot.

    Raises:
        _NameRefused: dnspython cannot parse or encode it.
    """
    import dns.exception
    import dns.name

    if not isinstance(name, str) or not name:
        raise _NameRefused(repr(name), "a DNS name must be a non-empty string")
    try:
        parsed = dns.name.from_text(name, None)
        # Encoded once up front: some dnspython versions accept an escape such as \999 when
        # parsing and only fail when encoding.
        (parsed if parsed.is_absolute() else parsed.concatenate(dns.name.root)).to_wire()
    except (dns.exception.DNSException, ValueError, struct.error) as exc:
        raise _NameRefused(name, str(exc) or type(exc).__name__) from exc
    absolute = parsed.is_absolute()
    return Name(parsed.labels[:-1] if absolute else parsed.labels, absolute)


def _read_config(
    nameservers: Sequence[str] | None,
    port: int,
    *,
    timeout: float,
    lifetime: float,
    search: bool,
    resolv_conf: str | os.PathLike[str],
) -> ClientConfig:
    """The client's configuration from the arguments and, where they leave it open, from
    resolv.conf (read by dnspython).

    Raises:
        ConfigurationError: No nameserver could be found, or an argument is out of range.
    """
    import ipaddress

    import dns.name
    import dns.resolver

    if isinstance(nameservers, str):
        nameservers = [nameservers]
    if not (isinstance(port, int) and 0 < port < 65536):
        raise ConfigurationError(f"port must be from 1 to 65535, not {port!r}")
    if not (timeout > 0 and lifetime > 0):
        raise ConfigurationError("timeout and lifetime must be positive numbers of seconds")
    try:
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
        servers.append(Server(str(ns), str(ip), ip.version))
    suffixes = list(config.search)
    if not suffixes and config.domain is not None and config.domain != dns.name.root:
        suffixes = [config.domain]
    return ClientConfig(
        servers=tuple(servers),
        port=port,
        timeout=timeout,
        lifetime=lifetime,
        search=search,
        suffixes=tuple(suffix.labels[:-1] for suffix in suffixes),
        ndots=1 if config.ndots is None else config.ndots,
        rotate=bool(config.rotate),
    )


@contextlib.contextmanager
def _map_client_errors(
    config: ClientConfig, name: object, rdtype: str, started: float, clock: Callable[[], float]
) -> Iterator[None]:
    """The one place where the client's failures become the library's exceptions.

    A lookup's failure (:class:`ClientError`) becomes what :func:`error_for` says; a name
    dnspython refuses becomes :class:`InvalidNameError`; a socket timeout outside the lookup
    loop (the UDP probe's one try) is a :class:`ResolverTimeoutError` like a lookup's; any
    other socket error or a malformed reply is a :class:`ResolverUnavailableError`. Each is
    raised from the original.
    """
    try:
        yield
    except ClientError as exc:
        raise error_for(exc.failure, config) from exc
    except _NameRefused as exc:
        raise InvalidNameError(exc.name, exc.reason) from exc
    except TimeoutError as exc:
        failure = LifetimeOver(str(name), rdtype, clock() - started, ())
        raise error_for(failure, config) from exc
    except _TRY_ERRORS as exc:
        servers = config.servers_text
        raise ResolverUnavailableError(
            f"looking up {name} {rdtype} at {servers} failed: {type(exc).__name__}: {exc}",
            name=str(name),
            rdtype=rdtype,
            nameserver=servers,
        ) from exc


class _DnsClient:
    """Configuration and the lookups' construction, shared by the sync and async resolvers."""

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
        self._config = _read_config(
            nameservers,
            port,
            timeout=timeout,
            lifetime=lifetime,
            search=search,
            resolv_conf=resolv_conf,
        )
        # The probe sends one try to the first server: its messages name only that server.
        self._probe_config = dataclasses.replace(
            self._config, servers=self._config.servers[:1], lifetime=timeout
        )
        # Injected by tests (a fake clock, a seeded generator); monotonic and the OS's
        # randomness otherwise.
        self._clock: Callable[[], float] = time.monotonic
        self._rng: random.Random = _SYSTEM_RANDOM
        self.nameservers = tuple(server.text for server in self._config.servers)
        self.port = port
        self.timeout = timeout
        self.lifetime = lifetime
        self.search = search

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(nameservers={list(self.nameservers)!r}, port={self.port}, "
            f"timeout={self.timeout}, lifetime={self.lifetime}, search={self.search})"
        )

    def _lookup(self, name: Name, display: str, rtype: RecordType[T], started: float) -> Lookup[T]:
        return Lookup(
            self._config,
            name,
            rtype,
            display=display,
            started=started,
            clock=self._clock,
            rng=self._rng,
        )

    @contextlib.contextmanager
    def _boundary(self, name: object, rdtype: str) -> Iterator[float]:
        """The error boundary around one lookup; gives the time it started (one lifetime
        covers every query of it)."""
        started = self._clock()
        with _map_client_errors(self._config, name, rdtype, started, self._clock):
            yield started


# -- the drivers: waiting on sockets, mirrored ------------------------------------------------


class DnsResolver(_DnsClient):
    """Our own DNS client: A, AAAA, SRV and TXT records, TTLs, TCP after truncation.

    Queries carry EDNS0 with a 1232-byte UDP payload, so answers of up to about 70 addresses
    come over UDP; larger ones are truncated and asked again over TCP. Nameservers, the
    search list, ``ndots`` and ``rotate`` come from resolv.conf unless given.

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

    Example::

        resolver = DnsResolver(timeout=1.0, lifetime=3.0)
        answer = resolver.resolve_srv("_mongodb._tcp.mongodb.db.svc.cluster.local.")

    .. versionadded:: 0.1.0
    """

    def _query(self, name: Name, display: str, rtype: RecordType[T], started: float) -> Answered[T]:
        lookup = self._lookup(name, display, rtype, started)
        while True:
            step = lookup.next_step()
            if isinstance(step, Sleep):
                time.sleep(step.seconds)
            elif isinstance(step, Send):
                try:
                    reply = self._tcp(step) if step.tcp else self._udp(step)
                except _TRY_ERRORS as exc:
                    lookup.failed(exc)
                else:
                    lookup.received(reply)
            elif isinstance(step, Answered):
                return step
            else:
                raise ClientError(step)

    def _udp(self, send: Send) -> Reply:
        """One query over UDP; replies from elsewhere, to other queries, or unreadable are
        ignored (as dnspython's resolver does) until the try's timeout.

        Raises:
            TimeoutError: No reply in time.
            OSError: The socket failed.
        """
        deadline = self._clock() + send.timeout
        where = (send.server.address, send.port)
        with socket.socket(_SOCKET_FAMILY[send.server.version], socket.SOCK_DGRAM) as sock:
            sock.sendto(send.query, where)
            while True:
                remaining = deadline - self._clock()
                if remaining <= 0:
                    raise TimeoutError
                sock.settimeout(remaining)
                wire, source = sock.recvfrom(65535)
                if source[:2] != where:
                    continue
                try:
                    reply = Reply(wire)
                    if not send.matches(reply):
                        continue
                    if not reply.truncated:
                        reply.read(_ALL)
                except MalformedMessage:
                    continue
                return reply

    def _tcp(self, send: Send) -> Reply:
        """One query over TCP (after a truncated UDP reply).

        Raises:
            TimeoutError: No whole reply in time.
            OSError: The connection failed.
            EOFError: The server closed the connection early.
            MalformedMessage: The reply is malformed or answers another query.
        """
        deadline = self._clock() + send.timeout
        with socket.socket(_SOCKET_FAMILY[send.server.version], socket.SOCK_STREAM) as sock:
            sock.settimeout(send.timeout)
            sock.connect((send.server.address, send.port))
            sock.sendall(_LENGTH.pack(len(send.query)) + send.query)
            (size,) = _LENGTH.unpack(self._recv_exactly(sock, 2, deadline))
            wire = self._recv_exactly(sock, size, deadline)
        reply = Reply(wire)
        if not send.matches(reply):
            raise MalformedMessage("the TCP reply answers another query")
        reply.read(_ALL)
        return reply

    def _recv_exactly(self, sock: socket.socket, size: int, deadline: float) -> bytes:
        data = b""
        while len(data) < size:
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise TimeoutError
            sock.settimeout(remaining)
            chunk = sock.recv(size - len(data))
            if not chunk:
                raise EOFError("the server closed the connection early")
            data += chunk
        return data

    def _addresses(self, name: Name, display: str, family: Family, started: float) -> AddressAnswer:
        plan = AddressPlan(name, display, family)
        for rtype in plan.types:
            # One lifetime for the whole lookup: every query gets what is left of it.
            plan.add(self._query(plan.qname, display, rtype, started))
        return plan.finish()

    def resolve_addresses(self, name: str, *, family: Family = "any") -> AddressAnswer:
        """Look up the A and/or AAAA records of ``name``.

        Raises:
            ServiceNotFoundError: The name does not exist (NXDOMAIN).
            NoEndpointsError: The name has no address records of the family.
            ResolverTimeoutError: No answer within ``lifetime``.
            ResolverUnavailableError: The servers failed (SERVFAIL, REFUSED, unreachable).
            InvalidNameError: ``name`` is not a valid DNS name.
            ConfigurationError: ``family`` is not one of the three.
        """
        family = check_family(family)
        with self._boundary(name, "A/AAAA") as started:
            return self._addresses(_parse_name(name), name, family, started)

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
            ConfigurationError: ``family`` is not one of the three.
        """
        family = check_family(family)
        with self._boundary(name, "SRV") as started:
            answer = self._query(_parse_name(name), name, SRV, started)
            plan = SrvPlan(name, answer, family, self._config)
            for target in plan.missing:
                try:
                    plan.found(
                        target, self._addresses(_parse_name(target), target, family, started)
                    )
                except ClientError as exc:
                    plan.failed(target, exc)
            return plan.finish()

    def resolve_txt(self, name: str) -> TxtAnswer:
        """Look up the TXT records of ``name`` (the :class:`TxtResolver` capability).

        Raises:
            ServiceNotFoundError: The name does not exist (NXDOMAIN).
            NoEndpointsError: The name has no TXT records.
            ResolverTimeoutError: No answer within ``lifetime``.
            ResolverUnavailableError: The servers failed (SERVFAIL, REFUSED, unreachable).
            InvalidNameError: ``name`` is not a valid DNS name.

        .. versionadded:: 0.1.0
        """
        with self._boundary(name, "TXT") as started:
            return txt_answer(name, self._query(_parse_name(name), name, TXT, started))

    def probe_udp(self, name: str) -> UdpProbe:
        """Send one A query for ``name`` over UDP without EDNS0 to the first nameserver and
        report whether the answer was truncated (the :class:`UdpProbing` capability).

        Raises:
            ResolverTimeoutError: No answer within ``timeout``.
            ResolverUnavailableError: The query failed.
            InvalidNameError: ``name`` is not a valid DNS name.

        .. versionadded:: 0.1.0
        """
        started = self._clock()
        config = self._probe_config
        with _map_client_errors(config, name, "A", started, self._clock):
            send = probe_query(config, _parse_name(name), self._rng)
            reply = self._udp(send)
            # A truncated answer holds what fitted: count that, wherever it was cut.
            with contextlib.suppress(MalformedMessage):
                reply.read(_ALL)
            records = sum(len(rrset.items) for rrset in reply.sections[0].a.values())
            return UdpProbe(send.where, reply.truncated, records)


class AsyncDnsResolver(_DnsClient):
    """The asyncio twin of :class:`DnsResolver`.

    Same arguments, same records, same exceptions; the methods are coroutines named
    ``aresolve_addresses``, ``aresolve_srv`` and ``aresolve_txt`` (the
    :class:`AsyncResolver` and :class:`AsyncTxtResolver` protocols). Replies are read in
    slices with a turn of the event loop in between: a thousand-record answer never blocks
    the loop for more than about a millisecond at a time.

    .. versionadded:: 0.1.0
    """

    async def _query(
        self, name: Name, display: str, rtype: RecordType[T], started: float
    ) -> Answered[T]:
        import asyncio  # not at module level: sync users never pay for importing asyncio

        lookup = self._lookup(name, display, rtype, started)
        while True:
            step = lookup.next_step()
            if isinstance(step, Sleep):
                await asyncio.sleep(step.seconds)
            elif isinstance(step, Send):
                try:
                    reply = await (self._atcp(step) if step.tcp else self._audp(step))
                except _TRY_ERRORS as exc:
                    lookup.failed(exc)
                else:
                    lookup.received(reply)
            elif isinstance(step, Answered):
                return step
            else:
                raise ClientError(step)

    async def _audp(self, send: Send) -> Reply:
        """One query over UDP; unreadable replies, replies to other queries and ICMP errors
        ("port unreachable") are ignored until the try's timeout, as by
        :meth:`DnsResolver._udp`.

        The socket is connected, so the kernel drops datagrams from other addresses
        (``loop.sock_recvfrom`` is not in Python 3.10), and reports ICMP errors, which an
        unconnected socket would never see: they are skipped to behave alike.

        Raises:
            TimeoutError: No reply in time.
            OSError: The socket failed.
        """
        import asyncio

        loop = asyncio.get_running_loop()
        deadline = self._clock() + send.timeout
        with socket.socket(_SOCKET_FAMILY[send.server.version], socket.SOCK_DGRAM) as sock:
            sock.setblocking(False)
            sock.connect((send.server.address, send.port))
            await loop.sock_sendall(sock, send.query)
            while True:
                remaining = deadline - self._clock()
                if remaining <= 0:
                    raise TimeoutError
                try:
                    wire = await asyncio.wait_for(loop.sock_recv(sock, 65535), remaining)
                except asyncio.TimeoutError:  # not TimeoutError before Python 3.11
                    raise TimeoutError from None
                except ConnectionRefusedError:
                    continue
                try:
                    reply = Reply(wire)
                    if not send.matches(reply):
                        continue
                    if not reply.truncated:
                        while not reply.read(_SLICE):
                            await asyncio.sleep(0)
                except MalformedMessage:
                    continue
                return reply

    async def _atcp(self, send: Send) -> Reply:
        """One query over TCP (after a truncated UDP reply).

        Raises:
            TimeoutError: No whole reply in time.
            OSError: The connection failed.
            EOFError: The server closed the connection early.
            MalformedMessage: The reply is malformed or answers another query.
        """
        import asyncio

        loop = asyncio.get_running_loop()
        with socket.socket(_SOCKET_FAMILY[send.server.version], socket.SOCK_STREAM) as sock:
            sock.setblocking(False)
            exchange = _atcp_exchange(loop, sock, (send.server.address, send.port), send.query)
            try:
                wire = await asyncio.wait_for(exchange, send.timeout)
            except asyncio.TimeoutError:  # not TimeoutError before Python 3.11
                raise TimeoutError from None
        reply = Reply(wire)
        if not send.matches(reply):
            raise MalformedMessage("the TCP reply answers another query")
        while not reply.read(_SLICE):
            await asyncio.sleep(0)
        return reply

    async def _aaddresses(
        self, name: Name, display: str, family: Family, started: float
    ) -> AddressAnswer:
        plan = AddressPlan(name, display, family)
        for rtype in plan.types:
            # One lifetime for the whole lookup: every query gets what is left of it.
            plan.add(await self._query(plan.qname, display, rtype, started))
        return plan.finish()

    async def aresolve_addresses(self, name: str, *, family: Family = "any") -> AddressAnswer:
        """Look up the A and/or AAAA records of ``name``.

        Raises:
            ResolutionError: As :meth:`DnsResolver.resolve_addresses`.
            InvalidNameError: ``name`` is not a valid DNS name.
            ConfigurationError: ``family`` is not one of the three.
        """
        family = check_family(family)
        with self._boundary(name, "A/AAAA") as started:
            return await self._aaddresses(_parse_name(name), name, family, started)

    async def aresolve_srv(self, name: str, *, family: Family = "any") -> SrvAnswer:
        """Look up the SRV records of ``name`` and the addresses of their targets.

        Raises:
            ResolutionError: As :meth:`DnsResolver.resolve_srv`.
            InvalidNameError: ``name`` is not a valid DNS name.
            ConfigurationError: ``family`` is not one of the three.
        """
        family = check_family(family)
        with self._boundary(name, "SRV") as started:
            answer = await self._query(_parse_name(name), name, SRV, started)
            plan = SrvPlan(name, answer, family, self._config)
            for target in plan.missing:
                try:
                    plan.found(
                        target, await self._aaddresses(_parse_name(target), target, family, started)
                    )
                except ClientError as exc:
                    plan.failed(target, exc)
            return plan.finish()

    async def aresolve_txt(self, name: str) -> TxtAnswer:
        """Look up the TXT records of ``name`` (the :class:`AsyncTxtResolver` capability).

        Raises:
            ResolutionError: As :meth:`DnsResolver.resolve_txt`.
            InvalidNameError: ``name`` is not a valid DNS name.

        .. versionadded:: 0.1.0
        """
        with self._boundary(name, "TXT") as started:
            return txt_answer(name, await self._query(_parse_name(name), name, TXT, started))


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
            raise EOFError("the server closed the connection early")
        data += chunk
    return data
