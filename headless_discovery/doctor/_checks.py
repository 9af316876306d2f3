"""The checks: a table of small pure functions from :class:`Observations` to a verdict.

Pure: no I/O. Each row of :data:`CHECKS` names a check (id, title, the section of the
troubleshooting page it links to) and the function that judges the observations;
:func:`diagnose` runs the table. Adding a check is one function and one row.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..endpoints import Resolution, SrvAnswer
from ..errors import (
    DiscoveryError,
    NoEndpointsError,
    ResolverTimeoutError,
    ResolverUnavailableError,
    ServiceNotFoundError,
)
from ..names import in_srv_parent_domain, srv_parent_domain
from ._observations import DOCS_PAGE, Finding, Observations, Report, Verdict

# pymongo accepts only these options from the TXT record of a mongodb+srv host.
_TXT_OPTIONS = frozenset({"authsource", "replicaset", "loadbalanced"})
_SHOW = 6  # endpoints listed by name in a detail before "and N more"


@dataclass(frozen=True, slots=True)
class Judgement:
    """What a check's function says about the observations; :class:`Check` makes it a
    :class:`Finding`.

    Attributes:
        verdict: ``"ok"``, ``"warn"``, ``"fail"`` or ``"skip"``.
        detail: What was seen.
        advice: What to do about it, or ``None`` when there is nothing to do.
        anchor: A more precise section of the troubleshooting page than the check's own
            (``"nxdomain"`` rather than ``"service-resolves"``), or ``None``.

    .. versionadded:: 0.1.0
    """

    verdict: Verdict
    detail: str
    advice: str | None = None
    anchor: str | None = None


@dataclass(frozen=True, slots=True)
class Check:
    """One row of the table of checks; calling it on observations gives its :class:`Finding`.

    Attributes:
        id: Stable identifier (``"service-resolves"``), in the text and JSON output.
        title: What the check is about, in a few words.
        anchor: The section of the troubleshooting page the finding links to.
        judge: The pure function from observations to a :class:`Judgement`.
        mongo: Whether the check runs only with the MongoDB checks (``doctor --mongo``).

    .. versionadded:: 0.1.0
    """

    id: str
    title: str
    anchor: str
    judge: Callable[[Observations], Judgement]
    mongo: bool = False

    def __call__(self, obs: Observations) -> Finding:
        """Judge ``obs`` and return the finding, linked to the check's section."""
        said = self.judge(obs)
        return Finding(
            self.id,
            self.title,
            said.verdict,
            said.detail,
            said.advice,
            f"{DOCS_PAGE}#{said.anchor or self.anchor}",
        )


# -- helpers -----------------------------------------------------------------------------------


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


def _skip_unresolved(obs: Observations) -> Judgement | None:
    if isinstance(obs.addresses, Resolution):
        return None
    return Judgement("skip", "the Service name does not resolve (see service-resolves)")


def _parse_txt(text: str) -> list[tuple[str, str]]:
    pairs = []
    for item in re.split(r"[&;]", text):
        if item:
            key, _, value = item.partition("=")
            pairs.append((key, value))
    return pairs


def _txt_syntax_error(text: str) -> str | None:
    """pymongo's reason for refusing the TXT record ``text`` as options, in its words, or
    ``None``: it splits on ``&`` or ``;`` (not both), and each piece, empty ones included,
    must be exactly one ``key=value``. An empty record it ignores."""
    if not text:
        return None
    if "&" in text and ";" in text:
        return "Can not mix '&' and ';' for option separators"
    if any(item.count("=") != 1 for item in re.split(r"[&;]", text)):
        return "MongoDB URI options are key=value pairs"
    return None


# -- the general checks --------------------------------------------------------------------------


