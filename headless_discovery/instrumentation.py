"""What discovery does, as events: the seam for metrics, tracing and logs.

The cores of the library describe what happened as small frozen events and hand them to
*hooks*: any callable that takes one event. Install a hook for the whole process with
:func:`add_hook`, or for one discovery with ``Discovery(..., hooks=[...])``::

    from headless_discovery import instrumentation

    def count_failures(event: instrumentation.Event) -> None:
        if isinstance(event, instrumentation.LookupFinished) and event.error is not None:
            failures[event.name] += 1

    remove = instrumentation.add_hook(count_failures)
    ...
    remove()

=========================  =================================================================
event                      when
=========================  =================================================================
:class:`LookupFinished`    every lookup ends, one-shot (:func:`~headless_discovery.resolve`)
                           or a refresh of long-lived discovery, with its outcome
:class:`RefreshFinished`   long-lived discovery applied a refresh: changed, unchanged,
                           empty or failed
:class:`EndpointsChanged`  long-lived discovery saw pods come or go
:class:`StaleServed`       a refresh failed and the last good endpoints are still served
:class:`RequestRetried`    an HTTP or gRPC integration retries a request on another pod
:class:`EndpointEjected`   :class:`~headless_discovery.OutlierEjection` took a pod out
:class:`EndpointReturned`  an ejected pod is back in rotation
=========================  =================================================================

Hooks run synchronously on the thread or task that did the work (the refresher, or the caller
of a one-shot lookup), so they should be quick; a hook that raises is logged once and never
breaks discovery. ``pick()`` emits nothing: the hot path costs the same with hooks installed.
The library's own log records are written by one such hook, which is always installed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Union

if TYPE_CHECKING:
    from .endpoints import Endpoint, Resolution
    from .errors import DiscoveryError

__all__ = [
    "EndpointEjected",
    "EndpointReturned",
    "EndpointsChanged",
    "Event",
    "Hook",
    "LookupFinished",
    "RefreshFinished",
    "RequestRetried",
    "StaleServed",
    "add_hook",
]

logger = logging.getLogger("headless_discovery")


@dataclass(frozen=True, slots=True)
class LookupFinished:
    """A lookup ended, with records or with an error.

    Attributes:
        name: The name asked (absolute, trailing dot).
        rdtype: ``"A/AAAA"``, ``"A"``, ``"AAAA"`` or ``"SRV"``.
        nameserver: The server that answered or failed, when known.
        duration: Seconds the lookup took, resolver and result building included.
        records: How many endpoints the answer gave (0 on errors).
        error: The library's exception for a failed lookup, ``None`` on success.

    .. versionadded:: 0.1.0
    """

    name: str
    rdtype: str
    nameserver: str | None
    duration: float
    records: int
    error: DiscoveryError | None = None


@dataclass(frozen=True, slots=True)
class EndpointsChanged:
    """Long-lived discovery replaced its snapshot: pods came or went.

    Attributes:
        name: The name followed.
        added: Endpoints new in this snapshot.
        removed: Endpoints gone from it.
        endpoints: The new snapshot.

    .. versionadded:: 0.1.0
    """

    name: str
    added: tuple[Endpoint, ...]
    removed: tuple[Endpoint, ...]
    endpoints: Resolution


@dataclass(frozen=True, slots=True)
class RefreshFinished:
    """Long-lived discovery folded the outcome of a lookup into its state.

    Attributes:
        name: The name followed.
        outcome: ``"changed"`` (pods came or went), ``"unchanged"``, ``"empty"`` (NXDOMAIN
            or NODATA: no ready pod) or ``"failed"`` (the last good endpoints stay).
        endpoints: How many endpoints are served now.
        error: Why the lookup failed or came back empty, else ``None``.
        stale: Whether the endpoints served are stale (a :class:`StaleServed` follows).

    .. versionadded:: 0.1.0
    """

    name: str
    outcome: Literal["changed", "unchanged", "empty", "failed"]
    endpoints: int
    error: Exception | None = None
    stale: bool = False


@dataclass(frozen=True, slots=True)
class StaleServed:
    """A refresh failed; the last good endpoints are still being served.

    Attributes:
        name: The name followed.
        age: Seconds since the last good answer.
        error: Why the refresh failed.
        endpoints: How many endpoints are still served.
        failures: Consecutive failed refreshes, this one included.
        expired: Whether ``age`` is past ``max_stale`` (served anyway with
            ``stale_policy="serve"``, refused with ``"fail"``).
        first: Whether this is the first such event of its kind in this outage (the
            first failure, or the first past ``max_stale``).

    .. versionadded:: 0.1.0
    """

    name: str
    age: float
    error: Exception
    endpoints: int = 0
    failures: int = 1
    expired: bool = False
    first: bool = True


@dataclass(frozen=True, slots=True)
class RequestRetried:
    """A client integration (HTTP, gRPC) retries a request on another pod.

    Attributes:
        name: The Service (or DNS name) the request was for.
        endpoint: The endpoint that failed.
        attempt: Which retry this is (1 for the first).
        error: Why the attempt failed.
        client: Which integration: ``"httpx"``, ``"requests"``, ``"aiohttp"``, ``"grpc"``.

    .. versionadded:: 0.1.0
    """

    name: str
    endpoint: Endpoint
    attempt: int
    error: Exception
    client: str


@dataclass(frozen=True, slots=True)
class EndpointEjected:
    """Outlier ejection took an endpoint out of rotation.

    Attributes:
        endpoint: The endpoint ejected.
        duration: Seconds it stays out, unless it is needed sooner.

    .. versionadded:: 0.1.0
    """

    endpoint: Endpoint
    duration: float


@dataclass(frozen=True, slots=True)
class EndpointReturned:
    """An ejected endpoint is back in rotation.

    .. versionadded:: 0.1.0
    """

    endpoint: Endpoint


#: Everything a hook may receive. New event types may be added: ignore what you do not know.
Event = Union[
    LookupFinished,
    RefreshFinished,
    EndpointsChanged,
    StaleServed,
    RequestRetried,
    EndpointEjected,
    EndpointReturned,
]
#: A hook: any callable taking one event. Its return value is ignored.
Hook = Callable[[Event], object]


class _Registry:
    """The process-wide hooks. Copy-on-write: emitting reads one tuple and takes no lock."""

    __slots__ = ("failed", "hooks", "lock")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.hooks: tuple[Hook, ...] = ()
        # Hooks that raised once already: logged with a traceback only the first time.
        self.failed: set[int] = set()


_registry = _Registry()


def add_hook(hook: Hook) -> Callable[[], None]:
    """Send every event of every discovery in this process to ``hook``.

    Args:
        hook: Any callable taking one event.

    Returns:
        A function that removes the hook again (calling it twice is harmless).

    Raises:
        TypeError: ``hook`` is not callable.

    Example::

        remove = instrumentation.add_hook(print)

    .. versionadded:: 0.1.0
    """
    if not callable(hook):
        raise TypeError(f"a hook must be callable, not {hook!r}")
    with _registry.lock:
        _registry.hooks = (*_registry.hooks, hook)

    def remove() -> None:
        with _registry.lock:
            hooks = _registry.hooks
            if hook in hooks:
                index = hooks.index(hook)
                _registry.hooks = hooks[:index] + hooks[index + 1 :]

    return remove


def _check_hooks(hooks: Iterable[Hook] | None) -> tuple[Hook, ...]:
    """Per-instance hooks as a tuple, refusing what cannot be called.

    Raises:
        TypeError: A hook is not callable.
    """
    if hooks is None:
        return ()
    checked = tuple(hooks)
    for hook in checked:
        if not callable(hook):
            raise TypeError(f"a hook must be callable, not {hook!r}")
    return checked


def _emit(event: Event, local: tuple[Hook, ...] = ()) -> None:
    """Hand ``event`` to the logging hook, the global hooks, then ``local`` ones."""
    _log(event)
    hooks = _registry.hooks
    for hook in (*hooks, *local) if local else hooks:
        try:
            hook(event)
        except Exception:
            _report(hook)


def _lookup_heard(local: tuple[Hook, ...]) -> bool:
    """Whether the :class:`LookupFinished` of a successful lookup would reach anyone: a hook
    (``local`` or global), or the library's log, which records it at DEBUG (see
    :func:`_record`). When it would not, a one-shot lookup need not build it: the event
    costs about a tenth of what :func:`~headless_discovery.resolve` adds to the lookup.
    """
    return bool(local or _registry.hooks) or logger.isEnabledFor(logging.DEBUG)


def _report(hook: Hook) -> None:
    key = id(hook)
    with _registry.lock:
        first = key not in _registry.failed
        _registry.failed.add(key)
    if first:
        logger.exception("the instrumentation hook %r raised; its errors are ignored", hook)


def _log(event: Event) -> None:
    """The library's own log records: one hook among the others, always installed."""
    record = _record(event)
    if record is not None and logger.isEnabledFor(record[0]):
        level, message, *args = record
        logger.log(level, message, *args, extra=_fields(event))


