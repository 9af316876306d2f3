"""A real BIND 9 (``named``) serving a :class:`~tests.harness.cluster.Cluster`, changed live.

:class:`BindServer` renders the model into zone files in a fresh temporary directory, runs
``named -g`` as a child process (on loopback, or inside a network namespace on port 53), and
waits until every zone answers its SOA. Changes to the model reach the running server as
RFC 2136 dynamic updates (:meth:`BindServer.sync`), the way pods come and go while the code
under test runs. Every query is logged, so a test can count the queries its code made.

Traps this module handles (see ``test-infrastructure.md``):

- ``named -g`` sends *all* logging to stderr and ignores the ``logging`` statement, so the query
  log is the server log file; query lines are picked out of it. Each line is written before the
  answer is sent, so once a client has its answer, its query is in the log.
- BIND 9.18.28+ refuses more than 100 records per name unless ``max-records-per-type 0``.
- Without a root zone a server with ``recursion no`` answers REFUSED for unknown names; the model
  renders one, so they are NXDOMAIN as in a cluster.
- Built-in empty zones (``10.in-addr.arpa`` and friends) would hide pod PTR records:
  ``empty-zones-enable no``.
- Dynamic updates are journaled and replayed on start; every start uses a new directory.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, NamedTuple, TypeVar

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.update

from tests.harness.cluster import Cluster
from tests.harness.netns import IP, NetnsThread
from tests.harness.requirements import find_named, require_named

__all__ = ["BindError", "BindServer", "Query", "require_named"]

T = TypeVar("T")

# Records per UPDATE message: keeps each message well under the 64 KiB TCP message limit
# (an SRV record with a compressed target is about 30 bytes).
_UPDATE_BATCH = 1000

# Seconds to wait for named to exit after SIGTERM before SIGKILL.
_STOP_TIMEOUT = 5.0

# One query-log line (BIND 9.18):
#   client @0x7f.. 127.0.0.1#41000 (name): query: name IN A +E(0)K (127.0.0.1)
# The flags start with + (recursion desired) or -, and hold T when the query came over TCP.
_QUERY_LINE = re.compile(r" query: (?P<name>\S+) (?P<rdclass>\S+) (?P<rdtype>\S+) (?P<flags>\S+) ")


class BindError(RuntimeError):
    """``named`` failed to start, died, or refused a dynamic update."""


class Query(NamedTuple):
    """One query the server received, from its query log.

    Attributes:
        name: The name asked for, lower case, without the trailing dot.
        rdtype: The record type mnemonic (``A``, ``SRV``, ...).
        transport: ``"udp"`` or ``"tcp"``.
    """

    name: str
    rdtype: str
    transport: str


class BindServer:
    """A ``named`` process serving a cluster model; a context manager.

    Args:
        cluster: The model to serve. The server keeps a reference: change the model, then call
            :meth:`sync` to push the change.
        address: The address to listen on. Outside a namespace it must be assigned to an
            interface (``127.0.0.1`` or ``::1``); inside one, the caller assigns it first.
        port: The port; default 53 inside a namespace, else a free high port.
        netns: Run ``named`` inside this network namespace (``ip netns exec``).
        start_timeout: Seconds to wait for every zone to answer.

    Example:
        >>> cluster = Cluster()
        >>> mongo = cluster.statefulset("mongodb", "db", 3)
        >>> with BindServer(cluster) as server:                     # doctest: +SKIP
        ...     cluster.scale(mongo, 5)
        ...     server.sync()
        ...     server.query("mongodb.db.svc.cluster.local", "A").answer
    """

    def __init__(
        self,
        cluster: Cluster,
        address: str = "127.0.0.1",
        port: int | None = None,
        netns: str | None = None,
        *,
        start_timeout: float = 10.0,
    ) -> None:
        self.cluster = cluster
        self.nameserver = str(ipaddress.ip_address(address))
        self.netns = netns
        self.port = port if port is not None else (53 if netns is not None else 0)
        self.start_timeout = start_timeout
        self.directory: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._thread: NetnsThread | None = None
        self._served: Cluster | None = None
        self._log_offset = 0

    # -- life cycle -----------------------------------------------------------------------

    def __enter__(self) -> BindServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Whether the ``named`` process is running."""
        return self._process is not None and self._process.poll() is None

    @property
    def log_path(self) -> Path | None:
        """The server's log (``named -g`` output, query log included) while it runs."""
        return self.directory / "named.log" if self.directory is not None else None

    def start(self) -> BindServer:
        """Write the configuration and zones, start ``named`` and wait until it answers.

        Serves the model as it is now. Calling it on a running server does nothing.

        Raises:
            BindError: ``named`` is missing, exited, or did not answer within ``start_timeout``
                (the message holds the end of its log).
        """
        if self.running:
            return self
        # A server that died by itself still has its log, directory and thread: release them.
        self.stop()
        named = find_named()
        if named is None:
            raise BindError("BIND 9 is not installed (no named): apt-get install bind9")
        with contextlib.ExitStack() as undo:
            undo.callback(self.stop)
            if self.port == 0:
                self.port = _free_port(self.nameserver)
            if self.netns is not None and self._thread is None:
                self._thread = NetnsThread(self.netns)
            self.directory = Path(tempfile.mkdtemp(prefix="hd-bind-"))
            served = self.cluster.copy()
            config = self._write_files(self.directory, served)
            self._log = (self.directory / "named.log").open("wb")
            command = [named, "-g", "-c", str(config)]
            if self.netns is not None:
                command = [IP, "netns", "exec", self.netns, *command]
            self._process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT
            )
            self._wait_ready(served)
            self._served = served
            undo.pop_all()
        # Probe queries are in the log already (logged before answered): start counting after.
        self.clear_queries()
        return self

    def stop(self) -> None:
        """Stop ``named`` (SIGTERM, then SIGKILL after 5 s) and remove its files. Idempotent."""
        process, self._process = self._process, None
        try:
            if process is not None:
                _terminate(process, _STOP_TIMEOUT)
        finally:
            if self._log is not None:
                self._log.close()
                self._log = None
            if self._thread is not None:
                self._thread.close()
                self._thread = None
            if self.directory is not None:
                shutil.rmtree(self.directory, ignore_errors=True)
                self.directory = None
            self._served = None

    def restart(self) -> None:
        """Stop and start again on the same address and port, serving the model as it is.

        For "DNS down, then back" tests; the query log starts empty.

        Raises:
            BindError: As :meth:`start`.
        """
        self.stop()
        self.start()

    # -- changing what is served ----------------------------------------------------------

    def apply(self, cluster: Cluster) -> None:
        """Serve ``cluster`` from now on: send the difference to the running server.

        Raises:
            ValueError: ``cluster`` has another domain (the zones are fixed at start).
            BindError: As :meth:`sync`.
        """
        if cluster.domain != self.cluster.domain:
            raise ValueError(
                f"cannot change the cluster domain of a running server to {cluster.domain}"
            )
        self.cluster = cluster
        self.sync()

    def sync(self) -> None:
        """Push the changes made to :attr:`cluster` since the last sync as dynamic updates.

        Each changed record set (name and type) is replaced or deleted; SOA records are left to
        BIND, which raises the serial itself. Visible to the next query.

        Raises:
            BindError: The server is not running or refused an update.
        """
        if self._served is None or not self.running:
            raise BindError("the DNS server is not running")
        target = self.cluster.copy()
        old = _rrsets(self._served)
        new = _rrsets(target)
        updates: dict[str, list[dns.update.UpdateMessage]] = {}
        sizes: dict[str, int] = {}
        for key in sorted(old.keys() | new.keys()):
            if old.get(key) == new.get(key):
                continue
            name, rdtype = key
            zone = target.zone_of(name)
            rdatas = new.get(key, frozenset())
            messages = updates.setdefault(zone, [])
            if not messages or sizes[zone] + len(rdatas) > _UPDATE_BATCH:
                messages.append(dns.update.UpdateMessage(zone))
                sizes[zone] = 0
            sizes[zone] += max(1, len(rdatas))
            if rdatas:
                rdataset = dns.rdataset.from_text_list(
                    dns.rdataclass.IN, rdtype, target.ttl, sorted(rdatas)
                )
                messages[-1].replace(name, rdataset)
            else:
                messages[-1].delete(name, rdtype)
        for zone, messages in updates.items():
            for message in messages:
                self._send_update(zone, message)
        self._served = target

    # -- talking to the server ------------------------------------------------------------

    def query(self, name: str, rdtype: str, *, tcp: bool = False) -> dns.message.Message:
        """Send one query to the server (from inside its namespace if it has one).

        Args:
            name: The name to look up (made absolute).
            rdtype: The record type.
            tcp: Ask over TCP; over UDP a large answer comes back truncated (TC).

        Raises:
            dns.exception.Timeout: No answer within 2 s.
            BindError: The server runs in a namespace and is stopped.
        """
        message = dns.message.make_query(name if name.endswith(".") else name + ".", rdtype)
        if tcp:
            return self._call(dns.query.tcp, message, self.nameserver, 2.0, self.port)
        return self._call(dns.query.udp, message, self.nameserver, 2.0, self.port)

    def queries(self, name: str | None = None, rdtype: str | None = None) -> list[Query]:
        """The queries received since start or :meth:`clear_queries`, oldest first.

        Args:
            name: Only queries for this name (case and trailing dot do not matter).
            rdtype: Only queries of this type (``"A"``, ``"SRV"``, ...).
        """
        if self.log_path is None:
            return []
        with self.log_path.open("rb") as log:
            log.seek(self._log_offset)
            text = log.read().decode("utf-8", "replace")
        wanted_name = name.lower().rstrip(".") if name is not None else None
        wanted_type = rdtype.upper() if rdtype is not None else None
        found = []
        for line in text.splitlines():
            match = _QUERY_LINE.search(line)
            if match is None:
                continue
            query = Query(
                name=match["name"].lower().rstrip("."),
                rdtype=match["rdtype"].upper(),
                transport="tcp" if "T" in match["flags"] else "udp",
            )
            if wanted_name is not None and query.name != wanted_name:
                continue
            if wanted_type is not None and query.rdtype != wanted_type:
                continue
            found.append(query)
        return found

    def wait_for_queries(
        self,
        count: int,
        name: str | None = None,
        rdtype: str | None = None,
        *,
        timeout: float = 2.0,
    ) -> list[Query]:
        """Wait until at least ``count`` matching queries are logged, or ``timeout`` passes.

        Queries a client has an answer to are logged already; this is for queries made by
        another process or thread that the test cannot wait on directly.

        Returns:
            The matching queries (possibly fewer than ``count`` after the timeout).
        """
        deadline = time.monotonic() + timeout
        while True:
            found = self.queries(name, rdtype)
            if len(found) >= count or time.monotonic() >= deadline:
                return found
            time.sleep(0.01)

    def clear_queries(self) -> None:
        """Forget the queries logged so far: :meth:`queries` counts from now on."""
        if self.log_path is not None:
            self._log_offset = self.log_path.stat().st_size

    def log_tail(self, lines: int = 30, *, queries: bool = False) -> str:
        """The last ``lines`` lines of the server log ("" when not running).

        Args:
            lines: How many lines.
            queries: Include query-log lines; left out by default, since while named starts
                they are mostly the harness's own probes and would hide why a zone failed.
        """
        if self.log_path is None or not self.log_path.exists():
            return ""
        text = self.log_path.read_bytes().decode("utf-8", "replace")
        kept = [
            line
            for line in text.splitlines()
            if queries or not (_QUERY_LINE.search(line) or " query failed " in line)
        ]
        return "\n".join(kept[-lines:])

    # -- internals ------------------------------------------------------------------------

    def _call(self, fn: Callable[..., T], *args: object) -> T:
        """Run ``fn`` where the server is reachable: in its namespace, or right here.

        Raises:
            BindError: The server runs in a namespace and is stopped. Never fall back to this
                thread: outside the namespace its address is routed to the real network.
        """
        if self.netns is None:
            return fn(*args)
        if self._thread is None:
            raise BindError(f"the DNS server in network namespace {self.netns} is not running")
        return self._thread.call(fn, *args)

    def _write_files(self, directory: Path, cluster: Cluster) -> Path:
        zones = []
        for zone, text in cluster.render_zone_files().items():
            filename = "root.zone" if zone == "." else f"{zone.rstrip('.')}.zone"
            (directory / filename).write_text(text)
            # The root zone only turns REFUSED into NXDOMAIN; it is never updated.
            update = "" if zone == "." else " allow-update { 127.0.0.0/8; ::1; localhost; };"
            zones.append(f'zone "{zone}" {{ type primary; file "{filename}";{update} }};\n')
        if ipaddress.ip_address(self.nameserver).version == 4:
            listen = (
                f"listen-on port {self.port} {{ {self.nameserver}; }}; listen-on-v6 {{ none; }};"
            )
        else:
            listen = (
                f"listen-on {{ none; }}; listen-on-v6 port {self.port} {{ {self.nameserver}; }};"
            )
        config = directory / "named.conf"
        config.write_text(
            "options {\n"
            f'    directory "{directory}";\n'
            "    pid-file none;\n"
            "    session-keyfile none;\n"
            f"    {listen}\n"
            "    recursion no;\n"
            "    dnssec-validation no;\n"
            "    notify no;\n"
            "    empty-zones-enable no;\n"
            "    max-records-per-type 0;\n"
            "    max-types-per-name 0;\n"
            "    querylog yes;\n"
            "};\n"
            # No rndc: an empty controls statement stops named looking for rndc.key.
            "controls { };\n" + "".join(zones)
        )
        return config

    def _wait_ready(self, cluster: Cluster) -> None:
        """Poll every zone's SOA until all answer NOERROR (a zone can fail to load silently)."""
        assert self._process is not None
        deadline = time.monotonic() + self.start_timeout
        pending = [*cluster.zones, "."]
        while pending:
            if self._process.poll() is not None:
                raise BindError(
                    f"named exited with status {self._process.returncode} at start:\n"
                    f"{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise BindError(
                    f"named on {self.nameserver}#{self.port} did not serve zone {pending[0]} "
                    f"within {self.start_timeout} s:\n{self.log_tail()}"
                )
            try:
                # TCP: a port nobody listens on yet is refused at once, where UDP would wait out
                # a timeout.
                answer = self._call(
                    dns.query.tcp,
                    dns.message.make_query(pending[0], "SOA"),
                    self.nameserver,
                    0.5,
                    self.port,
                )
            except (OSError, dns.exception.DNSException):
                time.sleep(0.01)
                continue
            if answer.rcode() == dns.rcode.NOERROR and answer.answer:
                pending.pop(0)
            else:
                time.sleep(0.01)

    def _send_update(self, zone: str, message: dns.update.UpdateMessage) -> None:
        response = self._call(dns.query.tcp, message, self.nameserver, 5.0, self.port)
        if response.rcode() != dns.rcode.NOERROR:
            raise BindError(
                f"dynamic update of zone {zone} refused: {dns.rcode.to_text(response.rcode())}"
            )


def _rrsets(cluster: Cluster) -> dict[tuple[str, str], frozenset[str]]:
    """The model's records as record sets: (name, type) -> rdata texts. SOA is BIND's."""
    rrsets: dict[tuple[str, str], set[str]] = {}
    for record in cluster.records():
        if record.rdtype != "SOA":
            rrsets.setdefault((record.name, record.rdtype), set()).add(record.rdata)
    return {key: frozenset(rdatas) for key, rdatas in rrsets.items()}


def _free_port(address: str) -> int:
    """A port free for both UDP and TCP on ``address`` (DNS serves both on one port).

    Raises:
        BindError: No such port found in 50 tries.
    """
    family = socket.AF_INET if ipaddress.ip_address(address).version == 4 else socket.AF_INET6
    for _ in range(50):
        with socket.socket(family, socket.SOCK_STREAM) as tcp:
            tcp.bind((address, 0))
            port: int = tcp.getsockname()[1]
            with socket.socket(family, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind((address, port))
                except OSError:
                    continue
                return port
    raise BindError(f"no free port on {address}")


def _terminate(process: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM ``process`` and reap it; SIGKILL it if it does not exit within ``timeout``."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
