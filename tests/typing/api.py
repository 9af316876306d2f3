"""Typed use of the public API, checked by `mypy --strict` (nox -s types); never run."""

from __future__ import annotations

import random

from headless_discovery import (
    AddressAnswer,
    AsyncResolver,
    ConsistentHash,
    DnsResolver,
    Endpoint,
    Family,
    LeastOutstanding,
    OutlierEjection,
    Random,
    Resolution,
    Resolver,
    RoundRobin,
    ServiceName,
    SrvAnswer,
    StaticResolver,
    Strategy,
    build_mongo_uri,
    mongo_uri,
    resolve,
)


class OnlyOrdinalZero:
    """A custom strategy: satisfies the protocol without subclassing."""

    def pick(self, endpoints: object, key: str | None = None) -> Endpoint:
        raise NotImplementedError


class MyResolver:
    def resolve_addresses(self, name: str, *, family: Family = "any") -> AddressAnswer:
        return AddressAnswer(name, ("10.0.0.1",), 5.0)

    def resolve_srv(self, name: str, *, family: Family = "any") -> SrvAnswer:
        return SrvAnswer(name, ())


def usage() -> None:
    svc = ServiceName("db", namespace="prod")
    fqdn: str = svc.fqdn
    res: Resolution = resolve(svc, port=27017, resolver=DnsResolver(["127.0.0.1"], 5353))
    first: Endpoint = res[0]
    strategy: Strategy = RoundRobin()
    strategy = Random(random.Random(1))
    chosen: Endpoint = strategy.pick(res)
    chosen = ConsistentHash().pick(res, key="user-42")
    least = LeastOutstanding(random.Random(2))
    with least.acquire(res) as busy:
        chosen = busy
    strategy = OutlierEjection(least)
    resolver: Resolver = MyResolver()
    static: AsyncResolver = StaticResolver({"db.prod.svc.cluster.local": ["10.0.0.1"]})
    uri: str = mongo_uri("db", namespace="prod", replica_set="rs0", resolver=resolver)
    uri = build_mongo_uri(res, hosts="ip")
    print(fqdn, first, chosen, static, uri)
