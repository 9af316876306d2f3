"""The private wire-format reader against dnspython's own writer and parser."""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Callable
from typing import Any, TypeVar

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.rrset
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from headless_discovery.resolvers import _wire

QNAME = "mongodb.db.svc.cluster.local."
T = TypeVar("T")


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
    ("mangle", "match", "oracle"),
    [
        (lambda w: w[:8], "shorter than its header", "too short"),
        (lambda w: w[:-3], "header is cut short", "DNS message is malformed"),  # the OPT record
        (lambda w: w + b"\x00", "trailing junk", "extra junk at the end"),
        # the question name replaced by a pointer to itself
        (
            lambda w: (
                w[:12] + b"\xc0\x0c" + w[12 + len(dns.name.from_text(QNAME).to_wire() or b"") :]
            ),
            "does not point back",
            "points forward instead of backward",
        ),
    ],
)
def test_malformed_messages_raise_our_error(
    mangle: Callable[[bytes], bytes], match: str, oracle: str
) -> None:
    msg = response()
    msg.answer.append(dns.rrset.from_text(QNAME, 5, "IN", "A", "10.0.0.1"))
    wire = mangle(msg.to_wire())
    # dnspython, the oracle, refuses each of them too.
    with pytest.raises(dns.exception.FormError, match=oracle):
        dns.message.from_wire(wire)
    with pytest.raises(_wire.MalformedMessage, match=match):
        read_all(wire)


def test_txt_records_keep_their_character_strings() -> None:
    msg = response("TXT")
    msg.answer.append(
        dns.rrset.from_text(QNAME, 30, "IN", "TXT", '"authSource=admin&" "replicaSet=rs0"', '""')
    )
    wire = msg.to_wire()
    reply = read_all(wire)
    txt = reply.sections[0].txt[QNAME]
    assert sorted(txt.items) == sorted(
        tuple(rd.strings) for rd in dns.message.from_wire(wire).answer[0]
    )
    assert (b"authSource=admin&", b"replicaSet=rs0") in txt.items


@pytest.mark.parametrize(
    ("rdata", "match"),
    [(b"", "no character-string"), (b"\x05abc", "runs past its record")],
)
def test_a_broken_txt_record_is_malformed(rdata: bytes, match: str) -> None:
    msg = response("TXT")
    head = msg.to_wire()
    # One answer record, its data written by hand: dnspython would not write it broken.
    wire = (
        head[:6] + b"\x00\x01" + head[8:] + b"\xc0\x0c" + struct.pack("!HHIH", 16, 1, 5, len(rdata))
    )
    wire += rdata
    with pytest.raises(dns.exception.FormError, match="OPT record occurred somewhere other than"):
        dns.message.from_wire(wire)
    with pytest.raises(_wire.MalformedMessage, match=match):
        read_all(wire)


_label = st.binary(min_size=1, max_size=20)
_owner = st.lists(_label, min_size=1, max_size=4).map(
    lambda labels: dns.name.Name([*labels, *dns.name.from_text(QNAME).labels])
)


@settings(max_examples=60, deadline=None)
@given(
    a=st.lists(st.ip_addresses(v=4).map(str), max_size=5),
    aaaa=st.lists(st.ip_addresses(v=6).map(str), max_size=5),
    srv=st.lists(
        st.tuples(st.integers(0, 65535), st.integers(0, 65535), st.integers(0, 65535), _owner),
        max_size=5,
    ),
    txt=st.lists(st.lists(st.binary(max_size=300), min_size=1, max_size=3), max_size=3),
    owner=_owner,
)
def test_records_read_as_dnspython_reads_them(
    a: list[str],
    aaaa: list[str],
    srv: list[tuple[int, int, int, dns.name.Name]],
    txt: list[list[bytes]],
    owner: dns.name.Name,
) -> None:
    msg = response()
    rdatas: list[list[dns.rdata.Rdata]] = [
        [dns.rdata.from_text("IN", "A", ip) for ip in a],
        [dns.rdata.from_text("IN", "AAAA", ip) for ip in aaaa],
        [dns.rdata.from_text("IN", "SRV", f"{p} {w} {port} {t}") for p, w, port, t in srv],
        [dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, dns.rdatatype.TXT, strings) for strings in txt],
    ]
    for rdata in rdatas:
        if rdata:
            msg.additional.append(dns.rrset.from_rdata_list(owner, 60, rdata))
    wire = msg.to_wire(max_size=65535)
    ours = read_all(wire).sections[2]
    theirs: dict[int, list[Any]] = {
        rrset.rdtype: list(rrset) for rrset in dns.message.from_wire(wire).additional
    }
    key = owner.to_text().lower()

    def items(table: dict[str, _wire.RRset[T]]) -> list[T]:
        return table[key].items if key in table else []

    assert sorted(items(ours.a)) == sorted(rd.address for rd in theirs.get(1, []))
    # As addresses: IPv4-mapped ones are written differently (::ffff:0:0 and ::ffff:0.0.0.0).
    assert sorted(map(ipaddress.IPv6Address, items(ours.aaaa))) == sorted(
        ipaddress.IPv6Address(rd.address) for rd in theirs.get(28, [])
    )
    assert sorted(items(ours.srv)) == sorted(
        (rd.priority, rd.weight, rd.port, rd.target.to_text()) for rd in theirs.get(33, [])
    )
    assert sorted(items(ours.txt)) == sorted(tuple(rd.strings) for rd in theirs.get(16, []))


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


