"""A resolver whose answers a test changes between lookups, for the refresh logic's unit tests.

The DNS behaviour itself is tested against a real BIND; this double only lets unit tests
drive the state machine (answers, NXDOMAIN, failures) with a fake clock and no sleeping.
"""

from __future__ import annotations

import threading

from headless_discovery import (
    AddressAnswer,
    Family,
    ResolverTimeoutError,
    ServiceNotFoundError,
    SrvAnswer,
)


class ScriptedResolver:
    """Answers address lookups with whatever ``addresses`` holds now.

    ``addresses = None`` answers NXDOMAIN; ``fail = True`` times out.
    """

    def __init__(self, addresses: list[str] | None, ttl: float = 5.0) -> None:
        self.addresses = addresses
        self.ttl = ttl
        self.fail = False
        self.lookups = 0
        self._lock = threading.Lock()

    def _answer(self, name: str) -> AddressAnswer:
        with self._lock:
            self.lookups += 1
        if self.fail:
            raise ResolverTimeoutError("scripted timeout", name=name, rdtype="A", elapsed=0.0)
        if self.addresses is None:
            raise ServiceNotFoundError("scripted NXDOMAIN", name=name, rdtype="A")
        return AddressAnswer(name, tuple(self.addresses), self.ttl, "scripted")

    def resolve_addresses(self, name: str, *, family: Family = "any") -> AddressAnswer:
        return self._answer(name)

    def resolve_srv(self, name: str, *, family: Family = "any") -> SrvAnswer:
        raise NotImplementedError

    async def aresolve_addresses(self, name: str, *, family: Family = "any") -> AddressAnswer:
        return self._answer(name)

    async def aresolve_srv(self, name: str, *, family: Family = "any") -> SrvAnswer:
        raise NotImplementedError


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
