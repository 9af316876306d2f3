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
through to the wrapped transport. Each pod gets its own wrapped transport, so its own pool of
keep-alive connections, reused (a ``transport=`` you give is shared by every pod instead).
Install with ``pip install 'headless-discovery[httpx]'``.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from . import _require

_require("httpx", "httpx")

import httpcore  # noqa: E402
import httpx  # noqa: E402

from ..endpoints import Endpoint  # noqa: E402
from ..errors import ConfigurationError, DiscoveryError  # noqa: E402
from ._http import Balancer, Failure, Release  # noqa: E402
from ._http import Sending as _Sending  # noqa: E402

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


def _status_error(request: httpx.Request, response: httpx.Response) -> httpx.HTTPStatusError:
    return httpx.HTTPStatusError(
        f"the pod answered {response.status_code}, one of failure_statuses",
        request=request,
        response=response,
    )


_DEFAULT_PORTS = {b"http": 80, b"https": 443}

_D = TypeVar("_D", "Discovery", "AsyncDiscovery")
_T = TypeVar("_T", httpx.BaseTransport, httpx.AsyncBaseTransport)


def _pooled(transport: object) -> list[Any]:
    """The connections of an httpx transport's pool. httpx has no public way to reach it;
    a wrapped transport of another kind keeps its connections until they expire."""
    pool = getattr(transport, "_pool", None)
    return list(getattr(pool, "connections", ()))


class _Routing(Generic[_D, _T]):
    """What both transports decide: which requests go to the pods, through which wrapped
    transport, and which idle connections to close. No I/O: the drivers below send and
    close.

    Built with transport options, it makes one wrapped transport per pod, all sharing one
    TLS context: each pod has its own pool, so a request looks through one pod's
    connections only (httpcore scans every connection of a pool per request, which made a
    single pool over three pods cost more than the rest of the routing). Given a
    ``transport``, every pod shares it. The arguments are the transports' (documented there).
    """

    _default: Callable[..., _T]  # the wrapped transport's class: sync or async

    def __init__(
        self,
        discovery: _D,
        *,
        retries: int = 1,
        failure_statuses: Iterable[int] = (),
        transport: _T | None = None,
        **transport_options: Any,
    ) -> None:
        given, options = transport, transport_options
        if given is not None and options:
            raise ConfigurationError(
                f"give either transport= or the options of the transport to build "
                f"({', '.join(sorted(options))}), not both"
            )
        self._balancer = Balancer(
            discovery, "httpx", retries=retries, failure_statuses=failure_statuses
        )
        self._build: Callable[[], _T] | None = None
        if given is None:
            tls = httpx.create_ssl_context(
                verify=options.pop("verify", True),
                cert=options.pop("cert", None),
                trust_env=options.get("trust_env", True),
            )
            self._build = functools.partial(self._default, verify=tls, **options)
            given = self._build()
        self._transport: _T = given
        self._pods: dict[str, _T] = {}
        self._leaving: list[_T] = []  # per-pod transports of removed pods, until idle
        self._origins: set[tuple[bytes, int | None]] = set()

    def _start(self, request: httpx.Request) -> _Sending | None:
        """The attempts of ``request``; ``None`` when its host is not the Service's.

        Raises:
            httpx.ConnectError: No pod to pick.
        """
        url = request.url
        balancer = self._balancer
        if not balancer.router.routes(url.host):
            return None
        try:
            endpoint = balancer.first()
        except DiscoveryError as exc:
            raise httpx.ConnectError(balancer.nothing_to_pick(exc), request=request) from exc
        if self._build is None:
            self._origins.add((url.raw_scheme, url.port))
        return balancer.sending(
            endpoint, request.method, replayable=isinstance(request.stream, httpx.ByteStream)
        )

    def _attempt(self, sending: _Sending, request: httpx.Request) -> tuple[_T, httpx.Request]:
        """An attempt starts: the wrapped transport of its pod and the request to give it."""
        sending.begin()
        endpoint = sending.endpoint
        return self._for(endpoint.address), _to_pod(request, endpoint, request.url.host)

    @staticmethod
    def _retry(sending: _Sending, request: httpx.Request, response: httpx.Response) -> bool:
        """Whether the response's status sends the request to another pod."""
        return sending.answered(response.status_code) and sending.failed(
            "status", _status_error(request, response)
        )

    def _for(self, address: str) -> _T:
        """The wrapped transport for the pod at ``address``."""
        transport = self._pods.get(address)
        if transport is None:
            # Two threads may race here: the loser's new transport has no connection yet.
            built = self._transport if self._build is None else self._build()
            transport = self._pods.setdefault(address, built)
        return transport

    def _to_close(self) -> list[Any]:
        """The idle connections to close before this request: those of pods that left.
        Usually empty, at the cost of two attribute checks."""
        removed = self._balancer.take_removed()
        if not removed and not self._leaving:
            return []
        if self._build is None:
            origins = [
                httpcore.Origin(scheme, address.encode(), port or _DEFAULT_PORTS.get(scheme, 0))
                for address in removed
                for scheme, port in self._origins
            ]
            return [
                connection
                for connection in _pooled(self._transport)
                if connection.is_idle() and any(map(connection.can_handle_request, origins))
            ]
        gone = [self._pods.pop(address, None) for address in removed]  # None: never used
        self._leaving += [transport for transport in gone if transport is not None]
        idle: list[Any] = []
        still: list[_T] = []
        for transport in self._leaving:
            connections = _pooled(transport)
            idle += [connection for connection in connections if connection.is_idle()]
            if not all(c.is_idle() or c.is_closed() for c in connections):
                still.append(transport)  # a response is being read: closed when idle
        self._leaving = still
        return idle

    def _wrapped(self) -> list[_T]:
        """Every wrapped transport, each once, to close."""
        every: list[_T] = [self._transport]
        every.extend(self._leaving)
        every.extend(self._pods.values())
        unique: list[_T] = []
        for transport in every:
            if all(transport is not other for other in unique):
                unique.append(transport)
        return unique


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


