"""The resolver protocols: what a backend must do, sync and async."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ..endpoints import AddressAnswer, Family, SrvAnswer

__all__ = ["AsyncResolver", "Resolver"]


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
