"""A declarative model of a cluster's DNS: Services, their pods, and the records served.

Pure: no sockets, files or processes. A test describes the cluster as data, asks the model for
the records cluster DNS would serve (:meth:`Cluster.records`) or the zone files that make a
real server serve them (:meth:`Cluster.render_zone_files`), changes the model (scale a
StatefulSet, turn a pod unready, move a pod to another IP) and lets :mod:`tests.harness.bind`
push the difference to a running server.

What is rendered follows the Kubernetes DNS specification (schema 1.1.0) as CoreDNS implements
it; see ``kubernetes-dns.md`` in the shared reference:

- ``<svc>.<ns>.svc.<zone>`` A/AAAA: one per IP of each published pod (ready pods, or every
  pod when the Service sets ``publishNotReadyAddresses``). No published pod: no record at all,
  so the name is NXDOMAIN, as with CoreDNS.
- ``<hostname>.<svc>.<ns>.svc.<zone>`` A/AAAA per published pod. A pod without a hostname is
  named by its dashed IP (``10-244-0-10``, IPv6 colons become dashes), one name per address,
  because Kubernetes puts each address family in its own EndpointSlice.
- ``_<port>._tcp.<svc>.<ns>.svc.<zone>`` SRV per named port and published endpoint: priority
  0, weight ``max(1, 100 // n)`` for ``n`` endpoints (CoreDNS's even share, floored), target
  the endpoint's hostname FQDN. Unnamed ports (key ``""``) get no SRV record.
- PTR for every published IP, in the ``in-addr.arpa`` and ``ip6.arpa`` zones that CoreDNS's
  default Corefile serves, pointing at the endpoint's hostname FQDN.
- ``dns-version.<zone>`` TXT ``"1.1.0"``; SOA and NS at each zone apex (CoreDNS's names:
  ``ns.dns.<zone>``, ``hostmaster.<zone>``), negative-answer TTL = record TTL.
- Optional TXT records at a Service's name (for ``mongodb+srv`` tests). CoreDNS serves none;
  they are rendered only while the Service has published pods, so "no ready pods" stays NXDOMAIN.

Example:
    >>> cluster = Cluster()
    >>> mongo = cluster.statefulset("mongodb", "db", 3)
    >>> [pod.ipv4 for pod in mongo.pods]
    ['10.244.0.10', '10.244.0.11', '10.244.0.12']
    >>> cluster.set_ready(mongo, "mongodb-2", ready=False).ready
    False
    >>> sorted(r.rdata for r in cluster.records() if r.name == "mongodb.db.svc.cluster.local.")
    ['10.244.0.10', '10.244.0.11']
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

__all__ = [
    "DNS_SCHEMA_VERSION",
    "IPV6_SUBNET",
    "Cluster",
    "Pod",
    "Record",
    "Service",
    "dashed_ip",
]

DNS_SCHEMA_VERSION = "1.1.0"
"""The Kubernetes DNS schema version served at ``dns-version.<zone>``."""

IPV6_SUBNET = "fd00:10:244::/64"
"""Where :meth:`Cluster.statefulset` takes IPv6 pod addresses from (unique local addresses)."""

REVERSE_ZONES = ("in-addr.arpa.", "ip6.arpa.")
"""The reverse zones cluster DNS serves whole (CoreDNS default Corefile)."""

# Host numbers start here so that addresses read easily (10.244.0.10, .11, ...) and never fall on
# a network or gateway address.
_FIRST_HOST = 10

# SOA timers as CoreDNS serves them (refresh, retry, expire); the minimum is the cluster TTL.
_SOA_TIMERS = "7200 1800 86400"

# A character-string in a TXT record holds at most 255 bytes.
_TXT_CHUNK = 255


def dashed_ip(ip: str) -> str:
    """The DNS label CoreDNS makes up for an endpoint without a hostname.

    Args:
        ip: An IPv4 or IPv6 address.

    Returns:
        The address with dots or colons replaced by dashes: ``10-244-1-5``, ``fd00-10-244--5``.
    """
    address = ipaddress.ip_address(ip)
    return address.compressed.replace(".", "-").replace(":", "-")


def _absolute(name: str) -> str:
    """``name`` lower-cased with exactly one trailing dot (DNS names compare case-insensitively)."""
    return name.lower().rstrip(".") + "."


def _ip_sort_key(ip: str) -> tuple[int, int]:
    """IPv4 before IPv6, then numeric order (addresses of different families do not compare)."""
    address = ipaddress.ip_address(ip)
    return (address.version, int(address))


def _address_rdtype(ip: str) -> str:
    return "A" if ipaddress.ip_address(ip).version == 4 else "AAAA"


def _quote_txt(text: str) -> str:
    """Master-file form of one TXT record: quoted, escaped, split into 255-byte strings."""
    escaped = [
        text[i : i + _TXT_CHUNK].replace("\\", "\\\\").replace('"', '\\"')
        for i in range(0, max(len(text), 1), _TXT_CHUNK)
    ]
    return " ".join(f'"{chunk}"' for chunk in escaped)


@dataclass(frozen=True, slots=True)
class Pod:
    """One pod behind a Service: its addresses, readiness and DNS hostname.

    Attributes:
        name: The pod's name (``mongodb-0``).
        ipv4: Its IPv4 address, or ``None``.
        ipv6: Its IPv6 address, or ``None`` (both set: a dual-stack pod).
        ready: Whether the endpoint is ready; only ready pods are published unless the Service
            sets ``publish_not_ready``.
        hostname: The pod's ``spec.hostname``; StatefulSet pods have their own name. ``None``:
            cluster DNS names the endpoint by its dashed IP.
    """

    name: str
    ipv4: str | None = None
    ipv6: str | None = None
    ready: bool = True
    hostname: str | None = None

    def __post_init__(self) -> None:
        # Normalise addresses so that records, reverse names and dashed labels are canonical
        # whatever spelling the test used, and reject an address of the wrong family early.
        if self.ipv4 is not None:
            object.__setattr__(self, "ipv4", str(ipaddress.IPv4Address(self.ipv4)))
        if self.ipv6 is not None:
            object.__setattr__(self, "ipv6", ipaddress.IPv6Address(self.ipv6).compressed)

    @property
    def ips(self) -> tuple[str, ...]:
        """The pod's addresses, IPv4 first."""
        return tuple(ip for ip in (self.ipv4, self.ipv6) if ip is not None)

    def endpoints(self) -> list[tuple[str, tuple[str, ...]]]:
        """The (DNS label, addresses) pairs cluster DNS publishes for this pod.

        A pod with a hostname is one endpoint with all its addresses; a pod without one is an
        endpoint per address, each named by its dashed IP.
        """
        if self.hostname is not None:
            return [(self.hostname, self.ips)] if self.ips else []
        return [(dashed_ip(ip), (ip,)) for ip in self.ips]


