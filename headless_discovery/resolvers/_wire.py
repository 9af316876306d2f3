"""DNS messages on the wire, for the few records discovery reads. Pure: bytes in, values out.

dnspython turns every record of a message into objects before it returns; for a headless
Service with a thousand pods that takes 50 to 100 ms in one piece, which on an event loop is
a stall of that length. :class:`Reply` reads only what discovery uses (A, AAAA, SRV, CNAME and
TXT records, with name compression) into typed values, grouped into record sets per section
(:class:`Section`), and reads them in slices (:meth:`Reply.read`), so that an asyncio driver
can let other tasks run in between.

Record values: A and AAAA records are address text (``"10.0.0.1"``, ``"fd00::1"``), a CNAME
is its target name as text, an SRV record is :class:`SrvData`, a TXT record is the tuple of
its character-strings (:data:`TxtData`). Malformed messages raise :class:`MalformedMessage`.
"""

from __future__ import annotations

import ipaddress
import struct
from typing import Generic, NamedTuple, TypeVar

__all__ = [
    "AAAA",
    "CNAME",
    "EDNS_PAYLOAD",
    "SRV",
    "TXT",
    "A",
    "MalformedMessage",
    "RRset",
    "Reply",
    "Section",
    "SrvData",
    "TxtData",
    "make_query",
]

A = 1
CNAME = 5
TXT = 16
AAAA = 28
SRV = 33
_OPT = 41
_IN = 1

_QR = 0x8000
_TC = 0x0200
_RD = 0x0100
_OPCODE = 0x7800
# Errors after which a reply may come without its question (dnspython accepts that too).
_NO_QUESTION_RCODES = frozenset({1, 2, 4, 5})  # FORMERR, SERVFAIL, NOTIMP, REFUSED

#: The UDP payload advertised with EDNS0: the DNS Flag Day 2020 value, which avoids IP
#: fragmentation; about 70 A records fit, more come back truncated and go over TCP.
EDNS_PAYLOAD = 1232

_HEADER = struct.Struct("!HHHHHH")
_RR = struct.Struct("!HHIH")
_SRV = struct.Struct("!HHH")
_QUESTION = struct.Struct("!HH")
_OPT_RR = b"\x00" + struct.pack("!HHIH", _OPT, EDNS_PAYLOAD, 0, 0)

# Label bytes printed as they are; everything else is escaped as dnspython's to_text() does.
_PLAIN = bytes(c for c in range(0x21, 0x7F) if c not in b'"().;\\@$')

T = TypeVar("T")


class MalformedMessage(Exception):
    """A reply that is not a well-formed DNS message (the reason is the message)."""


class SrvData(NamedTuple):
    """One SRV record's data (RFC 2782)."""

    priority: int
    weight: int
    port: int
    target: str  # absolute, as text


#: One TXT record's data: its character-strings, each at most 255 bytes.
TxtData = tuple[bytes, ...]


def make_query(qid: int, qname: bytes, rdtype: int, *, edns: bool = True) -> bytes:
    """A recursive query for ``qname`` (wire format, absolute), with an EDNS0 OPT record
    unless ``edns`` is false (then the answer must fit 512 bytes of UDP)."""
    header = _HEADER.pack(qid, _RD, 1, 0, 0, 1 if edns else 0)
    return header + qname + _QUESTION.pack(rdtype, _IN) + (_OPT_RR if edns else b"")


def label_text(label: bytes) -> str:
    """A label as dnspython's ``to_text()`` writes it (special characters escaped)."""
    if not label.translate(None, _PLAIN):
        return label.decode("ascii")
    out = []
    for c in label:
        if c in _PLAIN:
            out.append(chr(c))
        elif 0x20 < c < 0x7F:
            out.append("\\" + chr(c))
        else:
            out.append(f"\\{c:03d}")
    return "".join(out)


class RRset(Generic[T]):
    """The records of one name and type in one section; ``ttl`` is the smallest of them."""

    __slots__ = ("items", "name", "ttl")

    def __init__(self, name: str, ttl: int) -> None:
        self.name = name
        self.ttl = ttl
        self.items: list[T] = []


class Section:
    """The records of one section, by type, each table keyed by lower-case owner name."""

    __slots__ = ("a", "aaaa", "cname", "srv", "txt")

    def __init__(self) -> None:
        self.a: dict[str, RRset[str]] = {}
        self.aaaa: dict[str, RRset[str]] = {}
        self.cname: dict[str, RRset[str]] = {}
        self.srv: dict[str, RRset[SrvData]] = {}
        self.txt: dict[str, RRset[TxtData]] = {}


def _add(table: dict[str, RRset[T]], owner: str, ttl: int, value: T) -> None:
    key = owner.lower()
    rrset = table.get(key)
    if rrset is None:
        rrset = table[key] = RRset(owner, ttl)
    elif ttl < rrset.ttl:
        rrset.ttl = ttl
    rrset.items.append(value)


