"""A requests transport adapter that sends each request for the Service to a pod.

::

    import requests
    from headless_discovery import Discovery
    from headless_discovery.integrations.requests import DiscoveryAdapter

    with Discovery("api-headless", namespace="shop", port=8443) as pods:
        session = requests.Session()
        session.mount("https://api-headless.shop.svc.cluster.local", DiscoveryAdapter(pods))
        session.get("https://api-headless.shop.svc.cluster.local:8443/orders")

The request goes to the pod's address; the ``Host`` header, the TLS server name (SNI) and
the certificate check stay on the URL's host name (urllib3's ``server_hostname`` and
``assert_hostname``: a ``Host`` header alone breaks the check, requests #3403). urllib3 keeps
one pool of keep-alive connections per pod. Install with
``pip install 'headless-discovery[requests]'``.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NamedTuple

from . import _require

_require("requests", "requests")

import requests  # noqa: E402
import urllib3  # noqa: E402
from requests.adapters import HTTPAdapter  # noqa: E402
from urllib3.exceptions import (  # noqa: E402
    ClosedPoolError,
    ConnectTimeoutError,
    MaxRetryError,
    NewConnectionError,
)

from ..endpoints import Endpoint  # noqa: E402
from ..errors import DiscoveryError  # noqa: E402
from ._http import Balancer, Failure, Release  # noqa: E402

if TYPE_CHECKING:
    from ..discovery import Discovery

__all__ = ["DiscoveryAdapter"]


def _failure(error: requests.RequestException) -> Failure | None:
    """What kind of failure a requests error is; ``None`` when it is not the pod's doing
    (a proxy error, too many redirects, a bad header)."""
    if isinstance(error, (requests.exceptions.ProxyError, requests.exceptions.RetryError)):
        return None
    if isinstance(error, (requests.ConnectTimeout, requests.exceptions.SSLError)):
        return "connect"
    if isinstance(error, requests.ConnectionError):
        cause = error.args[0] if error.args else None
        if isinstance(cause, ClosedPoolError) or (
            isinstance(cause, MaxRetryError)
            and isinstance(cause.reason, (NewConnectionError, ConnectTimeoutError))
        ):
            return "connect"
        return "sent"
    if isinstance(error, requests.ReadTimeout):
        return "sent"
    return None


class _PodRequest(requests.PreparedRequest):
    """The request as urllib3 sends it: the pod's address in the URL, ``Host`` as the
    caller wrote it, and the names for TLS."""

    original: requests.PreparedRequest
    server_hostname: str


# The scheme and authority of a URL requests prepared (absolute, already checked).
_ORIGIN = re.compile(r"([^:/?#]+://)([^/?#]*)")

# Distinct origins remembered; an adapter is mounted on one prefix, so it sees few.
_ORIGINS_KEPT = 64


class _Origin(NamedTuple):
    """What a request's origin decides, parsed once per origin, not once per request."""

    routed: bool  # the host is one of the Service's names
    scheme: str  # "https://"
    host: str  # the host name, lower case, for TLS (no trailing dot)
    port: str  # ":8443", or "" when the URL has none
    host_header: str  # the Host header: the authority without user info


def _origin(balancer: Balancer, scheme: str, authority: str) -> _Origin:
    host_port = authority.rpartition("@")[2]
    if host_port.startswith("["):  # an IPv6 literal: never a Service name
        return _Origin(False, scheme, "", "", host_port)
    host, colon, port = host_port.partition(":")
    host = host.lower()
    return _Origin(
        bool(host) and balancer.router.routes(host),
        scheme,
        host.rstrip("."),
        colon + port,
        host_port,
    )


def _to_pod(
    request: requests.PreparedRequest, endpoint: Endpoint, origin: _Origin, rest: str
) -> _PodRequest:
    routed = _PodRequest.__new__(_PodRequest)
    routed.__dict__.update(request.__dict__)
    address = f"[{endpoint.address}]" if ":" in endpoint.address else endpoint.address
    routed.url = f"{origin.scheme}{address}{origin.port}{rest}"
    if "Host" not in request.headers:
        # A copy: the caller's request keeps its headers (retries and redirects reuse it).
        routed.headers = request.headers.copy()
        routed.headers["Host"] = origin.host_header
    routed.original = request
    routed.server_hostname = origin.host
    return routed


class _ReleaseConnection:
    """urllib3's ``release_conn`` of a response, which also ends the in-flight count:
    called when the body has been read and when the response is closed."""

    __slots__ = ("_inner", "_release")

    def __init__(self, inner: Any, release: Release) -> None:
        self._inner = inner
        self._release = release

    def __call__(self) -> None:
        try:
            self._inner()
        finally:
            self._release()


