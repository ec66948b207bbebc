"""The meter object model as data: IS 15959 catalogue (OBIS -> meaning, class, unit), profiles, event codes.

Modules: ``values`` (how attribute values are typed as Python objects), ``units``, ``catalogue``
(objects), ``profiles`` (class 7 profiles and capture columns), ``event_codes`` (event logs,
codes, event status word bits), ``meter_types`` (1-phase / 3-phase whole-current with relay,
CT / CT-PT without), ``access`` (associations and access rights). OBIS codes are "a.b.c.d.e.f"
strings here; this package imports only the standard library.
"""