@dataclass(slots=True)
class Service:
    """A headless Service and the pods behind it (mutable: the model of a live cluster).

    Attributes:
        name: The Service's name.
        namespace: Its Kubernetes namespace.
        ports: Port name to TCP port number; a name of ``""`` is an unnamed port (no SRV).
        publish_not_ready: ``spec.publishNotReadyAddresses``: publish pods that are not ready.
        pods: The pods behind it, in order (StatefulSet ordinal order).
        txt: TXT records served at the Service's name, one string each (for ``mongodb+srv``
            tests: ``"authSource=admin&replicaSet=rs0"``); cluster DNS itself serves none.
    """

    name: str
    namespace: str
    ports: dict[str, int] = field(default_factory=lambda: {"mongodb": 27017})
    publish_not_ready: bool = False
    pods: list[Pod] = field(default_factory=list)
    txt: list[str] = field(default_factory=list)

    def pod(self, name: str) -> Pod:
        """The pod called ``name``.

        Raises:
            KeyError: No such pod in this Service.
        """
        for pod in self.pods:
            if pod.name == name:
                return pod
        raise KeyError(f"no pod {name!r} in Service {self.namespace}/{self.name}")

    @property
    def published(self) -> list[Pod]:
        """The pods cluster DNS publishes: the ready ones, or all with ``publish_not_ready``."""
        return [pod for pod in self.pods if pod.ready or self.publish_not_ready]


