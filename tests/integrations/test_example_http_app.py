"""examples/http_app.py against pod servers, with the records from a zone file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.integrations.pods import PodServers

ROOT = Path(__file__).resolve().parents[2]
PODS = ("127.77.2.10", "127.77.2.11")
ORIGIN = "$ORIGIN cluster.local.\n@ 5 IN SOA ns. admin. 1 60 60 60 5\n@ 5 IN NS ns.\n"


def run(zone: Path, port: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "examples/http_app.py", "--zone-file", str(zone), "--requests", "4"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"API_NAMESPACE": "shop", "API_PORT": str(port), "PYTHONPATH": str(ROOT)},
        timeout=60,
        check=False,
    )


def test_the_app_spreads_its_requests_over_the_pods(tmp_path: Path) -> None:
    with PodServers().start(*PODS) as pods:
        zone = tmp_path / "cluster.zone"
        records = "".join(f"api.shop.svc.cluster.local. 5 IN A {ip}\n" for ip in PODS)
        zone.write_text(ORIGIN + records)
        result = run(zone, pods.port)
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines() == [f"200 {ip} /" for ip in PODS * 2]
        assert {seen.host for seen in pods.seen} == {f"api.shop.svc.cluster.local:{pods.port}"}


def test_the_app_says_what_discovery_saw_when_there_is_no_pod(tmp_path: Path) -> None:
    zone = tmp_path / "cluster.zone"
    zone.write_text(ORIGIN + "web.shop.svc.cluster.local. 5 IN A 127.77.2.20\n")
    result = run(zone, 8080)
    assert result.returncode == 2
    assert "error: no pod to connect to" in result.stderr
