"""gRPC channels that follow a headless Service: every RPC goes to a ready pod of it.

:func:`discovery_channel` wraps a :class:`~headless_discovery.Discovery` in a
:class:`grpc.Channel`, :func:`aio_discovery_channel` an
:class:`~headless_discovery.AsyncDiscovery` in a :class:`grpc.aio.Channel`. Generated stubs
take them unchanged. Behind them is one sub-channel per pod, opened when the pod appears in
DNS and closed when it has gone and its last call has ended; each RPC is routed by the
discovery's strategy when it starts. gRPC's own ``dns:///`` resolver, by contrast, resolves
again only when a connection fails, so pods added by a scale-up get no traffic.

- A unary call that ends ``UNAVAILABLE`` (it got no response) is reported as a failure of its
  pod and retried on a pod not yet tried for this call, up to ``retries`` times, within the
  call's timeout. ``retries=0`` is for methods that must not run twice.
- Streaming calls stay on their pod for their whole life, and are never retried.
- ``OK`` reports a success to the strategy; ``least_outstanding`` counts calls in flight.
- With ``credentials`` (TLS), the name checked against the certificate and sent as
  ``:authority`` is the Service's FQDN, though each sub-channel connects to a pod IP.
- No ready pod: the call fails with ``UNAVAILABLE``, its details naming the Service and what
  DNS said.

Needs the extra ``grpc`` (``pip install 'headless-discovery[grpc]'``).

The decisions (which pod, whether to retry, when a sub-channel closes) are in
:mod:`._grpc_core`; this module holds the two thin drivers, sync and asyncio, side by side.
What the drivers have in common is written once: the router, the channel base, a try (a
context manager that finishes, judges and retries it), and grpc's method signatures.
"""

from __future__ import annotations

from . import _require

_require("grpc", "grpc")

import asyncio  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Iterable, Sequence  # noqa: E402
from contextlib import AbstractContextManager  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from functools import partial  # noqa: E402
from types import TracebackType  # noqa: E402
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, cast  # noqa: E402

import grpc  # noqa: E402
import grpc.aio  # noqa: E402

from ..discovery import AsyncDiscovery, Discovery  # noqa: E402
from ..endpoints import Endpoint, Resolution  # noqa: E402
from ..errors import DiscoveryError  # noqa: E402
from ..instrumentation import RequestRetried, _emit  # noqa: E402
from ..strategies import FailureTracking, InFlightTracking  # noqa: E402
from ._grpc_core import (  # noqa: E402
    PICKS_BEFORE_WALK,
    Attempts,
    ChannelOption,
    Entry,
    Pool,
    Verdict,
    hash_key,
    judge,
    no_pod_details,
    subchannel_options,
    subchannel_target,
)

__all__ = ["aio_discovery_channel", "discovery_channel"]

# The sync interfaces are generic in the stubs only.
if TYPE_CHECKING:
    _FutureBase = grpc.Future[Any]
    _UnaryUnaryBase = grpc.UnaryUnaryMultiCallable[Any, Any]
    _UnaryStreamBase = grpc.UnaryStreamMultiCallable[Any, Any]
    _StreamUnaryBase = grpc.StreamUnaryMultiCallable[Any, Any]
    _StreamStreamBase = grpc.StreamStreamMultiCallable[Any, Any]
else:
    _FutureBase = grpc.Future
    _UnaryUnaryBase = grpc.UnaryUnaryMultiCallable
    _UnaryStreamBase = grpc.UnaryStreamMultiCallable
    _StreamUnaryBase = grpc.StreamUnaryMultiCallable
    _StreamStreamBase = grpc.StreamStreamMultiCallable

C = TypeVar("C")
_Serializer = Callable[[Any], bytes] | None
_Deserializer = Callable[[bytes], Any] | None
_AioMetadata = grpc.aio.Metadata | Sequence[tuple[str, str | bytes]] | None
_OK = grpc.StatusCode.OK
_UNAVAILABLE = grpc.StatusCode.UNAVAILABLE


def discovery_channel(
    discovery: Discovery,
    *,
    credentials: grpc.ChannelCredentials | None = None,
    options: Sequence[ChannelOption] = (),
    retries: int = 1,
    compression: grpc.Compression | None = None,
    hash_key_metadata: str | None = None,
) -> grpc.Channel:
    """A :class:`grpc.Channel` whose every RPC goes to a pod of ``discovery``.

    Args:
        discovery: The pods, started (or started here): give it the gRPC port with
            ``port=`` (or ``srv=``).
        credentials: TLS credentials (:func:`grpc.ssl_channel_credentials`); the
            certificate is checked against the Service FQDN. ``None``: plaintext.
        options: Channel options for every sub-channel (``grpc.keepalive_time_ms``, ...).
        retries: How many other pods a unary call that ends ``UNAVAILABLE`` is tried on;
            ``0`` for methods that must not run twice.
        compression: The default compression of every sub-channel.
        hash_key_metadata: For ``consistent_hash``: the metadata entry whose value is the
            key (``"x-user-id"``); calls without it get ``key=None``.

    Returns:
        The channel; close it (or use it in a ``with`` block) to close every sub-channel.

    Raises:
        ConfigurationError: ``retries`` is negative, or the pods have no port.
        DiscoveryError: The discovery is closed.

    Example::

        pods = Discovery("greeter-headless", namespace="shop", port=50051).start()
        with discovery_channel(pods) as channel:
            stub = GreeterStub(channel)
            reply = stub.SayHello(HelloRequest(name="you"))

    .. versionadded:: 0.1.0
    """
    _check_retries(retries)
    discovery.start()
    return _Channel(discovery, credentials, options, retries, compression, hash_key_metadata)


