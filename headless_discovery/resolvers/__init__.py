"""Where records come from: the resolver protocols and the three backends.

- :class:`DnsResolver` / :class:`AsyncDnsResolver`: our own DNS client (A/AAAA/SRV/TXT with
  TTLs); dnspython reads resolv.conf and checks names.
- :class:`SystemResolver`: the C library's ``getaddrinfo`` (A/AAAA only, no TTL).
- :class:`StaticResolver`: fixed records from code or a zone file.
"""

from ._base import AsyncResolver, Resolver
from ._dnsclient import AsyncDnsResolver, DnsResolver
from ._static import StaticResolver
from ._system import SystemResolver

__all__ = [
    "AsyncDnsResolver",
    "AsyncResolver",
    "DnsResolver",
    "Resolver",
    "StaticResolver",
    "SystemResolver",
]
