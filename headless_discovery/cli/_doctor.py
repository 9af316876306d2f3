"""``doctor``: run the checks of :mod:`headless_discovery.doctor` and render the findings."""

from __future__ import annotations

import argparse
import textwrap
from collections import Counter

from ..doctor import COMMON_PORT_NAMES, Report, diagnose, gather
from ..errors import ConfigurationError
from ._common import EXIT_DOCTOR_FAILED, EXIT_OK, Result, family, source_of, target_of

_WIDTH = 100
_INDENT = " " * 7
_LABELS = {"ok": "[ok]", "warn": "[WARN]", "fail": "[FAIL]", "skip": "[skip]"}


def add_doctor_options(parser: argparse.ArgumentParser) -> None:
    """``--mongo``, ``--replica-set``, ``--port-name`` and friends."""
    parser.add_argument(
        "--mongo",
        action="store_true",
        help="also check what a MongoDB client needs: mongodb+srv rules (TXT record, SRV "
        "targets, TLS default), replica-set name, hostname seeding",
    )
    parser.add_argument(
        "--replica-set",
        metavar="RS",
        help="the replica-set name you expect (compared with the TXT record)",
    )
    parser.add_argument(
        "--mongo-port-name",
        metavar="NAME",
        default="mongodb",
        help="the port name a mongodb+srv URI uses, srvServiceName (default: mongodb)",
    )
    parser.add_argument(
        "--port-name",
        metavar="NAME",
        action="append",
        default=[],
        help="a port name that must have SRV records; probed besides "
        f"{', '.join(COMMON_PORT_NAMES)} (repeatable)",
    )
    parser.add_argument(
        "--try-namespace",
        metavar="NS",
        action="append",
        default=[],
        help="when the name does not exist, look for the Service in this namespace too "
        "(repeatable)",
    )
    parser.add_argument(
        "--family",
        choices=("4", "6", "any"),
        default="any",
        help="address family: A (4), AAAA (6) or both (default: any)",
    )


def render(report: Report, source: str) -> str:
    """The findings as text: one block per check, then a summary line."""
    lines = [f"doctor: {report.service}  (records from {source})", ""]
    for finding in report.findings:
        lines.append(f"{_LABELS[finding.verdict]:<6} {finding.title}  [{finding.id}]")
        wrap = textwrap.TextWrapper(
            width=_WIDTH,
            initial_indent=_INDENT,
            subsequent_indent=_INDENT,
            break_on_hyphens=False,  # keep DNS names whole
        )
        lines.extend(wrap.wrap(finding.detail))
        if finding.advice:
            wrap.initial_indent = _INDENT + "fix: "
            wrap.subsequent_indent = _INDENT + "     "
            lines.extend(wrap.wrap(finding.advice))
        lines.append(f"{_INDENT}see: {finding.docs}")
    counts: Counter[str] = Counter(f.verdict for f in report.findings)
    summary = ", ".join(
        f"{counts[v]} {word}"
        for v, word in (
            ("fail", "failed"),
            ("warn", "warnings" if counts["warn"] != 1 else "warning"),
            ("ok", "ok"),
            ("skip", "skipped"),
        )
    )
    lines += ["", summary]
    return "\n".join(lines)


def run_doctor(args: argparse.Namespace) -> Result:
    """Every check, with a verdict; exit code 6 when one fails."""
    if args.replica_set is not None and not args.mongo:
        raise ConfigurationError("--replica-set is checked only with --mongo")
    tgt = target_of(args)
    if tgt.name.hostname is not None or tgt.name.port_name is not None:
        raise ConfigurationError("doctor needs a Service name, not a per-pod or SRV name")
    src = source_of(args)
    observations = gather(
        tgt.name.service,
        resolver=src.resolver,
        environment=tgt.environment,
        namespace_source=tgt.namespace_source,
        cluster_domain_source=tgt.cluster_domain_source,
        source=src.description,
        family=family(args),
        port_names=args.port_name,
        other_namespaces=args.try_namespace,
        mongo=args.mongo,
        mongo_port_name=args.mongo_port_name,
        replica_set=args.replica_set,
        compare_libc=src.system,
    )
    report = diagnose(observations)
    return Result(
        report.to_json(),
        render(report, src.description),
        EXIT_OK if report.ok else EXIT_DOCTOR_FAILED,
    )
