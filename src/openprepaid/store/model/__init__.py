"""All models, imported here so that ``Base.metadata`` is complete for Alembic and repositories."""

from __future__ import annotations

from openprepaid.store.model.base import Base
from openprepaid.store.model.charge import (
    ChargeBatch,
    ChargeDay,
    ChargeHold,
    ChargeTake,
    ChargeTrueUp,
    HoldSource,
    HoldState,
    IntervalChargeStatus,
    TrueUpStatus,
    UsageDay,
    UsageDayZone,
    UsageMonth,
)
from openprepaid.store.model.command import Command, CommandKind, CommandState
from openprepaid.store.model.customer import (
    Account,
    AccountStatus,
    Consumer,
    ConsumerContact,
    ContactKind,
    PaymentMode,
)
from openprepaid.store.model.event import Alert, AlertState, EventSource, MeterEvent, Outage
from openprepaid.store.model.ledger import LedgerAccount, LedgerTransaction, Posting
from openprepaid.store.model.metering import (
    CommMode,
    CredentialKind,
    Framing,
    InvocationCounter,
    Meter,
    MeterConnection,
    MeterCredential,
    MeterInstallation,
    MeterStatus,
    MeterType,
)
from openprepaid.store.model.network import SupplyLevel, SupplyNode, Utility
from openprepaid.store.model.payment import Payment, PaymentStatus
from openprepaid.store.model.prepaid_state import Notice, PrepaidRulesState
from openprepaid.store.model.reading import BillingReading, BlockReading, DailyReading, InstantReading
from openprepaid.store.model.settlement import SettlementKind, SettlementStatement
from openprepaid.store.model.tariff import Tariff, TariffVersion

__all__ = [
    "Account",
    "AccountStatus",
    "Alert",
    "AlertState",
    "Base",
    "BillingReading",
    "BlockReading",
    "ChargeBatch",
    "ChargeDay",
    "ChargeHold",
    "ChargeTake",
    "ChargeTrueUp",
    "CommMode",
    "Command",
    "CommandKind",
    "CommandState",
    "Consumer",
    "ConsumerContact",
    "ContactKind",
    "CredentialKind",
    "DailyReading",
    "EventSource",
    "Framing",
    "HoldSource",
    "HoldState",
    "InstantReading",
    "IntervalChargeStatus",
    "InvocationCounter",
    "LedgerAccount",
    "LedgerTransaction",
    "Meter",
    "MeterConnection",
    "MeterCredential",
    "MeterEvent",
    "MeterInstallation",
    "MeterStatus",
    "MeterType",
    "Notice",
    "Outage",
    "Payment",
    "PaymentMode",
    "PaymentStatus",
    "Posting",
    "PrepaidRulesState",
    "SettlementKind",
    "SettlementStatement",
    "SupplyLevel",
    "SupplyNode",
    "Tariff",
    "TariffVersion",
    "TrueUpStatus",
    "UsageDay",
    "UsageDayZone",
    "UsageMonth",
    "Utility",
]
