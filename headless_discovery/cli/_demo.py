"""``demo``: the commands on the embedded demo zone, as an operator would type them."""

from __future__ import annotations

import argparse
import shlex

from ._common import DEMO_ZONE, EXIT_OK, JsonObject, Result

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
    """Run every step on the embedded zone; text shows each command line and its output.

    Each command line is one a user can paste: ``--zone-file demo`` names the embedded zone
    wherever a zone file is taken.
    """
    from ._app import PROG, build_parser

    parser = build_parser()
    texts: list[str] = []
    steps: list[JsonObject] = []
    code = EXIT_OK
    for step in STEPS:
        offline = step[0] != "name"
        argv = [*step, *_DOMAIN, *(("--zone-file", DEMO_ZONE) if offline else ())]
        step_args = parser.parse_args(argv)
        result: Result = step_args.runner(step_args)
        code = max(code, result.code)
        texts.append(f"$ {shlex.join([PROG, *argv])}\n{result.text}")
        steps.append({"argv": argv, "exit_code": result.code, "output": result.data})
    intro = (
        f"The commands of {PROG} on the embedded demo zone (--zone-file {DEMO_ZONE}): a "
        "MongoDB replica set behind the headless Service mongodb-headless-service in namespace "
        "infrastructure, a three-pod API behind api-headless in namespace shop, and the other "
        "Services of the documentation. No cluster needed; paste any command below."
    )
    return Result({"zone": DEMO_ZONE, "steps": steps}, "\n\n".join([intro, *texts]), code)
