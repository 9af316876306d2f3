"""The DNS client's sans-I/O core, driven by hand: literal replies, a fake clock, a seeded
random generator, no socket. Replies are built with dnspython's message builder."""

from __future__ import annotations

import itertools
import logging
import random
from collections.abc import Sequence
from typing import TypeVar

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rrset
import pytest

from headless_discovery import (
    AddressAnswer,
    InvalidNameError,
    NoEndpointsError,
    ResolverTimeoutError,
    ResolverUnavailableError,
    ServiceNotFoundError,
)
from headless_discovery.resolvers import _dnscore as core
from headless_discovery.resolvers._dnsclient import _map_client_errors, _NameRefused
from headless_discovery.resolvers._wire import MalformedMessage, Reply, SrvData

S1, S2, S3 = (core.Server(ip, ip, 4) for ip in ("10.0.0.1", "10.0.0.2", "10.0.0.3"))
QNAME = "mongodb.db.svc.cluster.local."
T = TypeVar("T")


class Clock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def config(servers: Sequence[core.Server] = (S1, S2, S3), **kwargs: object) -> core.ClientConfig:
    options: dict[str, object] = {"port": 53, "timeout": 2.0, "lifetime": 5.0, **kwargs}
    return core.ClientConfig(servers=tuple(servers), **options)  # type: ignore[arg-type]


def name(text: str) -> core.Name:
    return core.Name(tuple(x.encode() for x in text.rstrip(".").split(".")), text.endswith("."))


def labels(text: str) -> tuple[bytes, ...]:
    return name(text).labels


def lookup(
    cfg: core.ClientConfig | None = None,
    text: str = QNAME,
    *,
    clock: Clock | None = None,
    rng: random.Random | None = None,
) -> core.Lookup[str]:
    clock = clock or Clock()
    return core.Lookup(
        cfg or config(),
        name(text),
        core.A,
        display=text,
        started=clock(),
        clock=clock,
        rng=rng or random.Random(7),
    )


def send(step: object) -> core.Send:
    assert isinstance(step, core.Send), step
    return step


def reply(
    to: core.Send,
    *records: str,
    rcode: dns.rcode.Rcode = dns.rcode.NOERROR,
    truncated: bool = False,
    additional: Sequence[str] = (),
) -> Reply:
    """The reply to ``to``; each record as master-file text ``"owner ttl TYPE data"``."""
    query = dns.message.from_wire(to.query)
    msg = dns.message.make_response(query)
    msg.set_rcode(rcode)
    if truncated:
        msg.flags |= dns.flags.TC
    for section, texts in ((msg.answer, records), (msg.additional, additional)):
        for text in texts:
            owner, ttl, rdtype, data = text.split(" ", 3)
            section.append(dns.rrset.from_text(owner, int(ttl), "IN", rdtype, data))
    wire = Reply(msg.to_wire())
    assert to.matches(wire)
    wire.read(1 << 30)
    return wire


# -- search candidates ---------------------------------------------------------------------


def test_without_search_a_relative_name_is_asked_as_absolute() -> None:
    cfg = config(suffixes=(labels("svc.cluster.local"),))
    assert cfg.candidates(name("mongodb.db")) == [name("mongodb.db.")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # ndots 2: up to two dots, the search list comes first
        ("db", ["db.svc.cluster.local.", "db.cluster.local.", "db."]),
        (
            "mongodb.db",
            ["mongodb.db.svc.cluster.local.", "mongodb.db.cluster.local.", "mongodb.db."],
        ),
        # more labels than ndots: the name as it is first
        (
            "a.mongodb.db",
            ["a.mongodb.db.", "a.mongodb.db.svc.cluster.local.", "a.mongodb.db.cluster.local."],
        ),
        ("mongodb.db.", ["mongodb.db."]),  # absolute: only itself
    ],
)
def test_search_candidates_follow_ndots(text: str, expected: list[str]) -> None:
    cfg = config(
        search=True, ndots=2, suffixes=(labels("svc.cluster.local"), labels("cluster.local"))
    )
    assert [c.text for c in cfg.candidates(name(text))] == expected


