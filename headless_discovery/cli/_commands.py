"""The one-shot commands: ``name``, ``resolve``, ``pick`` and ``mongo-uri``."""

from __future__ import annotations

import argparse
import getpass
import os
import time

from ..endpoints import Resolution
from ..errors import ConfigurationError
from ..lookup import mongo_uri, resolve
from ..mongo import OptionValue, mask_password
from ..names import ServiceName
from ..strategies import strategy_from_name
from ._common import (
    JsonObject,
    Result,
    Source,
    endpoint_json,
    family,
    port_number,
    positive_int,
    source_of,
    target_of,
)

# -- name --------------------------------------------------------------------------------------


def run_name(args: argparse.Namespace) -> Result:
    """Every DNS name form of the Service."""
    tgt = target_of(args)
    svc = tgt.name.service
    hostnames = list(
        dict.fromkeys([*([tgt.name.hostname] if tgt.name.hostname else []), *args.pod])
    )
    ports = list(
        dict.fromkeys([*([tgt.name.port_name] if tgt.name.port_name else []), *args.port_name])
    )
    pods = {h: svc.pod(h) for h in hostnames}
    srv = {p: svc.srv(p) for p in ports}
    data: JsonObject = {
        "service": svc.name,
        "namespace": svc.namespace,
        "namespace_source": tgt.namespace_source,
        "cluster_domain": svc.cluster_domain,
        "cluster_domain_source": tgt.cluster_domain_source,
        "fqdn": svc.fqdn,
        "query_name": svc.query_name,
        "short": svc.short,
        "pod_pattern": f"<hostname>.{svc.fqdn}",
        "srv_pattern": f"_<port-name>._tcp.{svc.fqdn}",
        "pods": pods,
        "srv": srv,
    }
    rows = [
        ("namespace", svc.namespace, f"from {tgt.namespace_source}"),
        ("cluster domain", svc.cluster_domain, f"from {tgt.cluster_domain_source}"),
        ("FQDN", svc.fqdn, ""),
        ("query name", svc.query_name, "trailing dot: one query, no search-list walk"),
        ("short", svc.short, "via a pod's search list, from any namespace"),
        ("bare", svc.name, f"via a pod's search list, only from namespace {svc.namespace}"),
    ]
    rows += [("per-pod", name, "") for name in pods.values()]
    if not pods:
        rows.append(("per-pod", data["pod_pattern"], "--pod HOSTNAME for a real one"))
    rows += [("SRV", name, "") for name in srv.values()]
    if not srv:
        rows.append(("SRV", data["srv_pattern"], "--port-name NAME for a real one"))
    lines = [f"Service         {svc.name}"]
    lines += [
        f"{label:<15} {value}" + (f"  ({note})" if note else "") for label, value, note in rows
    ]
    return Result(data, "\n".join(lines))


def add_name_command_options(parser: argparse.ArgumentParser) -> None:
    """``--pod`` and ``--port-name`` of ``name``."""
    parser.add_argument(
        "--pod",
        metavar="HOSTNAME",
        action="append",
        default=[],
        help="also show the per-pod name of this pod hostname (repeatable)",
    )
    parser.add_argument(
        "--port-name",
        metavar="NAME",
        action="append",
        default=[],
        help="also show the SRV name of this named port (repeatable)",
    )


# -- resolve and pick --------------------------------------------------------------------------


def lookup(args: argparse.Namespace) -> tuple[Resolution, float, Source]:
    """Resolve the command's SERVICE with its options: the result, elapsed ms, source."""
    tgt = target_of(args)
    src = source_of(args)
    name: ServiceName | str = tgt.name.service
    if tgt.name.hostname is not None or tgt.name.port_name is not None:
        name = tgt.name.fqdn + "."
    started = time.perf_counter()
    result = resolve(name, port=args.port, srv=args.srv, family=family(args), resolver=src.resolver)
    elapsed_ms = (time.perf_counter() - started) * 1000.0
    return result, elapsed_ms, src


