"""The demo: a simulated township wired end to end (seeded consumers, meters, tariffs) on SQLite."""
