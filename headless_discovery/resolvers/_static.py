"""A resolver over fixed records: from code, or from a zone file in master-file format."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable, Mapping
from typing import TypeVar

from ..endpoints import AddressAnswer, Family, SrvAnswer, SrvRecord, TxtAnswer, check_family
from ..errors import ConfigurationError, InvalidNameError
from ._messages import no_records, not_found

__all__ = ["StaticResolver"]

_VERSIONS = {"any": (4, 6), "ipv4": (4,), "ipv6": (6,)}
_SOURCE = "static records"
_Given = TypeVar("_Given")


def _key(name: str) -> str:
    if not isinstance(name, str) or not name.strip("."):
        raise InvalidNameError(repr(name), "a DNS name must be a non-empty string")
    return name.lower().rstrip(".")


def _existing(table: dict[str, list[_Given]], name: str, rdtype: str) -> list[_Given]:
    """The records of one type given for ``name``; NXDOMAIN for a name never given."""
    try:
        return table[_key(name)]
    except KeyError:
        raise not_found(name, rdtype, _SOURCE) from None


def _versions(family: Family) -> tuple[int, ...]:
    return _VERSIONS[check_family(family)]


class StaticResolver:
    """Serves records given in code or read from a zone file; never touches the network.

    For local development without a cluster, demos, and tests of code that uses the
    library. It implements :class:`Resolver` and :class:`AsyncResolver`, and the TXT
    capability (``TxtResolver`` and ``AsyncTxtResolver``: ``resolve_txt`` and
    ``aresolve_txt``), with the same exceptions as :class:`DnsResolver` (an unknown name is
    NXDOMAIN). It sends no UDP probe: there is no nameserver.

    Args:
        records: Name to records: IP address strings and/or :class:`SrvRecord` values. SRV
            targets without addresses of their own are completed from the A/AAAA records
            given for the target name.
        ttl: The TTL reported for every answer.
        txt: Name to TXT records, each given as one string (a record of several
            character-strings is given joined). A name listed only here exists: its
            address lookup is NODATA, not NXDOMAIN.

    Raises:
        ConfigurationError: A record is neither an IP address nor an :class:`SrvRecord`, or
            the TXT records of a name are a string rather than a collection of strings.

    Example::

        >>> resolver = StaticResolver(
        ...     {"db.prod.svc.cluster.local": ["10.244.0.5", "10.244.1.7"]},
        ...     txt={"db.prod.svc.cluster.local": ["replicaSet=rs0"]},
        ... )
        >>> resolver.resolve_addresses("db.prod.svc.cluster.local.").addresses
        ('10.244.0.5', '10.244.1.7')
        >>> resolver.resolve_txt("db.prod.svc.cluster.local.").texts
        ('replicaSet=rs0',)

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        records: Mapping[str, Iterable[str | SrvRecord]],
        *,
        ttl: float = 5.0,
        txt: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        self._addresses: dict[str, list[tuple[str, float]]] = {}
        self._srv: dict[str, list[tuple[SrvRecord, float]]] = {}
        self._txt: dict[str, list[tuple[str, float]]] = {}
        for name, values in records.items():
            # Every listed name exists, even with no records (NODATA, not NXDOMAIN).
            self._exists(name)
            for value in values:
                self._add(name, value, ttl)
        for name, texts in (txt or {}).items():
            if isinstance(texts, str):
                # A string is an iterable of one-character strings: never what was meant.
                raise ConfigurationError(
                    f"the TXT records of {name} must be a list of strings, not the string {texts!r}"
                )
            self._exists(name)
            for text in texts:
                self._add_txt(name, text, ttl)

    def _exists(self, name: str) -> str:
        key = _key(name)
        self._addresses.setdefault(key, [])
        self._srv.setdefault(key, [])
        self._txt.setdefault(key, [])
        return key

    def _add_txt(self, name: str, text: str, ttl: float) -> None:
        if not isinstance(text, str):
            raise ConfigurationError(f"TXT record {text!r} for {name} is not a string")
        self._txt[self._exists(name)].append((text, ttl))

    def _add(self, name: str, value: str | SrvRecord, ttl: float) -> None:
        key = self._exists(name)
        if isinstance(value, SrvRecord):
            self._srv[key].append((value, ttl))
            return
        try:
            address = ipaddress.ip_address(value).compressed
        except ValueError:
            raise ConfigurationError(
                f"record {value!r} for {name} is neither an IP address nor an SrvRecord"
            ) from None
        self._addresses[key].append((address, ttl))

    @classmethod
    def from_zone_file(
        cls, path: str | os.PathLike[str], *, origin: str | None = None
    ) -> StaticResolver:
        """Load A, AAAA, SRV and TXT records from a zone file (RFC 1035 master-file format).

        A TXT record of several character-strings (``"a" "b"``) is served joined (``"ab"``),
        decoded as UTF-8 with undecodable bytes replaced, as :class:`DnsResolver` does.

        Args:
            path: The zone file. It may set ``$ORIGIN`` itself.
            origin: The zone's origin when the file does not set one.

        Raises:
            ConfigurationError: The file cannot be read or parsed; the message has the file
                and line.
        """
        import dns.exception
        import dns.rdatatype
        import dns.zone

        try:
            zone = dns.zone.from_file(
                os.fspath(path), origin=origin, relativize=False, check_origin=False
            )
        except OSError as exc:
            raise ConfigurationError(f"cannot read zone file {os.fspath(path)}: {exc}") from None
        except (dns.exception.DNSException, ValueError) as exc:
            raise ConfigurationError(f"zone file {os.fspath(path)}: {exc}") from None
        resolver = cls({})
        for name, rdataset in zone.iterate_rdatasets():
            text = name.to_text()
            for rdata in rdataset:
                if rdataset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
                    resolver._add(text, rdata.address, rdataset.ttl)
                elif rdataset.rdtype == dns.rdatatype.SRV:
                    srv = SrvRecord(
                        rdata.target.to_text().rstrip("."),
                        rdata.port,
                        rdata.priority,
                        rdata.weight,
                    )
                    resolver._add(text, srv, rdataset.ttl)
                elif rdataset.rdtype == dns.rdatatype.TXT:
                    joined = b"".join(rdata.strings).decode("utf-8", "replace")
                    resolver._add_txt(text, joined, rdataset.ttl)
        return resolver

    @property
    def names(self) -> tuple[str, ...]:
        """Every name that has records, sorted."""
        return tuple(
            sorted(k for k in self._addresses if self._addresses[k] or self._srv[k] or self._txt[k])
        )

    def resolve_addresses(self, name: str, *, family: Family = "any") -> AddressAnswer:
        """The A/AAAA records given for ``name``.

        Raises:
            ServiceNotFoundError: No records at all for the name.
            NoEndpointsError: No address records of the family.
        """
        versions = _versions(family)
        found = [
            (address, ttl)
            for address, ttl in _existing(self._addresses, name, "A/AAAA")
            if ipaddress.ip_address(address).version in versions
        ]
        if not found:
            raise no_records(name, "A/AAAA", _SOURCE)
        return AddressAnswer(name, tuple(a for a, _ in found), min(t for _, t in found), _SOURCE)

    def resolve_srv(self, name: str, *, family: Family = "any") -> SrvAnswer:
        """The SRV records given for ``name``, with their targets' addresses.

        Raises:
            ServiceNotFoundError: No records at all for the name.
            NoEndpointsError: No SRV records for the name.
        """
        versions = _versions(family)
        given = _existing(self._srv, name, "SRV")
        if not given:
            raise no_records(name, "SRV", _SOURCE)
        records = []
        ttls = []
        for rec, ttl in given:
            addresses = rec.addresses or tuple(
                a for a, _ in self._addresses.get(_key(rec.target), [])
            )
            addresses = tuple(a for a in addresses if ipaddress.ip_address(a).version in versions)
            records.append(SrvRecord(rec.target, rec.port, rec.priority, rec.weight, addresses))
            ttls.append(ttl)
        return SrvAnswer(name, tuple(records), min(ttls), _SOURCE)

    def resolve_txt(self, name: str) -> TxtAnswer:
        """The TXT records given for ``name``, one string per record.

        Raises:
            ServiceNotFoundError: No records at all for the name.
            NoEndpointsError: No TXT records for the name.
        """
        found = _existing(self._txt, name, "TXT")
        if not found:
            raise no_records(name, "TXT", _SOURCE)
        return TxtAnswer(name, tuple(t for t, _ in found), min(t for _, t in found), _SOURCE)

    async def aresolve_addresses(self, name: str, *, family: Family = "any") -> AddressAnswer:
        """Awaitable :meth:`resolve_addresses` (no I/O, returns at once)."""
        return self.resolve_addresses(name, family=family)

    async def aresolve_srv(self, name: str, *, family: Family = "any") -> SrvAnswer:
        """Awaitable :meth:`resolve_srv` (no I/O, returns at once)."""
        return self.resolve_srv(name, family=family)

    async def aresolve_txt(self, name: str) -> TxtAnswer:
        """Awaitable :meth:`resolve_txt` (no I/O, returns at once)."""
        return self.resolve_txt(name)

    def __repr__(self) -> str:
        return f"StaticResolver(<{len(self.names)} names>)"
