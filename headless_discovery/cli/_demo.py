"""``demo``: the commands on the embedded demo zone, as an operator would type them."""

from __future__ import annotations

import argparse
import json
from importlib.resources import as_file, files

from ._common import EXIT_OK, JsonObject, Result

ZONE = "demo-cluster.zone"

# Each demo step: the arguments an operator would type, without the zone file.
STEPS: tuple[tuple[str, ...], ...] = (
    ("name", "mongodb-headless-service", "-n", "infrastructure", "--pod", "mongodb-0"),
    ("resolve", "mongodb-headless-service", "-n", "infrastructure", "--port", "27017"),
    ("resolve", "mongodb-headless-service", "-n", "infrastructure", "--srv", "mongodb"),
    ("pick", "api-headless", "-n", "shop", "--port", "8080", "--count", "4"),
    ("mongo-uri", "mongodb-headless-service", "-n", "infrastructure", "--replica-set", "rs0"),
    (
        "mongo-uri",
        "mongodb-headless-service",
        "-n",
        "infrastructure",
        "--replica-set",
        "rs0",
        "--hosts",
        "hostname",
    ),
    (
        "doctor",
        "mongodb-headless-service",
        "-n",
        "infrastructure",
        "--mongo",
        "--replica-set",
        "rs0",
    ),
)

# The demo zone's cluster domain: given explicitly so that the demo gives the same output in
# a pod of a cluster with another domain.
_DOMAIN = ("--cluster-domain", "cluster.local")


def run_demo(args: argparse.Namespace) -> Result:
    """Run every step on the embedded zone; text shows each command line and its output."""
    from ._app import PROG, build_parser

    parser = build_parser()
    texts: list[str] = []
    steps: list[JsonObject] = []
    code = EXIT_OK
    with as_file(files("headless_discovery") / "data" / ZONE) as path:
        for step in STEPS:
            offline = step[0] != "name"
            argv = [*step, *_DOMAIN, *(("--zone-file", ZONE) if offline else ())]
            real = [*step, *_DOMAIN, *(("--zone-file", str(path)) if offline else ())]
            step_args = parser.parse_args(real)
            result: Result = step_args.runner(step_args)
            code = max(code, result.code)
            # Show the zone as the command line does, not where the package is installed.
            text = result.text.replace(str(path), ZONE)
            data = json.loads(json.dumps(result.data).replace(json.dumps(str(path))[1:-1], ZONE))
            texts.append(f"$ {' '.join([PROG, *argv])}\n{text}")
            steps.append({"argv": argv, "exit_code": result.code, "output": data})
    intro = (
        f"The commands of {PROG} on an embedded zone ({ZONE}): a MongoDB replica set "
        "behind the headless Service mongodb-headless-service in namespace infrastructure, "
        "and a three-pod API behind api-headless in namespace shop. No cluster needed."
    )
    return Result({"zone": ZONE, "steps": steps}, "\n\n".join([intro, *texts]), code)
