"""Blocks of free TCP ports for the demo's simulated meters."""

from __future__ import annotations

import socket

import pytest


def free_port_block(count: int) -> int:
    """A base port below the ephemeral range with ``count`` free ports after it."""
    for base in range(27000, 32000, 97):
        sockets = []
        try:
            for port in range(base, base + count):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        else:
            return base
        finally:
            for sock in sockets:
                sock.close()
    pytest.skip("no block of free ports")
