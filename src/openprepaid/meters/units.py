"""Physical units as COSEM encodes them in a register's scaler_unit (IEC 62056-6-2 §4.3.2, Table 4).

Only the units an IS 15959 electricity meter uses are named; the numbers are the standard's.
"""

from __future__ import annotations

from enum import IntEnum


class Unit(IntEnum):
    YEAR = 1
    MONTH = 2
    WEEK = 3
    DAY = 4
    HOUR = 5
    MINUTE = 6
    SECOND = 7
    PHASE_ANGLE_DEGREE = 8
    CURRENCY = 10
    W = 27
    VA = 28
    VAR = 29
    WH = 30
    VAH = 31
    VARH = 32
    A = 33
    V = 35
    HZ = 44
    PERCENT = 56
    OTHER = 254
    COUNT = 255  # no unit: counts, power factor, ratios
