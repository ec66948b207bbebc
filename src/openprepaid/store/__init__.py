"""Persistence: SQLAlchemy 2 models, repositories and Alembic migrations (SQLite default, PostgreSQL).

Portable by design: no SQLite-only or exotic PostgreSQL features on the hot paths, so the schema
also runs on PostgreSQL-wire distributed SQL. Enumerations are VARCHAR with CHECK constraints,
times are aware UTC, money is BIGINT paise, energy BIGINT Wh.
"""
