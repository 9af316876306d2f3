"""The protocols every strategy shares, :func:`acquire`, and helpers for snapshots and weights."""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Generator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Protocol, TypeGuard, runtime_checkable

from ..endpoints import Endpoint, Resolution
from ..errors import ConfigurationError, NoEndpointsError

#: Stands in for "no snapshot yet": never ``is`` any sequence a caller passes.
NOTHING: Sequence[Endpoint] = Resolution("", ())


@runtime_checkable
class Strategy(Protocol):
    """Anything with a ``pick`` method is a strategy; no subclassing needed.

    ``pick`` must return one element of ``endpoints`` and raise
    :class:`~headless_discovery.NoEndpointsError` when it is empty. ``key`` is for
    strategies that map keys to endpoints (consistent hashing); others ignore it.

    A strategy may also implement the capability protocols :class:`InFlightTracking`
    (``begin``/``end``), :class:`FailureTracking` (``report_failure``/``report_success``),
    :class:`Preparing` (``prepare``) and :class:`PreparingInSlices`
    (``prepare_in_slices``): having the methods is opting in. Callers such as
    :func:`acquire`, :class:`OutlierEjection` and discovery check for them with
    ``isinstance`` against the protocol, once per strategy type or instance.

    Example, a strategy that sends everything to the pod with ordinal 0 while it exists::

        class PreferOrdinalZero:
            def __init__(self, fallback: Strategy) -> None:
                self._fallback = fallback

            def pick(self, endpoints: Sequence[Endpoint], key: str | None = None) -> Endpoint:
                for ep in endpoints:
                    if ep.hostname and ep.hostname.split(".")[0].endswith("-0"):
                        return ep
                return self._fallback.pick(endpoints, key)

    .. versionadded:: 0.1.0
    """

    def pick(self, endpoints: Sequence[Endpoint], key: str | None = None) -> Endpoint:
        """Choose one of ``endpoints``."""
        ...


@runtime_checkable
class InFlightTracking(Protocol):
    """A strategy that counts requests in flight per endpoint (e.g. :class:`LeastOutstanding`).

    Call ``begin`` when a request to the picked endpoint starts and ``end`` when it is over,
    exactly once each; :func:`acquire` does both.

    .. versionadded:: 0.1.0
    """

    def begin(self, endpoint: Endpoint) -> None:
        """A request to ``endpoint`` has started."""
        ...

    def end(self, endpoint: Endpoint) -> None:
        """A request to ``endpoint`` is over, whatever its outcome."""
        ...


@runtime_checkable
class FailureTracking(Protocol):
    """A strategy that learns from outcomes (e.g. :class:`OutlierEjection`).

    .. versionadded:: 0.1.0
    """

    def report_failure(self, endpoint: Endpoint) -> None:
        """A request to ``endpoint`` failed (connection refused, timeout, 5xx, ...)."""
        ...

    def report_success(self, endpoint: Endpoint) -> None:
        """A request to ``endpoint`` succeeded."""
        ...


@runtime_checkable
class Preparing(Protocol):
    """A strategy that builds per-snapshot tables ahead of the first pick (e.g. a hash ring).

    Long-lived discovery calls ``prepare`` on its refresher each time the endpoints change,
    so the first request after a change does not pay for the tables. ``prepare`` does all
    the work before it returns; a pick from the same sequence afterwards finds it done.
    :class:`ConsistentHash`, :class:`Weighted`, :class:`LeastOutstanding` and
    :class:`OutlierEjection` (passing it on to its inner strategy) implement it.

    .. versionadded:: 0.1.0
    """

    def prepare(self, endpoints: Sequence[Endpoint]) -> None:
        """Build what picks from ``endpoints`` will need."""
        ...


@runtime_checkable
class PreparingInSlices(Protocol):
    """A strategy whose preparation can be done in slices, for an event loop.

    :class:`~headless_discovery.AsyncDiscovery` prefers ``prepare_in_slices`` to
    ``prepare`` and lets other tasks run between two slices, so a large table never blocks
    the loop for long. The work is complete once the iterator is exhausted; each slice
    should take about a millisecond. A strategy with little to do may do it all in one
    slice. Implement :class:`Preparing` too: threads and the synchronous API call
    ``prepare``.

    .. versionadded:: 0.1.0
    """

    def prepare_in_slices(self, endpoints: Sequence[Endpoint]) -> Iterator[None]:
        """Build what picks from ``endpoints`` will need, yielding between slices of work."""
        ...


