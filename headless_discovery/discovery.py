"""Long-lived discovery: endpoints that follow the cluster, refreshed in the background.

:class:`Discovery` (threads) and :class:`AsyncDiscovery` (asyncio) share every decision: what
to resolve (:mod:`headless_discovery.plan`), how an answer or a failure changes the snapshot,
when to refresh next and what picks do while DNS is failing
(:mod:`headless_discovery.state`, pure). Only the loops that wait on I/O are written twice,
side by side. ``pick()`` never does I/O: it reads the current immutable snapshot, which the
refresher replaces (never mutates) when the set of pods changes.
"""

from __future__ import annotations

import atexit
import logging
import os
import random
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, suppress
from typing import TYPE_CHECKING, TypedDict

from .endpoints import Endpoint, Family, Resolution
from .environment import PodEnvironment
from .errors import ConfigurationError, DiscoveryError, NoEndpointsError
from .instrumentation import Hook, _check_hooks, _emit
from .lookup import _default_async_resolver, _default_resolver, arun, run
from .mongo import HostsFrom, MongoOptions, MongoUriParts
from .names import ServiceName, SrvProtocol
from .plan import LookupPlan, ResultBuilder, plan_dns_name, plan_service, service_name
from .refresh import RefreshPolicy
from .resolvers import AsyncResolver, Resolver
from .state import Applied, DiscoveryStats, RefreshState, StalePolicy, Ticket, Waiter
from .strategies import (
    FailureTracking,
    OutlierEjection,
    Preparing,
    PreparingInSlices,
    Strategy,
    acquire,
    strategy_from_name,
)
from .trust import Network

if TYPE_CHECKING:
    import asyncio

    from typing_extensions import Unpack

__all__ = ["AsyncDiscovery", "ChangeCallback", "Discovery", "DiscoveryOptions", "StalePolicy"]

logger = logging.getLogger("headless_discovery")

#: Called after each change with ``(added, removed, snapshot)``.
ChangeCallback = Callable[[tuple[Endpoint, ...], tuple[Endpoint, ...], Resolution], None]

_JOIN_TIMEOUT = 10.0


class DiscoveryOptions(TypedDict, total=False):
    """The keyword arguments :class:`Discovery` and :class:`AsyncDiscovery` share.

    .. versionadded:: 0.1.0
    """

    namespace: str | None
    cluster_domain: str | None
    dns_name: str | None
    port: int | None
    srv: str | None
    protocol: SrvProtocol
    family: Family
    strategy: Strategy | str
    refresh: RefreshPolicy | None
    stale_policy: StalePolicy
    empty_is_error: bool
    environment: PodEnvironment | None
    allowed_networks: Iterable[str | Network] | None
    rng: random.Random | None
    clock: Callable[[], float]
    hooks: Iterable[Hook] | None


