"""Consistent hashing: a hash ring with virtual nodes, hashed with BLAKE2b.

The ring changes in place of a rebuild: when pods come or go, only their own points are
taken out or put in (:func:`update_ring`), so a one-pod change at 1000 pods costs about a
millisecond instead of a third of a second. A full build (:func:`build_ring`) is a
generator that does its work in slices of about a millisecond, for an event loop. Both give
exactly the same ring for the same endpoints.
"""

from __future__ import annotations

import struct
from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Generator, Mapping, Sequence
from hashlib import blake2b
from itertools import accumulate, repeat
from operator import add, rshift

from ..endpoints import Endpoint
from ..errors import ConfigurationError
from ._base import NOTHING, SnapshotTables, as_tuple, cacheable, check_weights, user_weight

_from_bytes = int.from_bytes

# Which pods are on the ring: pod identity -> (the endpoint that owns its points, how many
# points it has). Pods with no points (weight 0) are left out.
Layout = Mapping[str, tuple[Endpoint, int]]

# Sorted point positions, the owner of each point plus the first owner again (a key past
# the last point wraps around to the first), the bucket index, the shift to a bucket, and
# the layout the ring was made from (what the next update starts from).
Ring = tuple["array[int]", Sequence[Endpoint], "array[int]", int, Layout]

_EMPTY: Ring = (array("Q"), (), array("q", [0, 0]), 63, {})

# About this much work between two yields of a build in slices (about 1 ms each here).
_POINTS_PER_SLICE = 2048
_BUCKETS_PER_SLICE = 8192
# An update touching more points than this is a full build: cheaper, and it yields.
_MAX_UPDATE_POINTS = 4096


def layout_of(
    endpoints: Sequence[Endpoint], weights: Mapping[str, float] | None, vnodes: int
) -> dict[str, tuple[Endpoint, int]]:
    """Which pods go on the ring for ``endpoints``, and with how many points each."""
    pods: dict[str, Endpoint] = {}
    for ep in endpoints:
        # One pod with several addresses (dual stack) is one identity: its first address.
        pods.setdefault(ep.netloc(use_hostname=True), ep)
    if weights is None:
        return {identity: (ep, vnodes) for identity, ep in pods.items()}
    pod_weights = {identity: user_weight(weights, ep) for identity, ep in pods.items()}
    if not any(pod_weights.values()):
        pod_weights = dict.fromkeys(pod_weights, 1.0)
    return {
        identity: (ep, max(1, round(vnodes * pod_weights[identity])))
        for identity, ep in pods.items()
        if pod_weights[identity] > 0
    }


def points_of(identity: str, count: int) -> tuple[int, ...]:
    """A pod's points, which depend on nothing but its identity and their number.

    That is what makes a pod joining or leaving move only the keys on its own arcs. Each
    BLAKE2b-512 digest of f"{identity}-{c}" gives eight big-endian 64-bit points (ketama
    does the same with MD5 and four 32-bit points).
    """
    chunks = (count + 7) // 8
    digests = b"".join(
        blake2b(f"{identity}-{c}".encode(), digest_size=64).digest() for c in range(chunks)
    )
    return struct.unpack(f">{8 * chunks}Q", digests)[:count]


def _bits(points: int) -> int:
    """Bucket bits for a ring of ``points``: 8 to 16 points per bucket.

    A lookup bisects three or four points; an update rewrites the whole index (one entry per
    bucket), so fewer buckets make updates cheaper: this is the balance.
    """
    return max(4, (points - 1).bit_length() - 4)


