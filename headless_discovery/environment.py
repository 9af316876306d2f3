"""What the pod we run in tells about names: namespace, cluster domain, search list, ndots.

Reading two small files is the only I/O here; every path is a parameter, so tests (and
programs outside a cluster) can point them at files of their own.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "DEFAULT_CLUSTER_DOMAIN",
    "DEFAULT_NAMESPACE",
    "NAMESPACE_FILE",
    "RESOLV_CONF",
    "PodEnvironment",
]

#: Where the kubelet mounts the pod's DNS configuration.
RESOLV_CONF = "/etc/resolv.conf"
#: Where the service-account token volume puts the pod's namespace.
NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
#: Used when no namespace can be detected, as ``kubectl`` does.
DEFAULT_NAMESPACE = "default"
#: Used when the search list does not reveal the cluster domain (kubelet's default).
DEFAULT_CLUSTER_DOMAIN = "cluster.local"


@dataclass(frozen=True, slots=True)
class PodEnvironment:
    """The resolver configuration and identity of the pod the process runs in.

    Outside a pod every detected field is ``None`` (or empty) and :attr:`in_pod` is false;
    :attr:`namespace_or_default` and :attr:`cluster_domain_or_default` then give the
    Kubernetes defaults.

    Attributes:
        namespace: Detected namespace, or ``None``.
        namespace_source: Where it came from: ``"POD_NAMESPACE"``, the service-account file
            path, ``"resolv.conf search list"``, or ``None``.
        cluster_domain: Cluster domain read off the search list, or ``None``.
        search: The ``search`` line of resolv.conf.
        ndots: The ``ndots`` option (1 when not set, as in libc).
        nameservers: The ``nameserver`` lines.

    .. versionadded:: 0.1.0
    """

    namespace: str | None = None
    namespace_source: str | None = None
    cluster_domain: str | None = None
    search: tuple[str, ...] = ()
    ndots: int = 1
    nameservers: tuple[str, ...] = ()

    @classmethod
    def detect(
        cls,
        *,
        resolv_conf: str | os.PathLike[str] = RESOLV_CONF,
        namespace_file: str | os.PathLike[str] = NAMESPACE_FILE,
        environ: Mapping[str, str] | None = None,
    ) -> PodEnvironment:
        """Read the pod's environment; missing files are not an error.

        The namespace comes from ``POD_NAMESPACE`` (downward API), then the service-account
        namespace file, then the first ``<ns>.svc.<domain>`` entry of the search list. The
        cluster domain comes from the search list.

        Args:
            resolv_conf: Path of the resolver configuration.
            namespace_file: Path of the service-account namespace file.
            environ: Environment variables; ``os.environ`` when ``None``.
        """
        env = os.environ if environ is None else environ
        search, ndots, nameservers = _read_resolv_conf(resolv_conf)
        ns_from_search, domain = _split_search(search)

        namespace: str | None = env.get("POD_NAMESPACE", "").strip().lower() or None
        source: str | None = "POD_NAMESPACE" if namespace else None
        if namespace is None:
            namespace = _read_first_line(namespace_file)
            source = os.fspath(namespace_file) if namespace else None
        if namespace is None and ns_from_search is not None:
            namespace, source = ns_from_search, "resolv.conf search list"
        return cls(namespace, source, domain, search, ndots, nameservers)

    @property
    def in_pod(self) -> bool:
        """Whether anything marks this process as running in a Kubernetes pod."""
        return self.namespace is not None or self.cluster_domain is not None

    @property
    def namespace_or_default(self) -> str:
        """The detected namespace, else ``"default"``."""
        return self.namespace or DEFAULT_NAMESPACE

    @property
    def cluster_domain_or_default(self) -> str:
        """The detected cluster domain, else ``"cluster.local"``."""
        return self.cluster_domain or DEFAULT_CLUSTER_DOMAIN


def _read_first_line(path: str | os.PathLike[str]) -> str | None:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read().strip().lower()
    except (OSError, UnicodeDecodeError):
        return None
    return text or None


def _read_resolv_conf(
    path: str | os.PathLike[str],
) -> tuple[tuple[str, ...], int, tuple[str, ...]]:
    search: tuple[str, ...] = ()
    ndots = 1
    nameservers: list[str] = []
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except (OSError, UnicodeDecodeError):
        return search, ndots, ()
    for line in lines:
        fields = line.split("#", 1)[0].split(";", 1)[0].split()
        if not fields:
            continue
        keyword, values = fields[0], fields[1:]
        # As in libc, the last "search" or "domain" line wins.
        if keyword in ("search", "domain"):
            search = tuple(v.rstrip(".").lower() for v in values)
        elif keyword == "nameserver" and values:
            nameservers.append(values[0])
        elif keyword == "options":
            for opt in values:
                name, _, value = opt.partition(":")
                if name == "ndots" and value.isdigit():
                    ndots = min(int(value), 15)  # libc caps ndots at 15
    return search, ndots, tuple(nameservers)


def _split_search(search: tuple[str, ...]) -> tuple[str | None, str | None]:
    """Find ``<ns>.svc.<domain>`` (or ``svc.<domain>``) in a search list."""
    for entry in search:
        labels = entry.split(".")
        if len(labels) >= 3 and labels[1] == "svc" and labels[0] != "svc":
            return labels[0], ".".join(labels[2:])
    for entry in search:
        labels = entry.split(".")
        if len(labels) >= 2 and labels[0] == "svc":
            return None, ".".join(labels[1:])
    return None, None
