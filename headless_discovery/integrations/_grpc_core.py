"""The decisions of the gRPC integration, without gRPC: routing, retries, sub-channel lifetimes.

Pure (no grpc, socket, threading or asyncio): the channels in :mod:`.grpc` call these with
status codes reduced to booleans and a clock reading, and do the I/O themselves. The sync and
asyncio channels share every decision made here.

- :class:`Attempts`: one unary call's tries: which pod next (never one tried already), whether
  a failed try is retried, how much of the deadline is left.
- :func:`judge`: what an RPC's outcome tells the strategy (success, failure, or nothing).
- :class:`Pool`: one sub-channel per pod, opened when the pod appears and closed when it has
  gone and its last call has ended.
- :func:`subchannel_target`, :func:`subchannel_options`, :func:`hash_key`,
  :func:`no_pod_details`: what each sub-channel and each call is given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

from ..endpoints import Endpoint
from ..errors import ConfigurationError

T = TypeVar("T")

#: A channel option as grpc takes it: ``("grpc.some_option", value)``.
ChannelOption = tuple[str, object]

#: What an outcome tells the strategy: ``report_success``, ``report_failure``, or nothing.
Verdict = Literal["success", "failure", None]

#: How many picks a retry asks of the strategy before it takes the first untried pod of the
#: snapshot instead: a strategy that returns the same pod for a key must not stall a retry.
PICKS_BEFORE_WALK = 4


def judge(ok: bool, unavailable: bool, responded: bool) -> Verdict:
    """What an RPC's end says about its pod.

    ``UNAVAILABLE`` before any response is the pod (or the way to it) failing; ``OK`` is a
    success; any other status is the application's answer and tells nothing about the pod.

    Args:
        ok: The status is ``OK``.
        unavailable: The status is ``UNAVAILABLE``.
        responded: A response message arrived before the status.
    """
    if ok:
        return "success"
    if unavailable and not responded:
        return "failure"
    return None


class Attempts:
    """One unary call's tries, from the first pick to the last retry.

    A try that ends ``UNAVAILABLE`` before any response is retried on a pod not yet tried
    for this call, at most ``retries`` times, while the deadline allows (gRPC's retry policy
    treats ``UNAVAILABLE`` the same way: the request did not reach an application).

    Args:
        retries: How many retries after the first try (0: none).
        timeout: The call's timeout in seconds, ``None`` for none; retries share it.
        now: The clock reading when the call started.
    """

    __slots__ = ("deadline", "retries", "tried")

    def __init__(self, retries: int, timeout: float | None, now: float) -> None:
        self.retries = retries
        self.deadline = None if timeout is None else now + timeout
        self.tried: list[Endpoint] = []

    @property
    def attempt(self) -> int:
        """How many tries were made (0 before the first)."""
        return len(self.tried)

    def timeout(self, now: float) -> float | None:
        """What is left of the deadline for the next try (at least 0), ``None`` for none."""
        return None if self.deadline is None else max(0.0, self.deadline - now)

    def retry(self, unavailable: bool, snapshot: Sequence[Endpoint], now: float) -> bool:
        """Whether the try that just failed is tried again.

        Args:
            unavailable: It ended ``UNAVAILABLE`` (a unary call has no response before
                its status).
            snapshot: The endpoints now: a retry needs one not tried yet.
            now: The clock reading.
        """
        if not unavailable or len(self.tried) > self.retries:
            return False
        if self.deadline is not None and now >= self.deadline:
            return False
        tried = self.tried
        return any(endpoint not in tried for endpoint in snapshot)

    def fresh(self, endpoint: Endpoint) -> bool:
        """Whether ``endpoint`` was not tried yet for this call."""
        return endpoint not in self.tried

    def untried(self, snapshot: Sequence[Endpoint]) -> Endpoint | None:
        """The first endpoint of ``snapshot`` not tried yet: for when the strategy keeps
        picking tried ones (``consistent_hash`` returns the same pod for the same key)."""
        return next((ep for ep in snapshot if ep not in self.tried), None)


def hash_key(metadata: Iterable[tuple[str, object]] | None, name: str | None) -> str | None:
    """The strategy's key for a call: the value of the metadata entry ``name``, if any.

    Metadata keys are lowercase in gRPC; ``name`` is compared without case. A binary value
    (``-bin`` keys) is used as its ``latin-1`` text.
    """
    if name is None or not metadata:
        return None
    wanted = name.lower()
    for key, value in metadata:
        if key.lower() == wanted:
            return value.decode("latin-1") if isinstance(value, bytes) else str(value)
    return None


def subchannel_target(endpoint: Endpoint) -> str:
    """``address:port`` of a pod for grpc (``[fd00::5]:50051`` for IPv6).

    Raises:
        ConfigurationError: The endpoint has no port (the discovery resolves addresses
            only: give it ``port=`` or ``srv=``).
    """
    if endpoint.port is None:
        raise ConfigurationError(
            f"{endpoint.address} has no port: give the discovery port= (or srv=) for a gRPC channel"
        )
    if ":" in endpoint.address:
        return f"[{endpoint.address}]:{endpoint.port}"
    return f"{endpoint.address}:{endpoint.port}"


def subchannel_options(
    options: Sequence[ChannelOption], authority: str, secure: bool
) -> tuple[ChannelOption, ...]:
    """The options of every sub-channel: the caller's, and on TLS the Service name.

    With TLS the name checked against the server's certificate and sent as ``:authority``
    is ``authority`` (the Service FQDN), though the sub-channel connects to an IP. An option
    the caller set is never overridden.
    """
    given = tuple(options)
    if not secure:
        return given
    names = {name for name, _ in given}
    extra = tuple(
        (name, authority)
        for name in ("grpc.ssl_target_name_override", "grpc.default_authority")
        if name not in names
    )
    return given + extra


def no_pod_details(name: str, error: Exception, dns_said: Exception | None) -> str:
    """The details of the ``UNAVAILABLE`` status of a call made while no pod is ready.

    Args:
        name: The Service FQDN (or DNS name) followed.
        error: Why no pod could be picked (``NoEndpointsError`` and the like).
        dns_said: The error of the last lookup, if it failed or came back empty.
    """
    said = f"DNS said: {dns_said}" if dns_said is not None else f"{error}"
    return f"no ready pod of {name} to send the RPC to; {said}"


@dataclass(slots=True, eq=False)
class Entry(Generic[T]):
    """One pod's sub-channel, the calls in flight on it, and its callables by method."""

    endpoint: Endpoint
    channel: T
    in_flight: int = 0
    draining: bool = False
    callables: dict[object, object] = field(default_factory=dict)