def build_ring(layout: Layout) -> Generator[None, None, Ring]:
    """The ring for ``layout``, built from scratch, yielding between slices of work.

    ``for _ in build_ring(layout): pass`` does it all at once; the ring is the generator's
    return value (``ring = yield from build_ring(layout)``).
    """
    # Hash the pods, spreading their points over 256 partitions by their top 8 bits: each
    # partition is then sorted on its own, so no single sort of the whole ring blocks. (One
    # dict of all points would block too, when it grows.)
    parts: list[dict[int, Endpoint]] = [{} for _ in range(256)]
    done = 0
    for identity, (ep, count) in layout.items():
        for p in points_of(identity, count):
            # A later pod wins a (most unlikely) shared position, as dict.update decides.
            parts[p >> 56][p] = ep
        done += count
        if done >= _POINTS_PER_SLICE:
            done = 0
            yield
    total = sum(map(len, parts))
    if not total:
        return _EMPTY
    bits = _bits(total)
    shift = 64 - bits
    positions: array[int] = array("Q")
    owners: list[Endpoint] = []
    per_bucket: Counter[int] = Counter()
    for i, part in enumerate(parts):
        ordered = sorted(part)
        positions.extend(ordered)
        owners.extend(map(part.__getitem__, ordered))
        per_bucket.update(map(rshift, ordered, repeat(shift)))
        # Freed as we go: the boxed points of a whole ring take milliseconds to free.
        parts[i] = {}
        del ordered
        done += len(part)
        if done >= _POINTS_PER_SLICE:
            done = 0
            yield
    owners.append(owners[0])
    # The bucket index: start[b] is the first point in bucket b (the top `bits` bits of a
    # position). With 8 to 16 points per bucket, a lookup bisects three or four points, so it
    # costs the same at 3 pods as at 1000. It is only an index: it never changes an answer.
    start: array[int] = array("q")
    total = 0
    for first in range(0, 1 << bits, _BUCKETS_PER_SLICE):
        # Counter's [] gives 0 for an empty bucket.
        counts = map(
            per_bucket.__getitem__, range(first, min(first + _BUCKETS_PER_SLICE, 1 << bits))
        )
        start.extend(accumulate(counts, initial=total))
        total = start.pop()
        yield
    start.append(total)
    return positions, owners, start, shift, dict(layout)


def update_ring(ring: Ring, layout: Layout) -> Ring | None:
    """``ring`` changed into the ring of ``layout`` by moving only the points that change.

    Returns ``None`` when a full build is the better way: too many points move, the bucket
    index would get too coarse or too fine, or two pods share a position (the full build
    decides who owns it).
    """
    positions, owners, start, shift, old = ring
    # The new layout keeps the old entry of every pod that did not change: its endpoint is
    # the owner of its points on the ring, which this update does not touch.
    kept: dict[str, tuple[Endpoint, int]] = {}
    come: list[tuple[str, tuple[Endpoint, int]]] = []
    for identity, entry in layout.items():
        before = old.get(identity)
        if before is not None and before == entry:
            kept[identity] = before
        else:
            kept[identity] = entry
            come.append((identity, entry))
    gone = [(k, v) for k, v in old.items() if kept.get(k) is not v]
    moved = sum(v[1] for _, v in gone) + sum(v[1] for _, v in come)
    if moved > _MAX_UPDATE_POINTS or not positions:
        return None
    # Every change as (index in the old ring, 0 to insert before it or 1 to drop it, point,
    # owner). Inserts sort before the drop of the same index.
    changes: list[tuple[int, int, int, Endpoint]] = []
    for identity, (ep, count) in gone:
        for p in set(points_of(identity, count)):
            i = bisect_left(positions, p)
            if owners[i] is not ep or positions[i] != p:
                return None  # shared with another pod: let a full build decide
            changes.append((i, 1, p, ep))
    dropped = {p for _, _, p, _ in changes}
    inserted: set[int] = set()
    for identity, (ep, count) in come:
        for p in set(points_of(identity, count)):
            i = bisect_left(positions, p)
            if p in inserted or (i < len(positions) and positions[i] == p and p not in dropped):
                return None
            inserted.add(p)
            changes.append((i, 0, p, ep))
    size = len(positions) - len(dropped) + len(inserted)
    if not size or abs(_bits(size) - (64 - shift)) > 1:
        return None  # between 4 and 32 points per bucket is good enough: keep the index
    changes.sort(key=lambda c: (c[0], c[1], c[2]))
    new_positions: array[int] = array("Q")
    new_owners: list[Endpoint] = []
    n = len(positions)
    prev = 0
    for i, drop, p, ep in changes:
        if i > prev:
            new_positions += positions[prev:i]
            new_owners += owners[prev:i]
            prev = i
        if drop:
            prev = i + 1
        else:
            new_positions.append(p)
            new_owners.append(ep)
    new_positions += positions[prev:]
    new_owners += owners[prev:n]
    new_owners.append(new_owners[0])
    return new_positions, new_owners, _reindex(start, shift, changes), shift, kept


def _reindex(
    start: array[int], shift: int, changes: list[tuple[int, int, int, Endpoint]]
) -> array[int]:
    """The bucket index after ``changes``: a point put in (taken out of) bucket b adds
    (takes) one to every entry after b, so the index is copied in runs of equal offset."""
    steps = sorted(((p >> shift) + 1, -1 if drop else 1) for _, drop, p, _ in changes)
    out: array[int] = array("q")
    prev = 0
    offset = 0
    for b, step in steps:
        if b > prev:
            run = start[prev:b]
            out.extend(map(add, run, repeat(offset)) if offset else run)
            prev = b
        offset += step
    run = start[prev:]
    out.extend(map(add, run, repeat(offset)) if offset else run)
    return out


