"""Where an A-XDR Data value ends (IEC 62056-6-2 clause 4.1.5), checking its framing only.

The APDU decoders use this to find and check the extent of embedded Data without building values:
tags, lengths and element counts must be consistent and within the input (same bounds as the
decoder: ``MAX_DEPTH``, counts checked against the remaining octets), but value contents such as a
date-time's month are left to ``decode_data``. Homogeneous arrays are checked by the row layout in a
few slice comparisons.
"""

from __future__ import annotations

from typing import Final

from openprepaid.cosem.axdr_compact import decode_type_description
from openprepaid.cosem.axdr_layout import FIXED_DECODE, layout_at
from openprepaid.cosem.axdr_length import decode_length, element_count, tag_name
from openprepaid.cosem.errors import DecodeError

_SIZES: Final[dict[int, int]] = {tag: size for tag, (_code, size) in FIXED_DECODE.items()} | {
    0: 0,
    255: 0,
    25: 12,
    26: 5,
    27: 4,
}


def data_end(buf: bytes, pos: int = 0, end: int | None = None) -> int:
    """The offset just after the Data value at ``pos``; ``DecodeError`` if it is not well framed."""
    if type(buf) is not bytes:
        buf = bytes(buf)
    return _skip(buf, pos, len(buf) if end is None else end, 0)


def _skip(buf: bytes, pos: int, end: int, depth: int) -> int:
    if pos >= end:
        raise DecodeError("truncated: a Data tag is missing", pos)
    tag = buf[pos]
    pos += 1
    size = _SIZES.get(tag)
    if size is not None:
        stop = pos + size
    elif tag == 9 or tag == 10 or tag == 12:  # noqa: PLR1714 - cheaper than a set lookup here
        length, pos = decode_length(buf, pos, end)
        stop = pos + length
    elif tag == 1 or tag == 2:  # noqa: PLR1714
        return _skip_sequence(buf, pos, end, depth, tag)
    elif tag == 4:
        bits, pos = decode_length(buf, pos, end)
        stop = pos + (bits + 7) // 8
    elif tag == 19:
        _spec, pos = decode_type_description(buf, pos, end, depth + 1)
        length, pos = decode_length(buf, pos, end)
        stop = pos + length
    else:
        raise DecodeError(f"unknown Data tag {tag}", pos - 1)
    if stop > end:
        raise DecodeError(f"truncated {tag_name(tag)}", pos)
    return stop


def _skip_sequence(buf: bytes, pos: int, end: int, depth: int, tag: int) -> int:
    count, pos = element_count(buf, pos, end, depth, tag)
    if tag == 1 and count:
        layout = layout_at(buf, pos, end)
        if layout is not None and layout.matches(buf, pos, count, end):
            return pos + count * layout.size
    depth += 1
    for _ in range(count):
        pos = _skip(buf, pos, end, depth)
    return pos