def test_a_candidate_longer_than_255_bytes_is_left_out() -> None:
    long_suffix = tuple(b"x" * 63 for _ in range(3))  # 192 bytes on the wire
    cfg = config(search=True, ndots=5, suffixes=(long_suffix, labels("local")))
    at_limit = "a" * 59 + ".b"  # 63 bytes: with the suffix, 255 on the wire
    assert len(cfg.candidates(name(at_limit))) == 3
    over = "a" * 60 + ".b"
    # dnspython, the oracle, agrees on the limit.
    dns.name.from_text(at_limit + "." + ".".join(["x" * 63] * 3) + ".")
    with pytest.raises(dns.name.NameTooLong, match="> 255 octets"):
        dns.name.from_text(over + "." + ".".join(["x" * 63] * 3) + ".")
    assert [c.text for c in cfg.candidates(name(over))] == [f"{over}.local.", f"{over}."]


# -- server order, rotate, query IDs -------------------------------------------------------


def test_servers_are_tried_in_order_without_rotate() -> None:
    for seed in range(5):
        lk = lookup(rng=random.Random(seed))
        assert send(lk.next_step()).server == S1


def test_rotate_shuffles_with_the_given_generator() -> None:
    cfg = config(rotate=True)
    for seed in range(6):
        expected = [S1, S2, S3]
        random.Random(seed).shuffle(expected)
        lk = lookup(cfg, rng=random.Random(seed))
        order = []
        for _ in range(3):
            step = send(lk.next_step())
            order.append(step.server)
            lk.failed(TimeoutError())
        assert order == expected


def test_query_ids_come_from_the_generator_and_replies_must_match() -> None:
    lk = lookup(rng=random.Random(3))
    step = send(lk.next_step())
    rng = random.Random(3)
    assert step.qid == rng.getrandbits(16)
    query = dns.message.from_wire(step.query)
    assert query.id == step.qid
    assert query.question[0].to_text() == f"{QNAME} IN A"
    assert query.edns == 0
    other = dns.message.make_response(query)
    other.id ^= 1
    assert not step.matches(Reply(other.to_wire()))


# -- answers -------------------------------------------------------------------------------


def test_an_answer_ends_the_lookup() -> None:
    lk = lookup()
    step = send(lk.next_step())
    lk.received(reply(step, f"{QNAME} 30 A 10.0.0.5", f"{QNAME} 10 A 10.0.0.6"))
    outcome = lk.next_step()
    assert isinstance(outcome, core.Answered)
    assert sorted(outcome.records) == ["10.0.0.5", "10.0.0.6"]
    assert outcome.ttl == 10
    assert outcome.server == "10.0.0.1:53"
    assert outcome.candidate == name(QNAME)
    assert lk.next_step() is outcome  # asked again, the same outcome


def test_nodata_is_an_answer_without_records() -> None:
    lk = lookup()
    lk.received(reply(send(lk.next_step())))
    outcome = lk.next_step()
    assert isinstance(outcome, core.Answered)
    assert outcome.records == ()
    assert outcome.ttl is None


def test_cname_chain_is_followed_with_the_smallest_ttl() -> None:
    lk = lookup()
    step = send(lk.next_step())
    lk.received(
        reply(
            step,
            f"{QNAME} 60 CNAME mid.example.",
            "mid.example. 7 CNAME end.example.",
            "end.example. 30 A 10.0.0.9",
        )
    )
    outcome = lk.next_step()
    assert isinstance(outcome, core.Answered)
    assert outcome.records == ("10.0.0.9",)
    assert outcome.ttl == 7


@pytest.mark.parametrize(("links", "answered"), [(16, False), (15, True)])
def test_a_cname_chain_of_more_than_16_drops_the_server(links: int, answered: bool) -> None:
    lk = lookup(config([S1]))
    chain = [QNAME] + [f"c{i}.example." for i in range(links)]
    records = [f"{a} 5 CNAME {b}" for a, b in itertools.pairwise(chain)]
    records.append(f"{chain[-1]} 5 A 10.0.0.1")
    lk.received(reply(send(lk.next_step()), *records))
    outcome = lk.next_step()
    if answered:
        assert isinstance(outcome, core.Answered)
        return
    assert isinstance(outcome, core.Exhausted)
    assert outcome.errors == (
        core.AttemptError("Do53:10.0.0.1@53", False, "a CNAME chain longer than 16"),
    )