class ConsistentHash(SnapshotTables):
    """The same key goes to the same pod while that pod exists: a hash ring.

    Each pod gets ``vnodes`` points per unit of weight on a ring of 64-bit positions; a key
    goes to the owner of the first point at or after its own position. When one of N pods
    joins or leaves, only the keys on its arcs move: about 1/N of them. Pods are identified
    by hostname and port (by address and port without a hostname), so a StatefulSet pod
    that restarts with a new IP keeps its keys; the several addresses of one dual-stack pod
    count as one pod, reached at its first (IPv4) address.

    The hash is BLAKE2b from :mod:`hashlib`, identical in every process and on every
    machine: a key's position is the first 8 bytes of ``blake2b(key.encode("utf-8"),
    digest_size=8)`` read big-endian, and a pod's points are read 8 at a time from
    ``blake2b(f"{hostname}:{port}-{c}".encode(), digest_size=64)`` for ``c = 0, 1, ...``.

    The ring follows the snapshots: when pods come or go, only their points are taken out
    or put in (about 1 ms for one pod at 1000 pods), with exactly the ring a build from
    scratch would give. A full build (the first one, or after many changes at once) takes
    about 0.3 s for 1000 pods; :meth:`prepare_in_slices` does it in slices of about 1 ms.
    A pick is one hash and a binary search over the few points of the key's bucket in an
    index of the ring, so it costs the same for 3 pods as for 1000. A pod that stays keeps
    the :class:`~headless_discovery.Endpoint` object it had (an equal one).

    Args:
        weights: Weights by IP address or pod hostname (unlisted pods weigh 1); a pod gets
            ``round(vnodes * weight)`` points, at least one, and a weight of 0 takes it out
            of the ring unless every pod weighs 0.
        vnodes: Points per unit of weight: 160, as in ketama (libmemcached) and uhashring;
            more points even out the load at the cost of memory (at 1000 pods, 160 points
            each take about 5 MB).

    Raises:
        ConfigurationError: A weight is negative or not finite, or ``vnodes`` is not a
            positive integer.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_snap", "_vnodes", "_weights")

    def __init__(self, weights: Mapping[str, float] | None = None, *, vnodes: int = 160) -> None:
        if isinstance(vnodes, bool) or not isinstance(vnodes, int) or vnodes < 1:
            raise ConfigurationError(f"vnodes must be a positive integer, not {vnodes!r}")
        self._weights = check_weights(weights)
        self._vnodes = vnodes
        self._snap: tuple[Sequence[Endpoint], Ring] = (NOTHING, _EMPTY)

    def pick(self, endpoints: Sequence[Endpoint], key: str | None = None) -> Endpoint:
        """Return the endpoint that owns ``key``.

        Raises:
            ConfigurationError: ``key`` is ``None``: consistent hashing needs a key, and
                silently spreading keyless requests would hide the mistake.
            NoEndpointsError: ``endpoints`` is empty.
        """
        if key is None:
            raise ConfigurationError(
                "consistent_hash needs a key to pick with, e.g. pick(key='user-42')"
            )
        seq, (positions, owners, start, shift, _) = self._snap
        if seq is not endpoints:
            positions, owners, start, shift, _ = self._settle(self._tables(endpoints))
        h = _from_bytes(blake2b(key.encode(), digest_size=8).digest(), "big")
        b = h >> shift
        return owners[bisect_left(positions, h, start[b], start[b + 1])]

    def _tables(self, endpoints: Sequence[Endpoint]) -> Generator[None, None, Ring]:
        """Update or build the ring for ``endpoints``, caching it when ``endpoints`` allows."""
        layout = layout_of(as_tuple(endpoints), self._weights, self._vnodes)
        ring = update_ring(self._snap[1], layout)
        if ring is None:
            ring = yield from build_ring(layout)
        # A list is never cached on its identity, but its ring is where the next update
        # starts from.
        self._snap = (endpoints if cacheable(endpoints) else NOTHING, ring)
        return ring

    @staticmethod
    def _settle(work: Generator[None, None, Ring]) -> Ring:
        """Run ``work`` to the end at once: its value."""
        while True:
            try:
                next(work)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        weights = "" if self._weights is None else f"weights={self._weights!r}, "
        return f"ConsistentHash({weights}vnodes={self._vnodes})"
