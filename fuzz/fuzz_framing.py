"""Fuzz the framing layer (wrapper, HDLC frames and both HDLC link roles): only cosem errors may come out.

Usage: ``python fuzz/fuzz_framing.py --count 1000000 [--seed N]``

Each input is fed, cut into random chunks, to one target:

* ``wrapper``: a WrapperDecoder (a new one after it fails), with mutated wrapper frames or random bytes;
* ``client`` / ``server``: a long-lived HdlcClientLink or HdlcServerLink, with random bytes (biased to
  flags and format bytes) or mutated valid frames addressed to it, whose HCS/FCS are usually
  recomputed after the mutation so the damage reaches the link logic; local calls (connect,
  send_apdu, disconnect, handle_timeout with advancing time) are mixed in;
* ``pair``: a client and a server talking, with every transmission mutated at times in between.

Only ``CosemError`` subclasses (DecodeError/FramingError, EncodeError, ProtocolError) may be raised;
any other exception, or an internal assertion, is a finding: it is printed with its input and the run
exits 1. The last line of output is a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import traceback
from collections import Counter

from openprepaid.cosem.errors import CosemError
from openprepaid.cosem.hdlc_client import HdlcClientLink
from openprepaid.cosem.hdlc_frame import LLC_COMMAND, LLC_RESPONSE, FrameKind, HdlcAddress, HdlcFrame, fcs16_bytes
from openprepaid.cosem.hdlc_link import HdlcLink
from openprepaid.cosem.hdlc_parameters import HdlcParameters
from openprepaid.cosem.hdlc_server import HdlcServerLink
from openprepaid.cosem.wrapper import WrapperDecoder, WrapperFrame

CLIENT = HdlcAddress.client(0x10)
METER = HdlcAddress.server(1, 0x11)
INTERESTING = [0x7E, 0xA0, 0xA8, 0xA7, 0x00, 0xFF, 0xE6, 0xE7, 0x10, 0x93, 0x73, 0x53, 0x1F, 0x97, 0x51, 0x13]


def random_bytes(rng: random.Random, size: int) -> bytes:
    if rng.random() < 0.5:
        return rng.randbytes(size)
    return bytes(rng.choice(INTERESTING) if rng.random() < 0.5 else rng.randrange(256) for _ in range(size))


def random_frame(rng: random.Random, destination: HdlcAddress, source: HdlcAddress) -> bytes:
    kind = rng.choice(list(FrameKind))
    info = b""
    if kind in (FrameKind.I, FrameKind.UI):
        llc = rng.choice([LLC_COMMAND, LLC_RESPONSE, b"", b"\xe6"])
        info = llc + random_bytes(rng, rng.choice([0, 1, 5, 40, 120, 127, 200]))
    elif kind in (FrameKind.SNRM, FrameKind.UA) and rng.random() < 0.7:
        parameters = HdlcParameters(rng.randint(32, 2030), rng.randint(32, 2030), rng.randint(1, 7), rng.randint(1, 7))
        info = parameters.encode(omit_defaults=rng.random() < 0.5)
    elif kind is FrameKind.FRMR:
        info = random_bytes(rng, 3)
    return HdlcFrame(
        kind,
        destination,
        source,
        poll_final=rng.random() < 0.8,
        send_seq=rng.randrange(8) if kind is FrameKind.I else 0,
        receive_seq=rng.randrange(8) if kind in (FrameKind.I, FrameKind.RR, FrameKind.RNR) else 0,
        info=info[:2000],
        segmented=kind in (FrameKind.I, FrameKind.UI) and rng.random() < 0.3,
    ).encode()


def fix_checks(frame: bytearray) -> bytearray:
    """Recompute HCS and FCS of a (mutated) frame where its own fields still say where they are."""
    if len(frame) < 9 or frame[0] != 0x7E:
        return frame
    body = frame[1:-1]
    position = 2
    for _ in range(2):
        while position < len(body) and not body[position] & 1 and position < 10:
            position += 1
        position += 1
    header = position + 1
    if len(body) >= header + 4:
        body[header : header + 2] = fcs16_bytes(body[:header])
    if len(body) >= header + 2:
        body[-2:] = fcs16_bytes(body[:-2])
    return bytearray([frame[0]]) + body + bytearray([frame[-1]])


def mutate(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.choice([1, 1, 1, 2, 3, 8])):
        operation = rng.randrange(7)
        if operation == 0 and out:
            out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
        elif operation == 1 and out:
            out[rng.randrange(len(out))] = rng.choice(INTERESTING)
        elif operation == 2:
            out.insert(rng.randrange(len(out) + 1), rng.choice(INTERESTING))
        elif operation == 3 and out:
            del out[rng.randrange(len(out))]
        elif operation == 4 and out:
            out = out[: rng.randrange(len(out) + 1)]
        elif operation == 5 and out:
            start = rng.randrange(len(out))
            out[start:start] = out[start : start + rng.randint(1, 16)]
        elif operation == 6 and len(out) > 3:
            out[1:3] = rng.choice([b"\xa0", b"\xa8", b"\xa7\xff", b"\xa0\x05", b"\xaf"]) + bytes([rng.randrange(256)])
    if rng.random() < 0.6:
        out = fix_checks(out)
    return bytes(out)


def chunks(rng: random.Random, data: bytes) -> list[bytes]:
    pieces, position = [], 0
    while position < len(data):
        size = rng.choice([1, 2, 3, 7, 16, 64, 512, 4096])
        pieces.append(data[position : position + size])
        position += size
    return pieces


class Fuzzer:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.now = 0.0
        self.counts: Counter[str] = Counter()
        self.states: Counter[str] = Counter()
        self.client = self.new_client()
        self.server = self.new_server()
        self.pair = (self.new_client(), self.new_server())
        self.wrapper = WrapperDecoder(self.rng.choice([0xFFFF, 1024, 64]))

    def new_client(self) -> HdlcClientLink:
        parameters = HdlcParameters(self.rng.randint(32, 300), self.rng.randint(32, 300), self.rng.randint(1, 7), 1)
        return HdlcClientLink(0x10, METER, parameters=parameters, response_timeout_s=1.0, max_apdu_length=4096)

    def new_server(self) -> HdlcServerLink:
        parameters = HdlcParameters(self.rng.randint(32, 300), self.rng.randint(32, 300), 1, self.rng.randint(1, 7))
        return HdlcServerLink(METER, parameters=parameters, inactivity_timeout_s=5.0, max_apdu_length=4096)

    def local_call(self, link: HdlcLink) -> bytes:
        self.now += self.rng.choice([0.0, 0.01, 0.5, 1.0, 3.0])
        choice = self.rng.randrange(5)
        if choice == 0:
            return link.connect(self.now)
        if choice == 1:
            return link.send_apdu(random_bytes(self.rng, self.rng.choice([0, 10, 300, 3000])), self.now)
        if choice == 2:
            return link.disconnect(self.now)
        link.handle_timeout(self.now)
        return link.data_to_send()

    def feed(self, link: HdlcLink, data: bytes) -> bytes:
        for piece in chunks(self.rng, data):
            link.receive_data(piece, self.now)
        while (event := link.next_event()) is not None:
            self.counts[f"event {type(event).__name__}"] += 1
        return link.data_to_send()

    def hdlc_input(self, to_server: bool) -> bytes:
        if self.rng.random() < 0.25:
            return random_bytes(self.rng, self.rng.randint(0, 300))
        destination, source = (METER, CLIENT) if to_server else (CLIENT, METER)
        if self.rng.random() < 0.1:
            destination, source = source, destination
        frames = [random_frame(self.rng, destination, source) for _ in range(self.rng.randint(1, 4))]
        glue = self.rng.choice([b"", b"\x7e", b"junk"])
        data = glue.join(frames)
        return mutate(self.rng, data) if self.rng.random() < 0.7 else data

    def one_link(self, role: str) -> bytes:
        link: HdlcLink = self.client if role == "client" else self.server
        if self.rng.random() < 0.2:
            data = b"<local call>"
            try:
                self.local_call(link)
            except CosemError:
                self.counts["typed errors"] += 1
        else:
            data = self.hdlc_input(to_server=role == "server")
            self.feed(link, data)
        self.states[f"{role}:{link.state.value}"] += 1
        if link.state.value == "ERROR" or self.rng.random() < 0.001:
            if role == "client":
                self.client = self.new_client()
            else:
                self.server = self.new_server()
        return data

    def pair_step(self) -> bytes:
        client, server = self.pair
        try:
            out = self.local_call(client if self.rng.random() < 0.7 else server)
        except CosemError:
            self.counts["typed errors"] += 1
            out = b""
        # The caller's link sent ``out``; collect anything else either side has pending, then let
        # the two answer each other a few times, damaging a transmission now and then.
        to_client = client.data_to_send() + server.data_to_send()
        to_server = out + client.data_to_send()
        for _ in range(6):
            if to_server and self.rng.random() < 0.15:
                to_server = mutate(self.rng, to_server)
            to_client += self.feed(server, to_server) if to_server else b""
            if to_client and self.rng.random() < 0.15:
                to_client = mutate(self.rng, to_client)
            to_server = self.feed(client, to_client) if to_client else b""
            to_client = b""
        for role, link in (("pair-client", client), ("pair-server", server)):
            self.states[f"{role}:{link.state.value}"] += 1
        if "ERROR" in (client.state.value, server.state.value) or self.rng.random() < 0.002:
            self.pair = (self.new_client(), self.new_server())
        return out

    def wrapper_step(self) -> bytes:
        if self.rng.random() < 0.3:
            data = random_bytes(self.rng, self.rng.randint(0, 100))
        else:
            frames = [
                WrapperFrame(self.rng.randrange(0x10000), self.rng.randrange(0x10000), random_bytes(self.rng, size))
                for size in [self.rng.choice([0, 1, 30, 200, 1500]) for _ in range(self.rng.randint(1, 3))]
            ]
            data = b"".join(frame.encode() for frame in frames)
            if self.rng.random() < 0.5:
                data = mutate(self.rng, data)
        try:
            for piece in chunks(self.rng, data):
                self.wrapper.receive_data(piece)
                while self.wrapper.next_event() is not None:
                    self.counts["wrapper frames"] += 1
        except CosemError:
            self.counts["typed errors"] += 1
            self.wrapper = WrapperDecoder(self.rng.choice([0xFFFF, 1024, 64]))
        return data

    def step(self, index: int) -> tuple[str, bytes]:
        target = ("client", "server", "pair", "wrapper")[index % 4]
        if target == "wrapper":
            return target, self.wrapper_step()
        if target == "pair":
            return target, self.pair_step()
        return target, self.one_link(target)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=20260101)
    arguments = parser.parse_args()
    fuzzer = Fuzzer(arguments.seed)
    started = time.perf_counter()
    findings = 0
    for index in range(arguments.count):
        target, data = "?", b""
        try:
            target, data = fuzzer.step(index)
        except CosemError:
            fuzzer.counts["typed errors"] += 1
        except Exception:  # a finding: anything but the stack's own typed errors
            findings += 1
            sys.stdout.write(f"FINDING at input {index} ({target}): {data.hex()}\n{traceback.format_exc()}\n")
            if findings >= 10:
                break
            fuzzer = Fuzzer(arguments.seed + index + 1)
        fuzzer.counts[target] += 1
    elapsed = time.perf_counter() - started
    summary = {
        "inputs": arguments.count,
        "seed": arguments.seed,
        "seconds": round(elapsed, 1),
        "inputs_per_second": round(arguments.count / elapsed) if elapsed else None,
        "findings": findings,
        "counts": dict(fuzzer.counts),
        "states_seen": sorted(fuzzer.states),
    }
    sys.stdout.write(json.dumps(summary) + "\n")
    return 1 if findings else 0


if __name__ == "__main__":
    raise SystemExit(main())