def test_a_truncated_udp_reply_is_asked_again_over_tcp_at_once() -> None:
    lk = lookup()
    udp = send(lk.next_step())
    assert not udp.tcp
    lk.received(reply(udp, truncated=True))
    tcp = send(lk.next_step())
    assert (tcp.tcp, tcp.server, tcp.qname) == (True, S1, QNAME)
    lk.received(reply(tcp, f"{QNAME} 5 A 10.0.0.1"))
    assert isinstance(lk.next_step(), core.Answered)


def test_a_truncated_tcp_reply_is_used() -> None:
    lk = lookup()
    lk.received(reply(send(lk.next_step()), truncated=True))
    lk.received(reply(send(lk.next_step()), f"{QNAME} 5 A 10.0.0.1", truncated=True))
    assert isinstance(lk.next_step(), core.Answered)


# -- failures ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fail", "reason"),
    [
        (lambda lk, s: lk.received(reply(s, rcode=dns.rcode.SERVFAIL)), "SERVFAIL"),
        (lambda lk, s: lk.received(reply(s, rcode=dns.rcode.REFUSED)), "REFUSED"),
        (lambda lk, s: lk.failed(MalformedMessage("trailing junk")), "trailing junk"),
        (
            lambda lk, s: lk.failed(ConnectionRefusedError(111, "Connection refused")),
            "Connection refused",
        ),
        (lambda lk, s: lk.failed(EOFError()), "EOFError"),
    ],
)
def test_a_broken_server_is_dropped(fail: object, reason: str) -> None:
    lk = lookup(config([S1, S2]))
    tried = []
    while isinstance(step := lk.next_step(), core.Send | core.Sleep):
        if isinstance(step, core.Send):
            tried.append(step.server)
            fail(lk, step)  # type: ignore[operator]
    assert tried == [S1, S2]  # each once: no second round
    assert isinstance(step, core.Exhausted)
    assert [e.server for e in step.errors] == ["Do53:10.0.0.1@53", "Do53:10.0.0.2@53"]
    assert all(reason in e.reason for e in step.errors)
    with pytest.raises(
        ResolverUnavailableError,
        match=f"every nameserver failed for {QNAME} A: Do53:10.0.0.1@53 answered .*{reason}",
    ):
        raise core.error_for(step, config([S1, S2]))


def test_timeouts_are_retried_with_a_doubling_backoff() -> None:
    clock = Clock()
    lk = lookup(config([S1, S2], timeout=0.5, lifetime=10.0), clock=clock)
    steps: list[object] = []
    for _ in range(9):
        step = lk.next_step()
        if isinstance(step, core.Sleep):
            steps.append(step)
            clock.now += step.seconds
        else:
            steps.append(send(step).server)
            clock.now += send(step).timeout
            lk.failed(TimeoutError())
    assert steps == [
        S1, S2, core.Sleep(0.1), S1, S2, core.Sleep(0.2), S1, S2, core.Sleep(0.4),
    ]  # fmt: skip


def test_the_backoff_is_capped_at_two_seconds_and_by_the_lifetime() -> None:
    clock = Clock()
    lk = lookup(config([S1], timeout=0.01, lifetime=6.0), clock=clock)
    sleeps = []
    while True:
        step = lk.next_step()
        if isinstance(step, core.Sleep):
            sleeps.append(round(step.seconds, 6))
            clock.now += step.seconds
        elif isinstance(step, core.Send):
            clock.now += step.timeout
            lk.failed(TimeoutError())
        else:
            break
    # 0.1, 0.2, 0.4, 0.8, 1.6, 2.0 ... until the lifetime: the last sleep ends at it.
    assert sleeps[:6] == [0.1, 0.2, 0.4, 0.8, 1.6, 2.0]
    assert max(sleeps) == 2.0
    assert isinstance(step, core.LifetimeOver)
    assert step.elapsed == pytest.approx(6.0)
    # The last sleep is what was left: the lifetime ends with it, without another try.
    assert sleeps[-1] < 2.0
    assert len(step.errors) == len(sleeps)