class Pool(Generic[T]):
    """One sub-channel per pod: open while the pod is in the snapshot, closed once it has
    gone and its last call has ended (a call that started on it runs to its end).

    The drivers make and close the channels (``make`` builds one for an endpoint, ``live``
    tells whether an endpoint is in the current snapshot) and hold any lock; this class only
    decides. Methods return the channels to close now.
    """

    __slots__ = ("_entries", "_live", "_make")

    def __init__(self, make: Callable[[Endpoint], T], live: Callable[[Endpoint], bool]) -> None:
        self._make = make
        self._live = live
        self._entries: dict[Endpoint, Entry[T]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def entries(self) -> tuple[Entry[T], ...]:
        """The sub-channels open now, draining ones included."""
        return tuple(self._entries.values())

    def update(self, snapshot: Iterable[Endpoint]) -> list[T]:
        """Open a sub-channel for each new pod; drain those of pods gone.

        Returns:
            The channels of gone pods with no call in flight: close them now.
        """
        current = set(snapshot)
        for endpoint in current:
            entry = self._entries.get(endpoint)
            if entry is None:
                self._entries[endpoint] = Entry(endpoint, self._make(endpoint))
            else:
                entry.draining = False  # gone and back before its last call ended
        closing = []
        for endpoint, entry in list(self._entries.items()):
            if endpoint not in current:
                entry.draining = True
                if not entry.in_flight:
                    del self._entries[endpoint]
                    closing.append(entry.channel)
        return closing

    def begin(self, endpoint: Endpoint) -> Entry[T]:
        """Count a call starting on ``endpoint``; opens its sub-channel if need be.

        A pick may race with a change: a pod picked from the old snapshot that is gone
        from the new one (``live`` says no) gets a sub-channel for this call only.
        """
        entry = self._entries.get(endpoint)
        if entry is None:
            entry = self._entries[endpoint] = Entry(endpoint, self._make(endpoint))
            entry.draining = not self._live(endpoint)
        entry.in_flight += 1
        return entry

    def end(self, entry: Entry[T]) -> T | None:
        """Count a call on ``entry`` as ended.

        Returns:
            Its channel, to close now, if the pod has gone and this was its last call.
        """
        entry.in_flight -= 1
        if entry.draining and not entry.in_flight and self._entries.get(entry.endpoint) is entry:
            del self._entries[entry.endpoint]
            return entry.channel
        return None

    def clear(self) -> list[T]:
        """Forget every sub-channel and return them all, to close."""
        channels = [entry.channel for entry in self._entries.values()]
        self._entries.clear()
        return channels
