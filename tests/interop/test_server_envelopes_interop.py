"""Our meter side (``ServerAssociation``) in live sessions with gurux-dlms 1.0.203 as the head-end.

gurux (tests/interop/peers/client_session_gurux.py, see LICENSE-NOTE.md) associates with security
suite 0, authenticated and encrypted, and reads and invokes methods: with a dedicated key in its
AARQ it ciphers requests ded- (or general-ded when general-protection is negotiated), without one
glo- (or general-glo); our meter must answer each in kind for gurux to open the reply. A method whose
return data exceeds gurux's max PDU size comes back in ACTION-Response-With-Pblock blocks, which
gurux acknowledges with ACTION-Request-Next-Pblock and reassembles.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from openprepaid.cosem.acse_initiate import Conformance
from openprepaid.cosem.association_events import (
    DEFAULT_CONFORMANCE,
    ActionRequested,
    AssociationEstablished,
    Authentication,
    ClientPolicy,
    GetRequested,
    ServerSettings,
)
from openprepaid.cosem.axdr import encode_data
from openprepaid.cosem.axdr_types import DoubleLongUnsigned
from openprepaid.cosem.security import AUTHENTICATED_ENCRYPTED, SecurityKeys
from openprepaid.cosem.security_apdu import Protection, protection_of
from openprepaid.cosem.server_association import ServerAssociation
from openprepaid.cosem.xdlms_common import ActionResult
from tests.interop.peer_env import PEERS_DIR

EK = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
AK = bytes.fromhex("D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF")
DEDICATED_KEY = bytes.fromhex("00112233445566778899AABBCCDDEEFF")
GURUX_TITLE = bytes.fromhex("4758580000000001")  # "GXX" + 1
METER_TITLE = bytes.fromhex("4D4D4D0000BC614E")
SAP = 16  # gurux's client address; here a ciphered association without authentication
POLICY = ClientPolicy(
    authentication=Authentication.NONE,
    keys=SecurityKeys(global_unicast=EK, authentication=AK),
    protection=AUTHENTICATED_ENCRYPTED,
)


class GuruxSession:
    """One gurux client process, driven request by request."""

    def __init__(self, python: Path) -> None:
        self._process = subprocess.Popen(
            [str(python), str(PEERS_DIR / "client_session_gurux.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": ""},
        )

    def ask(self, op: str, **fields: Any) -> dict[str, Any]:
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(json.dumps({"op": op, **fields}) + "\n")
        self._process.stdin.flush()
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError(f"the gurux peer ended: {self._process.stderr.read() if self._process.stderr else ''}")
        reply: dict[str, Any] = json.loads(line)
        assert reply["ok"], reply
        return reply

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        self._process.wait(timeout=30)


@pytest.fixture
def gurux(peers: Path) -> Iterator[GuruxSession]:
    session = GuruxSession(peers)
    yield session
    session.close()


def _meter() -> ServerAssociation:
    return ServerAssociation(ServerSettings(system_title=METER_TITLE, policies={SAP: POLICY}))


def _start(gurux: GuruxSession, meter: ServerAssociation, *, dedicated: bool, general: bool, max_pdu: int) -> None:
    proposal = DEFAULT_CONFORMANCE | (Conformance.GENERAL_PROTECTION if general else Conformance(0))
    aarq = gurux.ask(
        "start",
        security=0x30,
        system_title=GURUX_TITLE.hex(),
        ek=EK.hex(),
        ak=AK.hex(),
        ic=100,
        dedicated_key=DEDICATED_KEY.hex() if dedicated else None,
        conformance=int(proposal),
        max_pdu=max_pdu,
    )
    event = meter.receive_apdu(bytes.fromhex(aarq["hex"]), client_sap=SAP)
    assert isinstance(event, AssociationEstablished), event
    [aare] = meter.data_to_send()
    negotiated = gurux.ask("aare", hex=aare.hex())
    assert bool(negotiated["conformance"] & Conformance.GENERAL_PROTECTION) is general


def _exchange(
    gurux: GuruxSession, meter: ServerAssociation, request: str, answer: Any
) -> tuple[dict[str, Any], list[bytes]]:
    """Play gurux's ``request`` to the meter, the meter's replies back, until gurux has its result."""
    replies: list[bytes] = []
    while True:
        event = meter.receive_apdu(bytes.fromhex(request), client_sap=SAP)
        if isinstance(event, GetRequested | ActionRequested):
            answer(event)
        [reply] = meter.data_to_send()
        replies.append(reply)
        outcome = gurux.ask("reply", hex=reply.hex())
        if not outcome["more"]:
            return outcome, replies
        request = outcome["hex"]


@pytest.mark.parametrize(
    ("dedicated", "general", "form"),
    [
        (False, False, Protection.GLOBAL),
        (True, False, Protection.DEDICATED),
        (False, True, Protection.GENERAL_GLOBAL),
        (True, True, Protection.GENERAL_DEDICATED),
    ],
    ids=[form.value for form in Protection],
)
def test_gurux_reads_through_each_envelope(
    gurux: GuruxSession, dedicated: bool, general: bool, form: Protection
) -> None:
    meter = _meter()
    _start(gurux, meter, dedicated=dedicated, general=general, max_pdu=1024)
    request = gurux.ask("get", class_id=3, obis="1.0.1.8.0.255", attribute=2)["hex"]
    assert protection_of(bytes.fromhex(request)) is form  # gurux chose the envelope ...
    value = encode_data(DoubleLongUnsigned(123_456))
    outcome, replies = _exchange(gurux, meter, request, lambda e: meter.respond_get(value))
    assert [protection_of(reply) for reply in replies] == [form]  # ... and our meter answered in kind
    assert outcome["error"] == 0 and outcome["value"] == "123456"


@pytest.mark.parametrize(("dedicated", "size"), [(False, 3000), (True, 700), (False, 100)])
def test_gurux_reassembles_a_long_action_result_from_pblocks(gurux: GuruxSession, dedicated: bool, size: int) -> None:
    meter = _meter()
    _start(gurux, meter, dedicated=dedicated, general=False, max_pdu=256)
    returned = bytes(range(256)) * (size // 256) + bytes(size % 256)
    request = gurux.ask("method", class_id=1, obis="0.0.96.1.0.255", method=1, value="0102")["hex"]
    outcome, replies = _exchange(
        gurux, meter, request, lambda e: meter.respond_action(ActionResult.SUCCESS, encode_data(returned))
    )
    assert outcome["error"] == 0 and outcome["value"] == returned.hex().upper()
    assert all(len(reply) <= 256 for reply in replies)
    assert (len(replies) > 1) is (size > 200)
