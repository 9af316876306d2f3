"""The fault matrix as data: the zone the fault server answers from, and each case's outcome.

A case is one misbehaviour of a nameserver (or the network) and what the library must make of
it: the exception it documents for that failure, or the endpoints a correct client gets out of
a strange but valid answer. Every case runs against both dnspython resolvers and, for the
failures, against long-lived discovery (which must keep its last good endpoints).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from headless_discovery import (
    DiscoveryError,
    Family,
    NoEndpointsError,
    ResolverTimeoutError,
    ResolverUnavailableError,
    ServiceNotFoundError,
    UntrustedAnswerError,
)
from tests.faults.server import Fault, Zone

__all__ = [
    "CASES",
    "FAILURES",
    "LIFETIME",
    "SLACK",
    "TIMEOUT",
    "ZONE",
    "Case",
]

# Per-try timeout and whole-lookup lifetime of the resolvers under test: short, so the
# matrix is fast, with retries (0.1 s tries within 0.3 s).
TIMEOUT = 0.1
LIFETIME = 0.3
# What a lookup may take beyond LIFETIME: dnspython sleeps its retry back-off (0.1 s, then
# 0.2 s, doubling up to 2 s) before it checks the lifetime, so at these settings a timeout
# comes about 0.2 s late (see test_timeout_comes_within_the_lifetime, a known bug), plus
# scheduling on a loaded CI machine. Far below anything that could be called a hang.
SLACK = 0.35

_SVC = "svc.cluster.local."
API = f"api.shop.{_SVC}"
PODS = {f"api-{i}.{API}": f"10.244.0.{10 + i}" for i in range(3)}
API_V4 = frozenset(PODS.values())
API_V6 = frozenset({"fd00:10:244::a", "fd00:10:244::b"})

ZONE: Zone = {
    API: {"A": sorted(API_V4), "AAAA": sorted(API_V6)},
    **{name: {"A": [ip]} for name, ip in PODS.items()},
    f"_http._tcp.{API}": {"SRV": [f"0 33 8080 {name}" for name in PODS]},
    # A CNAME chain (not what cluster DNS serves for a headless Service, but what an
    # ExternalName Service or a resolver in between may give): alias -> mid -> api.
    f"alias.shop.{_SVC}": {"CNAME": [f"mid.shop.{_SVC}"]},
    f"mid.shop.{_SVC}": {"CNAME": [API]},
    f"loop-a.shop.{_SVC}": {"CNAME": [f"loop-b.shop.{_SVC}"]},
    f"loop-b.shop.{_SVC}": {"CNAME": [f"loop-a.shop.{_SVC}"]},
    # Poisoned data that a compromised or misconfigured server could serve.
    f"_mongodb._tcp.{API}": {
        "SRV": [f"0 50 27017 api-0.{API}", "0 50 27017 mongo.attacker.example."]
    },
    f"_evil._tcp.{API}": {"SRV": ["0 50 27017 mongo.attacker.example."]},
    "mongo.attacker.example.": {"A": ["203.0.113.66"]},
    f"leaky.shop.{_SVC}": {"A": ["10.244.0.20", "203.0.113.66"]},
}


@dataclass(frozen=True)
class Case:
    """One fault and what the library must make of it.

    Attributes:
        id: The test id.
        fault: How the server misbehaves; ``None``: no server listens on the port at all.
        raises: The exception classes the library documents for it (any one of them); or
        endpoints: the ``(address, port, hostname)`` triples of a correct resolution.
        lookup: Keyword arguments for ``resolve()`` besides the resolver.
        server: Keyword arguments for the :class:`FaultServer`.
        not_raises: A subclass the exception must not be (NODATA is not NXDOMAIN).
        timed_out: The failure is a timeout: it takes the whole lifetime.
    """

    id: str
    fault: Fault | None
    raises: tuple[type[DiscoveryError], ...] = ()
    endpoints: frozenset[tuple[str, int | None, str | None]] = frozenset()
    lookup: Mapping[str, Any] = field(default_factory=lambda: {"name": "api.shop", "port": 8080})
    server: Mapping[str, Any] = field(default_factory=dict)
    not_raises: type[DiscoveryError] | None = None
    timed_out: bool = False

    @property
    def family(self) -> Family:
        family: Family = self.lookup.get("family", "any")
        return family


def _ips(
    addresses: frozenset[str], port: int = 8080
) -> frozenset[tuple[str, int | None, str | None]]:
    return frozenset((ip, port, None) for ip in addresses)


_SRV_ENDPOINTS = frozenset((ip, 8080, name.rstrip(".")) for name, ip in PODS.items())
_TIMEOUT = (ResolverTimeoutError,)
_UNAVAILABLE = (ResolverUnavailableError,)

CASES: tuple[Case, ...] = (
    # No answer at all.
    # Nothing listens: over UDP the client hears nothing (a timeout); a client whose UDP
    # socket is connected hears "port unreachable" (unavailable). Both are documented.
    Case("nameserver-down", None, _TIMEOUT + _UNAVAILABLE, timed_out=True),
    Case("silent", "silent", _TIMEOUT, timed_out=True),
    Case("slow", "slow", _TIMEOUT, server={"delay": 3 * LIFETIME}, timed_out=True),
    # An answer that says "failed".
    Case("servfail", "servfail", _UNAVAILABLE),
    Case("refused", "refused", _UNAVAILABLE),
    Case("truncated-tcp-refused", "truncate", _UNAVAILABLE, server={"tcp": False}),
    # Replies a client must not accept.
    Case("malformed", "garbage", _TIMEOUT, timed_out=True),
    Case("mismatched-id", "wrong_id", _TIMEOUT, timed_out=True),
    Case("spoofed-then-real", "spoof", endpoints=_ips(API_V4 | API_V6)),
    # Negative answers.
    Case("nxdomain", "nxdomain", (ServiceNotFoundError,)),
    Case("nodata", "nodata", (NoEndpointsError,), not_raises=ServiceNotFoundError),
    Case(
        "nodata-ipv6",
        "answer",
        (NoEndpointsError,),
        lookup={"name": "leaky.shop", "port": 8080, "family": "ipv6"},
        not_raises=ServiceNotFoundError,
    ),
    # Strange but valid answers.
    Case("truncated-tcp-answers", "truncate", endpoints=_ips(API_V4 | API_V6)),
    Case(
        "cname-chain",
        "answer",
        endpoints=_ips(API_V4 | API_V6),
        lookup={"name": "alias.shop", "port": 8080},
    ),
    Case("cname-loop", "answer", _UNAVAILABLE, lookup={"name": "loop-a.shop", "port": 8080}),
    Case(
        "a-and-aaaa-mixed-ipv4",
        "mixed",
        endpoints=_ips(API_V4),
        lookup={"name": "api.shop", "port": 8080, "family": "ipv4"},
    ),
    Case(
        "a-and-aaaa-mixed-ipv6",
        "mixed",
        endpoints=_ips(API_V6),
        lookup={"name": "api.shop", "port": 8080, "family": "ipv6"},
    ),
    Case("a-and-aaaa-mixed-any", "mixed", endpoints=_ips(API_V4 | API_V6)),
    Case("duplicate-records", "duplicates", endpoints=_ips(API_V4 | API_V6)),
    Case(
        "duplicate-srv-records",
        "duplicates",
        endpoints=_SRV_ENDPOINTS,
        lookup={"name": "api.shop", "srv": "http"},
    ),
    Case("srv", "answer", endpoints=_SRV_ENDPOINTS, lookup={"name": "api.shop", "srv": "http"}),
    Case(
        "srv-targets-looked-up",
        "answer",
        endpoints=_SRV_ENDPOINTS,
        lookup={"name": "api.shop", "srv": "http"},
        server={"additional": False},
    ),
    # Poisoned answers: screened before anyone connects.
    Case(
        "srv-target-outside-domain",
        "answer",
        endpoints=frozenset({("10.244.0.10", 27017, f"api-0.{API}".rstrip("."))}),
        lookup={"name": "api.shop", "srv": "mongodb"},
    ),
    Case(
        "srv-all-targets-outside-domain",
        "answer",
        (UntrustedAnswerError,),
        lookup={"name": "api.shop", "srv": "evil"},
    ),
    Case(
        "address-outside-allowed-networks",
        "answer",
        endpoints=_ips(frozenset({"10.244.0.20"})),
        lookup={"name": "leaky.shop", "port": 8080, "allowed_networks": ["10.244.0.0/16"]},
    ),
)

#: The cases where the lookup fails: long-lived discovery must keep its last endpoints.
FAILURES: tuple[Case, ...] = tuple(
    c for c in CASES if c.raises and c.lookup.get("name") == "api.shop" and "srv" not in c.lookup
)
