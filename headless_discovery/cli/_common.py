"""What every command shares: exit codes, results, names with their sources, resolvers."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from ..endpoints import AddressAnswer, Endpoint, Family, SrvAnswer
from ..environment import RESOLV_CONF, PodEnvironment
from ..errors import ConfigurationError, ResolverUnavailableError
from ..names import KubernetesName, parse_name
from ..resolvers import DnsResolver, Resolver, StaticResolver

#: The command succeeded.
EXIT_OK = 0
#: Any other error.
EXIT_ERROR = 1
#: Bad arguments or input: argparse's own code, also used for invalid names and options.
EXIT_USAGE = 2
#: NXDOMAIN: no such Service, wrong namespace, or no ready pod.
EXIT_NOT_FOUND = 3
#: The name exists without usable records (no ready pods on older cluster DNS, no SRV).
EXIT_NO_ENDPOINTS = 4
#: DNS unreachable: timeout, SERVFAIL, REFUSED.
EXIT_DNS = 5
#: ``doctor`` found at least one failing check.
EXIT_DOCTOR_FAILED = 6
#: Interrupted with Ctrl-C (``watch`` exits 0 instead).
EXIT_INTERRUPTED = 130

JsonObject = dict[str, Any]

_FAMILIES: dict[str, Family] = {"4": "ipv4", "6": "ipv6", "any": "any"}


@dataclass(frozen=True, slots=True)
class Result:
    """What a command produced: a JSON object, its text rendering, and the exit code."""

    data: JsonObject
    text: str
    code: int = EXIT_OK
    notes: tuple[str, ...] = ()  # for stderr in text mode: never part of the output proper


def endpoint_json(ep: Endpoint) -> JsonObject:
    """The documented JSON shape of one endpoint."""
    return {
        "address": ep.address,
        "port": ep.port,
        "hostname": ep.hostname,
        "priority": ep.priority,
        "weight": ep.weight,
    }


def family(args: argparse.Namespace) -> Family:
    """The library's family name for ``--family 4|6|any``."""
    return _FAMILIES[args.family]


# -- names -------------------------------------------------------------------------------------

# Two environments that differ in every field: a part of a name that comes out the same
# under both was written in the name itself.
_PROBE_A = PodEnvironment(namespace="a", cluster_domain="a")
_PROBE_B = PodEnvironment(namespace="b", cluster_domain="b")


@dataclass(frozen=True, slots=True)
class Target:
    """A name from the command line, and where its namespace and cluster domain came from."""

    name: KubernetesName
    namespace_source: str
    cluster_domain_source: str
    environment: PodEnvironment


def target(
    text: str,
    namespace: str | None,
    cluster_domain: str | None,
    environment: PodEnvironment | None = None,
) -> Target:
    """Parse ``text`` (any name form) and complete it from the options, then the pod.

    Raises:
        InvalidNameError: The name is not valid.
        ConfigurationError: The name and ``-n``/``--cluster-domain`` disagree.
    """
    env = PodEnvironment.detect() if environment is None else environment
    a = parse_name(text, environment=_PROBE_A).service
    b = parse_name(text, environment=_PROBE_B).service

    ns_in_name = a.namespace == b.namespace
    if ns_in_name:
        if namespace is not None and namespace.lower() != a.namespace:
            raise ConfigurationError(
                f"{text!r} names namespace {a.namespace!r}, but --namespace says {namespace!r}"
            )
        ns, ns_source = a.namespace, "the name"
    elif namespace is not None:
        ns, ns_source = namespace, "--namespace"
    elif env.namespace is not None:
        ns, ns_source = env.namespace, env.namespace_source or "the pod"
    else:
        ns, ns_source = env.namespace_or_default, "default: not given, not detected"

    domain_in_name = a.cluster_domain == b.cluster_domain
    if domain_in_name:
        if cluster_domain is not None and cluster_domain.lower().rstrip(".") != a.cluster_domain:
            raise ConfigurationError(
                f"{text!r} names cluster domain {a.cluster_domain!r}, but --cluster-domain "
                f"says {cluster_domain!r}"
            )
        domain, domain_source = a.cluster_domain, "the name"
    elif cluster_domain is not None:
        domain, domain_source = cluster_domain, "--cluster-domain"
    elif env.cluster_domain is not None:
        domain, domain_source = env.cluster_domain, "resolv.conf search list"
    else:
        domain, domain_source = env.cluster_domain_or_default, "default: not given, not detected"

    name = parse_name(text, environment=PodEnvironment(namespace=ns, cluster_domain=domain))
    return Target(name, ns_source, domain_source, env)


def add_name_options(parser: argparse.ArgumentParser, *, any_name: bool = True) -> None:
    """SERVICE, -n and --cluster-domain."""
    forms = "svc, svc.ns or svc.ns.svc.<domain>"
    parser.add_argument(
        "service",
        metavar="SERVICE",
        help=f"the Service: {forms}" + (" (a per-pod or SRV name works too)" if any_name else ""),
    )
    parser.add_argument(
        "-n",
        "--namespace",
        metavar="NS",
        help="its namespace (default: the pod's, else 'default')",
    )
    parser.add_argument(
        "--cluster-domain",
        metavar="DOMAIN",
        help="the cluster domain (default: from the pod's search list, else cluster.local)",
    )


