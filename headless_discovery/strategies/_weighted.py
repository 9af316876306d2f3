"""Weighted random selection: RFC 2782 for SRV answers, user weights for address answers."""

from __future__ import annotations

import random
from collections.abc import Generator, Mapping, Sequence

from ..endpoints import Endpoint
from ._base import NOTHING, SnapshotTables, as_tuple, cacheable, check_weights, user_weight

# (the sequence, candidates, acceptance probabilities, aliases, number of candidates)
_Table = tuple[
    Sequence[Endpoint], tuple[Endpoint, ...], tuple[float, ...], tuple[Endpoint, ...], int
]


class Weighted(SnapshotTables):
    """A random endpoint of the most preferred SRV priority, chosen in proportion to weight.

    Without ``weights`` this follows RFC 2782 for SRV answers:

    - only the endpoints with the lowest priority value are candidates (a pick is the
      client's first attempt; wrap the strategy in :class:`OutlierEjection` to fail over to
      the next priority when those pods fail);
    - within that group, an endpoint is picked in proportion to its weight: with
      probability ``weight / S``, where ``S`` is the sum of the group's weights;
    - if the group has zero-weight endpoints, they share ``1 / (S + 1)`` equally and the
      others get ``weight / (S + 1)``: the RFC's "very small chance" for weight 0 (its
      algorithm draws from ``0..S`` inclusive and puts zero-weight records first);
    - so when every weight is 0 (all address answers) the pick is uniform.

    With ``weights``, given per IP address or per pod hostname (the address wins when both
    are listed), those replace the SRV weights; unlisted endpoints weigh 1, and a weight of
    0 drains an endpoint: it is never picked unless every candidate weighs 0, in which case
    all are equal. SRV priorities still apply.

    A pick costs the same for 3 or 1000 endpoints: the table (Walker's alias method) is
    built once per snapshot, and a pick is one random number and two lookups.

    Args:
        rng: The source of randomness; a private ``random.Random()`` when ``None``.
        weights: Weights by IP address or pod hostname, finite and ``>= 0``.

    Raises:
        ConfigurationError: A weight is negative or not a finite number.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_random", "_snap", "_weights")

    def __init__(
        self, rng: random.Random | None = None, weights: Mapping[str, float] | None = None
    ) -> None:
        self._random = (rng if rng is not None else random.Random()).random
        self._weights = check_weights(weights)
        self._snap: _Table = (NOTHING, (), (), (), 0)

    def pick(self, endpoints: Sequence[Endpoint], key: str | None = None) -> Endpoint:
        """Return a weighted random endpoint of the lowest priority value.

        Args:
            endpoints: The endpoints to choose from.
            key: Not used: a weighted random choice has no affinity.

        Raises:
            NoEndpointsError: ``endpoints`` is empty.
        """
        seq, eps, prob, alias, n = self._snap
        if seq is not endpoints:
            seq, eps, prob, alias, n = self._load(endpoints)
        # One uniform draw gives the column (integer part) and the coin (fraction).
        r = self._random() * n
        i = int(r)
        return eps[i] if r - i < prob[i] else alias[i]

    def _tables(self, endpoints: Sequence[Endpoint]) -> Generator[None, None, object]:
        # One slice: the table takes about 1 ms at 1000 pods.
        yield from ()
        return self._load(endpoints)

    def _load(self, endpoints: Sequence[Endpoint]) -> _Table:
        candidates, shares = _shares(as_tuple(endpoints), self._weights)
        table = (endpoints, *_alias_table(candidates, shares))
        if cacheable(endpoints):
            self._snap = table
        return table

    def __repr__(self) -> str:
        return "Weighted()" if self._weights is None else f"Weighted(weights={self._weights!r})"


def _shares(
    endpoints: tuple[Endpoint, ...], weights: Mapping[str, float] | None
) -> tuple[list[Endpoint], list[float]]:
    """The candidates (lowest priority value) and the share of the draw each gets."""
    top = min(ep.priority for ep in endpoints)
    group = [ep for ep in endpoints if ep.priority == top]
    if weights is None:
        zeros = sum(1 for ep in group if ep.weight == 0)
        return group, [float(ep.weight) if ep.weight else 1.0 / zeros for ep in group]
    shares = [user_weight(weights, ep) for ep in group]
    if not any(shares):
        return group, [1.0] * len(group)
    kept = [(ep, share) for ep, share in zip(group, shares, strict=True) if share > 0]
    return [ep for ep, _ in kept], [share for _, share in kept]


def _alias_table(
    candidates: list[Endpoint], shares: list[float]
) -> tuple[tuple[Endpoint, ...], tuple[float, ...], tuple[Endpoint, ...], int]:
    """Vose's alias method: column ``i`` keeps ``candidates[i]`` with ``prob[i]``, else alias."""
    n = len(candidates)
    total = sum(shares)
    scaled = [share * n / total for share in shares]
    prob = [1.0] * n
    alias = list(candidates)
    small = [i for i, p in enumerate(scaled) if p < 1.0]
    large = [i for i, p in enumerate(scaled) if p >= 1.0]
    while small and large:
        s = small.pop()
        g = large.pop()
        prob[s] = scaled[s]
        alias[s] = candidates[g]
        scaled[g] += scaled[s] - 1.0
        (small if scaled[g] < 1.0 else large).append(g)
    # Whatever is left over is 1 up to rounding error, and keeps prob 1.
    return tuple(candidates), tuple(prob), tuple(alias), n
