"""The stateless-looking strategies: first, in turn, at random."""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence

from ..endpoints import Endpoint
from ._base import NOTHING, as_tuple, cacheable

# Each strategy keeps one immutable tuple per snapshot, (the sequence it was built for,
# derived data...), in a single attribute: replacing it is atomic, so picks need no lock,
# and a pick after a new snapshot rebuilds it once. Sequences that may change in place
# (lists) are never cached; they cost a copy per pick.


class PickFirst:
    """Always the first endpoint of the (sorted) sequence: the lowest address or ordinal.

    Use it to pin all traffic to one pod while it exists, e.g. a leader at ordinal 0. This
    is gRPC's default policy, without its address shuffling.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_snap",)

    def __init__(self) -> None:
        self._snap: tuple[Sequence[Endpoint], Endpoint | None] = (NOTHING, None)

    def pick(self, endpoints: Sequence[Endpoint], key: str | None = None) -> Endpoint:
        """Return ``endpoints[0]``.

        Raises:
            NoEndpointsError: ``endpoints`` is empty.
        """
        seq, first = self._snap
        if seq is endpoints and first is not None:
            return first
        first = as_tuple(endpoints)[0]
        if cacheable(endpoints):
            self._snap = (endpoints, first)
        return first

    def __repr__(self) -> str:
        return "PickFirst()"


def _snapshot(
    strategy: RoundRobin | Random, endpoints: Sequence[Endpoint]
) -> tuple[tuple[Endpoint, ...], int]:
    """The endpoints as a tuple and their number, cached on the strategy when the sequence
    may be (only when the snapshot changes: picks of the same snapshot never call this)."""
    eps = as_tuple(endpoints)
    n = len(eps)
    if cacheable(endpoints):
        strategy._snap = (endpoints, eps, n)
    return eps, n


class RoundRobin:
    """Each endpoint in turn.

    The position survives changes of the endpoint sequence: after a pod is added or removed
    the rotation goes on from where it was instead of starting over at the first pod. Over
    any ``len(endpoints)`` consecutive picks from one sequence every endpoint is picked
    exactly once, across all threads.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_counter", "_snap")

    def __init__(self) -> None:
        # next() on itertools.count is a single C call, so concurrent picks never see the
        # same value: thread-safe without a lock.
        self._counter = itertools.count()
        self._snap: tuple[Sequence[Endpoint], tuple[Endpoint, ...], int] = (NOTHING, (), 0)

    def pick(self, endpoints: Sequence[Endpoint], key: str | None = None) -> Endpoint:
        """Return the next endpoint in rotation.

        Raises:
            NoEndpointsError: ``endpoints`` is empty.
        """
        seq, eps, n = self._snap
        if seq is not endpoints:
            eps, n = _snapshot(self, endpoints)
        return eps[next(self._counter) % n]

    def __repr__(self) -> str:
        return "RoundRobin()"


class Random:
    """A uniformly random endpoint.

    Args:
        rng: The source of randomness; a private ``random.Random()`` when ``None``. Pass a
            seeded one for reproducible picks.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_random", "_snap")

    def __init__(self, rng: random.Random | None = None) -> None:
        self._random = (rng if rng is not None else random.Random()).random
        self._snap: tuple[Sequence[Endpoint], tuple[Endpoint, ...], int] = (NOTHING, (), 0)

    def pick(self, endpoints: Sequence[Endpoint], key: str | None = None) -> Endpoint:
        """Return a random endpoint.

        Args:
            endpoints: The endpoints to choose from.
            key: Not used: a random choice has no affinity.

        Raises:
            NoEndpointsError: ``endpoints`` is empty.
        """
        seq, eps, n = self._snap
        if seq is not endpoints:
            eps, n = _snapshot(self, endpoints)
        # random() < 1 and, for n < 2**53, random() * n rounds below n: always in range.
        # One C call instead of random.choice's two Python frames.
        return eps[int(self._random() * n)]

    def __repr__(self) -> str:
        return "Random()"
