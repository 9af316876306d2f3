"""The ``headless-discovery`` parser, dispatch, and the one place errors become exit codes."""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from .. import errors
from ..errors import ConfigurationError, DiscoveryError, InvalidNameError
from ..strategies import STRATEGY_NAMES
from ._commands import (
    add_lookup_options,
    add_mongo_options,
    add_name_command_options,
    add_pick_options,
    run_mongo_uri,
    run_name,
    run_pick,
    run_resolve,
)
from ._common import (
    EXIT_DNS,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_NO_ENDPOINTS,
    EXIT_NOT_FOUND,
    EXIT_USAGE,
    Result,
    add_dns_options,
    add_name_options,
)
from ._doctor import add_doctor_options, run_doctor
from ._watch import add_watch_options, run_watch

# Adds a group of options to a command's parser.
_Options = Callable[[argparse.ArgumentParser], None]

PROG = "headless-discovery"

EXIT_CODES = """\
exit status:
  0  success (doctor: no check failed; watch: stopped by Ctrl-C, --count or --duration)
  1  any other error
  2  bad arguments or input: usage errors, invalid names, options that do not fit
  3  the name does not exist (NXDOMAIN): no such Service, wrong namespace, or no ready pod
  4  the name exists but has no usable records: no ready pods, no SRV for that port name
  5  DNS unreachable: timeout, SERVFAIL or REFUSED from the nameservers
  6  doctor: at least one check failed
  130  interrupted (Ctrl-C), except watch, which exits 0
"""

_DESCRIPTION = """\
Find the pods behind a Kubernetes headless Service through DNS: the names, the endpoints,
what a strategy picks, a MongoDB URI, changes as they happen, and why it does not work.
"""

_TOP_EPILOG = f"""\
examples:
  {PROG} demo            (the commands on an embedded zone: no cluster needed)
  {PROG} resolve mongodb-headless-service -n infrastructure --port 27017
  {PROG} doctor mongodb-headless-service -n infrastructure --mongo --replica-set rs0
  {PROG} COMMAND --help  (options and examples of a command)

{EXIT_CODES}
With --json every command prints one JSON object (watch: one per line); the shapes are in
docs/cli/. Errors with --json: {{"error": {{"type", "message", "exit_code", "name",
"nameserver"}}}} on stdout, and the message on stderr.
"""

_EXAMPLES = {
    "name": """\
examples:
  {prog} name mongodb-headless-service -n infrastructure
  {prog} name mongodb-headless-service.infrastructure --pod mongodb-0 --port-name mongodb
  {prog} name api-headless --json          (namespace and cluster domain from the pod)
""",
    "resolve": """\
examples:
  {prog} resolve mongodb-headless-service -n infrastructure --port 27017
  {prog} resolve mongodb-headless-service.infrastructure --srv mongodb
  {prog} resolve api-headless -n shop --family 4 --nameserver 10.96.0.10
  {prog} resolve api-headless.shop --zone-file demo --json   (demo: the embedded zone)
""",
    "pick": """\
examples:
  {prog} pick api-headless -n shop --port 8080
  {prog} pick api-headless -n shop --port 8080 --strategy random --count 5
  {prog} pick mongodb-headless-service -n infrastructure --srv mongodb --json
""",
    "mongo-uri": """\
examples:
  {prog} mongo-uri mongodb-headless-service -n infrastructure --replica-set rs0
  {prog} mongo-uri mongodb-headless-service -n infrastructure --hosts hostname \\
      --username app --password-env MONGO_PASSWORD --option authSource=admin
  {prog} mongo-uri mongodb-headless-service -n infrastructure --srv --option tls=false

The password is read from an environment variable (--password-env) or the terminal
(--password-prompt), never from the command line, where ps shows it to every user.
""",
    "watch": """\
examples:
  {prog} watch api-headless -n shop --port 8080
  {prog} watch mongodb-headless-service -n infrastructure --srv mongodb --json
  {prog} watch api-headless -n shop --count 1 --interval 1   (wait for one change)
  {prog} watch api-headless -n shop --stats   (and the figures of Discovery.stats())

Prints the current endpoints ("initial"), then one line per endpoint added or removed, until
Ctrl-C (exit status 0). With --zone-file, edits of the file are followed.
""",
    "doctor": """\
examples:
  {prog} doctor mongodb-headless-service -n infrastructure
  {prog} doctor mongodb-headless-service -n infrastructure --mongo --replica-set rs0
  {prog} doctor api-headless -n shop --try-namespace default --port-name http --json

Checks: where am I (pod, namespace, cluster domain, search list, ndots); the name resolves;
the UDP answer is complete; getaddrinfo sees every pod; SRV records of named ports; with
--mongo the mongodb+srv rules, replica-set name and seeding. Run it inside the pod (kubectl
exec) to see what the application sees. Exit status 6 when a check fails.
""",
    "demo": """\
examples:
  {prog} demo
  {prog} demo --json
""",
}


class _Parser(argparse.ArgumentParser):
    """argparse, but its errors never repeat a value that could be a secret."""

    def error(self, message: str) -> NoReturn:
        head, sep, rest = message.partition("unrecognized arguments: ")
        if sep:
            # "--pwd hunter2": show what looks like an option (up to "="), hide the rest.
            shown = [
                tok.partition("=")[0] if tok.startswith("-") else "<value>" for tok in rest.split()
            ]
            message = head + sep + " ".join(shown)
        super().error(message)


