"""When to resolve again: TTL clamps, jitter, backoff and staleness bounds. Pure.

The defaults follow what cluster DNS and the best client-side balancers do: CoreDNS serves
headless records with a 5 s TTL and Envoy re-resolves every 5 s, so an answer without a TTL
is refreshed after 5 s; gRPC re-resolves at most every 30 s, which we take as the ceiling, so
a long TTL never hides a scale-up for more than 30 s.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .errors import ConfigurationError

__all__ = ["RefreshPolicy"]


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
            (refresh-ahead).
        negative_interval: Delay after an empty answer (NXDOMAIN/NODATA), clamped like a TTL:
            negative answers are not cached longer than this.
        backoff_base: First retry delay after a failed lookup; doubled on each failure.
        backoff_max: Cap of the retry delay.
        max_stale: Seconds the last good endpoints keep being served while lookups fail
            (serve-stale, RFC 8767); after that the stale policy of the discovery applies.

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

    def __post_init__(self) -> None:
        if not 0 < self.min_interval <= self.max_interval:
            raise ConfigurationError("need 0 < min_interval <= max_interval")
        if not 0 <= self.jitter < 1:
            raise ConfigurationError("jitter must be a fraction from 0 to below 1")
        for name in ("default_interval", "negative_interval", "backoff_base", "backoff_max"):
            if not getattr(self, name) > 0:
                raise ConfigurationError(f"{name} must be positive")
        if self.max_stale < 0:
            raise ConfigurationError("max_stale must not be negative")

    def _clamp(self, seconds: float) -> float:
        return min(max(seconds, self.min_interval), self.max_interval)

    def _jittered(self, seconds: float, rng: random.Random) -> float:
        return seconds * (1.0 - self.jitter * rng.random())

    def after_success(self, ttl: float | None, rng: random.Random) -> float:
        """Delay until the next refresh after an answer with ``ttl``."""
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