def aio_discovery_channel(
    discovery: AsyncDiscovery,
    *,
    credentials: grpc.ChannelCredentials | None = None,
    options: Sequence[ChannelOption] = (),
    retries: int = 1,
    compression: grpc.Compression | None = None,
    hash_key_metadata: str | None = None,
) -> grpc.aio.Channel:
    """A :class:`grpc.aio.Channel` whose every RPC goes to a pod of ``discovery``.

    The asyncio twin of :func:`discovery_channel`, with the same arguments. Call it in the
    event loop, after ``await discovery.start()`` (or ``wait_for``).

    Raises:
        ConfigurationError: ``retries`` is negative, or the pods have no port.
        DiscoveryError: The discovery is not started or is closed.

    Example::

        async with AsyncDiscovery("greeter-headless", namespace="shop", port=50051) as pods:
            async with aio_discovery_channel(pods) as channel:
                reply = await GreeterStub(channel).SayHello(HelloRequest(name="you"))

    .. versionadded:: 0.1.0
    """
    _check_retries(retries)
    if discovery.closed:
        raise DiscoveryError(f"the discovery of {discovery.name} is closed")
    return _AioChannel(discovery, credentials, options, retries, compression, hash_key_metadata)


def _check_retries(retries: int) -> None:
    from ..errors import ConfigurationError

    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ConfigurationError(f"retries must be an integer >= 0, not {retries!r}")


# -- what both drivers share: picking a pod, counting the call, reporting its end -----------


class _NoPod(Exception):
    """No pod could be picked; each driver turns this into its ``UNAVAILABLE`` error."""

    def __init__(self, details: str) -> None:
        super().__init__(details)
        self.details = details


def _authority(discovery: Discovery | AsyncDiscovery) -> str:
    service = discovery.service
    return service.fqdn if service is not None else discovery.name.rstrip(".")


def _verdict(code: grpc.StatusCode | None) -> Verdict:
    return judge(code is _OK, code is _UNAVAILABLE, responded=False)


@dataclass(slots=True, eq=False)
class _Try:
    """One try of one call: the pod, its sub-channel entry, the strategy's hold on it.

    As a context manager around a blocking (or awaited) try, sync and asyncio alike: a
    success or any other exception finishes the try; an :class:`grpc.RpcError` is judged by
    :meth:`ended`, and suppressed when the call is to be tried again.
    """

    router: _Router[Any]
    attempts: Attempts | None
    endpoint: Endpoint
    entry: Entry[Any]
    held: AbstractContextManager[Endpoint] | None

    def ended(
        self, code: grpc.StatusCode | None, error: Exception | None, cancelled: bool = False
    ) -> bool:
        """The try ended with status ``code``: tell the strategy, and say whether the call
        is tried again (a retried ``error`` is announced as :class:`RequestRetried`)."""
        router = self.router
        attempts = self.attempts
        retry = (
            code is _UNAVAILABLE
            and not cancelled
            and attempts is not None
            and attempts.retry(True, router.discovery.endpoints, time.monotonic())
        )
        router.finish(self, _verdict(code))
        if retry:
            # an UNAVAILABLE try always has its error
            router.retried(self, cast(Attempts, attempts), cast(Exception, error))
        return retry

    def __enter__(self) -> _Try:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        if error is None:
            self.router.finish(self, "success")
            return False
        if isinstance(error, grpc.RpcError):
            return self.ended(cast(grpc.Call, error).code(), error)
        self.router.finish(self, None)
        return False


