"""Resolvers on dnspython: :class:`DnsResolver` (sync) and :class:`AsyncDnsResolver`.

All decisions (which queries, how answers become records, how errors are translated) live in
:class:`_DnsCore`; the two classes below it are the thin drivers that wait on I/O, written
side by side and mirrored line for line.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Generic, TypeVar

import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver

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
from ._messages import no_records, not_found

if TYPE_CHECKING:
    import dns.asyncresolver

__all__ = ["AsyncDnsResolver", "DnsResolver"]

_R = TypeVar("_R", bound=dns.resolver.BaseResolver)

logger = logging.getLogger("headless_discovery")

_FAMILIES: dict[str, tuple[str, ...]] = {
    "any": ("A", "AAAA"),
    "ipv4": ("A",),
    "ipv6": ("AAAA",),
}
_ADDRESS_TYPES = {dns.rdatatype.A: "ipv4", dns.rdatatype.AAAA: "ipv6"}


def _rdtypes(family: Family) -> tuple[str, ...]:
    try:
        return _FAMILIES[family]
    except (KeyError, TypeError):
        raise ConfigurationError(
            f"family must be 'any', 'ipv4' or 'ipv6', not {family!r}"
        ) from None


def _server(answer: dns.resolver.Answer) -> str:
    return f"{answer.nameserver}:{answer.port}"


class _DnsCore(Generic[_R]):
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
        resolver_class: type[_R],
    ) -> None:
        if isinstance(nameservers, str):
            nameservers = [nameservers]
        if not (isinstance(port, int) and 0 < port < 65536):
            raise ConfigurationError(f"port must be from 1 to 65535, not {port!r}")
        if not (timeout > 0 and lifetime > 0):
            raise ConfigurationError("timeout and lifetime must be positive numbers of seconds")
        try:
            resolver = resolver_class(filename=resolv_conf, configure=nameservers is None)
            if nameservers is not None:
                resolver.nameservers = list(nameservers)
        except dns.resolver.NoResolverConfiguration:
            raise ConfigurationError(
                f"no nameserver found in {os.fspath(resolv_conf)}; pass nameservers=[...]"
            ) from None
        except ValueError as exc:
            raise ConfigurationError(f"invalid nameserver in {nameservers!r}: {exc}") from None
        if not resolver.nameservers:
            raise ConfigurationError("no nameservers given; pass nameservers=[...]")
        resolver.port = port
        resolver.timeout = timeout
        resolver.lifetime = lifetime
        self._resolver = resolver
        self.nameservers = tuple(str(ns) for ns in resolver.nameservers)
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

    def _translate(self, exc: Exception, qname: str, rdtype: str, started: float) -> Exception:
        """The one place where dnspython's exceptions become ours."""
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
            detail = "; ".join(f"{err[0]} answered {err[3]}" for err in errors) or str(exc)
            return ResolverUnavailableError(
                f"every nameserver failed for {qname} {rdtype}: {detail}",
                name=qname,
                rdtype=rdtype,
                nameserver=servers,
            )
        if isinstance(exc, (dns.name.NameTooLong, dns.name.LabelTooLong, dns.name.EmptyLabel)):
            return InvalidNameError(qname, str(exc))
        return ResolverUnavailableError(
            f"looking up {qname} {rdtype} at {servers} failed: {type(exc).__name__}: {exc}",
            name=qname,
            rdtype=rdtype,
            nameserver=servers,
        )

    def _check_name(self, name: str) -> str:
        if not isinstance(name, str) or not name:
            raise InvalidNameError(repr(name), "a DNS name must be a non-empty string")
        return name

    @staticmethod
    def _address_answer(name: str, answers: list[dns.resolver.Answer]) -> AddressAnswer:
        addresses: list[str] = []
        ttls: list[int] = []
        for ans in answers:
            if ans.rrset is not None:
                addresses.extend(rd.address for rd in ans.rrset)
                ttls.append(ans.rrset.ttl)
        if not addresses:
            rdtype = "/".join(dns.rdatatype.to_text(a.rdtype) for a in answers)
            raise no_records(name, rdtype, _server(answers[-1]))
        return AddressAnswer(name, tuple(addresses), float(min(ttls)), _server(answers[0]))

    @staticmethod
    def _srv_parts(
        name: str, answer: dns.resolver.Answer, family: Family
    ) -> tuple[list[tuple[str, int, int, int]], dict[str, list[str]], list[int]]:
        """SRV records as (target, port, priority, weight), target addresses from the
        additional section, and the TTLs seen."""
        if answer.rrset is None:
            raise no_records(name, "SRV", _server(answer))
        wanted = {dns.rdatatype.A, dns.rdatatype.AAAA}
        if family != "any":
            wanted = {t for t, fam in _ADDRESS_TYPES.items() if fam == family}
        extra: dict[str, list[str]] = {}
        ttls = [answer.rrset.ttl]
        for rrset in answer.response.additional:
            if rrset.rdtype in wanted:
                extra.setdefault(rrset.name.to_text(), []).extend(rd.address for rd in rrset)
                ttls.append(rrset.ttl)
        records = [(rd.target.to_text(), rd.port, rd.priority, rd.weight) for rd in answer.rrset]
        return records, extra, ttls

    @staticmethod
    def _srv_answer(
        name: str,
        answer: dns.resolver.Answer,
        records: list[tuple[str, int, int, int]],
        addresses: dict[str, tuple[str, ...]],
        ttls: list[int],
    ) -> SrvAnswer:
        srv = tuple(
            SrvRecord(target.rstrip("."), port, prio, weight, addresses.get(target, ()))
            for target, port, prio, weight in records
        )
        return SrvAnswer(name, srv, float(min(ttls)), _server(answer))


