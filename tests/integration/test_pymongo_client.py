"""mongo_client / async_mongo_client against a MockupDB replica set on loopback (no BIND)."""

from __future__ import annotations

import asyncio
import sys
import types
from typing import Any

import pymongo
import pytest

from headless_discovery import (
    ConfigurationError,
    ServiceNotFoundError,
    SrvRecord,
    StaticResolver,
    amongo_uri,
    async_mongo_client,
    mongo_client,
    mongo_uri,
)
from tests.harness.fixtures import ReplicaSetFactory
from tests.harness.mongo import ReplicaSet
from tests.support.members import MEMBER_ADDRESSES, start_on_one_port

SERVICE = "mongodb.db.svc.cluster.local"


@pytest.fixture
def members(replica_set: ReplicaSetFactory) -> ReplicaSet:
    return start_on_one_port(replica_set)


def resolver_for(rs: ReplicaSet) -> StaticResolver:
    """What cluster DNS would serve for the set: one A record per member, shuffled."""
    return StaticResolver({SERVICE: [host for host, _ in reversed(rs.members)]})


def test_the_client_finds_the_primary_through_discovery(members: ReplicaSet) -> None:
    port = members.members[0][1]
    client = mongo_client(
        "mongodb",
        namespace="db",
        cluster_domain="cluster.local",
        port=port,
        replica_set="rs0",
        options={"appName": "orders"},
        resolver=resolver_for(members),
        serverSelectionTimeoutMS=5000,
    )
    with client:
        assert client.admin.command("ping")["ok"] == 1
        assert client.primary == (MEMBER_ADDRESSES[0], port)
        assert client.options.replica_set_name == "rs0"
        assert client.options.server_selection_timeout == 5
        assert client.options.pool_options.metadata["application"] == {"name": "orders"}


def test_the_async_client_finds_the_primary_through_discovery(members: ReplicaSet) -> None:
    port = members.members[0][1]

    async def main() -> tuple[Any, Any]:
        client = await async_mongo_client(
            SERVICE,
            port=port,
            replica_set="rs0",
            resolver=resolver_for(members),
            serverSelectionTimeoutMS=5000,
        )
        try:
            reply = await client.admin.command("ping")
            return reply["ok"], await client.address
        finally:
            await client.close()

    ok, address = asyncio.run(main())
    assert ok == 1
    assert address == (MEMBER_ADDRESSES[0], port)


def test_hostname_seeding_reaches_pymongo() -> None:
    resolver = StaticResolver(
        {
            f"_mongodb._tcp.{SERVICE}": [
                SrvRecord(f"mongodb-{i}.{SERVICE}", 27017, 0, 50, (f"10.244.0.{i + 5}",))
                for i in range(2)
            ]
        }
    )
    client: pymongo.MongoClient[dict[str, Any]] = mongo_client(
        SERVICE,
        hosts="hostname",
        replica_set="rs0",
        resolver=resolver,
        connect=False,
    )
    with client:
        seeds = set(client.topology_description.server_descriptions())
        assert seeds == {(f"mongodb-{i}.{SERVICE}", 27017) for i in range(2)}


def test_srv_hands_the_service_to_the_driver() -> None:
    async def main() -> None:
        client = await async_mongo_client(SERVICE, srv=True, options={"tls": False}, connect=False)
        await client.close()
        # A resolver of ours would never be asked: refused rather than silently ignored.
        with pytest.raises(ConfigurationError, match="no effect with srv=True"):
            await async_mongo_client(SERVICE, srv=True, resolver=StaticResolver({}))

    asyncio.run(main())


def test_a_lookup_error_is_raised_before_any_client_exists() -> None:
    with pytest.raises(ServiceNotFoundError, match="NXDOMAIN"):
        mongo_client(SERVICE, resolver=StaticResolver({}))

    async def main() -> None:
        await async_mongo_client(SERVICE, resolver=StaticResolver({}))

    with pytest.raises(ServiceNotFoundError):
        asyncio.run(main())


def test_without_pymongo_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pymongo", None)
    # The empty resolver proves that no lookup was made first.
    with pytest.raises(ConfigurationError, match=r"pip install 'headless-discovery\[mongo\]'"):
        mongo_client(SERVICE, resolver=StaticResolver({}))
    with pytest.raises(ConfigurationError, match="needs pymongo, which is not installed"):
        asyncio.run(async_mongo_client(SERVICE, resolver=StaticResolver({})))


def test_pymongo_without_async_client_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    old = types.ModuleType("pymongo")
    old.version = "4.9.2"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pymongo", old)
    with pytest.raises(ConfigurationError, match=r"pymongo 4\.10 or later, not 4\.9\.2"):
        asyncio.run(async_mongo_client(SERVICE, resolver=StaticResolver({})))


def test_pymongo_refusing_an_option_is_our_error_without_the_password() -> None:
    resolver = StaticResolver({"db.prod.svc.cluster.local": ["127.0.0.1"]})
    with pytest.raises(ConfigurationError, match="pymongo refused the client") as info:
        mongo_client(
            "db.prod.svc.cluster.local",
            resolver=resolver,
            username="app",
            password="s3cret+P@ss",
            maxPoolSize=-1,
        )
    assert "s3cret" not in str(info.value)
    assert "maxPoolSize" in str(info.value)
    assert isinstance(info.value.__cause__, ValueError)


def test_amongo_uri_is_the_twin_of_mongo_uri() -> None:
    resolver = StaticResolver(
        {
            "db.prod.svc.cluster.local": ["10.0.0.2", "10.0.0.1"],
            "_mongodb._tcp.db.prod.svc.cluster.local": [
                SrvRecord("db-0.db.prod.svc.cluster.local", 27017, addresses=("10.0.0.1",))
            ],
        }
    )
    for hosts in ("ip", "hostname"):
        sync = mongo_uri("db.prod.svc.cluster.local", hosts=hosts, resolver=resolver)  # type: ignore[arg-type]
        coro = amongo_uri("db.prod.svc.cluster.local", hosts=hosts, resolver=resolver)  # type: ignore[arg-type]
        assert asyncio.run(coro) == sync
    with pytest.raises(ConfigurationError, match="no effect with srv=True"):
        mongo_uri("db.prod.svc.cluster.local", srv=True, allowed_networks=["10.0.0.0/8"])