class _Router(Generic[C]):
    """The pool of sub-channels around a discovery, and the steps of every call. Both
    channels own one; nothing here waits on I/O."""

    def __init__(
        self,
        discovery: Discovery | AsyncDiscovery,
        *,
        make: Callable[[Endpoint], C],
        retries: int,
        hash_key_metadata: str | None,
        close_sub: Callable[[C], None],
        changed: Callable[[], None],
    ) -> None:
        self.discovery = discovery
        self.name = _authority(discovery)
        self.retries = retries
        # The strategy's key of a call, from its metadata (a partial: no frame of ours).
        self.key: Callable[[_AioMetadata], str | None] = partial(hash_key, name=hash_key_metadata)
        self.closed = False
        self._close_sub = close_sub
        self._changed = changed
        # Decided once: Discovery.report_success checks the strategy's protocol on every
        # call (about 15 us), more than the rest of the routing; pick() is cheaper than
        # acquire() when nothing counts calls in flight.
        strategy = discovery._strategy
        self._reports = isinstance(strategy, FailureTracking)
        self._counts = isinstance(strategy, InFlightTracking)
        self._lock = threading.Lock()
        self.pool: Pool[C] = Pool(make, self._live)
        for endpoint in discovery.endpoints:
            subchannel_target(endpoint)  # no port: say so now, not at the first call
        self._unsubscribe = discovery.subscribe(self._on_change)
        with self._lock:
            self.pool.update(discovery.endpoints)

    def _live(self, endpoint: Endpoint) -> bool:
        return endpoint in self.discovery.endpoints

    def _on_change(
        self, added: tuple[Endpoint, ...], removed: tuple[Endpoint, ...], snapshot: Resolution
    ) -> None:
        with self._lock:
            if self.closed:
                return
            closing = self.pool.update(snapshot)
        for channel in closing:
            self._close_sub(channel)
        self._changed()

    def start(self, key: str | None, attempts: Attempts | None) -> _Try:
        """Pick the pod of the next try and count the call on it.

        Raises:
            _NoPod: Nothing to pick from (no ready pod, discovery closed or failing).
            ValueError: The channel is closed.
        """
        if self.closed:
            raise ValueError("Cannot invoke RPC on closed channel!")
        discovery = self.discovery
        held: AbstractContextManager[Endpoint] | None = None
        try:
            if not self._counts and (attempts is None or not attempts.tried):
                endpoint = discovery.pick(key)
            elif attempts is None or not attempts.tried:
                held = discovery.acquire(key)
                endpoint = held.__enter__()
            else:
                for _ in range(PICKS_BEFORE_WALK):
                    held = discovery.acquire(key)
                    endpoint = held.__enter__()
                    if attempts.fresh(endpoint):
                        break
                    held.__exit__(None, None, None)
                else:
                    held = None
                    untried = attempts.untried(discovery.endpoints)
                    if untried is None:
                        raise _NoPod(f"no untried pod of {self.name} left for a retry")
                    endpoint = untried
        except DiscoveryError as exc:
            raise _NoPod(no_pod_details(self.name, exc, discovery.last_error)) from exc
        if attempts is not None:
            attempts.tried.append(endpoint)
        with self._lock:
            entry = self.pool.begin(endpoint)
        return _Try(self, attempts, endpoint, entry, held)

    def begin(
        self,
        method: _Method,
        key: str | None,
        attempts: Attempts | None,
        invoke: Callable[[Any], Any],
    ) -> tuple[_Try, Any]:
        """Start a try, and grpc's call for it: ``invoke`` is given the sub-channel's
        multi-callable of ``method``. A call that fails to start is finished at once.

        Raises:
            _NoPod: As :meth:`start`.
        """
        attempt = self.start(key, attempts)
        try:
            return attempt, invoke(method.on(attempt.entry))
        except BaseException:
            self.finish(attempt, None)
            raise

    def finish(self, attempt: _Try, verdict: Verdict) -> None:
        """The try is over: tell the strategy, and close a drained sub-channel."""
        if self._reports and verdict == "success":
            self.discovery.report_success(attempt.endpoint)
        elif self._reports and verdict == "failure":
            self.discovery.report_failure(attempt.endpoint)
        if attempt.held is not None:
            attempt.held.__exit__(None, None, None)
        with self._lock:
            closing = self.pool.end(attempt.entry)
        if closing is not None:
            self._close_sub(closing)

    def retried(self, attempt: _Try, attempts: Attempts, error: Exception) -> None:
        event = RequestRetried(self.name, attempt.endpoint, attempts.attempt, error, "grpc")
        _emit(event, self.discovery._hooks)

    def close(self) -> list[C]:
        """Stop following the discovery; return every sub-channel, to close."""
        self._unsubscribe()
        with self._lock:
            self.closed = True
            return self.pool.clear()

    def subchannels(self) -> list[C]:
        with self._lock:
            return [entry.channel for entry in self.pool.entries()]


@dataclass(frozen=True, slots=True, eq=False)
class _Method:
    """What a multi-callable of the channel calls on a sub-channel: kind, method, codecs.

    Compared and hashed by identity: it is the key of its callables in each sub-channel.
    """

    kind: str
    method: str
    serializer: _Serializer
    deserializer: _Deserializer
    registered: bool | None

    def on(self, entry: Entry[Any]) -> Any:
        """The sub-channel's multi-callable for this method, made once per sub-channel."""
        callable_ = entry.callables.get(self)
        if callable_ is None:
            factory = getattr(entry.channel, self.kind)
            callable_ = entry.callables[self] = factory(
                self.method,
                self.serializer,
                self.deserializer,
                _registered_method=bool(self.registered),
            )
        return callable_


