"""DNS messages on the wire, for the few records discovery reads. Pure: bytes in, data out.

dnspython turns every record of a message into objects before it returns; for a headless
Service with a thousand pods that takes 50 to 100 ms in one piece, which on an event loop is
a stall of that length. :class:`Reply` reads only what discovery uses (A, AAAA, SRV and CNAME
records, with name compression) into plain tuples, grouped into record sets, and reads them
in slices (:meth:`Reply.read`), so that an asyncio driver can let other tasks run in between.
Malformed messages raise dnspython's ``FormError``, which the resolvers already translate.
"""

from __future__ import annotations

import ipaddress
import struct

import dns.exception

__all__ = ["AAAA", "CNAME", "SRV", "A", "Reply", "make_query"]

A = 1
CNAME = 5
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
_WANTED = frozenset({A, AAAA, SRV, CNAME})

# Label bytes printed as they are; everything else is escaped as dnspython's to_text() does.
_PLAIN = bytes(c for c in range(0x21, 0x7F) if c not in b'"().;\\@$')

#: One record's data: an address (A, AAAA), a target name (CNAME) or
#: ``(priority, weight, port, target)`` (SRV).
Data = object


def _malformed(why: str) -> Exception:
    error: type[Exception] = dns.exception.FormError  # untyped constructor
    return error(why)


def make_query(qid: int, qname: bytes, rdtype: int) -> bytes:
    """A recursive query for ``qname`` (wire format, absolute) with an EDNS0 OPT record."""
    return _HEADER.pack(qid, _RD, 1, 0, 0, 1) + qname + _QUESTION.pack(rdtype, _IN) + _OPT_RR


def _label_text(label: bytes) -> str:
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


class RRset:
    """The records of one name and type in one section; ``ttl`` is the smallest of them."""

    __slots__ = ("items", "name", "ttl")

    def __init__(self, name: str, ttl: int) -> None:
        self.name = name
        self.ttl = ttl
        self.items: list[Data] = []


class Reply:
    """A DNS response: header and question read at once, records by :meth:`read`.

    Args:
        wire: The message as received.

    Raises:
        dns.exception.FormError: The header or question is malformed.
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
            raise _malformed("the DNS message is shorter than its header")
        self._wire = wire
        self._names: dict[int, str] = {}
        self.id, self.flags, qdcount, *counts = _HEADER.unpack_from(wire)
        self.rcode = self.flags & 0xF
        self._counts = counts
        self.question: tuple[str, int, int] | None = None
        offset = 12
        if qdcount > 1:
            raise _malformed("more than one question in a response")
        if qdcount == 1:
            name, offset = self._name(offset)
            if offset + 4 > len(wire):
                raise _malformed("the question is cut short")
            self.question = (name, *_QUESTION.unpack_from(wire, offset))
            offset += 4
        self._offset = offset
        self._section = 0
        #: Answer, authority and additional records of the types we read, by
        #: (lower-case owner name, type).
        self.sections: tuple[dict[tuple[str, int], RRset], ...] = ({}, {}, {})

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
            dns.exception.FormError: A record is malformed, or bytes follow the last one.
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
                raise _malformed("a record header is cut short")
            rdtype, rdclass, ttl, rdlen = _RR.unpack_from(wire, offset)
            offset += 10
            end = offset + rdlen
            if end > size:
                raise _malformed("a record's data is cut short")
            if rdtype == _OPT:
                # The extended RCODE's upper eight bits travel in the OPT record's TTL.
                self.rcode |= (ttl >> 24) << 4
            elif rdtype in _WANTED and rdclass == _IN:
                data = self._data(rdtype, offset, end)
                key = (owner.lower(), rdtype)
                rrset = self.sections[self._section].get(key)
                if rrset is None:
                    rrset = self.sections[self._section][key] = RRset(owner, ttl)
                elif ttl < rrset.ttl:
                    rrset.ttl = ttl
                rrset.items.append(data)
            offset = end
        self._offset = offset
        if self._section < 3:
            return False
        if offset != size:
            raise _malformed("trailing junk after the last record")
        return True

    def _data(self, rdtype: int, offset: int, end: int) -> Data:
        wire = self._wire
        if rdtype == A:
            if end - offset != 4:
                raise _malformed("an A record is not 4 bytes")
            return f"{wire[offset]}.{wire[offset + 1]}.{wire[offset + 2]}.{wire[offset + 3]}"
        if rdtype == AAAA:
            if end - offset != 16:
                raise _malformed("an AAAA record is not 16 bytes")
            return ipaddress.IPv6Address(wire[offset:end]).compressed
        if rdtype == SRV:
            if end - offset < 7:
                raise _malformed("an SRV record is cut short")
            target, after = self._name(offset + 6)
            if after != end:
                raise _malformed("an SRV record's length does not match")
            return (*_SRV.unpack_from(wire, offset), target)
        target, after = self._name(offset)
        if after != end:
            raise _malformed("a CNAME record's length does not match")
        return target

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
                raise _malformed("a name runs past the end of the message")
            size = wire[offset]
            if size == 0:
                suffix = "."
                offset += 1
                break
            if size >= 0xC0:
                if offset + 1 >= len(wire):
                    raise _malformed("a compression pointer is cut short")
                pointer = ((size & 0x3F) << 8) | wire[offset + 1]
                if after < 0:
                    after = offset + 2
                known = names.get(pointer)
                if known is not None:
                    suffix = known
                    break
                # Each pointer must point further back than the last: no loops.
                if pointer >= limit:
                    raise _malformed("a compression pointer does not point back")
                offset = limit = pointer
                continue
            if size > 63:
                raise _malformed("a name has an unknown label type")
            length += size + 1
            if length > 254:
                raise _malformed("a name is longer than 255 bytes")
            labels.append((offset, _label_text(wire[offset + 1 : offset + 1 + size])))
            offset += 1 + size
        if after < 0:
            after = offset
        text = suffix
        for start, label in reversed(labels):
            text = label + "." + text if text != "." else label + "."
            names[start] = text
        return text, after