class DiscoveryAdapter(HTTPAdapter):
    """A requests adapter that sends the Service's requests to the pods of ``discovery``.

    Mount it on the prefix of the Service's URLs; requests for other hosts mounted on it
    are sent as :class:`requests.adapters.HTTPAdapter` sends them.

    Args:
        discovery: A started :class:`~headless_discovery.Discovery`.
        retries: How many other pods a request may be retried on after a failed attempt.
            A connect error or timeout is always retried; a failure after the request may
            have reached a pod only for idempotent methods with a body that can be sent
            again (bytes, not a file or generator).
        failure_statuses: Status codes that count as failures (e.g. ``{502, 503, 504}``).
        **adapter_kwargs: Passed to :class:`~requests.adapters.HTTPAdapter`
            (``pool_connections``, ``pool_maxsize``, ``max_retries``, ``pool_block``).

    Raises:
        ConfigurationError: ``retries`` or ``failure_statuses`` out of range.

    Example::

        session.mount("https://api-headless.shop.svc.cluster.local", DiscoveryAdapter(pods))

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        discovery: Discovery,
        *,
        retries: int = 1,
        failure_statuses: Iterable[int] = (),
        **adapter_kwargs: Any,
    ) -> None:
        self._balancer = Balancer(
            discovery, "requests", retries=retries, failure_statuses=failure_statuses
        )
        self._origins: dict[str, _Origin] = {}
        super().__init__(**adapter_kwargs)

    def send(  # noqa: PLR0917 (HTTPAdapter's signature)
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float | None, float | None] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        """Send ``request`` to a pod when its host is the Service's, else as HTTPAdapter.

        Raises:
            requests.ConnectionError: No pod to pick (the cause is the
                :class:`~headless_discovery.DiscoveryError`), or every attempt failed.
            requests.RequestException: As HTTPAdapter, once retries are spent.
        """
        url = request.url or ""
        match = _ORIGIN.match(url)
        origin = None
        if match is not None:
            origins = self._origins
            origin = origins.get(match[0])
            if origin is None:
                if len(origins) >= _ORIGINS_KEPT:
                    origins.clear()
                origin = origins[match[0]] = _origin(self._balancer, match[1], match[2])
        if origin is None or not origin.routed:
            return super().send(request, stream, timeout, verify, cert, proxies)
        balancer = self._balancer
        removed = balancer.take_removed()
        if removed:
            self._close_idle(removed)
        try:
            endpoint = balancer.first()
        except DiscoveryError as exc:
            raise requests.ConnectionError(balancer.nothing_to_pick(exc), request=request) from exc
        replayable = request.body is None or isinstance(request.body, (bytes, str))
        sending = balancer.sending(endpoint, request.method or "GET", replayable=replayable)
        rest = url[match.end() :] if match is not None else ""
        while True:
            sending.begin()
            try:
                response = super().send(
                    _to_pod(request, sending.endpoint, origin, rest),
                    stream,
                    timeout,
                    verify,
                    cert,
                    proxies,
                )
            except requests.RequestException as exc:
                if sending.failed(_failure(exc), exc):
                    continue
                raise
            if sending.answered(response.status_code) and sending.failed(
                "status",
                requests.HTTPError(
                    f"the pod answered {response.status_code}, one of failure_statuses",
                    response=response,
                ),
            ):
                response.close()
                continue
            if sending.release is not None:
                raw = response.raw
                raw.release_conn = _ReleaseConnection(raw.release_conn, sending.release)
            return response

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: bool | str, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """HTTPAdapter's pool key, with the TLS names of a request sent to a pod: SNI and
        the certificate check use the Service's name while connecting to the address."""
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert
        )
        if isinstance(request, _PodRequest) and host_params["scheme"] == "https":
            pool_kwargs["server_hostname"] = request.server_hostname
            pool_kwargs["assert_hostname"] = request.server_hostname
        return host_params, pool_kwargs

    def build_response(
        self, req: requests.PreparedRequest, resp: urllib3.BaseHTTPResponse
    ) -> requests.Response:
        """HTTPAdapter's response, for the caller's request: its URL, cookies and
        redirects name the Service, never the pod's address."""
        if isinstance(req, _PodRequest):
            req = req.original
        return super().build_response(req, resp)

    def _close_idle(self, removed: frozenset[str]) -> None:
        """Close the pools of pods that left: idle connections now, the ones in use when
        their response is done."""
        pools = self.poolmanager.pools
        for key in pools.keys():  # noqa: SIM118 (the container cannot be iterated)
            if key.key_host in removed:
                with contextlib.suppress(KeyError):  # another thread was first
                    del pools[key]  # disposing of a pool closes it

    def close(self) -> None:
        """Stop following the discovery's changes and close every pool."""
        self._balancer.unsubscribe()
        super().close()
