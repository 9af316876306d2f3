"""Where records come from: the resolver protocols and the three backends.

- :class:`DnsResolver` / :class:`AsyncDnsResolver`: our own DNS client (A/AAAA/SRV/TXT with
  TTLs); dnspython reads resolv.conf and checks names.
- :class:`SystemResolver`: the C library's ``getaddrinfo`` (A/AAAA only, no TTL).
- :class:`StaticResolver`: fixed records from code or a zone file.
"""

from typing import TYPE_CHECKING

from ._base import AsyncResolver, Resolver
from ._static import StaticResolver
from ._system import SystemResolver

if TYPE_CHECKING:
    from ._dnsclient import AsyncDnsResolver, DnsResolver


def __getattr__(name: str) -> object:
    # The DNS client (its lookup core, wire reader and outcome types) is loaded with the
    # first DnsResolver, as dnspython is: ``import headless_discovery`` stays cheap.
    if name in ("DnsResolver", "AsyncDnsResolver"):
        from . import _dnsclient

        return getattr(_dnsclient, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AsyncDnsResolver",
    "AsyncResolver",
    "DnsResolver",
    "Resolver",
    "StaticResolver",
    "SystemResolver",
]
