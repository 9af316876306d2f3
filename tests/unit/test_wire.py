"""The private wire-format reader against dnspython's own writer and parser."""

from __future__ import annotations

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rrset
import pytest

from headless_discovery.resolvers import _wire

QNAME = "mongodb.db.svc.cluster.local."


def response(rdtype: str = "A") -> dns.message.Message:
    query = dns.message.make_query(QNAME, rdtype, use_edns=0, payload=1232)
    return dns.message.make_response(query)


def read_all(wire: bytes) -> _wire.Reply:
    reply = _wire.Reply(wire)
    while not reply.read(3):  # small slices: resuming must not change the result
        pass
    return reply


def test_a_aaaa_srv_and_cname_records_with_compression() -> None:
    msg = response("SRV")
    msg.answer.append(
        dns.rrset.from_text(
            QNAME,
            30,
            "IN",
            "SRV",
            *(f"0 {w} 27017 mongodb-{i}.{QNAME}" for i, w in enumerate((10, 20, 30))),
        )
    )
    msg.additional.append(dns.rrset.from_text(f"mongodb-0.{QNAME}", 7, "IN", "A", "10.0.0.1"))
    msg.additional.append(dns.rrset.from_text(f"mongodb-0.{QNAME}", 9, "IN", "AAAA", "fd00::1"))
    reply = read_all(msg.to_wire())
    assert reply.id == msg.id
    assert reply.answers(msg.id, QNAME.upper(), _wire.SRV)
    assert not reply.answers(msg.id ^ 1, QNAME, _wire.SRV)
    assert not reply.answers(msg.id, QNAME, _wire.A)
    srv = reply.sections[0].srv[QNAME]
    assert srv.ttl == 30
    assert sorted(srv.items) == sorted(
        _wire.SrvData(0, w, 27017, f"mongodb-{i}.{QNAME}") for i, w in enumerate((10, 20, 30))
    )
    extra = reply.sections[2]
    assert extra.a[f"mongodb-0.{QNAME}"].items == ["10.0.0.1"]
    assert extra.aaaa[f"mongodb-0.{QNAME}"].items == ["fd00::1"]
    assert extra.aaaa[f"mongodb-0.{QNAME}"].ttl == 9


def test_a_thousand_addresses_match_dnspython() -> None:
    msg = response()
    addresses = [f"10.{i >> 8}.{i & 255}.7" for i in range(1000)]
    msg.answer.append(dns.rrset.from_text(QNAME, 5, "IN", "A", *addresses))
    wire = msg.to_wire(max_size=65535)
    reply = read_all(wire)
    assert sorted(reply.sections[0].a[QNAME].items) == sorted(
        rd.address for rd in dns.message.from_wire(wire).answer[0]
    )


def test_cname_and_escaped_labels_read_as_dnspython_writes_them() -> None:
    odd = dns.name.from_text(r"we\.ird\032label.example.")
    msg = response()
    msg.answer.append(dns.rrset.from_text(QNAME, 60, "IN", "CNAME", odd.to_text()))
    msg.answer.append(dns.rrset.from_text(odd, 5, "IN", "A", "10.1.2.3"))
    reply = read_all(msg.to_wire())
    cname = reply.sections[0].cname[QNAME]
    assert cname.items == [odd.to_text()]
    assert odd.to_text().lower() in reply.sections[0].a


def test_truncated_flag_and_extended_rcode() -> None:
    msg = response()
    msg.flags |= dns.flags.TC
    assert _wire.Reply(msg.to_wire()).truncated
    msg = response()
    msg.set_rcode(dns.rcode.BADVERS)
    reply = read_all(msg.to_wire())
    assert reply.rcode == dns.rcode.BADVERS


@pytest.mark.parametrize(
    "mangle",
    [
        lambda w: w[:8],  # shorter than a header
        lambda w: w[:-3],  # last record cut short
        lambda w: w + b"\x00",  # trailing junk
        # the question name replaced by a pointer to itself
        lambda w: w[:12] + b"\xc0\x0c" + w[12 + len(dns.name.from_text(QNAME).to_wire() or b"") :],
    ],
)
def test_malformed_messages_raise_our_error(mangle: object) -> None:
    msg = response()
    msg.answer.append(dns.rrset.from_text(QNAME, 5, "IN", "A", "10.0.0.1"))
    wire = mangle(msg.to_wire())  # type: ignore[operator]
    # dnspython, the oracle, refuses each of them too.
    with pytest.raises(dns.exception.FormError):
        dns.message.from_wire(wire)
    with pytest.raises(_wire.MalformedMessage, match="short|junk|point"):
        read_all(wire)


def test_errors_may_come_without_a_question() -> None:
    msg = response()
    msg.set_rcode(dns.rcode.REFUSED)
    msg.question = []
    reply = _wire.Reply(msg.to_wire())
    assert reply.answers(msg.id, QNAME, _wire.A)
    msg.set_rcode(dns.rcode.NOERROR)
    assert not _wire.Reply(msg.to_wire()).answers(msg.id, QNAME, _wire.A)


def test_the_query_is_what_dnspython_reads() -> None:
    wire = _wire.make_query(4242, dns.name.from_text(QNAME).to_wire() or b"", _wire.SRV)
    query = dns.message.from_wire(wire)
    assert query.id == 4242
    assert query.question[0].to_text() == f"{QNAME} IN SRV"
    assert query.flags & dns.flags.RD
    assert query.edns == 0
    assert query.payload == _wire.EDNS_PAYLOAD