class Reply:
    """A DNS response: header and question read at once, records by :meth:`read`.

    Args:
        wire: The message as received.

    Raises:
        MalformedMessage: The header or question is malformed.
    """

    __slots__ = (
        "_counts",
        "_names",
        "_offset",
        "_section",
        "_wire",
        "flags",
        "id",
        "question",
        "rcode",
        "sections",
    )

    def __init__(self, wire: bytes) -> None:
        if len(wire) < 12:
            raise MalformedMessage("the DNS message is shorter than its header")
        self._wire = wire
        self._names: dict[int, str] = {}
        self.id, self.flags, qdcount, *counts = _HEADER.unpack_from(wire)
        self.rcode = self.flags & 0xF
        self._counts = counts
        self.question: tuple[str, int, int] | None = None
        offset = 12
        if qdcount > 1:
            raise MalformedMessage("more than one question in a response")
        if qdcount == 1:
            name, offset = self._name(offset)
            if offset + 4 > len(wire):
                raise MalformedMessage("the question is cut short")
            qtype, qclass = _QUESTION.unpack_from(wire, offset)
            self.question = (name, qtype, qclass)
            offset += 4
        self._offset = offset
        self._section = 0
        #: Answer, authority and additional records of the types we read.
        self.sections = (Section(), Section(), Section())

    @property
    def truncated(self) -> bool:
        """The TC flag: the server had more than fits (over UDP: ask again over TCP)."""
        return bool(self.flags & _TC)

    def answers(self, qid: int, qname: str, rdtype: int) -> bool:
        """Whether this is the response to query ``qid`` for ``qname`` (text, absolute)."""
        if not self.flags & _QR or self.id != qid or self.flags & _OPCODE:
            return False
        if self.question is None:
            return self.rcode in _NO_QUESTION_RCODES
        name, qtype, qclass = self.question
        return qtype == rdtype and qclass == _IN and name.lower() == qname.lower()

    def read(self, budget: int) -> bool:
        """Read up to ``budget`` more records; ``True`` once the whole message is read.

        Raises:
            MalformedMessage: A record is malformed, or bytes follow the last one.
        """
        wire, offset, counts = self._wire, self._offset, self._counts
        size = len(wire)
        while budget > 0 and self._section < 3:
            if counts[self._section] == 0:
                self._section += 1
                continue
            counts[self._section] -= 1
            budget -= 1
            owner, offset = self._name(offset)
            if offset + 10 > size:
                raise MalformedMessage("a record header is cut short")
            rdtype, rdclass, ttl, rdlen = _RR.unpack_from(wire, offset)
            offset += 10
            end = offset + rdlen
            if end > size:
                raise MalformedMessage("a record's data is cut short")
            if rdtype == _OPT:
                # The extended RCODE's upper eight bits travel in the OPT record's TTL.
                self.rcode |= (ttl >> 24) << 4
            elif rdclass == _IN:
                self._record(owner, rdtype, ttl, offset, end)
            offset = end
        self._offset = offset
        if self._section < 3:
            return False
        if offset != size:
            raise MalformedMessage("trailing junk after the last record")
        return True

    def _record(self, owner: str, rdtype: int, ttl: int, offset: int, end: int) -> None:
        """Read one record's data into the current section; types we do not use are skipped."""
        wire, section = self._wire, self.sections[self._section]
        if rdtype == A:
            if end - offset != 4:
                raise MalformedMessage("an A record is not 4 bytes")
            address = f"{wire[offset]}.{wire[offset + 1]}.{wire[offset + 2]}.{wire[offset + 3]}"
            _add(section.a, owner, ttl, address)
        elif rdtype == AAAA:
            if end - offset != 16:
                raise MalformedMessage("an AAAA record is not 16 bytes")
            _add(section.aaaa, owner, ttl, ipaddress.IPv6Address(wire[offset:end]).compressed)
        elif rdtype == SRV:
            if end - offset < 7:
                raise MalformedMessage("an SRV record is cut short")
            target, after = self._name(offset + 6)
            if after != end:
                raise MalformedMessage("an SRV record's length does not match")
            priority, weight, port = _SRV.unpack_from(wire, offset)
            _add(section.srv, owner, ttl, SrvData(priority, weight, port, target))
        elif rdtype == CNAME:
            target, after = self._name(offset)
            if after != end:
                raise MalformedMessage("a CNAME record's length does not match")
            _add(section.cname, owner, ttl, target)
        elif rdtype == TXT:
            _add(section.txt, owner, ttl, _strings(wire, offset, end))

    def _name(self, offset: int) -> tuple[str, int]:
        """The name at ``offset`` as dnspython's ``to_text()`` writes it, and where it ends.

        Every suffix read is remembered by its offset, so a compressed name costs one label
        and a dictionary lookup.
        """
        wire, names = self._wire, self._names
        labels: list[tuple[int, str]] = []
        after = -1
        length = 0
        limit = offset
        while True:
            if offset >= len(wire):
                raise MalformedMessage("a name runs past the end of the message")
            size = wire[offset]
            if size == 0:
                suffix = "."
                offset += 1
                break
            if size >= 0xC0:
                if offset + 1 >= len(wire):
                    raise MalformedMessage("a compression pointer is cut short")
                pointer = ((size & 0x3F) << 8) | wire[offset + 1]
                if after < 0:
                    after = offset + 2
                known = names.get(pointer)
                if known is not None:
                    suffix = known
                    break
                # Each pointer must point further back than the last: no loops.
                if pointer >= limit:
                    raise MalformedMessage("a compression pointer does not point back")
                offset = limit = pointer
                continue
            if size > 63:
                raise MalformedMessage("a name has an unknown label type")
            length += size + 1
            if length > 254:
                raise MalformedMessage("a name is longer than 255 bytes")
            labels.append((offset, label_text(wire[offset + 1 : offset + 1 + size])))
            offset += 1 + size
        if after < 0:
            after = offset
        text = suffix
        for start, label in reversed(labels):
            text = label + "." + text if text != "." else label + "."
            names[start] = text
        return text, after


def _strings(wire: bytes, offset: int, end: int) -> TxtData:
    """The character-strings of a TXT record's data (RFC 1035 3.3.14): at least one."""
    strings = []
    while offset < end:
        size = wire[offset]
        offset += 1 + size
        if offset > end:
            raise MalformedMessage("a TXT character-string runs past its record")
        strings.append(wire[offset - size : offset])
    if not strings:
        raise MalformedMessage("a TXT record holds no character-string")
    return tuple(strings)
