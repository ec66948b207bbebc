"""The meter object model as data: IS 15959 catalogue (OBIS -> meaning, class, unit), profiles, event codes."""