def test_each_try_waits_at_most_what_is_left_of_the_lifetime() -> None:
    clock = Clock()
    lk = lookup(config([S1, S2], timeout=2.0, lifetime=3.0), clock=clock)
    assert send(lk.next_step()).timeout == 2.0
    clock.now += 2.0
    lk.failed(TimeoutError())
    assert send(lk.next_step()).timeout == pytest.approx(1.0)
    clock.now += 1.0
    lk.failed(TimeoutError())
    step = lk.next_step()
    assert step == core.Sleep(0.0) or isinstance(step, core.LifetimeOver)
    outcome = lk.next_step()
    assert isinstance(outcome, core.LifetimeOver)
    assert [e.reason for e in outcome.errors] == ["no answer within 2.0 s"] * 2
    error = core.error_for(outcome, config([S1, S2], timeout=2.0, lifetime=3.0))
    assert isinstance(error, ResolverTimeoutError)
    assert error.elapsed == pytest.approx(3.0)
    assert error.nameserver == "10.0.0.1:53, 10.0.0.2:53"
    with pytest.raises(
        ResolverTimeoutError, match=r"after 3\.00 s \(timeout 2\.0 s, lifetime 3\.0 s\)"
    ):
        raise error


def test_nxdomain_moves_to_the_next_candidate_and_ends_after_the_last() -> None:
    cfg = config([S1], search=True, ndots=5, suffixes=(labels("svc.cluster.local"),))
    lk = lookup(cfg, "mongodb.db")
    first = send(lk.next_step())
    assert first.qname == "mongodb.db.svc.cluster.local."
    lk.received(reply(first, rcode=dns.rcode.NXDOMAIN))
    second = send(lk.next_step())
    assert second.qname == "mongodb.db."
    lk.received(reply(second, rcode=dns.rcode.NXDOMAIN))
    outcome = lk.next_step()
    assert outcome == core.NxDomain(
        "mongodb.db", "A", ("mongodb.db.svc.cluster.local.", "mongodb.db.")
    )
    with pytest.raises(ServiceNotFoundError, match=r"mongodb\.db does not exist \(NXDOMAIN\)"):
        raise core.error_for(outcome, cfg)


def test_an_nxdomain_with_records_drops_the_server() -> None:
    lk = lookup(config([S1]))
    lk.received(reply(send(lk.next_step()), f"{QNAME} 5 A 10.0.0.1", rcode=dns.rcode.NXDOMAIN))
    outcome = lk.next_step()
    assert isinstance(outcome, core.Exhausted)
    assert outcome.errors[0].reason == "an NXDOMAIN answer with records"


def test_yxdomain_ends_the_lookup() -> None:
    lk = lookup()
    lk.received(reply(send(lk.next_step()), rcode=dns.rcode.YXDOMAIN))
    outcome = lk.next_step()
    assert outcome == core.YxDomain(QNAME, "A", "10.0.0.1:53")
    with pytest.raises(ResolverUnavailableError, match=r"10\.0\.0\.1:53 answered YXDOMAIN"):
        raise core.error_for(outcome, config())


def test_the_lifetime_spans_lookups_started_earlier() -> None:
    clock = Clock()
    started = clock()
    clock.now += 5.0
    lk = core.Lookup(
        config(), name(QNAME), core.AAAA, display=QNAME, started=started, clock=clock,
        rng=random.Random(1),
    )  # fmt: skip
    outcome = lk.next_step()
    assert isinstance(outcome, core.LifetimeOver)
    assert outcome.rdtype == "AAAA"


def test_the_probe_query_has_no_edns_and_goes_to_the_first_server() -> None:
    step = core.probe_query(config([S2, S1], timeout=1.5), name(QNAME), random.Random(1))
    query = dns.message.from_wire(step.query)
    assert query.edns == -1
    assert (step.server, step.timeout, step.tcp, step.where) == (S2, 1.5, False, "10.0.0.2:53")


# -- assembly ------------------------------------------------------------------------------