class _DiscoveryBase:
    """What both drivers share: configuration, the lock around the pure
    :class:`~headless_discovery.state.RefreshState`, the hot path, subscribers and events.
    No waiting on I/O here."""

    _resolver: Resolver | AsyncResolver

    def __init__(
        self,
        service: ServiceName | str | None = None,
        *,
        namespace: str | None = None,
        cluster_domain: str | None = None,
        dns_name: str | None = None,
        port: int | None = None,
        srv: str | None = None,
        protocol: SrvProtocol = "tcp",
        family: Family = "any",
        strategy: Strategy | str = "round_robin",
        refresh: RefreshPolicy | None = None,
        stale_policy: StalePolicy = "serve",
        empty_is_error: bool = False,
        environment: PodEnvironment | None = None,
        allowed_networks: Iterable[str | Network] | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
        hooks: Iterable[Hook] | None = None,
    ) -> None:
        if (service is None) == (dns_name is None):
            raise ConfigurationError("give either a Service (name or ServiceName) or dns_name=")
        if dns_name is not None:
            if namespace is not None or cluster_domain is not None or srv is not None:
                raise ConfigurationError(
                    "dns_name= is a plain DNS name: namespace, cluster_domain and srv do not apply"
                )
            self._plan = plan_dns_name(
                dns_name, port=port, family=family, allowed_networks=allowed_networks
            )
        else:
            assert service is not None
            svc = service_name(
                service,
                namespace=namespace,
                cluster_domain=cluster_domain,
                environment=environment,
            )
            self._plan = plan_service(
                svc,
                port=port,
                srv=srv,
                protocol=protocol,
                family=family,
                allowed_networks=allowed_networks,
            )
        self._builder = ResultBuilder(self._plan)
        self._strategy: Strategy = (
            strategy_from_name(strategy) if isinstance(strategy, str) else strategy
        )
        if not isinstance(self._strategy, Strategy):
            raise ConfigurationError(f"{strategy!r} is not a strategy: it has no pick() method")
        # Checked once: a runtime protocol check costs microseconds, more than a report.
        self._tracker: FailureTracking | None = (
            self._strategy if isinstance(self._strategy, FailureTracking) else None
        )
        self._hooks = _check_hooks(hooks)
        self._state = RefreshState(
            self._plan.qname,
            refresh if refresh is not None else RefreshPolicy(),
            family=self._plan.family,
            stale_policy=stale_policy,
            empty_is_error=empty_is_error,
            rng=rng if rng is not None else random.Random(),
            clock=clock,
        )
        self._clock = clock
        self._lock = threading.Lock()  # guards state changes; picks never take it
        self._subscribers: list[ChangeCallback] = []

    # -- reading: the hot path -------------------------------------------------------------

    @property
    def name(self) -> str:
        """The DNS name being followed (absolute, with trailing dot)."""
        return self._plan.qname

    @property
    def service(self) -> ServiceName | None:
        """The Service followed; ``None`` for a plain ``dns_name=``."""
        return self._plan.service

    @property
    def endpoints(self) -> Resolution:
        """The current snapshot: immutable, replaced as a whole when the pods change."""
        return self._state.snapshot

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has been called."""
        return self._state.closed

    @property
    def last_error(self) -> Exception | None:
        """The error of the most recent lookup, or ``None`` if it succeeded."""
        return self._state.last_error

    def stats(self) -> DiscoveryStats:
        """How this discovery is doing now: endpoints, refreshes by outcome, the last
        success and its age, the last error, staleness and ejected endpoints.

        A frozen snapshot for applications without a metrics stack (with one, see
        :class:`~headless_discovery.integrations.opentelemetry.OpenTelemetryHook`). Never
        does I/O::

            figures = pods.stats()
            if figures.staleness > 60:
                log.warning("endpoints of %s are %.0f s old", figures.name, figures.staleness)

        .. versionadded:: 0.1.0
        """
        strategy = self._strategy
        ejected = strategy.ejected if isinstance(strategy, OutlierEjection) else frozenset()
        now = self._clock()
        with self._lock:
            return self._state.stats(now, ejected)

    def pick(self, key: str | None = None) -> Endpoint:
        """Choose an endpoint of the current snapshot with the strategy. Never does I/O.

        Raises:
            NoEndpointsError: No endpoint is known (no ready pod, or not resolved yet).
            StaleEndpointsError: Lookups failed for longer than ``max_stale`` and the stale
                policy is ``"fail"``.
            DiscoveryError: The discovery is not started or already closed.
        """
        state = self._state
        failure = state.failure
        if failure is not None:
            raise failure()
        return self._strategy.pick(state.snapshot.endpoints, key)

    def acquire(self, key: str | None = None) -> AbstractContextManager[Endpoint]:
        """Pick an endpoint and count it as in use until the block exits (also on errors).

        Strategies that balance on in-flight requests (``least_outstanding``) see the
        count; for the others this is :meth:`pick` in a ``with`` block::

            with pods.acquire() as endpoint:
                send(endpoint)

        Raises:
            NoEndpointsError: As :meth:`pick`.
        """
        state = self._state
        failure = state.failure
        if failure is not None:
            raise failure()
        return acquire(self._strategy, state.snapshot.endpoints, key)

    def report_failure(self, endpoint: Endpoint) -> None:
        """Tell the strategy a request to ``endpoint`` failed (used by outlier ejection)."""
        tracker = self._tracker
        if tracker is not None:
            tracker.report_failure(endpoint)

    def report_success(self, endpoint: Endpoint) -> None:
        """Tell the strategy a request to ``endpoint`` succeeded."""
        tracker = self._tracker
        if tracker is not None:
            tracker.report_success(endpoint)

    def subscribe(self, callback: ChangeCallback) -> Callable[[], None]:
        """Call ``callback(added, removed, snapshot)`` after each change of the endpoints.

        Callbacks run on the refresher (thread or task); one that raises is logged and does
        not stop the refresher or the other callbacks.

        Returns:
            A function that unsubscribes the callback.
        """
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def mongo_uri(self, *, hosts: HostsFrom | None = None, **parts: Unpack[MongoUriParts]) -> str:
        """The MongoDB seed-list URI of the current snapshot (see :func:`build_mongo_uri`).

        ``hosts`` defaults to ``"hostname"`` when following SRV records, else ``"ip"``.

        Raises:
            NoEndpointsError: No endpoint is known.
            ConfigurationError: Options pymongo would refuse.
        """
        state = self._state
        failure = state.failure
        if failure is not None:
            raise failure()
        snapshot = state.snapshot
        if not snapshot:
            raise NoEndpointsError(
                f"{self.name} has no endpoints now: no MongoDB member to list",
                name=self.name,
            )
        return MongoOptions(**parts).seed_uri(
            snapshot, hosts=hosts or ("hostname" if self._plan.srv else "ip")
        )

    # -- applying outcomes: the lock around the pure state, then the news ------------------

    def _begin(self) -> tuple[Ticket, LookupPlan]:
        with self._lock:
            ticket = self._state.begin()
        return ticket, self._plan.with_family(ticket.family)

    def _fold(
        self, outcome: Resolution | Exception, ticket: Ticket
    ) -> tuple[Applied, tuple[ChangeCallback, ...]]:
        now = self._clock()
        with self._lock:
            applied = self._state.apply(outcome, ticket, now)
            subscribers = tuple(self._subscribers) if applied.changed is not None else ()
        return applied, subscribers

    def _announce(self, applied: Applied, subscribers: tuple[ChangeCallback, ...]) -> float:
        """Tell subscribers and hooks what changed; return the delay to the next lookup."""
        change = applied.changed
        if change is not None:
            for callback in subscribers:
                try:
                    callback(change.added, change.removed, change.endpoints)
                except Exception:
                    logger.exception("a subscriber of %s raised; the others still run", self.name)
        for event in applied.events:
            _emit(event, self._hooks)
        return applied.delay

    def _prepare_failed(self) -> None:
        logger.exception("the strategy of %s failed to prepare a new snapshot", self.name)

    def _mark_closed(self) -> bool:
        with self._lock:
            return self._state.close()

    def __repr__(self) -> str:
        state = self._state
        status = "closed" if state.closed else "running" if state.started else "new"
        return (
            f"<{type(self).__name__} {self.name} {status}, {len(state.snapshot)} endpoints, "
            f"strategy={self._strategy!r}>"
        )


# -- the threaded driver -------------------------------------------------------------------

_LIVE: weakref.WeakSet[Discovery] = weakref.WeakSet()


class Discovery(_DiscoveryBase):
    """Follow a headless Service for the life of the process, with a background thread.

    Args:
        service: The Service: a :class:`ServiceName`, a bare name with ``namespace``, or a
            string in any accepted form. Leave out and give ``dns_name`` for a plain DNS
            name outside Kubernetes.
        namespace: Its namespace (detected when ``None``).
        cluster_domain: The cluster domain (detected when ``None``).
        dns_name: A plain DNS name with many address records, instead of ``service``.
        port: The port of every endpoint (address lookups).
        srv: Follow the SRV records of this port name instead (hostnames and ports).
        protocol: The SRV protocol.
        family: ``"any"``, ``"ipv4"`` or ``"ipv6"``.
        strategy: A :class:`Strategy` or the name of a built-in one.
        resolver: Where records come from; :class:`DnsResolver` from resolv.conf when
            ``None``.
        refresh: Refresh schedule and staleness bounds (:class:`RefreshPolicy`).
        stale_policy: Once lookups have failed for longer than ``refresh.max_stale``:
            ``"serve"`` keeps serving the last endpoints with a warning, ``"fail"`` makes
            picks raise :class:`StaleEndpointsError`.
        empty_is_error: Treat NXDOMAIN/NODATA as a failed lookup (keep the last endpoints)
            instead of a change to no endpoints.
        environment: Completes short names; detected when ``None``.
        allowed_networks: CIDRs addresses must lie in; others are dropped and logged, and
            an answer with nothing left counts as a failed lookup (the last good endpoints
            stay).
        rng: Randomness for jitter and backoff.
        clock: A monotonic clock (seconds).
        hooks: Instrumentation hooks for this discovery only (see
            :mod:`headless_discovery.instrumentation`): every lookup, refresh, change and
            stale period as an event.

    Example::

        with Discovery("api-headless", namespace="shop", port=8080) as pods:
            pods.wait_for(3, timeout=60)
            endpoint = pods.pick()

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        service: ServiceName | str | None = None,
        *,
        resolver: Resolver | None = None,
        **kwargs: Unpack[DiscoveryOptions],
    ) -> None:
        super().__init__(service, **kwargs)
        self._resolver: Resolver = resolver if resolver is not None else _default_resolver()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def _lookup(self) -> tuple[Resolution | Exception, Ticket]:
        ticket, plan = self._begin()
        try:
            return run(plan, self._resolver, self._builder, hooks=self._hooks), ticket
        except DiscoveryError as exc:
            return exc, ticket

    def _apply(self, outcome: Resolution | Exception, ticket: Ticket) -> float:
        applied, subscribers = self._fold(outcome, ticket)
        if applied.new is not applied.old and applied.new:
            # A hash ring of a thousand pods is built here, on the refresher, not in the
            # first request after the change.
            try:
                if isinstance(self._strategy, Preparing):
                    self._strategy.prepare(applied.new.endpoints)
            except Exception:
                self._prepare_failed()
        return self._announce(applied, subscribers)

    def start(self) -> Discovery:
        """Resolve once (in this thread), then keep refreshing in a background thread.

        A failed first lookup is not raised: use :meth:`wait_for` to gate start-up.
        Idempotent.

        Raises:
            DiscoveryError: The discovery is closed.
        """
        with self._lock:
            if not self._state.start():
                return self
        delay = self._apply(*self._lookup())
        with self._lock:
            # close() may have run while the first lookup did: then no thread at all.
            if not self._state.closed:
                self._spawn(delay)
        return self

    def _spawn(self, delay: float) -> None:
        # The thread holds only a weak reference: dropping the Discovery ends the thread.
        self._thread = threading.Thread(
            target=_refresher,
            args=(weakref.ref(self), self._stop, delay),
            name=f"headless-discovery {self.name}",
            daemon=True,
        )
        weakref.finalize(self, self._stop.set)
        _LIVE.add(self)
        self._thread.start()

    def refresh(self) -> Resolution:
        """Look up now, in this thread, and return the new snapshot.

        Raises:
            ResolutionError: The lookup failed (the snapshot is kept, as in the background).
        """
        outcome, ticket = self._lookup()
        self._apply(outcome, ticket)
        if isinstance(outcome, Exception) and self._state.raises(outcome):
            raise outcome
        return self._state.snapshot

    def wait_for(self, count: int = 1, timeout: float = 60.0) -> Resolution:
        """Block until at least ``count`` endpoints are known: the start-up gate.

        Looks up again with backoff while waiting and logs progress (how many, and why not
        more) under the ``headless_discovery`` logger.

        Raises:
            WaitTimeoutError: Fewer endpoints after ``timeout`` seconds; the message says
                what was seen last and what to check.
            ConfigurationError: ``count`` is below 1 or ``timeout`` negative.
            DiscoveryError: The discovery is closed, or was closed while waiting.
        """
        waiter = Waiter(self._state, count, timeout, self._clock())
        self.start()
        while True:
            delay, report = waiter.step(self._clock())
            if delay is None:
                return self._state.snapshot
            if report is not None:
                logger.info("waiting for %s: %s", self.name, report)
            if self._stop.wait(delay):
                raise self._state.closed_error()
            self._apply(*self._lookup())

    def close(self) -> None:
        """Stop the refresher and wait for it; picks raise afterwards. Idempotent."""
        if not self._mark_closed():
            return
        self._stop.set()
        thread = self._thread
        # ident is None when an interrupt (Ctrl-C) came between creating and starting it.
        if (
            thread is not None
            and thread.ident is not None
            and thread is not threading.current_thread()
        ):
            thread.join(_JOIN_TIMEOUT)
        _LIVE.discard(self)

    def __enter__(self) -> Discovery:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _after_fork(self) -> None:
        # The parent's thread does not exist here and its lock may be held: start afresh.
        self._lock = threading.Lock()
        self._stop = threading.Event()
        if self._state.started and not self._state.closed:
            self._spawn(0.0)