class SnapshotTables:
    """Mixin of the strategies that derive tables from each snapshot (weights, loads, a
    ring): :class:`Preparing` and :class:`PreparingInSlices` written once, around the
    strategy's own ``_tables`` generator and its cache ``_snap`` (the snapshot first)."""

    __slots__ = ()
    _snap: tuple[Any, ...]

    def _tables(self, endpoints: Sequence[Endpoint]) -> Generator[None, None, object]:
        raise NotImplementedError

    def prepare(self, endpoints: Sequence[Endpoint]) -> None:
        """Build what :meth:`pick` derives from ``endpoints`` now, ahead of the first pick.

        :class:`~headless_discovery.Discovery` calls it on its refresher when the snapshot
        changes, so that no request pays for it. See :class:`Preparing`.

        Raises:
            NoEndpointsError: ``endpoints`` is empty.
        """
        if self._snap[0] is not endpoints:
            for _ in self._tables(endpoints):
                pass

    def prepare_in_slices(self, endpoints: Sequence[Endpoint]) -> Iterator[None]:
        """What :meth:`prepare` does, yielding between slices of about 1 ms of work.

        See :class:`PreparingInSlices`.

        Raises:
            NoEndpointsError: ``endpoints`` is empty (when iterated).
        """
        if self._snap[0] is not endpoints:
            yield from self._tables(endpoints)


@contextmanager
def acquire(
    strategy: Strategy, endpoints: Sequence[Endpoint], key: str | None = None
) -> Iterator[Endpoint]:
    """Pick an endpoint and count the request as in flight until the ``with`` block ends.

    Calls ``strategy.begin(endpoint)`` before yielding and ``strategy.end(endpoint)`` when
    the block exits, also on an exception, when the strategy implements
    :class:`InFlightTracking` (checked once per strategy type); otherwise it only picks.
    Outcomes are not reported: call ``report_failure`` / ``report_success`` yourself, since
    only you know what failed::

        with acquire(strategy, resolution) as ep:
            send(ep)

    Raises:
        NoEndpointsError: ``endpoints`` is empty.

    .. versionadded:: 0.1.0
    """
    endpoint = strategy.pick(endpoints, key)
    if not tracks_in_flight(strategy):
        yield endpoint
        return
    strategy.begin(endpoint)
    try:
        yield endpoint
    finally:
        strategy.end(endpoint)


# Whether a strategy type implements InFlightTracking. A runtime protocol check costs
# microseconds, more than a pick: it is made once per type. Plain dict operations are atomic.
_IN_FLIGHT: dict[type, bool] = {}


def tracks_in_flight(strategy: object) -> TypeGuard[InFlightTracking]:
    """``isinstance(strategy, InFlightTracking)``, decided once per type of strategy."""
    answer = _IN_FLIGHT.get(type(strategy))
    if answer is None:
        answer = _IN_FLIGHT[type(strategy)] = isinstance(strategy, InFlightTracking)
    return answer


def empty() -> NoEndpointsError:
    """The error every strategy raises for an empty sequence."""
    return NoEndpointsError(
        "there are no endpoints to pick from: the Service has no ready pods "
        "(or every pod was filtered out)"
    )


def cacheable(endpoints: Sequence[Endpoint]) -> bool:
    """Whether tables derived from ``endpoints`` may be cached on its identity.

    Only immutable sequences qualify: a list may change in place under the same identity.
    The cache holds a reference to the sequence, so its id cannot be reused meanwhile.
    """
    return isinstance(endpoints, (tuple, Resolution))


def as_tuple(endpoints: Sequence[Endpoint]) -> tuple[Endpoint, ...]:
    """The endpoints as a tuple, refusing an empty sequence."""
    eps = endpoints.endpoints if isinstance(endpoints, Resolution) else tuple(endpoints)
    if not eps:
        raise empty()
    return eps


def check_weights(weights: Mapping[str, float] | None) -> dict[str, float] | None:
    """Validate user weights and normalise their keys the way :class:`Endpoint` does.

    Keys are IP addresses or pod hostnames; values finite and not negative.

    Raises:
        ConfigurationError: A key is not a string or a value is negative or not finite.
    """
    if weights is None:
        return None
    checked: dict[str, float] = {}
    for name, value in weights.items():
        if not isinstance(name, str):
            raise ConfigurationError(f"weights are keyed by address or hostname, not {name!r}")
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or value < 0
        ):
            raise ConfigurationError(
                f"the weight of {name!r} must be a finite number >= 0, not {value!r}"
            )
        try:
            key = ipaddress.ip_address(name).compressed
        except ValueError:
            key = name.lower().rstrip(".")
        checked[key] = float(value)
    return checked


def user_weight(weights: Mapping[str, float], endpoint: Endpoint) -> float:
    """The weight given for the endpoint's address, else its hostname, else 1."""
    weight = weights.get(endpoint.address)
    if weight is None and endpoint.hostname is not None:
        weight = weights.get(endpoint.hostname)
    return 1.0 if weight is None else weight
