"""Codec speed: a 96-row block-load profile GET-Response, encoded and decoded, plain and ciphered.

Usage: .venv/bin/python bench/codec.py [--seconds S] [--no-peers]

The work per operation, the same on every side: from the rows as plain Python values (a 12-octet clock
and five numbers: voltage and current as long-unsigned, three energies as double-long-unsigned) to
the octets of a GET-Response-Normal, then from those octets back to the library's natural value
objects. The ciphered leg adds security suite 0 (AES-128-GCM, authenticated and encrypted) around
the APDU and removes it again: ours and gurux-dlms as glo-get-response, dlms-cosem in its
general-glo-ciphering envelope (it has no glo-get-response). The peers (dlms-cosem 25.1.0,
gurux-dlms) run from bench/peers/ in .venv-peers, each timing its own loop and printing JSON; the
plain APDU octets of all three are compared, so all do the same work.

Prints a table, one JSON line for the ciphered leg and, as its last line, JSON:
{"openprepaid_ops": .., "dlms_cosem_ops": .., "gurux_ops": .., "vs_dlms_cosem": .., "vs_gurux": ..}
(plain leg, operations per second).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from openprepaid.cosem.axdr import ArrayOf, DataTag, StructureOf, decode_data, encode_as
from openprepaid.cosem.date_time import CosemDateTime, datetime_from_octets
from openprepaid.cosem.security import SecurityControl, SecurityKeys
from openprepaid.cosem.security_apdu import Protection, protect, unprotect
from openprepaid.cosem.xdlms import GetResponseNormal, decode_xdlms_apdu

ROOT = Path(__file__).resolve().parents[1]
PEERS = ROOT / "bench" / "peers"
PEER_PYTHON = ROOT / ".venv-peers" / "bin" / "python"
IST = timezone(timedelta(hours=5, minutes=30))
SPEC = ArrayOf(
    StructureOf(
        (
            DataTag.OCTET_STRING,
            DataTag.LONG_UNSIGNED,
            DataTag.LONG_UNSIGNED,
            DataTag.DOUBLE_LONG_UNSIGNED,
            DataTag.DOUBLE_LONG_UNSIGNED,
            DataTag.DOUBLE_LONG_UNSIGNED,
        )
    )
)
KEYS = {
    "system_title": "4d4d4d0000bc614e",
    "encryption": "000102030405060708090a0b0c0d0e0f",
    "authentication": "d0d1d2d3d4d5d6d7d8d9dadbdcdddedf",
}


def profile_rows() -> list[tuple[Any, ...]]:
    """One day of 15-minute rows, as a meter's buffer holds them."""
    start = datetime(2024, 1, 15, tzinfo=IST)
    return [
        (
            CosemDateTime.from_datetime(start + timedelta(minutes=15 * n), with_weekday=False).to_bytes(),
            23_000 + (n * 37) % 900,  # voltage, V x 100
            400 + (n * 53) % 3000,  # current, A x 1000
            12_000_000 + 250 * n,  # active import, Wh
            3 * n,  # active export, Wh
            12_600_000 + 262 * n,  # apparent import, VAh
        )
        for n in range(96)
    ]


def rate(work: Callable[[], object], seconds: float) -> float:
    count, started = 0, time.perf_counter()
    while True:
        for _ in range(20):
            work()
        count += 20
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return count / elapsed


