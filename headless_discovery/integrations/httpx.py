"""httpx transports that send each request for the Service to a pod the discovery picks.

::

    import httpx
    from headless_discovery import Discovery
    from headless_discovery.integrations.httpx import DiscoveryTransport

    with Discovery("api", namespace="shop", port=8080) as pods:
        client = httpx.Client(transport=DiscoveryTransport(pods))
        client.get("http://api.shop:8080/orders")     # to one of the pods

A request whose host is a name of the Service (``api``, ``api.shop``, ``api.shop.svc``, the
FQDN) is sent to the pod's address, with the ``Host`` header and the TLS server name (SNI)
left as the URL's host name, so certificates issued for the Service verify. Other hosts pass
through to the wrapped transport. httpcore pools connections per origin, so each pod gets its
own keep-alive connections, reused. Install with ``pip install 'headless-discovery[httpx]'``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from . import _require

_require("httpx", "httpx")

import httpcore  # noqa: E402
import httpx  # noqa: E402

from ..endpoints import Endpoint  # noqa: E402
from ..errors import ConfigurationError, DiscoveryError  # noqa: E402
from ._http import Attempts, Balancer, Failure, Release  # noqa: E402

if TYPE_CHECKING:
    from ..discovery import AsyncDiscovery, Discovery

__all__ = ["AsyncDiscoveryTransport", "DiscoveryTransport"]


# -- shared by both transports: translating httpx's requests, responses and errors --------


def _failure(error: httpx.TransportError) -> Failure | None:
    """What kind of failure an httpx error is; ``None`` when it is not the pod's doing
    (a pool timeout, an unsupported URL, a proxy error)."""
    if isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout)):
        return "connect"
    if isinstance(
        error,
        (
            httpx.ReadError,
            httpx.WriteError,
            httpx.RemoteProtocolError,
            httpx.ReadTimeout,
            httpx.WriteTimeout,
        ),
    ):
        return "sent"
    return None


def _with_host(url: httpx.URL, address: str) -> httpx.URL:
    """``url.copy_with(host=address)``, without parsing and checking the URL again: that
    costs more than everything else the transport does per request (the URL was checked
    when the request was made, and an address from discovery is a valid host)."""
    reference = getattr(url, "_uri_reference", None)
    if reference is None or not hasattr(reference, "_replace"):  # another httpx
        return url.copy_with(host=address)
    routed = httpx.URL.__new__(httpx.URL)
    routed._uri_reference = reference._replace(host=address)  # IPv6 too: no brackets here
    return routed


def _to_pod(request: httpx.Request, endpoint: Endpoint, host: str) -> httpx.Request:
    """The request as the wrapped transport gets it: the pod's address in the URL, the
    ``Host`` header as it was, the TLS server name the URL's host. The caller's request is
    left alone, so the response, redirects and logs show the name, never the address."""
    # Not copy.copy(): httpx.Request's __getstate__ (for pickling) drops the body stream.
    routed = httpx.Request.__new__(httpx.Request)
    routed.__dict__.update(request.__dict__)
    routed.url = _with_host(request.url, endpoint.address)
    routed.extensions = {**request.extensions, "sni_hostname": host.rstrip(".")}
    return routed


def _attempts(balancer: Balancer, request: httpx.Request) -> Attempts:
    return Attempts(
        request.method,
        balancer.retries,
        replayable=isinstance(request.stream, httpx.ByteStream),
    )


def _status_error(request: httpx.Request, response: httpx.Response) -> httpx.HTTPStatusError:
    return httpx.HTTPStatusError(
        f"the pod answered {response.status_code}, one of failure_statuses",
        request=request,
        response=response,
    )


_DEFAULT_PORTS = {b"http": 80, b"https": 443}


def _origins(removed: frozenset[str], seen: set[tuple[bytes, int | None]]) -> list[httpcore.Origin]:
    """The origins of the removed pods, for every scheme and port requests used."""
    return [
        httpcore.Origin(scheme, address.encode(), port or _DEFAULT_PORTS.get(scheme, 0))
        for address in removed
        for scheme, port in seen
    ]


def _pooled(transport: object) -> list[Any]:
    """The connections of an httpx transport's pool. httpx has no public way to reach it;
    a wrapped transport of another kind keeps its connections until they expire."""
    pool = getattr(transport, "_pool", None)
    return list(getattr(pool, "connections", ()))


def _check_wrapped(transport: object, options: dict[str, Any]) -> None:
    if transport is not None and options:
        raise ConfigurationError(
            f"give either transport= or the options of the transport to build "
            f"({', '.join(sorted(options))}), not both"
        )


class _TrackedStream(httpx.SyncByteStream):
    """A response body that ends the in-flight count when it is closed."""

    def __init__(self, stream: httpx.SyncByteStream, release: Release) -> None:
        self._stream = stream
        self._release = release

    def __iter__(self) -> Iterator[bytes]:
        yield from self._stream

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            self._release()


class _AsyncTrackedStream(httpx.AsyncByteStream):
    """A response body that ends the in-flight count when it is closed."""

    def __init__(self, stream: httpx.AsyncByteStream, release: Release) -> None:
        self._stream = stream
        self._release = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            self._release()


# -- the two transports, side by side ------------------------------------------------------


class DiscoveryTransport(httpx.BaseTransport):
    """An httpx transport that sends the Service's requests to the pods of ``discovery``.

    Args:
        discovery: A started :class:`~headless_discovery.Discovery`; its strategy picks the
            pod of each request.
        retries: How many other pods a request may be retried on after a failed attempt.
            A connect error or timeout is always retried; a failure after the request may
            have reached a pod only for idempotent methods (GET, HEAD, PUT, DELETE, ...)
            with a body that can be sent again.
        failure_statuses: Status codes that count as failures (e.g. ``{502, 503, 504}``):
            reported to the strategy, and retried like failures after sending. By default
            every response is a success.
        transport: The transport doing the I/O; an :class:`httpx.HTTPTransport` built with
            ``transport_options`` when not given.
        **transport_options: Passed to :class:`httpx.HTTPTransport` (``verify``, ``cert``,
            ``http2``, ``limits``, ...).

    Raises:
        ConfigurationError: ``retries`` or ``failure_statuses`` out of range, or both
            ``transport`` and transport options given.

    Example::

        transport = DiscoveryTransport(pods, retries=2, verify="/etc/ssl/shop-ca.pem")
        client = httpx.Client(transport=transport)

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        discovery: Discovery,
        *,
        retries: int = 1,
        failure_statuses: Iterable[int] = (),
        transport: httpx.BaseTransport | None = None,
        **transport_options: Any,
    ) -> None:
        _check_wrapped(transport, transport_options)
        self._balancer = Balancer(
            discovery, "httpx", retries=retries, failure_statuses=failure_statuses
        )
        self._transport = (
            transport if transport is not None else httpx.HTTPTransport(**transport_options)
        )
        self._origins: set[tuple[bytes, int | None]] = set()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` to a pod when its host is the Service's, else pass it on.

        Raises:
            httpx.ConnectError: No pod to pick (the cause is the
                :class:`~headless_discovery.DiscoveryError`), or every attempt failed to
                connect.
            httpx.TransportError: As the wrapped transport, once retries are spent.
        """
        host = request.url.host
        balancer = self._balancer
        if not balancer.router.routes(host):
            return self._transport.handle_request(request)
        removed = balancer.take_removed()
        if removed:
            self._close_idle(removed)
        try:
            endpoint = balancer.first()
        except DiscoveryError as exc:
            raise httpx.ConnectError(balancer.nothing_to_pick(exc), request=request) from exc
        self._origins.add((request.url.raw_scheme, request.url.port))
        attempts: Attempts | None = None
        while True:
            release = balancer.in_flight.hold(endpoint)
            try:
                response = self._transport.handle_request(_to_pod(request, endpoint, host))
            except httpx.TransportError as exc:
                if release is not None:
                    release()
                failure = _failure(exc)
                if failure is None:
                    raise
                attempts = attempts or _attempts(balancer, request)
                retry = balancer.failed(attempts, endpoint, failure, exc)
                if retry is None:
                    raise
                endpoint = retry
                continue
            if response.status_code in balancer.failure_statuses:
                attempts = attempts or _attempts(balancer, request)
                error = _status_error(request, response)
                retry = balancer.failed(attempts, endpoint, "status", error)
                if retry is not None:
                    response.close()
                    if release is not None:
                        release()
                    endpoint = retry
                    continue
            else:
                balancer.succeeded(endpoint)
            if release is not None:
                assert isinstance(response.stream, httpx.SyncByteStream)
                response.stream = _TrackedStream(response.stream, release)
            return response

    def _close_idle(self, removed: frozenset[str]) -> None:
        """Close the idle pooled connections to pods that left."""
        origins = _origins(removed, self._origins)
        for connection in _pooled(self._transport):
            if connection.is_idle() and any(map(connection.can_handle_request, origins)):
                connection.close()

    def close(self) -> None:
        """Stop following the discovery's changes and close the wrapped transport."""
        self._balancer.unsubscribe()
        self._transport.close()


class AsyncDiscoveryTransport(httpx.AsyncBaseTransport):
    """The asyncio twin of :class:`DiscoveryTransport`, for :class:`httpx.AsyncClient`.

    Args:
        discovery: A started :class:`~headless_discovery.AsyncDiscovery`.
        retries: As :class:`DiscoveryTransport`.
        failure_statuses: As :class:`DiscoveryTransport`.
        transport: The transport doing the I/O; an :class:`httpx.AsyncHTTPTransport` built
            with ``transport_options`` when not given.
        **transport_options: Passed to :class:`httpx.AsyncHTTPTransport`.

    Raises:
        ConfigurationError: As :class:`DiscoveryTransport`.

    Example::

        async with AsyncDiscovery("api", namespace="shop", port=8080) as pods:
            async with httpx.AsyncClient(transport=AsyncDiscoveryTransport(pods)) as client:
                await client.get("http://api.shop:8080/orders")

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        discovery: AsyncDiscovery,
        *,
        retries: int = 1,
        failure_statuses: Iterable[int] = (),
        transport: httpx.AsyncBaseTransport | None = None,
        **transport_options: Any,
    ) -> None:
        _check_wrapped(transport, transport_options)
        self._balancer = Balancer(
            discovery, "httpx", retries=retries, failure_statuses=failure_statuses
        )
        self._transport = (
            transport if transport is not None else httpx.AsyncHTTPTransport(**transport_options)
        )
        self._origins: set[tuple[bytes, int | None]] = set()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` to a pod when its host is the Service's, else pass it on.

        Raises:
            httpx.ConnectError: As :meth:`DiscoveryTransport.handle_request`.
            httpx.TransportError: As the wrapped transport, once retries are spent.
        """
        host = request.url.host
        balancer = self._balancer
        if not balancer.router.routes(host):
            return await self._transport.handle_async_request(request)
        removed = balancer.take_removed()
        if removed:
            await self._close_idle(removed)
        try:
            endpoint = balancer.first()
        except DiscoveryError as exc:
            raise httpx.ConnectError(balancer.nothing_to_pick(exc), request=request) from exc
        self._origins.add((request.url.raw_scheme, request.url.port))
        attempts: Attempts | None = None
        while True:
            release = balancer.in_flight.hold(endpoint)
            try:
                response = await self._transport.handle_async_request(
                    _to_pod(request, endpoint, host)
                )
            except httpx.TransportError as exc:
                if release is not None:
                    release()
                failure = _failure(exc)
                if failure is None:
                    raise
                attempts = attempts or _attempts(balancer, request)
                retry = balancer.failed(attempts, endpoint, failure, exc)
                if retry is None:
                    raise
                endpoint = retry
                continue
            if response.status_code in balancer.failure_statuses:
                attempts = attempts or _attempts(balancer, request)
                error = _status_error(request, response)
                retry = balancer.failed(attempts, endpoint, "status", error)
                if retry is not None:
                    await response.aclose()
                    if release is not None:
                        release()
                    endpoint = retry
                    continue
            else:
                balancer.succeeded(endpoint)
            if release is not None:
                assert isinstance(response.stream, httpx.AsyncByteStream)
                response.stream = _AsyncTrackedStream(response.stream, release)
            return response

    async def _close_idle(self, removed: frozenset[str]) -> None:
        """As :meth:`DiscoveryTransport._close_idle`."""
        origins = _origins(removed, self._origins)
        for connection in _pooled(self._transport):
            if connection.is_idle() and any(map(connection.can_handle_request, origins)):
                await connection.aclose()

    async def aclose(self) -> None:
        """Stop following the discovery's changes and close the wrapped transport."""
        self._balancer.unsubscribe()
        await self._transport.aclose()
