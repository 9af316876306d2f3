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

from collections.abc import Iterable, Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any

from .errors import ConfigurationError
from .lookup import aresolve, mongo_uri, service_name
from .mongo import HostsFrom, OptionValue, build_mongo_uri
from .names import ServiceName
from .resolvers import AsyncResolver, Resolver
from .trust import Network

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


def mongo_client(
    service: ServiceName | str,
    *,
    namespace: str | None = None,
    cluster_domain: str | None = None,
    port: int = 27017,
    replica_set: str | None = None,
    username: str | None = None,
    password: str | None = None,
    database: str | None = None,
    options: Mapping[str, OptionValue] | None = None,
    hosts: HostsFrom | None = None,
    srv: bool = False,
    port_name: str = "mongodb",
    resolver: Resolver | None = None,
    allowed_networks: Iterable[str | Network] | None = None,
    **client_kwargs: Any,
) -> MongoClient[dict[str, Any]]:
    """A ``pymongo.MongoClient`` for the MongoDB replica set behind a headless Service.

    Resolves the Service now, as :func:`~headless_discovery.mongo_uri` with the same
    arguments, and passes the URI and ``client_kwargs`` to ``pymongo.MongoClient``.

    Args:
        service: The Service: a :class:`~headless_discovery.ServiceName`, a bare name with
            ``namespace``, or a string in any accepted form.
        namespace: Its namespace (detected when ``None``).
        cluster_domain: The cluster domain (detected when ``None``).
        port: The port of each member for ``hosts="ip"``.
        replica_set: The replica set name (``replicaSet``).
        username: The user; escaped for the URI.
        password: The password; escaped for the URI, never logged.
        database: The URI's database path (default and authentication database).
        options: URI options, e.g. ``{"tls": True, "authSource": "admin"}``.
        hosts: ``"ip"`` (default) or ``"hostname"`` seeding; see
            :func:`~headless_discovery.mongo_uri`.
        srv: Use a ``mongodb+srv://`` URI: the driver resolves the Service itself.
        port_name: The named port whose SRV records hold the members.
        resolver: Where records come from; :class:`~headless_discovery.DnsResolver` from
            resolv.conf when ``None``.
        allowed_networks: CIDRs member addresses must lie in.
        **client_kwargs: Passed to ``MongoClient`` as they are: ``serverSelectionTimeoutMS``,
            ``appname``, ``tlsCAFile``, ``document_class``, ``connect=False``...

    Returns:
        A new client; close it when done (it is a context manager).

    Raises:
        ConfigurationError: pymongo is not installed, or arguments do not fit (as
            :func:`~headless_discovery.mongo_uri`).
        ServiceNotFoundError: NXDOMAIN: no such Service, wrong namespace, or no ready pod.
        NoEndpointsError: No records (for ``hosts="hostname"``: no port named
            ``port_name``).
        ResolverTimeoutError: No answer in time.
        ResolverUnavailableError: The nameservers failed.
        pymongo.errors.ConfigurationError: pymongo refused a client option, or (with
            ``srv=True``) its own SRV lookup failed.

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
    uri = mongo_uri(
        service,
        namespace=namespace,
        cluster_domain=cluster_domain,
        port=port,
        replica_set=replica_set,
        username=username,
        password=password,
        database=database,
        options=options,
        hosts=hosts,
        srv=srv,
        port_name=port_name,
        resolver=resolver,
        allowed_networks=allowed_networks,
    )
    client: MongoClient[dict[str, Any]] = pymongo.MongoClient(uri, **client_kwargs)
    return client


async def async_mongo_client(
    service: ServiceName | str,
    *,
    namespace: str | None = None,
    cluster_domain: str | None = None,
    port: int = 27017,
    replica_set: str | None = None,
    username: str | None = None,
    password: str | None = None,
    database: str | None = None,
    options: Mapping[str, OptionValue] | None = None,
    hosts: HostsFrom | None = None,
    srv: bool = False,
    port_name: str = "mongodb",
    resolver: AsyncResolver | None = None,
    allowed_networks: Iterable[str | Network] | None = None,
    **client_kwargs: Any,
) -> AsyncMongoClient[dict[str, Any]]:
    """The asyncio twin of :func:`mongo_client`: a ``pymongo.AsyncMongoClient``.

    Same arguments, with an :class:`~headless_discovery.AsyncResolver`
    (:class:`~headless_discovery.AsyncDnsResolver` from resolv.conf when ``None``); the
    lookup is awaited, never run in a thread. Needs pymongo 4.10 or later.

    Raises:
        ConfigurationError: pymongo is missing or older than 4.10, or arguments do not fit.
        ServiceNotFoundError: NXDOMAIN: no such Service, wrong namespace, or no ready pod.
        NoEndpointsError: No records (for ``hosts="hostname"``: no port named
            ``port_name``).
        ResolverTimeoutError: No answer in time.
        ResolverUnavailableError: The nameservers failed.
        pymongo.errors.ConfigurationError: pymongo refused a client option.

    Example::

        client = await async_mongo_client(
            "mongodb-headless-service", namespace="infrastructure", replica_set="rs0"
        )
        await client.admin.command("ping")

    .. versionadded:: 0.1.0
    """
    pymongo = _pymongo("AsyncMongoClient")
    if srv:
        # No lookup here: the driver resolves mongodb+srv itself.
        uri = mongo_uri(
            service,
            namespace=namespace,
            cluster_domain=cluster_domain,
            replica_set=replica_set,
            username=username,
            password=password,
            database=database,
            options=options,
            hosts=hosts,
            srv=True,
            port_name=port_name,
        )
    else:
        # The decisions of mongo_uri(), with the lookup awaited.
        svc = service_name(service, namespace=namespace, cluster_domain=cluster_domain)
        hosts = hosts or "ip"
        if hosts == "hostname":
            endpoints = await aresolve(
                svc, srv=port_name, resolver=resolver, allowed_networks=allowed_networks
            )
        elif hosts == "ip":
            endpoints = await aresolve(
                svc, port=port, resolver=resolver, allowed_networks=allowed_networks
            )
        else:
            raise ConfigurationError(f"hosts must be 'ip' or 'hostname', not {hosts!r}")
        uri = build_mongo_uri(
            endpoints,
            hosts=hosts,
            replica_set=replica_set,
            username=username,
            password=password,
            database=database,
            options=options,
        )
    client: AsyncMongoClient[dict[str, Any]] = pymongo.AsyncMongoClient(uri, **client_kwargs)
    return client