def _environment(obs: Observations) -> Judgement:
    """Where am I: in a pod or not, and the namespace, cluster domain, search list, ndots."""
    env, svc = obs.environment, obs.service
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
        return Judgement(
            "warn",
            detail,
            f"the {' and '.join(guessed)} {'is' if len(guessed) == 1 else 'are'} a default, "
            "not detected: pass -n NAMESPACE and --cluster-domain DOMAIN (or the full name "
            "svc.ns.svc.domain) if the Service lives elsewhere",
        )
    if env.cluster_domain is not None and env.cluster_domain != svc.cluster_domain:
        return Judgement(
            "warn",
            detail,
            f"this pod's search list says the cluster domain is {env.cluster_domain!r}, not "
            f"{svc.cluster_domain!r}: check --cluster-domain (kubelet clusterDomain)",
            anchor="custom-cluster-domain",
        )
    return Judgement("ok", detail)


def _resolves(obs: Observations) -> Judgement:
    """The Service name resolves to at least one endpoint."""
    svc, outcome = obs.service, obs.addresses
    if isinstance(outcome, Resolution):
        ttl = "no TTL" if outcome.ttl is None else f"TTL {outcome.ttl:g} s"
        return Judgement(
            "ok",
            f"{svc.query_name} has {len(outcome)} endpoint{'s' if len(outcome) != 1 else ''}: "
            f"{_listing([ep.address for ep in outcome])} ({ttl}, answered by "
            f"{outcome.nameserver or obs.source} in {obs.elapsed_ms:.1f} ms)",
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
        return Judgement("fail", why, advice, anchor="nxdomain")
    if isinstance(outcome, ResolverTimeoutError):
        return Judgement(
            "fail",
            why,
            "check that the nameserver is reachable from here (cluster DNS is usually "
            "kube-dns.kube-system, 10.96.0.10), that a NetworkPolicy allows port 53 UDP and "
            "TCP, or give the right one with --nameserver",
            anchor="nameserver-unreachable",
        )
    if isinstance(outcome, ResolverUnavailableError):
        return Judgement(
            "fail",
            why,
            "SERVFAIL right after a restart means CoreDNS has not synced with the API yet "
            "(up to 5 s); REFUSED means this server does not serve the cluster domain "
            f"{svc.cluster_domain!r}: check --cluster-domain and --nameserver",
            anchor="nameserver-failure",
        )
    if isinstance(outcome, NoEndpointsError):
        return Judgement(
            "fail",
            why,
            "the name exists without address records of this family: older cluster DNS "
            "answers so when no pod is ready (kubectl get pods), or the pods have only the "
            "other family (try --family any)",
            anchor="no-address-records",
        )
    return Judgement("fail", why)


def _udp(obs: Observations) -> Judgement:
    """Whether a UDP answer without EDNS0 holds every record, or comes back truncated."""
    skipped = _skip_unresolved(obs)
    if skipped is not None:
        return skipped
    probe = obs.udp
    if probe is None:
        return Judgement("skip", f"no nameserver involved ({obs.source})")
    assert isinstance(obs.addresses, Resolution)
    total = sum(1 for ep in obs.addresses if ep.ip.version == 4)
    if isinstance(probe, DiscoveryError):
        return Judgement(
            "warn",
            f"the UDP probe failed: {_why(probe)}",
            "UDP to the nameserver may be blocked while TCP works: allow port 53 UDP",
        )
    if probe.truncated:
        return Judgement(
            "warn",
            f"a UDP answer without EDNS0 (512 bytes) from {probe.server} carried "
            f"{probe.records} of the {total} A records, with the TC (truncated) bit set; "
            f"clients that retry over TCP (dnspython, this library, glibc) see all {total}, "
            "clients that do not (musl libc in Alpine images, some drivers) silently see "
            "fewer pods",
            "use a client that retries over TCP or sends EDNS0; avoid musl-based images "
            "for clients of large Services, or split the Service",
        )
    return Judgement(
        "ok",
        f"all {probe.records} A records fit in one UDP answer without EDNS0 from {probe.server}",
    )


def _libc(obs: Observations) -> Judgement:
    """Whether ``getaddrinfo`` (what most programs use) sees every pod DNS over TCP sees."""
    if obs.libc is None:
        return Judgement(
            "skip",
            f"records come from {obs.source}, which getaddrinfo does not ask: run without "
            "--nameserver and --zone-file to compare with the system's resolver",
        )
    skipped = _skip_unresolved(obs)
    if skipped is not None:
        return skipped
    assert isinstance(obs.addresses, Resolution)
    fqdn = obs.service.fqdn
    dns_ips = {ep.address for ep in obs.addresses}
    if isinstance(obs.libc, DiscoveryError):
        return Judgement(
            "fail",
            f"DNS answers {len(dns_ips)} addresses but getaddrinfo({fqdn!r}) "
            f"fails: {_why(obs.libc)}",
            "check /etc/nsswitch.conf (hosts: files dns) and /etc/resolv.conf",
        )
    libc_ips = {ep.address for ep in obs.libc}
    missing = sorted(dns_ips - libc_ips)
    extra = sorted(libc_ips - dns_ips)
    if missing:
        return Judgement(
            "fail",
            f"getaddrinfo({fqdn!r}) returns {len(libc_ips)} addresses, DNS over "
            f"TCP {len(dns_ips)}: missing {_listing(missing)}",
            "programs that use the C library's resolver see only some pods: with musl libc "
            "(Alpine) large answers are cut at the UDP size; use a resolver that retries "
            "over TCP, such as this library's DnsResolver",
        )
    if extra:
        return Judgement(
            "warn",
            f"getaddrinfo({fqdn!r}) returns addresses DNS does not: {_listing(extra)}",
            "an /etc/hosts entry or another nsswitch source shadows the DNS answer",
        )
    return Judgement(
        "ok",
        f"getaddrinfo({fqdn!r}) returns the same {len(libc_ips)} addresses as DNS over TCP",
    )


def _srv_summary(name: str, answer: SrvAnswer) -> str:
    ports = sorted({rec.port for rec in answer.records})
    return (
        f"{name} (port {', '.join(map(str, ports))}, {len(answer.records)} "
        f"target{'s' if len(answer.records) != 1 else ''})"
    )


def _srv(obs: Observations) -> Judgement:
    """Which of the probed port names have SRV records, and whether the required ones do."""
    skipped = _skip_unresolved(obs)
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
        return Judgement(
            "fail",
            detail,
            f"_{missing[0]}._tcp is missing, so the port is not named {missing[0]!r}: "
            + name_it.replace("{name}", missing[0]),
        )
    if broken:
        return Judgement("warn", detail, "see the nameserver checks above")
    empty = [n for n, a in found.items() if not any(rec.addresses for rec in a.records)]
    if empty:
        return Judgement(
            "warn",
            detail + f"; the targets of {', '.join(empty)} have no addresses",
            "the per-pod names the SRV records point to do not resolve: check the pods' "
            "hostname and subdomain (StatefulSet serviceName must be this Service)",
        )
    if not found:
        return Judgement(
            "warn",
            detail,
            "the Service's ports are unnamed or named otherwise: hostname seeding and "
            "mongodb+srv need a named port; " + name_it.replace("{name}", "<name>"),
        )
    return Judgement("ok", detail)


# -- the MongoDB checks --------------------------------------------------------------------------


def _mongo_txt(obs: Observations) -> Judgement:
    """A ``mongodb+srv`` host may have one TXT record, with only three options in it."""
    txt = obs.txt
    if txt is None:
        return Judgement("skip", f"TXT records cannot be looked up in {obs.source}")
    if isinstance(txt, NoEndpointsError) and not isinstance(txt, ServiceNotFoundError):
        txt = ()  # NODATA: the name exists without TXT records
    if isinstance(txt, ServiceNotFoundError):
        return Judgement("skip", "the Service name does not resolve")
    if isinstance(txt, DiscoveryError):
        return Judgement("warn", f"the TXT lookup failed: {_why(txt)}; pymongo fails the same way")
    if not txt:
        return Judgement(
            "ok", "no TXT record (cluster DNS serves none): every option comes from the URI"
        )
    if len(txt) > 1:
        return Judgement(
            "fail",
            f"{len(txt)} TXT records: {', '.join(map(repr, txt))}; pymongo refuses the URI "
            "('Only one TXT record is supported')",
            "keep one TXT record on the name, or use a mongodb:// seed list "
            "(mongo-uri --hosts hostname)",
        )
    reason = _txt_syntax_error(txt[0])
    if reason is not None:
        return Judgement(
            "fail",
            f"the TXT record {txt[0]!r} is not options as pymongo reads them; pymongo refuses "
            f"the URI ({reason!r})",
            "write the TXT record as key=value pairs joined by &, e.g. "
            "authSource=admin&replicaSet=rs0",
        )
    bad = [k for k, _ in _parse_txt(txt[0]) if k.lower() not in _TXT_OPTIONS]
    if bad:
        return Judgement(
            "fail",
            f"the TXT record {txt[0]!r} sets {', '.join(bad)}; pymongo accepts only "
            "authSource, replicaSet and loadBalanced from DNS and refuses the URI",
            "move the other options into the URI",
        )
    return Judgement(
        "ok",
        f"one TXT record {txt[0]!r}: the driver adds these options (the URI overrides them)",
    )


def _mongo_targets(obs: Observations) -> Judgement:
    """Every SRV target of a ``mongodb+srv`` host must lie inside the host's parent domain."""
    host = obs.service.fqdn
    answer = obs.srv.get(obs.mongo_port_name)
    if not isinstance(answer, SrvAnswer):
        return Judgement(
            "skip",
            f"no SRV records for _{obs.mongo_port_name}._tcp.{host} (see srv-port-names)",
        )
    parent = srv_parent_domain(host)
    bad = [rec.target for rec in answer.records if not in_srv_parent_domain(rec.target, parent)]
    if bad:
        return Judgement(
            "fail",
            f"targets outside {parent}: {_listing(bad)}; pymongo refuses them ('Invalid SRV host')",
            "the mongodb+srv host must be the Service FQDN the targets live under; if the "
            "records point elsewhere, use a mongodb:// seed list instead",
        )
    return Judgement(
        "ok",
        f"all {len(answer.records)} targets end with {parent}; use the FQDN "
        f"{host} as the host: the driver does not apply the resolv.conf search list",
    )


def _mongo_replica_set(obs: Observations) -> Judgement:
    """The replica-set name in the TXT record matches the one the user expects."""
    from_txt = None
    if isinstance(obs.txt, tuple) and len(obs.txt) == 1:
        for key, value in _parse_txt(obs.txt[0]):
            if key.lower() == "replicaset":
                from_txt = value
    given = obs.replica_set
    if given is None and from_txt is None:
        return Judgement(
            "skip", "no replica-set name given (--replica-set) and none in a TXT record"
        )
    if given is None:
        return Judgement("ok", f"the TXT record sets replicaSet={from_txt}")
    if from_txt is None:
        return Judgement("ok", f"replicaSet={given} comes from the URI (no TXT record sets one)")
    if from_txt != given:
        return Judgement(
            "fail",
            f"the TXT record says replicaSet={from_txt}, you expect {given}; the URI's "
            "value wins, and the driver then finds no member of that set",
            "use the name from rs.conf()._id in both places",
        )
    return Judgement("ok", f"the TXT record and --replica-set agree: {given}")


def _mongo_tls(obs: Observations) -> Judgement:
    """``tls`` defaults to true for ``mongodb+srv``: a reminder every time."""
    return Judgement(
        "warn",
        "a mongodb+srv:// URI turns tls on unless it says tls=false; against members "
        "without TLS the client times out with every member Unknown and no clearer error",
        "if the members do not use TLS, add tls=false (mongo-uri --srv --option tls=false)",
    )


def _mongo_seeding(obs: Observations) -> Judgement:
    """Seed with per-pod hostnames when the SRV records give them; explain IP seeding."""
    skipped = _skip_unresolved(obs)
    if skipped is not None:
        return skipped
    answer = obs.srv.get(obs.mongo_port_name)
    if not isinstance(answer, SrvAnswer):
        return Judgement(
            "warn",
            f"no SRV records for port {obs.mongo_port_name!r}: only the pod IPs can seed "
            "the URI; the driver then talks to the member names of the replica-set config "
            "and TLS certificates name hosts, not IPs",
            f"name the port {obs.mongo_port_name!r} so that mongo-uri --hosts hostname can "
            "seed with per-pod names",
        )
    labels = [rec.target.split(".", 1)[0] for rec in answer.records]
    dashed = [label for label in labels if _is_dashed_ip(label)]
    if dashed:
        return Judgement(
            "warn",
            f"SRV targets are named by pod IP ({_listing(dashed)}): the pods have no "
            "stable hostname, so the names change whenever a pod does",
            "run MongoDB as a StatefulSet whose serviceName is this Service; its pods get "
            "stable names (mongodb-0...) that the replica-set config can use",
        )
    return Judgement(
        "ok",
        f"the SRV records give per-pod hostnames ({_listing(sorted(set(labels)))}): seed "
        "with them (mongo-uri --hosts hostname); they match the replica-set config and TLS "
        "certificates, where IPs do not",
    )


# -- the table -----------------------------------------------------------------------------------

check_environment = Check("where-am-i", "Where am I", anchor="where-am-i", judge=_environment)
check_resolves = Check(
    "service-resolves", "The Service name resolves", anchor="service-resolves", judge=_resolves
)
check_udp = Check(
    "udp-truncation", "The answer fits in UDP", anchor="truncated-udp-answers", judge=_udp
)
check_libc = Check(
    "libc-complete", "libc sees every pod", anchor="libc-sees-fewer-pods", judge=_libc
)
check_srv = Check(
    "srv-port-names", "SRV records of named ports", anchor="srv-port-names", judge=_srv
)
check_mongo_txt = Check(
    "mongodb-srv-txt",
    "mongodb+srv: TXT record",
    anchor="mongodb-srv-txt-record",
    judge=_mongo_txt,
    mongo=True,
)
check_mongo_targets = Check(
    "mongodb-srv-targets",
    "mongodb+srv: SRV targets in the parent domain",
    anchor="mongodb-srv-parent-domain",
    judge=_mongo_targets,
    mongo=True,
)
check_mongo_replica_set = Check(
    "mongodb-replica-set",
    "Replica-set name",
    anchor="mongodb-replica-set-name",
    judge=_mongo_replica_set,
    mongo=True,
)
check_mongo_tls = Check(
    "mongodb-srv-tls",
    "mongodb+srv: TLS is on by default",
    anchor="mongodb-srv-tls-default",
    judge=_mongo_tls,
    mongo=True,
)
check_mongo_seeding = Check(
    "mongodb-seeding",
    "Seed list: hostnames or IPs",
    anchor="mongodb-hostname-seeding",
    judge=_mongo_seeding,
    mongo=True,
)

#: Every check, in the order of the report: environment, name, answer completeness, SRV,
#: then the MongoDB checks (run only with ``Observations.mongo``).
CHECKS: tuple[Check, ...] = (
    check_environment,
    check_resolves,
    check_udp,
    check_libc,
    check_srv,
    check_mongo_txt,
    check_mongo_targets,
    check_mongo_replica_set,
    check_mongo_tls,
    check_mongo_seeding,
)


def diagnose(obs: Observations) -> Report:
    """Run the table of checks on ``obs``. Pure: no I/O.

    Args:
        obs: What :func:`~headless_discovery.doctor.gather` saw, or literal observations.

    Returns:
        One finding per check of :data:`CHECKS`, in its order; the MongoDB checks only with
        ``obs.mongo``.

    Example::

        >>> report = diagnose(observations)
        >>> [f.id for f in report.findings if f.verdict == "fail"]
        ['service-resolves']

    .. versionadded:: 0.1.0
    """
    return Report(
        obs.service.fqdn, tuple(check(obs) for check in CHECKS if obs.mongo or not check.mongo)
    )
