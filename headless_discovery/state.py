"""The state of a long-lived discovery and every transition of it. Pure.

:class:`RefreshState` folds the outcome of each lookup into the snapshot and decides what
follows: the delay until the next lookup, what picks do while DNS fails, and the events that
describe it. :class:`Waiter` decides the start-up gate (``wait_for``): when to look again,
when to say how far it got, when to give up. Neither holds a lock, waits, logs or calls a
hook; time comes in as an argument and randomness from the refresh schedule, so every
decision is tested with literal outcomes. :mod:`headless_discovery.discovery` drives them
from a thread or a task.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Literal

from .endpoints import Endpoint, Family, Resolution
from .errors import (
    ConfigurationError,
    DiscoveryError,
    NoEndpointsError,
    StaleEndpointsError,
    WaitTimeoutError,
)
from .instrumentation import EndpointsChanged, Event, RefreshFinished, StaleServed
from .refresh import RefreshPolicy, RefreshSchedule

__all__ = ["Applied", "DiscoveryStats", "RefreshState", "Ticket", "Waiter"]

#: What picks do once lookups have failed for longer than ``max_stale``.
StalePolicy = Literal["serve", "fail"]

_WAIT_BACKOFF_START = 0.1
_WAIT_BACKOFF_MAX = 2.0
_WAIT_LOG_EVERY = 5.0
_OUTCOMES = ("changed", "unchanged", "empty", "failed")


def _identity(endpoint: Endpoint) -> tuple[str, int | None, str | None]:
    # Pods are compared by where they are, not by SRV weight: CoreDNS gives every pod an
    # even share, so one pod leaving changes every weight without changing the pods.
    return endpoint.address, endpoint.port, endpoint.hostname


@dataclass(frozen=True, slots=True)
class Ticket:
    """A lookup as it begins: its number (outcomes are applied in order) and the address
    family it asks (one may be backed off, see
    :class:`~headless_discovery.refresh.RefreshSchedule`)."""

    seq: int
    family: Family


@dataclass(frozen=True, slots=True)
class Applied:
    """What folding one lookup outcome into the state gave.

    Attributes:
        delay: Seconds until the next lookup.
        old: The snapshot before.
        new: The snapshot after (``old`` itself when nothing changed).
        changed: The change of pods, when there was one (for subscribers).
        events: What to tell the hooks, in order.
    """

    delay: float
    old: Resolution
    new: Resolution
    changed: EndpointsChanged | None = None
    events: tuple[Event, ...] = ()


@dataclass(frozen=True, slots=True)
class DiscoveryStats:
    """How a long-lived discovery is doing, at one moment: for users without a metrics stack.

    A snapshot, never updated: call :meth:`Discovery.stats() <headless_discovery.Discovery.stats>`
    again for fresh figures. The counts start at zero when the discovery is created and
    count the lookups applied to it (a lookup overtaken by a newer one is not counted).

    Attributes:
        name: The name followed (absolute, trailing dot).
        endpoints: How many endpoints are served now.
        refreshes_changed: Refreshes whose answer changed the pods.
        refreshes_unchanged: Refreshes whose answer had the same pods.
        refreshes_empty: Refreshes answered NXDOMAIN or NODATA: no ready pod.
        refreshes_failed: Refreshes that failed; the last good endpoints stayed.
        last_success: When the last good answer (or empty one) came, in seconds of the
            discovery's monotonic ``clock``; ``None`` before the first.
        age: Seconds from ``last_success`` to this snapshot; ``None`` before the first.
        last_error: The error of the most recent lookup (also NXDOMAIN), ``None`` if it
            succeeded.
        failures: Failed refreshes in a row, the most recent included (0 after a success).
        staleness: Seconds since the last good answer while the endpoints served are
            stale (the most recent refresh failed after an earlier success), else 0.0.
        ejected: The endpoints :class:`~headless_discovery.OutlierEjection` keeps out of
            rotation now; empty for other strategies.

    .. versionadded:: 0.1.0
    """

    name: str
    endpoints: int
    refreshes_changed: int
    refreshes_unchanged: int
    refreshes_empty: int
    refreshes_failed: int
    last_success: float | None
    age: float | None
    last_error: Exception | None
    failures: int
    staleness: float
    ejected: frozenset[Endpoint] = frozenset()

    @property
    def refreshes(self) -> int:
        """Refreshes applied, whatever their outcome."""
        return (
            self.refreshes_changed
            + self.refreshes_unchanged
            + self.refreshes_empty
            + self.refreshes_failed
        )


class RefreshState:
    """The snapshot, the failure bookkeeping and the staleness rules of one discovery.

    Args:
        name: The name followed (absolute).
        policy: Refresh schedule and staleness bounds.
        family: The address families asked for.
        stale_policy: What picks do past ``max_stale``.
        empty_is_error: Treat NXDOMAIN/NODATA as a failure rather than "no pods".
        rng: Randomness for jitter and backoff.
        clock: A monotonic clock, for the refresh schedule.

    Raises:
        ConfigurationError: An unknown ``stale_policy``.
    """

    def __init__(
        self,
        name: str,
        policy: RefreshPolicy,
        *,
        family: Family = "any",
        stale_policy: StalePolicy = "serve",
        empty_is_error: bool = False,
        rng: random.Random,
        clock: Callable[[], float],
    ) -> None:
        if stale_policy not in ("serve", "fail"):
            raise ConfigurationError(
                f"stale_policy must be 'serve' or 'fail', not {stale_policy!r}"
            )
        self.name = name
        self.policy = policy
        self.family = family
        self.schedule = RefreshSchedule(policy, rng, clock)
        self.stale_policy = stale_policy
        self.empty_is_error = empty_is_error
        self.snapshot = Resolution(name, ())
        # Why picks cannot succeed right now, as a factory: raising one exception instance
        # again and again would grow its traceback. The factories capture strings, never
        # the state: a cycle would keep a dropped discovery alive until the collector runs.
        self.failure: Callable[[], Exception] | None = partial(
            DiscoveryError,
            f"discovery of {name} is not started: use it in a with-block or call start()",
        )
        self.last_error: Exception | None = None
        self.last_success: float | None = None
        self.failures = 0
        self.stale_warned = False
        self.started = False
        self.closed = False
        self.issued = 0
        self.applied = 0
        # Refreshes applied, by outcome: what stats() reports.
        self.outcomes: dict[str, int] = dict.fromkeys(_OUTCOMES, 0)

    # -- life cycle ------------------------------------------------------------------------

    def start(self) -> bool:
        """Mark the discovery started; ``False`` if it was already.

        Raises:
            DiscoveryError: It is closed.
        """
        if self.closed:
            raise self.closed_error()
        if self.started:
            return False
        self.started = True
        self.failure = None
        return True

    def close(self) -> bool:
        """Mark the discovery closed; ``False`` if it was already."""
        if self.closed:
            return False
        self.closed = True
        self.failure = partial(DiscoveryError, f"discovery of {self.name} is closed")
        return True

    def closed_error(self) -> DiscoveryError:
        """The error of using a closed discovery."""
        return DiscoveryError(f"discovery of {self.name} is closed")

    def begin(self) -> Ticket:
        """Number a lookup as it begins, so that outcomes are applied in order, and choose
        the families it asks."""
        self.issued += 1
        return Ticket(self.issued, self.schedule.family(self.family))

    # -- folding outcomes ------------------------------------------------------------------

    def raises(self, outcome: Resolution | Exception) -> bool:
        """Whether an explicit ``refresh()`` should raise this outcome."""
        return isinstance(outcome, Exception) and (
            self.empty_is_error or not isinstance(outcome, NoEndpointsError)
        )

    def apply(self, outcome: Resolution | Exception, ticket: Ticket, now: float) -> Applied:
        """Fold the outcome of the lookup of ``ticket``, finished at ``now``, into the
        state."""
        old = self.snapshot
        seq = ticket.seq
        if self.closed:
            return Applied(self.policy.max_interval, old, old)
        if seq < self.applied:
            # wait_for() or refresh() and the refresher looked up at once, and the older
            # lookup finished last: its answer is not news.
            return Applied(self.policy.min_interval, old, old)
        self.applied = seq
        if isinstance(outcome, Resolution):
            delay, events = self._on_answer(outcome, ticket.family, now)
        elif isinstance(outcome, NoEndpointsError) and not self.empty_is_error:
            delay, events = self._on_empty(outcome, now)
        else:
            delay, events = self._on_failure(outcome, now)
        for event in events:
            if isinstance(event, RefreshFinished):
                self.outcomes[event.outcome] += 1
        new = self.snapshot
        changed = _change(self.name, old, new) if new is not old else None
        if changed is not None:
            events = (changed, *events)
        return Applied(delay, old, new, changed, events)

    def _on_answer(
        self, result: Resolution, asked: Family, now: float
    ) -> tuple[float, tuple[Event, ...]]:
        old = self.snapshot.endpoints
        outcome: Literal["changed", "unchanged"] = "unchanged"
        if result.endpoints is not old and set(result.endpoints) != set(old):
            self.snapshot = result
            outcome = "changed"
        self.last_success = now
        self.last_error = None
        self.failures = 0
        self.stale_warned = False
        self.failure = None
        seen = frozenset("ipv6" if ":" in ep.address else "ipv4" for ep in result.endpoints)
        delay = self.schedule.answered(result.ttl, asked, seen)
        return delay, (RefreshFinished(self.name, outcome, len(self.snapshot)),)

    def _on_empty(self, error: NoEndpointsError, now: float) -> tuple[float, tuple[Event, ...]]:
        # Cluster DNS answers NXDOMAIN when no pod is ready: that is a change to an empty set.
        if self.snapshot:
            self.snapshot = Resolution(self.name, (), None, error.nameserver)
        self.last_success = now
        self.last_error = error
        self.failures = 0
        self.failure = None
        delay = self.schedule.empty()
        return delay, (RefreshFinished(self.name, "empty", 0, error),)

    def _on_failure(self, error: Exception, now: float) -> tuple[float, tuple[Event, ...]]:
        self.failures += 1
        self.last_error = error
        delay = self.schedule.failed(self.failures)
        served = len(self.snapshot)
        if self.last_success is None:
            name, message = (
                self.name,
                f"no endpoints of {self.name} yet: the lookup failed: {error}",
            )
            self.failure = lambda: NoEndpointsError(message, name=name)
            return delay, (RefreshFinished(self.name, "failed", served, error),)
        age = now - self.last_success
        remaining = self.policy.max_stale - age
        refreshed = RefreshFinished(self.name, "failed", served, error, stale=True)
        if remaining > 0:
            stale = StaleServed(
                self.name, age, error, served, self.failures, first=self.failures == 1
            )
            # Wake up at the staleness deadline even if the backoff is longer.
            return min(delay, remaining), (refreshed, stale)
        if self.stale_policy == "fail":
            message = (
                f"the endpoints of {self.name} are {age:.0f} s old, past max_stale "
                f"({self.policy.max_stale:.0f} s): the lookups keep failing: {error}"
            )
            name = self.name
            self.failure = lambda: StaleEndpointsError(message, name=name)
        first = not self.stale_warned
        self.stale_warned = True
        stale = StaleServed(self.name, age, error, served, self.failures, expired=True, first=first)
        return delay, (refreshed, stale)

    # -- reading ---------------------------------------------------------------------------

    def age(self, now: float) -> float | None:
        """Seconds since the last good answer, ``None`` before the first."""
        return None if self.last_success is None else now - self.last_success

    def stats(self, now: float, ejected: frozenset[Endpoint] = frozenset()) -> DiscoveryStats:
        """The figures at ``now``, with the endpoints the strategy has ``ejected``."""
        age = self.age(now)
        outcomes = self.outcomes
        return DiscoveryStats(
            name=self.name,
            endpoints=len(self.snapshot),
            refreshes_changed=outcomes["changed"],
            refreshes_unchanged=outcomes["unchanged"],
            refreshes_empty=outcomes["empty"],
            refreshes_failed=outcomes["failed"],
            last_success=self.last_success,
            age=age,
            last_error=self.last_error,
            failures=self.failures,
            # Stale exactly when a StaleServed event was (or would be) emitted.
            staleness=age if age is not None and self.failures else 0.0,
            ejected=ejected,
        )

    def progress(self, wanted: int) -> tuple[bool, str]:
        """Whether ``wanted`` endpoints are known, and what was seen if not."""
        snapshot = self.snapshot
        if len(snapshot) >= wanted:
            return True, ""
        why = f"last lookup: {self.last_error}" if self.last_error else "the answer was short"
        return False, f"have {len(snapshot)} of {wanted} endpoints ({why})"


def _change(name: str, old: Resolution, new: Resolution) -> EndpointsChanged | None:
    before = {_identity(ep) for ep in old.endpoints}
    after = {_identity(ep) for ep in new.endpoints}
    added = tuple(ep for ep in new.endpoints if _identity(ep) not in before)
    removed = tuple(ep for ep in old.endpoints if _identity(ep) not in after)
    if not added and not removed:
        return None
    return EndpointsChanged(name, added, removed, new)


class Waiter:
    """The decisions of ``wait_for``: the deadline, the backoff between lookups, progress
    reports and the error at the end. The sync and async drivers only wait.

    Raises:
        ConfigurationError: ``wanted`` is below 1 or ``timeout`` negative.
    """

    def __init__(self, state: RefreshState, wanted: int, timeout: float, now: float) -> None:
        if not isinstance(wanted, int) or isinstance(wanted, bool) or wanted < 1:
            raise ConfigurationError(f"wait_for needs a count of at least 1, not {wanted!r}")
        if not timeout >= 0:
            raise ConfigurationError("wait_for needs a timeout >= 0 seconds")
        if state.closed:
            raise state.closed_error()
        self._state = state
        self.wanted = wanted
        self.timeout = timeout
        self._deadline = now + timeout
        self._next_report = now + _WAIT_LOG_EVERY
        self._attempt = 0

    def step(self, now: float) -> tuple[float | None, str | None]:
        """What to do at ``now``: ``(None, None)`` when enough endpoints are known, else
        the seconds to wait before the next lookup and a progress line to log, if due.

        Raises:
            WaitTimeoutError: The deadline passed with too few endpoints.
        """
        done, seen = self._state.progress(self.wanted)
        if done:
            return None, None
        if now >= self._deadline:
            raise self._error(seen)
        report = None
        if now >= self._next_report:
            report = seen
            self._next_report = now + _WAIT_LOG_EVERY
        delay = min(
            self._deadline - now,
            _WAIT_BACKOFF_START * 2.0 ** min(self._attempt, 16),
            _WAIT_BACKOFF_MAX,
        )
        self._attempt += 1
        return delay, report

    def _error(self, seen: str) -> WaitTimeoutError:
        name, wanted = self._state.name, self.wanted
        plural = "" if wanted == 1 else "s"
        return WaitTimeoutError(
            f"gave up after {self.timeout:g} s waiting for {wanted} endpoint{plural} of "
            f"{name}: {seen}. "
            "Check the Service name and namespace (kubectl get svc -n <namespace>), that it is "
            "headless (clusterIP: None), that its pods are ready (kubectl get pods), and set "
            "publishNotReadyAddresses: true if peers must find each other before they are ready",
            name=name,
            wanted=wanted,
            seen=len(self._state.snapshot),
        )