def ours(rows: list[tuple[Any, ...]], seconds: float) -> dict[str, Any]:
    keys = SecurityKeys(
        global_unicast=bytes.fromhex(KEYS["encryption"]), authentication=bytes.fromhex(KEYS["authentication"])
    )
    system_title = bytes.fromhex(KEYS["system_title"])
    control = SecurityControl(authenticated=True, encrypted=True)

    def encode() -> bytes:
        return GetResponseNormal(result=encode_as(SPEC, rows)).encode()

    def decode(octets: bytes) -> list[Any]:
        apdu = decode_xdlms_apdu(octets)
        assert isinstance(apdu, GetResponseNormal)
        assert isinstance(apdu.result, bytes)
        values: list[Any] = decode_data(apdu.result)
        return values

    def plain() -> list[Any]:
        return decode(encode())

    def ciphered() -> list[Any]:
        octets = protect(
            encode(),
            protection=Protection.GLOBAL,
            security_control=control,
            system_title=system_title,
            invocation_counter=100,
            keys=keys,
        )
        return decode(unprotect(octets, keys=keys, peer_system_title=system_title).apdu)

    def plain_with_datetimes() -> list[Any]:
        return [(datetime_from_octets(row[0]), *row[1:]) for row in plain()]

    assert plain() == rows
    return {
        "plain_ops": rate(plain, seconds),
        "ciphered_ops": rate(ciphered, seconds),
        "plain_with_datetimes_ops": rate(plain_with_datetimes, seconds),
        "plain_hex": encode().hex(),
    }


def peer(script: str, rows: list[tuple[Any, ...]], seconds: float) -> dict[str, Any]:
    request = {"rows": [[row[0].hex(), *row[1:]] for row in rows], "seconds": seconds, "keys": KEYS}
    result = subprocess.run(
        [str(PEER_PYTHON), str(PEERS / script)],
        input=json.dumps(request) + "\n",
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={"PYTHONPATH": ""},
    )
    if result.returncode != 0:
        raise RuntimeError(f"{script} failed: {result.stderr[-3000:]}")
    reply: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return reply


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time per leg and library")
    parser.add_argument("--no-peers", action="store_true", help="time openprepaid only")
    args = parser.parse_args()
    rows = profile_rows()
    mine = ours(rows, args.seconds)
    results: dict[str, dict[str, Any]] = {"openprepaid": mine}
    if not args.no_peers:
        if not PEER_PYTHON.exists():
            sys.exit("no .venv-peers: run `python tests/interop/peer_env.py` first (or pass --no-peers)")
        results["dlms_cosem"] = peer("bench_dlms_cosem.py", rows, args.seconds)
        results["gurux"] = peer("bench_gurux.py", rows, args.seconds)
        for name, result in results.items():
            if result["plain_hex"] != mine["plain_hex"]:
                sys.exit(f"{name} encoded a different APDU: the comparison would not be fair")
    print(f"96-row block-load GET-Response encode+decode ({len(mine['plain_hex']) // 2} octets), ops/s")
    print(f"{'library':14s} {'plain':>12s} {'ciphered':>12s}")
    for name, result in results.items():
        print(f"{name:14s} {result['plain_ops']:12.1f} {result['ciphered_ops']:12.1f}")
    print(f"openprepaid, clock column converted to aware datetimes: {mine['plain_with_datetimes_ops']:.1f} ops/s")
    plain = {name: round(result["plain_ops"], 1) for name, result in results.items()}
    ciphered = {name: round(result["ciphered_ops"], 1) for name, result in results.items()}
    summary: dict[str, Any] = {"openprepaid_ops": plain["openprepaid"]}
    summary_ciphered: dict[str, Any] = {"openprepaid_ciphered_ops": ciphered["openprepaid"]}
    if not args.no_peers:
        summary |= {
            "dlms_cosem_ops": plain["dlms_cosem"],
            "gurux_ops": plain["gurux"],
            "vs_dlms_cosem": round(plain["openprepaid"] / plain["dlms_cosem"], 1),
            "vs_gurux": round(plain["openprepaid"] / plain["gurux"], 1),
        }
        summary_ciphered |= {
            "dlms_cosem_ciphered_ops": ciphered["dlms_cosem"],
            "gurux_ciphered_ops": ciphered["gurux"],
            "vs_dlms_cosem_ciphered": round(ciphered["openprepaid"] / ciphered["dlms_cosem"], 1),
            "vs_gurux_ciphered": round(ciphered["openprepaid"] / ciphered["gurux"], 1),
        }
    print(json.dumps(summary_ciphered))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
