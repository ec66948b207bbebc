"""openprepaid: an online prepaid smart-metering platform (DLMS/COSEM head-end + server-side wallet)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("openprepaid")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
