"""When to resolve again: TTL clamps, jitter, backoff, staleness bounds, and the schedule of
one long-lived discovery behind a caching resolver. Pure.

The defaults follow what cluster DNS and the best client-side balancers do: CoreDNS serves
headless records with a 5 s TTL and Envoy re-resolves every 5 s, so an answer without a TTL
is refreshed after 5 s; gRPC re-resolves at most every 30 s, which we take as the ceiling, so
a long TTL never hides a scale-up for more than 30 s.

Cluster DNS is almost always a cache (CoreDNS's ``cache`` plugin, NodeLocal DNSCache): it
answers with the *remaining* TTL, ``TTL - floor(age)`` in whole seconds, and fetches the
records again on the first query after they expired. Asking before that moment only gets the
same answer back with a TTL of 1, so :class:`RefreshSchedule` asks just after it, spread over
a fraction of the record set's TTL (see ``docs/explanation/fleet.md`` for the figures).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from .endpoints import Family
from .errors import ConfigurationError

__all__ = ["RefreshPolicy", "RefreshSchedule"]


@dataclass(frozen=True, slots=True)
class RefreshPolicy:
    """How long-lived discovery schedules its lookups.

    Attributes:
        min_interval: Floor for the delay between refreshes, seconds (a TTL of 0 does not
            turn into a busy loop).
        max_interval: Ceiling, seconds (a TTL of an hour does not hide a scale-up).
        default_interval: Used when the resolver reports no TTL (``getaddrinfo``).
        jitter: Fraction of the delay taken off at random, so a fleet of clients does not
            refresh in lockstep; it also makes every refresh happen before the TTL expires
            (refresh-ahead). With ``cache_aware`` it applies only where no TTL is known, to
            empty answers, and at the ``max_interval`` ceiling.
        negative_interval: Delay after an empty answer (NXDOMAIN/NODATA), clamped like a TTL:
            negative answers are not cached longer than this.
        backoff_base: First retry delay after a failed lookup; doubled on each failure.
        backoff_max: Cap of the retry delay.
        max_stale: Seconds the last good endpoints keep being served while lookups fail
            (serve-stale, RFC 8767); after that the stale policy of the discovery applies.
            ``math.inf`` serves them for as long as lookups fail.
        cache_aware: Ask again just *after* an answer's TTL runs out instead of just before
            it. Behind a cache the TTL is what remains of the cached answer, and asking
            before it ends returns the same answer again; without a cache it costs at most
            ``cache_spread`` of the TTL in staleness. ``False`` keeps refresh-ahead.
        cache_spread: With ``cache_aware``, the fraction of the record set's TTL (the TTL a
            fresh answer carries, not what remains of a cached one) over which the lookup
            after expiry is spread at random, so that a fleet does not ask in one burst;
            0 to 1.
        family_probe_interval: With ``family="any"``, once an answer had addresses of one
            family only, the other family is asked only this often (seconds) until it has
            addresses: an IPv4-only cluster answers every AAAA query with nothing.

    .. versionadded:: 0.1.0
    """

    min_interval: float = 1.0
    max_interval: float = 30.0
    default_interval: float = 5.0
    jitter: float = 0.2
    negative_interval: float = 5.0
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    max_stale: float = 300.0
    cache_aware: bool = True
    cache_spread: float = 0.05
    family_probe_interval: float = 60.0

    def __post_init__(self) -> None:
        if not 0 < self.min_interval <= self.max_interval:
            raise ConfigurationError("need 0 < min_interval <= max_interval")
        if not 0 <= self.jitter < 1:
            raise ConfigurationError("jitter must be a fraction from 0 to below 1")
        for name in (
            "default_interval",
            "negative_interval",
            "backoff_base",
            "backoff_max",
            "family_probe_interval",
        ):
            if not getattr(self, name) > 0:
                raise ConfigurationError(f"{name} must be positive")
        if not self.max_stale >= 0:  # also refuses nan, which every comparison would pass
            raise ConfigurationError(
                f"max_stale must be 0 or more seconds (math.inf: no limit), not {self.max_stale!r}"
            )
        if not 0 <= self.cache_spread <= 1:
            raise ConfigurationError("cache_spread must be a fraction from 0 to 1")

    def _clamp(self, seconds: float) -> float:
        return min(max(seconds, self.min_interval), self.max_interval)

    def _jittered(self, seconds: float, rng: random.Random) -> float:
        return seconds * (1.0 - self.jitter * rng.random())

    def after_success(self, ttl: float | None, rng: random.Random) -> float:
        """Delay until the next refresh after an answer with ``ttl``, refresh-ahead.

        Stateless, so it cannot tell a cached answer from a fresh one; long-lived discovery
        decides through a :class:`RefreshSchedule`, which uses this when ``cache_aware`` is
        off or no TTL is known.
        """
        base = self.default_interval if ttl is None else ttl
        return self._jittered(self._clamp(base), rng)

    def after_empty(self, rng: random.Random) -> float:
        """Delay until the next refresh after NXDOMAIN or NODATA."""
        return self._jittered(self._clamp(self.negative_interval), rng)

    def after_failure(self, failures: int, rng: random.Random) -> float:
        """Delay before retry number ``failures`` (1 for the first) after lookups failed.

        Exponential with "equal jitter": between half and all of
        ``min(backoff_max, backoff_base * 2 ** (failures - 1))``.
        """
        exponent = min(max(failures, 1) - 1, 62)
        ceiling = min(self.backoff_max, self.backoff_base * 2.0**exponent)
        return ceiling / 2 + rng.random() * ceiling / 2


_OTHER: dict[str, Literal["ipv4", "ipv6"]] = {"ipv4": "ipv6", "ipv6": "ipv4"}


class RefreshSchedule:
    """The refresh decisions of one long-lived discovery: when to look up next, and which
    address families to ask. Pure: no I/O, no sleeping; time and randomness are injected.

    It remembers what a single answer cannot tell: the TTL the record set carries when it is
    fresh (the highest TTL seen; a cache counts down from it, so a lower TTL is a cached
    answer's remainder), whether the cache rounds the remaining TTL down (it served a cached
    answer with a TTL of 0: CoreDNS never does), and which address family came back empty.

    The discovery core holds one per discovery and, under its own lock (this class is not
    thread-safe), for every lookup it applies, in the order they began:

    1. before the lookup: ``asked = schedule.family(requested)``, and looks up ``asked``
       instead of the configured family;
    2. after it, exactly one of: ``answered(resolution.ttl, asked, families_seen)`` for an
       answer with endpoints (``families_seen``: ``"ipv4"`` if any endpoint address is IPv4,
       ``"ipv6"`` if any is IPv6), ``empty()`` for NXDOMAIN/NODATA, ``failed(failures)``
       for a failed lookup; it waits the delay returned (capped, as before, by the
       staleness deadline). A lookup overtaken by a newer one is not reported.

    Backing a family off never changes a snapshot: a family is backed off only after an
    ``"any"`` answer had none of its addresses, so a one-family answer holds everything an
    ``"any"`` answer would, until the other family appears; an ``"any"`` probe (every
    ``family_probe_interval``) with its addresses ends the back-off, and so does an empty
    answer (the next lookup asks both).

    Example:
        >>> import random
        >>> now = [0.0]
        >>> schedule = RefreshSchedule(RefreshPolicy(), random.Random(1), lambda: now[0])
        >>> schedule.family("any")
        'any'
        >>> delay = schedule.answered(5.0, "any", frozenset({"ipv4"}))  # fresh, no AAAA
        >>> 5.0 <= delay <= 6.0  # the first answer: spread over a second
        True
        >>> schedule.family("any")  # AAAA backed off for a minute
        'ipv4'
        >>> now[0] = 60.0
        >>> schedule.family("any")
        'any'

    .. versionadded:: 0.1.0
    """

    __slots__ = (
        "_backed_off",
        "_clock",
        "_fresh_at",
        "_fresh_ttl",
        "_policy",
        "_probe_at",
        "_rng",
        "_rounds_down",
    )

    def __init__(
        self, policy: RefreshPolicy, rng: random.Random, clock: Callable[[], float]
    ) -> None:
        """
        Args:
            policy: The bounds and fractions to schedule by.
            rng: Randomness for the spread, jitter and backoff.
            clock: A monotonic clock (seconds), read by ``family()`` and ``answered()``.
        """
        self._policy = policy
        self._rng = rng
        self._clock = clock
        self._fresh_ttl: float | None = None
        self._fresh_at = 0.0
        self._rounds_down = False
        self._backed_off: Literal["ipv4", "ipv6"] | None = None
        self._probe_at = 0.0

    def family(self, requested: Family) -> Family:
        """The family to ask in the next lookup: ``requested``, except that with ``"any"``
        a backed-off family is left out until its next probe is due."""
        if requested != "any" or self._backed_off is None or self._clock() >= self._probe_at:
            return requested
        return _OTHER[self._backed_off]

    def answered(self, ttl: float | None, asked: Family, families_seen: frozenset[str]) -> float:
        """Record an answer with endpoints; return the delay until the next lookup.

        Args:
            ttl: The answer's TTL (the smallest of its records), ``None`` if unknown.
            asked: The family this lookup asked, as :meth:`family` returned it.
            families_seen: Which of ``"ipv4"`` and ``"ipv6"`` the endpoints' addresses had.
        """
        now = self._clock()
        if asked == "any" and len(families_seen) == 1:
            (seen,) = families_seen
            self._backed_off = _OTHER[seen]
            self._probe_at = now + self._policy.family_probe_interval
        elif asked == "any" and len(families_seen) == 2:
            self._backed_off = None
        policy = self._policy
        if ttl is None or not policy.cache_aware:
            return policy.after_success(ttl, self._rng)
        # CoreDNS's cache serves TTL - floor(age) and refetches once that reaches 0: the
        # answer expires within ``ttl`` seconds, so asking at ``ttl`` plus the spread is
        # always after it. Caches that round the remaining TTL down serve a 0 in its last
        # second: there it expires within ``ttl + 1``, and a second more is needed.
        fresh = self._fresh_ttl
        first = fresh is None
        if fresh is None or ttl >= fresh or now > self._fresh_at + self._forget_after(fresh):
            fresh = self._fresh_ttl = ttl
            self._fresh_at = now
        elif ttl < 1:
            self._rounds_down = True
        base = max(ttl + (1.0 if self._rounds_down else 0.0), policy.min_interval)
        if base >= policy.max_interval:
            return policy.after_success(ttl, self._rng)
        # The fresh TTL sets the spread, whatever remains of it. After the first answer the
        # spread is the whole second a cache's TTL cannot resolve: a fleet started together
        # (a rollout) is scattered over it once, and the whole-second TTLs keep it so.
        spread = policy.cache_spread * max(fresh, policy.min_interval)
        if first:
            spread = min(base, 1.0)
        return min(base + spread * self._rng.random(), policy.max_interval)

    def _forget_after(self, fresh_ttl: float) -> float:
        # A cache hands out the fresh TTL again once every TTL or so; one not seen for four
        # (the first lookup may come two TTLs late, and a cache that rounds down shows it
        # only to the client that made it fetch) was lowered at the source: the next
        # answer's TTL replaces it.
        return 4 * max(fresh_ttl, self._policy.min_interval) + 1

    def empty(self) -> float:
        """Record NXDOMAIN or NODATA; return the delay until the next lookup.

        It ends a family back-off: the next lookup asks both families.
        """
        self._backed_off = None
        return self._policy.after_empty(self._rng)

    def failed(self, failures: int) -> float:
        """Record failed lookup number ``failures`` (1 for the first) in a row; return the
        delay before the retry. A failure says nothing about the families: the back-off
        stays as it was."""
        return self._policy.after_failure(failures, self._rng)