def _refresher(ref: weakref.ref[Discovery], stop: threading.Event, delay: float) -> None:
    while not stop.wait(delay):
        discovery = ref()
        if discovery is None or discovery.closed:
            return
        delay = discovery._apply(*discovery._lookup())
        del discovery


def _after_fork_in_child() -> None:
    for discovery in list(_LIVE):
        discovery._after_fork()


def _stop_all_at_exit() -> None:
    for discovery in list(_LIVE):
        discovery._stop.set()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_stop_all_at_exit)


# -- the asyncio driver --------------------------------------------------------------------


class AsyncDiscovery(_DiscoveryBase):
    """The asyncio twin of :class:`Discovery`: a background task instead of a thread.

    Same arguments, with an :class:`AsyncResolver` (default :class:`AsyncDnsResolver`).
    ``pick()`` stays synchronous; ``start``, ``refresh``, ``wait_for`` and ``close`` are
    coroutines.

    Example::

        async with AsyncDiscovery("api-headless", namespace="shop", port=8080) as pods:
            await pods.wait_for(3, timeout=60)
            endpoint = pods.pick()

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        service: ServiceName | str | None = None,
        *,
        resolver: AsyncResolver | None = None,
        **kwargs: Unpack[DiscoveryOptions],
    ) -> None:
        super().__init__(service, **kwargs)
        self._resolver: AsyncResolver = (
            resolver if resolver is not None else _default_async_resolver()
        )
        self._task: asyncio.Task[None] | None = None
        self._closing: asyncio.Event | None = None

    async def _lookup(self) -> tuple[Resolution | Exception, Ticket]:
        ticket, plan = self._begin()
        try:
            return await arun(plan, self._resolver, self._builder, hooks=self._hooks), ticket
        except DiscoveryError as exc:
            return exc, ticket

    async def _apply(self, outcome: Resolution | Exception, ticket: Ticket) -> float:
        import asyncio

        applied, subscribers = self._fold(outcome, ticket)
        if applied.new is not applied.old and applied.new:
            # Mirrors Discovery._apply; a large table is built in slices, so the event
            # loop runs other tasks in between.
            try:
                if isinstance(self._strategy, PreparingInSlices):
                    for _ in self._strategy.prepare_in_slices(applied.new.endpoints):
                        await asyncio.sleep(0)
                elif isinstance(self._strategy, Preparing):
                    self._strategy.prepare(applied.new.endpoints)
            except Exception:
                self._prepare_failed()
        return self._announce(applied, subscribers)

    async def start(self) -> AsyncDiscovery:
        """Resolve once, then keep refreshing in a background task. Idempotent.

        Raises:
            DiscoveryError: The discovery is closed.
        """
        import asyncio

        with self._lock:
            if not self._state.start():
                return self
        self._closing = asyncio.Event()
        delay = await self._apply(*await self._lookup())
        if self.closed:  # close() ran while the first lookup did: no task at all
            return self
        # The task holds only a weak reference: dropping the discovery ends the task.
        self._task = asyncio.create_task(
            _arefresher(weakref.ref(self), delay),
            name=f"headless-discovery {self.name}",
        )
        return self

    async def refresh(self) -> Resolution:
        """Look up now and return the new snapshot.

        Raises:
            ResolutionError: The lookup failed (the snapshot is kept, as in the background).
        """
        outcome, ticket = await self._lookup()
        await self._apply(outcome, ticket)
        if isinstance(outcome, Exception) and self._state.raises(outcome):
            raise outcome
        return self._state.snapshot

    async def wait_for(self, count: int = 1, timeout: float = 60.0) -> Resolution:
        """Wait until at least ``count`` endpoints are known: the start-up gate.

        Raises:
            WaitTimeoutError: Fewer endpoints after ``timeout`` seconds; the message says
                what was seen last and what to check.
            ConfigurationError: ``count`` is below 1 or ``timeout`` negative.
            DiscoveryError: The discovery is closed, or was closed while waiting.
        """
        import asyncio

        waiter = Waiter(self._state, count, timeout, self._clock())
        await self.start()
        while True:
            delay, report = waiter.step(self._clock())
            if delay is None:
                return self._state.snapshot
            if report is not None:
                logger.info("waiting for %s: %s", self.name, report)
            # Mirrors Discovery.wait_for: close() ends the wait at once.
            closing = self._closing
            if closing is None or closing.is_set():
                raise self._state.closed_error()
            with suppress(asyncio.TimeoutError):
                await asyncio.wait_for(closing.wait(), delay)
                raise self._state.closed_error()
            await self._apply(*await self._lookup())

    async def close(self) -> None:
        """Cancel the refresher task and wait for it; picks raise afterwards. Idempotent."""
        import asyncio

        if not self._mark_closed():
            return
        if self._closing is not None:
            self._closing.set()
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

    async def __aenter__(self) -> AsyncDiscovery:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


async def _arefresher(ref: weakref.ref[AsyncDiscovery], delay: float) -> None:
    import asyncio

    while True:
        await asyncio.sleep(delay)
        discovery = ref()
        if discovery is None or discovery.closed:
            return
        delay = await discovery._apply(*await discovery._lookup())
        del discovery
