"""Virtual IS 15959 meters: a COSEM server per meter, consumption models, relay, limiter, events, pushes, faults.

The meter model (no networking, no DLMS encoding): ``load_model`` (seeded load shapes),
``clock`` (fleet and meter clocks), ``metering`` (registers, demand, daily and billing snapshots),
``virtual_meter`` (relay, limiter, event logs, status word, pushes; ``get`` / ``set`` / ``action``
through ``object_access`` and ``object_write``), ``profile_buffer`` (class 7 buffers and selective
access), ``readings``, ``faults``, ``history`` and ``fleet``.
"""
