"""Error messages that explain DNS outcomes in Kubernetes terms, shared by every backend."""

from __future__ import annotations

from ..environment import PodEnvironment
from ..errors import InvalidNameError, NoEndpointsError, ServiceNotFoundError
from ..names import KubernetesName, parse_name

# An empty environment: explaining a name must never read files.
_NO_ENV = PodEnvironment()


def _as_kubernetes(name: str) -> KubernetesName | None:
    if not name.rstrip(".").count(".") >= 3:
        return None
    try:
        return parse_name(name, environment=_NO_ENV)
    except InvalidNameError:
        return None


def not_found(name: str, rdtype: str, nameserver: str | None) -> ServiceNotFoundError:
    """The NXDOMAIN error, with what it means for a headless Service."""
    k8s = _as_kubernetes(name)
    where = f" (answered by {nameserver})" if nameserver else ""
    if k8s is None:
        text = f"{name} does not exist (NXDOMAIN){where}"
    else:
        svc = k8s.service
        if k8s.port_name is not None:
            subject = (
                f"Service {svc.name!r} in namespace {svc.namespace!r} has no port named "
                f"{k8s.port_name!r} with protocol {k8s.protocol} (SRV records exist only for "
                "named ports), or there is no such Service, or"
            )
        elif k8s.hostname is not None:
            subject = (
                f"no pod of Service {svc.name!r} in namespace {svc.namespace!r} has hostname "
                f"{k8s.hostname!r}, or there is no such Service, or"
            )
        else:
            subject = (
                f"there is no Service {svc.name!r} in namespace {svc.namespace!r} (check the "
                f"name, and the namespace: kubectl get svc -n {svc.namespace}), or"
            )
        text = (
            f"{name} does not exist (NXDOMAIN){where}: {subject} none of its pods is ready "
            "(cluster DNS answers NXDOMAIN for a headless Service without ready endpoints; "
            "publishNotReadyAddresses: true publishes pods before they are ready)"
        )
    return ServiceNotFoundError(text, name=name, rdtype=rdtype, nameserver=nameserver)


def no_records(name: str, rdtype: str, nameserver: str | None) -> NoEndpointsError:
    """The NODATA error: the name exists but has no records of this type."""
    where = f" (answered by {nameserver})" if nameserver else ""
    hint = ""
    if rdtype == "SRV":
        hint = "; SRV records exist only for named ports of a Service"
    elif rdtype in ("A", "AAAA"):
        hint = "; try the other address family"
    return NoEndpointsError(
        f"{name} has no {rdtype} records{where}{hint}",
        name=name,
        rdtype=rdtype,
        nameserver=nameserver,
    )
