"""Head-End System: sessions and throttling, read jobs and scheduler, command queue with read-back verification."""
