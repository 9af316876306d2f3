"""examples/grpc_client.py runs as a container runs it, against pods found in a zone file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.integrations.grpc_support import PodServer, free_port
from tests.support.members import zone_file

EXAMPLE = Path(__file__).resolve().parent.parent.parent / "examples" / "grpc_client.py"


def run(tmp_path: Path, port: int, *args: str) -> subprocess.CompletedProcess[str]:
    zone = tmp_path / "cluster.zone"
    zone.write_text(zone_file("greeter-headless", "shop", ["127.77.0.10", "127.77.0.11"]))
    return subprocess.run(
        [sys.executable, str(EXAMPLE), "--zone-file", str(zone), "--count", "10", *args],
        env={
            "GRPC_NAMESPACE": "shop",
            "GRPC_PORT": str(port),
            "PYTHONPATH": str(EXAMPLE.parent.parent),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_grpc_client_spreads_its_calls_over_the_pods(tmp_path: Path) -> None:
    port = free_port()
    servers = [PodServer(f"127.77.0.{i}", port) for i in (10, 11)]
    try:
        result = run(tmp_path, port, "--method", "/test.Echo/Who")
    finally:
        for server in servers:
            server.stop(0)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["   5  127.77.0.10", "   5  127.77.0.11"]


def test_the_grpc_client_says_why_a_call_failed(tmp_path: Path) -> None:
    result = run(tmp_path, free_port(), "--method", "/test.Echo/Who")
    assert result.returncode == 1
    assert "call failed:" in result.stderr
    assert "StatusCode.UNAVAILABLE" in result.stderr