class _Bound(Generic[C]):
    """What every multi-callable of both channels holds: the router, the method, and how
    many retries a call of it gets (only a unary call is retried)."""

    __slots__ = ("_method", "_retries", "_router")

    def __init__(self, router: _Router[C], method: _Method) -> None:
        self._router = router
        self._method = method
        self._retries = router.retries if method.kind == "unary_unary" else 0


class _Tries:
    """What both unary call objects (the sync future, the asyncio call) keep across tries."""

    def __init__(self, bound: _Bound[Any], request: Any, rest: _Rest) -> None:
        self._router = bound._router
        self._method = bound._method
        self._request = request
        self._rest = rest
        self._attempts = Attempts(bound._retries, rest[0], time.monotonic())
        self._key = bound._router.key(rest[1])

    def time_remaining(self) -> float | None:
        return self._attempts.timeout(time.monotonic())


# -- the signatures of grpc's multi-callables, written once --------------------------------

#: A call's options after the request, as grpc orders them: timeout, metadata, credentials,
#: wait_for_ready, compression.
_Rest = tuple[Any, Any, Any, Any, Any]
#: What a multi-callable's method does with its arguments.
_Run = Callable[[Any, Any, _Rest], Any]


def _grpc_method(run: _Run) -> Callable[..., Any]:
    """A multi-callable method with grpc's signature that hands its arguments to ``run``.

    Every method of every multi-callable has this signature but for the name of the first
    argument and, in :mod:`grpc.aio`, keyword-only options (see :func:`_streamed` and
    :func:`_keyword_options`); they differ only in what they run.
    """

    def method(  # noqa: PLR0917  (grpc's signature)
        self: _Bound[Any],
        request: Any,
        timeout: float | None = None,
        metadata: _AioMetadata = None,
        credentials: grpc.CallCredentials | None = None,
        wait_for_ready: bool | None = None,
        compression: grpc.Compression | None = None,
    ) -> Any:
        return run(self, request, (timeout, metadata, credentials, wait_for_ready, compression))

    return method


def _streamed(method: Callable[..., Any]) -> Callable[..., Any]:
    """``method`` with its first argument named ``request_iterator``, as grpc names it."""

    def streamed(self: Any, request_iterator: Any, *args: Any, **kwargs: Any) -> Any:
        return method(self, request_iterator, *args, **kwargs)

    return streamed


def _aio_streamed(method: Callable[..., Any]) -> Callable[..., Any]:
    """``method`` with ``request_iterator=None`` first: a :mod:`grpc.aio` streamed request
    may be written to the call instead."""

    def streamed(self: Any, request_iterator: Any = None, *args: Any, **kwargs: Any) -> Any:
        return method(self, request_iterator, *args, **kwargs)

    return streamed


def _keyword_options(method: Callable[..., Any]) -> Callable[..., Any]:
    """``method`` with the options after the request keyword-only, as :mod:`grpc.aio` has
    them for a single request."""

    def by_keyword(self: Any, request: Any, **options: Any) -> Any:
        return method(self, request, **options)

    return by_keyword


def _kind(name: str) -> Callable[..., Any]:
    """The channel method ``name`` (``unary_unary``, ...): a multi-callable of the channel's
    class for that kind, with grpc's signature."""

    def kind(
        self: _ChannelBase[Any],
        method: str,
        request_serializer: _Serializer = None,
        response_deserializer: _Deserializer = None,
        _registered_method: bool | None = False,
    ) -> Any:
        described = _Method(
            name, method, request_serializer, response_deserializer, _registered_method
        )
        return self._kinds[name](self._router, described)

    kind.__name__ = kind.__qualname__ = name
    return kind


class _ChannelBase(Generic[C]):
    """What both channels share: the sub-channels' options, the router, the four kinds of
    call. Each channel names its multi-callables and how a sub-channel opens, closes, and
    tells of a change."""

    #: The multi-callable class of each kind of call.
    _kinds: ClassVar[dict[str, type[_Bound[Any]]]]
    #: The name of the function that made the channel, for ``repr``.
    _made_by: ClassVar[str]

    def __init__(  # noqa: PLR0917
        self,
        discovery: Discovery | AsyncDiscovery,
        credentials: grpc.ChannelCredentials | None,
        options: Sequence[ChannelOption],
        retries: int,
        compression: grpc.Compression | None,
        hash_key_metadata: str | None,
    ) -> None:
        self._credentials = credentials
        self._compression = compression
        self._init_driver()
        self._options = list(
            subchannel_options(options, _authority(discovery), credentials is not None)
        )
        self._router: _Router[C] = _Router(
            discovery,
            make=self._make,
            retries=retries,
            hash_key_metadata=hash_key_metadata,
            close_sub=self._close_sub,
            changed=self._changed,
        )

    def _init_driver(self) -> None:
        """Set up what the driver keeps, before the first sub-channel opens."""
        raise NotImplementedError

    def _open(self, target: str, credentials: grpc.ChannelCredentials | None) -> C:
        raise NotImplementedError

    def _close_sub(self, channel: C) -> None:
        raise NotImplementedError

    def _changed(self) -> None:
        raise NotImplementedError

    def _make(self, endpoint: Endpoint) -> C:
        return self._open(subchannel_target(endpoint), self._credentials)

    unary_unary = _kind("unary_unary")
    unary_stream = _kind("unary_stream")
    stream_unary = _kind("stream_unary")
    stream_stream = _kind("stream_stream")

    def __repr__(self) -> str:
        return f"<{self._made_by} {self._router.name}: {len(self._router.pool)} sub-channels>"