def add_lookup_options(parser: argparse.ArgumentParser) -> None:
    """``--port``, ``--srv`` and ``--family``."""
    parser.add_argument(
        "--port",
        type=port_number,
        metavar="PORT",
        help="the port of every endpoint (address records carry none)",
    )
    parser.add_argument(
        "--srv",
        metavar="PORT_NAME",
        help="look up the SRV records of this named port instead: hostnames and ports",
    )
    parser.add_argument(
        "--family",
        choices=("4", "6", "any"),
        default="any",
        help="address family: A (4), AAAA (6) or both (default: any)",
    )


def _netloc_rows(result: Resolution) -> list[str]:
    srv = any(ep.hostname for ep in result)
    if not srv:
        return [f"  {ep.netloc()}" for ep in result]
    width = max(len(ep.netloc()) for ep in result)
    host_width = max(len(ep.hostname or "-") for ep in result)
    return [
        f"  {ep.netloc():<{width}}  {ep.hostname or '-':<{host_width}}  "
        f"priority {ep.priority}  weight {ep.weight}"
        for ep in result
    ]


def run_resolve(args: argparse.Namespace) -> Result:
    """The endpoints, TTL, answering nameserver and time taken."""
    result, elapsed_ms, src = lookup(args)
    data: JsonObject = {
        "name": result.name,
        "ttl": result.ttl,
        "nameserver": result.nameserver,
        "elapsed_ms": round(elapsed_ms, 3),
        "endpoints": [endpoint_json(ep) for ep in result],
    }
    ttl = "no TTL" if result.ttl is None else f"TTL {result.ttl:g} s"
    n = len(result)
    if src.dns and result.nameserver:
        origin = f"answered by {result.nameserver}"
    else:
        origin = f"from {src.description}"
    head = (
        f"{result.name}  {n} endpoint{'s' if n != 1 else ''}, {ttl}, {origin} in "
        f"{elapsed_ms:.1f} ms"
    )
    return Result(data, "\n".join([head, *_netloc_rows(result)]))


def add_pick_options(parser: argparse.ArgumentParser, names: tuple[str, ...]) -> None:
    """``--strategy``, ``--key`` and ``--count`` of ``pick``."""
    parser.add_argument(
        "--strategy",
        metavar="NAME",
        default="round_robin",
        help=f"the strategy: {', '.join(names)} (default: round_robin)",
    )
    parser.add_argument(
        "--key",
        metavar="KEY",
        help="the key to pick for (used by strategies that map keys to endpoints)",
    )
    parser.add_argument(
        "--count",
        metavar="N",
        type=positive_int,
        default=1,
        help="pick this many times in a row, as successive requests would (default: 1)",
    )


def run_pick(args: argparse.Namespace) -> Result:
    """What the strategy would choose, ``--count`` times."""
    strategy = strategy_from_name(args.strategy)
    result, _, _ = lookup(args)
    picks = [strategy.pick(result, args.key) for _ in range(args.count)]
    data: JsonObject = {
        "name": result.name,
        "strategy": args.strategy,
        "key": args.key,
        "picks": [endpoint_json(ep) for ep in picks],
        "endpoints": [endpoint_json(ep) for ep in result],
    }
    lines = [ep.netloc() + (f"  {ep.hostname}" if ep.hostname is not None else "") for ep in picks]
    return Result(data, "\n".join(lines))


# -- mongo-uri ---------------------------------------------------------------------------------


