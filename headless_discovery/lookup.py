"""One-shot discovery: :func:`resolve` a Service now, or build its :func:`mongo_uri`.

These functions glue names, a resolver and the pure builders together. Each call resolves
afresh; for an application that lives longer than its pods, see long-lived discovery.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from itertools import islice
from typing import TYPE_CHECKING

from .endpoints import Endpoint, Resolution
from .errors import DiscoveryError, ResolverUnavailableError
from .instrumentation import Hook, LookupFinished, _emit, _lookup_heard
from .names import ServiceName
from .plan import (
    SLICE,
    LookupPlan,
    MongoUriArguments,
    ResolveOptions,
    ResultBuilder,
    plan_mongo,
    plan_service,
    service_name,
)
from .resolvers import AsyncResolver, Resolver

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["amongo_uri", "aresolve", "mongo_uri", "resolve", "service_name"]


# -- the drivers: ask the resolver, time it, report it; mirrored ------------------------------


def _finished(
    plan: LookupPlan,
    result: Resolution,
    hooks: tuple[Hook, ...],
    started: float,
    clock: Callable[[], float],
) -> Resolution:
    """Report a lookup that succeeded, when anyone would hear it; give its result back."""
    if _lookup_heard(hooks):
        duration = clock() - started
        records = len(result)
        _emit(LookupFinished(plan.qname, plan.rdtype, result.nameserver, duration, records), hooks)
    return result


def _failed(
    plan: LookupPlan, resolver: object, exc: Exception, hooks: tuple[Hook, ...], duration: float
) -> DiscoveryError:
    """The boundary for resolvers we do not know: anything but our own errors (a custom
    resolver's bug, an ``OSError``) becomes a failed lookup, so callers and the refresher see
    one exception tree. Reports the failure; the driver raises what this returns, chained to
    ``exc`` when it is not ``exc`` itself.

    Two functions and a ``try`` in each driver rather than a context manager: a ``try`` costs
    nothing until something is raised, and a lookup of a few pods takes only tens of
    microseconds.
    """
    if isinstance(exc, DiscoveryError):
        error = exc
    else:
        error = ResolverUnavailableError(
            f"the resolver {resolver!r} raised {type(exc).__name__}: {exc}",
            name=plan.qname,
            rdtype=plan.rdtype,
        )
    nameserver = getattr(error, "nameserver", None)
    _emit(LookupFinished(plan.qname, plan.rdtype, nameserver, duration, 0, error), hooks)
    return error


def _default_resolver() -> Resolver:
    from .resolvers._dnsclient import DnsResolver

    return DnsResolver()


def _default_async_resolver() -> AsyncResolver:
    from .resolvers._dnsclient import AsyncDnsResolver

    return AsyncDnsResolver()


def run(
    plan: LookupPlan,
    resolver: Resolver,
    builder: ResultBuilder | None = None,
    *,
    hooks: tuple[Hook, ...] = (),
    clock: Callable[[], float] = time.perf_counter,
) -> Resolution:
    """Ask ``resolver`` as ``plan`` says and build the checked result (the sync driver).

    Raises:
        ResolutionError: The lookup failed, or nothing usable was left.
        InvalidNameError: The resolver refused the name.
    """
    started = clock()
    try:
        ask = resolver.resolve_srv if plan.srv else resolver.resolve_addresses
        answer = ask(plan.qname, family=plan.family)
        result = builder.reused(answer) if builder is not None else None
        if result is None:
            builder = builder if builder is not None else ResultBuilder(plan)
            result = builder.finish(answer, builder.parts(answer))
    except Exception as exc:
        error = _failed(plan, resolver, exc, hooks, clock() - started)
        if error is exc:
            raise
        raise error from exc
    return _finished(plan, result, hooks, started, clock)


async def arun(
    plan: LookupPlan,
    resolver: AsyncResolver,
    builder: ResultBuilder | None = None,
    *,
    hooks: tuple[Hook, ...] = (),
    clock: Callable[[], float] = time.perf_counter,
) -> Resolution:
    """The asyncio driver, mirroring :func:`run`: a thousand endpoints are built in slices,
    with a turn of the event loop in between.

    Raises:
        ResolutionError: The lookup failed, or nothing usable was left.
        InvalidNameError: The resolver refused the name.
    """
    import asyncio

    started = clock()
    try:
        ask = resolver.aresolve_srv if plan.srv else resolver.aresolve_addresses
        answer = await ask(plan.qname, family=plan.family)
        result = builder.reused(answer) if builder is not None else None
        if result is None:
            builder = builder if builder is not None else ResultBuilder(plan)
            endpoints: list[Endpoint] = []
            parts = builder.parts(answer)
            while chunk := list(islice(parts, SLICE)):
                endpoints.extend(chunk)
                await asyncio.sleep(0)
            result = builder.finish(answer, endpoints)
    except Exception as exc:
        error = _failed(plan, resolver, exc, hooks, clock() - started)
        if error is exc:
            raise
        raise error from exc
    return _finished(plan, result, hooks, started, clock)


def resolve(
    name: ServiceName | str,
    *,
    resolver: Resolver | None = None,
    **options: Unpack[ResolveOptions],
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
    return run(
        plan_service(name, **options), resolver if resolver is not None else _default_resolver()
    )


async def aresolve(
    name: ServiceName | str,
    *,
    resolver: AsyncResolver | None = None,
    **options: Unpack[ResolveOptions],
) -> Resolution:
    """The asyncio twin of :func:`resolve`: same arguments, results and exceptions.

    The default resolver is an :class:`AsyncDnsResolver` configured from resolv.conf.

    Raises:
        ResolutionError: As :func:`resolve`: :class:`ServiceNotFoundError`,
            :class:`NoEndpointsError`, :class:`ResolverTimeoutError`,
            :class:`ResolverUnavailableError` or :class:`UntrustedAnswerError`.
        InvalidNameError: The name is not valid.
        ConfigurationError: Arguments that do not fit together.

    .. versionadded:: 0.1.0
    """
    plan = plan_service(name, **options)
    return await arun(plan, resolver if resolver is not None else _default_async_resolver())


def mongo_uri(
    service: ServiceName | str,
    *,
    resolver: Resolver | None = None,
    **kwargs: Unpack[MongoUriArguments],
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
    plan = plan_mongo(service, lookup_options=resolver is not None, **kwargs)
    if plan.lookup is None:
        return plan.uri(())
    return plan.uri(run(plan.lookup, resolver if resolver is not None else _default_resolver()))


async def amongo_uri(
    service: ServiceName | str,
    *,
    resolver: AsyncResolver | None = None,
    **kwargs: Unpack[MongoUriArguments],
) -> str:
    """The asyncio twin of :func:`mongo_uri`: same arguments, result and exceptions.

    The default resolver is an :class:`AsyncDnsResolver` configured from resolv.conf.

    Raises:
        ResolutionError: As :func:`mongo_uri`: no such Service, no records, a timeout, a
            failed nameserver, or every address untrusted.
        InvalidNameError: The Service name is not valid.
        ConfigurationError: Options that pymongo would refuse, or arguments that do not fit.

    .. versionadded:: 0.1.0
    """
    plan = plan_mongo(service, lookup_options=resolver is not None, **kwargs)
    if plan.lookup is None:
        return plan.uri(())
    return plan.uri(
        await arun(plan.lookup, resolver if resolver is not None else _default_async_resolver())
    )