def _record(event: Event) -> tuple[Any, ...] | None:
    """The level, message and arguments of the log record of ``event``, if it gets one."""
    if isinstance(event, LookupFinished):
        if event.error is not None:
            return None  # the refresh, or the caller, reports it
        ms = event.duration * 1000
        return (
            logging.DEBUG,
            "resolved %s to %d endpoints in %.1f ms",
            event.name,
            event.records,
            ms,
        )
    if isinstance(event, RefreshFinished):
        if event.outcome != "failed" or event.stale:
            return None  # a stale period is reported by StaleServed
        return logging.WARNING, "lookup of %s failed: %s", event.name, event.error
    if isinstance(event, EndpointsChanged):
        added, removed, now = len(event.added), len(event.removed), len(event.endpoints)
        if not now:
            return logging.WARNING, "%s has no endpoints now (%d removed)", event.name, removed
        return (
            logging.INFO,
            "%s changed: %d added, %d removed, %d now",
            event.name,
            added,
            removed,
            now,
        )
    if isinstance(event, StaleServed):
        if not event.expired:
            text = "lookup of %s failed (attempt %d); serving the last %d endpoints: %s"
            return logging.WARNING, text, event.name, event.failures, event.endpoints, event.error
        if not event.first:
            return None  # said once per outage
        serving = "still serving them" if event.endpoints else "nothing to serve"
        text = "endpoints of %s are %.0f s old, past max_stale; %s: %s"
        return logging.WARNING, text, event.name, event.age, serving, event.error
    if isinstance(event, RequestRetried):
        text = "%s: retrying on another pod after %s failed (%s, retry %d): %s"
        address, client, attempt = event.endpoint.address, event.client, event.attempt
        return logging.INFO, text, event.name, address, client, attempt, event.error
    if isinstance(event, EndpointEjected):
        text = "ejected %s for %.1f s after consecutive failures"
        return logging.WARNING, text, event.endpoint.address, event.duration
    return logging.INFO, "%s is back in rotation", event.endpoint.address


_EVENT_NAMES = {
    "LookupFinished": "lookup_finished",
    "RefreshFinished": "refresh_finished",
    "EndpointsChanged": "endpoints_changed",
    "StaleServed": "stale_served",
    "RequestRetried": "request_retried",
    "EndpointEjected": "endpoint_ejected",
    "EndpointReturned": "endpoint_returned",
}


def _fields(event: Event) -> dict[str, object]:
    """The event's fields as ``extra`` of a log record, for structured (JSON) formatters:
    plain values, the Service as ``service``, collections by their size, endpoints by
    address, errors by type, and ``outcome`` on every event that can fail."""
    fields: dict[str, object] = {"hd_event": _EVENT_NAMES[type(event).__name__]}
    for name in event.__slots__:
        value = getattr(event, name)
        if name == "name":
            fields["service"] = value
        elif name == "error":
            fields["error"] = None if value is None else type(value).__name__
            fields.setdefault("outcome", "ok" if value is None else type(value).__name__)
        elif name == "endpoint":
            fields["endpoint"] = value.address
        elif isinstance(value, (tuple, Sequence)) and not isinstance(value, str):
            fields[name] = len(value)
        else:
            fields[name] = value
    return fields
