"""What doctor sees and what it says: the value types between the gatherer and the checks.

Pure: no I/O. :class:`Observations` is the gatherer's output and the checks' only input;
:class:`Finding` and :class:`Report` are what the checks produce.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Union

from ..endpoints import Resolution, SrvAnswer
from ..environment import PodEnvironment
from ..errors import DiscoveryError
from ..names import ServiceName
from ..resolvers._base import UdpProbe

__all__ = [
    "COMMON_PORT_NAMES",
    "DOCS_PAGE",
    "Finding",
    "Observations",
    "Outcome",
    "Report",
    "SrvOutcome",
    "TxtOutcome",
    "Verdict",
]

#: A check's outcome: fine, worth knowing, broken, or not applicable here.
Verdict = Literal["ok", "warn", "fail", "skip"]

#: Every finding links to a section of this page.
DOCS_PAGE = "docs/explanation/troubleshooting.md"

#: Port names probed for SRV records: DNS cannot list a Service's port names, only answer
#: for a name asked about.
COMMON_PORT_NAMES = (
    "mongodb",
    "http",
    "https",
    "grpc",
    "redis",
    "postgres",
    "mysql",
    "amqp",
    "kafka",
)

#: What a lookup gave: records, or the library's exception for why not.
Outcome = Union[Resolution, DiscoveryError]
SrvOutcome = Union[SrvAnswer, DiscoveryError]
#: The TXT records of a name (one string per record), or why there are none:
#: :class:`~headless_discovery.NoEndpointsError` means the name has no TXT records.
TxtOutcome = Union[tuple[str, ...], DiscoveryError]


@dataclass(frozen=True, slots=True)
class Finding:
    """The result of one check.

    Attributes:
        id: Stable identifier of the check (``"service-resolves"``).
        title: What the check is about, in a few words.
        verdict: ``"ok"``, ``"warn"``, ``"fail"`` or ``"skip"``.
        detail: What was seen.
        advice: What to do about it, or ``None`` when there is nothing to do.
        docs: A relative link to the section of the troubleshooting page.

    .. versionadded:: 0.1.0
    """

    id: str
    title: str
    verdict: Verdict
    detail: str
    advice: str | None
    docs: str

    def to_json(self) -> dict[str, object]:
        """The finding as the JSON object ``doctor --json`` prints."""
        return {
            "id": self.id,
            "title": self.title,
            "verdict": self.verdict,
            "detail": self.detail,
            "advice": self.advice,
            "docs": self.docs,
        }


@dataclass(frozen=True, slots=True)
class Report:
    """Every finding for one Service; :attr:`ok` is false when any check failed.

    .. versionadded:: 0.1.0
    """

    service: str
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        """No check failed (warnings do not count)."""
        return all(f.verdict != "fail" for f in self.findings)

    def to_json(self) -> dict[str, object]:
        """The report as the JSON object ``doctor --json`` prints."""
        return {
            "service": self.service,
            "ok": self.ok,
            "checks": [f.to_json() for f in self.findings],
        }


@dataclass(frozen=True, slots=True)
class Observations:
    """Everything :func:`~headless_discovery.doctor.gather` saw; the only input of the checks.

    Attributes:
        service: The Service examined.
        environment: The pod environment (empty outside a pod).
        namespace_source: Where the namespace came from (``"--namespace"``, ``"the name"``,
            ``"POD_NAMESPACE"``, a file path, ``"resolv.conf search list"``, ``"default"``).
        cluster_domain_source: Where the cluster domain came from, in the same terms.
        source: Where records came from, in words (``"nameserver 10.96.0.10:53"``).
        addresses: The A/AAAA lookup of the Service name.
        elapsed_ms: How long that lookup took.
        srv: SRV lookup per probed port name, in probing order.
        required_ports: Port names whose absence is a failure (asked for, or ``mongodb``
            with ``mongo``).
        udp: The raw UDP probe; ``None`` when the resolver cannot send one
            (:class:`~headless_discovery.resolvers._base.UdpProbing`), as for a zone file.
        libc: ``getaddrinfo`` of the same name; ``None`` when it would not ask the same
            nameserver (``--nameserver``, zone file).
        other_namespaces: Lookups of the Service in other namespaces, asked for when the
            name is NXDOMAIN.
        mongo: Whether the MongoDB checks run.
        mongo_port_name: The port name a ``mongodb+srv`` URI uses (``srvServiceName``).
        txt: The TXT records of the Service name, each as one string; ``None`` unless
            ``mongo`` and the resolver can look up TXT records
            (:class:`~headless_discovery.resolvers._base.TxtResolver`).
        replica_set: The replica-set name the user expects, if given.

    .. versionadded:: 0.1.0
    """

    service: ServiceName
    environment: PodEnvironment
    namespace_source: str
    cluster_domain_source: str
    source: str
    addresses: Outcome
    elapsed_ms: float = 0.0
    srv: Mapping[str, SrvOutcome] = field(default_factory=dict)
    required_ports: tuple[str, ...] = ()
    udp: UdpProbe | DiscoveryError | None = None
    libc: Outcome | None = None
    other_namespaces: Mapping[str, Outcome] = field(default_factory=dict)
    mongo: bool = False
    mongo_port_name: str = "mongodb"
    txt: TxtOutcome | None = None
    replica_set: str | None = None
