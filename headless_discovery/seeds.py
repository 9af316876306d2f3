"""Seed lists for clustered systems other than MongoDB: Kafka, Cassandra, Elasticsearch, ...

Many clustered systems bootstrap from a few members and discover the rest themselves:
Kafka's ``bootstrap.servers``, Cassandra's contact points, the hosts of an Elasticsearch
client, ZooKeeper's connect string, the Sentinels of Redis. :func:`seed_list` resolves a
headless Service into such a list; :func:`build_seed_list` formats endpoints you already
have (from :func:`~headless_discovery.resolve`, :func:`~headless_discovery.aresolve` or
``Discovery.endpoints``) and does no I/O.

=======================  =====================================================================
system                   call
=======================  =====================================================================
Kafka                    ``seed_list("kafka-headless", port=9092)``
Cassandra (contact pts)  ``seed_list("cassandra", port=9042)``, or addresses only: no ``port``
Elasticsearch            ``seed_list("es-headless", port=9200, scheme="https")``
ZooKeeper                ``seed_list("zk-headless", port_name="client", hosts="hostname")``
=======================  =====================================================================
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .endpoints import Endpoint, HostPort, seed_entries
from .errors import ConfigurationError
from .lookup import resolve, service_name
from .mongo import HostsFrom
from .names import ServiceName
from .resolvers import Resolver
from .trust import Network

__all__ = ["build_seed_list", "seed_list"]

# RFC 3986 scheme.
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")


def _check_hosts(hosts: object) -> None:
    if hosts not in ("ip", "hostname"):
        raise ConfigurationError(f"hosts must be 'ip' or 'hostname', not {hosts!r}")


def build_seed_list(
    endpoints: Iterable[Endpoint | HostPort],
    *,
    hosts: HostsFrom = "ip",
    scheme: str | None = None,
    separator: str = ",",
) -> str:
    """A seed list naming every endpoint, e.g. ``"10.244.0.5:9092,10.244.1.7:9092"``. Pure.

    Each endpoint becomes ``host:port`` (IPv6 addresses bracketed), or ``host`` alone when
    it has no port; with ``scheme``, ``scheme://host:port``. A host listed twice (a
    dual-stack pod seeded by hostname) appears once. Order is kept: a
    :class:`~headless_discovery.Resolution` is already sorted.

    Args:
        endpoints: The members to list.
        hosts: ``"ip"`` lists addresses; ``"hostname"`` lists per-pod DNS names, which
            need endpoints from SRV records.
        scheme: Prefix every entry with ``<scheme>://`` (``"http"``, ``"https"`` for
            Elasticsearch, ``"nats"``).
        separator: Put between entries; ``","`` for almost every system.

    Returns:
        The entries joined by ``separator``; ``.split(separator)`` gives them as a list.

    Raises:
        ConfigurationError: No endpoints, an endpoint without a hostname for
            ``hosts="hostname"``, an empty separator, or a scheme that is not one.

    Example::

        >>> build_seed_list([Endpoint("10.244.0.5", 9092), Endpoint("10.244.1.7", 9092)])
        '10.244.0.5:9092,10.244.1.7:9092'
        >>> build_seed_list([Endpoint("10.244.0.5", 9200)], scheme="https")
        'https://10.244.0.5:9200'

    .. versionadded:: 0.1.0
    """
    _check_hosts(hosts)
    if not isinstance(separator, str) or not separator:
        raise ConfigurationError("the separator must be a non-empty string")
    if scheme is not None and not (isinstance(scheme, str) and _SCHEME.fullmatch(scheme)):
        raise ConfigurationError(
            f"{scheme!r} is not a URL scheme (letters, digits, '+', '-', '.'; no '://')"
        )
    prefix = "" if scheme is None else f"{scheme.lower()}://"
    entries = seed_entries(endpoints, hosts=hosts, what="a seed list", prefix=prefix)
    return separator.join(entries)


def seed_list(
    service: ServiceName | str,
    *,
    namespace: str | None = None,
    cluster_domain: str | None = None,
    port: int | None = None,
    port_name: str | None = None,
    hosts: HostsFrom = "ip",
    scheme: str | None = None,
    separator: str = ",",
    resolver: Resolver | None = None,
    allowed_networks: Iterable[str | Network] | None = None,
) -> str:
    """The seed list of the pods behind a headless Service, resolved now.

    Kafka ``bootstrap.servers``, Cassandra contact points, Elasticsearch hosts, a ZooKeeper
    connect string: whatever takes a separated list of ``host:port``.

    Args:
        service: The Service: a :class:`~headless_discovery.ServiceName`, a bare name with
            ``namespace``, or a string in any accepted form.
        namespace: Its namespace (detected when ``None``).
        cluster_domain: The cluster domain (detected when ``None``).
        port: The port of every member; leave out for addresses alone.
        port_name: Take members and ports from the SRV records of this named port instead
            (needed for ``hosts="hostname"``).
        hosts: ``"ip"`` lists pod addresses; ``"hostname"`` lists per-pod DNS names
            (stable across restarts, and what TLS certificates name).
        scheme: Prefix every entry with ``<scheme>://``.
        separator: Put between entries.
        resolver: Where records come from;
            :class:`~headless_discovery.DnsResolver` from resolv.conf when ``None``.
        allowed_networks: CIDRs member addresses must lie in (see
            :func:`~headless_discovery.resolve`).

    Raises:
        InvalidNameError: The Service name is not valid.
        ServiceNotFoundError: NXDOMAIN: no such Service, wrong namespace, or no ready pod.
        NoEndpointsError: No records (for ``port_name``: the port is not named so).
        ResolverTimeoutError: No answer in time.
        ResolverUnavailableError: The nameservers failed.
        UntrustedAnswerError: Every address was dropped by ``allowed_networks``.
        ConfigurationError: Arguments that do not fit together.

    Example::

        from kafka import KafkaProducer

        servers = seed_list("kafka-headless", namespace="streaming", port=9092)
        producer = KafkaProducer(bootstrap_servers=servers)

    .. versionadded:: 0.1.0
    """
    _check_hosts(hosts)
    if port is not None and port_name is not None:
        raise ConfigurationError(
            "give port= or port_name=, not both: SRV records carry each member's port"
        )
    if hosts == "hostname" and port_name is None:
        raise ConfigurationError(
            "hosts='hostname' needs port_name=: per-pod hostnames come from the SRV records "
            "of a named port"
        )
    svc = service_name(service, namespace=namespace, cluster_domain=cluster_domain)
    if port_name is not None:
        endpoints = resolve(
            svc, srv=port_name, resolver=resolver, allowed_networks=allowed_networks
        )
    else:
        endpoints = resolve(svc, port=port, resolver=resolver, allowed_networks=allowed_networks)
    return build_seed_list(endpoints, hosts=hosts, scheme=scheme, separator=separator)
