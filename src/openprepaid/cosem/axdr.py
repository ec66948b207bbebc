"""A-XDR Data: the value encoding of every COSEM attribute (IEC 62056-6-2 clause 4.1.5, Green Book 9.5).

Representation
--------------
Decoding gives **native Python values** by default, the fastest form and what readers want:

======================================  ==========================================================
A-XDR type (tag)                        native value
======================================  ==========================================================
null-data (0)                           ``None``
array (1) / compact-array (19)          ``list``
structure (2)                           ``tuple``
boolean (3)                             ``bool`` (any non-zero octet is true; true encodes as 1)
bit-string (4)                          ``BitString`` (a ``str`` of '0'/'1', first bit = MSB)
integer, long, double-long, long64,     ``int``
unsigned, long-unsigned,
double-long-unsigned, long64-unsigned,
enum, bcd (15, 16, 5, 20, 17, 18, 6,
21, 22, 13)
float32, float64 (23, 24)               ``float``
octet-string (9)                        ``bytes`` (a 12-octet clock value stays bytes: see
                                        ``date_time.datetime_from_octets``)
visible-string (10)                     ``str`` (octets mapped 1:1 as Latin-1, so nothing is lost)
utf8-string (12)                        ``str``
date-time, date, time (25, 26, 27)      ``CosemDateTime``, ``CosemDate``, ``CosemTime``
dont-care (255)                         ``DONT_CARE``
======================================  ==========================================================

Natives drop the integer width, so they cannot be re-encoded on their own. ``decode_data(...,
typed=True)`` instead wraps exactly the ambiguous ones: the integer types become ``int`` subclasses
named after their A-XDR type (``Unsigned``, ``LongUnsigned``, ``DoubleLongUnsigned``, ``Enum``, ...),
floats ``Float32``/``Float64``, utf8-strings ``Utf8String``, and a compact-array ``CompactArray``.
``encode_data`` accepts exactly that typed form (plus plain ``None``, ``bool``, ``bytes``, ``str``
for visible-string, ``list`` for array, ``tuple`` for structure), so ``encode_data(decode_data(x,
typed=True)) == x`` for canonical input, and it refuses a bare ``int``/``float`` rather than guess.

A server that knows its types (a profile's capture objects) encodes natives with a type
description: ``encode_as(ArrayOf(StructureOf((DataTag.OCTET_STRING, DataTag.LONG_UNSIGNED))), rows)``.

Speed: homogeneous arrays of fixed-shape rows (numbers and same-length octet-strings, the shape of
every load profile) are decoded and encoded a whole array at a time by ``struct`` (``axdr_layout``).

Bounds: nesting is limited to ``MAX_DEPTH``; element counts are checked against the remaining octets
before anything is allocated; compact-array descriptions cannot describe zero-size elements. All
malformed input raises ``DecodeError`` with the offset; unencodable values raise ``EncodeError``.
"""

from __future__ import annotations

from openprepaid.cosem.axdr_decode import decode_data, decode_data_prefix
from openprepaid.cosem.axdr_encode import encode_as, encode_data
from openprepaid.cosem.axdr_length import MAX_DEPTH, decode_length, length_octets
from openprepaid.cosem.axdr_skip import data_end
from openprepaid.cosem.axdr_types import (
    DONT_CARE,
    ArrayOf,
    Bcd,
    BitString,
    CompactArray,
    DataTag,
    DontCare,
    DoubleLong,
    DoubleLongUnsigned,
    Enum,
    Float32,
    Float64,
    Integer,
    Long,
    Long64,
    Long64Unsigned,
    LongUnsigned,
    StructureOf,
    TypedInt,
    TypeSpec,
    Unsigned,
    Utf8String,
)
from openprepaid.cosem.date_time import ClockStatus, CosemDate, CosemDateTime, CosemTime, datetime_from_octets

__all__ = [
    "DONT_CARE",
    "MAX_DEPTH",
    "ArrayOf",
    "Bcd",
    "BitString",
    "ClockStatus",
    "CompactArray",
    "CosemDate",
    "CosemDateTime",
    "CosemTime",
    "DataTag",
    "DontCare",
    "DoubleLong",
    "DoubleLongUnsigned",
    "Enum",
    "Float32",
    "Float64",
    "Integer",
    "Long",
    "Long64",
    "Long64Unsigned",
    "LongUnsigned",
    "StructureOf",
    "TypeSpec",
    "TypedInt",
    "Unsigned",
    "Utf8String",
    "data_end",
    "datetime_from_octets",
    "decode_data",
    "decode_data_prefix",
    "decode_length",
    "encode_as",
    "encode_data",
    "length_octets",
]
