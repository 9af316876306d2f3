"""Endpoints, the raw answers resolvers return, and the immutable result of a resolution.

Pure: resolvers hand over :class:`AddressAnswer` and :class:`SrvAnswer` records; this module
turns them into a :class:`Resolution`, a sorted, deduplicated, immutable sequence of
:class:`Endpoint` values. Cluster DNS shuffles its answers; our output never depends on
their order.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from operator import attrgetter
from typing import Literal, cast, overload

from .errors import ConfigurationError, InvalidNameError

__all__ = [
    "AddressAnswer",
    "Endpoint",
    "Family",
    "Resolution",
    "SrvAnswer",
    "SrvRecord",
    "TxtAnswer",
]

#: Which address records to ask for: ``"any"`` (A and AAAA), ``"ipv4"`` or ``"ipv6"``.
Family = Literal["any", "ipv4", "ipv6"]

_LABEL = r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?"
_HOSTNAME = re.compile(rf"{_LABEL}(\.{_LABEL})*")
_DIGITS = re.compile(r"(\d+)")

logger = logging.getLogger("headless_discovery")
# The canonical text of each octet and its value: "010", "256", " 1" and "+1" are not keys.
_OCTET = {str(i): i for i in range(256)}.__getitem__


_FAMILIES = ("any", "ipv4", "ipv6")


def check_family(family: object) -> Family:
    """``family`` as a :data:`Family`: the one check every resolver and planner uses.

    Raises:
        ConfigurationError: It is not ``"any"``, ``"ipv4"`` or ``"ipv6"``.
    """
    if isinstance(family, str) and family in _FAMILIES:
        return cast("Family", family)
    raise ConfigurationError(f"family must be 'any', 'ipv4' or 'ipv6', not {family!r}")


def slot_setters(cls: type, *names: str) -> tuple[Callable[[object, object], None], ...]:
    """The setters of ``cls``'s slots ``names``, in that order: writing a slot through its
    descriptor skips a frozen dataclass's ``__setattr__`` (for hand-written ``__init__``
    methods on hot paths)."""
    return tuple(vars(cls)[name].__set__ for name in names)


def _check_u16(value: object, what: str, *, low: int = 0) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= 65535:
        raise ConfigurationError(f"{what} must be an integer from {low} to 65535, not {value!r}")


@dataclass(frozen=True, slots=True, init=False)
class Endpoint:
    """One address of one pod: where to connect.

    Attributes:
        address: The IP address as canonical text (``"10.244.0.5"``, ``"fd00::5"``);
            :attr:`ip` gives it as an :mod:`ipaddress` object.
        port: The port, or ``None`` when the caller asked for addresses only.
        hostname: The pod's DNS name (the SRV target, without trailing dot), when known.
        priority: SRV priority (lower is preferred); 0 for address records.
        weight: SRV weight within a priority; 0 for address records.

    Raises:
        ConfigurationError: An address, port, priority or weight is out of range.
        InvalidNameError: The hostname is not a DNS name.

    .. versionadded:: 0.1.0
    """

    address: str
    port: int | None = None
    hostname: str | None = None
    priority: int = 0
    weight: int = 0
    _sort_key: tuple[object, ...] = field(init=False, repr=False, compare=False, hash=False)

    # A resolution of a thousand pods builds a thousand endpoints, so __init__ is written
    # by hand: checks first (type() checks cost no function call in the common case), then
    # each slot written once through its descriptor, which a frozen dataclass's generated
    # __init__ (object.__setattr__ by name, then __post_init__ rewriting some) does not.
    def __init__(
        self,
        address: str,
        port: int | None = None,
        hostname: str | None = None,
        priority: int = 0,
        weight: int = 0,
    ) -> None:
        # Canonical dotted-quad text, what DNS answers carry, is checked by looking its four
        # octets up: several times faster than ipaddress, or a regular expression and int().
        # Anything else goes to ipaddress.
        try:
            value = bytes(map(_OCTET, address.split("."))) if type(address) is str else b""
        except KeyError:
            value = b""
        if len(value) == 4:
            version = 4
        else:
            address, version, value = _parse_address(address)
        if port is not None and not (type(port) is int and 0 < port <= 65535):
            _check_u16(port, "the port", low=1)
        if not (type(priority) is int and 0 <= priority <= 65535):
            _check_u16(priority, "the SRV priority")
        if not (type(weight) is int and 0 <= weight <= 65535):
            _check_u16(weight, "the SRV weight")
        host_key: tuple[tuple[int, str], ...] = ()
        if hostname is not None:
            hostname, host_key = _check_hostname(hostname)
        _set_address(self, address)
        _set_port(self, port)
        _set_hostname(self, hostname)
        _set_priority(self, priority)
        _set_weight(self, weight)
        # Computed once: sorting and strategies use it many times per snapshot. It orders
        # endpoints, and it is unique to equal endpoints (port 0 is no port).
        _set_sort_key(self, (priority, host_key, version, value, port or 0, weight))

    @property
    def ip(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        """The address as an :mod:`ipaddress` object."""
        return ipaddress.ip_address(self.address)

    def netloc(self, *, use_hostname: bool = False) -> str:
        """``host:port`` (IPv6 bracketed); the host alone when the port is ``None``.

        Args:
            use_hostname: Use :attr:`hostname` instead of the address, when there is one.
        """
        if use_hostname and self.hostname is not None:
            host = self.hostname
        elif ":" in self.address:
            host = f"[{self.address}]"
        else:
            host = self.address
        return host if self.port is None else f"{host}:{self.port}"


_set_address, _set_port, _set_hostname, _set_priority, _set_weight, _set_sort_key = slot_setters(
    Endpoint, "address", "port", "hostname", "priority", "weight", "_sort_key"
)
_sort_key_of = attrgetter("_sort_key")


def _parse_address(address: object) -> tuple[str, int, bytes]:
    """An address that is not canonical dotted-quad text, as canonical text, IP version and
    packed bytes (which sort as the numbers do, within a version).

    Raises:
        ConfigurationError: It is not an IPv4 or IPv6 address.
    """
    if isinstance(address, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        address = address.compressed  # an address object says what it is: take it as text
    if not isinstance(address, str):
        # ipaddress would read an integer or 4/16 bytes as an address (5 is 0.0.0.5).
        raise ConfigurationError(
            f"endpoint address must be an IP address as text, not {type(address).__name__} "
            f"{address!r}"
        )
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise ConfigurationError(
            f"endpoint address {address!r} is not an IPv4 or IPv6 address"
        ) from None
    return ip.compressed, ip.version, ip.packed


def _check_hostname(hostname: str) -> tuple[str, tuple[tuple[int, str], ...]]:
    """The hostname normalised (lower case, no trailing dot) and its natural sort key.

    Raises:
        InvalidNameError: It is not a DNS name.
    """
    host = hostname.lower().rstrip(".")
    if not (host.isascii() and len(host) <= 253 and _HOSTNAME.fullmatch(host)):
        raise InvalidNameError(hostname, "the endpoint hostname is not a DNS name")
    return host, _natural_key(host)


def _natural_key(hostname: str) -> tuple[tuple[int, str], ...]:
    """Order ``mongodb-2`` before ``mongodb-10``: digit runs compare as numbers."""
    return tuple(
        (int(part), part) if part.isdigit() else (-1, part)
        for part in _DIGITS.split(hostname)
        if part
    )


@dataclass(frozen=True, slots=True, init=False)
class AddressAnswer:
    """What a resolver found for an address query (A, AAAA or both).

    Attributes:
        name: The name queried.
        addresses: The addresses, in any order, duplicates allowed.
        ttl: Seconds the answer may be cached (the smallest TTL involved), or ``None``
            when the resolver cannot tell (``getaddrinfo``).
        nameserver: Which server answered, when known.

    .. versionadded:: 0.1.0
    """

    name: str
    addresses: tuple[str, ...]
    ttl: float | None = None
    nameserver: str | None = None

    # One per lookup, on the path of every resolve(): the slots are written through their
    # descriptors, a third of the cost of a frozen dataclass's generated __init__.
    def __init__(
        self,
        name: str,
        addresses: tuple[str, ...],
        ttl: float | None = None,
        nameserver: str | None = None,
    ) -> None:
        _set_answer_name(self, name)
        _set_answer_addresses(self, addresses)
        _set_answer_ttl(self, ttl)
        _set_answer_nameserver(self, nameserver)


_set_answer_name, _set_answer_addresses, _set_answer_ttl, _set_answer_nameserver = slot_setters(
    AddressAnswer, "name", "addresses", "ttl", "nameserver"
)


@dataclass(frozen=True, slots=True)
class SrvRecord:
    """One SRV record and the addresses of its target.

    .. versionadded:: 0.1.0
    """

    target: str
    port: int
    priority: int = 0
    weight: int = 0
    addresses: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SrvAnswer:
    """What a resolver found for an SRV query.

    .. versionadded:: 0.1.0
    """

    name: str
    records: tuple[SrvRecord, ...]
    ttl: float | None = None
    nameserver: str | None = None


@dataclass(frozen=True, slots=True)
class TxtAnswer:
    """What a resolver found for a TXT query (MongoDB keeps ``mongodb+srv`` options there).

    Attributes:
        name: The name queried.
        texts: One string per TXT record, its character-strings joined (RFC 7208's
            reading), decoded as UTF-8 with undecodable bytes replaced.
        ttl: Seconds the answer may be cached, when known.
        nameserver: Which server answered, when known.

    .. versionadded:: 0.1.0
    """

    name: str
    texts: tuple[str, ...]
    ttl: float | None = None
    nameserver: str | None = None


@dataclass(frozen=True, slots=True, eq=True, init=False)
class Resolution(Sequence[Endpoint]):
    """The immutable result of one resolution: sorted endpoints and the answer's TTL.

    A :class:`Resolution` is a sequence of :class:`Endpoint` values (``len``, iteration,
    indexing), sorted by SRV priority, then pod hostname in StatefulSet ordinal order, then
    IP address numerically (IPv4 before IPv6), and free of duplicates.

    Attributes:
        name: The DNS name that was resolved.
        endpoints: The endpoints, as a tuple.
        ttl: Seconds the answer may be cached, or ``None`` when unknown.
        nameserver: Which server answered, when known.

    .. versionadded:: 0.1.0
    """

    name: str
    endpoints: tuple[Endpoint, ...]
    ttl: float | None = None
    nameserver: str | None = None

    # As AddressAnswer's: one or two per lookup, so written by hand.
    def __init__(
        self,
        name: str,
        endpoints: tuple[Endpoint, ...],
        ttl: float | None = None,
        nameserver: str | None = None,
    ) -> None:
        _set_resolution_name(self, name)
        _set_resolution_endpoints(self, endpoints)
        _set_resolution_ttl(self, ttl)
        _set_resolution_nameserver(self, nameserver)

    @classmethod
    def from_endpoints(
        cls,
        name: str,
        endpoints: Iterable[Endpoint],
        *,
        ttl: float | None = None,
        nameserver: str | None = None,
    ) -> Resolution:
        """Sort and deduplicate ``endpoints`` into a :class:`Resolution`."""
        # Equal endpoints have equal sort keys and only they do: deduplicating on the keys
        # hashes tuples in C, where a set of endpoints would run the dataclass's __hash__.
        # Answers seldom repeat an address, so the keys are only counted, and a dictionary
        # is built when some are equal (sorting is stable: equal ones stand together).
        eps = sorted(endpoints, key=_sort_key_of)
        if len(set(map(_sort_key_of, eps))) < len(eps):
            eps = list(dict(zip(map(_sort_key_of, eps), eps, strict=True)).values())
        return cls(name, tuple(eps), ttl, nameserver)

    @classmethod
    def from_addresses(cls, answer: AddressAnswer, port: int | None = None) -> Resolution:
        """One endpoint per address of ``answer``, all on ``port``."""
        return cls.from_endpoints(
            answer.name, _endpoints_of(answer, port), ttl=answer.ttl, nameserver=answer.nameserver
        )

    @classmethod
    def from_srv(cls, answer: SrvAnswer) -> Resolution:
        """One endpoint per address of each SRV target, carrying hostname, port and weights.

        Targets without addresses are left out: there is nothing to connect to.
        """
        return cls.from_endpoints(
            answer.name, _endpoints_of(answer), ttl=answer.ttl, nameserver=answer.nameserver
        )

    @property
    def hostnames(self) -> tuple[str, ...]:
        """The distinct pod hostnames, in endpoint order (empty for address answers)."""
        return tuple(dict.fromkeys(ep.hostname for ep in self.endpoints if ep.hostname))

    def __len__(self) -> int:
        return len(self.endpoints)

    @overload
    def __getitem__(self, index: int) -> Endpoint: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Endpoint]: ...
    def __getitem__(self, index: int | slice) -> Endpoint | Sequence[Endpoint]:
        return self.endpoints[index]

    def __iter__(self) -> Iterator[Endpoint]:
        return iter(self.endpoints)


_set_resolution_name, _set_resolution_endpoints, _set_resolution_ttl, _set_resolution_nameserver = (
    slot_setters(Resolution, "name", "endpoints", "ttl", "nameserver")
)


def _endpoints_of(answer: AddressAnswer | SrvAnswer, port: int | None = None) -> Iterator[Endpoint]:
    """The endpoints of an answer, one at a time, unsorted and not deduplicated.

    What :meth:`Resolution.from_addresses` and :meth:`Resolution.from_srv` are made of; the
    asyncio paths build a thousand endpoints in slices from it, with a turn of the event loop
    in between.
    """
    if isinstance(answer, SrvAnswer):
        return _srv_endpoints(answer)
    # map() runs no Python frame between two endpoints, where a generator would.
    return map(Endpoint, answer.addresses, repeat(port))


def _srv_endpoints(answer: SrvAnswer) -> Iterator[Endpoint]:
    for rec in answer.records:
        for address in rec.addresses:
            try:
                yield Endpoint(address, rec.port, rec.target, rec.priority, rec.weight)
            except (ConfigurationError, InvalidNameError) as exc:
                # One odd record (port 0, a target that is no hostname) is the server's
                # doing, not the caller's: leave it out rather than fail the answer.
                logger.warning("%s: SRV record left out: %s", answer.name, exc)


def _answer_key(answer: AddressAnswer | SrvAnswer) -> frozenset[object]:
    """What the endpoints of an answer are made of: equal keys give equal endpoints (for
    one port)."""
    if isinstance(answer, SrvAnswer):
        return frozenset(
            (rec.target, rec.port, rec.priority, rec.weight, address)
            for rec in answer.records
            for address in rec.addresses
        )
    return frozenset(answer.addresses)


#: A member as pymongo's ``nodelist`` and many clients give it: ``(host, port)``.
HostPort = tuple[str, int]


def seed_entries(
    endpoints: Iterable[Endpoint | HostPort],
    *,
    hosts: Literal["ip", "hostname"],
    what: str,
    prefix: str = "",
) -> list[str]:
    """``host:port`` entries for a seed list or connection string, each host once, in order.

    The one formatter behind :func:`~headless_discovery.build_seed_list` and the MongoDB
    URIs. ``(host, port)`` pairs are written as given (IPv6 bracketed).

    Raises:
        ConfigurationError: Nothing to list, an item that is neither an :class:`Endpoint`
            nor a ``(host, port)`` pair, or an endpoint without a hostname for
            ``hosts="hostname"``.
    """
    use_hostname = hosts == "hostname"
    entries: dict[str, None] = {}
    for item in endpoints:
        if isinstance(item, Endpoint):
            if use_hostname and item.hostname is None:
                raise ConfigurationError(
                    f"endpoint {item.address} has no hostname; resolve the Service's SRV "
                    "records to list hostnames, or use hosts='ip'"
                )
            entry = item.netloc(use_hostname=use_hostname)
        else:
            entry = _host_port(item)
        entries[prefix + entry] = None
    if not entries:
        raise ConfigurationError(f"{what} needs at least one endpoint")
    return list(entries)


def _host_port(item: object) -> str:
    if (
        isinstance(item, tuple)
        and len(item) == 2
        and isinstance(item[0], str)
        and item[0]
        and not isinstance(item[1], bool)
        and isinstance(item[1], int)
    ):
        host, port = item
        _check_u16(port, "the port", low=1)
        if any(c in host for c in "/?#@,[] ") or (":" in host and not _is_ipv6(host)):
            raise ConfigurationError(f"{host!r} is not a host name or IP address")
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    raise ConfigurationError(
        f"expected an Endpoint or a (host, port) pair such as ('10.244.0.5', 27017), "
        f"not {type(item).__name__} {item!r}"
    )


def _is_ipv6(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).version == 6
    except ValueError:
        return False
