"""The gatherer: every lookup doctor needs, through the resolver protocols only.

The I/O half of doctor. Addresses and SRV records come through
:class:`~headless_discovery.Resolver`; TXT records and the raw UDP probe only when the
resolver has those capabilities (:class:`~headless_discovery.resolvers._base.TxtResolver`,
:class:`~headless_discovery.resolvers._base.UdpProbing`). Errors arrive already translated
by the backend, so a finding shows the same message and attributes as the library does.
Failures are recorded in the :class:`Observations`, never raised.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Sequence
from typing import ParamSpec, TypeVar

from ..endpoints import Family, Resolution
from ..environment import PodEnvironment
from ..errors import DiscoveryError, ResolverTimeoutError, ServiceNotFoundError
from ..lookup import resolve
from ..names import ServiceName
from ..resolvers import Resolver, StaticResolver, SystemResolver
from ..resolvers._base import TxtResolver, UdpProbe, UdpProbing
from ._observations import COMMON_PORT_NAMES, Observations, Outcome, SrvOutcome, TxtOutcome

__all__ = ["gather"]

P = ParamSpec("P")
T = TypeVar("T")


def _attempt(call: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T | DiscoveryError:
    """``call(*args, **kwargs)``, or the library error it raised: doctor records failures."""
    try:
        return call(*args, **kwargs)
    except DiscoveryError as exc:
        return exc


def _libc(service: ServiceName, family: Family) -> Outcome:
    # Without the trailing dot, as applications write it: through the search list,
    # /etc/hosts and nsswitch, all of which the libc path applies.
    answer = _attempt(SystemResolver().resolve_addresses, service.fqdn, family=family)
    return answer if isinstance(answer, DiscoveryError) else Resolution.from_addresses(answer)


def _txt_source(
    resolver: Resolver, zone_file: str | os.PathLike[str] | None
) -> TxtResolver | DiscoveryError | None:
    if zone_file is None:
        return resolver if isinstance(resolver, TxtResolver) else None
    warnings.warn(
        "gather(zone_file=...) is deprecated: pass the zone file's StaticResolver as "
        "resolver=, which serves its TXT records",
        DeprecationWarning,
        stacklevel=3,
    )
    if isinstance(resolver, TxtResolver):
        return resolver
    try:
        return StaticResolver.from_zone_file(zone_file)
    except DiscoveryError as exc:
        return exc


def gather(
    service: ServiceName,
    *,
    resolver: Resolver,
    environment: PodEnvironment,
    namespace_source: str,
    cluster_domain_source: str,
    source: str,
    family: Family = "any",
    port_names: Sequence[str] = (),
    other_namespaces: Sequence[str] = (),
    mongo: bool = False,
    mongo_port_name: str = "mongodb",
    replica_set: str | None = None,
    zone_file: str | os.PathLike[str] | None = None,
    compare_libc: bool = False,
    clock: Callable[[], float] = time.perf_counter,
) -> Observations:
    """Look up everything the checks need. Failures are recorded, not raised.

    Args:
        service: The Service to examine.
        resolver: Where records come from. When it is also a
            :class:`~headless_discovery.resolvers._base.TxtResolver`, the TXT records of the
            Service name come from it (with ``mongo``); when it is also
            :class:`~headless_discovery.resolvers._base.UdpProbing`, it sends the raw UDP
            probe. Otherwise those observations are ``None`` and their checks say why.
        environment: The pod environment, for the "where am I" check.
        namespace_source: Where the namespace came from, in words.
        cluster_domain_source: Where the cluster domain came from, in words.
        source: Where records come from, in words, for the findings.
        family: The address family of the lookups.
        port_names: Port names to probe for SRV records besides :data:`COMMON_PORT_NAMES`;
            a missing one is a failure.
        other_namespaces: Namespaces to look for the Service in when its name is NXDOMAIN.
        mongo: Run the MongoDB checks (TXT record of the Service name).
        mongo_port_name: The port name of the ``mongodb+srv`` SRV records.
        replica_set: The expected replica-set name.
        zone_file: Deprecated: a :class:`~headless_discovery.StaticResolver` serves the TXT
            records of its zone file itself. Still read for TXT records when ``resolver``
            cannot look them up.
        compare_libc: Also resolve through ``getaddrinfo`` (only meaningful when
            ``resolver`` asks the system's nameservers).
        clock: Times the Service lookup.

    Returns:
        The observations, the only input of :func:`~headless_discovery.doctor.diagnose`.

    Raises:
        InvalidNameError: A port name or namespace is not valid.

    Example::

        >>> resolver = StaticResolver.from_zone_file("cluster.zone")
        >>> obs = gather(
        ...     ServiceName("mongodb", "db", "cluster.local"),
        ...     resolver=resolver,
        ...     environment=PodEnvironment(),
        ...     namespace_source="--namespace",
        ...     cluster_domain_source="--cluster-domain",
        ...     source="zone file cluster.zone",
        ...     mongo=True,
        ... )
        >>> diagnose(obs).ok
        True

    .. versionadded:: 0.1.0

    .. deprecated:: 0.1.0
        ``zone_file``: use ``resolver=StaticResolver.from_zone_file(path)``.
    """
    txt_source = _txt_source(resolver, zone_file)

    started = clock()
    addresses = _attempt(resolve, service, family=family, resolver=resolver)
    elapsed_ms = (clock() - started) * 1000.0

    others: dict[str, Outcome] = {}
    if isinstance(addresses, ServiceNotFoundError):
        for namespace in other_namespaces:
            other = ServiceName(service.name, namespace, service.cluster_domain)
            others[namespace] = _attempt(resolve, other, family=family, resolver=resolver)

    required = list(dict.fromkeys(name.lower() for name in port_names))
    if mongo and mongo_port_name not in required:
        required.append(mongo_port_name)
    probed = list(dict.fromkeys([*COMMON_PORT_NAMES, *required]))
    srv: dict[str, SrvOutcome] = {}
    if not isinstance(addresses, (ServiceNotFoundError, ResolverTimeoutError)):
        for port_name in probed:
            srv[port_name] = _attempt(
                resolver.resolve_srv, service.srv(port_name) + ".", family=family
            )

    udp: UdpProbe | DiscoveryError | None = None
    if isinstance(resolver, UdpProbing) and isinstance(addresses, Resolution):
        udp = _attempt(resolver.probe_udp, service.query_name)

    txt: TxtOutcome | None = None
    if mongo and isinstance(txt_source, DiscoveryError):
        txt = txt_source
    elif mongo and isinstance(txt_source, TxtResolver):
        texts = _attempt(txt_source.resolve_txt, service.query_name)
        txt = texts if isinstance(texts, DiscoveryError) else texts.texts

    return Observations(
        service,
        environment,
        namespace_source,
        cluster_domain_source,
        source,
        addresses=addresses,
        elapsed_ms=elapsed_ms,
        srv=srv,
        required_ports=tuple(required),
        udp=udp,
        libc=_libc(service, family) if compare_libc else None,
        other_namespaces=others,
        mongo=mongo,
        mongo_port_name=mongo_port_name,
        txt=txt,
        replica_set=replica_set,
    )
