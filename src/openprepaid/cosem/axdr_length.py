"""A-XDR lengths and element counts (IEC 62056-6-2 clause 4.1.5; X.690 8.1.3 definite form).

A length below 128 is one octet; otherwise ``0x80 | n`` followed by ``n`` big-endian octets. The
encoder always writes the shortest form; the decoder accepts up to four length octets.
"""

from __future__ import annotations

from typing import Final

from openprepaid.cosem.axdr_types import DataTag
from openprepaid.cosem.errors import DecodeError, EncodeError

MAX_DEPTH: Final = 32
MAX_LENGTH_OCTETS: Final = 4
_SHORT_LENGTHS: Final = tuple(bytes((n,)) for n in range(0x80))


def tag_name(tag: int) -> str:
    try:
        return DataTag(tag).name.lower().replace("_", "-")
    except ValueError:
        return f"tag {tag}"


def decode_length(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """The length at ``pos`` and the offset after it."""
    if pos >= end:
        raise DecodeError("truncated: a length is missing", pos)
    first = buf[pos]
    if first < 0x80:
        return first, pos + 1
    count = first & 0x7F
    if not 0 < count <= MAX_LENGTH_OCTETS:
        raise DecodeError(f"unsupported length form {first:#04x}", pos)
    stop = pos + 1 + count
    if stop > end:
        raise DecodeError("truncated length", pos)
    return int.from_bytes(buf[pos + 1 : stop], "big"), stop


def length_octets(length: int) -> bytes:
    """The shortest encoding of ``length``."""
    if 0 <= length < 0x80:
        return _SHORT_LENGTHS[length]
    if 0 <= length < 0x100000000:
        size = (length.bit_length() + 7) // 8
        return bytes((0x80 | size,)) + length.to_bytes(size, "big")
    raise EncodeError(f"length {length} does not fit in four octets")


def element_count(buf: bytes, pos: int, end: int, depth: int, tag: int) -> tuple[int, int]:
    """An array's or structure's element count, refused if it cannot fit (each element takes an
    octet at least) or if the nesting is already ``MAX_DEPTH`` deep."""
    count, pos = decode_length(buf, pos, end)
    if count > end - pos:
        raise DecodeError(f"{tag_name(tag)} of {count} elements in {end - pos} octets", pos)
    if depth >= MAX_DEPTH:
        raise DecodeError(f"Data nested deeper than {MAX_DEPTH}", pos)
    return count, pos
