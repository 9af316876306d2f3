"""The resolver protocols: what a backend must do, sync and async, and the optional
capabilities a backend may add (TXT records, a raw UDP probe). Callers detect a capability
with ``isinstance(resolver, TxtResolver)``; nothing is found by ``getattr``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ..endpoints import AddressAnswer, Family, SrvAnswer, TxtAnswer

__all__ = ["AsyncResolver", "AsyncTxtResolver", "Resolver", "TxtResolver", "UdpProbe", "UdpProbing"]


@runtime_checkable
class Resolver(Protocol):
    """A source of DNS records. Implement both methods; no subclassing needed.

    Names ending in a dot are absolute. Implementations raise the library's own exceptions:
    :class:`~headless_discovery.ServiceNotFoundError` for a name that does not exist,
    :class:`~headless_discovery.NoEndpointsError` for a name without records of the type
    asked, :class:`~headless_discovery.ResolverTimeoutError` and
    :class:`~headless_discovery.ResolverUnavailableError` for failures. They never return
    an empty answer.

    .. versionadded:: 0.1.0
    """

    def resolve_addresses(self, name: str, *, family: Family = "any") -> AddressAnswer:
        """Look up the A and/or AAAA records of ``name``."""
        ...

    def resolve_srv(self, name: str, *, family: Family = "any") -> SrvAnswer:
        """Look up the SRV records of ``name`` and the addresses of their targets."""
        ...


@runtime_checkable
class AsyncResolver(Protocol):
    """The asyncio twin of :class:`Resolver`: the same contract, awaited.

    The methods carry an ``a`` prefix so one class (such as
    :class:`~headless_discovery.StaticResolver`) can serve both protocols.

    .. versionadded:: 0.1.0
    """

    async def aresolve_addresses(self, name: str, *, family: Family = "any") -> AddressAnswer:
        """Look up the A and/or AAAA records of ``name``."""
        ...

    async def aresolve_srv(self, name: str, *, family: Family = "any") -> SrvAnswer:
        """Look up the SRV records of ``name`` and the addresses of their targets."""
        ...


@runtime_checkable
class TxtResolver(Protocol):
    """Optional capability: a resolver that can also look up TXT records.

    ``headless-discovery doctor --mongo`` reads the TXT record MongoDB's ``mongodb+srv``
    takes options from through this protocol. The contract is :class:`Resolver`'s:
    :class:`~headless_discovery.ServiceNotFoundError` for NXDOMAIN,
    :class:`~headless_discovery.NoEndpointsError` for a name without TXT records.

    .. versionadded:: 0.1.0
    """

    def resolve_txt(self, name: str) -> TxtAnswer:
        """Look up the TXT records of ``name``."""
        ...


@runtime_checkable
class AsyncTxtResolver(Protocol):
    """The asyncio twin of :class:`TxtResolver`.

    .. versionadded:: 0.1.0
    """

    async def aresolve_txt(self, name: str) -> TxtAnswer:
        """Look up the TXT records of ``name``."""
        ...


@dataclass(frozen=True, slots=True)
class UdpProbe:
    """One A query sent over UDP without EDNS0 (512-byte limit), as the simplest client does.

    Attributes:
        server: ``host:port`` that answered.
        truncated: Whether the TC bit was set.
        records: How many A records the UDP answer carried.

    .. versionadded:: 0.1.0
    """

    server: str
    truncated: bool
    records: int


@runtime_checkable
class UdpProbing(Protocol):
    """Optional capability: a resolver that talks to real nameservers and can send one plain
    UDP query, as ``doctor`` does to see whether the Service's answer fits without EDNS0.

    .. versionadded:: 0.1.0
    """

    def probe_udp(self, name: str) -> UdpProbe:
        """Send one A query for ``name`` over UDP without EDNS0 to the first nameserver.

        Raises:
            ResolverTimeoutError: No answer in time.
            ResolverUnavailableError: The query failed.
        """
        ...
