"""The asyncio twin of sync_app.py: pymongo's AsyncMongoClient, built from discovery.

The same environment variables and flags as sync_app.py:

    MONGODB_SERVICE      the headless Service        (default: mongodb-headless-service)
    MONGODB_NAMESPACE    its namespace               (default: this pod's namespace)
    MONGODB_REPLICA_SET  the replica set name        (default: rs0)
    MONGODB_PORT         the members' port           (default: 27017)
    MONGODB_USERNAME     credentials, from a Secret  (optional)
    MONGODB_PASSWORD

    python examples/async_app.py --demo                # the seeds from the embedded demo zone
    python examples/async_app.py --zone-file my.zone   # records from a zone file

The lookup is awaited (AsyncDnsResolver, or the zone file's StaticResolver): nothing blocks
the event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from contextlib import ExitStack
from importlib.resources import as_file, files
from typing import Any

from headless_discovery import DiscoveryError, StaticResolver, async_mongo_client


async def run(args: argparse.Namespace) -> int:
    settings: dict[str, Any] = {
        "namespace": os.environ.get("MONGODB_NAMESPACE") or None,
        "port": int(os.environ.get("MONGODB_PORT", "27017")),
        "replica_set": os.environ.get("MONGODB_REPLICA_SET", "rs0"),
        "username": os.environ.get("MONGODB_USERNAME") or None,
        "password": os.environ.get("MONGODB_PASSWORD") or None,
    }
    service = os.environ.get("MONGODB_SERVICE", "mongodb-headless-service")

    with ExitStack() as stack:
        zone_file = args.zone_file or os.environ.get("HEADLESS_DISCOVERY_ZONE_FILE")
        if args.demo:
            demo_zone = files("headless_discovery") / "data" / "demo-cluster.zone"
            zone_file = str(stack.enter_context(as_file(demo_zone)))
            service, settings["namespace"] = "mongodb-headless-service", "infrastructure"
        try:
            # None: the cluster's DNS server, from /etc/resolv.conf.
            resolver = StaticResolver.from_zone_file(zone_file) if zone_file else None
            client = await async_mongo_client(
                service,
                resolver=resolver,
                serverSelectionTimeoutMS=10_000,
                connect=not args.demo,
                **settings,
            )
        except DiscoveryError as exc:
            print(f"cannot find MongoDB: {exc}", file=sys.stderr)
            return 1

    async with client:
        if args.demo:
            # The demo's pod IPs exist only in the zone: show the seeds, do not connect.
            seeds = sorted(client.topology_description.server_descriptions())
            print("seeds:", ", ".join(f"{host}:{port}" for host, port in seeds))
            return 0
        while True:
            await client.admin.command("ping")
            host, port = await client.primary or ("?", 0)
            print(f"ping ok, primary {host}:{port}", flush=True)
            if args.once:
                return 0
            await asyncio.sleep(args.interval)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zone-file", help="read DNS records from this zone file")
    parser.add_argument("--demo", action="store_true", help="print the seeds of the demo zone")
    parser.add_argument("--once", action="store_true", help="ping once and exit")
    parser.add_argument("--interval", type=float, default=30.0, help="seconds between pings")
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
