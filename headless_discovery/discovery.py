"""Long-lived discovery: endpoints that follow the cluster, refreshed in the background.

:class:`Discovery` (threads) and :class:`AsyncDiscovery` (asyncio) share every decision in
:class:`_DiscoveryCore`: what to resolve, how an answer or a failure changes the snapshot,
when to refresh next, what picks do while DNS is failing. Only the loops that wait on I/O are
written twice, side by side. ``pick()`` never does I/O: it reads the current immutable
snapshot, which the refresher replaces (never mutates) when the set of pods changes.
"""

from __future__ import annotations

import atexit
import logging
import os
import random
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager, suppress
from functools import partial
from typing import TYPE_CHECKING, Literal, TypedDict

from .endpoints import Endpoint, Family, Resolution
from .environment import PodEnvironment
from .errors import (
    ConfigurationError,
    DiscoveryError,
    NoEndpointsError,
    ResolutionError,
    ResolverUnavailableError,
    StaleEndpointsError,
    WaitTimeoutError,
)
from .lookup import _plan, _plan_dns_name, service_name
from .mongo import HostsFrom, OptionValue, build_mongo_uri
from .names import ServiceName, SrvProtocol
from .refresh import RefreshPolicy
from .resolvers import AsyncResolver, DnsResolver, Resolver
from .strategies import Strategy, acquire, strategy_from_name
from .trust import Network

if TYPE_CHECKING:
    import asyncio

    from typing_extensions import Unpack

__all__ = ["AsyncDiscovery", "ChangeCallback", "Discovery", "DiscoveryOptions", "StalePolicy"]

logger = logging.getLogger("headless_discovery")

#: Called after each change with ``(added, removed, snapshot)``.
ChangeCallback = Callable[[tuple[Endpoint, ...], tuple[Endpoint, ...], Resolution], None]
#: What picks do once lookups have failed for longer than ``max_stale``.
StalePolicy = Literal["serve", "fail"]

_WAIT_BACKOFF_START = 0.1
_WAIT_BACKOFF_MAX = 2.0
_WAIT_LOG_EVERY = 5.0
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