def add_mongo_options(parser: argparse.ArgumentParser) -> None:
    """The options of ``mongo-uri``."""
    parser.add_argument("--replica-set", metavar="RS", help="add replicaSet=RS")
    parser.add_argument(
        "--hosts",
        choices=("ip", "hostname"),
        help="seed with pod IPs (A records, default) or per-pod hostnames (SRV records of "
        "--port-name)",
    )
    parser.add_argument(
        "--srv",
        action="store_true",
        help="print a mongodb+srv:// URI for the Service instead (no lookup; the driver "
        "resolves; tls is then on by default)",
    )
    parser.add_argument(
        "--port",
        type=port_number,
        default=27017,
        metavar="PORT",
        help="the members' port for --hosts ip (default: 27017)",
    )
    parser.add_argument(
        "--port-name",
        metavar="NAME",
        default="mongodb",
        help="the named port with the SRV records (default: mongodb)",
    )
    parser.add_argument("--username", metavar="USER", help="the user name")
    secret = parser.add_mutually_exclusive_group()
    secret.add_argument(
        "--password-env",
        metavar="VAR",
        help="read the password from this environment variable (never from the command "
        "line: argv is visible in ps)",
    )
    secret.add_argument(
        "--password-prompt",
        action="store_true",
        help="ask for the password on the terminal",
    )
    parser.add_argument(
        "--show-password",
        action="store_true",
        help="print the password in the URI (default: masked as ****)",
    )
    parser.add_argument("--database", metavar="DB", help="the database path of the URI")
    parser.add_argument(
        "--option",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="a further URI option, e.g. tls=false or authSource=admin (repeatable)",
    )


def _password(args: argparse.Namespace) -> str | None:
    if args.password_env is not None:
        value = os.environ.get(args.password_env)
        if value is None:
            # The name is not repeated: it may be a password given by mistake for a name.
            raise ConfigurationError("the environment variable named by --password-env is not set")
        return value
    if args.password_prompt:
        return getpass.getpass(f"Password for {args.username or 'the user'}: ")
    return None


def _options(pairs: list[str]) -> dict[str, OptionValue]:
    options: dict[str, OptionValue] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigurationError(f"--option needs KEY=VALUE, not {pair!r}")
        previous = options.get(key)
        if previous is None:
            options[key] = value
        elif isinstance(previous, list):
            previous.append(value)
        else:
            options[key] = [str(previous), value]
    return options


def _seed_hosts(uri: str) -> list[str]:
    rest = uri.partition("://")[2]
    netloc = rest.split("/", 1)[0].split("?", 1)[0]
    return netloc.rpartition("@")[2].split(",")


def run_mongo_uri(args: argparse.Namespace) -> Result:
    """The MongoDB connection string, password masked unless ``--show-password``."""
    tgt = target_of(args)
    if tgt.name.hostname is not None or tgt.name.port_name is not None:
        raise ConfigurationError("mongo-uri needs a Service name, not a per-pod or SRV name")
    password = _password(args)
    options = _options(args.option)
    src = None if args.srv else source_of(args)
    uri = mongo_uri(
        tgt.name.service,
        port=args.port,
        replica_set=args.replica_set,
        username=args.username,
        password=password,
        database=args.database,
        options=options,
        hosts=args.hosts,
        srv=args.srv,
        port_name=args.port_name,
        resolver=None if src is None else src.resolver,
    )
    masked = password is not None and not args.show_password
    shown = mask_password(uri) if masked else uri
    warnings = []
    if args.srv and not any(k.lower() in ("tls", "ssl") for k in options):
        warnings.append(
            "tls defaults to true for mongodb+srv://; add --option tls=false if the members "
            "do not use TLS"
        )
    if args.srv:
        warnings.append(
            f"the driver looks up _{args.port_name}._tcp.{tgt.name.service.fqdn}: the Service "
            f"port must be named {args.port_name!r}"
        )
    if masked:
        warnings.append("the password is masked as ****; --show-password prints it")
    data: JsonObject = {
        "uri": shown,
        "scheme": "mongodb+srv" if args.srv else "mongodb",
        "hosts": _seed_hosts(uri),
        "replica_set": args.replica_set,
        "password_masked": masked,
        "warnings": warnings,
    }
    return Result(data, shown, notes=tuple(warnings))