def target_of(args: argparse.Namespace) -> Target:
    """The :class:`Target` of a command's SERVICE, -n and --cluster-domain."""
    return target(args.service, args.namespace, args.cluster_domain)


# -- resolvers ---------------------------------------------------------------------------------


def nameserver(text: str) -> tuple[str, int]:
    """Parse ``HOST[:PORT]`` (an IPv6 address bare or as ``[addr]:port``) for argparse."""
    host, port = text, "53"
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise argparse.ArgumentTypeError(f"expected [IPv6]:PORT, not {text!r}")
        port = rest[1:] or port
    elif text.count(":") == 1:
        host, port = text.split(":")
    if not host:
        raise argparse.ArgumentTypeError(f"no host in {text!r}")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"the port in {text!r} must be from 1 to 65535")
    return host, int(port)


def positive_float(text: str) -> float:
    """A number of seconds above zero, for argparse."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, not {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds above 0, not {text!r}")
    return value


def positive_int(text: str) -> int:
    """A whole number above zero, for argparse."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number above 0, not {text!r}")
    return int(text)


def port_number(text: str) -> int:
    """A port number, for argparse."""
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"a port must be from 1 to 65535, not {text!r}")
    return int(text)


def add_dns_options(parser: argparse.ArgumentParser) -> None:
    """--nameserver, --zone-file and --timeout."""
    group = parser.add_argument_group("where records come from")
    source = group.add_mutually_exclusive_group()
    source.add_argument(
        "--nameserver",
        metavar="HOST[:PORT]",
        type=nameserver,
        help="ask this nameserver (default: the ones in /etc/resolv.conf)",
    )
    source.add_argument(
        "--zone-file",
        metavar="PATH",
        type=zone_file,
        help=f"read records from this zone file instead of DNS (offline); {DEMO_ZONE!r}: the "
        "embedded demo cluster",
    )
    group.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=positive_float,
        default=5.0,
        help="give up on DNS after this long (default: 5)",
    )


#: What ``--zone-file`` takes for the zone embedded in the package (``demo`` prints it).
DEMO_ZONE = "demo"


def demo_zone_path() -> str:
    """Where the embedded demo zone is: a plain file, since the package is never zipped."""
    return str(files("headless_discovery") / "data" / "demo-cluster.zone")


def zone_file(text: str) -> str:
    """``--zone-file``: a path, or :data:`DEMO_ZONE` for the embedded demo zone.

    A file of that name in the working directory wins, so that no existing path changes
    meaning; the output still calls it by the name given.
    """
    if text == DEMO_ZONE and not os.path.exists(text):
        return demo_zone_path()
    return text


class ZoneFileResolver:
    """A :class:`StaticResolver` over a zone file that is read again when the file changes.

    ``watch --zone-file`` follows edits of the file as it would follow a cluster.
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._stamp: tuple[int, int, int] | None = None
        self._records: StaticResolver | None = None
        self._current()

    def _current(self) -> StaticResolver:
        try:
            st = os.stat(self._path)
        except OSError as exc:
            if self._records is None:
                raise ConfigurationError(f"cannot read zone file {self._path}: {exc}") from None
            raise ResolverUnavailableError(
                f"cannot read zone file {self._path}: {exc}", nameserver=self._path
            ) from None
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        if self._records is None or stamp != self._stamp:
            self._records = StaticResolver.from_zone_file(self._path)
            self._stamp = stamp
        return self._records

    def resolve_addresses(self, name: str, *, family: Family = "any") -> AddressAnswer:
        """The A/AAAA records of ``name`` in the file as it is now."""
        return self._current().resolve_addresses(name, family=family)

    def resolve_srv(self, name: str, *, family: Family = "any") -> SrvAnswer:
        """The SRV records of ``name`` in the file as it is now."""
        return self._current().resolve_srv(name, family=family)


@dataclass(frozen=True, slots=True)
class Source:
    """A resolver and what to call it in output."""

    resolver: Resolver
    description: str
    dns: bool  # a nameserver answers (not a zone file)
    system: bool  # the system's nameservers, as getaddrinfo would ask them


def source_of(
    args: argparse.Namespace,
    *,
    zone_resolver: Callable[[str], Resolver] = StaticResolver.from_zone_file,
) -> Source:
    """The resolver the DNS options ask for.

    Raises:
        ConfigurationError: The zone file cannot be read, or no nameserver is configured.
    """
    if args.zone_file is not None:
        shown = DEMO_ZONE if args.zone_file == demo_zone_path() else args.zone_file
        return Source(zone_resolver(args.zone_file), f"zone file {shown}", False, False)
    # A per-server timeout shorter than the whole, so a second server still gets a turn.
    per_try = min(2.0, args.timeout)
    if args.nameserver is not None:
        host, port = args.nameserver
        resolver = DnsResolver([host], port, timeout=per_try, lifetime=args.timeout)
        return Source(resolver, f"nameserver {host}:{port}", True, False)
    resolver = DnsResolver(timeout=per_try, lifetime=args.timeout)
    servers = ", ".join(f"{ns}:{resolver.port}" for ns in resolver.nameservers)
    return Source(resolver, f"nameservers of {RESOLV_CONF} ({servers})", True, True)
