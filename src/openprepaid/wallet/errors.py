"""The wallet's error family: each error has a stable ``code``, an HTTP status for the API edge, and
says whether retrying the same request may succeed (style.md rule 9)."""

from __future__ import annotations


class WalletError(Exception):
    """Base of every error the wallet raises on purpose."""

    code: str = "wallet_error"
    http_status: int = 422
    retryable: bool = False


class UnknownAccountError(WalletError):
    code = "unknown_account"
    http_status = 404


class AccountClosedError(WalletError):
    code = "account_closed"
    http_status = 409