def _common_parent() -> _Parser:
    parent = _Parser(add_help=False, allow_abbrev=False)
    parent.add_argument(
        "--json", action="store_true", help="print JSON (shapes documented in docs/cli/)"
    )
    parent.add_argument(
        "-v", "--verbose", action="store_true", help="log what the library does (to stderr)"
    )
    return parent


def build_parser() -> argparse.ArgumentParser:
    """The ``headless-discovery`` argument parser with every command."""
    from .. import __version__
    from ._demo import run_demo

    parser = _Parser(
        prog=PROG,
        description=_DESCRIPTION,
        epilog=_TOP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    parent = _common_parent()

    def command(name: str, help_text: str, runner: object, *options: _Options) -> None:
        sub = commands.add_parser(
            name,
            help=help_text,
            description=help_text[:1].upper() + help_text[1:] + ".",
            epilog=_EXAMPLES[name].format(prog=PROG) + "\n" + EXIT_CODES,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            parents=[parent],
            allow_abbrev=False,
        )
        sub.set_defaults(runner=runner, parser=sub)
        for add in options:
            add(sub)

    names, lookup, dns = add_name_options, add_lookup_options, add_dns_options
    service = functools.partial(add_name_options, any_name=False)
    strategies = functools.partial(add_pick_options, names=STRATEGY_NAMES)
    command("name", "every DNS name form of a Service", run_name, names, add_name_command_options)
    command("resolve", "resolve a Service to its endpoints", run_resolve, names, lookup, dns)
    command(
        "pick", "what a selection strategy would choose", run_pick, names, strategies, lookup, dns
    )
    command(
        "mongo-uri",
        "the MongoDB connection string for a Service",
        run_mongo_uri,
        service,
        add_mongo_options,
        dns,
    )
    command(
        "watch",
        "follow a Service and print each change",
        run_watch,
        names,
        lookup,
        add_watch_options,
        dns,
    )
    command(
        "doctor",
        "explain why discovery of a Service does not work",
        run_doctor,
        service,
        add_doctor_options,
        dns,
    )
    command("demo", "the commands on an embedded demo zone (no cluster needed)", run_demo)
    return parser


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """Logs to whatever ``sys.stderr`` is at the time (tests capture it)."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter(f"{PROG}: %(levelname)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        record.levelname = record.levelname.lower()
        super().emit(record)


def exit_code(exc: DiscoveryError) -> int:
    """The exit status for a library exception."""
    if isinstance(exc, errors.ServiceNotFoundError):
        return EXIT_NOT_FOUND
    if isinstance(exc, errors.NoEndpointsError):
        return EXIT_NO_ENDPOINTS
    if isinstance(exc, (errors.ResolverTimeoutError, errors.ResolverUnavailableError)):
        return EXIT_DNS
    if isinstance(exc, (InvalidNameError, ConfigurationError)):
        return EXIT_USAGE
    return EXIT_ERROR


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _print_error(exc: Exception, code: int, as_json: bool) -> None:
    if as_json:
        error: dict[str, object] = {
            "type": type(exc).__name__,
            "message": _one_line(exc),
            "exit_code": code,
            "name": getattr(exc, "name", None) if isinstance(exc, errors.ResolutionError) else None,
            "nameserver": exc.nameserver if isinstance(exc, errors.ResolutionError) else None,
        }
        print(json.dumps({"error": error}, indent=2))
    print(f"{PROG}: error: {_one_line(exc)}", file=sys.stderr)


def _refuse_password_argument(argv: Sequence[str]) -> str | None:
    allowed = ("--password-env", "--password-prompt")
    for arg in argv:
        # Any --pass... that is not one of ours could carry a password, and argparse would
        # echo it back in its error ("unrecognized" or "ambiguous" argument).
        if arg.startswith("--pass") and arg.partition("=")[0] not in allowed:
            return (
                "passwords are not accepted on the command line, where ps shows them to "
                "every user: use --password-env VAR or --password-prompt"
            )
    return None


def emit(result: Result, as_json: bool) -> None:
    """Print a command's result: JSON, or text with notes on stderr."""
    if as_json:
        print(json.dumps(result.data, indent=2))
        return
    print(result.text)
    for note in result.notes:
        print(f"{PROG}: note: {note}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``headless-discovery`` command line; returns the exit status.

    Args:
        argv: The arguments without the program name; ``sys.argv[1:]`` when ``None``.
    """
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    refused = _refuse_password_argument(args_list)
    if refused is not None:
        parser.print_usage(sys.stderr)
        print(f"{PROG}: error: {refused}", file=sys.stderr)
        return EXIT_USAGE
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:  # --help, --version, and argparse's own errors (status 2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE

    logger = logging.getLogger("headless_discovery")
    handler = _Handler()
    logger.addHandler(handler)
    previous_level = logger.level
    logger.setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    try:
        if args.command == "watch":
            return run_watch(args)
        result: Result = args.runner(args)
        emit(result, args.json)
        return result.code
    except (InvalidNameError, ConfigurationError) as exc:
        args.parser.print_usage(sys.stderr)
        print(f"{args.parser.prog}: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except DiscoveryError as exc:
        code = exit_code(exc)
        _print_error(exc, code, args.json)
        return code
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (| head): not an error worth a traceback. Point stdout at
        # /dev/null so that flushing it at exit does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_ERROR
    except OSError as exc:
        _print_error(exc, EXIT_ERROR, args.json)
        return EXIT_ERROR
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)
