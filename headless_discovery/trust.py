"""Screening answers that should not be trusted: addresses outside the allowed networks, SRV
targets outside the Service's domain. Pure.

Whoever controls DNS answers controls where a client connects, and for a database client,
where it sends credentials. Limiting addresses to the cluster's pod network and SRV targets to
the Service's own domain bounds what a poisoned or misconfigured answer can do.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from typing import Union

from .endpoints import Endpoint, Resolution
from .errors import ConfigurationError, UntrustedAnswerError
from .names import in_srv_parent_domain

__all__ = ["Network", "parse_networks", "screen"]

logger = logging.getLogger("headless_discovery")

#: An allowed network, e.g. the cluster's pod CIDR.
Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


def parse_networks(networks: Iterable[str | Network] | None) -> tuple[Network, ...]:
    """CIDR strings or network objects as a tuple of networks; ``None`` gives ``()``.

    Raises:
        ConfigurationError: An entry is not a network (host bits set count as an error).

    .. versionadded:: 0.1.0
    """
    if networks is None:
        return ()
    if isinstance(networks, str):
        networks = [networks]
    parsed = []
    for net in networks:
        try:
            parsed.append(ipaddress.ip_network(net))
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(f"allowed network {net!r} is not a CIDR: {exc}") from None
    if not parsed:
        raise ConfigurationError("allowed_networks is empty: no address could ever be used")
    return tuple(parsed)


def screen(
    result: Resolution, *, networks: tuple[Network, ...] = (), srv_domain: str | None = None
) -> Resolution:
    """Drop endpoints outside ``networks`` and SRV targets outside ``srv_domain``.

    Dropped endpoints are logged as warnings.

    Raises:
        UntrustedAnswerError: Nothing is left.
    """
    if not networks and srv_domain is None:
        return result
    kept: list[Endpoint] = []
    dropped: list[tuple[Endpoint, str]] = []
    for ep in result:
        if networks and not any(ep.ip in net for net in networks):
            dropped.append((ep, "outside allowed_networks"))
        elif srv_domain is not None and not in_srv_parent_domain(ep.hostname, srv_domain):
            dropped.append((ep, f"SRV target not inside {srv_domain}"))
        else:
            kept.append(ep)
    if not dropped:
        return result
    for ep, why in dropped:
        logger.warning("%s: dropped %s (%s): %s", result.name, ep.address, ep.hostname, why)
    if not kept:
        raise UntrustedAnswerError(
            f"every endpoint of {result.name} was dropped: "
            + "; ".join(f"{ep.hostname or ep.address} {why}" for ep, why in dropped[:5])
            + (f" (and {len(dropped) - 5} more)" if len(dropped) > 5 else "")
            + ". Check allowed_networks against the cluster's pod CIDR, and who answers DNS",
            name=result.name,
        )
    return Resolution(result.name, tuple(kept), result.ttl, result.nameserver)
