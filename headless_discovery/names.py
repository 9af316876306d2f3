"""Kubernetes DNS names for headless Services: build, parse and validate.

Every form cluster DNS answers for a Service ``<svc>`` in namespace ``<ns>`` with cluster
domain ``<zone>``::

    <svc>.<ns>.svc.<zone>                   the Service: one A/AAAA per ready pod
    <hostname>.<svc>.<ns>.svc.<zone>        one pod (StatefulSet pods: <statefulset>-<ordinal>)
    _<port>._<proto>.<svc>.<ns>.svc.<zone>  SRV, one record per ready pod and named port
    <svc>, <svc>.<ns>, <svc>.<ns>.svc       short forms, completed by the pod's search list

Validation follows Kubernetes: a Service name is a DNS-1035 label (starts with a letter), a
namespace and a pod hostname are RFC 1123 labels, a port name is an IANA service name. Names
are case-insensitive and normalised to lower case.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from .errors import InvalidNameError

if TYPE_CHECKING:
    from .environment import PodEnvironment

__all__ = ["KubernetesName", "ServiceName", "SrvProtocol", "parse_name"]

_LABEL_MAX = 63
_NAME_MAX = 253
_PORT_NAME_MAX = 15
_PROTOCOLS = frozenset({"tcp", "udp", "sctp"})
_LOWER = frozenset("abcdefghijklmnopqrstuvwxyz")
_LABEL_CHARS = _LOWER | frozenset("0123456789-")

#: The protocol label of an SRV name: ``_<port>._<protocol>.<service>``.
SrvProtocol = Literal["tcp", "udp", "sctp"]


def _normalise(text: object, what: str) -> str:
    if not isinstance(text, str):
        raise InvalidNameError(
            repr(text), f"the {what} must be a string, not {type(text).__name__}"
        )
    if not text.isascii():
        # Checked before lower-casing: str.lower() maps some non-ASCII letters (the Kelvin
        # sign) onto ASCII ones, which would let a look-alike name through.
        bad = next(c for c in text if not c.isascii())
        raise InvalidNameError(
            text, f"the {what} contains the non-ASCII character {bad!r}; DNS labels are ASCII"
        )
    return text.lower()


# The labels that pass every check below, for the common case: one regular expression instead
# of a loop over the characters (names are checked on every one-shot lookup).
_VALID_1123 = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_VALID_1035 = re.compile(r"[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?")


def _check_label(label: str, what: str, *, first_letter: bool, full: str) -> None:
    """Raise InvalidNameError unless ``label`` is an RFC 1123 (or 1035) label."""
    if (_VALID_1035 if first_letter else _VALID_1123).fullmatch(label):
        return
    if not label:
        raise InvalidNameError(full, f"the {what} is empty")
    if len(label) > _LABEL_MAX:
        raise InvalidNameError(
            full, f"the {what} {label!r} is {len(label)} characters long; at most 63 are allowed"
        )
    for pos, char in enumerate(label):
        if char not in _LABEL_CHARS:
            raise InvalidNameError(
                full,
                f"the {what} {label!r} has {char!r} at position {pos}; only lower-case "
                "letters, digits and '-' are allowed",
            )
    if first_letter and label[0] not in _LOWER:
        raise InvalidNameError(
            full,
            f"the {what} {label!r} must start with a letter (Kubernetes Service names are "
            "DNS-1035 labels)",
        )
    if label[0] == "-" or label[-1] == "-":
        raise InvalidNameError(
            full, f"the {what} {label!r} must start and end with a letter or digit"
        )


def _check_domain(domain: str, full: str) -> None:
    if len(domain) > _NAME_MAX:
        raise InvalidNameError(full, "the cluster domain is longer than 253 characters")
    for label in domain.split("."):
        _check_label(label, "cluster domain label", first_letter=False, full=full)


def _check_port_name(port_name: str, full: str) -> None:
    if not port_name:
        raise InvalidNameError(full, "the port name is empty")
    if len(port_name) > _PORT_NAME_MAX:
        raise InvalidNameError(
            full, f"the port name {port_name!r} is longer than 15 characters (IANA service name)"
        )
    _check_label(port_name, "port name", first_letter=False, full=full)
    if "--" in port_name:
        raise InvalidNameError(full, f"the port name {port_name!r} contains '--'")
    if not any(c in _LOWER for c in port_name):
        raise InvalidNameError(full, f"the port name {port_name!r} must contain a letter")


def _check_length(fqdn: str) -> None:
    if len(fqdn) > _NAME_MAX:
        raise InvalidNameError(
            fqdn, f"the full name is {len(fqdn)} characters long; DNS allows at most 253"
        )


class ServiceName:
    """The DNS name of a Kubernetes Service, and the names derived from it.

    Immutable and hashable. A missing ``namespace`` or ``cluster_domain`` is taken from the
    pod the process runs in (see :class:`~headless_discovery.PodEnvironment`), falling back
    to ``default`` and ``cluster.local``.

    Args:
        name: The Service's name (a DNS-1035 label).
        namespace: Its namespace; detected when ``None``.
        cluster_domain: The cluster domain; detected when ``None``.
        environment: The pod environment to take defaults from; read from the standard
            paths when ``None`` and a default is needed.

    Raises:
        InvalidNameError: A part is not a valid Kubernetes name, or the FQDN is too long.

    Example::

        >>> svc = ServiceName("mongodb-headless-service", namespace="infrastructure",
        ...                   cluster_domain="cluster.local")
        >>> svc.fqdn
        'mongodb-headless-service.infrastructure.svc.cluster.local'
        >>> svc.srv("mongodb")
        '_mongodb._tcp.mongodb-headless-service.infrastructure.svc.cluster.local'

    .. versionadded:: 0.1.0
    """

    __slots__ = ("cluster_domain", "name", "namespace")

    name: str
    namespace: str
    cluster_domain: str

    def __init__(
        self,
        name: str,
        namespace: str | None = None,
        cluster_domain: str | None = None,
        *,
        environment: PodEnvironment | None = None,
    ) -> None:
        if namespace is None or cluster_domain is None:
            if environment is None:
                from .environment import PodEnvironment

                environment = PodEnvironment.detect()
            if namespace is None:
                namespace = environment.namespace_or_default
            if cluster_domain is None:
                cluster_domain = environment.cluster_domain_or_default
        name = _normalise(name, "Service name")
        namespace = _normalise(namespace, "namespace")
        cluster_domain = _normalise(cluster_domain, "cluster domain").rstrip(".")
        _check_label(name, "Service name", first_letter=True, full=name)
        _check_label(namespace, "namespace", first_letter=False, full=namespace)
        _check_domain(cluster_domain, cluster_domain)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "namespace", namespace)
        object.__setattr__(self, "cluster_domain", cluster_domain)
        _check_length(self.fqdn)

    @classmethod
    def parse(cls, text: str, *, environment: PodEnvironment | None = None) -> ServiceName:
        """Parse a Service name in any form: ``svc``, ``svc.ns``, ``svc.ns.svc``, the FQDN.

        A trailing dot is accepted on the FQDN. Parts the text leaves out are taken from
        ``environment`` (detected from the pod when ``None``).

        Raises:
            InvalidNameError: The text is not a Service name; per-pod and SRV names are
                refused here with a hint to use :func:`parse_name`.
        """
        parsed = parse_name(text, environment=environment)
        if parsed.hostname is not None or parsed.port_name is not None:
            kind = "per-pod" if parsed.hostname is not None else "SRV"
            raise InvalidNameError(
                text,
                f"this is a {kind} name, not a Service name; use parse_name() for it, or "
                f"give the Service name {parsed.service.fqdn!r}",
            )
        return parsed.service

    @property
    def fqdn(self) -> str:
        """``<svc>.<ns>.svc.<zone>``, without a trailing dot."""
        return f"{self.name}.{self.namespace}.svc.{self.cluster_domain}"

    @property
    def query_name(self) -> str:
        """The FQDN with a trailing dot: the name sent to DNS.

        An absolute name skips the search list, so a pod's ``ndots:5`` costs one query, not
        one per search suffix.
        """
        return self.fqdn + "."

    @property
    def short(self) -> str:
        """``<svc>.<ns>``: resolvable from any namespace through the pod's search list."""
        return f"{self.name}.{self.namespace}"

    @property
    def aliases(self) -> frozenset[str]:
        """Every name a client in the cluster may use for the Service: ``<svc>``,
        ``<svc>.<ns>``, ``<svc>.<ns>.svc`` and the FQDN (lower case, no trailing dot).

        The bare ``<svc>`` means this Service only in its own namespace; HTTP and gRPC
        integrations route a request to the pods when its host is one of these.

        .. versionadded:: 0.1.0
        """
        return frozenset((self.name, self.short, f"{self.short}.svc", self.fqdn))

    def matches(self, host: str) -> bool:
        """Whether ``host`` (any case, with or without a trailing dot) is one of
        :attr:`aliases`.

        .. versionadded:: 0.1.0
        """
        return isinstance(host, str) and host.rstrip(".").lower() in self.aliases

    def pod(self, hostname: str) -> str:
        """The FQDN of one pod: ``<hostname>.<svc>.<ns>.svc.<zone>``.

        Raises:
            InvalidNameError: ``hostname`` is not an RFC 1123 label.
        """
        hostname = _normalise(hostname, "pod hostname")
        _check_label(hostname, "pod hostname", first_letter=False, full=hostname)
        fqdn = f"{hostname}.{self.fqdn}"
        _check_length(fqdn)
        return fqdn

    def srv(self, port_name: str, protocol: SrvProtocol = "tcp") -> str:
        """The SRV name of a named port: ``_<port>._<proto>.<svc>.<ns>.svc.<zone>``.

        Raises:
            InvalidNameError: ``port_name`` is not a valid port name, or the protocol is not
                tcp, udp or sctp.
        """
        port_name = _normalise(port_name, "port name")
        _check_port_name(port_name, port_name)
        proto = _normalise(protocol, "protocol")
        if proto not in _PROTOCOLS:
            raise InvalidNameError(protocol, "the protocol must be tcp, udp or sctp")
        fqdn = f"_{port_name}._{proto}.{self.fqdn}"
        _check_length(fqdn)
        return fqdn

    def __setattr__(self, attr: str, value: object) -> None:
        raise AttributeError(f"ServiceName is immutable; cannot set {attr!r}")

    def __delattr__(self, attr: str) -> None:
        raise AttributeError(f"ServiceName is immutable; cannot delete {attr!r}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ServiceName):
            return NotImplemented
        return self.fqdn == other.fqdn

    def __hash__(self) -> int:
        return hash(self.fqdn)

    def __repr__(self) -> str:
        return (
            f"ServiceName({self.name!r}, namespace={self.namespace!r}, "
            f"cluster_domain={self.cluster_domain!r})"
        )

    def __str__(self) -> str:
        return self.fqdn


@dataclass(frozen=True, slots=True)
class KubernetesName:
    """A parsed cluster DNS name: a Service, one of its pods, or one of its SRV names.

    Attributes:
        service: The Service the name belongs to.
        hostname: The pod hostname for a per-pod name, else ``None``.
        port_name: The port name for an SRV name, else ``None``.
        protocol: The protocol for an SRV name, else ``None``.

    .. versionadded:: 0.1.0
    """

    service: ServiceName
    hostname: str | None = None
    port_name: str | None = None
    protocol: str | None = None

    @property
    def fqdn(self) -> str:
        """The full name, without a trailing dot."""
        if self.hostname is not None:
            return self.service.pod(self.hostname)
        if self.port_name is not None and self.protocol is not None:
            return self.service.srv(self.port_name, self.protocol)  # type: ignore[arg-type]
        return self.service.fqdn


#: Complete names parsed before. A name that gives its namespace and cluster domain parses
#: the same in any pod, so one-shot lookups of the same Service (``resolve()`` in a loop)
#: parse it once: parsing costs as much as the rest of ``resolve()``'s own work. Bounded:
#: emptied when full.
_PARSED: dict[str, KubernetesName] = {}
_PARSED_MAX = 256


def parse_name(text: str, *, environment: PodEnvironment | None = None) -> KubernetesName:
    """Parse any cluster DNS name of a Service, a pod, or an SRV record.

    Accepts ``svc``, ``svc.ns``, ``svc.ns.svc``, ``svc.ns.svc.<zone>``,
    ``<hostname>.svc.ns.svc.<zone>`` and ``_<port>._<proto>.<any Service form>``, each with
    an optional trailing dot when fully qualified. Missing parts come from ``environment``.

    Raises:
        InvalidNameError: The text is not such a name; the message says which part is wrong.

    .. versionadded:: 0.1.0
    """
    if type(text) is str:
        known = _PARSED.get(text)
        if known is not None:
            return known
    original = text
    text = _normalise(text, "name")
    absolute = text.endswith(".")
    body = text[:-1] if absolute else text
    if not body:
        raise InvalidNameError(original, "the name is empty")
    if len(body) > _NAME_MAX:
        raise InvalidNameError(
            original, f"the name is {len(body)} characters long; DNS allows at most 253"
        )
    labels = body.split(".")

    port_name = protocol = None
    if labels[0].startswith("_"):
        if len(labels) < 3 or not labels[1].startswith("_"):
            raise InvalidNameError(
                original, "an SRV name looks like _<port-name>._<protocol>.<service>"
            )
        port_name, protocol = labels[0][1:], labels[1][1:]
        _check_port_name(port_name, original)
        if protocol not in _PROTOCOLS:
            raise InvalidNameError(
                original, f"the SRV protocol {protocol!r} is not tcp, udp or sctp"
            )
        labels = labels[2:]

    hostname = None
    if len(labels) >= 3 and labels[2] == "svc":
        svc_labels, domain_labels = labels[:2], labels[3:]
    elif len(labels) >= 4 and labels[3] == "svc" and port_name is None:
        hostname = labels[0]
        svc_labels, domain_labels = labels[1:3], labels[4:]
    elif len(labels) <= 2:
        svc_labels, domain_labels = labels, []
    else:
        raise InvalidNameError(
            original,
            "expected <service>, <service>.<namespace>, <service>.<namespace>.svc[.<domain>] "
            f"or <pod>.<service>.<namespace>.svc[.<domain>]; found {labels[2]!r} where 'svc' "
            "belongs",
        )
    if absolute and not domain_labels:
        raise InvalidNameError(
            original,
            "a name with a trailing dot is absolute, so it must be complete: "
            "<service>.<namespace>.svc.<cluster-domain>.",
        )
    if hostname is not None:
        _check_label(hostname, "pod hostname", first_letter=False, full=original)

    namespace = svc_labels[1] if len(svc_labels) == 2 else None
    domain = ".".join(domain_labels) if domain_labels else None
    try:
        service = ServiceName(svc_labels[0], namespace, domain, environment=environment)
    except InvalidNameError as exc:
        # Report the whole text the caller gave, not only the label that was wrong.
        raise InvalidNameError(original, exc.reason) from None
    result = KubernetesName(service, hostname, port_name, protocol)
    _check_length(result.fqdn)
    if namespace is not None and domain is not None:  # the pod's environment was not asked
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        _PARSED[original] = result
    return result


def srv_parent_domain(host: str) -> str:
    """The domain SRV targets of ``host`` must lie in: ``host`` without its first label.

    This is the rule of MongoDB's ``mongodb+srv`` (every driver applies it), and the one
    discovery applies to the SRV records of a Service: for
    ``mongodb.db.svc.cluster.local`` it is ``db.svc.cluster.local``.
    """
    return host.lower().rstrip(".").partition(".")[2]


def in_srv_parent_domain(target: str | None, parent: str) -> bool:
    """Whether the SRV ``target`` lies in ``parent`` (see :func:`srv_parent_domain`).

    As the drivers check it: the target without its first label ends with ``parent``.
    """
    if target is None or not parent:
        return False
    want = parent.lower().rstrip(".").split(".")
    return target.lower().rstrip(".").split(".")[1:][-len(want) :] == want
