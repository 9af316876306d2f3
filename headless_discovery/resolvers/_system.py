"""A resolver on the C library's ``getaddrinfo``: what most programs, and other languages'
``Dns.GetHostAddresses``, use."""

from __future__ import annotations

import socket
import time

from ..endpoints import AddressAnswer, Family, SrvAnswer, check_family
from ..errors import ConfigurationError, InvalidNameError, ResolverUnavailableError
from ._messages import no_records, not_found

__all__ = ["SystemResolver"]

_AF = {"any": socket.AF_UNSPEC, "ipv4": socket.AF_INET, "ipv6": socket.AF_INET6}
_SOURCE = "getaddrinfo"
_RDTYPE = "A/AAAA"
# glibc reports "no address of this family" as EAI_NODATA, which Python exposes only on
# some platforms; -5 is glibc's value.
_EAI_NODATA = getattr(socket, "EAI_NODATA", -5)


def _translate(name: str, exc: OSError | UnicodeError, started: float) -> Exception:
    """The one boundary where getaddrinfo's failures become the library's errors.

    Both drivers raise ``_translate(...) from exc`` for every ``OSError`` and
    ``UnicodeError`` of the lookup, so the sync and the async lookup give the same type,
    message and attributes. A plain ``try`` around the call, not a context manager: a
    ``try`` costs nothing until something is raised, and every ``resolve()`` passes here.
    """
    if isinstance(exc, UnicodeError):
        return InvalidNameError(name, f"not a valid DNS name ({exc})")
    if isinstance(exc, socket.gaierror):
        if exc.errno == socket.EAI_NONAME:
            return not_found(name, _RDTYPE, _SOURCE)
        if exc.errno == _EAI_NODATA:
            return no_records(name, _RDTYPE, _SOURCE)
        elapsed = time.monotonic() - started
        return ResolverUnavailableError(
            f"getaddrinfo({name!r}) failed after {elapsed:.2f} s: {exc.strerror}; check "
            "the nameserver in /etc/resolv.conf",
            name=name,
            rdtype=_RDTYPE,
            nameserver=_SOURCE,
        )
    return ResolverUnavailableError(
        f"getaddrinfo({name!r}) failed: {exc}", name=name, rdtype=_RDTYPE
    )


def _answer(name: str, infos: list[tuple[object, ...]]) -> AddressAnswer:
    """The distinct addresses of getaddrinfo's answer, in its order, without IPv6 zones."""
    addresses = tuple(dict.fromkeys([info[4][0] for info in infos]))  # type: ignore[index]
    if not addresses:
        raise no_records(name, _RDTYPE, _SOURCE)
    if "%" in "".join(addresses):  # a zone (fe80::1%eth0) is no part of the address
        addresses = tuple(dict.fromkeys(a.partition("%")[0] for a in addresses))
    return AddressAnswer(name, addresses, None, _SOURCE)


def _check(name: object) -> None:
    if not isinstance(name, str) or not name or "\x00" in name:
        raise InvalidNameError(repr(name), "a DNS name must be a non-empty string")


class SystemResolver:
    """A/AAAA lookups through ``getaddrinfo``, exactly as the libc resolver sees them.

    It applies the search list and ``ndots`` to relative names, ``/etc/hosts`` and
    nsswitch, like any program on the machine. It cannot report TTLs: answers carry
    ``ttl=None`` and long-lived discovery refreshes on its own interval instead. Timeouts
    come from resolv.conf (``options timeout: attempts:``), not from Python. It has no SRV
    lookups, and libc may cap large answers (musl has no TCP fallback).

    .. versionadded:: 0.1.0
    """

    __slots__ = ()

    def resolve_addresses(self, name: str, *, family: Family = "any") -> AddressAnswer:
        """Look up ``name`` with ``getaddrinfo``.

        Raises:
            ConfigurationError: ``family`` is not ``"any"``, ``"ipv4"`` or ``"ipv6"``.
            InvalidNameError: ``name`` is not a DNS name.
            ServiceNotFoundError: The name does not exist (EAI_NONAME).
            NoEndpointsError: No address of the family (EAI_NODATA).
            ResolverUnavailableError: Any other failure (e.g. EAI_AGAIN: no server answered).
        """
        _check(name)
        af = _AF[check_family(family)]
        started = time.monotonic()
        try:
            infos = socket.getaddrinfo(name, None, af, socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise _translate(name, exc, started) from exc
        return _answer(name, infos)  # type: ignore[arg-type]

    async def aresolve_addresses(self, name: str, *, family: Family = "any") -> AddressAnswer:
        """Look up ``name`` with the event loop's ``getaddrinfo`` (run in its executor).

        Raises:
            ResolutionError: As :meth:`resolve_addresses`.
            InvalidNameError: ``name`` is not a DNS name.
            ConfigurationError: ``family`` is not ``"any"``, ``"ipv4"`` or ``"ipv6"``.
        """
        import asyncio  # not at module level: sync users never pay for importing asyncio

        _check(name)
        af = _AF[check_family(family)]
        started = time.monotonic()
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                name, None, family=af, type=socket.SOCK_STREAM
            )
        except (OSError, UnicodeError) as exc:
            raise _translate(name, exc, started) from exc
        return _answer(name, infos)  # type: ignore[arg-type]

    def resolve_srv(self, name: str, *, family: Family = "any") -> SrvAnswer:
        """Not available: ``getaddrinfo`` has no SRV lookups.

        Raises:
            ConfigurationError: Always; use :class:`DnsResolver` for SRV records.
        """
        raise ConfigurationError(
            "SystemResolver cannot look up SRV records (getaddrinfo answers addresses only); "
            "use DnsResolver for SRV and hostname seeding"
        )

    async def aresolve_srv(self, name: str, *, family: Family = "any") -> SrvAnswer:
        """Not available: ``getaddrinfo`` has no SRV lookups.

        Raises:
            ConfigurationError: Always; use :class:`AsyncDnsResolver` for SRV records.
        """
        return self.resolve_srv(name, family=family)

    def __repr__(self) -> str:
        return "SystemResolver()"
