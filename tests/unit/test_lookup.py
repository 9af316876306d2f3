"""The drivers of a query plan: one boundary for resolvers we do not know, the sync and
async twins mirrored, what mongo_uri passes down."""

from __future__ import annotations

import asyncio

import pytest

from headless_discovery import (
    AddressAnswer,
    Family,
    MongoUriArguments,
    ResolverUnavailableError,
    SrvAnswer,
    StaticResolver,
    amongo_uri,
    aresolve,
    mongo_uri,
    resolve,
)

NAME = "db.prod.svc.cluster.local"


class BrokenResolver:
    """A custom resolver with a bug: raises something that is not ours."""

    def resolve_addresses(self, name: str, *, family: Family = "any") -> AddressAnswer:
        raise KeyError(name)

    def resolve_srv(self, name: str, *, family: Family = "any") -> SrvAnswer:
        raise KeyError(name)

    async def aresolve_addresses(self, name: str, *, family: Family = "any") -> AddressAnswer:
        raise KeyError(name)

    async def aresolve_srv(self, name: str, *, family: Family = "any") -> SrvAnswer:
        raise KeyError(name)

    def __repr__(self) -> str:
        return "<BrokenResolver>"


def test_a_foreign_exception_becomes_our_error_with_the_cause() -> None:
    with pytest.raises(
        ResolverUnavailableError, match=r"the resolver <BrokenResolver> raised KeyError"
    ) as info:
        resolve(NAME, port=80, resolver=BrokenResolver())
    assert isinstance(info.value.__cause__, KeyError)
    assert (info.value.name, info.value.rdtype) == (NAME + ".", "A/AAAA")
    with pytest.raises(ResolverUnavailableError, match="raised KeyError") as async_info:
        asyncio.run(aresolve(NAME, srv="mongodb", resolver=BrokenResolver()))
    assert async_info.value.rdtype == "SRV"


def test_sync_and_async_give_the_same_snapshot() -> None:
    addresses = [f"10.0.{i // 250}.{i % 250 + 1}" for i in range(300)]  # more than one slice
    resolver = StaticResolver({NAME: addresses})
    sync = resolve(NAME, port=27017, resolver=resolver)
    assert asyncio.run(aresolve(NAME, port=27017, resolver=resolver)) == sync
    assert len(sync) == 300


def test_mongo_uri_passes_every_argument_down() -> None:
    resolver = StaticResolver({NAME: ["10.0.0.2", "10.0.0.1"]})
    arguments: MongoUriArguments = {
        "namespace": "prod",
        "cluster_domain": "cluster.local",
        "port": 27018,
        "replica_set": "rs0",
        "username": "app",
        "password": "p@ss",
        "database": "orders",
        "options": {"tls": True},
        "allowed_networks": ["10.0.0.0/8"],
    }
    uri = mongo_uri("db", resolver=resolver, **arguments)
    assert uri == (
        "mongodb://app:p%40ss@10.0.0.1:27018,10.0.0.2:27018/orders?tls=true&replicaSet=rs0"
    )
    assert asyncio.run(amongo_uri("db", resolver=resolver, **arguments)) == uri
    with pytest.raises(TypeError, match="unexpected keyword argument 'replicaset'"):
        mongo_uri(NAME, replicaset="rs0", resolver=resolver)  # type: ignore[call-arg]
