"""pymongo clients for the pods behind a headless Service: :func:`mongo_client` and its
asyncio twin :func:`async_mongo_client`.

Each resolves the Service once, builds the connection string as
:func:`~headless_discovery.mongo_uri` does, and hands it to pymongo with your client
options. After that the driver follows the replica set itself: the seed list only bootstraps
it, and it learns the members from the replica-set configuration.

pymongo is optional (``pip install 'headless-discovery[mongo]'``): it is imported when one of
these functions is called, never by ``import headless_discovery``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import quote_plus

from .errors import (
    ConfigurationError,
    ResolutionError,
    ResolverTimeoutError,
    ResolverUnavailableError,
)
from .lookup import amongo_uri, mongo_uri
from .names import ServiceName
from .plan import MONGO_URI_ARGUMENTS, MongoUriArguments, service_name
from .resolvers import AsyncResolver, Resolver
from .resolvers._messages import no_records, not_found

if TYPE_CHECKING:
    from pymongo import AsyncMongoClient, MongoClient

__all__ = ["async_mongo_client", "mongo_client"]

_INSTALL = "pip install 'headless-discovery[mongo]'"


def _pymongo(feature: str) -> ModuleType:
    """Import pymongo, or say how to install it; checked before any lookup is made."""
    try:
        import pymongo
    except ImportError as exc:
        raise ConfigurationError(
            f"{feature} needs pymongo, which is not installed: {_INSTALL}"
        ) from exc
    if not hasattr(pymongo, feature):
        raise ConfigurationError(
            f"{feature} needs pymongo 4.10 or later, not {pymongo.version}: "
            f"pip install --upgrade 'headless-discovery[mongo]'"
        )
    return pymongo


def _dns_failure(exc: BaseException, srv_name: str | None) -> ResolutionError | None:
    """Our resolution error for a failed ``mongodb+srv`` lookup of pymongo's, found in the
    exception chain (pymongo re-raises dnspython's errors as ``ConfigurationError``)."""
    import dns.exception
    import dns.resolver

    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, dns.exception.DNSException):
            break
        cause = cause.__cause__ or cause.__context__
    if cause is None or srv_name is None:
        return None
    where = f"the driver's own SRV lookup of {srv_name} (mongodb+srv)"
    if isinstance(cause, dns.resolver.NXDOMAIN):
        return not_found(srv_name, "SRV", None)
    if isinstance(cause, dns.resolver.NoAnswer):
        return no_records(srv_name, "SRV", None)
    if isinstance(cause, dns.exception.Timeout):
        return ResolverTimeoutError(f"{where} timed out: {cause}", name=srv_name, rdtype="SRV")
    return ResolverUnavailableError(
        f"{where} failed: {type(cause).__name__}: {cause}", name=srv_name, rdtype="SRV"
    )


def _split(kwargs: dict[str, Any]) -> tuple[MongoUriArguments, dict[str, Any]]:
    """The arguments of :func:`~headless_discovery.mongo_uri`, and the client's options."""
    uri_kwargs = {k: v for k, v in kwargs.items() if k in MONGO_URI_ARGUMENTS}
    client_kwargs = {k: v for k, v in kwargs.items() if k not in MONGO_URI_ARGUMENTS}
    return cast("MongoUriArguments", uri_kwargs), client_kwargs


@contextmanager
def _pymongo_errors(uri_kwargs: MongoUriArguments, service: ServiceName | str) -> Iterator[None]:
    """The one boundary of pymongo's errors at client construction: a failed
    ``mongodb+srv`` lookup becomes our resolution error, anything else pymongo refused our
    ConfigurationError, never with the password in the message."""
    from pymongo.errors import PyMongoError

    password = uri_kwargs.get("password")
    srv_name = None
    if uri_kwargs.get("srv", False):
        srv_name = service_name(
            service,
            namespace=uri_kwargs.get("namespace"),
            cluster_domain=uri_kwargs.get("cluster_domain"),
        ).srv(uri_kwargs.get("port_name", "mongodb"))
    try:
        yield
    except (PyMongoError, ValueError, TypeError) as exc:  # pymongo checks options with both
        dns_error = _dns_failure(exc, srv_name)
        if dns_error is not None:
            raise dns_error from exc
        text = f"{type(exc).__name__}: {exc}"
        if password:
            text = text.replace(password, "****").replace(quote_plus(password, safe=""), "****")
        raise ConfigurationError(f"pymongo refused the client: {text}") from exc


