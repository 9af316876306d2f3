"""The demo zone as a model of the test harness, so that BIND serves it to a pod."""

from __future__ import annotations

from collections import defaultdict
from importlib.resources import files

import dns.rdatatype
import dns.zone

from tests.harness.cluster import Cluster, Pod, Service

DEMO_ZONE = str(files("headless_discovery") / "data" / "demo-cluster.zone")


def demo_cluster() -> Cluster:
    """Every Service of the demo zone: pods by address, hostnames and named ports from SRV."""
    zone = dns.zone.from_file(DEMO_ZONE, relativize=False)
    addresses: dict[tuple[str, str], list[str]] = defaultdict(list)
    hostnames: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
    ports: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    for name, rdataset in zone.iterate_rdatasets():
        labels = name.relativize(zone.origin).to_text().split(".")
        if labels[-1] != "svc":
            continue
        if rdataset.rdtype == dns.rdatatype.A and len(labels) == 3:
            addresses[(labels[0], labels[1])] = [rr.address for rr in rdataset]
        elif rdataset.rdtype == dns.rdatatype.A and len(labels) == 4:
            (rr,) = rdataset
            hostnames[(labels[1], labels[2])][rr.address] = labels[0]
        elif rdataset.rdtype == dns.rdatatype.SRV:
            ports[(labels[2], labels[3])][labels[0][1:]] = next(iter(rdataset)).port
    cluster = Cluster()
    for (service, namespace), ips in addresses.items():
        named = hostnames[(service, namespace)]
        pods = [
            Pod(named.get(ip, f"{service}-{i}"), ipv4=ip, hostname=named.get(ip))
            for i, ip in enumerate(ips)
        ]
        cluster.add(
            Service(service, namespace, ports=ports[(service, namespace)] or {"": 0}, pods=pods)
        )
    return cluster
