"""Discovery at work as OpenTelemetry metrics: lookups, endpoints, refreshes, staleness.

:class:`OpenTelemetryHook` is an instrumentation hook (see
:mod:`headless_discovery.instrumentation`) that records every event through the OpenTelemetry
metrics API; the SDK and the exporter you configure (Prometheus, OTLP, ...) do the rest::

    from headless_discovery import instrumentation
    from headless_discovery.integrations.opentelemetry import OpenTelemetryHook

    instrumentation.add_hook(OpenTelemetryHook())

=======================================  =============  ==============  ======================
instrument                               kind           unit            attributes
=======================================  =============  ==============  ======================
``dns.lookup.duration``                  histogram      ``s``           ``dns.question.name``,
                                                                        ``error.type``
``headless_discovery.endpoints``         async gauge    ``{endpoint}``  ``server.address``
``headless_discovery.refreshes``         async counter  ``{refresh}``   ``server.address``,
                                                                        ``outcome``
``headless_discovery.endpoint.changes``  async counter  ``{endpoint}``  ``server.address``,
                                                                        ``change``
``headless_discovery.staleness``         async gauge    ``s``           ``server.address``
``headless_discovery.ejections``         async counter  ``{ejection}``  (none)
``headless_discovery.retries``           async counter  ``{retry}``     ``server.address``,
                                                                        ``client``
=======================================  =============  ==============  ======================

Needs the extra ``[opentelemetry]`` (``opentelemetry-api``); importing this module without
it raises :class:`~headless_discovery.ConfigurationError`. ``import headless_discovery``
never imports it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from ..instrumentation import (
    EndpointEjected,
    EndpointsChanged,
    Event,
    LookupFinished,
    RefreshFinished,
    RequestRetried,
    StaleServed,
)
from . import _require

if TYPE_CHECKING:
    from opentelemetry import metrics
else:
    metrics = _require("opentelemetry.metrics", "opentelemetry")

__all__ = ["OpenTelemetryHook"]

# The semantic convention's advice for dns.lookup.duration, in seconds.
_LOOKUP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)

# The observable counters: (count kept by the hook, instrument name, unit, description).
_COUNTERS = (
    (
        "refreshes",
        "headless_discovery.refreshes",
        "{refresh}",
        "Refreshes of long-lived discovery, by outcome.",
    ),
    (
        "changes",
        "headless_discovery.endpoint.changes",
        "{endpoint}",
        "Endpoints added to or removed from the snapshot.",
    ),
    (
        "ejections",
        "headless_discovery.ejections",
        "{ejection}",
        "Endpoints taken out of rotation by outlier ejection.",
    ),
    (
        "retries",
        "headless_discovery.retries",
        "{retry}",
        "Requests retried on another pod by a client integration.",
    ),
)


def _address(name: str) -> str:
    # The names events carry are absolute ("api.shop.svc.cluster.local."); the conventions'
    # examples and every dashboard write them without the root's dot.
    return name[:-1] if name.endswith(".") else name


def _error_type(error: Exception) -> str:
    # The convention asks for an error code where the client has one, else the full name of
    # the exception type; our exceptions are the codes (ServiceNotFoundError is NXDOMAIN).
    cls = type(error)
    return f"{cls.__module__}.{cls.__qualname__}"


class OpenTelemetryHook:
    """An instrumentation hook that records discovery as OpenTelemetry metrics.

    Install it for the whole process with
    :func:`~headless_discovery.instrumentation.add_hook`, or for one discovery with
    ``Discovery(..., hooks=[hook])``. One hook serves any number of discoveries: each
    followed Service is told apart by the attribute ``server.address``.

    Only ``dns.lookup.duration`` is recorded as each lookup ends. The number of endpoints
    and the staleness are asynchronous gauges, and the counters asynchronous counters, read
    when the SDK collects: the hook keeps the last count and the time of the last good answer
    of each Service, and the counters' totals, so a refresh costs a dictionary update rather
    than an SDK call. A gauge of absolute values (rather than an up-down counter fed with the
    changes) is right from the first refresh it sees, even when the hook is installed after
    the discovery started. A Service keeps its last values after its discovery is closed.

    Install it once: a hook given both to :func:`~headless_discovery.instrumentation.add_hook`
    and in ``hooks=`` counts every event twice. Ejections reach it through ``add_hook``, or
    through the ``hooks`` of the :class:`~headless_discovery.OutlierEjection` itself.

    Args:
        meter_provider: Where the instruments are created; the global one
            (``opentelemetry.metrics.set_meter_provider``) when ``None``.
        clock: Monotonic seconds, for the staleness between refreshes; the discovery's
            own ``clock`` when that is not :func:`time.monotonic`.

    Raises:
        ConfigurationError: When the module is imported without ``opentelemetry-api``
            (``pip install 'headless-discovery[opentelemetry]'``).

    Example::

        from opentelemetry.sdk.metrics import MeterProvider

        hook = OpenTelemetryHook(MeterProvider(metric_readers=[reader]))
        with Discovery("api-headless", namespace="shop", port=8080, hooks=[hook]) as pods:
            ...

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        meter_provider: metrics.MeterProvider | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        from .. import __version__

        meter = metrics.get_meter("headless_discovery", __version__, meter_provider=meter_provider)
        self._clock = clock
        self._lock = threading.Lock()  # what the SDK reads: written by refreshers
        self._endpoints: dict[str, int] = {}
        # Service -> the clock at its last good answer while stale, None while fresh.
        self._stale_since: dict[str, float | None] = {}
        # The counters' totals by attributes, reported when the SDK collects: a refresh then
        # costs a dict update instead of an SDK call (tens of µs with the caches cold).
        self._counts: dict[str, dict[tuple[tuple[str, str], ...], int]] = {
            count: {} for count, *_ in _COUNTERS
        }
        self._lookup_duration = meter.create_histogram(
            "dns.lookup.duration",
            unit="s",
            description="Measures the time taken to perform a DNS lookup.",
            explicit_bucket_boundaries_advisory=_LOOKUP_BUCKETS,
        )
        meter.create_observable_gauge(
            "headless_discovery.endpoints",
            callbacks=[self._observe_endpoints],
            unit="{endpoint}",
            description="Endpoints a long-lived discovery serves now, per Service.",
        )
        for count, name, unit, description in _COUNTERS:
            meter.create_observable_counter(
                name, callbacks=[self._observer(count)], unit=unit, description=description
            )
        meter.create_observable_gauge(
            "headless_discovery.staleness",
            callbacks=[self._observe_staleness],
            unit="s",
            description="Seconds since the last good answer while stale endpoints are "
            "served; 0 while fresh.",
        )

    def __call__(self, event: Event) -> None:
        """Record ``event``; events it does not know (of later versions) are ignored."""
        if isinstance(event, LookupFinished):
            self._lookup(event)
        elif isinstance(event, RefreshFinished):
            self._refresh(event)
        elif isinstance(event, EndpointsChanged):
            self._changed(event)
        elif isinstance(event, StaleServed):
            self._stale(event)
        elif isinstance(event, EndpointEjected):
            # No attribute: the strategy does not know the Service, and pod addresses come
            # and go too often to be one.
            self._count("ejections", ())
        elif isinstance(event, RequestRetried):
            address = _address(event.name)
            self._count("retries", (("server.address", address), ("client", event.client)))

    # -- the events that need more than one line ---------------------------------------------

    def _lookup(self, event: LookupFinished) -> None:
        attributes = {"dns.question.name": _address(event.name)}
        if event.error is not None:
            attributes["error.type"] = _error_type(event.error)
        self._lookup_duration.record(event.duration, attributes)

    def _refresh(self, event: RefreshFinished) -> None:
        address = _address(event.name)
        key = (("server.address", address), ("outcome", event.outcome))
        with self._lock:
            counts = self._counts["refreshes"]
            counts[key] = counts.get(key, 0) + 1
            self._endpoints[address] = event.endpoints
            if event.outcome != "failed" or address not in self._stale_since:
                self._stale_since[address] = None

    def _changed(self, event: EndpointsChanged) -> None:
        address = _address(event.name)
        with self._lock:
            counts = self._counts["changes"]
            for change, endpoints in (("added", event.added), ("removed", event.removed)):
                if endpoints:
                    key = (("server.address", address), ("change", change))
                    counts[key] = counts.get(key, 0) + len(endpoints)
            self._endpoints[address] = len(event.endpoints)

    def _stale(self, event: StaleServed) -> None:
        since = self._clock() - event.age
        with self._lock:
            self._stale_since[_address(event.name)] = since

    def _count(self, counter: str, key: tuple[tuple[str, str], ...]) -> None:
        with self._lock:
            counts = self._counts[counter]
            counts[key] = counts.get(key, 0) + 1

    # -- what the SDK reads when it collects ----------------------------------------------------

    def _observer(
        self, counter: str
    ) -> Callable[[metrics.CallbackOptions], Iterable[metrics.Observation]]:
        """The callback of an observable counter: its totals, by attributes."""
        counts = self._counts[counter]

        def observe(options: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
            with self._lock:
                totals = list(counts.items())
            return [metrics.Observation(total, dict(key)) for key, total in totals]

        return observe

    def _observe_endpoints(self, options: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
        with self._lock:
            counts = list(self._endpoints.items())
        return [metrics.Observation(count, {"server.address": name}) for name, count in counts]

    def _observe_staleness(self, options: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
        now = self._clock()
        with self._lock:
            since = list(self._stale_since.items())
        return [
            metrics.Observation(0.0 if at is None else max(0.0, now - at), {"server.address": name})
            for name, at in since
        ]

    def __repr__(self) -> str:
        return f"<OpenTelemetryHook following {len(self._endpoints)} Services>"