def answered(
    records: tuple[T, ...], ttl: int | None = 5, additional: Sequence[str] = ()
) -> core.Answered[T]:
    step = core.probe_query(config(), name(QNAME), random.Random(1))
    extra = reply(step, additional=additional).sections[2]
    return core.Answered(name(QNAME), records, ttl, extra, "10.0.0.1:53")


def test_addresses_of_both_families_with_the_smallest_ttl() -> None:
    plan = core.AddressPlan(name("mongodb.db"), "mongodb.db", "any")
    assert plan.types == (core.A, core.AAAA)
    assert plan.qname == name("mongodb.db")
    first = answered(("10.0.0.1",), ttl=30)
    plan.add(first)
    assert plan.qname == first.candidate  # the second type asks the candidate that answered
    plan.add(answered(("fd00::1",), ttl=5))
    answer = plan.finish()
    assert (answer.name, answer.addresses, answer.ttl) == (
        "mongodb.db",
        ("10.0.0.1", "fd00::1"),
        5.0,
    )


def test_no_address_of_either_family_is_nodata() -> None:
    plan = core.AddressPlan(name(QNAME), QNAME, "any")
    plan.add(answered((), ttl=None))
    plan.add(answered((), ttl=None))
    with pytest.raises(core.ClientError, match=r"NoData\(.*rdtype='A/AAAA'") as info:
        plan.finish()
    assert info.value.failure == core.NoData(QNAME, "A/AAAA", "10.0.0.1:53")
    with pytest.raises(
        NoEndpointsError, match=r"has no A/AAAA records \(answered by 10.0.0.1:53\)"
    ):
        raise core.error_for(info.value.failure, config())


def test_srv_targets_come_from_the_additional_section_or_are_looked_up_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    records = (
        SrvData(0, 10, 27017, "a.example."),
        SrvData(0, 10, 27018, "b.example."),
        SrvData(0, 10, 27019, "b.example."),
        SrvData(0, 10, 27017, "c.example."),
    )
    answer = answered(
        records, ttl=30, additional=["A.example. 9 A 10.0.0.1", "a.example. 9 AAAA fd00::1"]
    )
    plan = core.SrvPlan(QNAME, answer, "ipv4", config())
    assert list(plan.missing) == ["b.example.", "c.example."]
    plan.found("b.example.", AddressAnswer("b.example.", ("10.0.0.2",), 4.0))
    with caplog.at_level(logging.WARNING, "headless_discovery"):
        plan.failed("c.example.", core.ClientError(core.NoData("c.example.", "A", "10.0.0.1:53")))
    assert "SRV target c.example. has no usable address: c.example. has no A records" in caplog.text
    srv = plan.finish()
    assert [(r.target, r.port, r.addresses) for r in srv.records] == [
        ("a.example", 27017, ("10.0.0.1",)),
        ("b.example", 27018, ("10.0.0.2",)),
        ("b.example", 27019, ("10.0.0.2",)),
        ("c.example", 27017, ()),
    ]
    assert srv.ttl == 4.0


def test_a_target_lookup_that_fails_otherwise_ends_the_srv_lookup() -> None:
    plan = core.SrvPlan(QNAME, answered((SrvData(0, 0, 1, "a.example."),)), "any", config())
    error = core.ClientError(core.LifetimeOver("a.example.", "A", 5.0, ()))
    with pytest.raises(
        core.ClientError, match=r"^LifetimeOver\(name='a\.example\.', rdtype='A'"
    ) as info:
        plan.failed("a.example.", error)
    assert info.value is error


def test_no_srv_records_is_nodata() -> None:
    with pytest.raises(core.ClientError, match=r"NoData\(.*rdtype='SRV'") as info:
        core.SrvPlan(QNAME, answered((), ttl=None), "any", config())
    with pytest.raises(NoEndpointsError, match="SRV records exist only for named ports"):
        raise core.error_for(info.value.failure, config())


