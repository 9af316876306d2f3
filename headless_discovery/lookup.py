"""One-shot discovery: :func:`resolve` a Service now, or build its :func:`mongo_uri`.

These functions glue names, a resolver and the pure builders together. Each call resolves
afresh; for an application that lives longer than its pods, see long-lived discovery.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import islice

from .endpoints import (
    AddressAnswer,
    Endpoint,
    Family,
    Resolution,
    SrvAnswer,
    _answer_key,
    _endpoints_of,
)
from .environment import PodEnvironment
from .errors import ConfigurationError, InvalidNameError, NoEndpointsError
from .mongo import HostsFrom, OptionValue, build_mongo_srv_uri, build_mongo_uri
from .names import KubernetesName, ServiceName, SrvProtocol, parse_name, srv_parent_domain
from .resolvers import AsyncDnsResolver, AsyncResolver, DnsResolver, Resolver
from .trust import Network, parse_networks, screen

__all__ = ["amongo_uri", "aresolve", "mongo_uri", "resolve", "service_name"]

logger = logging.getLogger("headless_discovery")

# Endpoints built between two turns of the event loop (about a millisecond on a slow CPU).
_SLICE = 128


def service_name(
    service: ServiceName | str,
    *,
    namespace: str | None = None,
    cluster_domain: str | None = None,
    environment: PodEnvironment | None = None,
) -> ServiceName:
    """A :class:`ServiceName` from a name object, a bare name plus namespace, or any form.

    ``service`` may be a :class:`ServiceName`, a bare Service name completed by
    ``namespace`` and ``cluster_domain`` (detected when ``None``), or a string in any
    accepted form (``svc.ns``, the FQDN) when neither is given.

    Raises:
        InvalidNameError: The name is not valid.
        ConfigurationError: ``namespace``/``cluster_domain`` given with a name that already
            has them.

    .. versionadded:: 0.1.0
    """
    if isinstance(service, ServiceName):
        if namespace is not None or cluster_domain is not None:
            raise ConfigurationError(
                "namespace and cluster_domain cannot be given with a ServiceName; they are "
                "part of it"
            )
        return service
    if (namespace is not None or cluster_domain is not None) and isinstance(service, str):
        if "." in service.rstrip("."):
            raise ConfigurationError(
                f"{service!r} already names a namespace or domain; give the bare Service "
                "name with namespace=/cluster_domain=, or the full name alone"
            )
        return ServiceName(service, namespace, cluster_domain, environment=environment)
    return ServiceName.parse(service, environment=environment)


def _check_port(port: int | None) -> None:
    if port is not None and (
        not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536
    ):
        raise ConfigurationError(f"port must be an integer from 1 to 65535, not {port!r}")


@dataclass(frozen=True, slots=True)
class _Query:
    """What to ask a resolver for: decided once, shared by the sync and async paths."""

    qname: str
    srv: bool
    port: int | None
    family: Family
    networks: tuple[Network, ...] = ()
    srv_domain: str | None = None

    # The last answer and the snapshot made of it. A long-lived discovery gets the same
    # answer refresh after refresh: rebuilding a thousand endpoints every time would cost
    # milliseconds of CPU, and on an event loop the garbage collector's pauses.
    _last: list[tuple[frozenset[object], Resolution]] = field(
        default_factory=list, compare=False, repr=False
    )

    def finish(self, answer: AddressAnswer | SrvAnswer) -> Resolution:
        key, result = self._reuse(answer)
        if result is None:
            if isinstance(answer, SrvAnswer):
                result = Resolution.from_srv(answer)
            else:
                result = Resolution.from_addresses(answer, self.port)
            self._last[:] = [(key, result)]
        return self._checked(result)

    async def afinish(self, answer: AddressAnswer | SrvAnswer) -> Resolution:
        """:meth:`finish` for the event loop: a thousand endpoints take milliseconds to
        build, so they are built in slices with a turn of the loop in between."""
        import asyncio

        key, result = self._reuse(answer)
        if result is None:
            endpoints: list[Endpoint] = []
            source = _endpoints_of(answer, self.port)
            while chunk := list(islice(source, _SLICE)):
                endpoints.extend(chunk)
                await asyncio.sleep(0)
            result = Resolution.from_endpoints(
                answer.name, endpoints, ttl=answer.ttl, nameserver=answer.nameserver
            )
            self._last[:] = [(key, result)]
        return self._checked(result)

    def run(self, resolver: Resolver) -> Resolution:
        """Ask ``resolver`` and build the result (the sync driver)."""
        if self.srv:
            return self.finish(resolver.resolve_srv(self.qname, family=self.family))
        return self.finish(resolver.resolve_addresses(self.qname, family=self.family))

    async def arun(self, resolver: AsyncResolver) -> Resolution:
        """Ask ``resolver`` and build the result (the async driver, mirroring :meth:`run`)."""
        if self.srv:
            return await self.afinish(await resolver.aresolve_srv(self.qname, family=self.family))
        return await self.afinish(await resolver.aresolve_addresses(self.qname, family=self.family))

    def _reuse(
        self, answer: AddressAnswer | SrvAnswer
    ) -> tuple[frozenset[object], Resolution | None]:
        """The key of ``answer``, and the last snapshot with this answer's TTL if it had the
        same records (then its endpoints are reused as they are)."""
        key = _answer_key(answer)
        last = self._last
        if last and last[0][0] == key:
            known = last[0][1]
            return key, Resolution(known.name, known.endpoints, answer.ttl, answer.nameserver)
        return key, None

    def _checked(self, result: Resolution) -> Resolution:
        result = screen(result, networks=self.networks, srv_domain=self.srv_domain)
        if not result:
            raise NoEndpointsError(
                f"{self.qname} answered, but no record gave a usable address",
                name=self.qname,
                rdtype="SRV" if self.srv else "A/AAAA",
                nameserver=result.nameserver,
            )
        logger.debug("resolved %s to %d endpoints (ttl %s)", self.qname, len(result), result.ttl)
        return result


def _check_family(family: object) -> None:
    if family not in ("any", "ipv4", "ipv6"):
        raise ConfigurationError(f"family must be 'any', 'ipv4' or 'ipv6', not {family!r}")


def _plan_dns_name(
    dns_name: str,
    *,
    port: int | None,
    family: Family,
    allowed_networks: Iterable[str | Network] | None = None,
) -> _Query:
    """A plain DNS name (not Kubernetes): any name with many address records works."""
    _check_port(port)
    _check_family(family)
    if not isinstance(dns_name, str) or not dns_name.strip("."):
        raise InvalidNameError(repr(dns_name), "the DNS name must be a non-empty string")
    qname = dns_name if dns_name.endswith(".") else dns_name + "."
    return _Query(qname.lower(), False, port, family, parse_networks(allowed_networks))


def _plan(
    name: ServiceName | str,
    *,
    port: int | None,
    srv: str | None,
    protocol: SrvProtocol,
    family: Family,
    environment: PodEnvironment | None,
    allowed_networks: Iterable[str | Network] | None = None,
) -> _Query:
    _check_port(port)
    _check_family(family)
    networks = parse_networks(allowed_networks)
    if isinstance(name, ServiceName):
        target = KubernetesName(name)
    else:
        target = parse_name(name, environment=environment)
    if srv is not None:
        if target.hostname is not None or target.port_name is not None:
            raise ConfigurationError("srv= needs a Service name, not a per-pod or SRV name")
        target = KubernetesName(target.service, None, srv.lower(), protocol)
    if target.port_name is not None and port is not None:
        raise ConfigurationError("port= cannot be used with SRV records: they carry the port")
    srv_domain = None
    if target.port_name is not None:
        # pymongo's rule for mongodb+srv: targets must lie under the host's parent domain.
        srv_domain = srv_parent_domain(target.service.fqdn)
    return _Query(
        target.fqdn + ".", target.port_name is not None, port, family, networks, srv_domain
    )


def resolve(
    name: ServiceName | str,
    *,
    port: int | None = None,
    srv: str | None = None,
    protocol: SrvProtocol = "tcp",
    family: Family = "any",
    resolver: Resolver | None = None,
    environment: PodEnvironment | None = None,
    allowed_networks: Iterable[str | Network] | None = None,
) -> Resolution:
    """Resolve a Service (or one of its pods) to its endpoints, now.

    Sends the absolute name (trailing dot), so a pod's ``ndots:5`` search walk is skipped:
    one query per record type.

    Args:
        name: A :class:`ServiceName`, or a string: ``svc``, ``svc.ns``, the FQDN (with or
            without trailing dot), a per-pod name, or an SRV name. Short forms are completed
            with the namespace and cluster domain of the pod we run in.
        port: The port every endpoint gets, for address lookups.
        srv: A port name: look up the SRV records of that port instead, which give each
            pod's hostname and port.
        protocol: The protocol of the SRV records.
        family: ``"any"`` (A and AAAA), ``"ipv4"`` or ``"ipv6"``.
        resolver: Where records come from; a :class:`DnsResolver` configured from the
            system's resolv.conf when ``None``.
        environment: The pod environment that completes short names; detected when
            ``None``.
        allowed_networks: CIDRs (e.g. the cluster's pod range) addresses must lie in;
            others are dropped and logged. SRV targets must lie under the Service's parent
            domain (``<namespace>.svc.<zone>``) in any case.

    Returns:
        A non-empty, sorted, immutable :class:`Resolution`.

    Raises:
        InvalidNameError: The name is not valid.
        ServiceNotFoundError: NXDOMAIN: no such Service, wrong namespace, or no ready pod.
        NoEndpointsError: The name has no records of the type asked for.
        ResolverTimeoutError: No answer in time.
        ResolverUnavailableError: The nameservers failed.
        ConfigurationError: Arguments that do not fit together.
        UntrustedAnswerError: Every address was dropped by ``allowed_networks`` or the SRV
            domain rule.

    Example::

        endpoints = resolve("mongodb-headless-service.infrastructure", port=27017)
        RoundRobin().pick(endpoints)

    .. versionadded:: 0.1.0
    """
    query = _plan(
        name,
        port=port,
        srv=srv,
        protocol=protocol,
        family=family,
        environment=environment,
        allowed_networks=allowed_networks,
    )
    return query.run(resolver if resolver is not None else DnsResolver())


async def aresolve(
    name: ServiceName | str,
    *,
    port: int | None = None,
    srv: str | None = None,
    protocol: SrvProtocol = "tcp",
    family: Family = "any",
    resolver: AsyncResolver | None = None,
    environment: PodEnvironment | None = None,
    allowed_networks: Iterable[str | Network] | None = None,
) -> Resolution:
    """The asyncio twin of :func:`resolve`: same arguments, results and exceptions.

    The default resolver is an :class:`AsyncDnsResolver` configured from resolv.conf.

    Raises:
        InvalidNameError: The name is not valid.
        ServiceNotFoundError: NXDOMAIN: no such Service, wrong namespace, or no ready pod.
        NoEndpointsError: The name has no records of the type asked for.
        ResolverTimeoutError: No answer in time.
        ResolverUnavailableError: The nameservers failed.
        ConfigurationError: Arguments that do not fit together.
        UntrustedAnswerError: Every address was dropped by ``allowed_networks`` or the SRV
            domain rule.

    .. versionadded:: 0.1.0
    """
    query = _plan(
        name,
        port=port,
        srv=srv,
        protocol=protocol,
        family=family,
        environment=environment,
        allowed_networks=allowed_networks,
    )
    return await query.arun(resolver if resolver is not None else AsyncDnsResolver())


def mongo_uri(
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
) -> str:
    """The MongoDB connection string for the pods behind a headless Service.

    Args:
        service: The Service: a :class:`ServiceName`, a bare name with ``namespace``, or a
            string in any accepted form.
        namespace: Its namespace (detected when ``None``).
        cluster_domain: The cluster domain (detected when ``None``).
        port: The port of each member for ``hosts="ip"``.
        replica_set: Adds ``replicaSet=<name>``.
        username: Escaped for the URI.
        password: Escaped for the URI; never logged or put into exceptions.
        database: The URI's database path.
        options: Further URI options (``{"tls": True, "authSource": "admin"}``).
        hosts: ``"ip"`` (default) seeds with the pods' A/AAAA records on ``port``;
            ``"hostname"`` seeds with per-pod DNS names and ports from the SRV records of
            ``port_name``, which match the replica-set config and TLS certificates.
        srv: Return a ``mongodb+srv://`` URI for the Service instead, resolved by the
            driver; no lookup is done here. ``tls`` defaults to true for ``mongodb+srv``: a
            cluster without TLS needs ``options={"tls": False}``.
        port_name: The named port whose SRV records hold the members (``srvServiceName``
            when ``srv=True`` and it is not ``mongodb``).
        resolver: Where records come from; :class:`DnsResolver` from resolv.conf when
            ``None``.
        allowed_networks: CIDRs member addresses must lie in (see :func:`resolve`).

    Raises:
        InvalidNameError: The Service name is not valid.
        ServiceNotFoundError: NXDOMAIN: no such Service, wrong namespace, or no ready pod.
        NoEndpointsError: No records (for ``hosts="hostname"``: no port named
            ``port_name``).
        ResolverTimeoutError: No answer in time.
        ResolverUnavailableError: The nameservers failed.
        ConfigurationError: Options that pymongo would refuse, or arguments that do not fit.
        UntrustedAnswerError: Every address was dropped by ``allowed_networks`` or the SRV
            domain rule.

    Example::

        >>> mongo_uri("mongodb-headless-service", namespace="infrastructure",
        ...           replica_set="rs0")  # doctest: +SKIP
        'mongodb://10.244.0.5:27017,10.244.1.7:27017,10.244.2.9:27017/?replicaSet=rs0'

    .. versionadded:: 0.1.0
    """
    plan = _plan_mongo(
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
        lookup_options=resolver is not None or allowed_networks is not None,
        allowed_networks=allowed_networks,
    )
    if plan.query is None:
        return plan.finish(())
    return plan.finish(plan.query.run(resolver if resolver is not None else DnsResolver()))


async def amongo_uri(
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
) -> str:
    """The asyncio twin of :func:`mongo_uri`: same arguments, result and exceptions.

    The default resolver is an :class:`AsyncDnsResolver` configured from resolv.conf.

    Raises:
        InvalidNameError: The Service name is not valid.
        ServiceNotFoundError: NXDOMAIN: no such Service, wrong namespace, or no ready pod.
        NoEndpointsError: No records (for ``hosts="hostname"``: no port named
            ``port_name``).
        ResolverTimeoutError: No answer in time.
        ResolverUnavailableError: The nameservers failed.
        UntrustedAnswerError: Every address was dropped by ``allowed_networks`` or the SRV
            domain rule.
        ConfigurationError: Options that pymongo would refuse, or arguments that do not fit.

    .. versionadded:: 0.1.0
    """
    plan = _plan_mongo(
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
        lookup_options=resolver is not None or allowed_networks is not None,
        allowed_networks=allowed_networks,
    )
    if plan.query is None:
        return plan.finish(())
    return plan.finish(
        await plan.query.arun(resolver if resolver is not None else AsyncDnsResolver())
    )


@dataclass(frozen=True, slots=True)
class _MongoPlan:
    """The decisions of :func:`mongo_uri`, shared by its sync and async drivers: the lookup
    to make (none for ``mongodb+srv``) and how to write the URI of its result."""

    query: _Query | None
    hosts: HostsFrom
    srv_host: str | None
    replica_set: str | None
    username: str | None
    password: str | None = field(repr=False)
    database: str | None
    options: Mapping[str, OptionValue] | None

    def finish(self, endpoints: Iterable[Endpoint]) -> str:
        if self.srv_host is not None:
            return build_mongo_srv_uri(
                self.srv_host,
                replica_set=self.replica_set,
                username=self.username,
                password=self.password,
                database=self.database,
                options=self.options,
            )
        return build_mongo_uri(
            endpoints,
            hosts=self.hosts,
            replica_set=self.replica_set,
            username=self.username,
            password=self.password,
            database=self.database,
            options=self.options,
        )


def _plan_mongo(
    service: ServiceName | str,
    *,
    namespace: str | None,
    cluster_domain: str | None,
    port: int,
    replica_set: str | None,
    username: str | None,
    password: str | None,
    database: str | None,
    options: Mapping[str, OptionValue] | None,
    hosts: HostsFrom | None,
    srv: bool,
    port_name: str,
    lookup_options: bool,
    allowed_networks: Iterable[str | Network] | None,
) -> _MongoPlan:
    svc = service_name(service, namespace=namespace, cluster_domain=cluster_domain)
    if srv:
        if hosts is not None:
            raise ConfigurationError("hosts= has no meaning with srv=True: the driver resolves")
        if lookup_options:
            # Silently dropping a security option would be worse than refusing it.
            raise ConfigurationError(
                "resolver= and allowed_networks= have no effect with srv=True: the driver "
                "looks up the SRV records itself"
            )
        merged = dict(options or {})
        if port_name != "mongodb":
            merged.setdefault("srvServiceName", port_name)
        return _MongoPlan(None, "ip", svc.fqdn, replica_set, username, password, database, merged)
    hosts = hosts or "ip"
    if hosts == "hostname":
        query = _plan(
            svc,
            port=None,
            srv=port_name,
            protocol="tcp",
            family="any",
            environment=None,
            allowed_networks=allowed_networks,
        )
    elif hosts == "ip":
        query = _plan(
            svc,
            port=port,
            srv=None,
            protocol="tcp",
            family="any",
            environment=None,
            allowed_networks=allowed_networks,
        )
    else:
        raise ConfigurationError(f"hosts must be 'ip' or 'hostname', not {hosts!r}")
    return _MongoPlan(query, hosts, None, replica_set, username, password, database, options)
