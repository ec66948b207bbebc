"""Fuzz the ACSE and security-suite-0 decoders: only DecodeError / SecurityError may come out.

Usage: ``python fuzz/fuzz_acse_security.py --count 1000000 [--seed N]``

Inputs are random octet strings (first octet biased towards the tags these decoders know) and
mutations of valid APDUs: the Green Book vectors plus APDUs encoded and protected here. Every input
goes to every decoder entry point of ``openprepaid.cosem.acse.DECODERS`` and
``openprepaid.cosem.security_apdu.DECODERS``, and to ``unprotect`` (with and without a replay guard)
and ``verify_hls_gmac_response`` with fixed keys. Any other exception is a finding: it is printed with
its input and the run exits 1. The last line of output is a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable

from openprepaid.cosem import acse, security_apdu
from openprepaid.cosem.acse_initiate import Conformance, InitiateRequest, InitiateResponse
from openprepaid.cosem.errors import DecodeError, SecurityError
from openprepaid.cosem.security import (
    AUTHENTICATED,
    AUTHENTICATED_ENCRYPTED,
    ENCRYPTED,
    SecurityKeys,
    hls_gmac_response,
    verify_hls_gmac_response,
)
from openprepaid.cosem.security_apdu import Protection, protect, unprotect
from openprepaid.cosem.security_counter import ReplayGuard

KEYS = SecurityKeys(
    global_unicast=bytes(range(16)),
    authentication=bytes(range(0xD0, 0xE0)),
    global_broadcast=bytes(range(0xB0, 0xC0)),
    dedicated=bytes(range(0x40, 0x50)),
)
TITLE = bytes.fromhex("4D4D4D0000BC614E")
CHALLENGE = b"P6wRJ21F"
GREEN_BOOK = [
    "601DA109060760857405080101BE10040E01000000065F1F0400007E1F04B0",
    "6036A1090607608574050801018A0207808B0760857405080205AC0A80084B35366956616759BE10040E01000000065F1F0400007E1F04B0",
    "6066A109060760857405080103A60A04084D4D4D0000BC614E8A0207808B0760857405080201AC0A80083132333435363738BE3404322130"
    "3001234567801302FF8A7874133D414CED25B42534D28DB0047720606B175BD52211BE6841DB204D39EE6FDB8E356855",
    "6142A109060760857405080101A203020100A305A10302010E88020780890760857405080205AA0A8008503677524A323146BE10040E0800"
    "065F1F040000501F01F40007",
    "611FA109060760857405080101A203020101A305A103020101BE0604040E010601",
    "6328800100BE230421281F3001234567891214A0845E475714383F65BC19745CA235906525E4F3E1C893",
    "6203800100",
    "C81E3001234567411312FF935A47566827C467BC7D825C3BE4A77C3FCC056B6B",
    "C8122001234567411312FF935A47566827C467BC",
    "C81E1001234567C0010000080000010000FF020006725D910F9221D263877516",
]
TAGS = [0x60, 0x61, 0x62, 0x63, 0x01, 0x08, 0x0E, 0x21, 0x28, 0x41, 0xC8, 0xCC, 0xD0, 0xDB, 0xDC]


def _seeds(rng: random.Random) -> list[bytes]:
    seeds = [bytes.fromhex(vector) for vector in GREEN_BOOK]
    for index in range(60):
        initiate = InitiateRequest(
            proposed_conformance=Conformance(rng.getrandbits(24)),
            client_max_receive_pdu_size=rng.randint(0, 0xFFFF),
            dedicated_key=rng.randbytes(16) if index % 2 else None,
            proposed_quality_of_service=rng.choice([None, 3]),
        )
        response = InitiateResponse(
            negotiated_conformance=Conformance.GET, server_max_receive_pdu_size=rng.randint(0, 0xFFFF)
        )
        control = rng.choice([AUTHENTICATED, ENCRYPTED, AUTHENTICATED_ENCRYPTED])
        protection = rng.choice(list(Protection))
        plain = rng.choice([initiate.encode(), response.encode(), bytes.fromhex("C0010000080000010000FF0200")])
        if protection is Protection.GENERAL_GLOBAL:
            plain = b"\x0f" + rng.randbytes(rng.randint(0, 200))
        ciphered = protect(
            plain,
            protection=protection,
            security_control=control,
            system_title=TITLE,
            invocation_counter=index,
            keys=KEYS,
        )
        seeds.append(ciphered)
        aarq = acse.AARQ(
            calling_ap_title=TITLE, mechanism_name=5, calling_authentication_value=CHALLENGE, user_information=initiate
        )
        aare = acse.AARE(
            result=acse.AssociationResult.ACCEPTED,
            result_source_diagnostic=acse.AcseServiceUserDiagnostic.NULL,
            responding_ap_title=TITLE,
            user_information=response,
        )
        seeds += [aarq.encode(), aare.encode(), initiate.encode(), response.encode(), bytes.fromhex("0E010601")]
        seeds.append(acse.RLRQ(reason=acse.ReleaseRequestReason.NORMAL, user_information=initiate).encode())
    seeds.append(hls_gmac_response(CHALLENGE, system_title=TITLE, invocation_counter=7, keys=KEYS))
    return seeds


def _mutate(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        choice = rng.randrange(7)
        position = rng.randrange(len(out) + 1)
        if choice == 0 and out:
            out[position % len(out)] ^= 1 << rng.randrange(8)
        elif choice == 1 and out:
            out[position % len(out)] = rng.choice([0x00, 0x7F, 0x80, 0x81, 0x82, 0x83, 0x84, 0xFF, rng.randrange(256)])
        elif choice == 2:
            out.insert(position, rng.randrange(256))
        elif choice == 3 and out:
            del out[position % len(out)]
        elif choice == 4:
            del out[position:]
        elif choice == 5 and out:
            start = rng.randrange(len(out))
            out[position:position] = out[start : start + rng.randint(1, 16)]
        elif out:
            out[position % len(out)] = rng.choice(TAGS)
    return bytes(out)


def _random_input(rng: random.Random) -> bytes:
    data = bytearray(rng.randbytes(rng.choice([0, 1, 2, 5, 17, rng.randint(0, 300)])))
    if data and rng.random() < 0.8:
        data[0] = rng.choice(TAGS)
    if len(data) > 1 and rng.random() < 0.5:
        data[1] = min(len(data) - 2, 0x7F) if rng.random() < 0.7 else data[1]
    return bytes(data)


def _targets() -> dict[str, Callable[[bytes], object]]:
    guard = ReplayGuard()
    targets: dict[str, Callable[[bytes], object]] = {**acse.DECODERS, **security_apdu.DECODERS}
    targets["security.unprotect"] = lambda data: unprotect(
        data, keys=KEYS, peer_system_title=TITLE, require_authentication=False
    )
    targets["security.unprotect+guard"] = lambda data: unprotect(
        data, keys=KEYS, peer_system_title=TITLE, replay_guard=guard
    )
    targets["security.verify_hls_gmac_response"] = lambda data: verify_hls_gmac_response(
        data, CHALLENGE, system_title=TITLE, keys=KEYS
    )
    return targets


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000, help="number of inputs (each goes to every target)")
    parser.add_argument("--seed", type=int, default=1)
    arguments = parser.parse_args()
    rng = random.Random(arguments.seed)
    seeds = _seeds(rng)
    targets = _targets()
    outcomes: Counter[str] = Counter()
    findings = 0
    started = time.perf_counter()
    for _ in range(arguments.count):
        data = _mutate(rng.choice(seeds), rng) if rng.random() < 0.7 else _random_input(rng)
        for name, target in targets.items():
            try:
                target(data)
                outcomes[f"{name}:ok"] += 1
            except (DecodeError, SecurityError) as exc:
                outcomes[f"{name}:{type(exc).__name__}"] += 1
            except Exception:  # the point of the fuzzer: anything else is a finding
                findings += 1
                sys.stderr.write(f"FINDING in {name} for input {data.hex()}\n{traceback.format_exc()}\n")
    elapsed = time.perf_counter() - started
    summary = {
        "inputs": arguments.count,
        "targets": len(targets),
        "calls": arguments.count * len(targets),
        "seconds": round(elapsed, 1),
        "inputs_per_second": round(arguments.count / elapsed) if elapsed else None,
        "findings": findings,
        "outcomes": dict(sorted(outcomes.items())),
    }
    sys.stdout.write(json.dumps(summary) + "\n")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