def test_a_query_without_edns_has_no_opt_record() -> None:
    wire = _wire.make_query(7, dns.name.from_text(QNAME).to_wire() or b"", _wire.A, edns=False)
    query = dns.message.from_wire(wire)
    assert query.edns == -1
    assert query.question[0].to_text() == f"{QNAME} IN A"


# -- messages written by hand: each way a message can be malformed, and each limit ----------

_QWIRE = dns.name.from_text(QNAME).to_wire() or b""
_TO_QNAME = b"\xc0\x0c"  # a compression pointer to the question name


def _message(*records: bytes, qdcount: int = 1, question: bytes | None = None) -> bytes:
    """A response with the question for QNAME and ``records`` as its answer section."""
    head = struct.pack("!HHHHHH", 7, 0x8180, qdcount, len(records), 0, 0)
    if question is None:
        question = _QWIRE + struct.pack("!HH", _wire.A, 1)
    return head + question + b"".join(records)


def _record(rdtype: int, rdata: bytes, owner: bytes = _TO_QNAME, rdclass: int = 1) -> bytes:
    return owner + struct.pack("!HHIH", rdtype, rdclass, 5, len(rdata)) + rdata


def _labels(*sizes: int) -> bytes:
    return b"".join(bytes([size]) + b"a" * size for size in sizes) + b"\x00"


@pytest.mark.parametrize(
    ("wire", "match"),
    [
        (_message(qdcount=2), "^more than one question in a response$"),
        (_message(question=_QWIRE + b"\x00\x01\x00"), "^the question is cut short$"),
        (_message(question=b"\x05abc"), "^a name runs past the end of the message$"),
        (_message(question=b"\x03abc\xc0"), "^a compression pointer is cut short$"),
        (_message(question=b"\x40" + b"a" * 64 + b"\x00"), "^a name has an unknown label type$"),
        (_message(question=b"\xbf" + b"a" * 191 + b"\x00"), "^a name has an unknown label type$"),
        (
            _message(question=_labels(63, 63, 63, 62) + b"\x00\x01\x00\x01"),
            "^a name is longer than 255 bytes$",
        ),
        (
            _message(_record(_wire.A, b"\x0a\x00\x00\x01")[:-2]),
            "^a record's data is cut short$",
        ),
        (_message(_record(_wire.A, b"\x0a\x00\x00")), "^an A record is not 4 bytes$"),
        (_message(_record(_wire.A, b"\x0a\x00\x00\x01\x02")), "^an A record is not 4 bytes$"),
        (_message(_record(_wire.AAAA, b"\xfd" + b"\x00" * 14)), "^an AAAA record is not 16 bytes$"),
        (_message(_record(_wire.AAAA, b"\xfd" + b"\x00" * 16)), "^an AAAA record is not 16 bytes$"),
        (_message(_record(_wire.SRV, b"\x00" * 6)), "^an SRV record is cut short$"),
        (
            _message(_record(_wire.SRV, b"\x00" * 6 + b"\x00\x00")),
            "^an SRV record's length does not match$",
        ),
        (
            _message(_record(_wire.CNAME, _TO_QNAME + b"\x00")),
            "^a CNAME record's length does not match$",
        ),
    ],
)
def test_each_malformation_has_its_reason(wire: bytes, match: str) -> None:
    with pytest.raises(_wire.MalformedMessage, match=match):
        read_all(wire)