# Connectivity of the whole channel: the best state of any sub-channel.
_BEST_FIRST = (
    grpc.ChannelConnectivity.READY,
    grpc.ChannelConnectivity.CONNECTING,
    grpc.ChannelConnectivity.IDLE,
    grpc.ChannelConnectivity.TRANSIENT_FAILURE,
)


def _aggregate(states: Iterable[grpc.ChannelConnectivity]) -> grpc.ChannelConnectivity:
    """READY if any sub-channel is, else CONNECTING, else IDLE; TRANSIENT_FAILURE when
    every one failed or there is none (an RPC would fail now)."""
    seen = set(states)
    return next((state for state in _BEST_FIRST if state in seen), _BEST_FIRST[-1])


# -- the sync driver --------------------------------------------------------------------------


class _NoReadyPod(grpc.RpcError, grpc.Call, _FutureBase):
    """A call that could not start: ``UNAVAILABLE`` with the reason, already over. It is
    raised by blocking calls, and returned as the failed future or stream of the others."""

    def __init__(self, details: str) -> None:
        super().__init__(details)
        self._details = details

    def initial_metadata(self) -> tuple[()]:
        return ()

    def trailing_metadata(self) -> tuple[()]:
        return ()

    def code(self) -> grpc.StatusCode:
        return _UNAVAILABLE

    def details(self) -> str:
        return self._details

    def is_active(self) -> bool:
        return False

    def time_remaining(self) -> float | None:  # type: ignore[override]  # None: no deadline
        return None

    def cancel(self) -> bool:
        return False

    def add_callback(self, callback: Callable[[], object]) -> bool:
        return False

    def cancelled(self) -> bool:
        return False

    def running(self) -> bool:
        return False

    def done(self) -> bool:
        return True

    def result(self, timeout: float | None = None) -> Any:
        raise self

    def exception(self, timeout: float | None = None) -> Exception:
        return self

    def traceback(self, timeout: float | None = None) -> TracebackType | None:
        return self.__traceback__

    def add_done_callback(self, fn: Callable[[Any], object]) -> None:
        fn(self)

    def __iter__(self) -> _NoReadyPod:
        return self

    def __next__(self) -> Any:
        raise self

    def __str__(self) -> str:
        return (
            "<_NoReadyPod of RPC that terminated with:\n"
            f"\tstatus = {_UNAVAILABLE}\n\tdetails = {self._details!r}>"
        )


