"""Sanctioned-load limits, brown-out and demand response, over-drawl policy, bulk-command safety rails."""
