"""Property tests over the wire: any name to the dnspython resolvers, any reply from the server.

- Any text given to ``DnsResolver``/``AsyncDnsResolver`` directly (no name checks in front)
  gives an answer or one of our exceptions, quickly.
- Any well-formed reply (any rcode, TC, CNAMEs, records of other names in the answer and
  additional sections) gives endpoints taken only from records of the name asked (or its
  CNAME targets, or its SRV targets), or one of our exceptions, within the lifetime: records
  planted at other names never become endpoints.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from headless_discovery import (
    AsyncDnsResolver,
    DiscoveryError,
    DnsResolver,
    InvalidNameError,
    Resolution,
    aresolve,
    resolve,
)
from tests.faults.cases import LIFETIME, SLACK, TIMEOUT, ZONE
from tests.faults.server import FaultServer, rrset

pytestmark = pytest.mark.timeout(120)
WIRE = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

PIECES = ["api", "shop", "svc", "cluster", "local", ".", ".", "\\", "\\0", "\\999", "-", "_"]
PIECES += ["..", "@", " ", "\x00", "é", "\u212a", "a" * 63, "b" * 64, "xn--", "*", "(", '"']
names = st.one_of(
    st.text(max_size=300), st.lists(st.sampled_from(PIECES), max_size=30).map("".join)
)


@WIRE
@given(names)
def test_any_name_to_the_resolvers(name: str) -> None:
    with FaultServer(ZONE) as server:
        sync = DnsResolver([server.address], server.port, timeout=TIMEOUT, lifetime=LIFETIME)
        started = time.monotonic()
        try:
            sync.resolve_addresses(name)
        except DiscoveryError as exc:
            assert not isinstance(exc, InvalidNameError) or isinstance(exc, ValueError)
        assert time.monotonic() - started <= LIFETIME + SLACK

        async def main() -> None:
            resolver = AsyncDnsResolver(
                [server.address], server.port, timeout=TIMEOUT, lifetime=LIFETIME
            )
            with contextlib.suppress(DiscoveryError):
                await resolver.aresolve_srv(name)

        started = time.monotonic()
        asyncio.run(main())
        assert time.monotonic() - started <= LIFETIME + SLACK


# -- replies of any shape -------------------------------------------------------------------

SVC = "db.prod.svc.cluster.local."
TARGET = "real.prod.svc.cluster.local."
OTHERS = ("evil.example.", "db-9.db.prod.svc.cluster.local.", "prod.svc.cluster.local.")
POISON4 = [f"192.0.2.{i}" for i in range(1, 5)]
POISON6 = ["2001:db8::1", "2001:db8::2"]


@dataclass(frozen=True)
class Plan:
    """How the server answers every query of one example."""

    rcode: str
    tc: bool
    cname: bool
    v4: tuple[str, ...]
    v6: tuple[str, ...]
    targets: tuple[str, ...]
    ttl: int
    poison_answer: bool
    poison_additional: bool

    def reply(self, query: dns.message.Message) -> dns.message.Message:
        reply = dns.message.make_response(query)
        reply.set_rcode(dns.rcode.from_text(self.rcode))
        if self.tc:
            reply.flags |= dns.flags.TC
        question = query.question[0]
        qtype = dns.rdatatype.to_text(question.rdtype)
        owner = question.name.to_text()
        if self.cname:
            reply.answer.append(rrset(owner, "CNAME", [TARGET]))
            owner = TARGET
        if qtype == "A" and self.v4:
            reply.answer.append(rrset(owner, "A", list(self.v4), self.ttl))
        if qtype == "AAAA" and self.v6:
            reply.answer.append(rrset(owner, "AAAA", list(self.v6), self.ttl))
        if qtype == "SRV" and self.targets:
            srv = [f"0 1 27017 {target}" for target in self.targets]
            reply.answer.append(rrset(owner, "SRV", srv, self.ttl))
            for target in self.targets[:1]:  # the others are looked up
                if self.v4:
                    reply.additional.append(rrset(target, "A", list(self.v4), self.ttl))
        for other in OTHERS:
            if self.poison_answer:
                reply.answer.append(rrset(other, "A", POISON4))
                reply.answer.append(rrset(other, "SRV", [f"0 1 27017 {OTHERS[0]}"]))
            if self.poison_additional:
                reply.additional.append(rrset(other, "A", POISON4))
                reply.additional.append(rrset(other, "AAAA", POISON6))
        return reply


plans = st.builds(
    Plan,
    rcode=st.sampled_from(
        ["NOERROR"] * 6 + ["NXDOMAIN", "SERVFAIL", "REFUSED", "FORMERR", "NOTIMP", "YXDOMAIN"]
    ),
    tc=st.sampled_from([False] * 5 + [True]),
    cname=st.booleans(),
    v4=st.lists(st.ip_addresses(v=4, network="10.0.0.0/8").map(str), max_size=4).map(tuple),
    v6=st.lists(st.ip_addresses(v=6, network="fd00::/8").map(str), max_size=3).map(tuple),
    targets=st.lists(st.sampled_from([f"db-{i}.{SVC}" for i in range(3)]), max_size=3).map(tuple),
    ttl=st.integers(0, 2**31 - 1),
    poison_answer=st.booleans(),
    poison_additional=st.booleans(),
)


def _lookup(driver: str, address: str, port: int, srv: bool) -> Resolution:
    kwargs: dict[str, object] = {"srv": "mongodb"} if srv else {"port": 27017}
    if driver == "sync":
        resolver = DnsResolver([address], port, timeout=TIMEOUT, lifetime=LIFETIME)
        return resolve("db.prod", resolver=resolver, **kwargs)  # type: ignore[arg-type]

    async def main() -> Resolution:
        resolver = AsyncDnsResolver([address], port, timeout=TIMEOUT, lifetime=LIFETIME)
        return await aresolve("db.prod", resolver=resolver, **kwargs)  # type: ignore[arg-type]

    return asyncio.run(main())


@WIRE
@given(plans, st.booleans(), st.sampled_from(["sync", "async"]))
def test_any_reply_gives_only_records_of_the_name_asked(plan: Plan, srv: bool, driver: str) -> None:
    with FaultServer({}, fault="custom", responder=plan.reply) as server:
        started = time.monotonic()
        try:
            result = _lookup(driver, server.address, server.port, srv)
        except DiscoveryError as exc:
            event(f"raised {type(exc).__name__}")
            result = None
        assert time.monotonic() - started <= LIFETIME + SLACK
    if result is None:
        return
    event(f"{len(result)} endpoints")
    assert plan.rcode == "NOERROR"
    addresses = {ep.address for ep in result}
    assert addresses <= set(plan.v4) | set(plan.v6), addresses
    if srv:
        assert {ep.hostname for ep in result} <= {t.rstrip(".") for t in plan.targets}
        assert {ep.port for ep in result} == {27017}