class DiscoveryTransport(_Routing["Discovery", httpx.BaseTransport], httpx.BaseTransport):
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
        transport: The transport doing the I/O, shared by every pod (one pool for all).
            When not given, one :class:`httpx.HTTPTransport` per pod is built with
            ``transport_options`` (one pool per pod, so ``limits`` count per pod), all with
            one TLS context, plus one for the hosts that are not the Service's.
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

    _default = httpx.HTTPTransport

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` to a pod when its host is the Service's, else pass it on.

        Raises:
            httpx.ConnectError: No pod to pick (the cause is the
                :class:`~headless_discovery.DiscoveryError`), or every attempt failed to
                connect.
            httpx.TransportError: As the wrapped transport, once retries are spent.
        """
        for connection in self._to_close():
            connection.close()
        sending = self._start(request)
        if sending is None:
            return self._transport.handle_request(request)
        while True:
            transport, routed = self._attempt(sending, request)
            try:
                response = transport.handle_request(routed)
            except httpx.TransportError as exc:
                if sending.failed(_failure(exc), exc):
                    continue
                raise
            if self._retry(sending, request, response):
                response.close()
                continue
            if sending.release is not None:
                assert isinstance(response.stream, httpx.SyncByteStream)
                response.stream = _TrackedStream(response.stream, sending.release)
            return response

    def close(self) -> None:
        """Stop following the discovery's changes and close the wrapped transports."""
        self._balancer.unsubscribe()
        for transport in self._wrapped():
            transport.close()


class AsyncDiscoveryTransport(
    _Routing["AsyncDiscovery", httpx.AsyncBaseTransport], httpx.AsyncBaseTransport
):
    """The asyncio twin of :class:`DiscoveryTransport`, for :class:`httpx.AsyncClient`.

    Args:
        discovery: A started :class:`~headless_discovery.AsyncDiscovery`.
        retries: As :class:`DiscoveryTransport`.
        failure_statuses: As :class:`DiscoveryTransport`.
        transport: The transport doing the I/O, shared by every pod; when not given, one
            :class:`httpx.AsyncHTTPTransport` per pod, as :class:`DiscoveryTransport`.
        **transport_options: Passed to :class:`httpx.AsyncHTTPTransport`.

    Raises:
        ConfigurationError: As :class:`DiscoveryTransport`.

    Example::

        async with AsyncDiscovery("api", namespace="shop", port=8080) as pods:
            async with httpx.AsyncClient(transport=AsyncDiscoveryTransport(pods)) as client:
                await client.get("http://api.shop:8080/orders")

    .. versionadded:: 0.1.0
    """

    _default = httpx.AsyncHTTPTransport

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` to a pod when its host is the Service's, else pass it on.

        Raises:
            httpx.ConnectError: As :meth:`DiscoveryTransport.handle_request`.
            httpx.TransportError: As the wrapped transport, once retries are spent.
        """
        for connection in self._to_close():
            await connection.aclose()
        sending = self._start(request)
        if sending is None:
            return await self._transport.handle_async_request(request)
        while True:
            transport, routed = self._attempt(sending, request)
            try:
                response = await transport.handle_async_request(routed)
            except httpx.TransportError as exc:
                if sending.failed(_failure(exc), exc):
                    continue
                raise
            if self._retry(sending, request, response):
                await response.aclose()
                continue
            if sending.release is not None:
                assert isinstance(response.stream, httpx.AsyncByteStream)
                response.stream = _AsyncTrackedStream(response.stream, sending.release)
            return response

    async def aclose(self) -> None:
        """Stop following the discovery's changes and close the wrapped transports."""
        self._balancer.unsubscribe()
        for transport in self._wrapped():
            await transport.aclose()
