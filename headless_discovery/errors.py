"""The exceptions headless-discovery raises.

Every exception the library raises derives from :class:`DiscoveryError`; exceptions of
dnspython, ``socket`` and pymongo are translated at the resolver boundary and chained
(``raise ... from exc``), so ``except DiscoveryError`` is enough around any call::

    DiscoveryError
    ├── InvalidNameError            (also ValueError)  a name that Kubernetes would refuse
    ├── ConfigurationError          (also ValueError)  arguments that cannot work together
    └── ResolutionError                                a lookup did not give usable records
        ├── NoEndpointsError                           the name has no records of that type
        │   └── ServiceNotFoundError                   NXDOMAIN: no Service, wrong namespace,
        │                                              or no ready pod
        ├── ResolverTimeoutError    (also TimeoutError) no answer within the lifetime
        ├── ResolverUnavailableError                   SERVFAIL, REFUSED, unreachable server
        ├── StaleEndpointsError                        lookups failed for longer than max_stale
        ├── UntrustedAnswerError                       every address was outside the allowed
        │                                              networks or the Service's domain
        └── WaitTimeoutError        (also TimeoutError) wait_for() saw too few endpoints

Catch :class:`NoEndpointsError` to treat "no ready pods" and "no such name" alike: cluster
DNS answers NXDOMAIN for a headless Service without ready endpoints, so a client cannot
always tell the two apart.

Messages never contain credentials: the URI builders do not put passwords into exceptions.
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "DiscoveryError",
    "InvalidNameError",
    "NoEndpointsError",
    "ResolutionError",
    "ResolverTimeoutError",
    "ResolverUnavailableError",
    "ServiceNotFoundError",
    "StaleEndpointsError",
    "UntrustedAnswerError",
    "WaitTimeoutError",
]


class DiscoveryError(Exception):
    """Root of every exception raised by headless-discovery.

    Every subclass pickles with its attributes (for multiprocessing and executors).
    """

    def __reduce__(self) -> tuple[object, ...]:
        # The default pickles only args, and the subclasses' constructors take more.
        return _rebuild, (type(self), self.args, self.__dict__)


def _rebuild(
    cls: type[DiscoveryError], args: tuple[object, ...], state: dict[str, object]
) -> DiscoveryError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class InvalidNameError(DiscoveryError, ValueError):
    """A name (Service, namespace, pod hostname, port name, cluster domain) is not valid.

    Attributes:
        name: The text that was refused.
        reason: Why, in words, including which label is wrong.
    """

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason
        super().__init__(f"invalid name {name!r}: {reason}")


class ConfigurationError(DiscoveryError, ValueError):
    """Arguments that cannot work, alone or together (e.g. a port out of range)."""


class ResolutionError(DiscoveryError):
    """A DNS lookup did not produce usable records.

    Attributes:
        name: The DNS name that was queried (``None`` when no query was involved).
        rdtype: The record type asked for (``"A"``, ``"AAAA"``, ``"SRV"``, ``"A/AAAA"``).
        nameserver: The nameserver that answered or failed, when known.
    """

    def __init__(
        self,
        message: str,
        *,
        name: str | None = None,
        rdtype: str | None = None,
        nameserver: str | None = None,
    ) -> None:
        self.name = name
        self.rdtype = rdtype
        self.nameserver = nameserver
        super().__init__(message)


class NoEndpointsError(ResolutionError):
    """The name exists but holds no records of the type asked for, or nothing to pick from."""


class ServiceNotFoundError(NoEndpointsError):
    """The name does not exist (NXDOMAIN).

    For a headless Service this means one of three things: there is no such Service, it is
    in another namespace, or none of its pods is ready.
    """


class ResolverTimeoutError(ResolutionError, TimeoutError):
    """No nameserver answered within the resolver's lifetime.

    Attributes:
        elapsed: Seconds spent before giving up.
    """

    def __init__(self, message: str, *, elapsed: float | None = None, **where: str | None) -> None:
        # ``where``: the ``name``, ``rdtype`` and ``nameserver`` of :class:`ResolutionError`.
        super().__init__(message, **where)
        self.elapsed = elapsed


class ResolverUnavailableError(ResolutionError):
    """The nameservers failed: SERVFAIL, REFUSED, unreachable, or a malformed reply."""


class StaleEndpointsError(ResolutionError):
    """Lookups have failed for longer than ``max_stale`` and the policy is to fail picks.

    .. versionadded:: 0.1.0
    """


class UntrustedAnswerError(ResolutionError):
    """Every endpoint of an answer was dropped as untrusted (see ``allowed_networks``).

    Long-lived discovery treats it as a failed lookup: the last good endpoints stay.

    .. versionadded:: 0.1.0
    """


class WaitTimeoutError(ResolutionError, TimeoutError):
    """``wait_for`` gave up: fewer endpoints than asked for appeared in time.

    Attributes:
        wanted: How many endpoints were awaited.
        seen: How many there were at the end.

    .. versionadded:: 0.1.0
    """

    def __init__(self, message: str, *, name: str | None, wanted: int, seen: int) -> None:
        super().__init__(message, name=name)
        self.wanted = wanted
        self.seen = seen
