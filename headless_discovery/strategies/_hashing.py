"""Consistent hashing: a hash ring with virtual nodes, hashed with BLAKE2b."""

from __future__ import annotations

import struct
from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Mapping, Sequence
from hashlib import blake2b
from itertools import accumulate, repeat

from ..endpoints import Endpoint
from ..errors import ConfigurationError
from ._base import NOTHING, as_tuple, cacheable, check_weights, user_weight

_from_bytes = int.from_bytes

# Sorted point positions, the owner of each point plus the first owner again (a key past
# the last point wraps around to the first), the bucket index, and the shift to a bucket.
Ring = tuple["array[int]", tuple[Endpoint, ...], "array[int]", int]


def build_ring(
    endpoints: tuple[Endpoint, ...], weights: Mapping[str, float] | None, vnodes: int
) -> Ring:
    """The ring for ``endpoints``: point positions, their owners and the bucket index."""
    pods: dict[str, Endpoint] = {}
    for ep in endpoints:
        # One pod with several addresses (dual stack) is one identity: its first address.
        pods.setdefault(ep.netloc(use_hostname=True), ep)
    pod_weights = {
        identity: 1.0 if weights is None else user_weight(weights, ep)
        for identity, ep in pods.items()
    }
    if not any(pod_weights.values()):
        pod_weights = dict.fromkeys(pod_weights, 1.0)
    owner_of: dict[int, Endpoint] = {}
    for identity, ep in pods.items():
        weight = pod_weights[identity]
        if weight <= 0:
            continue
        # A pod's points depend on nothing but its identity and weight: that is what makes
        # a pod joining or leaving move only the keys on its own arcs. Each BLAKE2b-512
        # digest of f"{identity}-{c}" gives eight big-endian 64-bit points (ketama does the
        # same with MD5 and four 32-bit points).
        count = max(1, round(vnodes * weight))
        chunks = (count + 7) // 8
        digests = b"".join(
            blake2b(f"{identity}-{c}".encode(), digest_size=64).digest() for c in range(chunks)
        )
        owner_of.update(dict.fromkeys(struct.unpack(f">{8 * chunks}Q", digests)[:count], ep))
    positions = sorted(owner_of)
    owners = (*map(owner_of.__getitem__, positions), owner_of[positions[0]])
    # The bucket index: start[b] is the first point in bucket b (the top `bits` bits of a
    # position). With about one point per bucket, a lookup bisects one or two points, so it
    # costs the same at 3 pods as at 1000. It is only an index: it never changes an answer.
    bits = max(4, (len(positions) - 1).bit_length())
    shift = 64 - bits
    per_bucket = Counter([p >> shift for p in positions])
    counts = map(per_bucket.get, range(1 << bits), repeat(0))
    start = array("q", accumulate(counts, initial=0))
    return array("Q", positions), owners, start, shift


class ConsistentHash:
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

    The ring is built once per snapshot (0.3 s for 1000 pods on a slow machine). A pick is
    one hash and a binary search over the one or two points of the key's bucket in an index
    of the ring, so it costs the same for 3 pods as for 1000.

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
        self._snap: tuple[Sequence[Endpoint], Ring] = (NOTHING, (array("Q"), (), array("q"), 0))

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
        seq, (positions, owners, start, shift) = self._snap
        if seq is not endpoints:
            positions, owners, start, shift = self._load(endpoints)
        h = _from_bytes(blake2b(key.encode(), digest_size=8).digest(), "big")
        b = h >> shift
        return owners[bisect_left(positions, h, start[b], start[b + 1])]

    def prepare(self, endpoints: Sequence[Endpoint]) -> None:
        """Build what :meth:`pick` derives from ``endpoints`` now, ahead of the first pick.

        :class:`~headless_discovery.Discovery` calls it on its refresher when the snapshot
        changes, so that no request pays for it.
        """
        if self._snap[0] is not endpoints:
            self._load(endpoints)

    def _load(self, endpoints: Sequence[Endpoint]) -> Ring:
        ring = build_ring(as_tuple(endpoints), self._weights, self._vnodes)
        if cacheable(endpoints):
            self._snap = (endpoints, ring)
        return ring

    def __repr__(self) -> str:
        weights = "" if self._weights is None else f"weights={self._weights!r}, "
        return f"ConsistentHash({weights}vnodes={self._vnodes})"
