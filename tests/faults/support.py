"""Helpers of the fault tests: a nameserver misbehaving as a case says, lookups by either driver."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Mapping
from typing import Any, Literal

from headless_discovery import (
    AsyncDnsResolver,
    DnsResolver,
    Resolution,
    aresolve,
    resolve,
)
from tests.faults.cases import LIFETIME, TIMEOUT, ZONE, Case
from tests.faults.server import FaultServer, closed_port

Driver = Literal["sync", "async"]
DRIVERS: tuple[Driver, ...] = ("sync", "async")


@contextlib.contextmanager
def serving(case: Case) -> Iterator[tuple[str, int]]:
    """``(address, port)`` of a nameserver misbehaving as ``case`` says, for the block."""
    if case.fault is None:
        yield "127.0.0.1", closed_port()
        return
    with FaultServer(ZONE, fault=case.fault, **case.server) as server:
        yield server.address, server.port


def lookup(
    driver: Driver,
    address: str,
    port: int,
    arguments: Mapping[str, Any],
    *,
    timeout: float = TIMEOUT,
    lifetime: float = LIFETIME,
) -> Resolution:
    """``resolve()`` with a :class:`DnsResolver`, or ``aresolve()`` with its async twin."""
    args = dict(arguments)
    name = args.pop("name")
    if driver == "sync":
        resolver = DnsResolver([address], port, timeout=timeout, lifetime=lifetime)
        return resolve(name, resolver=resolver, **args)

    async def main() -> Resolution:
        resolver = AsyncDnsResolver([address], port, timeout=timeout, lifetime=lifetime)
        return await aresolve(name, resolver=resolver, **args)

    return asyncio.run(main())
