"""Outlier ejection: take pods that keep failing out of rotation for a while."""

from __future__ import annotations

import math
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence

from ..endpoints import Endpoint
from ..errors import ConfigurationError
from ..instrumentation import EndpointEjected, EndpointReturned, Hook, _check_hooks, _emit
from ._base import (
    NOTHING,
    FailureTracking,
    InFlightTracking,
    Preparing,
    PreparingInSlices,
    Strategy,
    cacheable,
)

# Every OutlierEjection alive, so that a forked child can renew their locks.
_LIVE: weakref.WeakSet[OutlierEjection] = weakref.WeakSet()


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

    ``begin``/``end``, ``report_*``, ``prepare`` and ``prepare_in_slices`` calls are passed
    on to the inner strategy when it implements :class:`InFlightTracking`,
    :class:`FailureTracking`, :class:`Preparing` or :class:`PreparingInSlices` (checked
    once, here), so ``OutlierEjection(LeastOutstanding())`` counts in-flight requests.

    Each ejection is an :class:`~headless_discovery.instrumentation.EndpointEjected` event
    and each return an :class:`~headless_discovery.instrumentation.EndpointReturned`, sent
    to the hooks of :func:`~headless_discovery.instrumentation.add_hook` and to ``hooks``
    (and logged). They are emitted outside the strategy's lock, by the call that ejected
    or brought back the pod: ``report_failure``, or the first ``pick`` after an ejection
    ends. A pick that changes nothing emits nothing.

    The lock is renewed in a child process after ``os.fork()``: a fork while other threads
    report outcomes does not leave the child's copy locked.

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
        hooks: Hooks for this strategy's events only (see
            :mod:`~headless_discovery.instrumentation`).

    Raises:
        ConfigurationError: A parameter is out of range.
        TypeError: A hook is not callable.

    .. versionadded:: 0.1.0
    """

    __slots__ = (
        "__weakref__",
        "_base",
        "_begin",
        "_clock",
        "_consecutive",
        "_ejected",
        "_end",
        "_failures",
        "_fraction",
        "_history",
        "_hooks",
        "_inner",
        "_interval",
        "_last",
        "_lock",
        "_max",
        "_next_return",
        "_pick",
        "_prepare",
        "_prepare_in_slices",
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
        hooks: Iterable[Hook] | None = None,
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
        self._hooks = _check_hooks(hooks)
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
        self._prepare: Callable[[Sequence[Endpoint]], None] | None = None
        if isinstance(inner, Preparing):
            self._prepare = inner.prepare
        self._prepare_in_slices: Callable[[Sequence[Endpoint]], Iterator[None]] | None = None
        if isinstance(inner, PreparingInSlices):
            self._prepare_in_slices = inner.prepare_in_slices
        # Ejection state changes under the lock, rarely; picks only read it.
        self._lock = threading.Lock()
        self._ejected: dict[Endpoint, float] = {}  # ejected endpoint -> when it comes back
        self._failures: dict[Endpoint, int] = {}  # consecutive failures so far
        self._history: dict[Endpoint, tuple[int, float]] = {}  # multiplier, when it came back
        self._next_return = math.inf
        self._version = 0  # bumped whenever the ejected set changes
        self._view: tuple[Sequence[Endpoint], int, Sequence[Endpoint]] = (NOTHING, -1, ())
        self._last: Sequence[Endpoint] = NOTHING
        _LIVE.add(self)

    @property
    def inner(self) -> Strategy:
        """The wrapped strategy."""
        return self._inner

    @property
    def ejected(self) -> frozenset[Endpoint]:
        """The endpoints ejected now."""
        with self._lock:
            returned = self._reinstate(self._clock())
            ejected = frozenset(self._ejected)
        self._announce(returned)
        return ejected

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
                returned = self._reinstate(self._clock())
            self._announce(returned)
        seq, version, healthy = self._view
        if seq is not endpoints or version != self._version:
            healthy = self._healthy(endpoints)
        return self._pick(healthy, key)

    def prepare(self, endpoints: Sequence[Endpoint]) -> None:
        """Let the inner strategy prepare for a new snapshot, if it is :class:`Preparing`."""
        if self._prepare is not None:
            self._prepare(endpoints)

    def prepare_in_slices(self, endpoints: Sequence[Endpoint]) -> Iterator[None]:
        """Let the inner strategy prepare in slices if it is :class:`PreparingInSlices`, else
        in one slice if it is :class:`Preparing`."""
        if self._prepare_in_slices is not None:
            yield from self._prepare_in_slices(endpoints)
        elif self._prepare is not None:
            self._prepare(endpoints)

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
        ejected: EndpointEjected | None = None
        with self._lock:
            now = self._clock()
            returned = self._reinstate(now)
            if endpoint not in self._ejected:  # else: requests already in flight, no news
                ejected = self._count_failure(endpoint, now)
        self._announce(returned)
        if ejected is not None:
            _emit(ejected, self._hooks)

    def _count_failure(self, endpoint: Endpoint, now: float) -> EndpointEjected | None:
        """Count a failure; eject the endpoint when it is time. Call with the lock held."""
        count = self._failures.get(endpoint, 0) + 1
        self._failures[endpoint] = count
        if count < self._consecutive or self._out() >= self._room():
            return None  # the count stays: ejected at the next failure once there is room
        multiplier, back = self._history.get(endpoint, (0, now))
        multiplier = max(0, multiplier - int((now - back) // self._interval)) + 1
        duration = min(self._base * multiplier, self._max)
        until = now + duration
        self._history[endpoint] = (multiplier, until)
        self._ejected[endpoint] = until
        del self._failures[endpoint]
        self._next_return = min(self._next_return, until)
        self._version += 1
        return EndpointEjected(endpoint, duration)

    def report_success(self, endpoint: Endpoint) -> None:
        """A success of ``endpoint`` resets its count of consecutive failures."""
        if self._report_success is not None:
            self._report_success(endpoint)
        if self._failures:  # lock-free when nothing failed, the usual case
            with self._lock:
                self._failures.pop(endpoint, None)

    def _out(self) -> int:
        """How many of the pods picked from last are ejected; call with the lock held. A pod
        that left keeps its ejection (it may come back) but takes no part of the budget."""
        if len(self._ejected) < self._room():
            return len(self._ejected)  # under the budget whoever they are: no need to look
        present = set(self._last)
        return sum(1 for endpoint in self._ejected if endpoint in present)

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

    def _reinstate(self, now: float) -> list[Endpoint]:
        """Bring back the pods whose time is up, and return them; call with the lock held."""
        if now < self._next_return:
            return []
        returned = [endpoint for endpoint, until in self._ejected.items() if until <= now]
        for endpoint in returned:
            del self._ejected[endpoint]
            self._failures.pop(endpoint, None)
        self._next_return = min(self._ejected.values(), default=math.inf)
        self._version += 1
        # Forget the multipliers that have decayed to nothing.
        for endpoint, (multiplier, back) in list(self._history.items()):
            if endpoint not in self._ejected and multiplier <= (now - back) // self._interval:
                del self._history[endpoint]
        return returned

    def _announce(self, returned: list[Endpoint]) -> None:
        """Emit the returns of ``returned``; call without the lock."""
        for endpoint in returned:
            _emit(EndpointReturned(endpoint), self._hooks)

    def _after_fork(self) -> None:
        # Another thread of the parent may have held the lock at the fork: it never ends
        # here, so the child gets a lock of its own. The state it guarded is consistent at
        # any point between two dict operations, which is all a fork can interrupt.
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"OutlierEjection({self._inner!r}, consecutive_failures={self._consecutive}, "
            f"base_ejection={self._base}, max_ejection={self._max}, "
            f"max_ejected_fraction={self._fraction}, interval={self._interval})"
        )


def _after_fork_in_child() -> None:
    for strategy in list(_LIVE):
        strategy._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
