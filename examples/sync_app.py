"""A minimal application that talks to the MongoDB replica set behind a headless Service.

Configured the way a Kubernetes Deployment configures it, through environment variables
(see kubernetes/app.yaml):

    MONGODB_SERVICE      the headless Service        (default: mongodb-headless-service)
    MONGODB_NAMESPACE    its namespace               (default: this pod's namespace)
    MONGODB_REPLICA_SET  the replica set name        (default: rs0)
    MONGODB_PORT         the members' port           (default: 27017)
    MONGODB_USERNAME     credentials, from a Secret  (optional)
    MONGODB_PASSWORD

Run it in a cluster as it is. Without a cluster:

    python examples/sync_app.py --demo                # the seeds from the embedded demo zone
    python examples/sync_app.py --zone-file my.zone   # records from a zone file (or set
                                                      # HEADLESS_DISCOVERY_ZONE_FILE)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from contextlib import ExitStack
from importlib.resources import as_file, files
from typing import Any

from headless_discovery import DiscoveryError, StaticResolver, mongo_client


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zone-file", help="read DNS records from this zone file")
    parser.add_argument("--demo", action="store_true", help="print the seeds of the demo zone")
    parser.add_argument("--once", action="store_true", help="ping once and exit")
    parser.add_argument("--interval", type=float, default=30.0, help="seconds between pings")
    args = parser.parse_args(argv)

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
            client = mongo_client(
                service,
                resolver=resolver,
                serverSelectionTimeoutMS=10_000,
                connect=not args.demo,
                **settings,
            )
        except DiscoveryError as exc:
            print(f"cannot find MongoDB: {exc}", file=sys.stderr)
            return 1

        with client:
            if args.demo:
                # The demo's pod IPs exist only in the zone: show the seeds, do not connect.
                seeds = sorted(client.topology_description.server_descriptions())
                print("seeds:", ", ".join(f"{host}:{port}" for host, port in seeds))
                return 0
            while True:
                client.admin.command("ping")
                host, port = client.primary or ("?", 0)
                print(f"ping ok, primary {host}:{port}", flush=True)
                if args.once:
                    return 0
                time.sleep(args.interval)


if __name__ == "__main__":
    sys.exit(main())