class _DiscoveryCore:
    """Configuration, state and every state transition; no waiting on I/O."""

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
    ) -> None:
        if (service is None) == (dns_name is None):
            raise ConfigurationError("give either a Service (name or ServiceName) or dns_name=")
        if dns_name is not None:
            if namespace is not None or cluster_domain is not None or srv is not None:
                raise ConfigurationError(
                    "dns_name= is a plain DNS name: namespace, cluster_domain and srv do not apply"
                )
            self._query = _plan_dns_name(
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
            self._query = _plan(
                svc,
                port=port,
                srv=srv,
                protocol=protocol,
                family=family,
                environment=None,
                allowed_networks=allowed_networks,
            )
        if stale_policy not in ("serve", "fail"):
            raise ConfigurationError(
                f"stale_policy must be 'serve' or 'fail', not {stale_policy!r}"
            )
        self._strategy: Strategy = (
            strategy_from_name(strategy) if isinstance(strategy, str) else strategy
        )
        if not callable(getattr(self._strategy, "pick", None)):
            raise ConfigurationError(f"{strategy!r} is not a strategy: it has no pick() method")
        self._policy = refresh if refresh is not None else RefreshPolicy()
        self._stale_policy = stale_policy
        self._empty_is_error = empty_is_error
        self._rng = rng if rng is not None else random.Random()
        self._clock = clock
        self._lock = threading.Lock()  # guards state changes; picks never take it
        self._subscribers: list[ChangeCallback] = []
        self._snapshot = Resolution(self._query.qname, ())
        # Why picks cannot succeed right now, as a factory: raising one exception instance
        # again and again would grow its traceback.
        self._failure: Callable[[], Exception] | None = partial(
            DiscoveryError,
            f"discovery of {self.name} is not started: use it in a with-block or call start()",
        )
        self._last_error: Exception | None = None
        self._last_success: float | None = None
        self._failures = 0
        self._stale_warned = False
        self._started = False
        self._closed = False
        self._issued = self._applied = 0

    # -- reading: the hot path -------------------------------------------------------------

    @property
    def name(self) -> str:
        """The DNS name being followed (absolute, with trailing dot)."""
        return self._query.qname

    @property
    def endpoints(self) -> Resolution:
        """The current snapshot: immutable, replaced as a whole when the pods change."""
        return self._snapshot

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has been called."""
        return self._closed

    @property
    def last_error(self) -> Exception | None:
        """The error of the most recent lookup, or ``None`` if it succeeded."""
        return self._last_error

    def pick(self, key: str | None = None) -> Endpoint:
        """Choose an endpoint of the current snapshot with the strategy. Never does I/O.

        Raises:
            NoEndpointsError: No endpoint is known (no ready pod, or not resolved yet).
            StaleEndpointsError: Lookups failed for longer than ``max_stale`` and the stale
                policy is ``"fail"``.
            DiscoveryError: The discovery is not started or already closed.
        """
        failure = self._failure
        if failure is not None:
            raise failure()
        return self._strategy.pick(self._snapshot.endpoints, key)

    def acquire(self, key: str | None = None) -> AbstractContextManager[Endpoint]:
        """Pick an endpoint and count it as in use until the block exits (also on errors).

        Strategies that balance on in-flight requests (``least_outstanding``) see the
        count; for the others this is :meth:`pick` in a ``with`` block::

            with pods.acquire() as endpoint:
                send(endpoint)

        Raises:
            NoEndpointsError: As :meth:`pick`.
        """
        failure = self._failure
        if failure is not None:
            raise failure()
        return acquire(self._strategy, self._snapshot.endpoints, key)

    def report_failure(self, endpoint: Endpoint) -> None:
        """Tell the strategy a request to ``endpoint`` failed (used by outlier ejection)."""
        report = getattr(self._strategy, "report_failure", None)
        if report is not None:
            report(endpoint)

    def report_success(self, endpoint: Endpoint) -> None:
        """Tell the strategy a request to ``endpoint`` succeeded."""
        report = getattr(self._strategy, "report_success", None)
        if report is not None:
            report(endpoint)

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

    def mongo_uri(
        self,
        *,
        hosts: HostsFrom | None = None,
        replica_set: str | None = None,
        username: str | None = None,
        password: str | None = None,
        database: str | None = None,
        options: Mapping[str, OptionValue] | None = None,
    ) -> str:
        """The MongoDB seed-list URI of the current snapshot (see :func:`build_mongo_uri`).

        ``hosts`` defaults to ``"hostname"`` when following SRV records, else ``"ip"``.

        Raises:
            NoEndpointsError: No endpoint is known.
            ConfigurationError: Options pymongo would refuse.
        """
        failure = self._failure
        if failure is not None:
            raise failure()
        snapshot = self._snapshot
        if not snapshot:
            raise NoEndpointsError(
                f"{self.name} has no endpoints now: no MongoDB member to list",
                name=self.name,
            )
        return build_mongo_uri(
            snapshot,
            hosts=hosts or ("hostname" if self._query.srv else "ip"),
            replica_set=replica_set,
            username=username,
            password=password,
            database=database,
            options=options,
        )

    # -- state transitions, shared by both drivers ------------------------------------------

    def _closed_error(self) -> Exception:
        return DiscoveryError(f"discovery of {self.name} is closed")

    def _next_lookup(self) -> int:
        """Number a lookup as it begins, so that outcomes are applied in order."""
        with self._lock:
            self._issued += 1
            return self._issued

    def _unexpected(self, exc: Exception) -> ResolutionError:
        """A resolver raised something other than our errors (a custom resolver's bug, an
        ``OSError``): a failed lookup, so the refresher and the staleness policy go on."""
        error = ResolverUnavailableError(
            f"the resolver {self._resolver!r} raised {type(exc).__name__}: {exc}",
            name=self.name,
        )
        error.__cause__ = exc
        return error

    def _apply(self, outcome: Resolution | Exception, seq: int) -> float:
        """Fold the outcome of lookup number ``seq`` into the state; return the delay until
        the next lookup."""
        now = self._clock()
        with self._lock:
            if self._closed:
                return self._policy.max_interval
            if seq < self._applied:
                # wait_for() or refresh() and the refresher looked up at once, and the older
                # lookup finished last: its answer is not news.
                return self._policy.min_interval
            self._applied = seq
            old = self._snapshot
            if isinstance(outcome, Resolution):
                delay = self._on_answer(outcome, now)
            elif isinstance(outcome, NoEndpointsError) and not self._empty_is_error:
                delay = self._on_empty(outcome, now)
            else:
                delay = self._on_failure(outcome, now)
            new = self._snapshot
            subscribers = tuple(self._subscribers) if new is not old else ()
        if new is not old:
            self._prepare(new)
        if subscribers:
            self._notify(subscribers, old, new)
        return delay

    def _prepare(self, snapshot: Resolution) -> None:
        # A hash ring of a thousand pods takes a third of a second to build: on the
        # refresher, not in the first request after the change.
        prepare = getattr(self._strategy, "prepare", None)
        if prepare is None or not snapshot:
            return
        try:
            prepare(snapshot.endpoints)
        except Exception:
            logger.exception("the strategy of %s failed to prepare a new snapshot", self.name)

    def _on_answer(self, result: Resolution, now: float) -> float:
        old = self._snapshot.endpoints
        if result.endpoints is not old and set(result.endpoints) != set(old):
            self._snapshot = result
        self._last_success = now
        self._last_error = None
        self._failures = 0
        self._stale_warned = False
        self._failure = None
        return self._policy.after_success(result.ttl, self._rng)

    def _on_empty(self, error: NoEndpointsError, now: float) -> float:
        # Cluster DNS answers NXDOMAIN when no pod is ready: that is a change to an empty set.
        if self._snapshot:
            logger.warning("%s has no endpoints now: %s", self.name, error)
            self._snapshot = Resolution(self.name, (), None, error.nameserver)
        self._last_success = now
        self._last_error = error
        self._failures = 0
        self._failure = None
        return self._policy.after_empty(self._rng)

    def _on_failure(self, error: Exception, now: float) -> float:
        self._failures += 1
        self._last_error = error
        delay = self._policy.after_failure(self._failures, self._rng)
        if self._last_success is None:
            name, message = (
                self.name,
                f"no endpoints of {self.name} yet: the lookup failed: {error}",
            )
            # The factory must not capture self: a cycle would keep a dropped discovery
            # (and its thread) alive until the garbage collector runs.
            self._failure = lambda: NoEndpointsError(message, name=name)
            logger.warning("lookup of %s failed (attempt %d): %s", self.name, self._failures, error)
            return delay
        stale_for = now - self._last_success
        remaining = self._policy.max_stale - stale_for
        if remaining > 0:
            logger.warning(
                "lookup of %s failed (attempt %d); serving the last %d endpoints for up to "
                "%.0f s more: %s",
                self.name,
                self._failures,
                len(self._snapshot),
                remaining,
                error,
            )
            # Wake up at the staleness deadline even if the backoff is longer.
            return min(delay, remaining)
        if self._stale_policy == "fail":
            message = (
                f"the endpoints of {self.name} are {stale_for:.0f} s old, past max_stale "
                f"({self._policy.max_stale:.0f} s): the lookups keep failing: {error}"
            )
            name = self.name
            self._failure = lambda: StaleEndpointsError(message, name=name)
        elif not self._stale_warned:
            logger.warning(
                "endpoints of %s are %.0f s old, past max_stale; still serving them: %s",
                self.name,
                stale_for,
                error,
            )
        self._stale_warned = True
        return delay

    def _notify(
        self, subscribers: tuple[ChangeCallback, ...], old: Resolution, new: Resolution
    ) -> None:
        # Pods are compared by where they are, not by SRV weight: CoreDNS gives every pod an
        # even share, so one pod leaving changes every weight without changing the pods.
        before = {_identity(ep) for ep in old.endpoints}
        after = {_identity(ep) for ep in new.endpoints}
        added = tuple(ep for ep in new.endpoints if _identity(ep) not in before)
        removed = tuple(ep for ep in old.endpoints if _identity(ep) not in after)
        if not added and not removed:
            return
        logger.info(
            "%s changed: %d added, %d removed, %d now",
            self.name,
            len(added),
            len(removed),
            len(new),
        )
        for callback in subscribers:
            try:
                callback(added, removed, new)
            except Exception:
                logger.exception("a subscriber of %s raised; the others still run", self.name)

    def _wait_state(self, wanted: int) -> tuple[bool, str]:
        snapshot = self._snapshot
        if len(snapshot) >= wanted:
            return True, ""
        why = f"last lookup: {self._last_error}" if self._last_error else "the answer was short"
        return False, f"have {len(snapshot)} of {wanted} endpoints ({why})"

    def _wait_error(self, wanted: int, timeout: float, seen: str) -> WaitTimeoutError:
        plural = "" if wanted == 1 else "s"
        return WaitTimeoutError(
            f"gave up after {timeout:g} s waiting for {wanted} endpoint{plural} of {self.name}: "
            f"{seen}. "
            "Check the Service name and namespace (kubectl get svc -n <namespace>), that it is "
            "headless (clusterIP: None), that its pods are ready (kubectl get pods), and set "
            "publishNotReadyAddresses: true if peers must find each other before they are ready",
            name=self.name,
            wanted=wanted,
            seen=len(self._snapshot),
        )

    def _check_wait(self, wanted: int, timeout: float) -> None:
        if not isinstance(wanted, int) or wanted < 1:
            raise ConfigurationError(f"wait_for needs a count of at least 1, not {wanted!r}")
        if not timeout >= 0:
            raise ConfigurationError("wait_for needs a timeout >= 0 seconds")
        if self._closed:
            raise self._closed_error()

    def _mark_closed(self) -> bool:
        with self._lock:
            if self._closed:
                return False
            self._closed = True
            self._failure = partial(DiscoveryError, f"discovery of {self.name} is closed")
            return True

    def __repr__(self) -> str:
        state = "closed" if self._closed else "running" if self._started else "new"
        return (
            f"<{type(self).__name__} {self.name} {state}, {len(self._snapshot)} endpoints, "
            f"strategy={self._strategy!r}>"
        )


def _identity(endpoint: Endpoint) -> tuple[str, int | None, str | None]:
    return endpoint.address, endpoint.port, endpoint.hostname


def _wait_step(attempt: int, remaining: float) -> float:
    return min(remaining, _WAIT_BACKOFF_START * 2.0 ** min(attempt, 16), _WAIT_BACKOFF_MAX)


# -- the threaded driver -------------------------------------------------------------------

_LIVE: weakref.WeakSet[Discovery] = weakref.WeakSet()


class Discovery(_DiscoveryCore):
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
        self._resolver: Resolver = resolver if resolver is not None else DnsResolver()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def _lookup(self) -> tuple[Resolution | Exception, int]:
        seq = self._next_lookup()
        try:
            answer = self._query.run(self._resolver)
        except DiscoveryError as exc:
            return exc, seq
        except Exception as exc:
            return self._unexpected(exc), seq
        return answer, seq

    def start(self) -> Discovery:
        """Resolve once (in this thread), then keep refreshing in a background thread.

        A failed first lookup is not raised: use :meth:`wait_for` to gate start-up.
        Idempotent.

        Raises:
            DiscoveryError: The discovery is closed.
        """
        with self._lock:
            if self._closed:
                raise self._closed_error()
            if self._started:
                return self
            self._started = True
            self._failure = None
        delay = self._apply(*self._lookup())
        with self._lock:
            # close() may have run while the first lookup did: then no thread at all.
            if not self._closed:
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
        outcome, seq = self._lookup()
        self._apply(outcome, seq)
        if isinstance(outcome, Exception) and (
            self._empty_is_error or not isinstance(outcome, NoEndpointsError)
        ):
            raise outcome
        return self._snapshot

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
        self._check_wait(count, timeout)
        self.start()
        deadline = self._clock() + timeout
        next_log = self._clock() + _WAIT_LOG_EVERY
        attempt = 0
        while True:
            done, seen = self._wait_state(count)
            if done:
                return self._snapshot
            now = self._clock()
            if now >= deadline:
                raise self._wait_error(count, timeout, seen)
            if now >= next_log:
                logger.info("waiting for %s: %s", self.name, seen)
                next_log = now + _WAIT_LOG_EVERY
            if self._stop.wait(_wait_step(attempt, deadline - now)):
                raise self._closed_error()
            attempt += 1
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
        if self._started and not self._closed:
            self._spawn(0.0)


def _refresher(ref: weakref.ref[Discovery], stop: threading.Event, delay: float) -> None:
    while not stop.wait(delay):
        discovery = ref()
        if discovery is None or discovery._closed:
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


class AsyncDiscovery(_DiscoveryCore):
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
        if resolver is None:
            from .resolvers import AsyncDnsResolver

            resolver = AsyncDnsResolver()
        self._resolver: AsyncResolver = resolver
        self._task: asyncio.Task[None] | None = None

    async def _lookup(self) -> tuple[Resolution | Exception, int]:
        seq = self._next_lookup()
        try:
            answer = await self._query.arun(self._resolver)
        except DiscoveryError as exc:
            return exc, seq
        except Exception as exc:
            return self._unexpected(exc), seq
        return answer, seq

    async def start(self) -> AsyncDiscovery:
        """Resolve once, then keep refreshing in a background task. Idempotent.

        Raises:
            DiscoveryError: The discovery is closed.
        """
        import asyncio

        with self._lock:
            if self._closed:
                raise self._closed_error()
            if self._started:
                return self
            self._started = True
            self._failure = None
        delay = self._apply(*await self._lookup())
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
        outcome, seq = await self._lookup()
        self._apply(outcome, seq)
        if isinstance(outcome, Exception) and (
            self._empty_is_error or not isinstance(outcome, NoEndpointsError)
        ):
            raise outcome
        return self._snapshot

    async def wait_for(self, count: int = 1, timeout: float = 60.0) -> Resolution:
        """Wait until at least ``count`` endpoints are known: the start-up gate.

        Raises:
            WaitTimeoutError: Fewer endpoints after ``timeout`` seconds; the message says
                what was seen last and what to check.
            ConfigurationError: ``count`` is below 1 or ``timeout`` negative.
            DiscoveryError: The discovery is closed, or was closed while waiting.
        """
        import asyncio

        self._check_wait(count, timeout)
        await self.start()
        deadline = self._clock() + timeout
        next_log = self._clock() + _WAIT_LOG_EVERY
        attempt = 0
        while True:
            done, seen = self._wait_state(count)
            if done:
                return self._snapshot
            now = self._clock()
            if now >= deadline:
                raise self._wait_error(count, timeout, seen)
            if now >= next_log:
                logger.info("waiting for %s: %s", self.name, seen)
                next_log = now + _WAIT_LOG_EVERY
            await asyncio.sleep(_wait_step(attempt, deadline - now))
            if self._closed:
                raise self._closed_error()
            attempt += 1
            self._apply(*await self._lookup())

    async def close(self) -> None:
        """Cancel the refresher task and wait for it; picks raise afterwards. Idempotent."""
        import asyncio

        if not self._mark_closed():
            return
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
        if discovery is None or discovery._closed:
            return
        delay = discovery._apply(*await discovery._lookup())
        del discovery
