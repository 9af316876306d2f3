"""An aiohttp resolver that answers the Service's name with a pod the discovery picks.

::

    import aiohttp
    from headless_discovery import AsyncDiscovery
    from headless_discovery.integrations.aiohttp import DiscoveryResolver

    async with AsyncDiscovery("api", namespace="shop", port=8080) as pods:
        connector = aiohttp.TCPConnector(
            resolver=DiscoveryResolver(pods),
            use_dns_cache=False,
            force_close=True,
            happy_eyeballs_delay=None,
        )
        async with aiohttp.ClientSession(connector=connector) as session:
            await session.get("http://api.shop:8080/orders")

aiohttp asks its resolver only when it opens a connection, and pools connections by host
name, not by address: a keep-alive connection is reused whatever the resolver would say now.
So the pod is chosen **per new connection**. For a choice per request, close connections
after each request (``force_close=True``) or keep them briefly (``keepalive_timeout=``).
The URL keeps the name, so the ``Host`` header, SNI and the certificate check use it.
Install with ``pip install 'headless-discovery[aiohttp]'``.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

from . import _require

_require("aiohttp", "aiohttp")

from aiohttp.abc import AbstractResolver, ResolveResult  # noqa: E402
from aiohttp.resolver import DefaultResolver  # noqa: E402

from ..endpoints import Endpoint  # noqa: E402
from ..errors import ConfigurationError, DiscoveryError  # noqa: E402
from ._http import Router, nothing_to_pick  # noqa: E402

if TYPE_CHECKING:
    from ..discovery import AsyncDiscovery

__all__ = ["DiscoveryResolver"]

# More addresses than this would only lengthen aiohttp's race.
_MAX_FALLBACKS = 10


class _NoPodError(DiscoveryError, OSError):
    """Discovery had no pod to give. aiohttp turns an ``OSError`` of its resolver into
    :class:`aiohttp.ClientConnectorDNSError` (a :class:`aiohttp.ClientConnectorError`), with
    this as ``__cause__``; the error of the pick is this one's cause."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.strerror = message  # what ClientConnectorError shows


def _family(endpoint: Endpoint) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in endpoint.address else socket.AF_INET


class DiscoveryResolver(AbstractResolver):
    """Answer the Service's names with pods of ``discovery``, other names as aiohttp would.

    Each answer is the pod the strategy picks, then ``fallbacks`` more pods for aiohttp to
    connect to if the first refuses. With two addresses or more aiohttp races them (happy
    eyeballs), which costs more per new connection than the resolver; a connector made with
    ``happy_eyeballs_delay=None`` tries a fallback only after the first pod failed. The
    strategy hears no outcomes (aiohttp tells its resolver nothing), so ``OutlierEjection``
    sees only what you report yourself.

    Args:
        discovery: A started :class:`~headless_discovery.AsyncDiscovery`.
        fallbacks: Pods to answer after the picked one (the next ones in the snapshot's
            order); 0 answers the picked pod alone: no failover, and nothing to race.

    Raises:
        ConfigurationError: ``fallbacks`` is not an integer from 0 to 10.

    Example::

        connector = aiohttp.TCPConnector(
            resolver=DiscoveryResolver(pods), use_dns_cache=False, happy_eyeballs_delay=None
        )

    .. versionadded:: 0.1.0
    """

    def __init__(self, discovery: AsyncDiscovery, *, fallbacks: int = 1) -> None:
        if not (type(fallbacks) is int and 0 <= fallbacks <= _MAX_FALLBACKS):
            raise ConfigurationError(
                f"fallbacks must be an integer from 0 to {_MAX_FALLBACKS}, not {fallbacks!r}"
            )
        self._fallbacks = fallbacks
        self._discovery = discovery
        self._router = Router(discovery.service, discovery.name)
        self._others: AbstractResolver | None = None

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """The picked pod, then the fallbacks, for the Service's names; other names are
        resolved by aiohttp's default resolver.

        Raises:
            OSError: No pod to pick: a :class:`~headless_discovery.DiscoveryError` that is
                also an ``OSError``, chained to the error of the pick; aiohttp raises it as
                :class:`aiohttp.ClientConnectorDNSError`.
        """
        if not self._router.routes(host):
            if self._others is None:
                self._others = DefaultResolver()
            return await self._others.resolve(host, port, family)
        discovery = self._discovery
        try:
            picked = discovery.pick()
        except DiscoveryError as exc:
            message = nothing_to_pick(exc, len(discovery.endpoints), discovery.last_error)
            raise _NoPodError(message) from exc
        endpoints = discovery.endpoints
        answer = [picked]
        more = min(self._fallbacks, len(endpoints) - 1)
        if more > 0:
            start = endpoints.index(picked) if picked in endpoints else -1
            for step in range(1, more + 1):
                answer.append(endpoints[(start + step) % len(endpoints)])
        results = [
            ResolveResult(
                hostname=host,
                host=endpoint.address,
                port=port,
                family=_family(endpoint),
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for endpoint in answer
            if family in (socket.AF_UNSPEC, _family(endpoint))
        ]
        if not results:
            raise _NoPodError(f"no pod of {discovery.name} has an address of family {family!r}")
        return results

    async def close(self) -> None:
        """Close the resolver of the other names, if one was made."""
        if self._others is not None:
            await self._others.close()
