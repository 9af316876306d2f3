"""``watch``: follow a Service with :class:`~headless_discovery.Discovery`, print each change,
and with ``--stats`` the figures of :meth:`~headless_discovery.Discovery.stats` as they change."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import cast

from ..discovery import Discovery
from ..endpoints import Endpoint, Resolution
from ..instrumentation import Event, RefreshFinished
from ..names import SrvProtocol
from ..refresh import RefreshPolicy
from ..state import DiscoveryStats
from ._common import (
    EXIT_OK,
    ZoneFileResolver,
    endpoint_json,
    family,
    positive_float,
    positive_int,
    source_of,
    target_of,
)

_POLL = 0.05  # seconds between checks of Ctrl-C, --count and --duration


def add_watch_options(parser: argparse.ArgumentParser) -> None:
    """``--count``, ``--duration``, ``--interval`` and ``--stats``."""
    parser.add_argument(
        "--count",
        metavar="N",
        type=positive_int,
        help="exit after N changes (the initial endpoints do not count)",
    )
    parser.add_argument(
        "--duration",
        metavar="SECONDS",
        type=positive_float,
        help="exit after this many seconds",
    )
    parser.add_argument(
        "--interval",
        metavar="SECONDS",
        type=positive_float,
        help="look up at least this often (default: follow the TTL, between 1 and 30 s)",
    )
    parser.add_argument(
        "--stats",
        action="store_true",
        help="also print the figures of Discovery.stats() when they change: endpoints, "
        "refreshes by outcome, last success, staleness, last error",
    )


class _Printer:
    """Prints events, one line each, from whichever thread reports them."""

    def __init__(self, as_json: bool, count: int | None) -> None:
        self._json = as_json
        self._lock = threading.Lock()
        self._left = count
        self.initial = True
        self._last: Sequence[Endpoint] = ()
        self.done = threading.Event()
        self.discovery: Discovery | None = None
        self._shown: tuple[object, ...] | None = None

    def event(self, kind: str, ep: Endpoint, total: int) -> None:
        now = datetime.now(timezone.utc)
        if self._json:
            line = json.dumps(
                {
                    "time": now.isoformat(timespec="milliseconds"),
                    "event": kind,
                    "endpoint": endpoint_json(ep),
                    "total": total,
                }
            )
        else:
            stamp = now.astimezone().strftime("%H:%M:%S")
            host = f"  {ep.hostname}" if ep.hostname else ""
            line = f"{stamp}  {kind:<8} {ep.netloc()}{host}  ({total} now)"
        with self._lock:
            print(line, flush=True)

    def change(
        self, added: tuple[Endpoint, ...], removed: tuple[Endpoint, ...], snapshot: Resolution
    ) -> None:
        # Diffed here by pod address, port and hostname, not by the whole Endpoint: cluster DNS
        # gives every SRV record an even share of the weight, so one pod going away changes
        # the weight of all the others, which is not news to someone watching pods.
        before = {_identity(ep) for ep in self._last}
        after = {_identity(ep) for ep in snapshot}
        self._last = snapshot
        if self.initial:
            # The first lookup, run by start() in the main thread: the starting point.
            for ep in snapshot:
                self.event("initial", ep, len(snapshot))
            return
        gone = [ep for ep in removed if _identity(ep) not in after]
        new = [ep for ep in added if _identity(ep) not in before]
        if not gone and not new:
            return
        for ep in gone:
            self.event("removed", ep, len(snapshot))
        for ep in new:
            self.event("added", ep, len(snapshot))
        with self._lock:
            if self._left is not None:
                self._left -= 1
                if self._left <= 0:
                    self.done.set()

    def refreshed(self, event: Event) -> None:
        """The hook of ``--stats``: after each refresh, the figures, if they changed."""
        if isinstance(event, RefreshFinished) and self.discovery is not None:
            self.stats(self.discovery.stats())

    def stats(self, figures: DiscoveryStats) -> None:
        # An unchanged refresh only moves the unchanged count and the age: not news.
        error = figures.last_error
        key = (
            figures.endpoints,
            figures.refreshes_changed,
            figures.refreshes_empty,
            figures.refreshes_failed,
            figures.failures,
            None if error is None else (type(error), str(error)),
            figures.ejected,
        )
        if key == self._shown:
            return
        self._shown = key
        ejected = sorted(figures.ejected, key=_identity)
        now = datetime.now(timezone.utc)
        if self._json:
            line = json.dumps(
                {
                    "time": now.isoformat(timespec="milliseconds"),
                    "event": "stats",
                    "endpoints": figures.endpoints,
                    "refreshes": {
                        "changed": figures.refreshes_changed,
                        "unchanged": figures.refreshes_unchanged,
                        "empty": figures.refreshes_empty,
                        "failed": figures.refreshes_failed,
                    },
                    "age": None if figures.age is None else round(figures.age, 3),
                    "last_error": None
                    if error is None
                    else {"type": type(error).__name__, "message": str(error)},
                    "failures": figures.failures,
                    "staleness": round(figures.staleness, 3),
                    "ejected": [endpoint_json(ep) for ep in ejected],
                }
            )
        else:
            parts = [
                f"{figures.endpoints} endpoints",
                f"refreshes: {figures.refreshes_changed} changed, "
                f"{figures.refreshes_unchanged} unchanged, {figures.refreshes_empty} empty, "
                f"{figures.refreshes_failed} failed",
            ]
            if figures.age is not None:
                parts.append(f"last success {figures.age:.1f} s ago")
            if figures.staleness:
                plural = "" if figures.failures == 1 else "s"
                parts.append(
                    f"stale for {figures.staleness:.1f} s after {figures.failures} "
                    f"failure{plural}: {error}"
                )
            elif error is not None:
                parts.append(f"last error: {error}")
            if ejected:
                parts.append("ejected: " + ", ".join(ep.netloc() for ep in ejected))
            stamp = now.astimezone().strftime("%H:%M:%S")
            line = f"{stamp}  {'stats':<8} " + "; ".join(parts)
        with self._lock:
            print(line, flush=True)


def _identity(ep: Endpoint) -> tuple[str, int | None, str | None]:
    return ep.address, ep.port, ep.hostname


class _CtrlC:
    """While installed, Ctrl-C sets :attr:`pressed` instead of raising KeyboardInterrupt.

    A KeyboardInterrupt can land anywhere, including inside ``threading`` primitives and
    inside ``Discovery.start()`` while it launches its thread, and leave them broken; a flag
    checked by the waiting loop cannot. Installed only in the main thread (the only one
    Python delivers signals to).
    """

    def __init__(self) -> None:
        self.pressed = False
        self._previous: object = None
        self._installed = False

    def _handle(self, signum: int, frame: object) -> None:
        self.pressed = True

    def __enter__(self) -> _CtrlC:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)  # type: ignore[arg-type]


def run_watch(args: argparse.Namespace) -> int:
    """Print the current endpoints, then every change, until Ctrl-C, --count or --duration."""
    tgt = target_of(args)
    src = source_of(args, zone_resolver=ZoneFileResolver)
    refresh = None
    if args.interval is not None:
        refresh = RefreshPolicy(min_interval=min(1.0, args.interval), max_interval=args.interval)
    name = tgt.name
    printer = _Printer(args.json, args.count)
    hooks = [printer.refreshed] if args.stats else None
    if name.hostname is not None:
        discovery = Discovery(
            dns_name=name.fqdn,
            port=args.port,
            family=family(args),
            resolver=src.resolver,
            refresh=refresh,
            hooks=hooks,
        )
    else:
        discovery = Discovery(
            name.service,
            port=args.port,
            srv=args.srv or name.port_name,
            protocol=cast("SrvProtocol", name.protocol or "tcp"),
            family=family(args),
            resolver=src.resolver,
            refresh=refresh,
            hooks=hooks,
        )
    printer.discovery = discovery
    deadline = None if args.duration is None else time.monotonic() + args.duration
    discovery.subscribe(printer.change)
    with _CtrlC() as ctrl_c:
        try:
            discovery.start()
            printer.initial = False
            if not discovery.endpoints:
                print(
                    f"headless-discovery: no endpoints yet ({discovery.last_error}); watching",
                    file=sys.stderr,
                    flush=True,
                )
            while not (printer.done.is_set() or ctrl_c.pressed):
                if deadline is not None and time.monotonic() >= deadline:
                    break
                time.sleep(_POLL)
        finally:
            discovery.close()
    return EXIT_OK
