"""Choosing one endpoint among many: the :class:`Strategy` protocol and built-in strategies.

Pure: a strategy gets a sequence of endpoints (usually a
:class:`~headless_discovery.Resolution`) and returns one; it never resolves anything. Every
strategy here is safe to share between threads. Randomness and time are injectable, so a
seeded ``random.Random`` makes picks reproducible and a fake clock makes ejections testable.

=====================  ====================================================================
name                   picks
=====================  ====================================================================
``pick_first``         :class:`PickFirst`: the first endpoint (lowest ordinal or address)
``round_robin``        :class:`RoundRobin`: each endpoint in turn
``random``             :class:`Random`: uniformly at random
``weighted``           :class:`Weighted`: RFC 2782 priority and weight, or your weights
``least_outstanding``  :class:`LeastOutstanding`: fewer requests in flight, of two random
``consistent_hash``    :class:`ConsistentHash`: the same pod for the same key
=====================  ====================================================================

:class:`OutlierEjection` wraps any of them (or your own) to skip pods that keep failing.

A strategy opts in to more than ``pick`` by implementing the capability protocols
:class:`InFlightTracking`, :class:`FailureTracking`, :class:`Preparing` and
:class:`PreparingInSlices`; callers detect them with ``isinstance``.

Strategies build their per-snapshot tables once per sequence and cache them on its
identity, so pass the same :class:`~headless_discovery.Resolution` (or tuple) until it
changes; a list, which may change in place, is copied at every pick.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import ConfigurationError
from ._base import (
    FailureTracking,
    InFlightTracking,
    Preparing,
    PreparingInSlices,
    Strategy,
    acquire,
)
from ._hashing import ConsistentHash
from ._least import LeastOutstanding
from ._outlier import OutlierEjection
from ._simple import PickFirst, Random, RoundRobin
from ._weighted import Weighted

__all__ = [
    "STRATEGY_NAMES",
    "ConsistentHash",
    "FailureTracking",
    "InFlightTracking",
    "LeastOutstanding",
    "OutlierEjection",
    "PickFirst",
    "Preparing",
    "PreparingInSlices",
    "Random",
    "RoundRobin",
    "Strategy",
    "Weighted",
    "acquire",
    "strategy_from_name",
]

_FACTORIES: Mapping[str, Callable[..., Strategy]] = {
    "consistent_hash": ConsistentHash,
    "least_outstanding": LeastOutstanding,
    "pick_first": PickFirst,
    "random": Random,
    "round_robin": RoundRobin,
    "weighted": Weighted,
}

#: The names :func:`strategy_from_name` accepts, sorted.
STRATEGY_NAMES: tuple[str, ...] = tuple(sorted(_FACTORIES))


def strategy_from_name(name: str, **options: Any) -> Strategy:
    """A new strategy of the given name, e.g. ``"round_robin"``, built with ``options``.

    ``strategy_from_name("weighted", rng=random.Random(7))`` is ``Weighted(rng=...)``.

    Raises:
        ConfigurationError: No strategy has that name (the message lists the names), or
            it takes no such options.

    .. versionadded:: 0.1.0
    """
    try:
        factory = _FACTORIES[name]
    except (KeyError, TypeError):
        raise ConfigurationError(
            f"unknown strategy {name!r}; choose one of: {', '.join(STRATEGY_NAMES)}"
        ) from None
    try:
        inspect.signature(factory).bind(**options)
    except TypeError as exc:
        raise ConfigurationError(f"strategy {name!r}: {exc}") from None
    return factory(**options)