class _Channel(_ChannelBase[grpc.Channel], grpc.Channel):
    """The sync channel: a router of :mod:`grpc` sub-channels."""

    _made_by = "discovery_channel"

    def _init_driver(self) -> None:
        self._watchers: list[Callable[[grpc.ChannelConnectivity], None]] = []
        self._states: dict[int, grpc.ChannelConnectivity] = {}
        self._published: grpc.ChannelConnectivity | None = None
        self._watch_lock = threading.RLock()

    def _open(self, target: str, credentials: grpc.ChannelCredentials | None) -> grpc.Channel:
        if credentials is None:
            channel = grpc.insecure_channel(target, self._options, self._compression)
        else:
            channel = grpc.secure_channel(target, credentials, self._options, self._compression)
        with self._watch_lock:
            if self._watchers:
                channel.subscribe(self._watcher_of(channel))
        return channel

    def _close_sub(self, channel: grpc.Channel) -> None:
        with self._watch_lock:
            self._states.pop(id(channel), None)
        channel.close()

    # -- connectivity: the best state of any sub-channel ----------------------------------

    def _watcher_of(self, channel: grpc.Channel) -> Callable[[grpc.ChannelConnectivity], None]:
        def seen(state: grpc.ChannelConnectivity) -> None:
            with self._watch_lock:
                self._states[id(channel)] = state
            self._changed()

        return seen

    def _changed(self) -> None:
        with self._watch_lock:
            live = {id(channel) for channel in self._router.subchannels()}
            state = _aggregate(s for key, s in self._states.items() if key in live)
            if state is self._published or not self._watchers:
                return
            self._published = state
            watchers = tuple(self._watchers)
        for watcher in watchers:
            watcher(state)

    def subscribe(
        self, callback: Callable[[grpc.ChannelConnectivity], None], try_to_connect: bool = False
    ) -> None:
        """Call ``callback`` with the channel's connectivity now and at each change: READY
        when a sub-channel is, else the best state of any (TRANSIENT_FAILURE with no pod)."""
        with self._watch_lock:
            first = not self._watchers
            self._watchers.append(callback)
            current = self._published
        if first:
            for channel in self._router.subchannels():
                channel.subscribe(self._watcher_of(channel), try_to_connect)
            self._changed()
        elif current is not None:
            callback(current)

    def unsubscribe(self, callback: Callable[[grpc.ChannelConnectivity], None]) -> None:
        """Stop calling ``callback``."""
        with self._watch_lock:
            if callback in self._watchers:
                self._watchers.remove(callback)

    def close(self) -> None:
        """Close every sub-channel (calls in flight are cancelled) and stop following."""
        for channel in self._router.close():
            channel.close()

    def __enter__(self) -> _Channel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _blocking(with_call: bool) -> _Run:
    """The tries of one blocking call: the response, or (response, call) ``with_call``."""

    def run(bound: _Bound[grpc.Channel], request: Any, rest: _Rest) -> Any:
        router = bound._router
        timeout, metadata, credentials, wait_for_ready, compression = rest
        # No clock reading without a timeout: this is the path every plain RPC takes.
        attempts = Attempts(bound._retries, timeout, time.monotonic() if timeout else 0.0)
        key = router.key(metadata)
        while True:
            try:
                attempt = router.start(key, attempts)
            except _NoPod as exc:
                raise _NoReadyPod(exc.details) from None
            with attempt:
                callable_ = bound._method.on(attempt.entry)
                return (callable_.with_call if with_call else callable_)(
                    request,
                    attempts.timeout(time.monotonic()) if timeout else timeout,
                    metadata,
                    credentials,
                    wait_for_ready,
                    compression,
                )

    return run


def _one_pod(future: bool) -> _Run:
    """A call that stays on one pod and is never retried (streamed responses, or the future
    of streamed requests): grpc's own call, finished when it is over."""

    def run(bound: _Bound[grpc.Channel], request: Any, rest: _Rest) -> Any:
        router = bound._router

        def invoke(callable_: Any) -> Any:
            return (callable_.future if future else callable_)(request, *rest)

        try:
            attempt, call = router.begin(bound._method, router.key(rest[1]), None, invoke)
        except _NoPod as exc:
            return _NoReadyPod(exc.details)
        call.add_done_callback(lambda done: router.finish(attempt, _verdict(done.code())))
        return call

    return run


class _UnaryFuture(_Tries, grpc.Call, _FutureBase):  # type: ignore[misc]  # time_remaining
    """The future of a unary call: each try a grpc future, retried from its done callback;
    the last try's future (or :class:`_NoReadyPod`) answers once it is over."""

    def __init__(self, bound: _Bound[grpc.Channel], request: Any, rest: _Rest) -> None:
        super().__init__(bound, request, rest)
        self._condition = threading.Condition()
        self._current: Any = None
        self._final: Any = None
        self._cancelled = False
        self._callbacks: list[Callable[[Any], object]] = []
        self._next()

    def _next(self) -> None:
        request = self._request
        options = (self._attempts.timeout(time.monotonic()), *self._rest[1:])
        try:
            attempt, future = self._router.begin(
                self._method, self._key, self._attempts, lambda c: c.future(request, *options)
            )
        except _NoPod as exc:
            self._settle(_NoReadyPod(exc.details))
            return
        with self._condition:
            self._current = future
            cancel = self._cancelled
        if cancel:
            future.cancel()
        future.add_done_callback(lambda done: self._ended(attempt, done))

    def _ended(self, attempt: _Try, future: Any) -> None:
        error = None if future.cancelled() else future.exception()  # a cancelled one raises
        if attempt.ended(future.code(), error, self._cancelled):
            self._next()
        else:
            self._settle(future)

    def _settle(self, final: Any) -> None:
        with self._condition:
            self._final = final
            self._condition.notify_all()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback(self)

    def _wait(self, timeout: float | None) -> Any:
        with self._condition:
            if not self._condition.wait_for(lambda: self._final is not None, timeout):
                raise grpc.FutureTimeoutError()
            return self._final

    # grpc.Future
    def cancel(self) -> bool:
        with self._condition:
            if self._final is not None:
                return False
            self._cancelled = True
            current = self._current
        if current is not None:
            current.cancel()
        return True

    def cancelled(self) -> bool:
        if self._cancelled:
            return True
        final = self._final
        return final is not None and bool(final.cancelled())

    def running(self) -> bool:
        return self._final is None

    def done(self) -> bool:
        return self._final is not None

    def result(self, timeout: float | None = None) -> Any:
        return self._wait(timeout).result()

    def exception(self, timeout: float | None = None) -> Exception | None:
        return cast(Exception | None, self._wait(timeout).exception())

    def traceback(self, timeout: float | None = None) -> TracebackType | None:
        return cast(TracebackType | None, self._wait(timeout).traceback())

    def add_done_callback(self, fn: Callable[[Any], object]) -> None:
        with self._condition:
            if self._final is None:
                self._callbacks.append(fn)
                return
        fn(self)

    # grpc.Call
    def initial_metadata(self) -> Any:
        return self._wait(None).initial_metadata()

    def trailing_metadata(self) -> Any:
        return self._wait(None).trailing_metadata()

    def code(self) -> grpc.StatusCode:
        return cast(grpc.StatusCode, self._wait(None).code())

    def details(self) -> str:
        return cast(str, self._wait(None).details())

    def is_active(self) -> bool:
        return self._final is None

    def add_callback(self, callback: Callable[[], object]) -> bool:
        with self._condition:
            if self._final is not None:
                return False
            self._callbacks.append(lambda _: callback())
        return True