@dataclass(frozen=True, slots=True, order=True)
class Record:
    """One resource record as a master file holds it.

    Attributes:
        name: Owner name, absolute, lower case (``mongodb.db.svc.cluster.local.``).
        rdtype: Record type mnemonic (``A``, ``AAAA``, ``SRV``, ``PTR``, ``TXT``, ``SOA``, ``NS``).
        rdata: The record data in master-file syntax (``0 50 27017 mongodb-0.mongodb...``).
        ttl: Time to live in seconds.
    """

    name: str
    rdtype: str
    rdata: str
    ttl: int

    def __str__(self) -> str:
        return f"{self.name} {self.ttl} IN {self.rdtype} {self.rdata}"


@dataclass(frozen=True, slots=True)
class _StatefulSetSpec:
    """What :meth:`Cluster.scale` needs to make more pods like the first ones."""

    prefix: str
    subnet: ipaddress.IPv4Network
    ipv6: bool


class Cluster:
    """The DNS-relevant state of a Kubernetes cluster: its domain, TTL and headless Services.

    The model is mutable, so that a test changes it in place and then pushes the change to a
    running server (``BindServer.sync()`` / ``PodNamespace.sync()``); :meth:`copy` gives a
    snapshot.

    Args:
        domain: The cluster domain (kubelet ``clusterDomain``).
        ttl: TTL of every record, and the negative-answer TTL (CoreDNS default 5 s).
        dns_ip: The cluster DNS Service address, served as the glue of the zones' NS record.
    """

    def __init__(self, domain: str = "cluster.local", ttl: int = 5, *, dns_ip: str = "10.96.0.10"):
        self.domain = domain.lower().strip(".")
        self.ttl = ttl
        self.dns_ip = str(ipaddress.ip_address(dns_ip))
        self._services: dict[tuple[str, str], Service] = {}
        self._statefulsets: dict[tuple[str, str], _StatefulSetSpec] = {}
        # Next host number to try per subnet: addresses are never reused, like pod IPs, so a
        # pod recreated by a scale-down and scale-up comes back with a new address.
        self._next_host: dict[ipaddress.IPv4Network | ipaddress.IPv6Network, int] = {}

    # -- the model ------------------------------------------------------------------------

    @property
    def zone(self) -> str:
        """The cluster zone, absolute (``cluster.local.``)."""
        return _absolute(self.domain)

    @property
    def zones(self) -> tuple[str, ...]:
        """Every zone cluster DNS is authoritative for: the cluster zone and the reverse zones."""
        return (self.zone, *REVERSE_ZONES)

    @property
    def services(self) -> list[Service]:
        """The Services, ordered by namespace then name."""
        return [self._services[key] for key in sorted(self._services)]

    def add(self, service: Service) -> Service:
        """Add a Service (with its pods) to the cluster.

        Raises:
            ValueError: A Service with that name already exists in that namespace.
        """
        key = (service.namespace, service.name)
        if key in self._services:
            raise ValueError(f"Service {service.namespace}/{service.name} already exists")
        self._services[key] = service
        return service

    def service(self, name: str, namespace: str) -> Service:
        """The Service ``name`` in ``namespace``.

        Raises:
            KeyError: No such Service.
        """
        try:
            return self._services[(namespace, name)]
        except KeyError:
            raise KeyError(f"no Service {namespace}/{name}") from None

    def statefulset(
        self,
        service_name: str,
        namespace: str,
        replicas: int,
        *,
        prefix: str | None = None,
        ports: Mapping[str, int] | None = None,
        subnet: str = "10.244.0.0/16",
        ipv6: bool = False,
        publish_not_ready: bool = False,
    ) -> Service:
        """Add a headless Service with a StatefulSet's pods behind it.

        Pods are named ``<prefix>-<ordinal>``, have that name as hostname, are ready, and get
        the next unused addresses of ``subnet`` (deterministic: the same calls give the same
        addresses).

        Args:
            service_name: The Service's name.
            namespace: The namespace of the Service and its pods.
            replicas: How many pods.
            prefix: The StatefulSet's name; defaults to the Service's name.
            ports: Port name to number; defaults to ``{"mongodb": 27017}``.
            subnet: The IPv4 pod network to take addresses from.
            ipv6: Also give every pod an IPv6 address from :data:`IPV6_SUBNET` (dual stack).
            publish_not_ready: ``spec.publishNotReadyAddresses`` of the Service.

        Returns:
            The new Service, which :meth:`scale` and friends accept.
        """
        service = Service(
            name=service_name,
            namespace=namespace,
            ports=dict(ports) if ports is not None else {"mongodb": 27017},
            publish_not_ready=publish_not_ready,
        )
        self.add(service)
        self._statefulsets[(namespace, service_name)] = _StatefulSetSpec(
            prefix=prefix if prefix is not None else service_name,
            subnet=ipaddress.IPv4Network(subnet),
            ipv6=ipv6,
        )
        self.scale(service, replicas)
        return service

    def scale(self, service: Service, replicas: int) -> Service:
        """Scale a StatefulSet made by :meth:`statefulset` to ``replicas`` pods.

        Like Kubernetes, scaling down removes the highest ordinals and scaling up adds new pods
        (ready, with new addresses).

        Raises:
            ValueError: The Service was not made by :meth:`statefulset`, or ``replicas < 0``.
        """
        current = self._lookup(service)
        spec = self._statefulsets.get((current.namespace, current.name))
        if spec is None:
            raise ValueError(f"Service {current.namespace}/{current.name} is not a StatefulSet")
        if replicas < 0:
            raise ValueError(f"replicas must be >= 0, not {replicas}")
        del current.pods[replicas:]
        for ordinal in range(len(current.pods), replicas):
            name = f"{spec.prefix}-{ordinal}"
            current.pods.append(
                Pod(
                    name=name,
                    ipv4=self._allocate(spec.subnet),
                    ipv6=self._allocate(ipaddress.IPv6Network(IPV6_SUBNET)) if spec.ipv6 else None,
                    hostname=name,
                )
            )
        return current

    def set_ready(self, service: Service, pod: str, ready: bool) -> Pod:
        """Mark pod ``pod`` of ``service`` ready or not ready; returns the new Pod."""
        return self._replace_pod(service, pod, lambda old: replace(old, ready=ready))

    def set_ip(
        self, service: Service, pod: str, *, ipv4: str | None = None, ipv6: str | None = None
    ) -> Pod:
        """Give pod ``pod`` of ``service`` new addresses (``None`` keeps the current one)."""
        return self._replace_pod(
            service,
            pod,
            lambda old: replace(
                old,
                ipv4=ipv4 if ipv4 is not None else old.ipv4,
                ipv6=ipv6 if ipv6 is not None else old.ipv6,
            ),
        )

    def copy(self) -> Cluster:
        """A deep copy: a snapshot that later changes to this model leave alone."""
        return copy.deepcopy(self)

    def pod_ips(self) -> list[str]:
        """Every address of every pod in the model, published or not, sorted, no duplicates."""
        ips = {ip for service in self._services.values() for pod in service.pods for ip in pod.ips}
        return sorted(ips, key=_ip_sort_key)

    # -- names ----------------------------------------------------------------------------

    def service_fqdn(self, service: Service) -> str:
        """``<svc>.<ns>.svc.<zone>.``: the Service's name, absolute."""
        return _absolute(f"{service.name}.{service.namespace}.svc.{self.domain}")

    def pod_fqdn(self, service: Service, pod: Pod) -> str:
        """The name of ``pod``'s endpoint under ``service`` (its first one if it has several).

        Raises:
            ValueError: The pod has no address, so cluster DNS has no name for it.
        """
        endpoints = pod.endpoints()
        if not endpoints:
            raise ValueError(f"pod {pod.name} has no address, hence no DNS name")
        return _absolute(f"{endpoints[0][0]}.{self.service_fqdn(service)}")

    # -- rendering ------------------------------------------------------------------------

    def records(self) -> list[Record]:
        """Every record cluster DNS serves for this model, sorted, without duplicates.

        Includes each zone's SOA and NS (and the NS glue), ``dns-version``, and per Service the
        A/AAAA, hostname, SRV, PTR and optional TXT records (see the module docstring).
        """
        ttl = self.ttl
        records: set[Record] = set()
        nameserver = _absolute(f"ns.dns.{self.domain}")
        soa = f"{nameserver} {_absolute(f'hostmaster.{self.domain}')} 1 {_SOA_TIMERS} {ttl}"
        for zone in self.zones:
            records.add(Record(zone, "SOA", soa, ttl))
            records.add(Record(zone, "NS", nameserver, ttl))
        records.add(Record(nameserver, _address_rdtype(self.dns_ip), self.dns_ip, ttl))
        records.add(
            Record(_absolute(f"dns-version.{self.domain}"), "TXT", f'"{DNS_SCHEMA_VERSION}"', ttl)
        )
        for service in self.services:
            records.update(self._service_records(service))
        return sorted(records)

    def render_zone_files(self) -> dict[str, str]:
        """Master files for every served zone, plus a tiny root zone.

        The root zone is what makes names outside the cluster NXDOMAIN, as in a cluster,
        instead of REFUSED from a server without recursion.

        Returns:
            Absolute zone name (``cluster.local.``, ``in-addr.arpa.``, ``ip6.arpa.``, ``.``) to
            master-file text.
        """
        by_zone: dict[str, list[Record]] = {zone: [] for zone in self.zones}
        for record in self.records():
            by_zone[self.zone_of(record.name)].append(record)
        files = {zone: _master_file(records, self.ttl) for zone, records in by_zone.items()}
        root = [
            Record(".", "SOA", f"ns. hostmaster. 1 {_SOA_TIMERS} {self.ttl}", self.ttl),
            Record(".", "NS", "ns.", self.ttl),
            Record("ns.", _address_rdtype(self.dns_ip), self.dns_ip, self.ttl),
        ]
        files["."] = _master_file(root, self.ttl)
        return files

    def zone_of(self, name: str) -> str:
        """The served zone that holds ``name`` (the longest matching zone).

        Raises:
            ValueError: ``name`` is outside every zone the cluster serves.
        """
        absolute = _absolute(name)
        matches = [zone for zone in self.zones if absolute == zone or absolute.endswith("." + zone)]
        if not matches:
            raise ValueError(f"{name} is outside the zones {', '.join(self.zones)}")
        return max(matches, key=len)

    # -- internals ------------------------------------------------------------------------

    def _service_records(self, service: Service) -> Iterable[Record]:
        ttl = self.ttl
        endpoints = [endpoint for pod in service.published for endpoint in pod.endpoints()]
        if not endpoints:
            return []
        service_name = self.service_fqdn(service)
        records: list[Record] = []
        for label, ips in endpoints:
            host = _absolute(f"{label}.{service_name}")
            for ip in ips:
                rdtype = _address_rdtype(ip)
                records.append(Record(service_name, rdtype, ip, ttl))
                records.append(Record(host, rdtype, ip, ttl))
                reverse = _absolute(ipaddress.ip_address(ip).reverse_pointer)
                records.append(Record(reverse, "PTR", host, ttl))
        weight = max(1, 100 // len(endpoints))
        for port_name, port in service.ports.items():
            if not port_name:
                continue
            srv_name = _absolute(f"_{port_name}._tcp.{service_name}")
            for label, _ in endpoints:
                target = _absolute(f"{label}.{service_name}")
                records.append(Record(srv_name, "SRV", f"0 {weight} {port} {target}", ttl))
        records.extend(Record(service_name, "TXT", _quote_txt(text), ttl) for text in service.txt)
        return records

    def _lookup(self, service: Service) -> Service:
        # Look up by key, so that a Service object from a copy of this model works too.
        return self.service(service.name, service.namespace)

    def _replace_pod(self, service: Service, pod_name: str, change: Callable[[Pod], Pod]) -> Pod:
        current = self._lookup(service)
        for index, pod in enumerate(current.pods):
            if pod.name == pod_name:
                new = change(pod)
                current.pods[index] = new
                return new
        raise KeyError(f"no pod {pod_name!r} in Service {current.namespace}/{current.name}")

    def _allocate(self, subnet: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
        used = set(self.pod_ips())
        host = self._next_host.get(subnet, _FIRST_HOST)
        while host < subnet.num_addresses - 1:
            address = str(subnet.network_address + host)
            host += 1
            if address not in used:
                self._next_host[subnet] = host
                return ipaddress.ip_address(address).compressed
        raise ValueError(f"no free address left in {subnet}")


def _master_file(records: Iterable[Record], ttl: int) -> str:
    """A zone's master file: SOA first (``named`` wants it at the apex), then the rest."""
    ordered = sorted(records, key=lambda record: (record.rdtype != "SOA", record))
    return f"$TTL {ttl}\n" + "".join(f"{record}\n" for record in ordered)