def test_names_and_records_at_their_limits_are_read() -> None:
    longest = _labels(63, 63, 63, 61)  # 255 bytes on the wire, as RFC 1035 allows
    assert len(longest) == 255
    wire = _message(
        _record(_wire.SRV, struct.pack("!HHH", 1, 2, 3) + b"\x00"),  # 7 bytes: target "."
        _record(_wire.CNAME, longest),
        question=_labels(63) + struct.pack("!HH", _wire.A, 1),
    )
    reply = read_all(wire)
    owner = "a" * 63 + "."
    assert reply.question == (owner, _wire.A, 1)
    assert reply.sections[0].srv[owner].items == [_wire.SrvData(1, 2, 3, ".")]
    assert reply.sections[0].cname[owner].items == [
        dns.message.from_wire(wire).answer[1][0].target.to_text()
    ]


def test_records_of_other_classes_and_types_are_skipped() -> None:
    wire = _message(
        _record(_wire.A, b"\x0a\x00\x00\x01", rdclass=3),  # CHAOS
        _record(15, b"\x00\x0a" + _TO_QNAME),  # MX
        _record(_wire.A, b"\x0a\x00\x00\x02"),
    )
    answer = read_all(wire).sections[0]
    assert answer.a[QNAME].items == ["10.0.0.2"]
    assert (answer.aaaa, answer.srv, answer.cname, answer.txt) == ({}, {}, {}, {})


def test_a_pointer_into_data_that_was_not_read_as_a_name_is_followed() -> None:
    # An unknown record's data holds the name "b" + pointer to the question name; a second
    # record's owner points there: two pointers, the first to bytes not read as a name.
    unknown = _record(65280, b"\x01b" + _TO_QNAME)
    start = len(_message(question=None)) + len(unknown) - 4
    wire = _message(
        unknown, _record(_wire.A, b"\x0a\x00\x00\x03", owner=struct.pack("!H", 0xC000 | start))
    )
    answer = read_all(wire).sections[0]
    assert answer.a["b." + QNAME].items == ["10.0.0.3"]
    assert dns.message.from_wire(wire).answer[1].name.to_text() == "b." + QNAME


@pytest.mark.parametrize(
    ("wire", "match"),
    [
        (b"\x00" * 11, "^the DNS message is shorter than its header$"),
        (_message(question=b"\x03abc"), "^a name runs past the end of the message$"),
        (
            _message(_record(_wire.A, b"\x0a\x00\x00\x01"))[:-9],
            "^a record header is cut short$",
        ),
        (_message() + b"\x00", "^trailing junk after the last record$"),
        (_message(question=b"\xc0\x0c"), "^a compression pointer does not point back$"),
        (
            _message(_record(_wire.TXT, b"\x05abc")),
            "^a TXT character-string runs past its record$",
        ),
        (_message(_record(_wire.TXT, b"")), "^a TXT record holds no character-string$"),
    ],
)
def test_each_malformation_has_its_exact_reason(wire: bytes, match: str) -> None:
    with pytest.raises(_wire.MalformedMessage, match=match):
        read_all(wire)


def test_a_header_alone_is_a_message_and_a_query_is_no_answer() -> None:
    header = struct.pack("!HHHHHH", 7, 0x8185, 0, 0, 0, 0)  # REFUSED, no question
    reply = read_all(header)
    assert reply.question is None
    assert reply.answers(7, QNAME, _wire.A)
    query = struct.pack("!HHHHHH", 7, 0x0005, 0, 0, 0, 0)  # the same without QR
    assert not read_all(query).answers(7, QNAME, _wire.A)


def test_read_takes_exactly_its_budget_of_records_section_by_section() -> None:
    head = struct.pack("!HHHHHH", 7, 0x8180, 1, 0, 2, 3)  # no answer, 2 authority, 3 extra
    records = [_record(_wire.A, bytes([10, 0, 0, i])) for i in range(1, 6)]
    reply = _wire.Reply(head + _QWIRE + struct.pack("!HH", _wire.A, 1) + b"".join(records))
    assert reply.read(1) is False
    assert reply.sections[1].a[QNAME].items == ["10.0.0.1"]
    assert reply.read(3) is False
    assert reply.sections[1].a[QNAME].items == ["10.0.0.1", "10.0.0.2"]
    assert reply.sections[2].a[QNAME].items == ["10.0.0.3", "10.0.0.4"]
    assert reply.read(1) is False  # the last record: the end is seen at the next call
    assert reply.read(1) is True
    assert reply.sections[0].a == {}
    assert reply.sections[2].a[QNAME].items == ["10.0.0.3", "10.0.0.4", "10.0.0.5"]
    assert reply.sections[2].a[QNAME].name == "mongodb.db.svc.cluster.local."


def test_a_message_may_end_with_a_compression_pointer() -> None:
    wire = _message(_record(_wire.CNAME, _TO_QNAME))
    assert read_all(wire).sections[0].cname[QNAME].items == [QNAME]
