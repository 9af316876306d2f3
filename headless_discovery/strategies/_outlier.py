"""Outlier ejection: take pods that keep failing out of rotation for a while."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence

from ..endpoints import Endpoint
from ..errors import ConfigurationError
from ._base import NOTHING, FailureTracking, InFlightTracking, Strategy, cacheable


class OutlierEjection:
    """Wrap any strategy so that it stops picking pods that keep failing, for a while.

    Report outcomes with :meth:`report_failure` and :meth:`report_success`. After
    ``consecutive_failures`` failures in a row (a success resets the count) a pod is ejected:
    the inner strategy no longer sees it. It comes back by itself after
    ``base_ejection * multiplier`` seconds, capped at ``max_ejection``, where the multiplier
    counts its recent ejections: it goes up by one at each ejection and down by one for each
    ``interval`` the pod spends back in rotation. So a pod that fails again right after
    coming back stays out 30 s, then 60 s, 90 s, ... up to 300 s; one that behaved for a
    while starts again at 30 s. These are the rules and defaults of gRPC's
    ``outlier_detection`` policy and Envoy's consecutive-errors outlier detection.

    At most ``max_ejected_fraction`` of the pods (of the last sequence picked from) are
    ejected at once, rounded down, but at least one, as Envoy does, so that small Services
    are protected too; a pod that reaches the failure count while that many are out is
    ejected as soon as there is room. If every pod of a sequence is ejected, the inner
    strategy gets them all: a guess is better than no answer.

    ``begin``/``end`` and ``report_*`` calls are passed on to the inner strategy when it
    has those methods, so ``OutlierEjection(LeastOutstanding())`` counts in-flight requests.

    Args:
        inner: The strategy that picks among the pods not ejected.
        consecutive_failures: Failures in a row that eject a pod (Envoy's
            ``consecutive_5xx``: 5).
        base_ejection: Seconds of the first ejection (gRPC and Envoy: 30).
        max_ejection: Longest ejection in seconds (gRPC and Envoy: 300).
        max_ejected_fraction: Largest share of pods ejected at once (gRPC and Envoy: 10 %).
        interval: Seconds back in rotation that take one off a pod's multiplier (gRPC and
            Envoy evaluate every 10 s).
        clock: Monotonic seconds; inject a fake one in tests.

    Raises:
        ConfigurationError: A parameter is out of range.

    .. versionadded:: 0.1.0
    """

    __slots__ = (
        "_base",
        "_begin",
        "_clock",
        "_consecutive",
        "_ejected",
        "_end",
        "_failures",
        "_fraction",
        "_history",
        "_inner",
        "_interval",
        "_last",
        "_lock",
        "_max",
        "_next_return",
        "_pick",
        "_report_failure",
        "_report_success",
        "_version",
        "_view",
    )

    def __init__(
        self,
        inner: Strategy,
        *,
        consecutive_failures: int = 5,
        base_ejection: float = 30.0,
        max_ejection: float = 300.0,
        max_ejected_fraction: float = 0.10,
        interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if (
            isinstance(consecutive_failures, bool)
            or not isinstance(consecutive_failures, int)
            or consecutive_failures < 1
        ):
            raise ConfigurationError(
                f"consecutive_failures must be a positive integer, not {consecutive_failures!r}"
            )
        for name, value in (("base_ejection", base_ejection), ("interval", interval)):
            if not (isinstance(value, (int, float)) and 0 < value < math.inf):
                raise ConfigurationError(f"{name} must be a positive number, not {value!r}")
        if not (isinstance(max_ejection, (int, float)) and base_ejection <= max_ejection):
            raise ConfigurationError(
                f"max_ejection must be at least base_ejection ({base_ejection!r}), "
                f"not {max_ejection!r}"
            )
        if not (isinstance(max_ejected_fraction, (int, float)) and 0 <= max_ejected_fraction <= 1):
            raise ConfigurationError(
                f"max_ejected_fraction must be from 0 to 1, not {max_ejected_fraction!r}"
            )
        self._inner = inner
        self._pick = inner.pick
        self._consecutive = consecutive_failures
        self._base = float(base_ejection)
        self._max = float(max_ejection)
        self._fraction = float(max_ejected_fraction)
        self._interval = float(interval)
        self._clock = clock
        # Checked once here: a runtime protocol check is too slow for every call.
        self._begin: Callable[[Endpoint], None] | None = None
        self._end: Callable[[Endpoint], None] | None = None
        if isinstance(inner, InFlightTracking):
            self._begin, self._end = inner.begin, inner.end
        self._report_failure: Callable[[Endpoint], None] | None = None
        self._report_success: Callable[[Endpoint], None] | None = None
        if isinstance(inner, FailureTracking):
            self._report_failure, self._report_success = inner.report_failure, inner.report_success
        # Ejection state changes under the lock, rarely; picks only read it.
        self._lock = threading.Lock()
        self._ejected: dict[Endpoint, float] = {}  # ejected endpoint -> when it comes back
        self._failures: dict[Endpoint, int] = {}  # consecutive failures so far
        self._history: dict[Endpoint, tuple[int, float]] = {}  # multiplier, when it came back
        self._next_return = math.inf
        self._version = 0  # bumped whenever the ejected set changes
        self._view: tuple[Sequence[Endpoint], int, Sequence[Endpoint]] = (NOTHING, -1, ())
        self._last: Sequence[Endpoint] = NOTHING

    @property
    def inner(self) -> Strategy:
        """The wrapped strategy."""
        return self._inner

    @property
    def ejected(self) -> frozenset[Endpoint]:
        """The endpoints ejected now."""
        with self._lock:
            self._reinstate(self._clock())
            return frozenset(self._ejected)

    def pick(self, endpoints: Sequence[Endpoint], key: str | None = None) -> Endpoint:
        """Let the inner strategy pick among the endpoints that are not ejected.

        Raises:
            NoEndpointsError: ``endpoints`` is empty.
        """
        self._last = endpoints  # the pods the ejection budget is a share of
        if not self._ejected:
            return self._pick(endpoints, key)
        if self._clock() >= self._next_return:
            with self._lock:
                self._reinstate(self._clock())
        seq, version, healthy = self._view
        if seq is not endpoints or version != self._version:
            healthy = self._healthy(endpoints)
        return self._pick(healthy, key)

    def prepare(self, endpoints: Sequence[Endpoint]) -> None:
        """Let the inner strategy prepare for a new snapshot, if it can."""
        prepare = getattr(self._inner, "prepare", None)
        if prepare is not None:
            prepare(endpoints)

    def begin(self, endpoint: Endpoint) -> None:
        """Pass ``begin`` on to the inner strategy, if it counts requests in flight."""
        if self._begin is not None:
            self._begin(endpoint)

    def end(self, endpoint: Endpoint) -> None:
        """Pass ``end`` on to the inner strategy, if it counts requests in flight."""
        if self._end is not None:
            self._end(endpoint)

    def report_failure(self, endpoint: Endpoint) -> None:
        """Count a failure of ``endpoint``; eject it when that makes enough in a row."""
        if self._report_failure is not None:
            self._report_failure(endpoint)
        with self._lock:
            now = self._clock()
            self._reinstate(now)
            if endpoint in self._ejected:
                return  # requests that were already in flight: no news
            count = self._failures.get(endpoint, 0) + 1
            self._failures[endpoint] = count
            if count < self._consecutive or len(self._ejected) >= self._room():
                return  # the count stays: ejected at the next failure once there is room
            multiplier, back = self._history.get(endpoint, (0, now))
            multiplier = max(0, multiplier - int((now - back) // self._interval)) + 1
            until = now + min(self._base * multiplier, self._max)
            self._history[endpoint] = (multiplier, until)
            self._ejected[endpoint] = until
            del self._failures[endpoint]
            self._next_return = min(self._next_return, until)
            self._version += 1

    def report_success(self, endpoint: Endpoint) -> None:
        """A success of ``endpoint`` resets its count of consecutive failures."""
        if self._report_success is not None:
            self._report_success(endpoint)
        if self._failures:  # lock-free when nothing failed, the usual case
            with self._lock:
                self._failures.pop(endpoint, None)

    def _room(self) -> int:
        """How many pods may be out at once; the epsilon absorbs 0.29 * 100 == 28.99..."""
        if self._fraction == 0:
            return 0
        return max(1, math.floor(self._fraction * len(self._last) + 1e-9))

    def _healthy(self, endpoints: Sequence[Endpoint]) -> Sequence[Endpoint]:
        """The endpoints not ejected; cached per snapshot and ejected set."""
        with self._lock:
            version = self._version
            healthy: Sequence[Endpoint] = tuple(ep for ep in endpoints if ep not in self._ejected)
        if not healthy or len(healthy) == len(endpoints):
            # None left: fail open. None ejected here: the same object keeps the inner
            # strategy's per-snapshot tables valid.
            healthy = endpoints
        if cacheable(endpoints):
            self._view = (endpoints, version, healthy)
        return healthy

    def _reinstate(self, now: float) -> None:
        """Bring back the pods whose time is up; call with the lock held."""
        if now < self._next_return:
            return
        for endpoint, until in list(self._ejected.items()):
            if until <= now:
                del self._ejected[endpoint]
                self._failures.pop(endpoint, None)
        self._next_return = min(self._ejected.values(), default=math.inf)
        self._version += 1
        # Forget the multipliers that have decayed to nothing.
        for endpoint, (multiplier, back) in list(self._history.items()):
            if endpoint not in self._ejected and multiplier <= (now - back) // self._interval:
                del self._history[endpoint]

    def __repr__(self) -> str:
        return (
            f"OutlierEjection({self._inner!r}, consecutive_failures={self._consecutive}, "
            f"base_ejection={self._base}, max_ejection={self._max}, "
            f"max_ejected_fraction={self._fraction}, interval={self._interval})"
        )