class _UnaryUnary(_Bound[grpc.Channel], _UnaryUnaryBase):
    """A unary method: each try on one pod, ``UNAVAILABLE`` retried on another."""

    __slots__ = ()

    __call__ = _grpc_method(_blocking(with_call=False))
    with_call = _grpc_method(_blocking(with_call=True))
    future = _grpc_method(_UnaryFuture)


class _StreamUnary(_Bound[grpc.Channel], _StreamUnaryBase):
    """Streamed requests, one response: on one pod; never retried (the requests are gone)."""

    __slots__ = ()

    __call__ = _streamed(_UnaryUnary.__call__)
    with_call = _streamed(_UnaryUnary.with_call)
    future = _streamed(_grpc_method(_one_pod(future=True)))


class _Streaming(_Bound[grpc.Channel], _UnaryStreamBase, _StreamStreamBase):
    """A method with streamed responses: the call stays on one pod; never retried."""

    __slots__ = ()

    __call__ = _grpc_method(_one_pod(future=False))


_Channel._kinds = {
    "unary_unary": _UnaryUnary,
    "unary_stream": _Streaming,
    "stream_unary": _StreamUnary,
    "stream_stream": _Streaming,
}


# -- the asyncio driver: mirrors the sync one -------------------------------------------------


def _aio_no_pod(details: str) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(
        _UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(), details=details
    )


def _aio_invoke(callable_: Any, request: Any, timeout: float | None, rest: _Rest) -> Any:
    """Start grpc.aio's call with ``timeout`` and the rest of ``rest``: its options are
    keyword-only for a single request."""
    _, metadata, credentials, wait_for_ready, compression = rest
    return callable_(
        request,
        timeout=timeout,
        metadata=metadata,
        credentials=credentials,
        wait_for_ready=wait_for_ready,
        compression=compression,
    )


