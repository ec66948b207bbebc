"""Fuzz every decoder entry point of openprepaid.cosem with mutated and random octets.

Run from the checkout:  .venv/bin/python fuzz/fuzz_decoders.py --count 1000000 [--seed 1] [--only NAME]

Each iteration picks an entry point (round robin), takes one of its seed inputs (valid encodings),
mutates it (bit flips, byte sets, inserts, deletes, truncations, splices, length-ish values) or draws
random octets, and calls the decoder. The only exception allowed is the entry point's own (by
default ``DecodeError``); anything else is printed with its input and the run exits 1. When a
decoder succeeds, its ``check`` (if any) re-encodes the result and decodes it again, so a decoder
that accepts what the encoder cannot reproduce is caught too.

More entry points: any ``openprepaid.cosem`` module that defines ``DECODERS`` (a mapping of name to
``decode(octets)``) is picked up by ``discover()``, with seeds from its optional ``FUZZ_SEEDS``
(name -> list of valid encodings; otherwise the shared seed pool); or call ``register(...)``.
Nothing here is imported by the unit tests.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import random
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from openprepaid.cosem import axdr, xdlms
from openprepaid.cosem.axdr_compact import decode_type_description
from openprepaid.cosem.date_time import (
    ClockStatus,
    CosemDate,
    CosemDateTime,
    CosemTime,
    datetime_from_octets,
)
from openprepaid.cosem.errors import DecodeError
from openprepaid.cosem.obis import OBIS


@dataclass
class EntryPoint:
    name: str
    decode: Callable[[bytes], Any]
    seeds: list[bytes]
    allowed: tuple[type[BaseException], ...] = (DecodeError,)
    check: Callable[[Any], None] | None = None
    calls: int = field(default=0)
    accepted: int = field(default=0)


ENTRY_POINTS: list[EntryPoint] = []


def register(
    name: str,
    decode: Callable[[bytes], Any],
    seeds: Sequence[bytes],
    *,
    allowed: tuple[type[BaseException], ...] = (DecodeError,),
    check: Callable[[Any], None] | None = None,
) -> None:
    """Add a decoder: it gets octets and may raise only ``allowed``; ``check`` vets its results."""
    ENTRY_POINTS.append(EntryPoint(name, decode, [bytes(seed) for seed in seeds] or [b""], allowed, check))


# --- seeds ----------------------------------------------------------------------------------------

CLOCK_OCTETS = CosemDateTime(2024, 1, 15, 10, 30, 0, 0, -330, ClockStatus.OK, 1).to_bytes()


def _data_seeds() -> list[bytes]:
    rows = [(CLOCK_OCTETS, axdr.LongUnsigned(230 + n), axdr.DoubleLongUnsigned(n * 7), axdr.Long(-n)) for n in range(6)]
    values: list[Any] = [
        None,
        True,
        axdr.Unsigned(7),
        axdr.Integer(-5),
        axdr.Long64(-(2**40)),
        axdr.Long64Unsigned(2**63),
        axdr.Enum(3),
        axdr.Bcd(0x45),
        axdr.Float32(1.5),
        axdr.Float64(-2.25),
        b"\x00\x01\x02",
        "meter",
        axdr.Utf8String("मीटर"),
        axdr.BitString("1011001"),
        CosemDateTime(2024, 1, 15, 10, 30),
        CosemDate(2024, 1, 15, 1),
        CosemTime(10, 30, 0, 0),
        axdr.DONT_CARE,
        rows,
        [axdr.Unsigned(n) for n in range(10)],
        (axdr.LongUnsigned(1), b"", [None, (True, axdr.Float64(0.0))]),
        axdr.CompactArray(
            axdr.StructureOf((axdr.DataTag.DOUBLE_LONG_UNSIGNED, axdr.DataTag.LONG_UNSIGNED)), [(1, 2)] * 3
        ),
        axdr.CompactArray(
            axdr.StructureOf((axdr.DataTag.OCTET_STRING, axdr.ArrayOf(axdr.DataTag.UNSIGNED, 2))),
            [(b"ab", [1, 2]), (b"", [3, 4])],
        ),
        [[[(axdr.Unsigned(1),)]]],
    ]
    return [axdr.encode_data(value) for value in values]


DATA_SEEDS = _data_seeds()
ATTRIBUTE = xdlms.CosemAttributeDescriptor(7, OBIS(1, 0, 99, 1, 0), 2)
METHOD = xdlms.CosemMethodDescriptor(70, OBIS(0, 0, 96, 3, 10), 1)
RANGE = xdlms.RangeDescriptor(CosemDateTime(2024, 1, 1, 0, 0, 0, 0, -330), CosemDateTime(2024, 1, 2, 0, 0, 0, 0, -330))
ACCESS = RANGE.to_access()
WITH_SELECTION = (xdlms.CosemAttributeDescriptorWithSelection(ATTRIBUTE, ACCESS),) * 2
BLOCK = {"last_block": False, "block_number": 3, "raw_data": DATA_SEEDS[-6][:40]}
PROFILE = DATA_SEEDS[-6]


def _apdu_seeds() -> list[xdlms.XdlmsApdu]:
    ok = xdlms.DataAccessResult.SUCCESS
    return [
        xdlms.GetRequestNormal(attribute=ATTRIBUTE, access=ACCESS),
        xdlms.GetRequestNormal(attribute=ATTRIBUTE, access=xdlms.EntryDescriptor(1, 96).to_access()),
        xdlms.GetRequestNext(block_number=2),
        xdlms.GetRequestWithList(attributes=WITH_SELECTION),
        xdlms.GetResponseNormal(result=PROFILE),
        xdlms.GetResponseNormal(result=xdlms.DataAccessResult.OBJECT_UNDEFINED),
        xdlms.GetResponseWithDatablock(**BLOCK),
        xdlms.GetResponseWithList(results=(PROFILE, xdlms.DataAccessResult.OTHER_REASON, DATA_SEEDS[2])),
        xdlms.SetRequestNormal(attribute=ATTRIBUTE, value=DATA_SEEDS[14]),
        xdlms.SetRequestWithFirstDatablock(attribute=ATTRIBUTE, access=ACCESS, **BLOCK),
        xdlms.SetRequestWithDatablock(**BLOCK),
        xdlms.SetRequestWithList(attributes=WITH_SELECTION, values=(DATA_SEEDS[3], DATA_SEEDS[11])),
        xdlms.SetRequestWithListAndFirstDatablock(attributes=WITH_SELECTION, **BLOCK),
        xdlms.SetResponseNormal(result=ok),
        xdlms.SetResponseDatablock(block_number=4),
        xdlms.SetResponseLastDatablock(result=ok, block_number=5),
        xdlms.SetResponseLastDatablockWithList(results=(ok, xdlms.DataAccessResult.TYPE_UNMATCHED), block_number=6),
        xdlms.SetResponseWithList(results=(ok, ok)),
        xdlms.ActionRequestNormal(method=METHOD, parameters=DATA_SEEDS[3]),
        xdlms.ActionRequestNormal(method=METHOD),
        xdlms.ActionRequestNextPblock(block_number=1),
        xdlms.ActionRequestWithList(methods=(METHOD, METHOD), parameters=(DATA_SEEDS[3], DATA_SEEDS[0])),
        xdlms.ActionRequestWithFirstPblock(method=METHOD, **BLOCK),
        xdlms.ActionRequestWithListAndFirstPblock(methods=(METHOD,), **BLOCK),
        xdlms.ActionRequestWithPblock(**BLOCK),
        xdlms.ActionResponseNormal(result=xdlms.ActionResult.SUCCESS, return_parameters=DATA_SEEDS[10]),
        xdlms.ActionResponseWithPblock(**BLOCK),
        xdlms.ActionResponseWithList(
            results=(
                xdlms.ActionResponseWithOptionalData(xdlms.ActionResult.SUCCESS),
                xdlms.ActionResponseWithOptionalData(
                    xdlms.ActionResult.OTHER_REASON, xdlms.DataAccessResult.OTHER_REASON
                ),
            )
        ),
        xdlms.ActionResponseNextPblock(block_number=2),
        xdlms.DataNotification(
            long_invoke_id_and_priority=0x1DB, date_time=CosemDateTime.from_bytes(CLOCK_OCTETS), body=DATA_SEEDS[20]
        ),
        xdlms.DataNotification(long_invoke_id_and_priority=7, body=PROFILE),
        xdlms.EventNotificationRequest(
            time=CosemDateTime.from_bytes(CLOCK_OCTETS), attribute=ATTRIBUTE, value=DATA_SEEDS[2]
        ),
        xdlms.ExceptionResponse(
            state_error=xdlms.StateError.SERVICE_NOT_ALLOWED,
            service_error=xdlms.ExceptionServiceError.INVOCATION_COUNTER_ERROR,
            invocation_counter=77,
        ),
        xdlms.ConfirmedServiceError(
            service=xdlms.ConfirmedService.INITIATE_ERROR, error_kind=xdlms.ServiceErrorKind.INITIATE, error_value=1
        ),
    ]


APDU_SEEDS = [apdu.encode() for apdu in _apdu_seeds()]

# --- checks: a decoded value must re-encode, and decode again to the same encoding -----------------


def _check_typed_data(value: Any) -> None:
    once = axdr.encode_data(value)
    if axdr.encode_data(axdr.decode_data(once, typed=True)) != once:
        raise AssertionError("typed Data does not re-encode stably")


def _check_apdu(apdu: Any) -> None:
    once = apdu.encode()
    again = xdlms.decode_xdlms_apdu(once)
    if again.encode() != once:
        raise AssertionError("APDU does not re-encode stably")


def _check_octets(value: Any) -> None:
    if type(value).from_bytes(value.to_bytes()) != value:
        raise AssertionError("date/time does not round trip")


def _profile_access(data: bytes) -> Any:
    if not data:
        raise DecodeError("empty")
    return xdlms.profile_access(xdlms.SelectiveAccess(data[0], data[1:]))


def _register_cosem() -> None:
    register("axdr.decode_data", axdr.decode_data, DATA_SEEDS)
    register(
        "axdr.decode_data typed", lambda data: axdr.decode_data(data, typed=True), DATA_SEEDS, check=_check_typed_data
    )
    register("axdr.data_end", axdr.data_end, DATA_SEEDS)
    register(
        "axdr type description",
        lambda data: decode_type_description(data, 0, len(data)),
        [seed[1:] for seed in DATA_SEEDS if seed[:1] == b"\x13"],
    )
    register("CosemDateTime.from_bytes", CosemDateTime.from_bytes, [CLOCK_OCTETS], check=_check_octets)
    register("CosemDate.from_bytes", CosemDate.from_bytes, [CLOCK_OCTETS[:5]], check=_check_octets)
    register("CosemTime.from_bytes", CosemTime.from_bytes, [CLOCK_OCTETS[5:9]], check=_check_octets)
    register("datetime_from_octets", datetime_from_octets, [CLOCK_OCTETS])
    register("OBIS.from_bytes", OBIS.from_bytes, [bytes(OBIS(1, 0, 1, 8, 0))])
    register("OBIS.parse", lambda data: OBIS.parse(data.decode("latin-1")), [b"1-0:1.8.0*255", b"0.0.96.1.0.255"])
    register(
        "xdlms.profile_access",
        _profile_access,
        [bytes((1,)) + ACCESS.parameters, b"\x02" + xdlms.EntryDescriptor().to_access().parameters],
    )
    register("xdlms.decode_xdlms_apdu", xdlms.decode_xdlms_apdu, APDU_SEEDS, check=_check_apdu)
    for kind in dict.fromkeys(type(apdu) for apdu in _apdu_seeds()):
        seeds = [seed for seed in APDU_SEEDS if seed[:1] == bytes((kind.TAG,))]
        register(f"{kind.__name__}.decode", kind.decode, seeds)


# --- the mutator -----------------------------------------------------------------------------------

_INTERESTING = (0x00, 0x01, 0x02, 0x7F, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0xFE, 0xFF, 0x09, 0x0C, 0x13, 0x19)


def mutate(rng: random.Random, data: bytes, pool: Sequence[bytes]) -> bytes:
    octets = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        move = rng.randrange(9)
        position = rng.randrange(len(octets) + 1)
        if move == 0 and octets:
            octets[position % len(octets)] ^= 1 << rng.randrange(8)
        elif move == 1 and octets:
            octets[position % len(octets)] = rng.choice(_INTERESTING)
        elif move == 2:
            octets[position:position] = bytes(rng.choice(_INTERESTING) for _ in range(rng.randint(1, 4)))
        elif move == 3 and octets:
            del octets[position : position + rng.randint(1, 8)]
        elif move == 4:
            del octets[position:]
        elif move == 5:
            other = rng.choice(pool)
            start = rng.randrange(len(other) + 1)
            octets[position:] = other[start:]
        elif move == 6 and octets:
            octets[position % len(octets)] = rng.randrange(256)
        elif move == 7 and len(octets) > 2:
            start = rng.randrange(len(octets) - 1)
            chunk = octets[start : start + rng.randint(1, 16)]
            octets[position:position] = chunk * rng.randint(1, 3)
        else:
            octets[position:position] = rng.randbytes(rng.randint(1, 6))
    return bytes(octets)


def say(line: str) -> None:
    sys.stdout.write(line + "\n")


def run(count: int, seed: int, only: str | None) -> int:
    rng = random.Random(seed)
    points = [point for point in ENTRY_POINTS if only is None or only in point.name]
    if not points:
        say(f"no entry point matches {only!r}")
        return 2
    pool = [seed_octets for point in points for seed_octets in point.seeds]
    failures = 0
    started = time.perf_counter()
    for iteration in range(count):
        point = points[iteration % len(points)]
        fresh = rng.random() < 0.05
        data = rng.randbytes(rng.randint(0, 64)) if fresh else mutate(rng, rng.choice(point.seeds), pool)
        point.calls += 1
        try:
            result = point.decode(data)
        except point.allowed:
            continue
        except Exception:
            failures += 1
            say(f"FAIL {point.name} input={data.hex()}\n{traceback.format_exc()}")
            if failures >= 20:
                break
            continue
        point.accepted += 1
        if point.check is not None:
            try:
                point.check(result)
            except Exception:
                failures += 1
                say(f"FAIL check {point.name} input={data.hex()}\n{traceback.format_exc()}")
    elapsed = time.perf_counter() - started
    for point in points:
        say(f"  {point.name:45s} calls={point.calls:8d} accepted={point.accepted:8d}")
    done = sum(point.calls for point in points)
    say(f"inputs={done} entry_points={len(points)} unexpected_exceptions={failures} seconds={elapsed:.1f}")
    return 1 if failures else 0


def discover() -> None:
    """Register the ``DECODERS`` every other cosem module offers (skipping names already registered)."""
    import openprepaid.cosem as package  # noqa: PLC0415 - only the discovery needs the package object

    known = {point.name for point in ENTRY_POINTS}
    shared = APDU_SEEDS + DATA_SEEDS
    for info in pkgutil.iter_modules(package.__path__):
        try:
            module = importlib.import_module(f"openprepaid.cosem.{info.name}")
        except Exception as exc:  # a module another helper is still writing must not stop the run
            say(f"skipped openprepaid.cosem.{info.name}: {type(exc).__name__}: {exc}")
            continue
        decoders = getattr(module, "DECODERS", None)
        if not isinstance(decoders, Mapping):
            continue
        seeds: Mapping[str, Sequence[bytes]] = getattr(module, "FUZZ_SEEDS", {})
        for name, decode in decoders.items():
            if name not in known:
                register(name, decode, list(seeds.get(name, ())) or shared)
                known.add(name)


_register_cosem()
discover()

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", help="run only the entry points whose name contains this")
    arguments = parser.parse_args()
    sys.exit(run(arguments.count, arguments.seed, arguments.only))