def mongo_client(
    service: ServiceName | str,
    *,
    resolver: Resolver | None = None,
    **kwargs: Any,
) -> MongoClient[dict[str, Any]]:
    """A ``pymongo.MongoClient`` for the MongoDB replica set behind a headless Service.

    Resolves the Service now, as :func:`~headless_discovery.mongo_uri` with the same
    arguments, and passes the URI and every other keyword to ``pymongo.MongoClient``.

    Args:
        service: The Service: a :class:`~headless_discovery.ServiceName`, a bare name with
            ``namespace``, or a string in any accepted form.
        resolver: Where records come from; :class:`~headless_discovery.DnsResolver` from
            resolv.conf when ``None``.
        **kwargs: The arguments of :func:`~headless_discovery.mongo_uri`
            (:class:`~headless_discovery.MongoUriArguments`: ``namespace``, ``replica_set``,
            ``username``, ``password``, ``hosts``, ``srv``, ...); every other keyword goes to
            ``MongoClient`` as it is: ``serverSelectionTimeoutMS``, ``appname``,
            ``tlsCAFile``, ``document_class``, ``connect=False``...

    Returns:
        A new client; close it when done (it is a context manager).

    Raises:
        ConfigurationError: pymongo is not installed, arguments do not fit (as
            :func:`~headless_discovery.mongo_uri`), or pymongo refused a client option;
            pymongo's error is the cause.
        ServiceNotFoundError: NXDOMAIN: no such Service, wrong namespace, or no ready pod
            (with ``srv=True``, when the driver's own SRV lookup says so).
        NoEndpointsError: No records (for ``hosts="hostname"``: no port named
            ``port_name``).
        ResolverTimeoutError: No answer in time.
        ResolverUnavailableError: The nameservers failed.
        UntrustedAnswerError: Every address was dropped by ``allowed_networks`` or the SRV
            domain rule.

    Example::

        client = mongo_client(
            "mongodb-headless-service",
            namespace="infrastructure",
            replica_set="rs0",
            username="app",
            password=os.environ["MONGODB_PASSWORD"],
            serverSelectionTimeoutMS=5000,
        )
        client.admin.command("ping")

    .. versionadded:: 0.1.0
    """
    pymongo = _pymongo("MongoClient")
    uri_kwargs, client_kwargs = _split(kwargs)
    uri = mongo_uri(service, resolver=resolver, **uri_kwargs)
    with _pymongo_errors(uri_kwargs, service):
        client: MongoClient[dict[str, Any]] = pymongo.MongoClient(uri, **client_kwargs)
    return client


async def async_mongo_client(
    service: ServiceName | str,
    *,
    resolver: AsyncResolver | None = None,
    **kwargs: Any,
) -> AsyncMongoClient[dict[str, Any]]:
    """The asyncio twin of :func:`mongo_client`: a ``pymongo.AsyncMongoClient``.

    Same arguments, with an :class:`~headless_discovery.AsyncResolver`
    (:class:`~headless_discovery.AsyncDnsResolver` from resolv.conf when ``None``); the
    lookup is awaited, never run in a thread. Needs pymongo 4.10 or later.

    Raises:
        ConfigurationError: pymongo is missing or older than 4.10, arguments do not fit, or
            pymongo refused a client option (pymongo's error is the cause).
        ResolutionError: As :func:`mongo_client`: the lookup, or with ``srv=True`` the
            driver's own SRV lookup, failed.

    Example::

        client = await async_mongo_client(
            "mongodb-headless-service", namespace="infrastructure", replica_set="rs0"
        )
        await client.admin.command("ping")

    .. versionadded:: 0.1.0
    """
    pymongo = _pymongo("AsyncMongoClient")
    uri_kwargs, client_kwargs = _split(kwargs)
    uri = await amongo_uri(service, resolver=resolver, **uri_kwargs)
    with _pymongo_errors(uri_kwargs, service):
        client: AsyncMongoClient[dict[str, Any]] = pymongo.AsyncMongoClient(uri, **client_kwargs)
    return client