def test_txt_strings_are_joined_and_decoded_with_replacement() -> None:
    answer = core.txt_answer(
        QNAME, answered(((b"authSource=admin&", b"replicaSet=rs0"), (b"\xff",)))
    )
    assert answer.texts == ("authSource=admin&replicaSet=rs0", "\ufffd")
    assert (answer.ttl, answer.nameserver) == (5.0, "10.0.0.1:53")
    with pytest.raises(core.ClientError, match=r"NoData\(.*rdtype='TXT'") as info:
        core.txt_answer(QNAME, answered((), ttl=None))
    assert info.value.failure == core.NoData(QNAME, "TXT", "10.0.0.1:53")


# -- the translation boundary --------------------------------------------------------------


@pytest.mark.parametrize(
    ("raised", "expected", "match"),
    [
        (core.ClientError(core.NxDomain(QNAME, "A", (QNAME,))), ServiceNotFoundError, "NXDOMAIN"),
        (_NameRefused("a..b", "empty label"), InvalidNameError, "invalid name 'a..b': empty label"),
        (
            TimeoutError(),
            ResolverTimeoutError,
            r"no answer for x\. A from 10\.0\.0\.1:53 after 1\.50 s",
        ),
        (
            ConnectionRefusedError(111, "refused"),
            ResolverUnavailableError,
            "ConnectionRefusedError",
        ),
        (MalformedMessage("trailing junk"), ResolverUnavailableError, "trailing junk"),
    ],
)
def test_the_boundary_translates_every_failure_and_chains_it(
    raised: Exception, expected: type[Exception], match: str
) -> None:
    clock = Clock()
    boundary = _map_client_errors(config([S1]), "x.", "A", clock.now - 1.5, clock)
    with pytest.raises(expected, match=match) as info, boundary:
        raise raised
    assert info.value.__cause__ is raised
    if isinstance(info.value, ResolverTimeoutError):
        assert info.value.elapsed == pytest.approx(1.5)
        assert info.value.nameserver == "10.0.0.1:53"


def test_the_boundary_lets_other_errors_through() -> None:
    with (
        pytest.raises(KeyError, match="bug"),
        _map_client_errors(config(), "x.", "A", 0.0, Clock()),
    ):
        raise KeyError("bug")


# -- every failure's exception, whole --------------------------------------------------------


_FAILURES = [
    (
        core.NxDomain(QNAME, "A", (QNAME,)),
        ServiceNotFoundError,
        "mongodb.db.svc.cluster.local. does not exist (NXDOMAIN) (answered by 10.0.0.1:53, "
        "10.0.0.2:53): there is no Service 'mongodb' in namespace 'db' (check the name, and the "
        "namespace: kubectl get svc -n db), or none of its pods is ready (cluster DNS answers "
        "NXDOMAIN for a headless Service without ready endpoints; publishNotReadyAddresses: "
        "true publishes pods before they are ready)",
        "A",
        "10.0.0.1:53, 10.0.0.2:53",
    ),
    (
        core.NoData(QNAME, "SRV", "10.0.0.2:53"),
        NoEndpointsError,
        "mongodb.db.svc.cluster.local. has no SRV records (answered by 10.0.0.2:53); SRV "
        "records exist only for named ports of a Service",
        "SRV",
        "10.0.0.2:53",
    ),
    (
        core.LifetimeOver(QNAME, "A", 5.25, ()),
        ResolverTimeoutError,
        "no answer for mongodb.db.svc.cluster.local. A from 10.0.0.1:53, 10.0.0.2:53 after "
        "5.25 s (timeout 2.0 s, lifetime 5.0 s): is the nameserver reachable from here, and "
        "is it the cluster DNS?",
        "A",
        "10.0.0.1:53, 10.0.0.2:53",
    ),
    (
        core.Exhausted(
            QNAME,
            "AAAA",
            (
                core.AttemptError("Do53:10.0.0.1@53", False, "SERVFAIL"),
                core.AttemptError("Do53:10.0.0.2@53", True, "REFUSED"),
            ),
        ),
        ResolverUnavailableError,
        "every nameserver failed for mongodb.db.svc.cluster.local. AAAA: Do53:10.0.0.1@53 "
        "answered SERVFAIL; Do53:10.0.0.2@53 answered REFUSED",
        "AAAA",
        "10.0.0.1:53, 10.0.0.2:53",
    ),
    (
        core.YxDomain(QNAME, "TXT", "10.0.0.2:53"),
        ResolverUnavailableError,
        "looking up mongodb.db.svc.cluster.local. TXT at 10.0.0.1:53, 10.0.0.2:53 failed: "
        "10.0.0.2:53 answered YXDOMAIN (the name is too long after DNAME substitution)",
        "TXT",
        "10.0.0.1:53, 10.0.0.2:53",
    ),
]


