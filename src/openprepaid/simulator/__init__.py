"""Virtual IS 15959 meters: a COSEM server per meter, consumption models, relay, limiter, events, pushes, faults."""
