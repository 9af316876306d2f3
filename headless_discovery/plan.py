"""What to ask and what to make of the answer: the query plans of one-shot and long-lived
discovery. Pure: names, answers and arguments in, plans and results out; no resolver is
called here.

- :func:`plan_service` / :func:`plan_dns_name` decide the lookup of :func:`resolve`,
  :class:`~headless_discovery.Discovery` and the seed lists: the absolute name, address or
  SRV records, the family, and how answers are screened.
- :class:`ResultBuilder` turns answers into :class:`~headless_discovery.Resolution`
  snapshots, reusing the last one when a refresh brings the same records (a thousand
  endpoints rebuilt every few seconds would cost milliseconds of CPU each time).
- :func:`plan_mongo` decides what :func:`~headless_discovery.mongo_uri` looks up (nothing,
  for ``mongodb+srv``) and how it writes the URI.

The drivers that call resolvers with these plans live in :mod:`headless_discovery.lookup`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypedDict

from .endpoints import (
    AddressAnswer,
    Endpoint,
    Family,
    Resolution,
    SrvAnswer,
    _answer_key,
    _endpoints_of,
    check_family,
    slot_setters,
)
from .environment import PodEnvironment
from .errors import ConfigurationError, InvalidNameError, NoEndpointsError
from .mongo import HostsFrom, MongoOptions, MongoUriParts
from .names import (
    _PARSED,
    KubernetesName,
    ServiceName,
    SrvProtocol,
    parse_name,
    srv_parent_domain,
)
from .trust import Network, parse_networks, screen

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "LookupPlan",
    "MongoPlan",
    "MongoUriArguments",
    "ResolveOptions",
    "ResultBuilder",
    "check_port",
    "plan_dns_name",
    "plan_mongo",
    "plan_service",
    "service_name",
]

#: Endpoints built between two turns of the event loop (about a millisecond on a slow CPU).
SLICE = 128


def check_port(port: object) -> int | None:
    """``port`` if it is ``None`` or a port number.

    Raises:
        ConfigurationError: It is not an integer from 1 to 65535.
    """
    if port is not None and (
        not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536
    ):
        raise ConfigurationError(f"port must be an integer from 1 to 65535, not {port!r}")
    return port


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


@dataclass(frozen=True, slots=True, init=False)
class LookupPlan:
    """One lookup, decided: what to ask a resolver, and how to check what it answers.

    Attributes:
        qname: The absolute name asked (lower case, trailing dot).
        srv: SRV records (hostnames and ports) rather than addresses.
        port: The port every endpoint of an address lookup gets.
        family: Which address records.
        networks: Addresses must lie in one of these (none: any address).
        srv_domain: SRV targets must lie in this domain (see
            :func:`~headless_discovery.names.srv_parent_domain`).
        service: The Kubernetes Service, when the name is one (``None`` for ``dns_name=``).
    """

    qname: str
    srv: bool
    port: int | None
    family: Family
    networks: tuple[Network, ...] = ()
    srv_domain: str | None = None
    service: ServiceName | None = None

    # One per resolve(): the slots are written through their descriptors, a third of the
    # cost of a frozen dataclass's generated __init__ (whose positional fields it keeps).
    def __init__(  # noqa: PLR0917
        self,
        qname: str,
        srv: bool,
        port: int | None,
        family: Family,
        networks: tuple[Network, ...] = (),
        srv_domain: str | None = None,
        service: ServiceName | None = None,
    ) -> None:
        _set_qname(self, qname)
        _set_srv(self, srv)
        _set_port(self, port)
        _set_family(self, family)
        _set_networks(self, networks)
        _set_srv_domain(self, srv_domain)
        _set_service(self, service)

    @property
    def rdtype(self) -> str:
        """The record types asked, as events and errors name them."""
        if self.srv:
            return "SRV"
        return {"any": "A/AAAA", "ipv4": "A", "ipv6": "AAAA"}[self.family]

    def with_family(self, family: Family) -> LookupPlan:
        """The same lookup for another address family (for a refresh that skips one)."""
        if family == self.family:
            return self
        return LookupPlan(
            self.qname,
            self.srv,
            self.port,
            family,
            self.networks,
            self.srv_domain,
            self.service,
        )

    def check(self, result: Resolution) -> Resolution:
        """Screen ``result`` by the trust rules and refuse one with nothing left.

        Raises:
            UntrustedAnswerError: Every endpoint was dropped by the trust rules.
            NoEndpointsError: No record gave a usable address.
        """
        result = screen(result, networks=self.networks, srv_domain=self.srv_domain)
        if not result:
            raise NoEndpointsError(
                f"{self.qname} answered, but no record gave a usable address",
                name=self.qname,
                rdtype=self.rdtype,
                nameserver=result.nameserver,
            )
        return result


_set_qname, _set_srv, _set_port, _set_family, _set_networks, _set_srv_domain, _set_service = (
    slot_setters(LookupPlan, "qname", "srv", "port", "family", "networks", "srv_domain", "service")
)


def plan_dns_name(
    dns_name: str,
    *,
    port: int | None,
    family: Family,
    allowed_networks: Iterable[str | Network] | None = None,
) -> LookupPlan:
    """The plan for a plain DNS name (not Kubernetes): any name with many address records.

    Raises:
        ConfigurationError: A port or family out of range, or networks that are not CIDRs.
        InvalidNameError: ``dns_name`` is not a non-empty string.
    """
    check_port(port)
    family = check_family(family)
    if not isinstance(dns_name, str) or not dns_name.strip("."):
        raise InvalidNameError(repr(dns_name), "the DNS name must be a non-empty string")
    qname = dns_name if dns_name.endswith(".") else dns_name + "."
    return LookupPlan(qname.lower(), False, port, family, parse_networks(allowed_networks))


class ResolveOptions(TypedDict, total=False):
    """The keyword arguments of :func:`~headless_discovery.resolve` and
    :func:`~headless_discovery.aresolve` besides the resolver (see there).

    .. versionadded:: 0.1.0
    """

    port: int | None
    srv: str | None
    protocol: SrvProtocol
    family: Family
    environment: PodEnvironment | None
    allowed_networks: Iterable[str | Network] | None


#: Plans of complete names (namespace and cluster domain given) asked with the defaults but
#: ``port`` and ``family``: ``resolve()`` in a loop plans once. A plan is a frozen value that
#: depends on nothing but these arguments; names completed from the pod are never kept.
#: Bounded: emptied when full.
_PLANS: dict[tuple[str, int | None, str], LookupPlan] = {}
_PLANS_MAX = 256


def plan_service(
    name: ServiceName | str,
    *,
    port: int | None = None,
    srv: str | None = None,
    protocol: SrvProtocol = "tcp",
    family: Family = "any",
    environment: PodEnvironment | None = None,
    allowed_networks: Iterable[str | Network] | None = None,
) -> LookupPlan:
    """The plan for a Service, one of its pods, or an SRV name, in any accepted form.

    Raises:
        InvalidNameError: The name is not valid.
        ConfigurationError: Arguments that do not fit together.
    """
    key = None
    if (
        type(name) is str
        and srv is None
        and environment is None
        and allowed_networks is None
        and (port is None or type(port) is int)
        and isinstance(family, str)
    ):
        key = (name, port, family)
        known = _PLANS.get(key)
        if known is not None:
            return known
    # The defaults skip their checks: every resolve() plans, and a call is what costs here.
    if port is not None:
        check_port(port)
    if family != "any":
        family = check_family(family)
    networks = () if allowed_networks is None else parse_networks(allowed_networks)
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
        srv_domain = srv_parent_domain(target.service.fqdn)
    plan = LookupPlan(
        target.fqdn + ".",
        target.port_name is not None,
        port,
        family,
        networks,
        srv_domain,
        target.service,
    )
    if key is not None and _PARSED.get(key[0]) is target:  # complete: no pod environment
        if len(_PLANS) >= _PLANS_MAX:
            _PLANS.clear()
        _PLANS[key] = plan
    return plan


class ResultBuilder:
    """Answers into checked snapshots, reusing the last snapshot for the same records.

    One per lookup plan that is asked again and again (a long-lived discovery); one-shot
    lookups use a fresh one, which costs them nothing to compare. Not thread-safe: one
    refresher uses it at a time.
    """

    __slots__ = ("_key", "_last", "plan")

    def __init__(self, plan: LookupPlan) -> None:
        self.plan = plan
        # The last snapshot and the answer it was made of; the key of that answer is computed
        # when a second answer is compared with it, so a one-shot lookup never hashes one.
        self._key: frozenset[object] | None = None
        self._last: tuple[Resolution, AddressAnswer | SrvAnswer] | None = None

    def reused(self, answer: AddressAnswer | SrvAnswer) -> Resolution | None:
        """The last snapshot, checked, with this answer's TTL and server, if it had the same
        records; else ``None``: build a new one with :meth:`parts` and :meth:`finish`.

        Raises:
            UntrustedAnswerError: Every endpoint was dropped by the trust rules.
            NoEndpointsError: No record gave a usable address.
        """
        if self._last is None:
            return None
        last, made_of = self._last
        if self._key is None:
            self._key = _answer_key(made_of)
        if _answer_key(answer) != self._key:
            self._last = None
            return None
        return self.plan.check(Resolution(last.name, last.endpoints, answer.ttl, answer.nameserver))

    def parts(self, answer: AddressAnswer | SrvAnswer) -> Iterator[Endpoint]:
        """The endpoints of a new answer, one at a time (an event loop builds them in
        slices)."""
        return _endpoints_of(answer, None if isinstance(answer, SrvAnswer) else self.plan.port)

    def finish(
        self, answer: AddressAnswer | SrvAnswer, endpoints: Iterable[Endpoint]
    ) -> Resolution:
        """The snapshot of ``answer`` made of ``endpoints``, remembered and checked.

        Raises:
            UntrustedAnswerError: Every endpoint was dropped by the trust rules.
            NoEndpointsError: No record gave a usable address.
        """
        result = Resolution.from_endpoints(
            answer.name, endpoints, ttl=answer.ttl, nameserver=answer.nameserver
        )
        self._last, self._key = (result, answer), None
        return self.plan.check(result)


@dataclass(frozen=True, slots=True)
class MongoPlan:
    """What :func:`~headless_discovery.mongo_uri` looks up (``lookup`` is ``None`` for
    ``mongodb+srv``: the driver resolves) and how it writes the URI."""

    lookup: LookupPlan | None
    hosts: HostsFrom
    srv_host: str | None
    settings: MongoOptions

    def uri(self, endpoints: Iterable[Endpoint]) -> str:
        """The connection string for the endpoints found (none for ``mongodb+srv``).

        Raises:
            ConfigurationError: Options pymongo would refuse.
        """
        if self.srv_host is not None:
            return self.settings.srv_uri(self.srv_host)
        return self.settings.seed_uri(endpoints, hosts=self.hosts)


class MongoUriArguments(MongoUriParts, total=False):
    """The keyword arguments of :func:`~headless_discovery.mongo_uri`,
    :func:`~headless_discovery.amongo_uri`, :func:`~headless_discovery.mongo_client` and
    :func:`~headless_discovery.async_mongo_client`: the Service's namespace, how to seed,
    and the parts of :class:`~headless_discovery.MongoOptions`.

    .. versionadded:: 0.1.0
    """

    namespace: str | None
    cluster_domain: str | None
    port: int
    hosts: HostsFrom | None
    srv: bool
    port_name: str
    allowed_networks: Iterable[str | Network] | None


#: The names of :class:`MongoUriArguments`, to tell them from a pymongo client's options.
MONGO_URI_ARGUMENTS = frozenset(MongoUriArguments.__annotations__) | frozenset(
    MongoUriParts.__annotations__
)


def plan_mongo(
    service: ServiceName | str,
    *,
    lookup_options: bool = False,
    **kwargs: Unpack[MongoUriArguments],
) -> MongoPlan:
    """The plan of :func:`~headless_discovery.mongo_uri` and the pymongo client helpers:
    every argument checked once, before any lookup.

    Args:
        service: The Service, in any accepted form.
        lookup_options: Whether the caller gave options that only a lookup uses
            (``resolver``, ``allowed_networks``), refused with ``srv``.
        **kwargs: As :func:`~headless_discovery.mongo_uri` takes them.

    Raises:
        InvalidNameError: The Service name is not valid.
        ConfigurationError: Arguments that do not fit together, or URI parts pymongo
            would refuse.
        TypeError: An argument :func:`~headless_discovery.mongo_uri` does not take.
    """
    unknown = sorted(kwargs.keys() - MONGO_URI_ARGUMENTS)
    if unknown:
        raise TypeError(f"unexpected keyword argument {unknown[0]!r}")
    settings = MongoOptions(
        kwargs.get("replica_set"),
        kwargs.get("username"),
        kwargs.get("password"),
        kwargs.get("database"),
        kwargs.get("options"),
    )
    svc = service_name(
        service, namespace=kwargs.get("namespace"), cluster_domain=kwargs.get("cluster_domain")
    )
    hosts = kwargs.get("hosts")
    port_name = kwargs.get("port_name", "mongodb")
    if kwargs.get("srv", False):
        if hosts is not None:
            raise ConfigurationError("hosts= has no meaning with srv=True: the driver resolves")
        if lookup_options or kwargs.get("allowed_networks") is not None:
            # Silently dropping a security option would be worse than refusing it.
            raise ConfigurationError(
                "resolver= and allowed_networks= have no effect with srv=True: the driver "
                "looks up the SRV records itself"
            )
        if port_name != "mongodb":
            settings = settings.with_default_option("srvServiceName", port_name)
        return MongoPlan(None, "ip", svc.fqdn, settings)
    hosts = hosts or "ip"
    if hosts not in ("ip", "hostname"):
        raise ConfigurationError(f"hosts must be 'ip' or 'hostname', not {hosts!r}")
    lookup = plan_service(
        svc,
        port=None if hosts == "hostname" else kwargs.get("port", 27017),
        srv=port_name if hosts == "hostname" else None,
        allowed_networks=kwargs.get("allowed_networks"),
    )
    return MongoPlan(lookup, hosts, None, settings)