@pytest.mark.parametrize(("failure", "kind", "message", "rdtype", "nameserver"), _FAILURES)
def test_each_failure_is_one_exception_with_its_message_and_attributes(
    failure: core.Failure, kind: type[Exception], message: str, rdtype: str, nameserver: str
) -> None:
    error = core.error_for(failure, config([S1, S2]))
    assert type(error) is kind
    assert str(error) == message
    assert (error.name, error.rdtype, error.nameserver) == (QNAME, rdtype, nameserver)


# -- the lookup's record of each try ------------------------------------------------------------


def test_a_truncated_reply_is_noted_and_the_server_kept_for_the_next_round() -> None:
    clock = Clock()
    lk = lookup(config([S1], lifetime=60.0), clock=clock)
    udp = send(lk.next_step())
    lk.received(reply(udp, truncated=True))
    tcp = send(lk.next_step())
    assert (tcp.tcp, tcp.port) == (True, 53)
    lk.failed(TimeoutError())
    # Not TCP again at once: the round is over, the server stays for the next one.
    step = lk.next_step()
    assert step == core.Sleep(0.1)
    again = send(lk.next_step())
    assert (again.server, again.tcp) == (S1, False)
    lk.received(reply(again, rcode=dns.rcode.Rcode.make(11)))
    outcome = lk.next_step()
    assert outcome == core.Exhausted(
        QNAME,
        "A",
        (
            core.AttemptError("Do53:10.0.0.1@53", False, "a truncated answer"),
            core.AttemptError("Do53:10.0.0.1@53", True, "no answer within 2.0 s"),
            core.AttemptError("Do53:10.0.0.1@53", False, "RCODE 11"),
        ),
    )


def test_a_lookup_whose_lifetime_is_over_at_the_end_of_a_round_does_not_sleep() -> None:
    clock = Clock()
    lk = lookup(config([S1], lifetime=2.0), clock=clock)
    send(lk.next_step())
    clock.now += 2.0
    lk.failed(TimeoutError())
    outcome = lk.next_step()
    assert outcome == core.LifetimeOver(
        QNAME, "A", 2.0, (core.AttemptError("Do53:10.0.0.1@53", False, "no answer within 2.0 s"),)
    )


def test_an_answer_keeps_the_additional_section_and_the_candidate() -> None:
    cfg = config(search=True, ndots=5, suffixes=(labels("svc.cluster.local"),))
    lk = core.Lookup(
        cfg,
        name("db"),
        core.SRV,
        display="db",
        started=100.0,
        clock=Clock(),
        rng=random.Random(3),
    )
    step = send(lk.next_step())
    assert step.qname == "db.svc.cluster.local."
    lk.received(
        reply(
            step,
            "db.svc.cluster.local. 30 SRV 0 0 27017 a.example.",
            additional=["a.example. 9 A 10.0.0.1"],
        )
    )
    outcome = lk.next_step()
    assert isinstance(outcome, core.Answered)
    assert outcome.candidate == core.Name(labels("db.svc.cluster.local"), True)
    assert outcome.additional.a["a.example."].items == ["10.0.0.1"]
    # The candidate that answered is absolute: the next record type asks it alone.
    assert cfg.candidates(outcome.candidate) == [outcome.candidate]


def test_a_cname_chain_takes_the_smallest_ttl_along_it() -> None:
    lk = lookup()
    step = send(lk.next_step())
    lk.received(
        reply(
            step,
            f"{QNAME} 5 CNAME b.example.",
            "b.example. 10 CNAME c.example.",
            "c.example. 30 A 10.0.0.1",
        )
    )
    outcome = lk.next_step()
    assert isinstance(outcome, core.Answered)
    assert (outcome.records, outcome.ttl) == (("10.0.0.1",), 5)


