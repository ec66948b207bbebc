"""The out-of-process test peers: a separate virtual environment and a JSON-over-pipes runner.

The peers (dlms-cosem 25.1.0, BSL; gurux-dlms, GPLv2) are never importable from openprepaid's own
environment. ``peer_python()`` creates ``.venv-peers`` in the checkout on first use and returns its
interpreter; ``run_peer(script, requests)`` runs a peer script there, sends it one JSON request per
line and returns one JSON reply per request. See LICENSE-NOTE.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PEERS_DIR = Path(__file__).resolve().parent / "peers"
PEER_VENV = ROOT / ".venv-peers"
PEER_REQUIREMENTS = ("dlms-cosem==25.1.0", "gurux-dlms==1.0.203")


class PeerUnavailableError(RuntimeError):
    """The peer environment could not be created (no network to the package index, say)."""


def peer_python() -> Path:
    python = PEER_VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    stamp = PEER_VENV / ".peers-installed"
    wanted = hashlib.sha256("\n".join(PEER_REQUIREMENTS).encode()).hexdigest()
    if python.exists() and stamp.exists() and stamp.read_text().strip() == wanted:
        return python
    if not python.exists():
        venv.EnvBuilder(with_pip=True, clear=True).create(PEER_VENV)
    result = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *PEER_REQUIREMENTS],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise PeerUnavailableError(f"could not install test peers {PEER_REQUIREMENTS}: {result.stderr[-2000:]}")
    stamp.write_text(wanted + "\n")
    return python


def run_peer(script: str, requests: list[dict[str, Any]], timeout_s: float = 120.0) -> list[dict[str, Any]]:
    """Run ``tests/interop/peers/<script>`` in the peer environment; one JSON reply per request.

    A peer replies ``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}`` for each request line.
    """
    python = peer_python()
    payload = "".join(json.dumps(request) + "\n" for request in requests)
    result = subprocess.run(
        [str(python), str(PEERS_DIR / script)],
        input=payload,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
        env={**os.environ, "PYTHONPATH": ""},
    )
    if result.returncode != 0:
        raise RuntimeError(f"peer {script} exited {result.returncode}: {result.stderr[-4000:]}")
    replies = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    if len(replies) != len(requests):
        raise RuntimeError(
            f"peer {script} answered {len(replies)} of {len(requests)} requests: {result.stderr[-2000:]}"
        )
    return replies


if __name__ == "__main__":  # `python tests/interop/peer_env.py` prepares the environment ahead of time
    sys.stdout.write(f"{peer_python()}\n")
