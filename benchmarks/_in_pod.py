"""The rows that need the system resolver, run inside a pod network namespace.

``bench_discovery.py`` starts a :class:`tests.harness.pod.PodNamespace` (BIND on
10.96.0.10:53, a pod's resolv.conf) and runs this file in it: libc ``getaddrinfo`` and
pymongo's SRV lookups resolve through ``/etc/resolv.conf`` there, as in a cluster. Prints one
JSON object: seconds per call, the minimum over interleaved rounds, per case and size.
"""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Callable

from bench_discovery import interleaved

from headless_discovery import SystemResolver, mongo_uri, resolve


def main(fqdns: dict[str, str], rounds: int) -> None:
    from pymongo.uri_parser import parse_uri

    results: dict[str, dict[str, float]] = {}
    for size, fqdn in fqdns.items():
        system = SystemResolver()
        cases: dict[str, Callable[[], object]] = {
            "resolve(SystemResolver)": lambda fqdn=fqdn, system=system: resolve(
                fqdn + ".", resolver=system
            ),
            "getaddrinfo": lambda fqdn=fqdn: socket.getaddrinfo(
                fqdn + ".", None, socket.AF_UNSPEC, socket.SOCK_STREAM
            ),
            "mongo_uri": lambda fqdn=fqdn: mongo_uri(fqdn, replica_set="rs0"),
            "pymongo parse_uri": lambda fqdn=fqdn: parse_uri(f"mongodb+srv://{fqdn}/?tls=false"),
        }
        results[size] = interleaved(cases, rounds)
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]), int(sys.argv[2]))
