"""A gRPC client that spreads its calls over every ready pod of a headless Service.

Configured the way a Kubernetes Deployment configures it, through environment variables:

    GRPC_SERVICE      the headless Service      (default: greeter-headless)
    GRPC_NAMESPACE    its namespace             (default: this pod's namespace)
    GRPC_PORT         the pods' gRPC port       (default: 50051)

It calls one unary method ``--count`` times with raw bytes (any method whose request may be
empty works) and prints each distinct answer with how often it came: a method that answers
with its pod's name shows the spread. With generated code, pass the channel to the stub
instead: ``GreeterStub(channel)``.

    python examples/grpc_client.py --method /helloworld.Greeter/SayHello
    python examples/grpc_client.py --zone-file my.zone ...   # records from a zone file
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter

import grpc

from headless_discovery import Discovery, DiscoveryError, StaticResolver
from headless_discovery.integrations.grpc import discovery_channel


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", required=True, help="the full method name: /pkg.Svc/Method")
    parser.add_argument("--request", default="", help="the request bytes (default: empty)")
    parser.add_argument("--count", type=int, default=30, help="how many calls")
    parser.add_argument("--zone-file", help="read DNS records from this zone file")
    args = parser.parse_args(argv)

    zone_file = args.zone_file or os.environ.get("HEADLESS_DISCOVERY_ZONE_FILE")
    try:
        pods = Discovery(
            os.environ.get("GRPC_SERVICE", "greeter-headless"),
            namespace=os.environ.get("GRPC_NAMESPACE") or None,
            port=int(os.environ.get("GRPC_PORT", "50051")),
            # None: the cluster's DNS server, from /etc/resolv.conf.
            resolver=StaticResolver.from_zone_file(zone_file) if zone_file else None,
        )
        pods.wait_for(1, timeout=30)
    except DiscoveryError as exc:
        print(f"cannot find the pods: {exc}", file=sys.stderr)
        return 1

    answers: Counter[bytes] = Counter()
    with pods, discovery_channel(pods) as channel:
        method: grpc.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(args.method)
        for _ in range(args.count):
            try:
                answers[method(args.request.encode(), timeout=5)] += 1
            except grpc.RpcError as exc:
                print(f"call failed: {exc}", file=sys.stderr)
                return 1
    for answer, count in sorted(answers.items()):
        print(f"{count:4d}  {answer.decode(errors='replace')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
