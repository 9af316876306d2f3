"""``watch`` as a process: it follows a zone file or a real BIND while pods come and go."""

from __future__ import annotations

import json
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.cli import schema
from tests.cli.conftest import REPO, write_zone
from tests.harness.cluster import Cluster
from tests.harness.fixtures import BindServerFactory

WAIT = 15.0  # seconds: generous, a line normally arrives within a second


class Watch:
    """``python -m headless_discovery watch argv`` in the background, its lines in a queue."""

    def __init__(self, *argv: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "headless_discovery", "watch", *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def events(self, count: int) -> list[dict[str, Any]]:
        """The next ``count`` JSON lines, each checked against the documented shape."""
        events: list[dict[str, Any]] = []
        for _ in range(count):
            try:
                line = self.lines.get(timeout=WAIT)
            except queue.Empty:
                raise AssertionError(
                    f"no output from watch within {WAIT} s; got {events}"
                ) from None
            event = json.loads(line)
            schema.check(
                event, schema.WATCH_STATS if event["event"] == "stats" else schema.WATCH_EVENT
            )
            events.append(event)
        return events

    def finish(self) -> tuple[int, str, str]:
        """Wait for the exit: the status, the lines not read yet, and stderr."""
        code = self.process.wait(timeout=WAIT)
        self._reader.join(WAIT)
        assert self.process.stderr is not None
        rest = []
        while not self.lines.empty():
            rest.append(self.lines.get())
        return code, "".join(rest), self.process.stderr.read()


@contextmanager
def watching(*argv: str) -> Iterator[Watch]:
    """A :class:`Watch`, killed at the end if it still runs."""
    watch = Watch(*argv)
    try:
        yield watch
    finally:
        if watch.process.poll() is None:
            watch.process.kill()
        watch.process.wait()
        watch._reader.join(WAIT)
        assert watch.process.stdout is not None
        assert watch.process.stderr is not None
        watch.process.stdout.close()
        watch.process.stderr.close()


def summary(events: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
    return [(e["event"], e["endpoint"]["address"], e["total"]) for e in events]


def test_watch_follows_edits_of_a_zone_file(tmp_path: Path) -> None:
    model = Cluster()
    mongo = model.statefulset("mongodb", "db", 2)
    zone = write_zone(tmp_path / "cluster.zone", model)
    with watching(
        "mongodb.db", "--zone-file", str(zone), "--count", "1", "--interval", "0.1", "--json"
    ) as watch:
        assert summary(watch.events(2)) == [
            ("initial", "10.244.0.10", 2),
            ("initial", "10.244.0.11", 2),
        ]
        model.scale(mongo, 3)
        write_zone(zone, model)
        assert summary(watch.events(1)) == [("added", "10.244.0.12", 3)]
        code, rest, err = watch.finish()
    assert (code, rest) == (0, "")
    assert "Traceback" not in err


def test_stats_show_a_stale_period_and_its_end(tmp_path: Path) -> None:
    model = Cluster()
    model.statefulset("mongodb", "db", 2)
    zone = write_zone(tmp_path / "cluster.zone", model)
    with watching(
        "mongodb.db", "--zone-file", str(zone), "--interval", "0.1", "--stats", "--json"
    ) as watch:
        *initial, first = watch.events(3)
        assert [e["event"] for e in initial] == ["initial", "initial"]
        assert first["endpoints"] == 2
        assert first["refreshes"] == {"changed": 1, "unchanged": 0, "empty": 0, "failed": 0}
        assert (first["failures"], first["staleness"], first["last_error"]) == (0, 0.0, None)
        # Unchanged refreshes print nothing; the zone file gone is a failed lookup.
        zone.rename(tmp_path / "away.zone")
        (stale,) = watch.events(1)
        assert (stale["endpoints"], stale["failures"], stale["refreshes"]["failed"]) == (2, 1, 1)
        assert stale["staleness"] > 0
        assert stale["staleness"] == stale["age"]
        assert stale["last_error"]["type"] == "ResolverUnavailableError"
        assert "cannot read zone file" in stale["last_error"]["message"]
        (tmp_path / "away.zone").rename(zone)
        while (back := watch.events(1)[0])["failures"]:
            pass  # another failed refresh came first
        assert (back["staleness"], back["last_error"], back["endpoints"]) == (0.0, None, 2)
        assert back["refreshes"]["unchanged"] >= 1
        watch.process.send_signal(signal.SIGINT)
        code, _, err = watch.finish()
    assert code == 0
    assert "Traceback" not in err


def test_stats_as_text(tmp_path: Path) -> None:
    model = Cluster()
    model.statefulset("mongodb", "db", 2)
    zone = write_zone(tmp_path / "cluster.zone", model)
    with watching("mongodb.db", "--zone-file", str(zone), "--stats", "--duration", "1") as watch:
        code, out, err = watch.finish()
    assert code == 0, err
    *initial, stats = out.splitlines()
    assert len(initial) == 2
    assert re.fullmatch(
        r"\d\d:\d\d:\d\d  stats    2 endpoints; refreshes: 1 changed, 0 unchanged, 0 empty, "
        r"0 failed; last success 0\.0 s ago",
        stats,
    ), stats


def test_ctrl_c_is_a_clean_exit(tmp_path: Path) -> None:
    model = Cluster()
    model.statefulset("mongodb", "db", 1)
    zone = write_zone(tmp_path / "cluster.zone", model)
    with watching("mongodb.db", "--zone-file", str(zone), "--json") as watch:
        watch.events(1)
        watch.process.send_signal(signal.SIGINT)
        code, out, err = watch.finish()
    assert (code, out) == (0, "")
    assert "Traceback" not in err
    assert "KeyboardInterrupt" not in err


@pytest.mark.dns
def test_watch_sees_a_dynamic_update_of_bind(bind_server: BindServerFactory) -> None:
    model = Cluster()
    mongo = model.statefulset("mongodb", "db", 3)
    server = bind_server(model)
    nameserver = f"{server.nameserver}:{server.port}"
    with watching(
        "mongodb.db", "--srv", "mongodb", "--nameserver", nameserver, "--cluster-domain",
        "cluster.local", "--count", "1", "--interval", "0.2", "--json",
    ) as watch:  # fmt: skip
        initial = watch.events(3)
        assert [e["endpoint"]["hostname"] for e in initial] == [
            f"mongodb-{i}.mongodb.db.svc.cluster.local" for i in range(3)
        ]
        # Pod mongodb-1 stops being ready: an RFC 2136 update removes its records.
        model.set_ready(mongo, "mongodb-1", ready=False)
        server.sync()
        assert summary(watch.events(1)) == [("removed", "10.244.0.11", 2)]
        code, rest, err = watch.finish()
    assert (code, rest) == (0, "")
    assert "Traceback" not in err