class DnsResolver(_DnsCore[dns.resolver.Resolver]):
    """A resolver on dnspython: A, AAAA and SRV records, TTLs, TCP after truncation.

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
            resolver_class=dns.resolver.Resolver,
        )

    def _query(self, qname: str, rdtype: str) -> dns.resolver.Answer:
        started = time.monotonic()
        try:
            return self._resolver.resolve(
                qname, rdtype, search=self.search, raise_on_no_answer=False
            )
        except Exception as exc:
            raise self._translate(exc, qname, rdtype, started) from exc

    def resolve_addresses(self, name: str, *, family: Family = "any") -> AddressAnswer:
        """Look up the A and/or AAAA records of ``name``.

        Raises:
            ServiceNotFoundError: The name does not exist (NXDOMAIN).
            NoEndpointsError: The name has no address records of the family.
            ResolverTimeoutError: No answer within ``lifetime``.
            ResolverUnavailableError: The servers failed (SERVFAIL, REFUSED, unreachable).
            InvalidNameError: ``name`` is not a valid DNS name.
        """
        qname = self._check_name(name)
        answers = []
        for rdtype in _rdtypes(family):
            answers.append(self._query(qname, rdtype))
            # The first answer tells which search candidate exists; don't walk the list again.
            qname = answers[-1].qname.to_text()
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
        answer = self._query(self._check_name(name), "SRV")
        records, extra, ttls = self._srv_parts(name, answer, family)
        addresses: dict[str, tuple[str, ...]] = {}
        for target, *_ in records:
            if target in extra:
                addresses[target] = tuple(extra[target])
            elif target not in addresses:
                try:
                    found = self.resolve_addresses(target, family=family)
                except NoEndpointsError as exc:
                    logger.warning("SRV target %s has no usable address: %s", target, exc)
                    continue
                addresses[target] = found.addresses
                ttls.append(int(found.ttl or 0))
        return self._srv_answer(name, answer, records, addresses, ttls)


class AsyncDnsResolver(_DnsCore["dns.asyncresolver.Resolver"]):
    """The asyncio twin of :class:`DnsResolver`, on ``dns.asyncresolver``.

    Same arguments, same records, same exceptions; the methods are coroutines named
    ``aresolve_addresses`` and ``aresolve_srv`` (the :class:`AsyncResolver` protocol).

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
        # Imported here: dns.asyncresolver pulls in asyncio, which sync users never need.
        import dns.asyncresolver

        super().__init__(
            nameservers,
            port,
            timeout=timeout,
            lifetime=lifetime,
            search=search,
            resolv_conf=resolv_conf,
            resolver_class=dns.asyncresolver.Resolver,
        )

    async def _query(self, qname: str, rdtype: str) -> dns.resolver.Answer:
        started = time.monotonic()
        try:
            return await self._resolver.resolve(
                qname, rdtype, search=self.search, raise_on_no_answer=False
            )
        except Exception as exc:
            raise self._translate(exc, qname, rdtype, started) from exc

    async def aresolve_addresses(self, name: str, *, family: Family = "any") -> AddressAnswer:
        """Look up the A and/or AAAA records of ``name``.

        Raises:
            ServiceNotFoundError: The name does not exist (NXDOMAIN).
            NoEndpointsError: The name has no address records of the family.
            ResolverTimeoutError: No answer within ``lifetime``.
            ResolverUnavailableError: The servers failed (SERVFAIL, REFUSED, unreachable).
            InvalidNameError: ``name`` is not a valid DNS name.
        """
        qname = self._check_name(name)
        answers = []
        for rdtype in _rdtypes(family):
            answers.append(await self._query(qname, rdtype))
            # The first answer tells which search candidate exists; don't walk the list again.
            qname = answers[-1].qname.to_text()
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
        answer = await self._query(self._check_name(name), "SRV")
        records, extra, ttls = self._srv_parts(name, answer, family)
        addresses: dict[str, tuple[str, ...]] = {}
        for target, *_ in records:
            if target in extra:
                addresses[target] = tuple(extra[target])
            elif target not in addresses:
                try:
                    found = await self.aresolve_addresses(target, family=family)
                except NoEndpointsError as exc:
                    logger.warning("SRV target %s has no usable address: %s", target, exc)
                    continue
                addresses[target] = found.addresses
                ttls.append(int(found.ttl or 0))
        return self._srv_answer(name, answer, records, addresses, ttls)
