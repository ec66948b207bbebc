"""Selective access to a profile's buffer (IEC 62056-6-2 / Blue Book, IC 7 Profile generic, attribute 2):
access-selector 1 ``range_descriptor`` and 2 ``entry_descriptor``, and ``capture_object_definition``.

range_descriptor ::= structure { restricting_object capture_object_definition, from_value, to_value,
selected_values array of capture_object_definition }; with the clock (class 8, 0.0.1.0.0.255,
attribute 2) as the restricting object the bounds are 12-octet date-times, here ``CosemDateTime``.
entry_descriptor ::= structure { from_entry double-long-unsigned, to_entry double-long-unsigned,
from_selected_value long-unsigned, to_selected_value long-unsigned } (0 = to the last).
capture_object_definition ::= structure { class_id long-unsigned, logical_name octet-string,
attribute_index integer, data_index long-unsigned }.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Final, Self

from openprepaid.cosem.axdr_decode import decode_data
from openprepaid.cosem.axdr_encode import encode_data
from openprepaid.cosem.axdr_types import DoubleLongUnsigned, Integer, LongUnsigned
from openprepaid.cosem.date_time import DATE_TIME_LENGTH, CosemDateTime
from openprepaid.cosem.errors import DecodeError
from openprepaid.cosem.obis import OBIS
from openprepaid.cosem.xdlms_common import SelectiveAccess


@dataclass(frozen=True, slots=True)
class CaptureObjectDefinition:
    class_id: int
    logical_name: OBIS
    attribute_index: int
    data_index: int = 0

    def to_data(self) -> tuple[Any, ...]:
        return (
            LongUnsigned(self.class_id),
            bytes(self.logical_name),
            Integer(self.attribute_index),
            LongUnsigned(self.data_index),
        )

    @classmethod
    def from_data(cls, value: Any) -> Self:
        """From the typed or native decoding of a capture_object_definition structure."""
        if not isinstance(value, tuple) or len(value) != 4:
            raise DecodeError(f"capture_object_definition must be a structure of 4, got {value!r}")
        class_id, name, attribute_index, data_index = value
        if not (
            isinstance(class_id, int)
            and isinstance(name, bytes)
            and isinstance(attribute_index, int)
            and isinstance(data_index, int)
        ):
            raise DecodeError(f"capture_object_definition has the wrong element types: {value!r}")
        return cls(int(class_id), OBIS.from_bytes(name), int(attribute_index), int(data_index))


CLOCK_TIME: Final = CaptureObjectDefinition(8, OBIS(0, 0, 1, 0, 0, 255), 2, 0)


def _bound_to_data(value: Any) -> Any:
    return value.to_bytes() if isinstance(value, CosemDateTime) else value


def _bound_from_data(value: Any, restricting: CaptureObjectDefinition) -> Any:
    if restricting == CLOCK_TIME and isinstance(value, bytes) and len(value) == DATE_TIME_LENGTH:
        return CosemDateTime.from_bytes(value)
    return value


@dataclass(frozen=True, slots=True)
class RangeDescriptor:
    """Rows whose restricting object lies within from..to (by default: the clock, so a time window)."""

    SELECTOR: ClassVar[int] = 1
    from_value: Any
    to_value: Any
    restricting_object: CaptureObjectDefinition = CLOCK_TIME
    selected_values: tuple[CaptureObjectDefinition, ...] = ()

    def to_access(self) -> SelectiveAccess:
        parameters = (
            self.restricting_object.to_data(),
            _bound_to_data(self.from_value),
            _bound_to_data(self.to_value),
            [column.to_data() for column in self.selected_values],
        )
        return SelectiveAccess(self.SELECTOR, encode_data(parameters))

    @classmethod
    def from_access(cls, access: SelectiveAccess) -> Self:
        if access.selector != cls.SELECTOR:
            raise DecodeError(f"range_descriptor is access-selector 1, got {access.selector}")
        value = decode_data(access.parameters, typed=True)
        if not isinstance(value, tuple) or len(value) != 4 or not isinstance(value[3], list):
            raise DecodeError(f"range_descriptor must be a structure of 4, got {value!r}")
        restricting = CaptureObjectDefinition.from_data(value[0])
        return cls(
            from_value=_bound_from_data(value[1], restricting),
            to_value=_bound_from_data(value[2], restricting),
            restricting_object=restricting,
            selected_values=tuple(CaptureObjectDefinition.from_data(item) for item in value[3]),
        )


@dataclass(frozen=True, slots=True)
class EntryDescriptor:
    """Rows ``from_entry``..``to_entry`` (1-based, 0 = last) and columns ``from_selected_value``..(0 = last)."""

    SELECTOR: ClassVar[int] = 2
    from_entry: int = 1
    to_entry: int = 0
    from_selected_value: int = 1
    to_selected_value: int = 0

    def to_access(self) -> SelectiveAccess:
        parameters = (
            DoubleLongUnsigned(self.from_entry),
            DoubleLongUnsigned(self.to_entry),
            LongUnsigned(self.from_selected_value),
            LongUnsigned(self.to_selected_value),
        )
        return SelectiveAccess(self.SELECTOR, encode_data(parameters))

    @classmethod
    def from_access(cls, access: SelectiveAccess) -> Self:
        if access.selector != cls.SELECTOR:
            raise DecodeError(f"entry_descriptor is access-selector 2, got {access.selector}")
        value = decode_data(access.parameters, typed=True)
        kinds = (DoubleLongUnsigned, DoubleLongUnsigned, LongUnsigned, LongUnsigned)
        if (
            not isinstance(value, tuple)
            or len(value) != 4
            or not all(type(item) is kind for item, kind in zip(value, kinds, strict=True))
        ):
            raise DecodeError(f"entry_descriptor must be a structure of 4 unsigned numbers, got {value!r}")
        return cls(int(value[0]), int(value[1]), int(value[2]), int(value[3]))


def profile_access(access: SelectiveAccess) -> RangeDescriptor | EntryDescriptor:
    """The profile-generic descriptor an access selection carries."""
    if access.selector == RangeDescriptor.SELECTOR:
        return RangeDescriptor.from_access(access)
    if access.selector == EntryDescriptor.SELECTOR:
        return EntryDescriptor.from_access(access)
    raise DecodeError(f"profile generic has no access-selector {access.selector}")