def test_probe_query_ids_are_16_bits_from_the_generator() -> None:
    for seed in range(40):
        step = core.probe_query(config(), name(QNAME), random.Random(seed))
        assert step.qid == random.Random(seed).getrandbits(16)
        assert dns.message.from_wire(step.query).id == step.qid


def test_addresses_are_named_by_the_first_server_and_nodata_by_the_last() -> None:
    plan = core.AddressPlan(name(QNAME), QNAME, "any")
    first = core.Answered(name(QNAME), ("10.0.0.1",), 7, answered(()).additional, "a:53")
    plan.add(first)
    plan.add(core.Answered(name(QNAME), (), None, first.additional, "b:53"))
    assert plan.finish() == AddressAnswer(QNAME, ("10.0.0.1",), 7.0, "a:53")
    empty = core.AddressPlan(name(QNAME), QNAME, "any")
    empty.add(core.Answered(name(QNAME), (), None, first.additional, "a:53"))
    empty.add(core.Answered(name(QNAME), (), None, first.additional, "b:53"))
    with pytest.raises(core.ClientError, match=r"^NoData\(.*server='b:53'\)$") as info:
        empty.finish()
    assert info.value.failure == core.NoData(QNAME, "A/AAAA", "b:53")


def test_an_srv_answer_keeps_every_field_of_its_records() -> None:
    records = (SrvData(1, 20, 27017, "a.example."), SrvData(2, 30, 27018, "b.example."))
    answer = core.Answered(name(QNAME), records, 30, answered(()).additional, "s:53")
    plan = core.SrvPlan("db", answer, "any", config())
    plan.found("a.example.", AddressAnswer("a.example.", ("10.0.0.1",), None))
    plan.found("b.example.", AddressAnswer("b.example.", ("10.0.0.2",), 9.0))
    srv = plan.finish()
    assert (srv.name, srv.ttl, srv.nameserver) == ("db", 0.0, "s:53")
    assert [(r.target, r.port, r.priority, r.weight, r.addresses) for r in srv.records] == [
        ("a.example", 27017, 1, 20, ("10.0.0.1",)),
        ("b.example", 27018, 2, 30, ("10.0.0.2",)),
    ]
    with pytest.raises(core.ClientError, match=r"^NoData\(name='db', rdtype='SRV'") as info:
        core.SrvPlan(
            "db", core.Answered(name(QNAME), (), None, answer.additional, "s:53"), "any", config()
        )
    assert info.value.failure == core.NoData("db", "SRV", "s:53")


def test_a_target_without_address_is_logged_by_name(caplog: pytest.LogCaptureFixture) -> None:
    plan = core.SrvPlan(QNAME, answered((SrvData(0, 0, 1, "a.example."),)), "any", config())
    with caplog.at_level(logging.WARNING, "headless_discovery"):
        plan.failed("a.example.", core.ClientError(core.NxDomain("a.example.", "A", ())))
    assert [r.getMessage() for r in caplog.records] == [
        "SRV target a.example. has no usable address: "
        + str(core.error_for(core.NxDomain("a.example.", "A", ()), config()))
    ]


def test_a_txt_answer_is_named_as_asked() -> None:
    answer = core.txt_answer("db", answered(((b"a=b",),)))
    assert (answer.name, answer.texts) == ("db", ("a=b",))


def test_one_family_without_addresses_is_nodata_named_by_its_server() -> None:
    plan = core.AddressPlan(name(QNAME), QNAME, "ipv4")
    plan.add(core.Answered(name(QNAME), (), None, answered(()).additional, "a:53"))
    with pytest.raises(core.ClientError, match=r"^NoData\(.*rdtype='A', server='a:53'\)$") as info:
        plan.finish()
    assert info.value.failure == core.NoData(QNAME, "A", "a:53")


def test_srv_targets_lose_only_their_trailing_dot() -> None:
    answer = answered((SrvData(0, 0, 80, "web.BOX."),))
    plan = core.SrvPlan(QNAME, answer, "any", config())
    plan.found("web.BOX.", AddressAnswer("web.BOX.", ("10.0.0.1",), 5.0))
    assert [r.target for r in plan.finish().records] == ["web.BOX"]
