"""Choosing one endpoint among many: the :class:`Strategy` protocol and built-in strategies.

Pure: a strategy gets a sequence of endpoints (usually a
:class:`~headless_discovery.Resolution`) and returns one; it never resolves anything. Every
strategy here is safe to share between threads. Randomness is injectable, so a seeded
``random.Random`` makes picks reproducible.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, runtime_checkable

from .endpoints import Endpoint
from .errors import ConfigurationError, NoEndpointsError

__all__ = [
    "STRATEGY_NAMES",
    "PickFirst",
    "Random",
    "RoundRobin",
    "Strategy",
    "strategy_from_name",
]


@runtime_checkable
class Strategy(Protocol):
    """Anything with a ``pick`` method is a strategy; no subclassing needed.

    ``pick`` must return one element of ``endpoints`` and raise
    :class:`~headless_discovery.NoEndpointsError` when it is empty. ``key`` is for
    strategies that map keys to endpoints (consistent hashing); others ignore it.

    .. versionadded:: 0.1.0
    """

    def pick(self, endpoints: Sequence[Endpoint], key: str | None = None) -> Endpoint:
        """Choose one of ``endpoints``."""
        ...


def _empty() -> NoEndpointsError:
    return NoEndpointsError(
        "there are no endpoints to pick from: the Service has no ready pods "
        "(or every pod was filtered out)"
    )


class PickFirst:
    """Always the first endpoint of the (sorted) sequence: the lowest address or ordinal.

    Use it to pin all traffic to one pod while it exists, e.g. a leader at ordinal 0.

    .. versionadded:: 0.1.0
    """

    __slots__ = ()

    def pick(self, endpoints: Sequence[Endpoint], key: str | None = None) -> Endpoint:
        """Return ``endpoints[0]``.

        Raises:
            NoEndpointsError: ``endpoints`` is empty.
        """
        if not endpoints:
            raise _empty()
        return endpoints[0]

    def __repr__(self) -> str:
        return "PickFirst()"


class RoundRobin:
    """Each endpoint in turn.

    The position survives changes of the endpoint sequence: after a pod is added or removed
    the rotation goes on from where it was instead of starting over at the first pod.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_counter",)

    def __init__(self) -> None:
        # next() on itertools.count is a single C call, so concurrent picks never see the
        # same value: thread-safe without a lock.
        self._counter = itertools.count()

    def pick(self, endpoints: Sequence[Endpoint], key: str | None = None) -> Endpoint:
        """Return the next endpoint in rotation.

        Raises:
            NoEndpointsError: ``endpoints`` is empty.
        """
        if not endpoints:
            raise _empty()
        return endpoints[next(self._counter) % len(endpoints)]

    def __repr__(self) -> str:
        return "RoundRobin()"


class Random:
    """A uniformly random endpoint.

    Args:
        rng: The source of randomness; a private ``random.Random()`` when ``None``. Pass a
            seeded one for reproducible picks.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_rng",)

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng if rng is not None else random.Random()

    def pick(self, endpoints: Sequence[Endpoint], key: str | None = None) -> Endpoint:
        """Return a random endpoint.

        Raises:
            NoEndpointsError: ``endpoints`` is empty.
        """
        if not endpoints:
            raise _empty()
        return self._rng.choice(endpoints)

    def __repr__(self) -> str:
        return "Random()"


_FACTORIES: Mapping[str, Callable[[], Strategy]] = {
    "pick_first": PickFirst,
    "random": Random,
    "round_robin": RoundRobin,
}

#: The names :func:`strategy_from_name` accepts.
STRATEGY_NAMES: tuple[str, ...] = tuple(sorted(_FACTORIES))


def strategy_from_name(name: str) -> Strategy:
    """A new strategy of the given name, e.g. ``"round_robin"``.

    Raises:
        ConfigurationError: No strategy has that name; the message lists the names.

    .. versionadded:: 0.1.0
    """
    try:
        factory = _FACTORIES[name]
    except (KeyError, TypeError):
        raise ConfigurationError(
            f"unknown strategy {name!r}; choose one of: {', '.join(STRATEGY_NAMES)}"
        ) from None
    return factory()
