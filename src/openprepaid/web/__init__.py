"""Operator console and consumer portal (server-rendered pages)."""
