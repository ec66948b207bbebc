"""Repositories: all SQL lives here. Functions take a Session and never commit (the caller's unit of work does)."""
