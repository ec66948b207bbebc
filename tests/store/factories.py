"""Small builders for store tests: a utility, a meter type, a meter, an account."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from openprepaid.store.model import (
    Account,
    CommMode,
    Consumer,
    Meter,
    MeterConnection,
    MeterStatus,
    MeterType,
    PaymentMode,
    Utility,
)

NOW = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
_serials = itertools.count(1)


def make_utility(session: Session, code: str | None = None) -> Utility:
    utility = Utility(code=code or f"U{next(_serials)}", name="Test Utility", created_at=NOW)
    session.add(utility)
    session.flush()
    return utility


def make_meter_type(session: Session) -> MeterType:
    meter_type = MeterType(
        code=f"1P-WC-{next(_serials)}",
        manufacturer="Test",
        model="1P",
        phases=1,
        connection=MeterConnection.WHOLE_CURRENT,
        has_relay=True,
        capture_period_s=900,
        object_profile={"block_load": ["0.0.1.0.0.255", "1.0.12.27.0.255", "1.0.1.29.0.255"]},
    )
    session.add(meter_type)
    session.flush()
    return meter_type


def make_meter(session: Session, utility: Utility | None = None) -> Meter:
    utility = utility or make_utility(session)
    number = next(_serials)
    meter = Meter(
        utility_id=utility.id,
        meter_type_id=make_meter_type(session).id,
        serial=f"SIM{number:08d}",
        manufacturer_code="OPP",
        system_title=b"OPP" + number.to_bytes(5, "big"),
        comm_mode=CommMode.DIAL,
        host="127.0.0.1",
        port=4059,
        status=MeterStatus.INSTALLED,
        created_at=NOW,
    )
    session.add(meter)
    session.flush()
    return meter


def make_account(session: Session, utility: Utility, category: str = "domestic") -> Account:
    number = next(_serials)
    consumer = Consumer(utility_id=utility.id, consumer_no=f"C{number}", name="A Consumer", created_at=NOW)
    session.add(consumer)
    session.flush()
    account = Account(
        utility_id=utility.id,
        consumer_id=consumer.id,
        account_no=f"A{number}",
        category=category,
        sanctioned_load_w=3000,
        payment_mode=PaymentMode.PREPAID,
        opened_at=NOW,
    )
    session.add(account)
    session.flush()
    return account
