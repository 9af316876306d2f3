"""``python -m headless_discovery``: the command line."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.resources import as_file, files

from . import RoundRobin, ServiceName, StaticResolver, build_mongo_uri, resolve

__all__ = ["main"]

DEMO_SERVICE = ServiceName(
    "mongodb-headless-service", namespace="infrastructure", cluster_domain="cluster.local"
)


def demo() -> int:
    """Resolve the embedded demo cluster and print what an application would get."""
    with as_file(files("headless_discovery") / "data" / "demo-cluster.zone") as path:
        resolver = StaticResolver.from_zone_file(path)
    print(f"Service      {DEMO_SERVICE.fqdn}  (embedded demo zone, no cluster needed)")
    endpoints = resolve(DEMO_SERVICE, port=27017, resolver=resolver)
    for ep in endpoints:
        print(f"  endpoint   {ep.netloc()}")
    print(f"  ttl        {endpoints.ttl:g} s")
    rr = RoundRobin()
    print("round robin  " + ", ".join(rr.pick(endpoints).address for _ in range(4)))
    print("mongo (ip)   " + build_mongo_uri(endpoints, replica_set="rs0"))
    members = resolve(DEMO_SERVICE, srv="mongodb", resolver=resolver)
    print("mongo (host) " + build_mongo_uri(members, hosts="hostname", replica_set="rs0"))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``headless-discovery`` command."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args in ([], ["demo"]):
        return demo()
    print("usage: headless-discovery [demo]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
