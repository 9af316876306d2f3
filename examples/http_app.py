"""A client of an HTTP API behind a headless Service: every request goes to a ready pod.

Configured the way a Kubernetes Deployment configures it, through environment variables:

    API_SERVICE     the headless Service     (default: api)
    API_NAMESPACE   its namespace            (default: this pod's namespace)
    API_PORT        the pods' port           (default: 8080)
    API_CA_FILE     CA bundle for https      (optional: plain http without it)

It sends ``--requests`` GET requests to ``/`` and prints which pod answered each. Without a
cluster, ``--zone-file my.zone`` reads the records from a zone file (or set
HEADLESS_DISCOVERY_ZONE_FILE). Needs ``pip install 'headless-discovery[httpx]'``.
"""

from __future__ import annotations

import argparse
import os
import sys

import httpx

from headless_discovery import Discovery, DiscoveryError, StaticResolver
from headless_discovery.integrations.httpx import DiscoveryTransport


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zone-file", help="read DNS records from this zone file")
    parser.add_argument("--requests", type=int, default=6, help="how many requests to send")
    args = parser.parse_args(argv)
    service = os.environ.get("API_SERVICE", "api")
    namespace = os.environ.get("API_NAMESPACE")
    port = int(os.environ.get("API_PORT", "8080"))
    ca_file = os.environ.get("API_CA_FILE")
    zone_file = args.zone_file or os.environ.get("HEADLESS_DISCOVERY_ZONE_FILE")
    resolver = StaticResolver.from_zone_file(zone_file) if zone_file else None

    with Discovery(service, namespace=namespace, port=port, resolver=resolver) as pods:
        assert pods.service is not None
        scheme = "https" if ca_file else "http"
        url = f"{scheme}://{pods.service.fqdn}:{port}/"
        transport = DiscoveryTransport(pods, verify=ca_file or True, retries=1)
        with httpx.Client(transport=transport, timeout=5.0) as client:
            for _ in range(args.requests):
                try:
                    response = client.get(url)
                except httpx.ConnectError as exc:
                    # No ready pod: the cause says what discovery saw.
                    cause = exc.__cause__
                    print(f"error: {exc}", file=sys.stderr)
                    return 2 if isinstance(cause, DiscoveryError) else 1
                print(response.status_code, response.text.strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
