"""Typed use of the public API, checked by `mypy --strict` (nox -s types); never run."""

from __future__ import annotations

import random
from typing import Any

import pymongo
from opentelemetry.metrics import NoOpMeterProvider

from headless_discovery import (
    AddressAnswer,
    AsyncResolver,
    ConsistentHash,
    Discovery,
    DiscoveryStats,
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
    aresolve,
    async_mongo_client,
    build_mongo_uri,
    build_seed_list,
    instrumentation,
    mongo_client,
    mongo_uri,
    resolve,
    seed_list,
)
from headless_discovery.integrations.opentelemetry import OpenTelemetryHook


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


def seeds_and_clients() -> None:
    static = StaticResolver({"kafka.streaming.svc.cluster.local": ["10.0.0.1"]})
    servers: str = seed_list("kafka", namespace="streaming", port=9092, resolver=static)
    hosts: list[str] = build_seed_list(resolve("es.search", port=9200), scheme="https").split(",")
    client: pymongo.MongoClient[dict[str, Any]] = mongo_client(
        "db", namespace="prod", replica_set="rs0", serverSelectionTimeoutMS=500
    )
    client.close()
    print(servers, hosts)


def observability() -> None:
    hook = OpenTelemetryHook(NoOpMeterProvider(), clock=lambda: 0.0)
    remove = instrumentation.add_hook(hook)
    with Discovery("api", namespace="shop", port=80, hooks=[OpenTelemetryHook()]) as pods:
        stats: DiscoveryStats = pods.stats()
        staleness: float = stats.staleness
        age: float | None = stats.age
        ejected: frozenset[Endpoint] = stats.ejected
        total: int = stats.refreshes
        print(staleness, age, ejected, total)
    remove()


async def async_usage() -> None:
    static = StaticResolver({"db.prod.svc.cluster.local": ["10.0.0.1"]})
    res: Resolution = await aresolve("db.prod", port=27017, resolver=static)
    client: pymongo.AsyncMongoClient[dict[str, Any]] = await async_mongo_client(
        "db", namespace="prod", resolver=static, connect=False
    )
    await client.close()
    print(res, build_seed_list(res))
