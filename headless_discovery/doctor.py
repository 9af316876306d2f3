"""Why discovery of a headless Service does not work: the checks behind ``doctor``.

Two halves, as in a sans-I/O protocol library. :func:`gather` does every lookup, through the
library's resolvers and, for what they do not cover (TXT records, one raw UDP query without
EDNS0), dnspython at this edge, and returns plain :class:`Observations`. :func:`diagnose` is
pure: it turns observations into :class:`Finding` values, each with a verdict, what was seen,
what to do, and a link to the troubleshooting page. Tests feed :func:`diagnose` literal
observations; the command line renders the :class:`Report`.
"""

from __future__ import annotations

import ipaddress
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Union

from .endpoints import Family, Resolution, SrvAnswer
from .environment import PodEnvironment
from .errors import (
    DiscoveryError,
    NoEndpointsError,
    ResolverTimeoutError,
    ResolverUnavailableError,
    ServiceNotFoundError,
)
from .lookup import resolve
from .names import ServiceName
from .resolvers import DnsResolver, Resolver, SystemResolver

__all__ = [
    "COMMON_PORT_NAMES",
    "DOCS_PAGE",
    "Finding",
    "Observations",
    "Report",
    "UdpProbe",
    "Verdict",
    "diagnose",
    "gather",
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

# pymongo accepts only these options from the TXT record of a mongodb+srv host.
_TXT_OPTIONS = frozenset({"authsource", "replicaset", "loadbalanced"})
_SHOW = 6  # endpoints listed by name in a detail before "and N more"

#: What a lookup gave: records, or the library's exception for why not.
Outcome = Union[Resolution, DiscoveryError]
SrvOutcome = Union[SrvAnswer, DiscoveryError]
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
    """Every finding for one Service; :attr:`ok` is false when any check failed."""

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
class UdpProbe:
    """One A query sent over UDP without EDNS0 (512-byte limit), as the simplest client does.

    Attributes:
        server: ``host:port`` that answered.
        truncated: Whether the TC bit was set.
        records: How many A records the UDP answer carried.
    """

    server: str
    truncated: bool
    records: int


@dataclass(frozen=True, slots=True)
class Observations:
    """Everything :func:`gather` saw; the only input of :func:`diagnose`.

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
        udp: The raw UDP probe; ``None`` when no nameserver is involved (zone file).
        libc: ``getaddrinfo`` of the same name; ``None`` when it would not ask the same
            nameserver (``--nameserver``, zone file).
        other_namespaces: Lookups of the Service in other namespaces, asked for when the
            name is NXDOMAIN.
        mongo: Whether the MongoDB checks run.
        mongo_port_name: The port name a ``mongodb+srv`` URI uses (``srvServiceName``).
        txt: The TXT records of the Service name, each as one string; ``None`` unless
            ``mongo``.
        replica_set: The replica-set name the user expects, if given.
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


# -- the pure half: observations in, findings out ----------------------------------------------


def _docs(anchor: str) -> str:
    return f"{DOCS_PAGE}#{anchor}"


def _listing(items: Sequence[str]) -> str:
    shown = ", ".join(items[:_SHOW])
    if len(items) > _SHOW:
        shown += f" and {len(items) - _SHOW} more"
    return shown


def _why(error: DiscoveryError) -> str:
    return str(error).replace("\n", " ")


def _is_dashed_ip(label: str) -> bool:
    """Whether ``label`` is the name CoreDNS makes up for an endpoint without a hostname."""
    for text in (label.replace("-", "."), label.replace("-", ":")):
        try:
            ipaddress.ip_address(text)
        except ValueError:
            continue
        return True
    return False


def _is_default(source: str) -> bool:
    return source.startswith("default")


def check_environment(obs: Observations) -> Finding:
    """Where am I: in a pod or not, and the namespace, cluster domain, search list, ndots."""
    env, svc = obs.environment, obs.service
    title = "Where am I"
    if env.in_pod:
        where = f"in a pod (namespace {env.namespace or '?'}"
        if env.namespace_source:
            where += f" from {env.namespace_source}"
        where += f", cluster domain {env.cluster_domain or '?'} from the search list)"
    else:
        where = (
            "not in a pod: no POD_NAMESPACE, no service-account namespace file, no "
            "<namespace>.svc.<domain> entry in the resolv.conf search list"
        )
    parts = [
        where,
        f"using namespace {svc.namespace!r} ({obs.namespace_source}) and cluster domain "
        f"{svc.cluster_domain!r} ({obs.cluster_domain_source})",
        f"resolv.conf: nameservers {', '.join(env.nameservers) or 'none'}; search "
        f"{' '.join(env.search) or '(none)'}; ndots {env.ndots}",
    ]
    if env.search and env.ndots > 1:
        parts.append(
            f"a relative name with fewer than {env.ndots} dots, such as {svc.short!r}, is "
            f"tried with each of the {len(env.search)} search suffixes first: up to "
            f"{len(env.search) + 1} queries per record type where the FQDN with a trailing "
            "dot costs one (the library always sends that)"
        )
    detail = "; ".join(parts)
    guessed = [
        what
        for what, source in (
            ("namespace", obs.namespace_source),
            ("cluster domain", obs.cluster_domain_source),
        )
        if _is_default(source)
    ]
    if guessed:
        return Finding(
            "where-am-i",
            title,
            "warn",
            detail,
            f"the {' and '.join(guessed)} {'is' if len(guessed) == 1 else 'are'} a default, "
            "not detected: pass -n NAMESPACE and --cluster-domain DOMAIN (or the full name "
            "svc.ns.svc.domain) if the Service lives elsewhere",
            _docs("where-am-i"),
        )
    if env.cluster_domain is not None and env.cluster_domain != svc.cluster_domain:
        return Finding(
            "where-am-i",
            title,
            "warn",
            detail,
            f"this pod's search list says the cluster domain is {env.cluster_domain!r}, not "
            f"{svc.cluster_domain!r}: check --cluster-domain (kubelet clusterDomain)",
            _docs("custom-cluster-domain"),
        )
    return Finding("where-am-i", title, "ok", detail, None, _docs("where-am-i"))


def check_resolves(obs: Observations) -> Finding:
    """The Service name resolves to at least one endpoint."""
    svc, outcome = obs.service, obs.addresses
    title = "The Service name resolves"
    qname = svc.query_name
    if isinstance(outcome, Resolution):
        ttl = "no TTL" if outcome.ttl is None else f"TTL {outcome.ttl:g} s"
        return Finding(
            "service-resolves",
            title,
            "ok",
            f"{qname} has {len(outcome)} endpoint{'s' if len(outcome) != 1 else ''}: "
            f"{_listing([ep.address for ep in outcome])} ({ttl}, answered by "
            f"{outcome.nameserver or obs.source} in {obs.elapsed_ms:.1f} ms)",
            None,
            _docs("service-resolves"),
        )
    why = _why(outcome)
    if isinstance(outcome, ServiceNotFoundError):
        found = [ns for ns, o in obs.other_namespaces.items() if isinstance(o, Resolution)]
        advice = (
            f"kubectl get svc {svc.name} -n {svc.namespace} (does it exist, is it headless: "
            "clusterIP None?); kubectl get endpointslices -n "
            f"{svc.namespace} -l kubernetes.io/service-name={svc.name} (are pods ready?); "
            "set publishNotReadyAddresses: true if peers must find each other before they "
            "are ready"
        )
        if found:
            advice = (
                f"the Service exists in namespace {', '.join(found)}: pass -n {found[0]}; " + advice
            )
        elif obs.other_namespaces:
            why += f"; not found in namespaces {', '.join(obs.other_namespaces)} either"
        return Finding("service-resolves", title, "fail", why, advice, _docs("nxdomain"))
    if isinstance(outcome, ResolverTimeoutError):
        return Finding(
            "service-resolves",
            title,
            "fail",
            why,
            "check that the nameserver is reachable from here (cluster DNS is usually "
            "kube-dns.kube-system, 10.96.0.10), that a NetworkPolicy allows port 53 UDP and "
            "TCP, or give the right one with --nameserver",
            _docs("nameserver-unreachable"),
        )
    if isinstance(outcome, ResolverUnavailableError):
        return Finding(
            "service-resolves",
            title,
            "fail",
            why,
            "SERVFAIL right after a restart means CoreDNS has not synced with the API yet "
            "(up to 5 s); REFUSED means this server does not serve the cluster domain "
            f"{svc.cluster_domain!r}: check --cluster-domain and --nameserver",
            _docs("nameserver-failure"),
        )
    if isinstance(outcome, NoEndpointsError):
        return Finding(
            "service-resolves",
            title,
            "fail",
            why,
            "the name exists without address records of this family: older cluster DNS "
            "answers so when no pod is ready (kubectl get pods), or the pods have only the "
            "other family (try --family any)",
            _docs("no-address-records"),
        )
    return Finding("service-resolves", title, "fail", why, None, _docs("service-resolves"))


def _skip_unresolved(obs: Observations, check: str, title: str, anchor: str) -> Finding | None:
    if isinstance(obs.addresses, Resolution):
        return None
    return Finding(
        check,
        title,
        "skip",
        "the Service name does not resolve (see service-resolves)",
        None,
        _docs(anchor),
    )


def check_udp(obs: Observations) -> Finding:
    """Whether a UDP answer without EDNS0 holds every record, or comes back truncated."""
    check, title, anchor = "udp-truncation", "The answer fits in UDP", "truncated-udp-answers"
    skipped = _skip_unresolved(obs, check, title, anchor)
    if skipped is not None:
        return skipped
    if obs.udp is None:
        return Finding(
            check, title, "skip", f"no nameserver involved ({obs.source})", None, _docs(anchor)
        )
    assert isinstance(obs.addresses, Resolution)
    total = sum(1 for ep in obs.addresses if ep.ip.version == 4)
    probe = obs.udp
    if isinstance(probe, DiscoveryError):
        return Finding(
            check,
            title,
            "warn",
            f"the UDP probe failed: {_why(probe)}",
            "UDP to the nameserver may be blocked while TCP works: allow port 53 UDP",
            _docs(anchor),
        )
    if probe.truncated:
        return Finding(
            check,
            title,
            "warn",
            f"a UDP answer without EDNS0 (512 bytes) from {probe.server} carried "
            f"{probe.records} of the {total} A records, with the TC (truncated) bit set; "
            f"clients that retry over TCP (dnspython, this library, glibc) see all {total}, "
            "clients that do not (musl libc in Alpine images, some drivers) silently see "
            "fewer pods",
            "use a client that retries over TCP or sends EDNS0; avoid musl-based images "
            "for clients of large Services, or split the Service",
            _docs(anchor),
        )
    return Finding(
        check,
        title,
        "ok",
        f"all {probe.records} A records fit in one UDP answer without EDNS0 from {probe.server}",
        None,
        _docs(anchor),
    )


def check_libc(obs: Observations) -> Finding:
    """Whether ``getaddrinfo`` (what most programs use) sees every pod DNS over TCP sees."""
    check, title, anchor = "libc-complete", "libc sees every pod", "libc-sees-fewer-pods"
    if obs.libc is None:
        return Finding(
            check,
            title,
            "skip",
            f"records come from {obs.source}, which getaddrinfo does not ask: run without "
            "--nameserver and --zone-file to compare with the system's resolver",
            None,
            _docs(anchor),
        )
    skipped = _skip_unresolved(obs, check, title, anchor)
    if skipped is not None:
        return skipped
    assert isinstance(obs.addresses, Resolution)
    dns_ips = {ep.address for ep in obs.addresses}
    if isinstance(obs.libc, DiscoveryError):
        return Finding(
            check,
            title,
            "fail",
            f"DNS answers {len(dns_ips)} addresses but getaddrinfo({obs.service.fqdn!r}) "
            f"fails: {_why(obs.libc)}",
            "check /etc/nsswitch.conf (hosts: files dns) and /etc/resolv.conf",
            _docs(anchor),
        )
    libc_ips = {ep.address for ep in obs.libc}
    missing = sorted(dns_ips - libc_ips)
    extra = sorted(libc_ips - dns_ips)
    if missing:
        return Finding(
            check,
            title,
            "fail",
            f"getaddrinfo({obs.service.fqdn!r}) returns {len(libc_ips)} addresses, DNS over "
            f"TCP {len(dns_ips)}: missing {_listing(missing)}",
            "programs that use the C library's resolver see only some pods: with musl libc "
            "(Alpine) large answers are cut at the UDP size; use a resolver that retries "
            "over TCP, such as this library's DnsResolver",
            _docs(anchor),
        )
    if extra:
        return Finding(
            check,
            title,
            "warn",
            f"getaddrinfo({obs.service.fqdn!r}) returns addresses DNS does not: {_listing(extra)}",
            "an /etc/hosts entry or another nsswitch source shadows the DNS answer",
            _docs(anchor),
        )
    return Finding(
        check,
        title,
        "ok",
        f"getaddrinfo({obs.service.fqdn!r}) returns the same {len(libc_ips)} addresses as "
        "DNS over TCP",
        None,
        _docs(anchor),
    )


def _srv_summary(name: str, answer: SrvAnswer) -> str:
    ports = sorted({rec.port for rec in answer.records})
    return (
        f"{name} (port {', '.join(map(str, ports))}, {len(answer.records)} "
        f"target{'s' if len(answer.records) != 1 else ''})"
    )


def check_srv(obs: Observations) -> Finding:
    """Which of the probed port names have SRV records, and whether the required ones do."""
    check, title, anchor = "srv-port-names", "SRV records of named ports", "srv-port-names"
    skipped = _skip_unresolved(obs, check, title, anchor)
    if skipped is not None:
        return skipped
    found = {n: a for n, a in obs.srv.items() if isinstance(a, SrvAnswer)}
    absent = [n for n, a in obs.srv.items() if isinstance(a, NoEndpointsError)]
    broken = {
        n: a
        for n, a in obs.srv.items()
        if isinstance(a, DiscoveryError) and not isinstance(a, NoEndpointsError)
    }
    parts = []
    if found:
        parts.append("named ports: " + "; ".join(_srv_summary(n, a) for n, a in found.items()))
    if absent:
        parts.append("no SRV records for " + ", ".join(absent))
    parts.extend(f"the SRV lookup for {n} failed: {_why(e)}" for n, e in broken.items())
    parts.append(
        "DNS cannot list a Service's port names, so these names were probed "
        "(add yours with --port-name)"
    )
    detail = "; ".join(parts)
    missing = [n for n in obs.required_ports if n not in found]
    svc = obs.service
    name_it = (
        f"name the port in the Service spec (ports: - name: {{name}}, port: ..., protocol: "
        f"TCP) and check with kubectl get svc {svc.name} -n {svc.namespace} -o "
        "jsonpath='{.spec.ports}'; SRV records exist only for named ports"
    )
    if missing:
        return Finding(
            check,
            title,
            "fail",
            detail,
            f"_{missing[0]}._tcp is missing, so the port is not named {missing[0]!r}: "
            + name_it.replace("{name}", missing[0]),
            _docs(anchor),
        )
    if broken:
        return Finding(
            check, title, "warn", detail, "see the nameserver checks above", _docs(anchor)
        )
    empty = [n for n, a in found.items() if not any(rec.addresses for rec in a.records)]
    if empty:
        return Finding(
            check,
            title,
            "warn",
            detail + f"; the targets of {', '.join(empty)} have no addresses",
            "the per-pod names the SRV records point to do not resolve: check the pods' "
            "hostname and subdomain (StatefulSet serviceName must be this Service)",
            _docs(anchor),
        )
    if not found:
        return Finding(
            check,
            title,
            "warn",
            detail,
            "the Service's ports are unnamed or named otherwise: hostname seeding and "
            "mongodb+srv need a named port; " + name_it.replace("{name}", "<name>"),
            _docs(anchor),
        )
    return Finding(check, title, "ok", detail, None, _docs(anchor))


def _parse_txt(text: str) -> list[tuple[str, str]]:
    pairs = []
    for item in re.split(r"[&;]", text):
        if item:
            key, _, value = item.partition("=")
            pairs.append((key, value))
    return pairs


def check_mongo_txt(obs: Observations) -> Finding:
    """A ``mongodb+srv`` host may have one TXT record, with only three options in it."""
    check, title, anchor = "mongodb-srv-txt", "mongodb+srv: TXT record", "mongodb-srv-txt-record"
    txt = obs.txt
    if isinstance(txt, NoEndpointsError) and not isinstance(txt, ServiceNotFoundError):
        txt = ()
    if txt is None or isinstance(txt, ServiceNotFoundError):
        return Finding(
            check, title, "skip", "the Service name does not resolve", None, _docs(anchor)
        )
    if isinstance(txt, DiscoveryError):
        return Finding(
            check,
            title,
            "warn",
            f"the TXT lookup failed: {_why(txt)}; pymongo fails the same way",
            None,
            _docs(anchor),
        )
    if not txt:
        return Finding(
            check,
            title,
            "ok",
            "no TXT record (cluster DNS serves none): every option comes from the URI",
            None,
            _docs(anchor),
        )
    if len(txt) > 1:
        return Finding(
            check,
            title,
            "fail",
            f"{len(txt)} TXT records: {', '.join(map(repr, txt))}; pymongo refuses the URI "
            "('Only one TXT record is supported')",
            "keep one TXT record on the name, or use a mongodb:// seed list "
            "(mongo-uri --hosts hostname)",
            _docs(anchor),
        )
    pairs = _parse_txt(txt[0])
    bad = [k for k, _ in pairs if k.lower() not in _TXT_OPTIONS]
    if bad:
        return Finding(
            check,
            title,
            "fail",
            f"the TXT record {txt[0]!r} sets {', '.join(bad)}; pymongo accepts only "
            "authSource, replicaSet and loadBalanced from DNS and refuses the URI",
            "move the other options into the URI",
            _docs(anchor),
        )
    return Finding(
        check,
        title,
        "ok",
        f"one TXT record {txt[0]!r}: the driver adds these options (the URI overrides them)",
        None,
        _docs(anchor),
    )


def check_mongo_targets(obs: Observations) -> Finding:
    """Every SRV target of a ``mongodb+srv`` host must lie inside the host's parent domain."""
    check, title = "mongodb-srv-targets", "mongodb+srv: SRV targets in the parent domain"
    anchor = "mongodb-srv-parent-domain"
    host = obs.service.fqdn
    answer = obs.srv.get(obs.mongo_port_name)
    if not isinstance(answer, SrvAnswer):
        return Finding(
            check,
            title,
            "skip",
            f"no SRV records for _{obs.mongo_port_name}._tcp.{host} (see srv-port-names)",
            None,
            _docs(anchor),
        )
    parent = host.split(".")[1:]
    # pymongo's rule: the target minus its first label must end with the host's parent.
    bad = [
        rec.target
        for rec in answer.records
        if rec.target.lower().rstrip(".").split(".")[1:][-len(parent) :] != parent
    ]
    if bad:
        return Finding(
            check,
            title,
            "fail",
            f"targets outside {'.'.join(parent)}: {_listing(bad)}; pymongo refuses them "
            "('Invalid SRV host')",
            "the mongodb+srv host must be the Service FQDN the targets live under; if the "
            "records point elsewhere, use a mongodb:// seed list instead",
            _docs(anchor),
        )
    return Finding(
        check,
        title,
        "ok",
        f"all {len(answer.records)} targets end with {'.'.join(parent)}; use the FQDN "
        f"{host} as the host: the driver does not apply the resolv.conf search list",
        None,
        _docs(anchor),
    )


def check_mongo_tls(obs: Observations) -> Finding:
    """``tls`` defaults to true for ``mongodb+srv``: a reminder every time."""
    return Finding(
        "mongodb-srv-tls",
        "mongodb+srv: TLS is on by default",
        "warn",
        "a mongodb+srv:// URI turns tls on unless it says tls=false; against members "
        "without TLS the client times out with every member Unknown and no clearer error",
        "if the members do not use TLS, add tls=false (mongo-uri --srv --option tls=false)",
        _docs("mongodb-srv-tls-default"),
    )


def check_mongo_replica_set(obs: Observations) -> Finding:
    """The replica-set name in the TXT record matches the one the user expects."""
    check, title, anchor = "mongodb-replica-set", "Replica-set name", "mongodb-replica-set-name"
    from_txt = None
    if isinstance(obs.txt, tuple) and len(obs.txt) == 1:
        for key, value in _parse_txt(obs.txt[0]):
            if key.lower() == "replicaset":
                from_txt = value
    given = obs.replica_set
    if given is None and from_txt is None:
        return Finding(
            check,
            title,
            "skip",
            "no replica-set name given (--replica-set) and none in a TXT record",
            None,
            _docs(anchor),
        )
    if given is None:
        return Finding(
            check, title, "ok", f"the TXT record sets replicaSet={from_txt}", None, _docs(anchor)
        )
    if from_txt is None:
        return Finding(
            check,
            title,
            "ok",
            f"replicaSet={given} comes from the URI (no TXT record sets one)",
            None,
            _docs(anchor),
        )
    if from_txt != given:
        return Finding(
            check,
            title,
            "fail",
            f"the TXT record says replicaSet={from_txt}, you expect {given}; the URI's "
            "value wins, and the driver then finds no member of that set",
            "use the name from rs.conf()._id in both places",
            _docs(anchor),
        )
    return Finding(
        check, title, "ok", f"the TXT record and --replica-set agree: {given}", None, _docs(anchor)
    )


def check_mongo_seeding(obs: Observations) -> Finding:
    """Seed with per-pod hostnames when the SRV records give them; explain IP seeding."""
    check, title, anchor = (
        "mongodb-seeding",
        "Seed list: hostnames or IPs",
        "mongodb-hostname-seeding",
    )
    skipped = _skip_unresolved(obs, check, title, anchor)
    if skipped is not None:
        return skipped
    answer = obs.srv.get(obs.mongo_port_name)
    if not isinstance(answer, SrvAnswer):
        return Finding(
            check,
            title,
            "warn",
            f"no SRV records for port {obs.mongo_port_name!r}: only the pod IPs can seed "
            "the URI; the driver then talks to the member names of the replica-set config "
            "and TLS certificates name hosts, not IPs",
            f"name the port {obs.mongo_port_name!r} so that mongo-uri --hosts hostname can "
            "seed with per-pod names",
            _docs(anchor),
        )
    labels = [rec.target.split(".", 1)[0] for rec in answer.records]
    dashed = [label for label in labels if _is_dashed_ip(label)]
    if dashed:
        return Finding(
            check,
            title,
            "warn",
            f"SRV targets are named by pod IP ({_listing(dashed)}): the pods have no "
            "stable hostname, so the names change whenever a pod does",
            "run MongoDB as a StatefulSet whose serviceName is this Service; its pods get "
            "stable names (mongodb-0...) that the replica-set config can use",
            _docs(anchor),
        )
    return Finding(
        check,
        title,
        "ok",
        f"the SRV records give per-pod hostnames ({_listing(sorted(set(labels)))}): seed "
        "with them (mongo-uri --hosts hostname); they match the replica-set config and TLS "
        "certificates, where IPs do not",
        None,
        _docs(anchor),
    )


def diagnose(obs: Observations) -> Report:
    """Run every check on ``obs``. Pure: no I/O.

    Returns:
        The findings in a fixed order: environment, name, answer completeness, SRV, and
        with ``obs.mongo`` the MongoDB checks.
    """
    checks: list[Callable[[Observations], Finding]] = [
        check_environment,
        check_resolves,
        check_udp,
        check_libc,
        check_srv,
    ]
    if obs.mongo:
        checks += [
            check_mongo_txt,
            check_mongo_targets,
            check_mongo_replica_set,
            check_mongo_tls,
            check_mongo_seeding,
        ]
    return Report(obs.service.fqdn, tuple(check(obs) for check in checks))


# -- the I/O half: lookups at the edge -------------------------------------------------------


def _resolve(service: ServiceName, family: Family, resolver: Resolver) -> Outcome:
    try:
        return resolve(service, family=family, resolver=resolver)
    except DiscoveryError as exc:
        return exc


def _srv(resolver: Resolver, name: str, family: Family) -> SrvOutcome:
    try:
        return resolver.resolve_srv(name, family=family)
    except DiscoveryError as exc:
        return exc


def _txt_from_dns(resolver: DnsResolver, name: str) -> TxtOutcome:
    import dns.exception
    import dns.resolver

    txt = dns.resolver.Resolver(configure=False)
    txt.nameservers = list(resolver.nameservers)
    txt.port = resolver.port
    txt.timeout = resolver.timeout
    txt.lifetime = resolver.lifetime
    servers = ", ".join(f"{ns}:{resolver.port}" for ns in resolver.nameservers)
    try:
        answer = txt.resolve(name, "TXT", search=False, raise_on_no_answer=False)
    except dns.resolver.NXDOMAIN:
        return ServiceNotFoundError(f"{name} does not exist", name=name, rdtype="TXT")
    except dns.exception.Timeout:
        return ResolverTimeoutError(
            f"no answer for {name} TXT from {servers}", name=name, rdtype="TXT"
        )
    except dns.exception.DNSException as exc:
        return ResolverUnavailableError(
            f"looking up {name} TXT at {servers} failed: {exc}", name=name, rdtype="TXT"
        )
    if answer.rrset is None:
        return ()
    return tuple(b"".join(rd.strings).decode("utf-8", "replace") for rd in answer.rrset)


def _txt_from_zone(path: str | os.PathLike[str], name: str) -> TxtOutcome:
    import dns.exception
    import dns.name
    import dns.rdatatype
    import dns.zone

    try:
        zone = dns.zone.from_file(os.fspath(path), relativize=False, check_origin=False)
    except (OSError, dns.exception.DNSException, ValueError) as exc:
        return ResolverUnavailableError(f"cannot read zone file {os.fspath(path)}: {exc}")
    node = zone.get_node(dns.name.from_text(name))
    if node is None:
        return ServiceNotFoundError(f"{name} is not in the zone file", name=name, rdtype="TXT")
    rdataset = node.get_rdataset(zone.rdclass, dns.rdatatype.TXT)
    if rdataset is None:
        return ()
    return tuple(b"".join(rd.strings).decode("utf-8", "replace") for rd in rdataset)


def _udp_probe(resolver: DnsResolver, name: str) -> UdpProbe | DiscoveryError:
    import dns.exception
    import dns.flags
    import dns.message
    import dns.query
    import dns.rdatatype

    server = resolver.nameservers[0]
    where = f"{server}:{resolver.port}"
    query = dns.message.make_query(name, "A", use_edns=False)
    try:
        response = dns.query.udp(query, server, timeout=resolver.timeout, port=resolver.port)
    except dns.exception.Timeout:
        return ResolverTimeoutError(
            f"no UDP answer for {name} A from {where}", name=name, rdtype="A", nameserver=where
        )
    except (OSError, dns.exception.DNSException) as exc:
        return ResolverUnavailableError(
            f"UDP query for {name} A to {where} failed: {exc}",
            name=name,
            rdtype="A",
            nameserver=where,
        )
    truncated = bool(response.flags & dns.flags.TC)
    records = sum(len(rrset) for rrset in response.answer if rrset.rdtype == dns.rdatatype.A)
    return UdpProbe(where, truncated, records)


def gather(
    service: ServiceName,
    *,
    resolver: Resolver,
    environment: PodEnvironment,
    namespace_source: str,
    cluster_domain_source: str,
    source: str,
    family: Family = "any",
    port_names: Sequence[str] = (),
    other_namespaces: Sequence[str] = (),
    mongo: bool = False,
    mongo_port_name: str = "mongodb",
    replica_set: str | None = None,
    zone_file: str | os.PathLike[str] | None = None,
    compare_libc: bool = False,
    clock: Callable[[], float] = time.perf_counter,
) -> Observations:
    """Look up everything the checks need. Failures are recorded, not raised.

    Args:
        service: The Service to examine.
        resolver: Where records come from. With a :class:`DnsResolver`, TXT records and the
            raw UDP probe go to its first nameserver too.
        environment: The pod environment, for the "where am I" check.
        namespace_source: Where the namespace came from, in words.
        cluster_domain_source: Where the cluster domain came from, in words.
        source: Where records come from, in words, for the findings.
        family: The address family of the lookups.
        port_names: Port names to probe for SRV records besides :data:`COMMON_PORT_NAMES`;
            a missing one is a failure.
        other_namespaces: Namespaces to look for the Service in when its name is NXDOMAIN.
        mongo: Run the MongoDB checks (TXT record of the Service name).
        mongo_port_name: The port name of the ``mongodb+srv`` SRV records.
        replica_set: The expected replica-set name.
        zone_file: The zone file behind a :class:`StaticResolver`, for TXT records.
        compare_libc: Also resolve through ``getaddrinfo`` (only meaningful when
            ``resolver`` asks the system's nameservers).
        clock: Times the Service lookup.

    Raises:
        InvalidNameError: A port name or namespace is not valid.
    """
    started = clock()
    addresses = _resolve(service, family, resolver)
    elapsed_ms = (clock() - started) * 1000.0

    others: dict[str, Outcome] = {}
    if isinstance(addresses, ServiceNotFoundError):
        for namespace in other_namespaces:
            other = ServiceName(service.name, namespace, service.cluster_domain)
            others[namespace] = _resolve(other, family, resolver)

    required = list(dict.fromkeys(name.lower() for name in port_names))
    if mongo and mongo_port_name not in required:
        required.append(mongo_port_name)
    probed = list(dict.fromkeys([*COMMON_PORT_NAMES, *required]))
    srv: dict[str, SrvOutcome] = {}
    if not isinstance(addresses, (ServiceNotFoundError, ResolverTimeoutError)):
        srv = {name: _srv(resolver, service.srv(name) + ".", family) for name in probed}

    udp: UdpProbe | DiscoveryError | None = None
    txt: TxtOutcome | None = None
    if isinstance(resolver, DnsResolver):
        if isinstance(addresses, Resolution):
            udp = _udp_probe(resolver, service.query_name)
        if mongo:
            txt = _txt_from_dns(resolver, service.query_name)
    elif mongo and zone_file is not None:
        txt = _txt_from_zone(zone_file, service.query_name)

    libc: Outcome | None = None
    if compare_libc:
        # Without the trailing dot, as applications write it: through the search list,
        # /etc/hosts and nsswitch, all of which the libc path applies.
        try:
            answer = SystemResolver().resolve_addresses(service.fqdn, family=family)
            libc = Resolution.from_addresses(answer)
        except DiscoveryError as exc:
            libc = exc

    return Observations(
        service=service,
        environment=environment,
        namespace_source=namespace_source,
        cluster_domain_source=cluster_domain_source,
        source=source,
        addresses=addresses,
        elapsed_ms=elapsed_ms,
        srv=srv,
        required_ports=tuple(required),
        udp=udp,
        libc=libc,
        other_namespaces=others,
        mongo=mongo,
        mongo_port_name=mongo_port_name,
        txt=txt,
        replica_set=replica_set,
    )