class _AioChannel(_ChannelBase[grpc.aio.Channel], grpc.aio.Channel):
    """The asyncio channel: a router of :mod:`grpc.aio` sub-channels."""

    _made_by = "aio_discovery_channel"

    def _init_driver(self) -> None:
        self._closing: set[asyncio.Task[None]] = set()
        self._change = asyncio.Event()

    def _open(self, target: str, credentials: grpc.ChannelCredentials | None) -> grpc.aio.Channel:
        if credentials is None:
            return grpc.aio.insecure_channel(target, self._options, self._compression)
        return grpc.aio.secure_channel(target, credentials, self._options, self._compression)

    def _close_sub(self, channel: grpc.aio.Channel) -> None:
        task = asyncio.get_running_loop().create_task(channel.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def _changed(self) -> None:
        self._change.set()

    # -- connectivity -----------------------------------------------------------------------

    def get_state(self, try_to_connect: bool = False) -> grpc.ChannelConnectivity:
        """READY when a sub-channel is, else the best state of any (TRANSIENT_FAILURE with
        no pod)."""
        return _aggregate(
            channel.get_state(try_to_connect) for channel in self._router.subchannels()
        )

    async def wait_for_state_change(self, last_observed_state: grpc.ChannelConnectivity) -> None:
        """Wait until :meth:`get_state` is no longer ``last_observed_state``."""
        while self.get_state() is last_observed_state:
            self._change.clear()
            waits = [
                asyncio.ensure_future(cast(Any, channel.wait_for_state_change(channel.get_state())))
                for channel in self._router.subchannels()
            ]
            waits.append(asyncio.ensure_future(self._change.wait()))
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for wait in waits:
                    wait.cancel()
                await asyncio.gather(*waits, return_exceptions=True)

    async def channel_ready(self) -> None:
        """Wait until a sub-channel is READY (asking every one to connect)."""
        while True:
            state = self.get_state(try_to_connect=True)
            if state is grpc.ChannelConnectivity.READY:
                return
            await self.wait_for_state_change(state)

    async def close(self, grace: float | None = None) -> None:
        """Close every sub-channel (with ``grace`` for calls in flight) and stop following."""
        channels = self._router.close()
        await asyncio.gather(*(channel.close(grace) for channel in channels))
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    async def __aenter__(self) -> _AioChannel:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


class _AioUnaryCall(_Tries, grpc.aio.UnaryUnaryCall[Any, Any]):
    """One unary call: its tries run in a task; the last try's call answers the questions."""

    def __init__(self, bound: _Bound[grpc.aio.Channel], request: Any, rest: _Rest) -> None:
        super().__init__(bound, request, rest)
        self._call: Any = None
        self._error: grpc.aio.AioRpcError | None = None
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> Any:
        router = self._router
        attempts = self._attempts
        while True:
            try:
                attempt = router.start(self._key, attempts)
            except _NoPod as exc:
                self._error = _aio_no_pod(exc.details)
                raise self._error from None
            with attempt:
                callable_ = self._method.on(attempt.entry)
                timeout = attempts.timeout(time.monotonic())
                self._call = call = _aio_invoke(callable_, self._request, timeout, self._rest)
                return await call

    def __await__(self) -> Any:
        return self._task.__await__()

    async def _settled(self) -> Any:
        await asyncio.wait([self._task])
        return self._call

    # RpcContext
    def cancelled(self) -> bool:
        return self._task.cancelled()

    def done(self) -> bool:
        return self._task.done()

    def cancel(self) -> bool:
        if self._task.done():
            return False
        if self._call is not None:
            self._call.cancel()
        return self._task.cancel()

    def add_done_callback(self, callback: Callable[[Any], None]) -> None:
        self._task.add_done_callback(lambda _: callback(self))

    # Call
    async def initial_metadata(self) -> Any:
        call = await self._settled()
        return grpc.aio.Metadata() if call is None else await call.initial_metadata()

    async def trailing_metadata(self) -> Any:
        call = await self._settled()
        return grpc.aio.Metadata() if call is None else await call.trailing_metadata()

    async def code(self) -> grpc.StatusCode:
        call = await self._settled()
        if self._error is not None:
            return self._error.code()
        if self._task.cancelled():
            return grpc.StatusCode.CANCELLED
        return cast(grpc.StatusCode, await call.code())

    async def details(self) -> str:
        call = await self._settled()
        if self._error is not None:
            return cast(str, self._error.details())
        return cast(str, await call.details())

    async def wait_for_connection(self) -> None:
        await self._settled()
        if self._error is not None:
            raise self._error


def _aio_one_pod(bound: _Bound[grpc.aio.Channel], request: Any, rest: _Rest) -> Any:
    """A call with a streamed side: on one pod, never retried; finished when it is over."""
    router = bound._router
    key = router.key(rest[1])
    try:
        attempt, call = router.begin(
            bound._method, key, None, lambda c: _aio_invoke(c, request, rest[0], rest)
        )
    except _NoPod as exc:
        raise _aio_no_pod(exc.details) from None
    call.add_done_callback(lambda done: _aio_finish(router, attempt, done))
    return call


def _aio_finish(router: _Router[grpc.aio.Channel], attempt: _Try, call: Any) -> None:
    # The call is over: its status is known without waiting, but only through a coroutine.
    async def finish() -> None:
        code = None if call.cancelled() else await call.code()
        router.finish(attempt, _verdict(code))

    task = asyncio.get_running_loop().create_task(finish())
    _FINISHING.add(task)  # the loop keeps only a weak reference to a task
    task.add_done_callback(_FINISHING.discard)


_FINISHING: set[asyncio.Task[None]] = set()


class _AioUnaryUnary(_Bound[grpc.aio.Channel], grpc.aio.UnaryUnaryMultiCallable[Any, Any]):
    """A unary method: mirrors :class:`_UnaryUnary`, the tries in one task."""

    __slots__ = ()

    __call__ = _keyword_options(_grpc_method(_AioUnaryCall))


class _AioUnaryStream(_Bound[grpc.aio.Channel], grpc.aio.UnaryStreamMultiCallable[Any, Any]):
    """Streamed responses: the call stays on one pod; never retried."""

    __slots__ = ()

    __call__ = _keyword_options(_grpc_method(_aio_one_pod))


class _AioStreaming(
    _Bound[grpc.aio.Channel],
    grpc.aio.StreamUnaryMultiCallable[Any, Any],
    grpc.aio.StreamStreamMultiCallable[Any, Any],
):
    """Streamed requests: the call stays on one pod; never retried (the requests are gone)."""

    __slots__ = ()

    __call__ = _aio_streamed(_grpc_method(_aio_one_pod))


_AioChannel._kinds = {
    "unary_unary": _AioUnaryUnary,
    "unary_stream": _AioUnaryStream,
    "stream_unary": _AioStreaming,
    "stream_stream": _AioStreaming,
}
