"""Run the command line in-process (``main(argv)`` with captured output) or as a process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from headless_discovery.cli import main
from tests.harness import fixtures
from tests.harness.cluster import Cluster

REPO = Path(__file__).resolve().parents[2]

# The harness fixtures, named here rather than through pytest_plugins (which only a root
# conftest may declare).
bind_server = fixtures.bind_server
pod = fixtures.pod


@dataclass(frozen=True)
class Run:
    """The exit status and output of one run of the command line."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def check(self, code: int = 0) -> Run:
        assert self.code == code, (self.code, self.out, self.err)
        assert "Traceback" not in self.err
        return self


Cli = Callable[..., Run]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    """``cli("resolve", "svc", ...)``: run ``main`` in this process."""

    def run(*argv: str) -> Run:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return Run(code, out, err)

    return run


def run_process(*argv: str, env: dict[str, str] | None = None, timeout: float = 30) -> Run:
    """``python -m headless_discovery argv`` as a child process: the real entry point."""
    result = subprocess.run(
        [sys.executable, "-m", "headless_discovery", *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        cwd=REPO,
        check=False,
    )
    return Run(result.returncode, result.stdout, result.stderr)


def write_zone(path: Path, cluster: Cluster, extra: str = "") -> Path:
    """The cluster zone of ``cluster`` as a zone file (what BIND would serve), plus ``extra``."""
    path.write_text(f"$ORIGIN {cluster.zone}\n" + cluster.render_zone_files()[cluster.zone] + extra)
    return path
